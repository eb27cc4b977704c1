//! Every case of Prefect 3.9.1's storage corpus (`tests/fixtures/conformance/storage.jsonl`)
//! must come out the same: construction errors and warnings, classification, pull interval,
//! destination, name, remote path, repr, the clone URL and `-c insteadOf` arguments, and the pull
//! step byte for byte (key order included: workers read it as YAML/JSON).

use prefab_storage::describe::{Description, StorageDefinition};
use prefab_storage::{Storage, StorageError};
use serde_json::{Value, json};

const CORPUS: &str = include_str!("fixtures/conformance/storage.jsonl");

fn error_json(e: &StorageError) -> Value {
    json!({"class": e.python_class(), "message": e.to_string()})
}

fn check(case: &Value, cwd: &std::path::Path, base: &std::path::Path) -> Result<(), String> {
    let expected = &case["expected"];
    let cwd_text = cwd.to_string_lossy();
    let subst = |v: &Value| -> Value {
        serde_json::from_str(&v.to_string().replace("$CWD", &cwd_text)).unwrap()
    };
    let storage = StorageDefinition(case["input"].clone()).build(cwd, base);
    let storage: Storage = match (storage, expected.get("construct_error")) {
        (Err(e), Some(want)) => {
            return if &error_json(&e) == want {
                Ok(())
            } else {
                Err(format!("construct error {} != {want}", error_json(&e)))
            };
        }
        (Err(e), None) => return Err(format!("unexpected construct error: {e}")),
        (Ok(_), Some(want)) => return Err(format!("constructed, but Prefect refused: {want}")),
        (Ok(s), None) => s,
    };
    let described = Description::of(&storage, base);
    let mut mismatches = Vec::new();
    let mut compare = |key: &str, actual: Value| {
        if let Some(want) = expected.get(key) {
            let mut want = subst(want);
            if key == "repr" {
                want = json!(
                    want.as_str()
                        .unwrap()
                        .replace("PosixPath(", "")
                        .replace("'))", "')")
                );
            }
            if want != actual {
                mismatches.push(format!("{key}: {actual} != {want}"));
            }
        }
    };
    compare("classification", json!(described.classification));
    compare("pull_interval", json!(described.pull_interval));
    compare("destination", json!(described.destination));
    compare("name", json!(described.name));
    compare("remote_path", json!(described.remote_path));
    let prefect_warnings: Vec<String> = match &storage {
        Storage::Git(g) => g.warnings().to_vec(),
        _ => Vec::new(),
    };
    compare("warnings", json!(prefect_warnings));
    if let Some(repr) = &described.repr {
        // Python renders LocalStorage's path as `PosixPath('…')`; prefab prints the string.
        compare("repr", json!(repr.clone()));
    }
    if let Storage::Git(git) = &storage {
        match git.clone_url() {
            Ok(url) => compare("clone_url", json!(url.expose())),
            Err(e) => compare("clone_url_error", error_json(&e)),
        }
        match git.git_config_args() {
            Ok(args) => compare(
                "git_config_args",
                json!(
                    args.iter()
                        .map(|a| a.expose().to_owned())
                        .collect::<Vec<_>>()
                ),
            ),
            Err(e) => compare("git_config_args_error", error_json(&e)),
        }
    }
    match prefab_storage::RunnerStorage::to_pull_step(&storage) {
        Ok(step) => {
            if let Some(want) = expected.get("pull_step") {
                // Byte for byte, key order included.
                let want = subst(want).to_string();
                let actual = step.to_string();
                if actual != want {
                    mismatches.push(format!("pull_step: {step} != {want}"));
                }
            } else {
                mismatches.push(format!("pull step {step} where Prefect fails"));
            }
        }
        Err(e) => compare("pull_step_error", error_json(&e)),
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(mismatches.join("; "))
    }
}

#[test]
fn every_storage_case_matches_prefect() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path().canonicalize().unwrap();
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        count += 1;
        if let Err(e) = check(&case, &cwd, base.path()) {
            failures.push(format!("{}: {e}", case["id"].as_str().unwrap()));
        }
    }
    assert_eq!(count, 45, "the vendored corpus has 45 cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
