//! Real git servers for the git storage tests, provisioned from Rust once per test process:
//!
//! - smart HTTP: a small HTTP/1.1 server (tokio, on its own thread) in front of
//!   `git http-backend` (CGI). `/private/<repo>` demands HTTP Basic auth ([`USER`] /
//!   [`PASSWORD`]) and answers `401` with `WWW-Authenticate: Basic realm="git"` otherwise;
//!   `/public/<repo>` is anonymous. Requests and `401`s are counted per repository.
//! - `git daemon` (from `git --exec-path`), anonymous `git://`. It is started under a tiny shell
//!   watchdog that kills it as soon as this test process exits (the watchdog waits for EOF on a
//!   pipe only this process holds), so no daemon outlives `cargo nextest`'s per-test processes.
//! - `file://` URLs of the same bare repositories.
//!
//! All on 127.0.0.1, state under `$CARGO_TARGET_TMPDIR/git-servers/<pid>` (directories of dead
//! processes are removed on start). Needs the `git` executable (with `git-daemon` and
//! `git-http-backend`); without it the tests fail with a message saying so — they never skip.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The user the private HTTP repositories accept.
pub const USER: &str = "alice";
/// The password the private HTTP repositories accept (distinctive, so leak scans can find it).
pub const PASSWORD: &str = "s3cret-Pa55w0rd-7f3a9c";

/// Fixed author/committer, so commits are reproducible.
const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "prefab test"),
    ("GIT_AUTHOR_EMAIL", "test@example.invalid"),
    ("GIT_COMMITTER_NAME", "prefab test"),
    ("GIT_COMMITTER_EMAIL", "test@example.invalid"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("LC_ALL", "C"),
];

/// The servers of this test process.
pub struct GitServers {
    /// Where the bare repositories live (`<root>/<name>.git`).
    pub root: PathBuf,
    /// The smart-HTTP server's port.
    pub http_port: u16,
    /// The git daemon's port.
    pub daemon_port: u16,
    http: Arc<HttpStats>,
    _daemon_watchdog: Mutex<(Child, ChildStdin)>,
    counter: AtomicUsize,
}

#[derive(Default)]
struct HttpStats {
    requests: Mutex<HashMap<String, usize>>,
    unauthorized: Mutex<HashMap<String, usize>>,
}

/// The servers, started on first use.
///
/// # Panics
///
/// When they cannot be started (no `git`, no `git-daemon`, …), with the reason.
pub fn servers() -> &'static GitServers {
    static SERVERS: OnceLock<Result<GitServers, String>> = OnceLock::new();
    match SERVERS.get_or_init(start) {
        Ok(s) => s,
        Err(reason) => panic!("could not start the git test servers: {reason}"),
    }
}

fn start() -> Result<GitServers, String> {
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .map_err(|e| {
            format!("the `git` executable is needed for the git storage tests (apt-get install git): {e}")
        })?;
    let exec_path = PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim());
    for tool in ["git-daemon", "git-http-backend"] {
        if !exec_path.join(tool).exists() {
            return Err(format!(
                "{tool} is missing in {} (install Debian's `git` package)",
                exec_path.display()
            ));
        }
    }
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("git-servers");
    remove_dead_state(&base);
    let state = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&state);
    let root = state.join("repos");
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;

    let http = Arc::new(HttpStats::default());
    let http_port = start_http(root.clone(), http.clone())?;
    let (daemon_port, watchdog) = start_daemon(&exec_path.join("git-daemon"), &root, &state)?;
    Ok(GitServers {
        root,
        http_port,
        daemon_port,
        http,
        _daemon_watchdog: Mutex::new(watchdog),
        counter: AtomicUsize::new(0),
    })
}

/// Removes state directories of test processes that are gone.
fn remove_dead_state(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn wait_listening(port: u16, what: &str, log: Option<&Path>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = log
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    Err(format!(
        "{what} is not listening on 127.0.0.1:{port} after 10 s\n{log}"
    ))
}

fn start_daemon(
    daemon: &Path,
    root: &Path,
    state: &Path,
) -> Result<(u16, (Child, ChildStdin)), String> {
    let port = free_port()?;
    let log_path = state.join("git-daemon.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    // The watchdog shell starts the daemon, then waits for EOF on its stdin — which comes when
    // this process exits (only this process holds the pipe's write end) — and kills it.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            r#""$0" --reuseaddr --listen=127.0.0.1 --port="$1" --base-path="$2" --export-all "$2" </dev/null &
d=$!
cat >/dev/null
kill "$d" 2>/dev/null"#,
        )
        .arg(daemon)
        .arg(port.to_string())
        .arg(root)
        .envs(GIT_ENV.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting git-daemon: {e}"))?;
    let stdin = child.stdin.take().expect("piped stdin");
    wait_listening(port, "git-daemon", Some(&log_path))?;
    Ok((port, (child, stdin)))
}

impl GitServers {
    /// `http://127.0.0.1:<port>/private/<repo>` (Basic auth required).
    pub fn http_url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/private/{repo}", self.http_port)
    }

    /// `http://127.0.0.1:<port>/public/<repo>` (anonymous).
    pub fn public_http_url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/public/{repo}", self.http_port)
    }

    /// `git://127.0.0.1:<port>/<repo>`.
    pub fn daemon_url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.daemon_port)
    }

    /// `file://<root>/<repo>`.
    pub fn file_url(&self, repo: &str) -> String {
        format!("file://{}/{repo}", self.root.display())
    }

    /// HTTP requests made for `repo` so far.
    pub fn requests(&self, repo: &str) -> usize {
        *self.http.requests.lock().unwrap().get(repo).unwrap_or(&0)
    }

    /// `401` answers given for `repo` so far.
    pub fn unauthorized(&self, repo: &str) -> usize {
        *self
            .http
            .unauthorized
            .lock()
            .unwrap()
            .get(repo)
            .unwrap_or(&0)
    }

    /// A new bare repository `<prefix>-<n>.git` (unique in this process) that lets clients
    /// fetch any reachable commit by SHA (`uploadpack.allowReachableSHA1InWant`) unless
    /// `allow_sha_in_want` is false, and allows partial clones (`uploadpack.allowFilter`).
    pub fn create_repo(&self, prefix: &str, allow_sha_in_want: bool) -> BareRepo {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}-{n}.git");
        let path = self.root.join(&name);
        git(&self.root, &["init", "-q", "--bare", "-b", "main", &name]);
        git(
            &path,
            &[
                "config",
                "uploadpack.allowReachableSHA1InWant",
                if allow_sha_in_want { "true" } else { "false" },
            ],
        );
        git(&path, &["config", "uploadpack.allowFilter", "true"]);
        let work = self.root.join(format!(".work-{name}"));
        git(
            &self.root,
            &["init", "-q", "-b", "main", &work.to_string_lossy()],
        );
        git(&work, &["remote", "add", "origin", &path.to_string_lossy()]);
        BareRepo { name, path, work }
    }
}

/// Runs `git` with fixed identity and no user configuration; panics with its output on failure.
pub fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .envs(GIT_ENV.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}{}",
        cwd.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare repository served by every server, with a work clone to publish from.
pub struct BareRepo {
    /// `<name>.git`, the path part of its URLs.
    pub name: String,
    /// The bare repository.
    pub path: PathBuf,
    work: PathBuf,
}

impl BareRepo {
    /// Replaces the content of `main` with exactly `files`; returns the new commit's SHA.
    pub fn publish(&self, files: &BTreeMap<String, Vec<u8>>) -> String {
        self.publish_tree("main", files, &[])
    }

    /// Replaces the content of `branch` (created from `main`, or as the first commit) with
    /// exactly `files` plus submodule entries `gitlinks` (path, URL, commit SHA); commits and
    /// pushes; returns the new commit's SHA.
    pub fn publish_tree(
        &self,
        branch: &str,
        files: &BTreeMap<String, Vec<u8>>,
        gitlinks: &[(&str, &str, &str)],
    ) -> String {
        let w = &self.work;
        let heads = git(
            &self.path,
            &["for-each-ref", "--format=%(refname)", "refs/heads"],
        );
        git(w, &["fetch", "-q", "origin"]);
        if heads.lines().any(|h| h == format!("refs/heads/{branch}")) {
            git(
                w,
                &[
                    "checkout",
                    "-q",
                    "-f",
                    "-B",
                    branch,
                    &format!("origin/{branch}"),
                ],
            );
        } else if heads.lines().any(|h| h == "refs/heads/main") {
            git(w, &["checkout", "-q", "-f", "-B", branch, "origin/main"]);
        } else {
            git(w, &["checkout", "-q", "-f", "--orphan", branch]);
        }
        // Clear the work tree and the index, then write exactly `files`.
        let _ = Command::new("git")
            .args(["rm", "-r", "-q", "--cached", "--ignore-unmatch", "."])
            .current_dir(w)
            .envs(GIT_ENV.iter().copied())
            .output();
        for entry in std::fs::read_dir(w).unwrap().flatten() {
            if entry.file_name() == ".git" {
                continue;
            }
            let p = entry.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
        for (rel, content) in files {
            let p = w.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
        }
        if !gitlinks.is_empty() {
            let mut modules = String::new();
            for (path, url, _) in gitlinks {
                modules.push_str(&format!(
                    "[submodule \"{path}\"]\n\tpath = {path}\n\turl = {url}\n"
                ));
            }
            std::fs::write(w.join(".gitmodules"), modules).unwrap();
        }
        git(w, &["add", "-A"]);
        for (path, _, sha) in gitlinks {
            git(
                w,
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("160000,{sha},{path}"),
                ],
            );
        }
        git(w, &["commit", "-q", "--allow-empty", "-m", "publish"]);
        git(
            w,
            &[
                "push",
                "-q",
                "-f",
                "origin",
                &format!("HEAD:refs/heads/{branch}"),
            ],
        );
        git(w, &["rev-parse", "HEAD"]).trim().to_owned()
    }
}

/// Files from `(path, content)` pairs.
pub fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The smart-HTTP server

fn start_http(root: PathBuf, stats: Arc<HttpStats>) -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding the HTTP server: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("git-http-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime for the git HTTP server");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let (root, stats) = (root.clone(), stats.clone());
                    tokio::spawn(async move {
                        if let Err(e) = serve_connection(sock, &root, &stats).await {
                            eprintln!("git http server: connection error: {e}");
                        }
                    });
                }
            });
        })
        .map_err(|e| e.to_string())?;
    wait_listening(port, "the git HTTP server", None)?;
    Ok(port)
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn serve_connection(
    sock: tokio::net::TcpStream,
    root: &Path,
    stats: &HttpStats,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        let version = parts.next().unwrap_or("HTTP/1.0").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let mut req = Request {
            method,
            target,
            headers,
            body: Vec::new(),
        };
        if req
            .header("Expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        if req
            .header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).await?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                    .map_err(|e| std::io::Error::other(format!("bad chunk size: {e}")))?;
                if size == 0 {
                    loop {
                        let mut t = String::new();
                        if r.read_line(&mut t).await? == 0 || t.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = req.body.len();
                req.body.resize(start + size, 0);
                r.read_exact(&mut req.body[start..]).await?;
                let mut crlf = String::new();
                r.read_line(&mut crlf).await?;
            }
        } else if let Some(n) = req.header("Content-Length").and_then(|v| v.parse().ok()) {
            req.body.resize(n, 0);
            r.read_exact(&mut req.body).await?;
        }
        let close = req
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || version == "HTTP/1.0";
        let (status, headers, body) = handle(&req, root, stats).await;
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        head.push_str(if close {
            "Connection: close\r\n\r\n"
        } else {
            "Connection: keep-alive\r\n\r\n"
        });
        w.write_all(head.as_bytes()).await?;
        w.write_all(&body).await?;
        w.flush().await?;
        if close {
            return Ok(());
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

type Response = (u16, Vec<(String, String)>, Vec<u8>);

async fn handle(req: &Request, root: &Path, stats: &HttpStats) -> Response {
    let (path, query) = req
        .target
        .split_once('?')
        .unwrap_or((req.target.as_str(), ""));
    let (private, rest) = if let Some(rest) = path.strip_prefix("/private") {
        (true, rest)
    } else if let Some(rest) = path.strip_prefix("/public") {
        (false, rest)
    } else {
        return (404, vec![], b"not found\n".to_vec());
    };
    let repo = rest
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    *stats
        .requests
        .lock()
        .unwrap()
        .entry(repo.clone())
        .or_default() += 1;
    if private {
        use base64::Engine as _;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        if req.header("Authorization") != Some(expected.as_str()) {
            *stats.unauthorized.lock().unwrap().entry(repo).or_default() += 1;
            return (
                401,
                vec![("WWW-Authenticate".into(), "Basic realm=\"git\"".into())],
                b"unauthorized\n".to_vec(),
            );
        }
    }
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", rest)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", req.header("Content-Type").unwrap_or(""))
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("REMOTE_USER", if private { USER } else { "" })
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_PROTOCOL", req.header("Git-Protocol").unwrap_or(""))
        .env(
            "HTTP_CONTENT_ENCODING",
            req.header("Content-Encoding").unwrap_or(""),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (500, vec![], format!("git http-backend: {e}\n").into_bytes()),
    };
    let mut stdin = child.stdin.take().expect("piped");
    let body = req.body.clone();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
        drop(stdin);
    });
    let out = match child.wait_with_output().await {
        Ok(o) => o,
        Err(e) => return (500, vec![], format!("git http-backend: {e}\n").into_bytes()),
    };
    let _ = writer.await;
    if !out.stderr.is_empty() {
        let _ = std::io::stderr().write_all(&out.stderr);
    }
    let raw = out.stdout;
    let (head, body) = match find(&raw, b"\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => match find(&raw, b"\n\n") {
            Some(i) => (&raw[..i], &raw[i + 2..]),
            None => (&raw[..0], &raw[..]),
        },
    };
    let mut status = 200;
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(head).lines() {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("status") {
                status = v
                    .trim()
                    .split(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            } else {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
    }
    (status, headers, body.to_vec())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
