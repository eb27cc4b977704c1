//! Deployment building benchmarks (group `deploy`), pure CPU, no server:
//!
//! - `flow_load_six_params`: the static load of `benches/fixtures/six_params.py` (parse, find
//!   the flow, name, description, version = MD5 of the file, the parameter schema of six typed
//!   parameters including a pydantic model and docstring descriptions) — what `prefab inspect`
//!   does after starting, and what Prefect 3.9.1 does by importing the module;
//! - `create_body`: the `POST /deployments/` body of one deployment of that flow (cron schedule,
//!   parameters, tags, a trigger, version info), serialised to the bytes that are sent;
//! - `automation_body`: the `POST /automations/` body of its trigger, serialised.
//!
//! `cargo bench -p prefab-benches --bench deploy`. The end-to-end comparison with Prefect's
//! Python (process start, flow load, applying 200 deployments to a real server) is `cargo xtask
//! bench-compare --deploy`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use prefab_core::VersionInfo;
use prefab_core::deployment::DeploymentFile;
use prefab_core::flow::load_flow_from_entrypoint;
use serde_json::json;
use uuid::Uuid;

fn deploy(c: &mut Criterion) {
    let mut group = c.benchmark_group("deploy");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");

    group.bench_function("flow_load_six_params", |b| {
        b.iter(|| {
            load_flow_from_entrypoint(black_box("six_params.py:ingest_orders"), &fixtures)
                .expect("the fixture loads")
        })
    });

    let file = DeploymentFile::from_json(&json!({
        "entrypoint": "six_params.py:ingest_orders",
        "name": "bulk-042",
        "cron": "42 0 * * *",
        "parameters": {"shard": 42, "mode": "full", "regions": ["eu", "us"]},
        "tags": ["orders", "shard-2"],
        "triggers": [{
            "type": "event",
            "expect": ["acme.orders.landed"],
            "match": {"prefect.resource.id": "acme.bucket.shard-42"},
            "parameters": {"shard": 42, "mode": "incremental"},
        }],
    }))
    .expect("a valid definition");
    let deployment = file.build(&fixtures).expect("the deployment builds");
    let info = VersionInfo::deployment(
        None,
        deployment.version.as_deref(),
        deployment.version_from_flow,
    );
    let flow_id = Uuid::from_u128(0x0b1c_7f5e_8d53_4c1b_9a51_0c3c_7a3f_2d10);
    group.bench_function("create_body", |b| {
        b.iter(|| {
            let body = black_box(&deployment)
                .create_body(
                    flow_id,
                    None,
                    None,
                    deployment.version.as_deref(),
                    Some(&info),
                )
                .expect("the body builds");
            serde_json::to_vec(&body).expect("serialises")
        })
    });
    let deployment_id = Uuid::from_u128(0x1d2e_3f40_5162_4738_8495_a6b7_c8d9_eaf0);
    group.bench_function("automation_body", |b| {
        b.iter(|| {
            let bodies = black_box(&deployment).automation_bodies(deployment_id);
            serde_json::to_vec(&bodies).expect("serialises")
        })
    });
    group.finish();
}

criterion_group!(benches, deploy);
criterion_main!(benches);
