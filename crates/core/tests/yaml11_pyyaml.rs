//! YAML 1.1 resolution (`prefab_core::yaml::Schema::Yaml11`, what `prefect deploy` reads
//! prefect.yaml with) against PyYAML 6's `safe_load` on 3,000 generated plain scalars
//! (`tests/data/yaml11_scalars.jsonl`, made by `xtask/python/gen_yaml11_cases.py` in the Prefect
//! 3.9.1 venv): every YAML 1.1 boolean, octal, sexagesimal, underscores, exponents with and
//! without sign, timestamps, special floats, and random strings over those characters.

use prefab_core::yaml::{Schema, load_with};
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
        let ours = load_with(&format!("x: {text}\n"), Schema::Yaml11).map(|d| d.value["x"].clone());
        let ok = match (kind, &ours) {
            // PyYAML refuses (a syntax error, or `=`): so does prefab.
            ("error", result) => result.is_err(),
            ("null", Ok(v)) => v.is_null(),
            ("bool", Ok(v)) => v == expected,
            ("str", Ok(v)) => v == expected,
            // Timestamps stay their text.
            ("date" | "datetime", Ok(v)) => v.as_str() == Some(text),
            ("int", result) => {
                let digits = expected.as_str().unwrap();
                match (digits.parse::<i64>(), digits.parse::<u64>(), result) {
                    (Ok(n), _, Ok(v)) => v.as_i64() == Some(n),
                    (_, Ok(n), Ok(v)) => v.as_u64() == Some(n),
                    // Beyond 64 bits: refused, never rounded.
                    (Err(_), Err(_), Err(e)) => e.to_string().contains("64 bits"),
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
    assert_eq!(checked, 3000);
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
