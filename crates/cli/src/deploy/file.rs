//! Deployment files: one object or a list of them, in JSON, YAML or TOML (the format of
//! tests/fixtures/conformance/README.md: `RunnerDeployment.from_entrypoint`'s arguments plus
//! `storage` and `apply`). TOML holds a list as `[[deployments]]`.

use std::path::Path;

use serde_json::Value;

use crate::Failure;

/// Reads `path` into a list of deployment definitions (JSON objects), in file order.
pub(crate) fn read_definitions(path: &Path) -> Result<Vec<Value>, Failure> {
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
    let value: Value = match ext.as_str() {
        "json" => serde_json::from_str(&text).map_err(|e| bad("JSON", &e))?,
        "yaml" | "yml" => serde_yaml_ng::from_str(&text).map_err(|e| bad("YAML", &e))?,
        "toml" => {
            let table: toml::Table = toml::from_str(&text).map_err(|e| bad("TOML", &e))?;
            serde_json::to_value(table).map_err(|e| bad("TOML", &e))?
        }
        other => {
            return Err(Failure::Input(format!(
                "--file {}: unknown extension {other:?}: use .json, .yaml/.yml or .toml",
                path.display()
            )));
        }
    };
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map)
            if map.contains_key("deployments") && !map.contains_key("entrypoint") =>
        {
            match map.remove("deployments") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(Failure::Input(format!(
                        "--file {}: `deployments` must be a list",
                        path.display()
                    )));
                }
            }
        }
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(Failure::Input(format!(
                "--file {}: expected a deployment object or a list of them",
                path.display()
            )));
        }
    };
    for (i, item) in list.iter().enumerate() {
        if !item.is_object() {
            return Err(Failure::Input(format!(
                "--file {}: deployment #{} is not an object",
                path.display(),
                i + 1
            )));
        }
    }
    Ok(list)
}

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
        assert_eq!(read_definitions(&yaml).unwrap(), expected);
        assert_eq!(read_definitions(&toml).unwrap(), expected);
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
}
