//! Bad input to `prefab deploy` / `prefab plan`, through the binary: each case is refused with
//! a message naming the input and the fix, exit code 2, and no request; an unreachable server
//! is exit 1 with the URL named and "nothing was written". The API URL points at a closed
//! port, so any request that slipped through would turn the expected exit 2 into a 1.

mod common;
use std::path::Path;
use std::process::Output;

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
    run_at(CLOSED, dir, command, definition)
}

fn run_at(api_url: &str, dir: &Path, command: &str, definition: &str) -> (i32, String) {
    let file = dir.join("d.json");
    std::fs::write(&file, definition).unwrap();
    let out: Output = common::prefab(Some(api_url))
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

/// An HTTP server that answers every request with `status`, `content_type` and `body`; its
/// API URL. (A Prefect server never answers like this; a proxy, a web page or a wrong URL do.)
fn answering(status: u16, content_type: &'static str, body: String) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                // Read the head and the body its Content-Length announces.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            });
        }
    });
    url
}

/// A server that answers HTML, broken JSON or JSON of the wrong shape is the server's fault:
/// `plan` and `deploy` exit 1 (not 2: the definition is fine) and name the URL, the status,
/// the content type and the start of the body.
#[test]
fn a_server_that_is_not_the_prefect_api_is_exit_1_naming_url_status_and_body() {
    let dir = project();
    let definition = r#"{"entrypoint": "f.py:good", "name": "a"}"#;
    let html = format!(
        "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>{}</body></html>",
        "lorem ipsum ".repeat(500)
    );
    let cases: [(&str, u16, &str, String, &str); 4] = [
        (
            "html",
            200,
            "text/html",
            html,
            "<!DOCTYPE html><html><head><title>Welcome to nginx!",
        ),
        (
            "broken json",
            200,
            "application/json",
            r#"{"id": "0b4f"#.into(),
            r#"the body starts: {"id": "0b4f."#,
        ),
        (
            "wrong json",
            200,
            "application/json",
            r#"{"items": [1, 2]}"#.into(),
            "items",
        ),
        (
            "html 404",
            404,
            "text/html",
            "<h1>404 Not Found</h1>".into(),
            "<h1>404 Not Found</h1>",
        ),
    ];
    for (what, status, content_type, body, start) in cases {
        let url = answering(status, content_type, body);
        for command in ["plan", "deploy"] {
            let (code, text) = run_at(&url, dir.path(), command, definition);
            assert_eq!(code, 1, "{command} / {what}: exit code\n{text}");
            for needle in [
                format!("{url}/deployments/name/good/a"),
                format!("status {status}"),
                content_type.to_owned(),
                start.to_owned(),
            ] {
                assert!(
                    text.contains(&needle),
                    "{command} / {what}: {needle:?} missing in\n{text}"
                );
            }
            assert!(
                !text.contains("invalid"),
                "{command} / {what}: blames the input\n{text}"
            );
            assert!(!text.contains("lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem ipsum"),
                "{command} / {what}: the body is not bounded\n{text}");
        }
    }
}

/// A server that accepts connections and never answers: the message says how long each attempt
/// waited, how many there were and the time in all — and a timed-out read is tried twice, not
/// eleven times.
#[test]
fn a_server_that_never_answers_says_attempts_and_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream); // never answered, never closed
        }
    });
    let dir = project();
    let file = dir.path().join("d.json");
    std::fs::write(&file, r#"{"entrypoint": "f.py:good", "name": "a"}"#).unwrap();
    let out = common::prefab(Some(&url))
        .env("PREFECT_API_REQUEST_TIMEOUT", "0.5")
        .args(["deploy", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("within 0.5 s")
            && text.contains("on any of 2 attempts")
            && text.contains("s in all"),
        "{text}"
    );
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "{text}"
    );
}
