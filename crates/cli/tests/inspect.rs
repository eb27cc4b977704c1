//! `prefab inspect ENTRYPOINT --output json` run as the real binary from the corpus
//! directory over every entrypoint of `flows.jsonl` (and the edge corpus), compared with what
//! Prefect 3.9.1 recorded; load errors exit with status 2 and name the problem.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures(dir: &str) -> PathBuf {
    std::fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(dir),
    )
    .unwrap()
}

fn md5_of(path: &Path) -> String {
    prefab_flows::md5_hex(&std::fs::read(path).unwrap())
}

fn keys_in_order(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn check_corpus(dir: &str) {
    let cwd = fixtures(dir);
    let corpus = std::fs::read_to_string(cwd.join("flows.jsonl")).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        count += 1;
        let case: Value = serde_json::from_str(line).unwrap();
        let id = case["id"].as_str().unwrap();
        let ep = case["entrypoint"].as_str().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
            .args(["inspect", ep, "--output", "json"])
            .current_dir(&cwd)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(class) = case.get("error").and_then(Value::as_str) {
            let msg = case["error_message"].as_str().unwrap();
            if out.status.code() != Some(2) {
                failures.push(format!(
                    "{id}: expected exit 2, got {:?}",
                    out.status.code()
                ));
            } else if !stderr.contains(class) || !stderr.contains(msg) {
                failures.push(format!(
                    "{id}: stderr {stderr:?} does not name {class}: {msg}"
                ));
            }
            continue;
        }
        if !out.status.success() {
            failures.push(format!("{id}: exit {:?}: {stderr}", out.status.code()));
            continue;
        }
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let exp = &case["expected"];
        assert_eq!(
            keys_in_order(&got),
            [
                "flow_name",
                "description",
                "version",
                "parameter_openapi_schema",
                "is_async"
            ]
        );
        for key in [
            "flow_name",
            "description",
            "is_async",
            "parameter_openapi_schema",
        ] {
            if got[key] != exp[key] {
                failures.push(format!("{id}: {key} {} != {}", got[key], exp[key]));
            }
        }
        let schema = &got["parameter_openapi_schema"];
        if keys_in_order(&schema["properties"])
            != keys_in_order(&exp["parameter_openapi_schema"]["properties"])
        {
            failures.push(format!("{id}: parameter order differs"));
        }
        let version_ok = match (&exp["version"], exp.get("version_default")) {
            (Value::String(v), _) => got["version"] == *v,
            (Value::Null, Some(d)) => got["version"] == d["value"],
            // The module fails when Prefect imports it: null or the file's MD5.
            _ => {
                let file = ep.rsplit_once(':').map(|(p, _)| p).unwrap_or(ep);
                got["version"].is_null()
                    || (cwd.join(file).is_file() && got["version"] == md5_of(&cwd.join(file)))
            }
        };
        if !version_ok {
            failures.push(format!(
                "{id}: version {} (expected {})",
                got["version"], exp["version"]
            ));
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_corpus_entrypoint_matches_prefect() {
    check_corpus("conformance");
}

#[test]
fn edge_corpus_entrypoints_match_prefect() {
    check_corpus("flows-edge");
}

#[test]
fn load_errors_exit_2_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args(["inspect", "flows/broken_syntax.py:broken"])
        .current_dir(fixtures("conformance"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 5"), "{stderr}");
    assert!(stderr.contains("broken_syntax.py"), "{stderr}");
}

#[test]
fn text_output_lists_parameters() {
    let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args(["inspect", "flows/models.py:onboard_customer"])
        .current_dir(fixtures("conformance"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Flow:        onboard-customer"), "{text}");
    assert!(
        text.contains(
            "Version:     bc6760f74abeb14b75678f6d1bc81565 (default: MD5 of flows/models.py)"
        ),
        "{text}"
    );
    let customer = text
        .lines()
        .find(|l| l.trim_start().starts_with("customer"))
        .unwrap();
    assert!(
        customer.contains("Customer") && customer.contains("yes"),
        "{customer}"
    );
    let retries = text
        .lines()
        .find(|l| l.trim_start().starts_with("retries"))
        .unwrap();
    assert!(
        retries.contains("integer") && retries.contains(" 3 ") && retries.contains("no"),
        "{retries}"
    );
    let note = text
        .lines()
        .find(|l| l.trim_start().starts_with("note"))
        .unwrap();
    assert!(
        note.contains("string | null") && note.contains("null"),
        "{note}"
    );
    assert!(
        text.contains("Definitions: Address, Customer, Priority"),
        "{text}"
    );
}

/// Issue 12: flows nested deeper than Python loads were a stack overflow (exit 134); now
/// each is a load error naming the file and line (exit 2), in a debug build on the main
/// thread.
#[test]
fn too_deep_flows_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = format!("{}int{}", "list[".repeat(500), "]".repeat(500));
    let sum = vec!["1"; 100_000].join("+");
    let mut aliases = String::from("T0 = int\n");
    for i in 1..2000 {
        aliases.push_str(&format!("T{i} = list[T{}]\n", i - 1));
    }
    let files = [
        (
            "annotation.py",
            format!("from prefect import flow\n\n\n@flow\ndef f(x: {list}):\n    pass\n"),
            &["annotation.py", "line 5", "nested parentheses"][..],
        ),
        (
            "sum.py",
            format!("from prefect import flow\nN = {sum}\n\n@flow\ndef f(x=N):\n    pass\n"),
            &["sum.py", "line 2", "nest deeper than"][..],
        ),
        (
            "aliases.py",
            format!("from prefect import flow\n{aliases}\n@flow\ndef f(x: T1999):\n    pass\n"),
            &["aliases.py", "line 2004", "annotation of parameter \"x\""][..],
        ),
    ];
    for (file, source, needles) in files {
        std::fs::write(dir.path().join(file), source).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
            .args(["inspect", &format!("{file}:f")])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{file}: {n:?} missing in {stderr}");
        }
    }
}
