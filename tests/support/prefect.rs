//! A real Prefect 3.9.1 server for integration tests, provisioned by
//! `prefab_client::local_server`.
//!
//! [`server`] starts one server the first time a test of this process asks for it and hands the
//! same one to every later test; other test processes (nextest runs each test in its own) and
//! later runs find it through its state directory, `target/tmp/prefect-server/shared`, and reuse
//! it. It stops itself [`SHARED_SERVER_GRACE`] after the last test process using it has exited,
//! so it never outlives the test runs by more than that. If it cannot be provisioned, the test
//! fails with the reason — it never skips.
//!
//! The shared server's database is SQLite, or PostgreSQL when `PREFAB_TEST_DATABASE=postgres`:
//! `cargo xtask test` runs the end-to-end deploy suite a second time that way, so every one of
//! those tests checks both server kinds ([`server_database`]). [`multi_worker_server`] is the
//! production shape: PostgreSQL, Redis and two API workers.
//!
//! The first run on a machine installs Prefect into `~/.cache/prefab/venvs/prefect-3.9.1`
//! (~1 min) and migrates a new database (~10–15 s); later cold starts take ~4–6 s, and a
//! running server is reused at once.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use prefab_client::local_server::{Database, LocalServer, ServerOptions, Services};

/// How long the shared server outlives the last test process that used it.
pub const SHARED_SERVER_GRACE: Duration = Duration::from_secs(5 * 60);

/// Where the test servers keep their state (under the cargo target directory).
pub fn state_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("prefect-server")
}

/// The database of the shared server: `PREFAB_TEST_DATABASE` (`sqlite`, the default, or
/// `postgres`).
///
/// # Panics
///
/// On any other value, naming it.
pub fn server_database() -> Database {
    match std::env::var("PREFAB_TEST_DATABASE") {
        Ok(name) if !name.is_empty() => name
            .parse()
            .unwrap_or_else(|e| panic!("PREFAB_TEST_DATABASE: {e}")),
        _ => Database::Sqlite,
    }
}

/// The options of the shared server: API only, no auth, the database of [`server_database`].
pub fn shared_options() -> ServerOptions {
    let database = server_database();
    let dir = match database {
        Database::Sqlite => "shared",
        Database::Postgres => "shared-postgres",
    };
    ServerOptions::new()
        .state_dir(state_root().join(dir))
        .database(database)
        .stop_when_unused(SHARED_SERVER_GRACE)
        .on_progress(|line| eprintln!("prefect test server: {line}"))
}

/// The shared server, started (or found running) on first use.
///
/// # Panics
///
/// If the server cannot be provisioned, with the provisioner's error (which names the cause:
/// no python3.11, pip failure, the server's own log tail, …).
pub fn server() -> &'static LocalServer {
    static SERVER: OnceLock<Result<LocalServer, String>> = OnceLock::new();
    match SERVER.get_or_init(|| shared_options().start().map_err(|e| e.to_string())) {
        Ok(server) => server,
        Err(reason) => panic!("could not provision the shared Prefect test server:\n{reason}"),
    }
}

/// The production-shaped server: PostgreSQL, Redis and two API workers (Prefect's
/// `--workers 2`), API only. State in `target/tmp/prefect-server/postgres-workers`; started,
/// reused and stopped like [`server`].
///
/// # Panics
///
/// If the server cannot be provisioned (PostgreSQL or Redis missing: the error names the
/// package), with the provisioner's error.
pub fn multi_worker_server() -> &'static LocalServer {
    static SERVER: OnceLock<Result<LocalServer, String>> = OnceLock::new();
    let start = || {
        ServerOptions::new()
            .state_dir(state_root().join("postgres-workers"))
            .database(Database::Postgres)
            .workers(2)
            .stop_when_unused(SHARED_SERVER_GRACE)
            .on_progress(|line| eprintln!("prefect multi-worker test server: {line}"))
            .start()
            .map_err(|e| e.to_string())
    };
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => panic!("could not provision the multi-worker test server:\n{reason}"),
    }
}

/// How often the scheduler server's scheduler loop runs, in seconds.
pub const SCHEDULER_LOOP_SECONDS: &str = "2";

/// A second shared server with Prefect's scheduler service on (and every other service off,
/// [`Services::Scheduler`]): it creates the flow runs of scheduled deployments by itself. State
/// in `target/tmp/prefect-server/scheduler`; started, reused and stopped like [`server`].
///
/// # Panics
///
/// If the server cannot be provisioned, with the provisioner's error.
pub fn scheduler_server() -> &'static LocalServer {
    static SERVER: OnceLock<Result<LocalServer, String>> = OnceLock::new();
    let start = || {
        ServerOptions::new()
            .state_dir(state_root().join("scheduler"))
            .services(Services::Scheduler)
            .setting(
                "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS",
                SCHEDULER_LOOP_SECONDS,
            )
            .stop_when_unused(SHARED_SERVER_GRACE)
            .on_progress(|line| eprintln!("prefect scheduler test server: {line}"))
            .start()
            .map_err(|e| e.to_string())
    };
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => panic!("could not provision the scheduler test server:\n{reason}"),
    }
}

/// A third shared server, API only like the recordings', dedicated to the prefect.yaml
/// conformance suite (`crates/cli/tests/conformance_prefect_yaml.rs`), which wipes it before
/// every project: no other test may use it. State in `target/tmp/prefect-server/prefect-yaml`;
/// started, reused and stopped like [`server`].
///
/// # Panics
///
/// If the server cannot be provisioned, with the provisioner's error.
pub fn prefect_yaml_server() -> &'static LocalServer {
    static SERVER: OnceLock<Result<LocalServer, String>> = OnceLock::new();
    let start = || {
        ServerOptions::new()
            .state_dir(state_root().join("prefect-yaml"))
            .services(Services::None)
            .stop_when_unused(SHARED_SERVER_GRACE)
            .on_progress(|line| eprintln!("prefect.yaml conformance server: {line}"))
            .start()
            .map_err(|e| e.to_string())
    };
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => panic!("could not provision the prefect.yaml conformance server:\n{reason}"),
    }
}

/// A response from [`get`].
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// `GET {api_url}{path}` over a plain TCP connection, optionally with HTTP Basic credentials
/// (`user:pass`). Panics on connection errors: the tests only call running servers.
pub fn get(api_url: &str, path: &str, basic_auth: Option<&str>) -> Response {
    let rest = api_url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {api_url}"));
    let (host, base) = rest.split_once('/').unwrap_or((rest, ""));
    let mut request = format!(
        "GET /{base}{path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\
         Connection: close\r\n"
    );
    if let Some(credentials) = basic_auth {
        request.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64(credentials.as_bytes())
        ));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("send GET {path}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("read the answer to GET {path}: {e}"));
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("malformed HTTP response: {text}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    Response {
        status,
        body: body.to_owned(),
    }
}

/// Whether nothing accepts connections on `127.0.0.1:port`.
pub fn port_is_closed(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .is_err()
}

/// Standard base64 with padding (RFC 4648 §4), for the Basic auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc_4648_vectors() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("admin:pass", "YWRtaW46cGFzcw=="),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
}
