//! Deployment-create throughput against a real Prefect 3.9.1 server (SQLite), provisioned here:
//! 500 creates at concurrency 1, 4 and 8 — deployments per second, 503s retried, requests lost.
//!
//! `cargo bench -p prefab-benches --bench throughput` (or `cargo xtask bench-compare
//! --throughput`). Prints a markdown table. `PREFAB_THROUGHPUT_N` changes the 500.

use std::time::Instant;

use futures::StreamExt as _;
use prefab_client::api::{
    DeploymentCountRequest, DeploymentCreate, DeploymentFilter, DeploymentFilterName, FlowCreate,
};
use prefab_client::local_server::{ServerOptions, prefab_cache_dir};
use prefab_client::{ClientConfig, PrefectClient};
use prefab_schemas::schedules::{CronSchedule, DeploymentScheduleCreate};
use serde_json::json;

fn deployment(name: String, flow_id: uuid::Uuid) -> DeploymentCreate {
    // The payload of spec prefect-api.md §11: a cron schedule with a slug, parameters and their
    // schema, tags, version, entrypoint.
    let mut d = DeploymentCreate::new(name, flow_id);
    let cron = CronSchedule::new("0 9 * * *")
        .and_then(|c| c.with_timezone("UTC"))
        .expect("valid cron");
    let mut schedule = DeploymentScheduleCreate::new(cron);
    schedule.slug = Some("daily".into());
    d.schedules = Some(vec![schedule]);
    d.parameters = Some(serde_json::from_value(json!({"x": 1, "name": "bob"})).expect("object"));
    d.parameter_openapi_schema = Some(Some(
        serde_json::from_value(json!({"title": "Parameters", "type": "object", "properties": {
            "x": {"title": "x", "type": "integer", "position": 0},
            "name": {"title": "name", "type": "string", "default": "world", "position": 1}}, "required": ["x"]}))
        .expect("object"),
    ));
    d.tags = Some(vec!["bench".into()]);
    d.version = Some(Some("v1".into()));
    d.entrypoint = Some(Some("flows.py:my_flow".into()));
    d
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes bench targets
    }
    let n: usize = std::env::var("PREFAB_THROUGHPUT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let state = prefab_cache_dir()
        .expect("cache dir")
        .join("servers")
        .join("throughput-bench");
    let _ = std::fs::remove_dir_all(&state); // a fresh database: no earlier rows to slow SQLite down
    let server = ServerOptions::new()
        .state_dir(&state)
        .on_progress(|line| eprintln!("prefect server: {line}"))
        .start()
        .unwrap_or_else(|e| panic!("cannot provision the Prefect server: {e}"));
    let url = server.api_url().to_owned();
    eprintln!("throughput: {n} deployment creates per row against {url}");
    let mut rows = Vec::new();
    for concurrency in [1usize, 4, 8] {
        let client =
            PrefectClient::new(ClientConfig::new(url.clone()).expect("url")).expect("client");
        let prefix = format!("tp-c{concurrency}-{}", uuid::Uuid::new_v4().simple());
        let flow_id = client
            .create_flow(&FlowCreate::new(prefix.clone()))
            .await
            .expect("flow")
            .value
            .id;
        let before = client.stats();
        let started = Instant::now();
        let results: Vec<bool> = futures::stream::iter(0..n)
            .map(|i| {
                let client = client.clone();
                let d = deployment(format!("{prefix}-{i:04}"), flow_id);
                async move { client.create_deployment(&d).await.is_ok() }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        let stats = client.stats();
        let failed = results.iter().filter(|ok| !**ok).count();
        let mut count = DeploymentCountRequest::default();
        let mut filter = DeploymentFilter::default();
        let mut by_name = DeploymentFilterName::default();
        by_name.like_ = Some(Some(prefix.clone()));
        filter.name = Some(Some(by_name));
        count.deployments = Some(Some(filter));
        let on_server = client.count_deployments(&count).await.expect("count");
        let lost = n as u64 - on_server.min(n as u64);
        rows.push(format!(
            "| {concurrency} | {n} | {:.1} | {:.1} s | {} | {} | {failed} | {lost} |",
            n as f64 / elapsed,
            elapsed,
            stats.retried_503 - before.retried_503,
            stats.retried_transport - before.retried_transport,
        ));
    }
    let _ = server.stop();
    println!(
        "| concurrency | creates | deployments/s | wall | 503s retried | transport retries | failed | lost |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
}
