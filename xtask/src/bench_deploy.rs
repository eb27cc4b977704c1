//! `cargo xtask bench-compare --deploy`: the `prefab` binary (release build) against Prefect
//! 3.9.1's own Python on the same inputs, in the same run (issue 5 §8):
//!
//! - a cold `prefab inspect` of the six-parameter flow file `benches/fixtures/six_params.py`
//!   against a fresh Python process running `RunnerDeployment.from_entrypoint` on it;
//! - applying 200 deployments (`tests/support/bulk_deployments.rs`: cron schedule, parameters,
//!   tags, one event trigger each), then re-applying them (the update path): `prefab deploy
//!   --file` against a Python loop of `RunnerDeployment.apply()`.
//!
//! Each side applies to its own server started from a copy of the same freshly migrated
//! database, through a counting HTTP proxy (requests per endpoint, connections). Wall time and
//! peak RSS are the child process's own: this binary re-runs itself as `measure-child`, which
//! spawns the command, waits for it and reads `getrusage(RUSAGE_CHILDREN)`.

#[allow(dead_code)]
#[path = "../../tests/support/bulk_deployments.rs"]
pub(crate) mod bulk_deployments;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prefab_client::local_server::{LocalServer, ServerOptions};
use serde_json::{Value, json};

use crate::{target_dir, venv, workspace_root};

/// How many deployments the bulk runs apply.
const BULK: usize = 200;
/// The runs of the bulk comparison: prefab as users run it (one at a time, a read by name per
/// deployment), prefab with `--pre-read`, prefab applying four at a time, prefab with
/// `--skip-unchanged` (whose update pass finds nothing changed), and Prefect's Python loop.
const SIDES: [&str; 5] = ["prefab", PRE_READ, PARALLEL, SKIP, "prefect"];
/// The side label of `prefab deploy --skip-unchanged`.
const SKIP: &str = "prefab-skip-unchanged";
/// The side label of `prefab deploy --concurrency 4`.
const PARALLEL: &str = "prefab-concurrency-4";
/// The side label of `prefab deploy --pre-read`.
const PRE_READ: &str = "prefab-pre-read";
/// The targets.
const INSPECT_SPEEDUP_TARGET: f64 = 100.0;
const INSPECT_RSS_TARGET_MIB: f64 = 10.0;
const BULK_WALL_TARGET_S: f64 = 15.0;
const BULK_SPEEDUP_TARGET: f64 = 2.0;
const BULK_RSS_FRACTION_TARGET: f64 = 5.0;

/// What `measure-child` reports about one process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) wall: Duration,
    pub(crate) max_rss_kib: u64,
    /// User + system CPU of the process (and anything it waited for).
    pub(crate) cpu: Duration,
}

impl Measured {
    pub(crate) fn mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }
}

/// `cargo xtask measure-child --report FILE -- CMD ARGS…`: runs CMD with this process's stdio,
/// then writes `{"wall_s", "max_rss_kib", "cpu_s", "code"}` to FILE and exits with CMD's code.
/// The peak RSS is `ru_maxrss` of `getrusage(RUSAGE_CHILDREN)`, which here covers CMD (and
/// anything it waited for) and nothing else; `cpu_s` is that usage's user + system time.
pub(crate) fn measure_child(report: &Path, command: &[OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("xtask measure-child: no command");
        return ExitCode::FAILURE;
    };
    let started = Instant::now();
    let status = match Command::new(program).args(args).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xtask measure-child: {}: {e}", program.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let wall = started.elapsed();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).ok();
    let max_rss_kib = usage.map_or(0, |u| u64::try_from(u.max_rss()).unwrap_or(0));
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let cpu_s = usage.map_or(0.0, |u| seconds(u.user_time()) + seconds(u.system_time()));
    let code = status.code().unwrap_or(-1);
    let text = json!({
        "wall_s": wall.as_secs_f64(),
        "max_rss_kib": max_rss_kib,
        "cpu_s": cpu_s,
        "code": code,
    });
    if let Err(e) = fs::write(report, text.to_string()) {
        eprintln!("xtask measure-child: {}: {e}", report.display());
        return ExitCode::FAILURE;
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs `cmd` under `measure-child`; returns its output and measurement. Fails on an exit code
/// other than 0 or `also_ok`, with the output.
pub(crate) fn run_measured(
    cmd: &Command,
    what: &str,
    also_ok: Option<i32>,
) -> Result<(std::process::Output, Measured), String> {
    let report = tempfile_path("measure")?;
    let exe = std::env::current_exe().map_err(|e| format!("this executable: {e}"))?;
    let mut wrapper = Command::new(exe);
    wrapper
        .arg("measure-child")
        .arg("--report")
        .arg(&report)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapper.env(key, v),
            None => wrapper.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapper.current_dir(dir);
    }
    let output = wrapper
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    let text = fs::read_to_string(&report).map_err(|e| format!("{what}: no report: {e}"))?;
    let _ = fs::remove_file(&report);
    if !output.status.success() && output.status.code() != also_ok {
        return Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            tail(&String::from_utf8_lossy(&output.stdout)),
            tail(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{what}: report: {e}"))?;
    Ok((
        output,
        Measured {
            wall: Duration::from_secs_f64(v["wall_s"].as_f64().unwrap_or(0.0)),
            max_rss_kib: v["max_rss_kib"].as_u64().unwrap_or(0),
            cpu: Duration::from_secs_f64(v["cpu_s"].as_f64().unwrap_or(0.0)),
        },
    ))
}

pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(30);
    lines[from..].iter().map(|l| format!("{l}\n")).collect()
}

fn tempfile_path(stem: &str) -> Result<PathBuf, String> {
    let dir = target_dir().join("bench-deploy");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    static N: AtomicU64 = AtomicU64::new(0);
    Ok(dir.join(format!(
        "{stem}-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )))
}

/// A command without the caller's `PREFECT_*` variables (a developer's profile or API URL must
/// not steer either side).
pub(crate) fn clean_command(program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PREFECT_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(cwd);
    cmd
}

/// Pids of running `prefect server start` processes (Linux `/proc`; empty elsewhere).
pub(crate) fn other_prefect_servers() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                args.windows(2)
                    .any(|w| w[0] == b"server" && w[1] == b"start")
                    && args.iter().any(|a| a.ends_with(b"prefect"))
            })
        })
        .collect()
}

fn median(mut v: Vec<Measured>) -> Measured {
    v.sort_by_key(|m| m.wall);
    let (wall, cpu) = (v[v.len() / 2].wall, v[v.len() / 2].cpu);
    let mut rss: Vec<u64> = v.iter().map(|m| m.max_rss_kib).collect();
    rss.sort_unstable();
    Measured {
        wall,
        max_rss_kib: rss[rss.len() / 2],
        cpu,
    }
}

// ---------------------------------------------------------------------------------------------
// The counting proxy.

/// Requests seen by the proxy: `METHOD /path/template` → count, and connections opened.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    requests: Mutex<BTreeMap<String, u64>>,
    /// Per endpoint: the summed time from forwarding a request to the end of its response.
    latency: Mutex<BTreeMap<String, Duration>>,
    connections: AtomicU64,
}

impl Counts {
    /// Takes the counts so far and resets them: (per endpoint, latency per endpoint,
    /// connections).
    pub(crate) fn take(&self) -> (BTreeMap<String, u64>, BTreeMap<String, Duration>, u64) {
        let requests = std::mem::take(&mut *self.requests.lock().expect("counts lock"));
        let latency = std::mem::take(&mut *self.latency.lock().expect("latency lock"));
        (
            requests,
            latency,
            self.connections.swap(0, Ordering::Relaxed),
        )
    }
}

/// Requests forwarded on one connection and not answered yet, oldest first.
type InFlight = Arc<Mutex<std::collections::VecDeque<(String, Instant)>>>;

/// One HTTP/1.1 message head: the first line, the body's length (`None`: chunked) and the
/// raw bytes.
type Head = (String, Option<usize>, Vec<u8>);

/// Reads one message head; `Ok(None)` at the end of the stream.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut first = String::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        raw.extend_from_slice(line.as_bytes());
        if first.is_empty() {
            first = line.trim_end().to_owned();
            continue;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    Ok(Some((first, (!chunked).then_some(length), raw)))
}

/// Forwards a message body of `length` bytes (`None`: chunked) from `reader` to `out`.
fn forward_body(
    reader: &mut impl BufRead,
    out: &mut impl io::Write,
    length: Option<usize>,
) -> io::Result<()> {
    match length {
        Some(0) => Ok(()),
        Some(n) => {
            let mut body = vec![0; n];
            reader.read_exact(&mut body)?;
            out.write_all(&body)
        }
        None => loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            out.write_all(size_line.as_bytes())?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut data = vec![0; size + 2];
            reader.read_exact(&mut data)?;
            out.write_all(&data)?;
            if size == 0 {
                return Ok(());
            }
        },
    }
}

/// A plain HTTP/1.1 proxy on 127.0.0.1 in front of `upstream` that counts the requests it
/// forwards (one thread per direction per connection; responses are copied untouched).
pub(crate) struct CountingProxy {
    pub(crate) url: String,
    pub(crate) counts: Arc<Counts>,
}

impl CountingProxy {
    pub(crate) fn start(upstream: SocketAddr) -> Result<CountingProxy, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("proxy listener: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("proxy address: {e}"))?
            .port();
        let counts = Arc::new(Counts::default());
        let shared = Arc::clone(&counts);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let counts = Arc::clone(&shared);
                std::thread::spawn(move || {
                    if let Err(e) = relay(client, upstream, &counts) {
                        eprintln!("xtask: proxy connection: {e}");
                    }
                });
            }
        });
        Ok(CountingProxy {
            url: format!("http://127.0.0.1:{port}/api"),
            counts,
        })
    }
}

fn relay(client: TcpStream, upstream: SocketAddr, counts: &Arc<Counts>) -> io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let in_flight: InFlight = Arc::default();
    let mut to_client = client.try_clone()?;
    let from_server = server.try_clone()?;
    let (answered, latency_counts) = (Arc::clone(&in_flight), Arc::clone(counts));
    let back = std::thread::spawn(move || {
        let mut reader = BufReader::new(from_server);
        while let Ok(Some((status_line, length, head))) = read_head(&mut reader) {
            // No body for 204 and 304; a response with neither length nor chunking (not sent
            // by Prefect's server) would run to the end of the stream.
            let status = status_line.split_whitespace().nth(1).unwrap_or("");
            let length = if status == "204" || status == "304" {
                Some(0)
            } else {
                length
            };
            if to_client.write_all(&head).is_err()
                || forward_body(&mut reader, &mut to_client, length).is_err()
            {
                break;
            }
            if let Some((endpoint, sent)) = answered.lock().expect("in-flight lock").pop_front() {
                *latency_counts
                    .latency
                    .lock()
                    .expect("latency lock")
                    .entry(endpoint)
                    .or_default() += sent.elapsed();
            }
        }
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    let mut reader = BufReader::new(client);
    let mut to_server = server;
    while let Some((request_line, length, head)) = read_head(&mut reader)? {
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("?").to_owned();
        let endpoint = format!("{method} {}", template(parts.next().unwrap_or("?")));
        *counts
            .requests
            .lock()
            .expect("counts lock")
            .entry(endpoint.clone())
            .or_default() += 1;
        in_flight
            .lock()
            .expect("in-flight lock")
            .push_back((endpoint, Instant::now()));
        to_server.write_all(&head)?;
        forward_body(&mut reader, &mut to_server, length)?;
    }
    let _ = to_server.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
    Ok(())
}

/// `/api/deployments/name/ingest-orders/x-001?y` → `/deployments/name/{flow}/{name}`; UUIDs
/// become `{id}`, resources after `owned-by`/`related-to` become `{resource}`.
fn template(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let path = path.strip_prefix("/api").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let s = segments[i];
        if s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4 {
            out.push("{id}".to_owned());
        } else if s == "owned-by" || s == "related-to" {
            out.push(s.to_owned());
            out.push("{resource}".to_owned());
            i += 1;
        } else if s == "name" && i + 2 < segments.len() && segments[1] == "deployments" {
            out.extend(["name".to_owned(), "{flow}".to_owned(), "{name}".to_owned()]);
            i += 2;
        } else {
            out.push(s.to_owned());
        }
        i += 1;
    }
    out.join("/")
}

// ---------------------------------------------------------------------------------------------
// Servers.

/// Where the benchmark's servers live.
pub(crate) fn servers_root() -> PathBuf {
    target_dir().join("bench-deploy").join("servers")
}

pub(crate) fn options(dir: &Path) -> ServerOptions {
    ServerOptions::new()
        .state_dir(dir)
        // A safety net if this process dies: the server stops itself 2 min after.
        .stop_when_unused(Duration::from_secs(120))
        .on_progress(|line| eprintln!("xtask: server: {line}"))
}

/// Migrates a fresh database once (`servers/template`) and stops that server; each side then
/// starts from a copy of it.
pub(crate) fn template_database() -> Result<PathBuf, String> {
    let dir = servers_root().join("template");
    LocalServer::stop_in(&dir, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&dir);
    eprintln!("xtask: migrating a fresh Prefect database…");
    let server = options(&dir).start().map_err(|e| e.to_string())?;
    server.stop().map_err(|e| e.to_string())?;
    Ok(dir.join("home"))
}

/// A server on a copy of the template database, for one side.
pub(crate) fn fresh_server(side: &str, template_home: &Path) -> Result<LocalServer, String> {
    let dir = servers_root().join(side);
    LocalServer::stop_in(&dir, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&dir);
    copy_dir(template_home, &dir.join("home")).map_err(|e| format!("copying the database: {e}"))?;
    options(&dir).start().map_err(|e| e.to_string())
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

pub(crate) fn upstream_addr(server: &LocalServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// CPU seconds (user + system) used so far by a process and its descendants, those that
/// exited and were waited for included (PostgreSQL's backends come and go under the
/// postmaster; without them a delta can even come out negative).
pub(crate) fn server_cpu_seconds(pid: u32) -> f64 {
    fn ticks(pid: u32) -> u64 {
        let own = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // After the command name: state, ppid, …, utime (index 11), stime (12), cutime
                // (13), cstime (14); the last two are the waited-for children's.
                let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
                let sum = fields.get(11..15)?.iter().map(|f| f.parse::<u64>().ok());
                sum.sum::<Option<u64>>()
            })
            .unwrap_or(0);
        let children: u64 = fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
            .flat_map(|list| {
                list.split_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .collect::<Vec<u32>>()
            })
            .map(ticks)
            .sum();
        own + children
    }
    let per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    ticks(pid) as f64 / per_second
}

/// The failure count of `prefab deploy`'s summary line, `N applied, [U unchanged, ]M failed`.
pub(crate) fn prefab_failures(stdout: &str) -> Result<usize, String> {
    stdout
        .lines()
        .rev()
        .find_map(|l| {
            let (_, rest) = l.split_once(" applied, ")?;
            let (before, _) = rest.split_once(" failed")?;
            before.rsplit(' ').next()?.parse::<usize>().ok()
        })
        .ok_or_else(|| format!("no summary line from prefab deploy:\n{}", tail(stdout)))
}

/// How many deployments whose names start with `prefix` the server holds.
fn count_on_server(server: &LocalServer, prefix: &str) -> Result<u64, String> {
    let client = prefab_client::blocking::PrefectClient::new(
        prefab_client::ClientConfig::new(server.api_url()).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let request: prefab_client::api::DeploymentCountRequest = serde_json::from_value(json!({
        "deployments": {"name": {"like_": prefix}}
    }))
    .map_err(|e| e.to_string())?;
    client
        .count_deployments(&request)
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The comparison.

/// One bulk run (create or update) of one side.
struct BulkRun {
    measured: Measured,
    /// Seconds of the apply loop alone (Python; prefab's is the whole process).
    loop_s: Option<f64>,
    failures: usize,
    requests: BTreeMap<String, u64>,
    /// Summed request-to-response time per endpoint.
    latency: BTreeMap<String, Duration>,
    connections: u64,
    on_server: u64,
    /// CPU seconds the server spent during the run.
    server_cpu_s: f64,
}

impl BulkRun {
    fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// Refuses to measure while other Prefect servers run (unless `PREFAB_BENCH_ALLOW_OTHERS`).
pub(crate) fn refuse_other_servers() -> Result<(), String> {
    let others = other_prefect_servers();
    if !others.is_empty() && std::env::var_os("PREFAB_BENCH_ALLOW_OTHERS").is_none() {
        return Err(format!(
            "other Prefect servers are running (pids {others:?}: e.g. a test suite's shared \
             server, whose scheduler wakes every few seconds); they take CPU from the measured \
             server. Stop them (`prefab server stop`, or kill the pids) or set \
             PREFAB_BENCH_ALLOW_OTHERS=1"
        ));
    }
    Ok(())
}

/// Builds the `prefab` binary (release) and returns its path.
pub(crate) fn build_prefab_release() -> Result<PathBuf, String> {
    eprintln!("xtask: building the prefab binary (release)…");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--release", "-p", "prefab-cli"])
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release -p prefab-cli: {status}"));
    }
    Ok(target_dir().join("release").join("prefab"))
}

/// The date (UTC), the number of cores and the load average now, for a results header.
pub(crate) fn machine_note() -> (String, usize, String) {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    (date, cores, load)
}

pub(crate) fn run(write_docs: bool) -> Result<(), String> {
    let runs: usize = std::env::var("PREFAB_DEPLOY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    refuse_other_servers()?;
    let prefab = build_prefab_release()?;
    let venv = venv::prefect()?;
    let python = venv.python();
    let scripts = workspace_root().join("benches/python");

    // The workload directory: the flow file and the deployment files, entrypoints relative.
    let work = target_dir().join("bench-deploy").join("work");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let py_home = work.join("prefect-home");
    fs::create_dir_all(&py_home).map_err(|e| format!("{}: {e}", py_home.display()))?;
    bulk_deployments::write(&work, "bulk", BULK).map_err(|e| format!("workload: {e}"))?;

    // 1. Cold load of the six-parameter flow.
    eprintln!("xtask: cold flow load, {runs} runs per side…");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut schemas = (Value::Null, Value::Null);
    for _ in 0..runs {
        let mut cmd = clean_command(&prefab, &work);
        cmd.args(["inspect", bulk_deployments::ENTRYPOINT, "--output", "json"]);
        let (out, m) = run_measured(&cmd, "prefab inspect", None)?;
        schemas.0 = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("prefab inspect printed no JSON: {e}"))?;
        ours.push(m);
        let mut cmd = clean_command(&python, &work);
        cmd.arg(scripts.join("prefect_from_entrypoint.py"))
            .arg(bulk_deployments::ENTRYPOINT)
            .env("PREFECT_HOME", &py_home);
        let (out, m) = run_measured(&cmd, "RunnerDeployment.from_entrypoint", None)?;
        schemas.1 = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("from_entrypoint printed no JSON: {e}"))?;
        theirs.push(m);
    }
    let same_schema = schemas.0["parameter_openapi_schema"]
        == schemas.1["parameter_openapi_schema"]
        && schemas.0["flow_name"] == schemas.1["flow_name"];
    if !same_schema {
        return Err(format!(
            "the two sides disagree on the flow:\nprefab: {}\nPrefect: {}",
            schemas.0, schemas.1
        ));
    }
    let inspect = (median(ours), median(theirs));

    // 2. Bulk apply, each side on its own copy of the same fresh database.
    let template_home = template_database()?;
    let mut bulk: BTreeMap<&str, Vec<BulkRun>> = BTreeMap::new();
    for side in SIDES {
        let server = fresh_server(side, &template_home)?;
        let proxy = CountingProxy::start(upstream_addr(&server))?;
        let mut side_runs = Vec::new();
        for pass in ["create", "update"] {
            eprintln!("xtask: {side}: applying {BULK} deployments ({pass})…");
            let mut cmd;
            if side.starts_with("prefab") {
                cmd = clean_command(&prefab, &work);
                cmd.args(["deploy", "--file", bulk_deployments::DEPLOYMENT_FILE]);
                if side == PARALLEL {
                    cmd.args(["--concurrency", "4"]);
                }
                if side == PRE_READ {
                    cmd.arg("--pre-read");
                }
                if side == SKIP {
                    cmd.arg("--skip-unchanged");
                }
            } else {
                cmd = clean_command(&python, &work);
                cmd.arg(scripts.join("prefect_apply_bulk.py"))
                    .arg(bulk_deployments::DEPLOYMENT_FILE)
                    .env("PREFECT_HOME", &py_home);
            }
            cmd.env("PREFECT_API_URL", &proxy.url);
            let cpu_before = server_cpu_seconds(server.pid());
            // `prefab deploy` exits 1 when some deployments failed: reported, not fatal.
            let result = run_measured(&cmd, &format!("{side} {pass}"), Some(1));
            let server_cpu_s = server_cpu_seconds(server.pid()) - cpu_before;
            let (requests, latency, connections) = proxy.counts.take();
            let (out, measured) = result?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let (loop_s, failures) = if side.starts_with("prefab") {
                // The summary line: `N applied, [U unchanged, ]M failed`; the failures are
                // listed above it.
                for line in stdout.lines().filter(|l| l.starts_with("FAILED")) {
                    eprintln!("xtask: {side}: {line}");
                }
                (None, prefab_failures(&stdout)?)
            } else {
                let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
                    .map_err(|e| format!("prefect_apply_bulk.py printed no JSON: {e}"))?;
                let failures = v["failures"].as_array().map_or(usize::MAX, Vec::len);
                if failures > 0 {
                    eprintln!("xtask: Prefect failures: {}", v["failures"]);
                }
                (v["apply_s"].as_f64(), failures)
            };
            let on_server = count_on_server(&server, "bulk-")?;
            side_runs.push(BulkRun {
                measured,
                loop_s,
                failures,
                requests,
                latency,
                connections,
                on_server,
                server_cpu_s,
            });
        }
        server.stop().map_err(|e| e.to_string())?;
        bulk.insert(side, side_runs);
    }

    let text = render(runs, &inspect, &bulk);
    println!("{text}");
    if write_docs {
        crate::bench_compare::replace_section("deploy", &text)?;
    }
    Ok(())
}

fn render(
    runs: usize,
    inspect: &(Measured, Measured),
    bulk: &BTreeMap<&str, Vec<BulkRun>>,
) -> String {
    let mut out = String::new();
    let (date, cores, load) = machine_note();
    let _ = writeln!(
        out,
        "Measured {date}, {cores} cores (load average {load} at the end), prefab release build, \
         Prefect 3.9.1 in its pinned venv; cold flow load: median of {runs} fresh processes per \
         side; bulk: one run per side, each on its own copy of the same freshly migrated SQLite \
         database, through a counting proxy.\n"
    );
    let _ = writeln!(
        out,
        "| measure | Prefect 3.9.1 (Python) | prefab | Prefect ÷ prefab | target |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    let (ours, theirs) = inspect;
    let speedup = theirs.wall.as_secs_f64() / ours.wall.as_secs_f64();
    let _ = writeln!(
        out,
        "| cold flow load, six parameters: wall | {} | {} | {speedup:.0}× | ≥ {INSPECT_SPEEDUP_TARGET:.0}× ({}) |",
        secs(theirs.wall.as_secs_f64()),
        secs(ours.wall.as_secs_f64()),
        met(speedup >= INSPECT_SPEEDUP_TARGET)
    );
    let _ = writeln!(
        out,
        "| cold flow load: peak RSS | {:.1} MiB | {:.1} MiB | {:.1}× | ≤ {INSPECT_RSS_TARGET_MIB:.0} MiB ({}) |",
        theirs.mib(),
        ours.mib(),
        theirs.mib() / ours.mib(),
        met(ours.mib() <= INSPECT_RSS_TARGET_MIB)
    );
    for (i, pass) in ["apply 200 (create)", "re-apply 200 (update)"]
        .into_iter()
        .enumerate()
    {
        let (Some(p), Some(f)) = (bulk["prefab"].get(i), bulk["prefect"].get(i)) else {
            continue;
        };
        let ours = p.measured.wall.as_secs_f64();
        let theirs_loop = f.loop_s.unwrap_or(f.measured.wall.as_secs_f64());
        let theirs_wall = f.measured.wall.as_secs_f64();
        let speedup = theirs_loop / ours;
        let _ = writeln!(
            out,
            "| {pass}: wall | {} (apply loop; process {}) | {} (process) | {speedup:.1}× | ≤ {BULK_WALL_TARGET_S:.0} s ({}), ≥ {BULK_SPEEDUP_TARGET:.0}× ({}) |",
            secs(theirs_loop),
            secs(theirs_wall),
            secs(ours),
            met(ours <= BULK_WALL_TARGET_S),
            met(speedup >= BULK_SPEEDUP_TARGET)
        );
        let per = |r: &BulkRun| r.total_requests() as f64 / BULK as f64;
        let _ = writeln!(
            out,
            "| {pass}: requests per deployment (connections) | {:.2} ({}) | {:.2} ({}) | {:.1}× | — |",
            per(f),
            f.connections,
            per(p),
            p.connections,
            per(f) / per(p)
        );
        let _ = writeln!(
            out,
            "| {pass}: peak RSS | {:.1} MiB | {:.1} MiB | {:.1}× | ≤ 1/{BULK_RSS_FRACTION_TARGET:.0} ({}) |",
            f.measured.mib(),
            p.measured.mib(),
            f.measured.mib() / p.measured.mib(),
            met(p.measured.mib() * BULK_RSS_FRACTION_TARGET <= f.measured.mib())
        );
        let _ = writeln!(
            out,
            "| {pass}: server CPU during the run | {} | {} | {:.1}× | — |",
            secs(f.server_cpu_s),
            secs(p.server_cpu_s),
            f.server_cpu_s / p.server_cpu_s
        );
        let _ = writeln!(
            out,
            "| {pass}: failures / on the server | {} / {} | {} / {} | — | 0 / {BULK} ({}) |",
            f.failures,
            f.on_server,
            p.failures,
            p.on_server,
            met(p.failures == 0 && f.failures == 0 && p.on_server == BULK as u64)
        );
    }
    // The opt-in way to re-apply: not Prefect's update path, so not held to its target.
    if let (Some(k), Some(f)) = (
        bulk.get(SKIP).and_then(|runs| runs.get(1)),
        bulk["prefect"].get(1),
    ) {
        let ours = k.measured.wall.as_secs_f64();
        let theirs_loop = f.loop_s.unwrap_or(f.measured.wall.as_secs_f64());
        let _ = writeln!(
            out,
            "| re-apply 200, nothing changed, `--skip-unchanged` (opt-in, D25): wall | {} (apply loop, update path) | {} (process; {:.2} requests per deployment, {} writes, server CPU {}) | {:.1}× | — (not Prefect's update path) |",
            secs(theirs_loop),
            secs(ours),
            k.total_requests() as f64 / BULK as f64,
            k.requests
                .iter()
                .filter(|(e, _)| !e.starts_with("GET "))
                .map(|(_, n)| n)
                .sum::<u64>(),
            secs(k.server_cpu_s),
            theirs_loop / ours
        );
    }
    let _ = writeln!(
        out,
        "\nprefab's own variants on the same workload (`prefab deploy --file`: the default — one \
         at a time, a read by name per deployment as Prefect — against `--pre-read`, one \
         `POST /deployments/filter` per flow instead, `--concurrency 4`, and `--skip-unchanged` \
         (opt-in, D25: each deployment planned first; its update pass finds nothing changed and \
         writes nothing)), each on its own fresh copy of the database:\n"
    );
    let _ = writeln!(
        out,
        "| pass | variant | wall | server CPU | requests per deployment | connections | failures |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for (i, pass) in ["create", "update"].into_iter().enumerate() {
        for (side, concurrency) in [
            ("prefab", "default"),
            (PRE_READ, "`--pre-read`"),
            (PARALLEL, "`--concurrency 4`"),
            (SKIP, "`--skip-unchanged`"),
        ] {
            let Some(r) = bulk.get(side).and_then(|runs| runs.get(i)) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {pass} | {concurrency} | {} | {} | {:.2} | {} | {} |",
                secs(r.measured.wall.as_secs_f64()),
                secs(r.server_cpu_s),
                r.total_requests() as f64 / BULK as f64,
                r.connections,
                r.failures
            );
        }
    }
    let _ = writeln!(
        out,
        "\nRequests by endpoint: per deployment, and the mean time from the proxy forwarding \
         a request to the end of its response (both sides one request at a time, so the \
         time is the server's and not a queue's; the last column counts `--concurrency 4`'s \
         requests, retries after 503s included):\n"
    );
    let _ = writeln!(
        out,
        "| pass | endpoint | Prefect 3.9.1 | prefab | prefab `--pre-read` | prefab `--concurrency 4` |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
    for (i, pass) in ["create", "update"].into_iter().enumerate() {
        let (Some(p), Some(f)) = (bulk["prefab"].get(i), bulk["prefect"].get(i)) else {
            continue;
        };
        let parallel = bulk.get(PARALLEL).and_then(|runs| runs.get(i));
        let pre_read_run = bulk.get(PRE_READ).and_then(|runs| runs.get(i));
        let mut endpoints: Vec<&String> = p
            .requests
            .keys()
            .chain(f.requests.keys())
            .chain(pre_read_run.into_iter().flat_map(|r| r.requests.keys()))
            .collect();
        endpoints.sort();
        endpoints.dedup();
        for e in endpoints {
            let cell = |r: &BulkRun, with_time: bool| {
                let n = r.requests.get(e).copied().unwrap_or(0);
                let per = n as f64 / BULK as f64;
                match r.latency.get(e) {
                    Some(t) if with_time && n > 0 => {
                        format!("{per:.2} × {:.1} ms", t.as_secs_f64() * 1e3 / n as f64)
                    }
                    _ => format!("{per:.2}"),
                }
            };
            let _ = writeln!(
                out,
                "| {pass} | `{e}` | {} | {} | {} | {} |",
                cell(f, true),
                cell(p, true),
                pre_read_run.map_or_else(|| "—".to_owned(), |s| cell(s, true)),
                parallel.map_or_else(|| "—".to_owned(), |s| cell(s, false))
            );
        }
    }
    out
}

pub(crate) fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

pub(crate) fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn request_paths_become_templates() {
        assert_eq!(
            template("/api/deployments/name/ingest-orders/bulk-001"),
            "/deployments/name/{flow}/{name}"
        );
        assert_eq!(
            template("/api/deployments/0b1c7f5e-8d53-4c1b-9a51-0c3c7a3f2d10?x=1"),
            "/deployments/{id}"
        );
        assert_eq!(
            template(
                "/api/automations/owned-by/prefect.deployment.0b1c7f5e-8d53-4c1b-9a51-0c3c7a3f2d10"
            ),
            "/automations/owned-by/{resource}"
        );
        assert_eq!(template("/api/flows/"), "/flows/");
    }
}
