//! Deployment files: one object or a list of them, in JSON, YAML or TOML (the format of
//! tests/fixtures/conformance/README.md: `RunnerDeployment.from_entrypoint`'s arguments plus
//! `storage` and `apply`). TOML holds a list as `[[deployments]]`.

use std::path::Path;

use prefab_core::deployment::WorkPoolSpec;
use prefab_core::yaml::{LoadedYaml, join_path};
use serde_json::Value;

use crate::Failure;

/// What a deployment file holds.
#[derive(Debug, PartialEq)]
pub(crate) struct FileContents {
    /// The deployment definitions (JSON objects), in file order.
    pub definitions: Vec<Value>,
    /// Where each definition sits in the file, as a path (`deployments[3]`, `[3]`, or `""`
    /// for a file that is one deployment object).
    pub paths: Vec<String>,
    /// The work pools it declares (`work_pools`, in the mapping form): created when missing.
    pub work_pools: Vec<WorkPoolSpec>,
    /// Positions of the values, for a YAML file (JSON and TOML values have none here).
    positions: Option<LoadedYaml>,
}

impl FileContents {
    /// `path` (a field path in the file: `deployments[3].tags[0]`) with its line and column
    /// when the file has them: `deployments[3].tags[0] (line 12, column 9)`.
    pub fn locate(&self, path: &str) -> String {
        let location = self
            .positions
            .as_ref()
            .and_then(|p| p.nearest_location(&path_to_pointer(path)));
        match location {
            Some(at) => format!("{path} ({at})"),
            None => path.to_owned(),
        }
    }
}

/// `deployments[3].tags[0]` → `/deployments/3/tags/0`.
fn path_to_pointer(path: &str) -> String {
    let mut pointer = String::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indices) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !name.is_empty() {
            pointer.push('/');
            pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        for index in indices.split(['[', ']']).filter(|i| !i.is_empty()) {
            pointer.push('/');
            pointer.push_str(index);
        }
    }
    pointer
}

/// Reads `path`: one deployment object, a list of them, or a mapping
/// `{work_pools: [...], deployments: [...]}` (the form TOML needs: `[[deployments]]`).
/// YAML warnings (duplicate keys) are printed to stderr with their line.
pub(crate) fn read_definitions(path: &Path) -> Result<FileContents, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("--file {}: cannot read: {e}", path.display())))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        Failure::Input(format!("--file {}: not valid {what}: {e}", path.display()))
    };
    let mut positions = None;
    let value: Value = match ext.as_str() {
        "json" => {
            let value = serde_json::from_str(&text).map_err(|e| {
                if e.to_string().starts_with("recursion limit exceeded") {
                    bad("JSON", &format!("{e}: values nested more than {DEPTH_LIMIT} levels deep (prefab's limit for data files; no real file needs more)"))
                } else {
                    bad("JSON", &e)
                }
            })?;
            // Valid JSON: an integer serde_json read as a float is refused, not rounded.
            prefab_core::yaml::check_json_integers(&text).map_err(|e| bad("JSON", &e))?;
            value
        }
        "yaml" | "yml" => {
            let mut loaded = prefab_core::yaml::load(&text).map_err(|e| bad("YAML", &e))?;
            for w in &loaded.warnings {
                eprintln!("warning: --file {}: {w}", path.display());
            }
            let value = std::mem::take(&mut loaded.value);
            positions = Some(loaded);
            value
        }
        "toml" => {
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| bad("TOML", &toml_error(&text, &e)))?;
            toml_to_json(toml::Value::Table(table), "").map_err(|e| bad("TOML", &e))?
        }
        other => {
            return Err(Failure::Input(format!(
                "--file {}: unknown extension {other:?}: use .json, .yaml/.yml or .toml",
                path.display()
            )));
        }
    };
    let mut contents = FileContents {
        definitions: Vec::new(),
        paths: Vec::new(),
        work_pools: Vec::new(),
        positions,
    };
    let in_file = |contents: &FileContents, what: &str| {
        format!("--file {}: {}", path.display(), contents.locate(what))
    };
    let (list, prefix) = match value {
        Value::Array(items) => (items, ""),
        Value::Object(mut map)
            if (map.contains_key("deployments") || map.contains_key("work_pools"))
                && !map.contains_key("entrypoint") =>
        {
            if let Some(pools) = map.remove("work_pools").filter(|p| !p.is_null()) {
                contents.work_pools = serde_path_to_error::deserialize(pools).map_err(|e| {
                    let field = join_path("work_pools", &e.path().to_string());
                    Failure::Input(format!(
                        "{}: {} (each pool: {{name, type, description?, base_job_template?}})",
                        in_file(&contents, &field),
                        e.into_inner()
                    ))
                })?;
            }
            if let Some(k) = map.keys().find(|k| *k != "deployments") {
                return Err(Failure::Input(format!(
                    "{}: unknown top-level key `{k}` (allowed: work_pools, deployments)",
                    in_file(&contents, k)
                )));
            }
            match map
                .remove("deployments")
                .unwrap_or(Value::Array(Vec::new()))
            {
                Value::Array(items) => (items, "deployments"),
                _ => {
                    return Err(Failure::Input(format!(
                        "{}: `deployments` must be a list",
                        in_file(&contents, "deployments")
                    )));
                }
            }
        }
        object @ Value::Object(_) => {
            contents.definitions = vec![object];
            contents.paths = vec![String::new()];
            return Ok(contents);
        }
        _ => {
            return Err(Failure::Input(format!(
                "--file {}: expected a deployment object or a list of them",
                path.display()
            )));
        }
    };
    for (i, item) in list.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        if !item.is_object() {
            return Err(Failure::Input(format!(
                "{}: deployment #{} is not an object",
                in_file(&contents, &at),
                i + 1
            )));
        }
        contents.paths.push(at);
    }
    contents.definitions = list;
    Ok(contents)
}

/// A TOML error as `line L, column C: message`, without the toml crate's echo of the source
/// line (which may be megabytes long).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    let message = if message.contains("recursion") {
        "tables and arrays nested too deep (prefab's TOML reader stops well before 128 \
         levels; no real file needs that many)"
    } else {
        message
    };
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// A TOML value as JSON. What JSON cannot hold is refused with its key path, never changed:
/// `nan` and `inf` floats (which `serde_json` would turn into `null`) and dates and times
/// (which it would turn into a private wrapper object).
fn toml_to_json(value: toml::Value, path: &str) -> Result<Value, String> {
    let at = |path: &str| {
        if path.is_empty() {
            "the document".to_owned()
        } else {
            format!("`{path}`")
        }
    };
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => {
                return Err(format!(
                    "{}: `{f}` has no JSON form (Prefect 3.9.1 would store null without a word); write \
                     the number you mean, or quote it",
                    at(path)
                ));
            }
        },
        toml::Value::Datetime(d) => {
            return Err(format!(
                "{}: `{d}` is a TOML date/time, which deployment fields do not take; quote it \
                 (\"{d}\") to pass the text",
                at(path)
            ));
        }
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| toml_to_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| {
                    let sub = join_path(path, &k);
                    toml_to_json(v, &sub).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The nesting limit of JSON (serde_json's) and YAML (prefab-core's) data files.
const DEPTH_LIMIT: usize = prefab_core::yaml::MAX_DEPTH;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn three_formats_one_shape() {
        let (_a, json) = write(
            "d.json",
            r#"[{"entrypoint": "f.py:f", "name": "a", "cron": "0 9 * * *"}]"#,
        );
        let (_b, yaml) = write(
            "d.yaml",
            "- entrypoint: f.py:f\n  name: a\n  cron: '0 9 * * *'\n",
        );
        let (_c, toml) = write(
            "d.toml",
            "[[deployments]]\nentrypoint = 'f.py:f'\nname = 'a'\ncron = '0 9 * * *'\n",
        );
        let expected = read_definitions(&json).unwrap();
        for other in [&yaml, &toml] {
            let read = read_definitions(other).unwrap();
            assert_eq!(read.definitions, expected.definitions);
            assert_eq!(read.paths.len(), 1);
        }
        assert!(expected.work_pools.is_empty());
        let (_d, pools) = write(
            "p.yaml",
            "work_pools:\n  - {name: wp, type: process}\ndeployments:\n  - {entrypoint: f.py:f, name: a, cron: '0 9 * * *'}\n",
        );
        let with_pools = read_definitions(&pools).unwrap();
        assert_eq!(with_pools.definitions, expected.definitions);
        assert_eq!(with_pools.work_pools[0].name, "wp");
        assert_eq!(with_pools.work_pools[0].pool_type, "process");
        let (_e, typo) = write("t.yaml", "work_pool: []\ndeployments: []\n");
        assert!(
            matches!(read_definitions(&typo), Err(Failure::Input(m)) if m.contains("`work_pool`"))
        );
    }

    #[test]
    fn errors_name_the_file() {
        let (_d, bad) = write("d.yaml", "- [unclosed\n");
        let Err(Failure::Input(msg)) = read_definitions(&bad) else {
            panic!()
        };
        assert!(msg.contains("d.yaml") && msg.contains("YAML"), "{msg}");
        let (_e, ext) = write("d.txt", "{}");
        assert!(matches!(read_definitions(&ext), Err(Failure::Input(m)) if m.contains(".toml")));
    }

    #[test]
    fn type_errors_and_top_level_keys_name_path_line_and_column() {
        let (_d, yaml) = write(
            "d.yaml",
            "work_pools:\n  - {name: wp, type: 5}\ndeployments: []\n",
        );
        let Err(Failure::Input(msg)) = read_definitions(&yaml) else {
            panic!()
        };
        assert!(
            msg.contains("work_pools[0].type (line 2, column 22)"),
            "{msg}"
        );
        let (_e, yaml) = write("e.yaml", "deployments: []\nextra: 1\n");
        let Err(Failure::Input(msg)) = read_definitions(&yaml) else {
            panic!()
        };
        assert!(msg.contains("extra (line 2, column 8)"), "{msg}");
        let (_f, yaml) = write("f.yaml", "deployments:\n  - a\n");
        let Err(Failure::Input(msg)) = read_definitions(&yaml) else {
            panic!()
        };
        assert!(msg.contains("deployments[0] (line 2, column 5)"), "{msg}");
        let (_g, yaml) = write(
            "g.yaml",
            "deployments:\n  - {entrypoint: f.py:f, name: a}\n  - entrypoint: f.py:f\n    name: b\n    tags: [x, 1]\n",
        );
        let read = read_definitions(&yaml).unwrap();
        assert_eq!(read.paths, ["deployments[0]", "deployments[1]"]);
        assert_eq!(
            read.locate("deployments[1].tags[1]"),
            "deployments[1].tags[1] (line 5, column 15)"
        );
        // JSON has no positions here: the path alone.
        let (_h, json) = write("h.json", r#"[{"entrypoint": "f.py:f", "name": "a"}]"#);
        assert_eq!(
            read_definitions(&json).unwrap().locate("[0].tags"),
            "[0].tags"
        );
    }

    #[test]
    fn deep_nesting_is_refused_in_every_format_with_the_limit() {
        let n = 100_000;
        for (name, text) in [
            (
                "deep.yaml",
                format!("{{x: {}{}}}", "[".repeat(n), "]".repeat(n)),
            ),
            ("deep2.yaml", format!("{}x\n", "- ".repeat(n))),
            ("deep.json", format!("{}{}", "[".repeat(n), "]".repeat(n))),
            (
                "deep.toml",
                format!("a = {}{}", "[".repeat(n), "]".repeat(n)),
            ),
            ("deep2.toml", format!("{}a = 1", "a.".repeat(n))),
        ] {
            let (_d, path) = write(name, &text);
            let Err(Failure::Input(msg)) = read_definitions(&path) else {
                panic!("{name}")
            };
            assert!(msg.contains(name), "{msg}");
            assert!(msg.contains("deep") || msg.contains("255"), "{name}: {msg}");
            assert!(msg.len() < 400, "{name}: {msg}");
        }
    }

    #[test]
    fn values_json_cannot_hold_are_refused_not_changed() {
        for (name, text, needle) in [
            (
                "n.toml",
                "[[deployments]]\nname = 'a'\nparameters = {x = nan}\n",
                "`deployments[0].parameters.x`: `NaN`",
            ),
            (
                "i.toml",
                "[[deployments]]\nname = 'a'\nparameters = {x = -inf}\n",
                "-inf",
            ),
            (
                "d.toml",
                "[[deployments]]\nname = 'a'\nversion = 2026-12-06\n",
                "date/time",
            ),
            (
                "n.yaml",
                "- name: a\n  parameters: {x: .nan}\n",
                "line 2, column 19",
            ),
            (
                "b.json",
                "[{\"name\": \"a\", \"parameters\": {\"x\": 1180591620717411303424}}]",
                "64 bits",
            ),
            (
                "f.json",
                "[{\"name\": \"a\", \"parameters\": {\"x\": 1e400}}]",
                "out of range",
            ),
        ] {
            let (_d, path) = write(name, text);
            let Err(Failure::Input(msg)) = read_definitions(&path) else {
                panic!("{name}")
            };
            assert!(msg.contains(needle), "{name}: {msg}");
        }
        // The largest integers that fit are kept exactly, in every format.
        for (name, text) in [
            (
                "ok.json",
                "[{\"name\": \"a\", \"parameters\": {\"x\": 18446744073709551615, \"y\": -9223372036854775808}}]",
            ),
            (
                "ok.yaml",
                "- name: a\n  parameters: {x: 18446744073709551615, y: -9223372036854775808}\n",
            ),
        ] {
            let (_d, path) = write(name, text);
            let read = read_definitions(&path).unwrap();
            assert_eq!(
                read.definitions[0]["parameters"]["x"],
                serde_json::json!(u64::MAX),
                "{name}"
            );
            assert_eq!(
                read.definitions[0]["parameters"]["y"],
                serde_json::json!(i64::MIN),
                "{name}"
            );
        }
    }
}
