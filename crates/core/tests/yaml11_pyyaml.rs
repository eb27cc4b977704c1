//! YAML 1.1 resolution (`prefab_core::yaml::Schema::Yaml11`, what `prefect deploy` reads
//! prefect.yaml with) against PyYAML 6's `safe_load` on 4,500 generated plain scalars
//! (`tests/data/yaml11_scalars.jsonl`, made by `xtask/python/gen_yaml11_cases.py` in the Prefect
//! 3.9.1 venv): every YAML 1.1 boolean, octal, sexagesimal, underscores, exponents with and
//! without sign, special floats, random strings over those characters, and 1,500 timestamps
//! valid and not (dates and datetimes compared as the text pydantic's JSON mode gives them).

use prefab_core::yaml::{Schema, TimestampKind, load_with};
use serde_json::Value;

#[test]
fn plain_scalars_resolve_as_pyyaml_safe_load() {
    let cases = include_str!("data/yaml11_scalars.jsonl");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in cases.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let kind = case["type"].as_str().unwrap();
        let expected = &case["value"];
        let ours = load_with(&format!("x: {text}\n"), Schema::Yaml11)
            .map(|d| (d.value["x"].clone(), d.timestamp("/x")));
        // Only PyYAML's dates and datetimes are timestamps to prefab.
        let stamp = match kind {
            "date" => Some(TimestampKind::Date),
            "datetime" => Some(TimestampKind::DateTime),
            _ => None,
        };
        let ours = match ours {
            Ok((v, t)) if t == stamp => Ok(v),
            Ok((v, t)) => Err(format!("{v} marked {t:?}")),
            Err(e) => Err(e.to_string()),
        };
        let ok = match (kind, &ours) {
            // PyYAML refuses (a syntax error, or `=`): so does prefab.
            ("error", result) => result.is_err(),
            ("null", Ok(v)) => v.is_null(),
            ("bool", Ok(v)) => v == expected,
            ("str", Ok(v)) => v == expected,
            // pydantic's JSON text: "2001-12-14T21:59:43.100000-05:00".
            ("date" | "datetime", Ok(v)) => v == expected,
            ("int", result) => {
                let digits = expected.as_str().unwrap();
                match (digits.parse::<i64>(), digits.parse::<u64>(), result) {
                    (Ok(n), _, Ok(v)) => v.as_i64() == Some(n),
                    (_, Ok(n), Ok(v)) => v.as_u64() == Some(n),
                    // Beyond 64 bits: refused, never rounded.
                    (Err(_), Err(_), Err(e)) => e.contains("64 bits"),
                    _ => false,
                }
            }
            ("float", result) => {
                let repr = expected.as_str().unwrap();
                match (repr.parse::<f64>(), result) {
                    (Ok(f), Ok(v)) if f.is_finite() => v.as_f64() == Some(f),
                    // inf / nan: refused (no JSON form), never null.
                    (Ok(f), Err(_)) => !f.is_finite(),
                    _ => false,
                }
            }
            _ => false,
        };
        checked += 1;
        if !ok {
            wrong.push(format!(
                "{text:?}: PyYAML {kind} {expected}, prefab {ours:?}"
            ));
        }
    }
    assert_eq!(checked, 4500);
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_core_schema_is_unchanged_by_yaml11() {
    // The same text, two answers: deployment files keep YAML 1.2 (`yes` is a string there).
    let text = "a: yes\nb: 017\nc: 1:30\nd: 1e3\ne: 1_000\n";
    let core = prefab_core::yaml::load(text).unwrap().value;
    let yaml11 = load_with(text, Schema::Yaml11).unwrap().value;
    assert_eq!(
        core,
        serde_json::json!({"a": "yes", "b": "017", "c": "1:30", "d": 1000.0, "e": "1_000"})
    );
    assert_eq!(
        yaml11,
        serde_json::json!({"a": true, "b": 15, "c": 90, "d": "1e3", "e": 1000})
    );
}

#[test]
fn impossible_timestamps_are_errors_where_they_are() {
    let err = load_with("a: 1\nwhen: [2024-01-31, 2024-02-30]\n", Schema::Yaml11).unwrap_err();
    assert!(
        matches!(err, prefab_core::yaml::YamlError::InvalidTimestamp { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "line 2, column 20: `2024-02-30` is a YAML 1.1 date, which PyYAML builds (`prefect \
         deploy` fails on it): February 2024 has no day 30 (it has 29 days); write a date that \
         exists, or quote it ('2024-02-30') to keep it as text"
    );
    // The core schema keeps timestamps as text, as serde_yaml_ng did.
    let core = prefab_core::yaml::load("when: [2024-02-30, 2024-05-01 10:20:30]\n").unwrap();
    assert_eq!(
        core.value,
        serde_json::json!({"when": ["2024-02-30", "2024-05-01 10:20:30"]})
    );
    assert_eq!(core.timestamp("/when/1"), None);
}

/// Anchors, aliases and merge keys against PyYAML 6.0.4's `safe_load` on 2,500 generated
/// documents (`tests/data/yaml11_merges.jsonl`, made by `xtask/python/gen_yaml11_merge_cases.py`
/// in the Prefect 3.9.1 venv): the value with its keys in PyYAML's order, the pointers of the
/// timestamps, and an error wherever PyYAML fails or its value has no JSON form.
#[test]
fn anchors_aliases_and_merges_load_as_pyyaml_safe_load() {
    let cases = include_str!("data/yaml11_merges.jsonl");
    let (mut checked, mut errors) = (0, 0);
    let mut wrong = Vec::new();
    for line in cases.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let doc = case["doc"].as_str().unwrap();
        checked += 1;
        let ours = load_with(doc, Schema::Yaml11);
        let expected = case["error"].is_null().then_some(&case["value"]);
        // A key PyYAML makes a number, boolean, `None` or date has no JSON form in the
        // corpus; prefab keeps it as the text pydantic writes (`non_string_keys`), so either
        // outcome is accepted for those documents (tests in src/yaml/tests.rs pin the text).
        let key_only = case["error"]
            .as_str()
            .is_some_and(|e| e.contains("is not a string"));
        let problem = match (expected, &ours) {
            (None, Err(_)) => {
                errors += 1;
                None
            }
            (None, Ok(_)) if key_only => None,
            (None, Ok(loaded)) => Some(format!(
                "PyYAML: {}, prefab: {}",
                case["error"],
                serde_json::to_string(&loaded.value).unwrap()
            )),
            (Some(_), Err(e)) => Some(format!("PyYAML succeeds, prefab: {e}")),
            (Some(expected), Ok(loaded)) => {
                // Compared as text: the keys' order counts (serde_json keeps it).
                let (expected, ours) = (
                    serde_json::to_string(expected).unwrap(),
                    serde_json::to_string(&loaded.value).unwrap(),
                );
                let stamps = &case["timestamps"];
                let mut leaves = Vec::new();
                leaf_pointers(&loaded.value, String::new(), &mut leaves);
                let stamp_wrong = leaves.iter().find(|p| {
                    let theirs = match stamps[p.as_str()].as_str() {
                        Some("date") => Some(TimestampKind::Date),
                        Some("datetime") => Some(TimestampKind::DateTime),
                        _ => None,
                    };
                    loaded.timestamp(p) != theirs
                });
                if expected != ours {
                    Some(format!("PyYAML {expected}\n  prefab {ours}"))
                } else {
                    stamp_wrong.map(|p| {
                        format!("timestamp at {p}: {:?} vs {}", loaded.timestamp(p), stamps)
                    })
                }
            }
        };
        if let Some(problem) = problem {
            wrong.push(format!("{doc}\n  {problem}"));
        }
    }
    assert_eq!(checked, 2500);
    // The corpus keeps some of each (PyYAML 6.0.4 with the seed it was made with: 516 errors).
    assert!(errors > 300 && errors < 1000, "{errors}");
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ:\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
}

/// The JSON pointers of the scalars in `value`.
fn leaf_pointers(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaf_pointers(v, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let segment = k.replace('~', "~0").replace('/', "~1");
                leaf_pointers(v, format!("{pointer}/{segment}"), out);
            }
        }
        _ => out.push(pointer),
    }
}
