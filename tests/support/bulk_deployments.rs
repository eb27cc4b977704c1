//! The bulk-apply workload shared by the end-to-end test (`crates/cli/tests/deploy_bulk.rs`) and
//! `cargo xtask bench-compare --deploy`: `count` deployments of the six-parameter flow of
//! `benches/fixtures/six_params.py`, each with a cron schedule, parameters, tags and one event
//! trigger, as a deployment file (`prefab deploy --file`) that Prefect's Python reads too.

use std::io;
use std::path::Path;

use serde_json::{Value, json};

/// The flow file's name inside the workload directory.
pub const FLOW_FILE: &str = "six_params.py";
/// The flow's entrypoint, relative to the workload directory.
pub const ENTRYPOINT: &str = "six_params.py:ingest_orders";
/// The flow's name (its decorator's `name=`).
pub const FLOW_NAME: &str = "ingest-orders";
/// The deployment file's name inside the workload directory.
pub const DEPLOYMENT_FILE: &str = "deployments.json";

/// The six-parameter flow's source.
pub const FLOW_SOURCE: &str = include_str!("../../benches/fixtures/six_params.py");

/// The definitions: names `{prefix}-000` … , one cron schedule each (minute and hour vary),
/// parameters, two tags and one event trigger that passes a parameter from the event.
pub fn definitions(prefix: &str, count: usize) -> Value {
    Value::Array(
        (0..count)
            .map(|i| {
                let regions = &["eu", "us", "apac"][..1 + i % 3];
                json!({
                    "entrypoint": ENTRYPOINT,
                    "name": format!("{prefix}-{i:03}"),
                    "cron": format!("{} {} * * *", i % 60, (i / 60) % 24),
                    "parameters": {
                        "shard": i,
                        "mode": if i % 2 == 0 { "full" } else { "incremental" },
                        "regions": regions,
                    },
                    "tags": ["orders", format!("shard-{}", i % 10)],
                    "triggers": [{
                        "type": "event",
                        "expect": ["acme.orders.landed"],
                        "match": {"prefect.resource.id": format!("acme.bucket.shard-{i}")},
                        "parameters": {"shard": i, "mode": "incremental"},
                    }],
                })
            })
            .collect(),
    )
}

/// Writes the flow file and the deployment file of `count` definitions into `dir`.
pub fn write(dir: &Path, prefix: &str, count: usize) -> io::Result<()> {
    std::fs::write(dir.join(FLOW_FILE), FLOW_SOURCE)?;
    let text = serde_json::to_string_pretty(&definitions(prefix, count))?;
    std::fs::write(dir.join(DEPLOYMENT_FILE), text)
}
