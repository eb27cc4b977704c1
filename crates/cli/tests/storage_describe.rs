//! `prefab storage describe --jsonl` answers every case of Prefect 3.9.1's storage corpus
//! (the batch contract of tests/fixtures/conformance/README.md), run as the real binary from
//! the corpus directory, plus the single-source form.

use std::process::Command;

use serde_json::Value;

const CORPUS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/conformance"
);

fn prefab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prefab"))
}

#[test]
fn jsonl_batch_matches_the_corpus() {
    let cwd = std::fs::canonicalize(CORPUS_DIR).unwrap();
    let output = prefab()
        .args(["storage", "describe", "--jsonl", "storage.jsonl"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let corpus = std::fs::read_to_string(cwd.join("storage.jsonl")).unwrap();
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cases: Vec<Value> = corpus
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len());
    let cwd_text = cwd.to_string_lossy().into_owned();
    let mut failures = Vec::new();
    for (case, answer) in cases.iter().zip(&answers) {
        let id = &case["id"];
        assert_eq!(&answer["id"], id);
        let expected: Value =
            serde_json::from_str(&case["expected"].to_string().replace("$CWD", &cwd_text)).unwrap();
        if expected.get("construct_error").is_some() || expected.get("pull_step_error").is_some() {
            let want = expected
                .get("construct_error")
                .or(expected.get("pull_step_error"))
                .unwrap();
            if answer["error"] != want["message"] {
                failures.push(format!(
                    "{id}: error {} != {}",
                    answer["error"], want["message"]
                ));
            }
        }
        for key in [
            "classification",
            "pull_interval",
            "destination",
            "name",
            "remote_path",
        ] {
            if let Some(want) = expected.get(key)
                && answer.get(key) != Some(want)
            {
                failures.push(format!("{id}: {key} {:?} != {want}", answer.get(key)));
            }
        }
        if let Some(want) = expected.get("pull_step") {
            // Byte for byte, key order included.
            // Compared as text: Value equality ignores key order.
            let (actual, want) = (answer["pull_step"].to_string(), want.to_string());
            if actual != want {
                failures.push(format!("{id}: pull_step {} != {want}", answer["pull_step"]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_lines_name_the_line() {
    let mut child = prefab()
        .args(["storage", "describe", "--jsonl", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"{\"id\": \"ok\", \"input\": {\"kind\": \"source\", \"source\": \"s3://b/p\"}}\n[1]\n",
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 2"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"ok\""));
}

#[test]
fn single_source_json() {
    let output = prefab()
        .args([
            "storage",
            "describe",
            "https://github.com/acme/flows.git",
            "--branch",
            "feature/x",
            "--credentials-block",
            "gh-token",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["classification"], "git");
    assert_eq!(v["destination"], "flows-feature-x");
    assert_eq!(v["name"], "flows-feature-x");
    assert_eq!(
        v["pull_step"].to_string(),
        r#"{"prefect.deployments.steps.git_clone":{"repository":"https://github.com/acme/flows.git","branch":"feature/x","credentials":{"access_token":"{{ prefect.blocks.secret.gh-token }}"}}}"#
    );
}

#[test]
fn git_flags_on_a_remote_source_are_refused_with_the_fix() {
    let output = prefab()
        .args([
            "storage",
            "describe",
            "https://github.com/acme/flows",
            "--branch",
            "dev",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--git"), "{stderr}");
    let output = prefab()
        .args([
            "storage",
            "describe",
            "https://github.com/acme/flows",
            "--git",
            "--branch",
            "dev",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let v: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["destination"], "flows-dev");
}
