//! Deployment files: one object or a list of them, in JSON, YAML or TOML (the format of
//! tests/fixtures/conformance/README.md: `RunnerDeployment.from_entrypoint`'s arguments plus
//! `storage` and `apply`). TOML holds a list as `[[deployments]]`.

use std::path::Path;

use prefab_core::deployment::WorkPoolSpec;
use serde_json::Value;

use crate::Failure;

/// What a deployment file holds.
#[derive(Debug, PartialEq)]
pub(crate) struct FileContents {
    /// The deployment definitions (JSON objects), in file order.
    pub definitions: Vec<Value>,
    /// The work pools it declares (`work_pools`, in the mapping form): created when missing.
    pub work_pools: Vec<WorkPoolSpec>,
}

/// Reads `path`: one deployment object, a list of them, or a mapping
/// `{work_pools: [...], deployments: [...]}` (the form TOML needs: `[[deployments]]`).
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
    let mut work_pools = Vec::new();
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map)
            if (map.contains_key("deployments") || map.contains_key("work_pools"))
                && !map.contains_key("entrypoint") =>
        {
            if let Some(pools) = map.remove("work_pools").filter(|p| !p.is_null()) {
                work_pools = serde_json::from_value(pools).map_err(|e| {
                    Failure::Input(format!(
                        "--file {}: `work_pools`: {e} (each pool: {{name, type, description?, \
                         base_job_template?}})",
                        path.display()
                    ))
                })?;
            }
            if let Some(k) = map.keys().find(|k| *k != "deployments") {
                return Err(Failure::Input(format!(
                    "--file {}: unknown top-level key `{k}` (allowed: work_pools, deployments)",
                    path.display()
                )));
            }
            match map
                .remove("deployments")
                .unwrap_or(Value::Array(Vec::new()))
            {
                Value::Array(items) => items,
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
    Ok(FileContents {
        definitions: list,
        work_pools,
    })
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
}
