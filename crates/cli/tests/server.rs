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

/// The PIDs a PostgreSQL-backed server runs as: the API server, Redis (if any) and the
/// postmaster, from the state directory's files.
fn recorded_pids(dir: &Path) -> Vec<(&'static str, u32)> {
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
    };
    let mut pids = Vec::new();
    for (what, path) in [
        ("prefect", dir.join("server.pid")),
        ("redis", dir.join("redis.pid")),
        ("postgres", dir.join("postgres/data/postmaster.pid")),
    ] {
        if let Some(pid) = read(path) {
            pids.push((what, pid));
        }
    }
    pids
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Removes the cluster that `prefab` keeps outside an unreachable state directory
/// (`/var/tmp/prefab-postgres/<hash>`), so that temporary state directories leave nothing.
fn remove_cluster(dir: &Path) {
    let link = dir.join("postgres");
    if let Ok(target) = std::fs::read_link(&link) {
        let _ = std::fs::remove_dir_all(target);
    }
}

#[test]
fn postgres_with_two_workers_starts_reports_its_shape_and_stops_every_process() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let _guard = StopOnDrop(dir);

    let started = prefab(
        &[
            "server",
            "start",
            "--database",
            "postgres",
            "--workers",
            "2",
        ],
        dir,
    );
    let url = last_line(&started, 0);
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert!(
        stderr.contains("PostgreSQL ready on 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("Redis ready on 127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("migrating the database"), "{stderr}");
    assert!(
        stderr.contains("database postgres, 2 API workers"),
        "{stderr}"
    );
    let (status, body) = get_health(&url).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, "true");

    let status = prefab(&["server", "status"], dir);
    assert_eq!(last_line(&status, 0), url);
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("database postgres, 2 API workers"),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let pids = recorded_pids(dir);
    let kinds: Vec<&str> = pids.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["prefect", "redis", "postgres"]);
    assert!(pids.iter().all(|(_, pid)| alive(*pid)), "{pids:?}");

    // The same shape is reused; another shape is refused while it runs.
    let reused = prefab(
        &[
            "server",
            "start",
            "--database",
            "postgres",
            "--workers",
            "2",
        ],
        dir,
    );
    assert_eq!(last_line(&reused, 0), url);
    let other = prefab(&["server", "start", "--database", "postgres"], dir);
    assert_eq!(other.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("workers=2"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );

    assert_eq!(last_line(&prefab(&["server", "stop"], dir), 0), "stopped");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|(_, pid)| alive(*pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<_> = pids.iter().filter(|(_, pid)| alive(*pid)).collect();
    assert!(left.is_empty(), "still running after stop: {left:?}");
    assert!(get_health(&url).is_err());
    remove_cluster(dir);
}

#[test]
fn missing_postgres_or_redis_names_the_package_and_leaves_nothing_running() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let _guard = StopOnDrop(dir);
    let empty = tempfile::tempdir().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args(["server", "start", "--database", "postgres", "--state-dir"])
        .arg(dir)
        .env("PREFAB_POSTGRES_BIN", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`initdb` not found"), "{stderr}");
    assert!(stderr.contains("apt-get install postgresql"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args([
            "server",
            "start",
            "--database",
            "postgres",
            "--workers",
            "2",
        ])
        .arg("--state-dir")
        .arg(dir)
        .env("PREFAB_REDIS_SERVER", empty.path().join("redis-server"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("apt-get install redis-server"), "{stderr}");
    // Found missing before anything started.
    assert!(recorded_pids(dir).is_empty(), "{:?}", recorded_pids(dir));

    // A Redis that does not come up: the PostgreSQL cluster this start began is stopped again.
    let out = Command::new(env!("CARGO_BIN_EXE_prefab"))
        .args([
            "server",
            "start",
            "--database",
            "postgres",
            "--workers",
            "2",
        ])
        .arg("--state-dir")
        .arg(dir)
        .env("PREFAB_REDIS_SERVER", "/bin/false")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("PostgreSQL ready"), "{stderr}");
    assert!(
        stderr.contains("Redis failed at redis-server start"),
        "{stderr}"
    );
    let left: Vec<_> = recorded_pids(dir)
        .into_iter()
        .filter(|(_, pid)| alive(*pid))
        .collect();
    assert!(
        left.is_empty(),
        "left running after a failed start: {left:?}"
    );
    remove_cluster(dir);
}
