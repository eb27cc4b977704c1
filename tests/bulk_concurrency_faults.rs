//! The bulk apply's adaptive concurrency against fake servers that show, on demand, the two
//! behaviours it must tell apart (issue 15): a SQLite-backed Prefect server, which answers a
//! write that meets another one with an immediate `503` and then drops the keep-alive connection
//! under the next request, and a server that takes concurrent writes without slowing down. The
//! real SQLite server's run is in `crates/cli/tests/deploy_bulk.rs`.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{ApplyOptions, BulkOptions, RunnerDeployment, apply_all};

/// How the fake server treats writes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// One write at a time; a write that meets another gets `503` at once, and the connection
    /// it came on is closed under the next request sent over it (never processed).
    Sqlite,
    /// Writes run side by side, each taking the same time.
    Parallel,
}

#[derive(Default)]
struct Fake {
    writing: AtomicBool,
    writes_in_flight: AtomicUsize,
    peak_writes: AtomicUsize,
    answered_503: AtomicUsize,
    dropped: AtomicUsize,
    /// Deployment name → id: `POST /deployments/` upserts by name, as Prefect does.
    deployments: Mutex<HashMap<String, String>>,
}

/// Starts the fake server; returns its API URL and its state.
fn fake_server(kind: Kind, write_time: Duration) -> (String, Arc<Fake>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let fake = Arc::new(Fake::default());
    let state = fake.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let state = state.clone();
            std::thread::spawn(move || serve(stream, kind, write_time, &state));
        }
    });
    (url, fake)
}

/// One request: method, path, body (`None` when the connection closed).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn serve(stream: TcpStream, kind: Kind, write_time: Duration, fake: &Fake) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut answered_503 = false;
    while let Some((method, path, body)) = read_request(&mut reader) {
        if answered_503 {
            // uvicorn closes the connection after a 503: the request that follows on it is
            // never processed.
            fake.dropped.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let write = method != "GET";
        let mut held = false;
        if write {
            if kind == Kind::Sqlite {
                if fake.writing.swap(true, Ordering::SeqCst) {
                    fake.answered_503.fetch_add(1, Ordering::SeqCst);
                    answered_503 = true;
                    let body = r#"{"exception_message":"Service Unavailable"}"#;
                    respond(&mut writer, 503, body);
                    continue;
                }
                held = true;
            }
            let now = fake.writes_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            fake.peak_writes.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(write_time);
            fake.writes_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        let (status, answer) = if method == "GET" && path.starts_with("/api/deployments/name/") {
            (404, r#"{"detail": "Deployment not found"}"#.to_owned())
        } else if method == "POST" && path == "/api/flows/" {
            (
                201,
                r#"{"id": "00000000-0000-0000-0000-0000000000f1"}"#.to_owned(),
            )
        } else if method == "POST" && path == "/api/deployments/" {
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let name = body["name"].as_str().unwrap().to_owned();
            let id = fake
                .deployments
                .lock()
                .unwrap()
                .entry(name)
                .or_insert_with(|| uuid::Uuid::new_v4().to_string())
                .clone();
            (201, format!(r#"{{"id": "{id}"}}"#))
        } else {
            (404, r#"{"detail": "Not Found"}"#.to_owned())
        };
        if held {
            fake.writing.store(false, Ordering::SeqCst);
        }
        respond(&mut writer, status, &answer);
    }
}

/// Writes a JSON answer in one write (several small ones would wait on Nagle's algorithm and
/// the client's delayed acknowledgement).
fn respond(writer: &mut TcpStream, status: u16, body: &str) {
    let answer = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = writer.write_all(answer.as_bytes());
}

fn definitions(n: usize) -> Vec<(RunnerDeployment, ApplyOptions)> {
    (0..n)
        .map(|i| {
            let d = RunnerDeployment::builder(format!("d{i:03}"))
                .flow_name("f")
                .build()
                .unwrap();
            (d, ApplyOptions::default())
        })
        .collect()
}

/// A client with the default retry policy apart from shorter waits (the test's clock).
fn client(url: String) -> PrefectClient {
    let retry = prefab_client::RetryConfig::default().with_backoff(
        prefab_client::BackoffConfig::new(Duration::from_millis(20), Duration::from_secs(1), 2.0),
    );
    PrefectClient::new(ClientConfig::new(url).unwrap().with_retry(retry)).unwrap()
}

/// Applies `n` deployments with `options` to a fresh fake server of `kind`; checks that each
/// was applied once and comes back with the id the server holds for its name.
async fn run(kind: Kind, n: usize, options: BulkOptions) -> (Arc<Fake>, PrefectClient) {
    let (url, fake) = fake_server(kind, Duration::from_millis(15));
    let client = client(url);
    let items = definitions(n);
    let results = apply_all(&client, &items, &options, |_| {}).await;
    let held = fake.deployments.lock().unwrap().clone();
    assert_eq!(held.len(), n, "each deployment is on the server");
    for ((d, _), r) in items.iter().zip(&results) {
        let id = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", d.name))
            .id();
        assert_eq!(held[&d.name], id.to_string(), "{}", d.name);
    }
    (fake, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_concurrency_settles_near_one_on_a_server_that_takes_one_writer() {
    let (fixed, fixed_client) = run(Kind::Sqlite, 60, BulkOptions::default().concurrency(8)).await;
    let (auto, auto_client) = run(Kind::Sqlite, 60, BulkOptions::default()).await;
    let fixed_503 = fixed.answered_503.load(Ordering::SeqCst);
    let auto_503 = auto.answered_503.load(Ordering::SeqCst);
    eprintln!(
        "503s: auto {auto_503} ({:?}), fixed 8 {fixed_503} ({:?})",
        auto_client.stats(),
        fixed_client.stats()
    );
    // The client learns of every busy answer, the dropped connections included.
    let stats = fixed_client.stats();
    assert!(fixed_503 > 0, "a fixed 8 meets the lock");
    assert!(
        stats.server_busy >= (fixed_503 + fixed.dropped.load(Ordering::SeqCst)) as u64 / 2,
        "{stats:?}"
    );
    // The adaptive run probes a few times and pays a few 503s for it, far fewer than a fixed 8.
    assert!(
        auto_503 <= 12 && auto_503 * 3 <= fixed_503.max(3),
        "503s: auto {auto_503}, fixed 8 {fixed_503}"
    );
    assert!(
        auto_client.stats().server_busy <= 24,
        "{:?}",
        auto_client.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_concurrency_grows_on_a_server_that_takes_concurrent_writes() {
    let (fake, client) = run(Kind::Parallel, 80, BulkOptions::default()).await;
    let peak = fake.peak_writes.load(Ordering::SeqCst);
    assert!(peak >= 4, "peak writes in flight: {peak}");
    assert_eq!(client.stats().server_busy, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_concurrency_is_kept() {
    let (fake, _) = run(Kind::Parallel, 24, BulkOptions::default().concurrency(2)).await;
    assert_eq!(fake.peak_writes.load(Ordering::SeqCst), 2);
    let (fake, _) = run(Kind::Parallel, 24, BulkOptions::default().concurrency(1)).await;
    assert_eq!(fake.peak_writes.load(Ordering::SeqCst), 1);
}
