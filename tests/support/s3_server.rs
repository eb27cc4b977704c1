//! A real S3-compatible server for integration tests: moto 5.2.5 in server mode on loopback.
//!
//! [`server`] starts one moto per test process the first time a test asks for it (nextest runs
//! each test in its own process; moto starts in about a second). moto is installed once into
//! the pinned venv `~/.cache/prefab/venvs/moto-5.2.5` by `prefab_client::local_server`
//! (~30–60 s the first time on a machine, then reused).
//!
//! moto runs under a small Python wrapper that binds a free port itself (no race for the port),
//! prints it, and exits as soon as the test process is gone: it watches both its stdin (a pipe
//! only the test process holds, closed by the kernel when that process exits, however it
//! exits) and its parent PID. Its output goes to a log file, never to the test's own stdout or
//! stderr, so the test runner does not wait on it.
//!
//! moto accepts any credentials and does not check signatures; an unsigned `PUT /<bucket>`
//! creates a bucket. If the server cannot be provisioned, the test fails with the reason — it
//! never skips.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use prefab_client::local_server::PythonEnvSpec;

/// The pinned moto release.
pub const MOTO_PIN: &str = "moto[server]==5.2.5";
/// Access key the tests use (moto accepts any).
pub const ACCESS_KEY: &str = "testing-access-key";
/// Secret key the tests use (moto accepts any).
pub const SECRET_KEY: &str = "testing-secret-key";
/// Region the tests use.
pub const REGION: &str = "us-east-1";

/// Runs moto in this interpreter: binds 127.0.0.1 on a port the OS picks, prints it, serves
/// until the parent process (argv[1]) is gone or our stdin closes.
const WRAPPER: &str = r#"
import os, sys, threading, time

parent = int(sys.argv[1])

def stdin_closed():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)

def parent_gone():
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)

threading.Thread(target=stdin_closed, daemon=True).start()
threading.Thread(target=parent_gone, daemon=True).start()

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"PORT {port}", flush=True)
while True:
    time.sleep(3600)
"#;

/// A running moto server owned by this test process.
pub struct S3Server {
    endpoint: String,
    port: u16,
    log: PathBuf,
    _child: Mutex<Child>,
    // Held for the life of the process: moto exits when it closes.
    _stdin: Mutex<ChildStdin>,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server")
            .field("endpoint", &self.endpoint)
            .field("log", &self.log)
            .finish()
    }
}

/// This process's moto server, started on first use.
///
/// # Panics
///
/// If moto cannot be installed or started, with the reason (pip's log tail, moto's log).
pub fn server() -> &'static S3Server {
    static SERVER: OnceLock<Result<S3Server, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => panic!("could not provision the moto S3 test server:\n{reason}"),
    }
}

fn start() -> Result<S3Server, String> {
    let env = PythonEnvSpec::new("moto-5.2.5", [MOTO_PIN])
        .on_progress(|line| eprintln!("moto test server: {line}"))
        .ensure()
        .map_err(|e| format!("installing {MOTO_PIN}: {e}"))?;
    let log_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let log = log_dir.join(format!("moto-{}.log", std::process::id()));
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(env.python())
        .arg("-c")
        .arg(WRAPPER)
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", env.python().display()))?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");

    // The first line is the port; later output (none expected) is drained.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let log_tail = |log: &PathBuf| {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let port = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| format!("moto printed {line:?} instead of its port"))?,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "moto did not report its port ({}); log {}:\n{}",
                match other {
                    Err(_) => "timed out after 60 s".to_owned(),
                    Ok(None) => "it exited".to_owned(),
                    Ok(Some(Err(e))) => e.to_string(),
                    Ok(Some(Ok(_))) => unreachable!(),
                },
                log.display(),
                log_tail(&log)
            ));
        }
    };
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        port,
        log,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    };
    let status = server.request("GET", "/").map_err(|e| {
        format!(
            "moto on port {port} does not answer: {e}; log:\n{}",
            log_tail(&server.log)
        )
    })?;
    if status != 200 {
        return Err(format!("moto answered GET / with {status}"));
    }
    Ok(server)
}

impl S3Server {
    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a bucket with a name unique to this process and test (`<prefix>-<pid>-<n>`)
    /// and returns its name.
    pub fn create_bucket(&self, prefix: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match self.request("PUT", &format!("/{name}")) {
            Ok(200) => name,
            Ok(status) => panic!("creating bucket {name} on moto: HTTP {status}"),
            Err(e) => panic!("creating bucket {name} on moto: {e}"),
        }
    }

    /// A store on `bucket` of this server (see [`store_at`]).
    pub fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        store_at(&self.endpoint, bucket)
    }

    /// A raw HTTP/1.1 request without a body; returns the status code.
    fn request(&self, method: &str, path: &str) -> Result<u16, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|e| format!("connect 127.0.0.1:{}: {e}", self.port))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )
        .map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {response:.200}"))
    }
}

/// A store on `bucket` of the S3 server at `endpoint`, built with object_store directly
/// (independent of prefab's settings mapping), for publishing test content.
pub fn store_at(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_bucket_name(bucket)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_region(REGION)
            .build()
            .expect("S3 store for moto"),
    )
}
