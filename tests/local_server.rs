//! `prefab_client::local_server` against a real Prefect 3.9.1: start, reuse, auth, stop,
//! environment isolation, the unused-server watchdog and a missing interpreter.
//!
//! Three servers at most: the shared one (`support::prefect::server`), one with an auth string,
//! and one started by a child process with a polluted environment. The latter two keep their
//! state (and database) under `target/tmp/prefect-server`, so later runs start them in ~5 s.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use prefab_client::local_server::{
    Database, LocalServer, LocalServerError, PythonEnvSpec, ServerOptions, ServerStatus,
    StopOutcome,
};
use support::prefect::{self, get, port_is_closed, state_root};

const AUTH: &str = "admin:s3cret-pass";

#[test]
fn shared_server_answers_health_on_loopback() {
    let server = prefect::server();
    assert!(
        server.api_url().starts_with("http://127.0.0.1:") && server.api_url().ends_with("/api"),
        "{}",
        server.api_url()
    );
    let health = get(server.api_url(), "/health", None);
    assert_eq!((health.status, health.body.as_str()), (200, "true"));
}

#[test]
fn second_start_reuses_the_running_server() {
    let first = prefect::server();
    let second = prefect::shared_options()
        .start()
        .expect("second start of the shared server");
    assert!(second.was_reused());
    assert_eq!(second.pid(), first.pid());
    assert_eq!(second.api_url(), first.api_url());
    assert_eq!(
        LocalServer::status(second.state_dir()).unwrap(),
        ServerStatus::Running {
            api_url: first.api_url().to_owned(),
            pid: first.pid(),
            database: Database::Sqlite,
            workers: 1,
        }
    );
}

/// One server for auth, concurrent starts and stop, to keep the number of starts small.
#[test]
fn auth_server_guards_the_api_shares_concurrent_starts_and_stops() {
    let dir = state_root().join("auth");
    // A server left by an interrupted run would be reused; this test must start its own.
    LocalServer::stop_in(&dir, Duration::from_secs(30)).unwrap();
    let options = ServerOptions::new()
        .state_dir(&dir)
        .auth_string(AUTH)
        .stop_when_unused(Duration::from_secs(60))
        .on_progress(|line| eprintln!("auth server: {line}"));
    assert!(!format!("{options:?}").contains("s3cret"));

    // Two concurrent starts: one launches, the other waits on the start lock and reuses.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| options.start());
        let b = s.spawn(|| options.start());
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (a.expect("start A"), b.expect("start B"));
    assert_eq!(a.pid(), b.pid());
    assert_eq!(a.api_url(), b.api_url());
    assert!(
        a.was_reused() != b.was_reused(),
        "exactly one start launches"
    );
    let (server, url, pid, port) = (a, b.api_url().to_owned(), b.pid(), b.port());

    // Auth: the API needs Basic credentials; /api/health stays open (spec §1).
    let health = get(&url, "/health", None);
    assert_eq!((health.status, health.body.as_str()), (200, "true"));
    assert_eq!(get(&url, "/admin/version", None).status, 401);
    assert_eq!(get(&url, "/admin/version", Some("admin:wrong")).status, 401);
    let version = get(&url, "/admin/version", Some(AUTH));
    assert_eq!((version.status, version.body.as_str()), (200, "\"3.9.1\""));
    let no_flow = "/flows/00000000-0000-0000-0000-000000000000";
    let anonymous = get(&url, no_flow, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(
        get(&url, no_flow, Some(AUTH)).status,
        404,
        "authorised: not found"
    );

    // Options mismatch: reusing it without the auth string is refused, naming no secret.
    let err = ServerOptions::new().state_dir(&dir).start().unwrap_err();
    assert!(
        matches!(err, LocalServerError::RunningWithOtherOptions { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret") && !format!("{err:?}").contains("s3cret"));
    // Another auth string: the message says the auth strings differ, showing neither.
    let err = ServerOptions::new()
        .state_dir(&dir)
        .auth_string("admin:0ther-pw")
        .start()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("the auth strings differ"), "{text}");
    assert!(!text.contains("running: services"), "{text}");
    for secret in ["s3cret", "0ther-pw"] {
        assert!(
            !text.contains(secret) && !format!("{err:?}").contains(secret),
            "{text}"
        );
    }

    // Stop: the process ends, the status says so, the port is closed, a second stop is a no-op.
    assert_eq!(
        server.stop().unwrap(),
        StopOutcome::Stopped { pid, killed: false }
    );
    assert_eq!(LocalServer::status(&dir).unwrap(), ServerStatus::Stopped);
    assert!(port_is_closed(port), "port {port} still open after stop");
    assert_eq!(
        LocalServer::stop_in(&dir, Duration::from_secs(30)).unwrap(),
        StopOutcome::NotRunning
    );
    drop(b);
}

/// Set for the child process of [`caller_prefect_variables_stay_out_and_unused_server_stops`].
const PROBE_STATE_DIR: &str = "PREFAB_TEST_ENV_PROBE_STATE_DIR";
/// The database of the probe's server (`sqlite` or `postgres`).
const PROBE_DATABASE: &str = "PREFAB_TEST_ENV_PROBE_DATABASE";

/// Runs this test binary again as a child with `PREFECT_*` variables that would break the
/// server if they leaked (`std::env::set_var` needs `unsafe`, which the workspace forbids).
#[test]
fn caller_prefect_variables_stay_out_and_unused_server_stops() {
    probe_then_wait_for_the_watchdog("env-probe", Database::Sqlite);
}

/// The same with PostgreSQL: the watchdog also stops the cluster, by PID.
#[test]
fn unused_postgres_server_stops_with_its_cluster() {
    let postmaster = probe_then_wait_for_the_watchdog("env-probe-postgres", Database::Postgres)
        .expect("the child reports the postmaster's PID");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(format!("/proc/{postmaster}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z "))
    {
        assert!(
            Instant::now() < deadline,
            "the postmaster (pid {postmaster}) outlived its unused server by 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs [`env_probe_child`] in a child process on a server in `state_root()/<name>`, waits for
/// the watchdog to stop that server once the child exited, and returns the postmaster PID the
/// child reported (PostgreSQL).
fn probe_then_wait_for_the_watchdog(name: &str, database: Database) -> Option<u32> {
    let dir = state_root().join(name);
    LocalServer::stop_in(&dir, Duration::from_secs(30)).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "env_probe_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_STATE_DIR, &dir)
        .env(PROBE_DATABASE, database.as_str())
        .env("PREFECT_API_URL", "http://bad")
        .env("PREFECT_HOME", "/nonexistent/prefect-home")
        .env("PREFECT_SERVER_API_AUTH_STRING", "leaked:auth")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("env probe: ok"),
        "child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The child was the server's only user; its watchdog (1 s grace) must stop it now.
    let port: u16 = stdout
        .split("env probe: ok port=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in the child's output:\n{stdout}"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while LocalServer::status(&dir).unwrap() != ServerStatus::Stopped || !port_is_closed(port) {
        assert!(
            Instant::now() < deadline,
            "the unused server was not stopped within 90 s; log: {}",
            dir.join("server.log").display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    stdout
        .split("postmaster=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// The child half of the tests above; passes at once when run normally.
#[test]
fn env_probe_child() {
    let Some(dir) = std::env::var_os(PROBE_STATE_DIR) else {
        return;
    };
    let database: Database = std::env::var(PROBE_DATABASE)
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    let server = ServerOptions::new()
        .state_dir(&dir)
        .database(database)
        .stop_when_unused(Duration::from_secs(1))
        .on_progress(|line| eprintln!("env probe: {line}"))
        .start()
        .expect("start with a polluted caller environment");
    assert!(!server.was_reused());

    let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).unwrap();
    let vars: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let home = format!("PREFECT_HOME={}", server.state_dir().join("home").display());
    assert!(vars.contains(&home), "{vars:?}");
    for leaked in ["PREFECT_API_URL=", "PREFECT_SERVER_API_AUTH_STRING="] {
        assert!(
            !vars.iter().any(|v| v.starts_with(leaked)),
            "{leaked} leaked into the server: {vars:?}"
        );
    }
    // The server's own view: no auth demanded, and the caller's values nowhere in its settings.
    let settings = get(server.api_url(), "/admin/settings", None);
    assert_eq!(settings.status, 200, "{}", settings.body);
    assert!(!settings.body.contains("http://bad") && !settings.body.contains("/nonexistent"));
    let postmaster =
        std::fs::read_to_string(server.state_dir().join("postgres/data/postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
            .unwrap_or_default();
    assert_eq!(postmaster.is_empty(), database == Database::Sqlite);
    println!(
        "env probe: ok port={} postmaster={postmaster}",
        server.port()
    );
}

#[test]
fn missing_python_interpreter_is_a_clear_error() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let state_dir = scratch.path().join("state");
    let err = ServerOptions::new()
        .state_dir(&state_dir)
        .python_env(
            PythonEnvSpec::prefect()
                .python("/nonexistent/bin/python3.11")
                .venvs_dir(scratch.path().join("venvs")),
        )
        .start()
        .unwrap_err();
    assert!(
        matches!(err, LocalServerError::PythonNotFound { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    for needle in ["/nonexistent/bin/python3.11", "apt-get install python3.11"] {
        assert!(message.contains(needle), "{needle:?} not in: {message}");
    }
    assert_eq!(
        LocalServer::status(&state_dir).unwrap(),
        ServerStatus::Stopped
    );
}
