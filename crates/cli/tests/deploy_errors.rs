//! Bad input to `prefab deploy` / `prefab plan`, through the binary: each case is refused with
//! a message naming the input and the fix, exit code 2, and no request; an unreachable server
//! is exit 1 with the URL named and "nothing was written". The API URL points at a closed
//! port, so any request that slipped through would turn the expected exit 2 into a 1.

use std::path::Path;
use std::process::{Command, Output};

const FLOW: &str = r#"from typing import Literal
from prefect import flow


@flow
def good(n: int, mode: Literal["a", "b"] = "a"):
    pass
"#;

const BROKEN: &str = "from prefect import flow\n\n@flow\ndef broken(x:\n    pass\n";

/// An API URL nothing listens on (port 9, discard, is closed on loopback here).
const CLOSED: &str = "http://127.0.0.1:9/api";

fn run(dir: &Path, command: &str, definition: &str) -> (i32, String) {
    let file = dir.join("d.json");
    std::fs::write(&file, definition).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prefab"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PREFECT_") {
            cmd.env_remove(key);
        }
    }
    let out: Output = cmd
        .env("PREFECT_API_URL", CLOSED)
        .args([command, "--file"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.py"), FLOW).unwrap();
    std::fs::write(dir.path().join("broken.py"), BROKEN).unwrap();
    dir
}

#[test]
fn bad_input_is_exit_2_naming_the_input_and_the_fix() {
    let dir = project();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "missing file",
            r#"{"entrypoint": "missing.py:f", "name": "a"}"#,
            &["missing.py", "no such file"],
        ),
        (
            "missing function",
            r#"{"entrypoint": "f.py:nope", "name": "a"}"#,
            &["\"nope\"", "not found", "f.py"],
        ),
        (
            "syntax error",
            r#"{"entrypoint": "broken.py:broken", "name": "a"}"#,
            &["broken.py", "line 5, column 5"],
        ),
        (
            "unknown time zone",
            r#"{"entrypoint": "f.py:good", "name": "a",
                "schedules": [{"cron": "0 9 * * *", "timezone": "Mars/Olympus"}]}"#,
            &["Mars/Olympus", "IANA", "America/New_York"],
        ),
        (
            "wrong cron",
            r#"{"entrypoint": "f.py:good", "name": "a", "cron": "61 * * * *"}"#,
            &["61 * * * *", "minute", "0-59"],
        ),
        (
            "parameters the schema refuses",
            r#"{"entrypoint": "f.py:good", "name": "a", "parameters": {"n": "many", "mode": "c"}}"#,
            &[
                "parameters.n",
                "parameters.mode",
                "enforce_parameter_schema",
            ],
        ),
        (
            "two schedule shorthands",
            r#"{"entrypoint": "f.py:good", "name": "a", "cron": "0 9 * * *", "interval": 60}"#,
            &["Only one of interval, cron, rrule"],
        ),
        (
            "unknown key",
            r#"{"entrypoint": "f.py:good", "name": "a", "crn": "0 9 * * *"}"#,
            &["crn"],
        ),
    ];
    for command in ["deploy", "plan"] {
        for (what, definition, needles) in cases {
            let (code, text) = run(dir.path(), command, definition);
            assert_eq!(code, 2, "{command} / {what}: exit code\n{text}");
            for n in *needles {
                assert!(
                    text.contains(n),
                    "{command} / {what}: {n:?} missing in\n{text}"
                );
            }
            assert!(
                !text.contains("cannot reach"),
                "{command} / {what}: a request was attempted\n{text}"
            );
        }
    }
}

#[test]
fn an_unreachable_server_is_exit_1_naming_the_url_and_what_was_written() {
    let dir = project();
    let (code, text) = run(
        dir.path(),
        "deploy",
        r#"{"entrypoint": "f.py:good", "name": "a"}"#,
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(CLOSED) && text.contains("PREFECT_API_URL"),
        "{text}"
    );
    assert!(text.contains("nothing was written"), "{text}");
    let (code, text) = run(
        dir.path(),
        "plan",
        r#"{"entrypoint": "f.py:good", "name": "a"}"#,
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(CLOSED), "{text}");
}
