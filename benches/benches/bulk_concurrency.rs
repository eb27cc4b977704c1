//! `apply_all` throughput by concurrency setting against a real Prefect 3.9.1 server: fixed 1,
//! 2, 4, 8 and the adaptive default, on the bulk workload of `tests/support/bulk_deployments.rs`
//! (cron schedule, parameters, tags and one trigger per deployment), each setting on a fresh
//! name prefix. A measurement, not a test: it prints a markdown table.
//!
//! `cargo bench -p prefab-benches --bench bulk_concurrency`. It starts its own SQLite-backed
//! server on a fresh database, unless `PREFAB_BULK_API_URL` names a running one (e.g. a
//! PostgreSQL-backed server). `PREFAB_BULK_N` (default 300) deployments per setting,
//! `PREFAB_BULK_ROUNDS` (default 1) rounds, each round in a rotated order of settings.

#[allow(dead_code)]
#[path = "../../tests/support/bulk_deployments.rs"]
mod bulk_deployments;

use std::time::Instant;

use prefab_client::local_server::{ServerOptions, prefab_cache_dir};
use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{BulkOptions, Concurrency, DeploymentFile, apply_all};

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes bench targets
    }
    let n = env_usize("PREFAB_BULK_N", 300);
    let rounds = env_usize("PREFAB_BULK_ROUNDS", 1);
    let (url, server) = match std::env::var("PREFAB_BULK_API_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let state = prefab_cache_dir()
                .expect("cache dir")
                .join("servers")
                .join("bulk-concurrency-bench");
            let _ = std::fs::remove_dir_all(&state);
            let server = ServerOptions::new()
                .state_dir(&state)
                .on_progress(|line| eprintln!("prefect server: {line}"))
                .start()
                .unwrap_or_else(|e| panic!("cannot provision the Prefect server: {e}"));
            (server.api_url().to_owned(), Some(server))
        }
    };
    let settings = [
        Concurrency::Fixed(1),
        Concurrency::Fixed(2),
        Concurrency::Fixed(4),
        Concurrency::Fixed(8),
        Concurrency::Auto,
    ];
    eprintln!("bulk_concurrency: {n} deployments per setting, {rounds} round(s), against {url}");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    for round in 0..rounds {
        for k in 0..settings.len() {
            let concurrency = settings[(k + round) % settings.len()];
            let prefix = format!(
                "bc-{concurrency}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            bulk_deployments::write(dir.path(), &prefix, n).expect("workload");
            let items: Vec<_> = bulk_deployments::definitions(&prefix, n)
                .as_array()
                .expect("list")
                .iter()
                .map(|v| {
                    let f = DeploymentFile::from_json(v).expect("definition");
                    let options = f.apply_options().inference_dir(dir.path());
                    (f.build(dir.path()).expect("build"), options)
                })
                .collect();
            let client =
                PrefectClient::new(ClientConfig::new(url.clone()).expect("url")).expect("client");
            let options = BulkOptions::default().concurrency_mode(concurrency);
            let started = Instant::now();
            let results = apply_all(&client, &items, &options, |_| {}).await;
            let wall = started.elapsed().as_secs_f64();
            let failed = results.iter().filter(|r| r.is_err()).count();
            let stats = client.stats();
            let row = format!(
                "| {round} | {concurrency} | {n} | {wall:.1} s | {:.1} | {} | {} | {failed} |",
                n as f64 / wall,
                stats.retried_503,
                stats.server_busy,
            );
            eprintln!("{row}");
            rows.push(row);
        }
    }
    if let Some(server) = server {
        let _ = server.stop();
    }
    println!(
        "| round | concurrency | deployments | wall | deployments/s | 503s retried | busy answers | failed |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
}
