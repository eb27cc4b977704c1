//! End to end against a real Prefect 3.9.1 server (issue 5 §7): a deployment applied by prefab
//! is read back with every field as sent, on the create and on the update path; its triggers are
//! automations the deployment owns; and, with the server's scheduler on, its schedules get flow
//! runs at exactly the dates prefab-schemas computes. Bulk apply of 200 through the `prefab`
//! binary is in `crates/cli/tests/deploy_bulk.rs`.
//!
//! Two servers at most: the shared API-only one and the shared scheduler one
//! (`support::prefect`), each started once and reused by every test.

mod support;

use prefab_client::local_server::Database;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use prefab_client::api::{
    FlowRunFilter, FlowRunFilterDeploymentId, FlowRunFilterRequest, WorkPoolCreate,
};
use prefab_client::request;
use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::VersionInfo;
use prefab_core::deployment::{ApplyOptions, DeploymentFile, RunnerDeployment, apply};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long the scheduler server gets to create a deployment's runs before the test fails
/// (its loop runs every `SCHEDULER_LOOP_SECONDS`; this is a deadline, not a measurement).
const SCHEDULER_DEADLINE: Duration = Duration::from_secs(180);

fn client_for(api_url: &str) -> PrefectClient {
    PrefectClient::new(ClientConfig::new(api_url).unwrap()).unwrap()
}

/// The directory holding the six-parameter flow file.
fn flows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fixtures")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// Apply options with version inference pinned (no CI variables, a directory outside git), so
/// the expected bodies do not depend on where the tests run.
fn options(inference_dir: &Path) -> ApplyOptions {
    ApplyOptions::default()
        .inference_dir(inference_dir)
        .env(Default::default())
}

/// The server's own JSON for a read request (not the client's typed model, so nothing the
/// server holds is dropped or defaulted on the way).
async fn read_raw(c: &PrefectClient, req: request::ApiRequest) -> Value {
    let path = req.path.clone();
    let resp = c
        .send(&req)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
}

/// Checks that everything in `sent` is in `got`: objects key by key (the server may add keys),
/// arrays element by element with the same length, numbers by value. Returns every mismatch
/// with its JSON path.
fn sent_is_stored(sent: &Value, got: &Value, path: &str, mismatches: &mut Vec<String>) {
    match (sent, got) {
        (Value::Object(s), Value::Object(g)) => {
            for (key, value) in s {
                let here = format!("{path}.{key}");
                match g.get(key) {
                    Some(stored) => sent_is_stored(value, stored, &here, mismatches),
                    None => mismatches.push(format!("{here}: sent {value}, not in the response")),
                }
            }
        }
        (Value::Array(s), Value::Array(g)) if s.len() == g.len() => {
            for (i, (a, b)) in s.iter().zip(g).enumerate() {
                sent_is_stored(a, b, &format!("{path}[{i}]"), mismatches);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        (a, b) => mismatches.push(format!("{path}: sent {a}, stored {b}")),
    }
}

/// A datetime the server stored, as an instant (it answers `…Z` or `…+00:00`).
fn instant(v: &Value) -> Timestamp {
    let text = v.as_str().unwrap_or_else(|| panic!("not a datetime: {v}"));
    prefab_schemas::schedules::parse_timestamp(text)
        .unwrap_or_else(|e| panic!("datetime {text}: {e}"))
}

/// The deployment's body fields compared with what the server read back: the create body
/// (`POST /deployments/`) or the update body (`PATCH`), with the keys the server keeps
/// elsewhere handled explicitly.
fn assert_stored_as_sent(body: &Value, stored: &Value, what: &str) {
    let mut mismatches = Vec::new();
    for (key, sent) in body.as_object().expect("a body is an object") {
        let got = &stored[key.as_str()];
        match key.as_str() {
            // Schedules come back with their ids and timestamps, in the server's order:
            // matched by slug. `replaces` (which existing slug a schedule takes over) is an
            // instruction, not stored.
            "schedules" => {
                let sent = sent.as_array().expect("schedules are a list");
                let got = got.as_array().cloned().unwrap_or_default();
                if sent.len() != got.len() {
                    mismatches.push(format!(
                        "schedules: sent {}, stored {}",
                        sent.len(),
                        got.len()
                    ));
                }
                for (i, schedule) in sent.iter().enumerate() {
                    let mut schedule = schedule.clone();
                    if schedule["replaces"].is_null()
                        && let Some(m) = schedule.as_object_mut()
                    {
                        m.remove("replaces");
                    }
                    let stored = got
                        .iter()
                        .find(|g| g["slug"] == schedule["slug"] && !g["slug"].is_null())
                        .or_else(|| got.get(i))
                        .cloned()
                        .unwrap_or(Value::Null);
                    sent_is_stored(
                        &schedule,
                        &stored,
                        &format!("schedules[{i}]"),
                        &mut mismatches,
                    );
                }
            }
            // A limit sent as a number becomes a global concurrency limit the deployment
            // owns; the deployment's own field is empty (Prefect 3.9.1's server).
            "concurrency_limit" => {
                if !sent.is_null() {
                    sent_is_stored(
                        sent,
                        &stored["global_concurrency_limit"]["limit"],
                        "global_concurrency_limit.limit",
                        &mut mismatches,
                    );
                }
                if !got.is_null() {
                    mismatches.push(format!("concurrency_limit: stored {got}, expected null"));
                }
            }
            // The server keeps version_info with the deployment version (no echo in 3.9.1's
            // DeploymentResponse); the version itself is checked under `version`.
            "version_info" if got.is_null() => {}
            // Document ids sent as null come back as null or absent.
            "storage_document_id" | "infrastructure_document_id" if sent.is_null() => {
                if !got.is_null() {
                    mismatches.push(format!("{key}: stored {got}, expected null"));
                }
            }
            _ => sent_is_stored(sent, got, key, &mut mismatches),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{what}: the server does not hold what was sent:\n  {}\nsent: {body:#}\nstored: {stored:#}",
        mismatches.join("\n  ")
    );
}

/// The create body apply sent for `d` (version inference pinned by [`options`]).
fn create_body(d: &RunnerDeployment, flow_id: Uuid) -> Value {
    let info = VersionInfo::deployment(None, d.version.as_deref(), d.version_from_flow);
    d.create_body(flow_id, None, None, d.version.as_deref(), Some(&info))
        .expect("the create body builds")
}

/// A deployment file using every key a deployment file has, on the six-parameter flow.
fn full_definition(name: &str, pool: &str, tags: Value, cron: &str) -> Value {
    json!({
        "entrypoint": "six_params.py:ingest_orders",
        "name": name,
        "description": "Order ingestion, one shard per deployment.",
        "version": "2026.11.1",
        "tags": tags,
        "schedules": [
            {"cron": cron, "timezone": "Europe/Berlin", "slug": "nightly",
             "parameters": {"mode": "full"}},
            {"interval": 5400, "anchor_date": "2026-01-01T00:15:00",
             "timezone": "America/New_York", "slug": "every-90-min", "active": false},
            {"rrule": "DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
             "timezone": "America/New_York", "slug": "mon-wed-fri"}
        ],
        "parameters": {
            "shard": 7,
            "regions": {"$freeze": ["eu"]},
            "warehouse": {"account": "acme-eu", "schema_name": "orders", "batch_size": 250}
        },
        "enforce_parameter_schema": true,
        "paused": true,
        "concurrency_limit": {"limit": 3, "collision_strategy": "CANCEL_NEW",
                              "grace_period_seconds": 120},
        "triggers": [
            {"type": "event", "expect": ["acme.orders.landed"],
             "match": {"prefect.resource.id": "acme.bucket.*"},
             "parameters": {"shard": 8, "mode": "incremental"}},
            {"type": "event", "name": "retry-on-failure", "description": "Failed twice",
             "expect": ["prefect.flow-run.Failed"], "posture": "Reactive",
             "threshold": 2, "within": 600, "enabled": false}
        ],
        "work_pool_name": pool,
        "work_queue_name": "orders",
        "job_variables": {"env": {"LOG_LEVEL": "INFO"}},
        "storage": {"kind": "git", "url": "https://github.com/acme/flows.git", "branch": "main"}
    })
}

async fn create_pool(c: &PrefectClient) -> String {
    let pool = unique("pool");
    let mut create = WorkPoolCreate::new(pool.clone());
    create.r#type = Some("process".into());
    c.create_work_pool(&create).await.unwrap();
    pool
}

/// Reads the deployment's automations and checks each is owned by it and holds exactly the
/// body prefab sent for the matching trigger (in order of creation).
async fn assert_automations_as_sent(
    c: &PrefectClient,
    d: &RunnerDeployment,
    id: Uuid,
) -> Vec<Uuid> {
    let owner = format!("prefect.deployment.{id}");
    let automations = read_raw(c, request::read_automations_related_to(&owner)).await;
    let mut automations = automations.as_array().expect("a list").clone();
    automations.sort_by_key(|a| a["created"].as_str().map(str::to_owned));
    let sent = d.automation_bodies(id);
    assert_eq!(automations.len(), sent.len(), "{automations:#?}");
    let mut ids = Vec::new();
    for (body, stored) in sent.iter().zip(&automations) {
        // The server takes `owner_resource` out of the automation and records the ownership as
        // an owned related resource (what `related-to` and `DELETE owned-by` use).
        let mut body = body.clone();
        assert_eq!(
            body.as_object_mut().unwrap().remove("owner_resource"),
            Some(json!(owner))
        );
        assert_stored_as_sent(&body, stored, "automation");
        assert_eq!(stored["actions"][0]["deployment_id"], json!(id.to_string()));
        ids.push(stored["id"].as_str().unwrap().parse().unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_is_read_back_as_sent_on_create_and_update() {
    let c = client_for(support::prefect::server().api_url());
    let work = tempfile::tempdir().unwrap();
    let pool = create_pool(&c).await;
    let name = unique("e2e-full");

    // Create.
    let file = DeploymentFile::from_json(&full_definition(
        &name,
        &pool,
        json!(["orders", " ", "e2e"]),
        "30 2 * * *",
    ))
    .unwrap();
    let d = file.build(&flows_dir()).unwrap();
    let id = apply(&c, &d, &options(work.path())).await.unwrap();
    let stored = read_raw(&c, request::read_deployment(id)).await;
    let flow_id: Uuid = stored["flow_id"].as_str().unwrap().parse().unwrap();
    let flow = c.read_flow(flow_id).await.unwrap();
    assert_eq!(flow.name, "ingest-orders");
    assert_stored_as_sent(&create_body(&d, flow_id), &stored, "create");

    // The same facts, stated independently of the body builder.
    assert_eq!(stored["name"], json!(name));
    assert_eq!(
        stored["tags"],
        json!(["orders", "e2e"]),
        "blank tags dropped"
    );
    assert_eq!(stored["paused"], json!(true));
    assert_eq!(stored["version"], json!("2026.11.1"));
    assert_eq!(stored["work_pool_name"], json!(pool));
    assert_eq!(stored["work_queue_name"], json!("orders"));
    assert_eq!(stored["entrypoint"], json!("six_params.py:ingest_orders"));
    assert_eq!(
        stored["pull_steps"],
        json!([{"prefect.deployments.steps.git_clone": {
            "repository": "https://github.com/acme/flows.git", "branch": "main"}}])
    );
    assert_eq!(stored["global_concurrency_limit"]["limit"], json!(3));
    assert_eq!(
        stored["concurrency_options"],
        json!({"collision_strategy": "CANCEL_NEW", "grace_period_seconds": 120})
    );
    let schema = &stored["parameter_openapi_schema"];
    let mut keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let in_order = ["shard", "source", "mode", "since", "warehouse", "regions"];
    if support::prefect::server_database() == Database::Postgres {
        // PostgreSQL keeps JSON as JSONB, which orders object keys (shorter first) whatever
        // order they were sent in; the properties' `position` keeps the signature's order.
        keys.sort_by_key(|k| schema["properties"][k.as_str()]["position"].as_u64());
    }
    assert_eq!(keys, in_order);
    assert_eq!(schema["properties"]["regions"]["readOnly"], json!(true));
    assert_eq!(schema["properties"]["regions"]["enum"], json!([["eu"]]));
    assert_eq!(schema["required"], json!(["shard"]));
    assert_eq!(
        schema["definitions"]["Warehouse"]["properties"]["batch_size"]["maximum"],
        json!(10000)
    );
    let slugs: BTreeSet<&str> = stored["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        BTreeSet::from(["nightly", "every-90-min", "mon-wed-fri"])
    );
    let first_automations = assert_automations_as_sent(&c, &d, id).await;
    let created = stored["created"].clone();

    // Re-apply with other tags, another cron and a description: the update path (PATCH) on
    // the same deployment, which ends up holding the update body; the paused flag is sent
    // again as given; the automations are replaced by new ones.
    let file = DeploymentFile::from_json(&full_definition(
        &name,
        &pool,
        json!(["orders", "v2"]),
        "45 3 * * 1-5",
    ))
    .unwrap();
    let d2 = file.build(&flows_dir()).unwrap();
    assert_eq!(apply(&c, &d2, &options(work.path())).await.unwrap(), id);
    let stored = read_raw(&c, request::read_deployment(id)).await;
    assert_eq!(stored["created"], created, "the same row, updated");
    let info = VersionInfo::deployment(None, d2.version.as_deref(), d2.version_from_flow);
    let update = d2.update_body(d2.version.as_deref(), Some(&info)).unwrap();
    assert_stored_as_sent(&update, &stored, "update");
    assert_eq!(stored["tags"], json!(["orders", "v2"]));
    let nightly = stored["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == json!("nightly"))
        .unwrap();
    assert_eq!(nightly["schedule"]["cron"], json!("45 3 * * 1-5"));
    assert_eq!(stored["schedules"].as_array().unwrap().len(), 3);
    let second_automations = assert_automations_as_sent(&c, &d2, id).await;
    assert!(
        second_automations
            .iter()
            .all(|a| !first_automations.contains(a)),
        "the old automations are deleted, new ones created"
    );
    for old in first_automations {
        assert!(c.read_automation(old).await.unwrap_err().is_not_found());
    }
    // They are owned by the deployment, not merely related to it: deleting what it owns
    // deletes them.
    let owner = format!("prefect.deployment.{id}");
    c.delete_automations_owned_by(&owner).await.unwrap();
    for automation in second_automations {
        assert!(
            c.read_automation(automation)
                .await
                .unwrap_err()
                .is_not_found()
        );
    }

    c.delete_deployment(id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplying_with_fewer_triggers_leaves_only_those_automations() {
    let c = client_for(support::prefect::server().api_url());
    let work = tempfile::tempdir().unwrap();
    let name = unique("e2e-triggers");
    let definition = |triggers: Value| {
        DeploymentFile::from_json(&json!({
            "entrypoint": "six_params.py:ingest_orders",
            "name": name,
            "interval": 3600,
            "parameters": {"shard": 1},
            "triggers": triggers,
        }))
        .unwrap()
        .build(&flows_dir())
        .unwrap()
    };
    let three = json!([
        {"type": "event", "expect": ["acme.a"]},
        {"type": "event", "expect": ["acme.b"], "parameters": {"shard": 2}},
        {"type": "event", "name": "named", "expect": ["acme.c"], "within": 30, "threshold": 3,
         "posture": "Proactive"}
    ]);
    let d = definition(three);
    let id = apply(&c, &d, &options(work.path())).await.unwrap();
    let ids = assert_automations_as_sent(&c, &d, id).await;
    assert_eq!(ids.len(), 3);
    let owner = format!("prefect.deployment.{id}");
    let stored = read_raw(&c, request::read_automations_related_to(&owner)).await;
    let names: BTreeSet<&str> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            format!("{name}__automation_1").as_str(),
            format!("{name}__automation_2").as_str(),
            "named"
        ])
    );

    let one = definition(json!([{"type": "event", "expect": ["acme.only"]}]));
    assert_eq!(apply(&c, &one, &options(work.path())).await.unwrap(), id);
    let left = assert_automations_as_sent(&c, &one, id).await;
    assert_eq!(left.len(), 1);
    let none = definition(json!([]));
    apply(&c, &none, &options(work.path())).await.unwrap();
    assert!(assert_automations_as_sent(&c, &none, id).await.is_empty());

    c.delete_deployment(id).await.unwrap();
}

/// The flow runs of deployment `id`, grouped by the schedule that created them (id → start
/// times), once the scheduler has created runs for each of `schedules` schedules.
async fn scheduled_runs(
    c: &PrefectClient,
    id: Uuid,
    schedules: usize,
) -> BTreeMap<String, BTreeSet<i64>> {
    let mut filter = FlowRunFilterRequest::default();
    let mut runs = FlowRunFilter::default();
    let mut by_deployment = FlowRunFilterDeploymentId::default();
    by_deployment.any_ = Some(Some(vec![id]));
    runs.deployment_id = Some(Some(by_deployment));
    filter.flow_runs = Some(Some(runs));
    let started = Instant::now();
    loop {
        let found = c.filter_flow_runs(&filter).await.unwrap();
        let mut by_schedule: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for run in &found {
            let run = serde_json::to_value(run).unwrap();
            assert_eq!(run["auto_scheduled"], json!(true), "{run:#}");
            let schedule = run["created_by"]["id"].as_str().unwrap_or("?").to_owned();
            by_schedule
                .entry(schedule)
                .or_default()
                .insert(instant(&run["expected_start_time"]).as_second());
        }
        if by_schedule.len() == schedules {
            return by_schedule;
        }
        assert!(
            started.elapsed() < SCHEDULER_DEADLINE,
            "the scheduler created runs for {} of {schedules} schedules within {SCHEDULER_DEADLINE:?}: {by_schedule:?}",
            by_schedule.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_creates_runs_at_the_dates_prefab_computes() {
    let server = support::prefect::scheduler_server();
    let c = client_for(server.api_url());
    let work = tempfile::tempdir().unwrap();
    // Daily in Berlin at 02:30 (the spring-forward night has no 02:30) and Monday, Wednesday,
    // Friday 09:00 in New York by an rrule: sparse enough that no date falls between this
    // instant and the scheduler's own "now", which is at most a loop later.
    let d = DeploymentFile::from_json(&json!({
        "entrypoint": "six_params.py:ingest_orders",
        "name": unique("e2e-scheduled"),
        "parameters": {"shard": 3},
        "schedules": [
            {"cron": "30 2 * * *", "timezone": "Europe/Berlin", "slug": "berlin-nightly"},
            {"rrule": "DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
             "timezone": "America/New_York", "slug": "ny-mwf"}
        ],
    }))
    .unwrap()
    .build(&flows_dir())
    .unwrap();
    let before_apply = Timestamp::now();
    let id = apply(&c, &d, &options(work.path())).await.unwrap();

    // Which server-side schedule id is which of prefab's schedules (by slug).
    let stored = read_raw(&c, request::read_deployment(id)).await;
    let slug_of: BTreeMap<String, String> = stored["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["slug"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let runs = scheduled_runs(&c, id, 2).await;
    for (schedule_id, server_dates) in runs {
        let slug = &slug_of[&schedule_id];
        let ours = d
            .schedules
            .iter()
            .flatten()
            .find(|s| s.slug.as_deref() == Some(slug.as_str()))
            .and_then(|s| s.schedule.clone())
            .unwrap_or_else(|| panic!("no local schedule with slug {slug}"));
        // The scheduler's rule (Prefect's defaults): at least 3 runs and at least an hour
        // ahead; both schedules reach that with their first 3 dates.
        assert_eq!(server_dates.len(), 3, "{slug}: {server_dates:?}");
        let expected: BTreeSet<i64> = ours
            .dates(Some(server_dates.len()), Some(before_apply), None)
            .unwrap()
            .iter()
            .map(|t| t.timestamp().as_second())
            .collect();
        assert_eq!(server_dates, expected, "{slug}: server vs prefab-schemas");
    }
    c.delete_deployment(id).await.unwrap();
}
