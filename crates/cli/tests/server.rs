//! `prefab server start|status|stop` against a real Prefect server, in a temporary state
//! directory (the Prefect venv is created on first use and cached under ~/.cache/prefab).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn prefab(args: &[&str], state_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args(args)
        .arg("--state-dir")
        .arg(state_dir)
        .env_remove("PREFAB_SERVER_STATE_DIR")
        .env_remove("PREFAB_SERVER_AUTH_STRING")
        .output()
        .expect("run prefab")
}

/// The last stdout line, after checking the exit code.
fn last_line(output: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}

/// `GET <api_url>/health` over a plain TCP connection: (status line, body).
fn get_health(api_url: &str) -> std::io::Result<(String, String)> {
    let rest = api_url.strip_prefix("http://").expect("an http:// API URL");
    let (authority, path) = rest.split_once('/').expect("a path after the host");
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /{path}/health HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Stops the server if the test fails half-way.
struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = prefab(&["server", "stop"], self.0);
    }
}

#[test]
fn start_status_reuse_stop() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let _guard = StopOnDrop(dir);

    assert_eq!(last_line(&prefab(&["server", "status"], dir), 0), "stopped");

    let started = prefab(&["server", "start", "--services", "none"], dir);
    let url = last_line(&started, 0);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/api"),
        "{url}"
    );
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert!(stderr.contains("prefab: started pid"), "{stderr}");
    assert!(
        stderr.contains(&format!("prefab server stop --state-dir {}", dir.display())),
        "{stderr}"
    );

    assert_eq!(last_line(&prefab(&["server", "status"], dir), 0), url);
    let (status, body) = get_health(&url).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, "true");

    let reused = prefab(&["server", "start"], dir);
    assert_eq!(last_line(&reused, 0), url);
    let stderr = String::from_utf8_lossy(&reused.stderr);
    assert!(stderr.contains("prefab: reusing pid"), "{stderr}");

    // A start with other options is refused while this one runs (and echoes no secret).
    let other = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args(["server", "start", "--state-dir"])
        .arg(dir)
        .env("PREFAB_SERVER_AUTH_STRING", "admin:s3cret-value")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("s3cret-value"), "{stderr}");
    assert!(!String::from_utf8_lossy(&other.stdout).contains("s3cret-value"));

    let stopped = prefab(&["server", "stop"], dir);
    assert_eq!(last_line(&stopped, 0), "stopped");
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("prefab: stopped pid"));
    assert_eq!(last_line(&prefab(&["server", "status"], dir), 0), "stopped");
    assert!(
        get_health(&url).is_err(),
        "the server still answers at {url}"
    );

    // Stopping again is fine.
    let again = prefab(&["server", "stop"], dir);
    assert_eq!(last_line(&again, 0), "stopped");
    assert!(String::from_utf8_lossy(&again.stderr).contains("no server was running"));
}

#[test]
fn malformed_setting_is_bad_input() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("state");
    let output = prefab(&["server", "start", "--setting", "NO_VALUE"], &dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected KEY=VALUE"), "{stderr}");
    assert!(!dir.exists());
}
