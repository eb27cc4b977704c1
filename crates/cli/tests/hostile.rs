//! Hostile input and dead servers through the binary (issue 12 §1, §3): every case ends with
//! a clear message naming the input, the documented exit code, no panic and no hang. The input
//! cases point `PREFECT_API_URL` at a closed port, so a request that slipped through would
//! turn the expected exit 2 into a 1.

#[allow(dead_code)]
#[path = "../../../tests/support/bulk_deployments.rs"]
mod bulk_deployments;
mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

/// An API URL nothing listens on.
fn closed_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/api")
}

const FLOW: &str =
    "from prefect import flow\n\n@flow\ndef good(n: int = 1, label: str = \"\"):\n    pass\n";

fn prefab(dir: &Path, api_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = common::prefab(Some(api_url))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.py"), FLOW).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn hostile_files_are_refused_quickly_naming_where() {
    let n = 100_000;
    let deep_flow = format!("{{x: {}{}}}", "[".repeat(n), "]".repeat(n));
    let deep_dashes = format!("{}x\n", "- ".repeat(n));
    let deep_json = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let deep_toml = format!("a = {}{}", "[".repeat(n), "]".repeat(n));
    let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("deep.yaml", deep_flow, &["deep.yaml", "line 1", "128 levels"]),
        ("dashes.yaml", deep_dashes, &["dashes.yaml", "128 levels"]),
        ("deep.json", deep_json, &["deep.json", "128 levels"]),
        ("deep.toml", deep_toml, &["deep.toml", "nested too deep"]),
        ("bomb.yaml", bomb, &["bomb.yaml", "alias"]),
        (
            "nan.yaml",
            "- {entrypoint: f.py:good, name: a, parameters: {n: .nan}}\n".into(),
            &["line 1, column 52", ".nan", "null"],
        ),
        (
            "key.yaml",
            "- {entrypoint: f.py:good, name: a, job_variables: {1: x}}\n".into(),
            &["line 1, column 52", "`1` is a number"],
        ),
        (
            "big.json",
            r#"[{"entrypoint": "f.py:good", "name": "a", "parameters": {"n": 1180591620717411303424}}]"#
                .into(),
            &["64 bits", "line 1, column 63"],
        ),
        (
            "type.yaml",
            "deployments:\n  - entrypoint: f.py:good\n    name: a\n  - entrypoint: f.py:good\n    name: b\n    paused: maybe\n".into(),
            &["deployments[1].paused (line 6, column 13)", "expected a boolean"],
        ),
        (
            "tags.yaml",
            "- {entrypoint: f.py:good, name: a, tags: [ok, 1, true]}\n".into(),
            &["[0].tags[1] (line 1, column 47)", "not a string", "\"1\""],
        ),
        (
            "twice.yaml",
            "- {entrypoint: f.py:good, name: a}\n- {entrypoint: f.py:good, name: b}\n- entrypoint: f.py:good\n  name: a\n".into(),
            &["good/a is defined twice", "[0] (line 1, column 3)", "[2] (line 3, column 3)"],
        ),
    ];
    for (name, text, needles) in cases {
        let dir = project(&[(name, &text)]);
        for command in ["deploy", "plan"] {
            let (code, out, err) = prefab(dir.path(), &closed_url(), &[command, "--file", name]);
            assert_eq!(code, 2, "{command} {name}: {out}{err}");
            let text = format!("{out}{err}");
            for needle in needles {
                assert!(
                    text.contains(needle),
                    "{command} {name}: no {needle:?} in {text}"
                );
            }
            assert!(
                text.len() < 4000,
                "{command} {name}: {} bytes of output",
                text.len()
            );
            assert!(!text.contains("panicked"), "{command} {name}: {text}");
        }
    }
}

#[test]
fn duplicate_yaml_keys_warn_with_both_lines() {
    let dir = project(&[(
        "d.yaml",
        "- entrypoint: f.py:good\n  name: a\n  tags: [x]\n  tags: [y]\n",
    )]);
    let (code, out, err) = prefab(dir.path(), &closed_url(), &["deploy", "--file", "d.yaml"]);
    // The server is unreachable (exit 1): the warning came before.
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("d.yaml: line 4, column 3: duplicate key `tags` in [0] (first at line 3)"),
        "{err}"
    );
}

#[test]
fn bad_flags_are_refused_before_anything_is_sent() {
    let dir = project(&[]);
    let url = closed_url();
    for (args, needle) in [
        (&["--param", "=x"][..], "with a parameter name"),
        (&["--param", " =x"][..], "with a parameter name"),
        (&["--param", "n=1", "--param", "n=2"][..], "given twice"),
        (&["--param", "n=[1,"][..], "not valid JSON"),
        (&["--param", "n={\"a\": 1"][..], "not valid JSON"),
        (&["--param", "n=1e400"][..], "not valid JSON"),
        (&["--param", "n=18446744073709551616"][..], "64 bits"),
        (&["--concurrency", "0"][..], "give 1 or more"),
        (&["--interval", "nan"][..], "not a finite number"),
        (&["--interval", "inf"][..], "not a finite number"),
    ] {
        let mut all = vec!["deploy", "f.py:good", "--name", "a"];
        all.extend_from_slice(args);
        let (code, out, err) = prefab(dir.path(), &url, &all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Text that is not JSON stays text, as before.
    let (code, _, err) = prefab(
        dir.path(),
        &url,
        &[
            "plan",
            "f.py:good",
            "--name",
            "a",
            "--param",
            "label=hello-123456789012345678901234",
        ],
    );
    assert_eq!(code, 1, "{err}");
}

/// A server that answers every request 503 (and counts them).
fn always_503() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"detail": "Service Unavailable"}"#;
                    let resp = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(resp.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (url, count)
}

#[test]
fn a_dead_server_ends_a_bulk_deploy_after_three_deployments() {
    const COUNT: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    bulk_deployments::write(dir.path(), "dead", COUNT).unwrap();
    let file = bulk_deployments::DEPLOYMENT_FILE;
    // Refused connections: each deployment fails within its connect retries.
    let (code, out, err) = prefab(
        dir.path(),
        &closed_url(),
        &["deploy", "--file", file, "--output", "json"],
    );
    assert_eq!(code, 1, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(doc["summary"]["failed"], 3, "{out}");
    assert_eq!(doc["summary"]["not_attempted"], COUNT as u64 - 3, "{out}");
    let results: Vec<&str> = doc["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["result"].as_str().unwrap())
        .collect();
    assert!(results[..3].iter().all(|r| *r == "failed"), "{results:?}");
    assert!(results[3..].iter().all(|r| *r == "not attempted"));
    assert!(err.contains("not attempted"), "{err}");

    // A server that answers 503 to everything: the retries are visible on stderr (no
    // terminal), and the run ends after three deployments' retries, not a hundred.
    let (url, requests) = always_503();
    let (code, out, err) = prefab(dir.path(), &url, &["deploy", "--file", file]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("0 applied, 3 failed, {} not attempted", COUNT - 3)),
        "{out}"
    );
    assert!(err.contains("retrying"), "{err}");
    assert!(err.contains("503"), "{err}");
    let sent = requests.load(Ordering::SeqCst);
    assert!(sent <= 3 * 12, "{sent} requests for three deployments");
}
