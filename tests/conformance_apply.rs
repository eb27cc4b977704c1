//! Every case of Prefect 3.9.1's apply corpus (`tests/fixtures/conformance/apply.jsonl`), in both
//! scenarios (the deployment is new / exists), run against `recording_server.py`: the recorded
//! requests must match Prefect's — same count, order, method and path; bodies JSON-equal
//! (object key order ignored, numbers compared by value, present/absent keys matching) — and
//! an error must carry Prefect's class and message.
//!
//! The cases of `server-refuses-parameters.json` hold parameters a real Prefect server refuses
//! (Prefect's client sends them anyway; the recording server accepts everything). prefab
//! refuses them locally: for those, an error with no create or update request sent also counts
//! as a match (the corpus README's rule).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use prefab_client::{ClientConfig, PrefectClient, RetryConfig};
use prefab_core::deployment::{DeploymentFile, apply};
use serde_json::{Map, Value, json};

const CORPUS: &str = include_str!("fixtures/conformance/apply.jsonl");
const SERVER_REFUSES: &str = include_str!("fixtures/conformance/server-refuses-parameters.json");

fn server_refuses(id: &str) -> bool {
    serde_json::from_str::<Vec<String>>(SERVER_REFUSES)
        .unwrap()
        .iter()
        .any(|r| r == id)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
}

struct Recorder {
    child: Child,
    url: String,
    out: PathBuf,
}

impl Recorder {
    fn start(scenario: &str, out: PathBuf, cwd: &str) -> Recorder {
        let mut child = Command::new("python3")
            .arg(fixtures().join("recording_server.py"))
            .args(["--scenario", scenario, "--out"])
            .arg(&out)
            .args(["--cwd", cwd])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed to run recording_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("recording server did not start: {line:?}"))
            .to_owned();
        Recorder { child, url, out }
    }

    fn records(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// JSON equality with numbers compared by value and object key order ignored.
fn json_eq(a: &Value, b: &Value, path: &str, diffs: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.as_f64() != y.as_f64() {
                diffs.push(format!("{path}: {x} != {y}"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => {
                        if x.contains_key(k)
                            && !diffs.iter().any(|d| d.starts_with(&format!("{path}.{k}:")))
                        {
                            json_eq(v, w, &format!("{path}.{k}"), diffs)
                        }
                    }
                    (Some(v), None) => {
                        diffs.push(format!("{path}.{k}: sent {v}, Prefect omits it"))
                    }
                    (None, Some(w)) => {
                        diffs.push(format!("{path}.{k}: missing, Prefect sends {w}"))
                    }
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                diffs.push(format!(
                    "{path}: {} items != {} items ({a} vs {b})",
                    x.len(),
                    y.len()
                ));
                return;
            }
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                json_eq(v, w, &format!("{path}[{i}]"), diffs);
            }
        }
        _ => {
            if a != b {
                diffs.push(format!("{path}: {a} != {b}"));
            }
        }
    }
}

/// The deployment-file form of a case's input: `from_entrypoint`'s keys at the top level
/// (`$schedule` markers are accepted as is), plus `storage` and `apply`.
fn file_form(input: &Value) -> Value {
    let mut m: Map<String, Value> = input["from_entrypoint"].as_object().unwrap().clone();
    m.insert("storage".into(), input["storage"].clone());
    m.insert("apply".into(), input["apply"].clone());
    Value::Object(m)
}

async fn run_case(case: &Value, scenario: &str, work: &Path) -> Result<(), String> {
    let expected = &case["scenarios"][scenario];
    let cwd = std::env::current_dir().unwrap();
    let out = work.join(format!("{}-{scenario}.jsonl", case["id"].as_str().unwrap()));
    let recorder = Recorder::start(scenario, out, &cwd.to_string_lossy());
    let client = PrefectClient::new(
        ClientConfig::new(recorder.url.clone())
            .unwrap()
            .with_retry(RetryConfig::none()),
    )
    .unwrap();
    let result: Result<String, (String, String)> = async {
        let file = DeploymentFile::from_json(&file_form(&case["input"]))
            .map_err(|e| ("build".to_owned(), e.to_string()))?;
        let d = file
            .build(&fixtures())
            .map_err(|e| ("build".to_owned(), e.to_string()))?;
        let mut options = file.apply_options();
        // The corpus was recorded outside any git repository, with no CI variables.
        options.inference_dir = Some(work.to_path_buf());
        options.env = Some(Default::default());
        apply(&client, &d, &options)
            .await
            .map(|id| id.to_string())
            .map_err(|e| (e.python_class().to_owned(), e.message.clone()))
    }
    .await;
    let records = recorder.records();
    if server_refuses(case["id"].as_str().unwrap()) {
        let writes: Vec<String> = records
            .iter()
            .filter(|r| {
                let path = r["path"].as_str().unwrap_or("");
                (r["method"] == "POST" && path == "/deployments/")
                    || (r["method"] == "PATCH" && path.starts_with("/deployments/"))
            })
            .map(|r| format!("{} {}", r["method"], r["path"]))
            .collect();
        return match &result {
            Err((_, msg)) if writes.is_empty() && msg.contains("parameters") => Ok(()),
            Err((_, msg)) => Err(format!(
                "{} [{scenario}]: refused ({msg}) but sent {writes:?}",
                case["id"]
            )),
            Ok(_) => Err(format!(
                "{} [{scenario}]: the real server refuses these parameters; prefab applied them",
                case["id"]
            )),
        };
    }
    let mut diffs = Vec::new();
    match (&result, expected.get("error")) {
        (Ok(_), Some(want)) => diffs.push(format!("expected error {want}, apply succeeded")),
        (Err((class, msg)), None) => diffs.push(format!("apply failed: {class}: {msg}")),
        (Err((class, msg)), Some(want)) => {
            let want_msg = want["message"].as_str().unwrap();
            if msg != want_msg {
                diffs.push(format!("error message {msg:?} != {want_msg:?}"));
            }
            if class != "build" && class != want["class"].as_str().unwrap() {
                diffs.push(format!("error class {class} != {}", want["class"]));
            }
        }
        (Ok(_), None) => {}
    }
    let want = expected["requests"].as_array().unwrap();
    // prefab's one addition to Prefect's sequence (docs/deviations.md D32): after a deployment's
    // automations are created, one read of the automations related to it checks that each
    // trigger exists exactly once (concurrent appliers would otherwise leave duplicates). It
    // must be there exactly when Prefect created automations, and last.
    let mut records = records;
    let created_automations = want
        .iter()
        .any(|r| r["method"] == "POST" && r["path"] == "/automations/");
    let converge = |r: &Value| {
        r["method"] == "GET"
            && r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/automations/related-to/prefect.deployment."))
    };
    if created_automations && result.is_ok() {
        match records.last() {
            Some(last) if converge(last) => {
                records.pop();
            }
            _ => diffs
                .push("no check of the related automations after creating them (D32)".to_owned()),
        }
    }
    if records.len() != want.len() {
        diffs.push(format!(
            "{} requests != {}: sent {:?}",
            records.len(),
            want.len(),
            records
                .iter()
                .map(|r| format!("{} {}", r["method"], r["path"]))
                .collect::<Vec<_>>()
        ));
    }
    for (i, (got, exp)) in records.iter().zip(want).enumerate() {
        if got["method"] != exp["method"] || got["path"] != exp["path"] {
            diffs.push(format!(
                "request {i}: {} {} != {} {}",
                got["method"], got["path"], exp["method"], exp["path"]
            ));
            continue;
        }
        json_eq(
            &got["body"],
            &exp["body"],
            &format!("request {i} {} {} body", got["method"], got["path"]),
            &mut diffs,
        );
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} [{scenario}]:\n  {}",
            case["id"],
            diffs.join("\n  ")
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_apply_case_sends_prefects_requests() {
    let work = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        for scenario in ["create", "update"] {
            count += 1;
            if let Err(e) = run_case(&case, scenario, work.path()).await {
                failures.push(e);
            }
        }
    }
    assert!(count >= 40, "corpus too small: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} runs differ from Prefect:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_eq_compares_numbers_by_value_and_key_presence() {
    let mut d = Vec::new();
    json_eq(
        &json!({"a": 3600, "b": null}),
        &json!({"b": null, "a": 3600.0}),
        "",
        &mut d,
    );
    assert!(d.is_empty(), "{d:?}");
    json_eq(&json!({"a": 1}), &json!({"a": 1, "b": null}), "", &mut d);
    assert_eq!(d.len(), 1);
}
