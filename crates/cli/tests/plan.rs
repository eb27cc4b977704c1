//! `prefab plan`, `--prune`, `--output json`, exit codes, and the library's `apply_all` (progress
//! events, one flow upsert per flow name) — against the workspace tests' real Prefect 3.9.1
//! server. Every test uses its own flow names (a random suffix), so tests running at the same
//! time against the shared server never see each other's deployments.

mod common;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;

use common::text;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{ApplyEvent, BulkOptions, BulkOutcome, DeploymentFile, apply_all};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

const FLOWS: &str = r#"from typing import Literal

from prefect import flow


@flow
def ingest(source: str = "s3://raw", retries: int = 1, mode: Literal["full", "delta"] = "delta"):
    """Ingest raw files."""


@flow
def publish(target: str = "warehouse", dry_run: bool = False):
    """Publish the tables."""
"#;

fn prefab(api_url: &str) -> Command {
    common::prefab(Some(api_url))
}

fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// A directory with `flows/jobs.py` and `deployments.json` holding `definitions`.
fn project(definitions: &Value) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/jobs.py"), FLOWS).unwrap();
    let file = write_definitions(dir.path(), definitions);
    (dir, file)
}

fn write_definitions(dir: &Path, definitions: &Value) -> PathBuf {
    let file = dir.join("deployments.json");
    std::fs::write(&file, serde_json::to_string_pretty(definitions).unwrap()).unwrap();
    file
}

/// Runs `prefab <command> --file <file> --output json [extra]` and returns (exit code, JSON).
fn run_json(api: &str, command: &str, file: &Path, extra: &[&str]) -> (i32, Value) {
    let out = prefab(api)
        .args([command, "--output", "json", "--file"])
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{command}: stdout is not JSON ({e}):\n{}", text(&out)));
    (out.status.code().unwrap(), doc)
}

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or("?").to_owned(),
                d["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn changed_fields(plan: &Value, name: &str) -> BTreeSet<String> {
    let d = plan["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the plan: {plan:#}"));
    d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap().to_owned())
        .collect()
}

fn client(api: &str) -> prefab_client::blocking::PrefectClient {
    prefab_client::blocking::PrefectClient::new(ClientConfig::new(api).unwrap()).unwrap()
}

/// Every kind of field the deployment files and apply.jsonl use (pool-less).
fn full_definitions(ingest: &str, publish: &str) -> Value {
    json!([
        {"entrypoint": "flows/jobs.py:ingest", "name": "cron", "flow_name": ingest,
         "cron": "15 4 * * 1-5", "parameters": {"source": "s3://landing", "retries": 3},
         "tags": ["etl", "nightly"], "description": "Weekday ingest", "version": "1.2.3",
         "concurrency_limit": {"limit": 2, "collision_strategy": "CANCEL_NEW", "grace_period_seconds": 300}},
        {"entrypoint": "flows/jobs.py:ingest", "name": "interval", "flow_name": ingest,
         "interval": 900, "paused": true, "concurrency_limit": 4, "enforce_parameter_schema": false},
        {"entrypoint": "flows/jobs.py:ingest", "name": "schedules", "flow_name": ingest,
         "schedules": [
             {"cron": "0 6 * * *", "timezone": "Europe/Paris", "slug": "morning"},
             {"interval": 7200, "anchor_date": "2026-01-01T00:30:00Z", "timezone": "UTC", "active": false},
             {"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=8", "timezone": "America/Chicago", "parameters": {"mode": "full"}}
         ]},
        {"entrypoint": "flows/jobs.py:publish", "name": "rrule", "flow_name": publish,
         "rrule": "FREQ=DAILY;BYHOUR=23;BYMINUTE=45", "parameters": {"dry_run": {"$freeze": true}},
         "triggers": [
             {"type": "event", "expect": ["warehouse.loaded"], "match": {"prefect.resource.id": "warehouse.*"},
              "parameters": {"target": "lake"}},
             {"type": "event", "expect": ["heartbeat"], "posture": "Proactive", "threshold": 2, "within": 600,
              "name": "missed-heartbeats", "enabled": false}
         ]},
        {"entrypoint": "flows/jobs.py:publish", "name": "manual", "flow_name": publish}
    ])
}

#[test]
fn plan_then_apply_then_plan_is_unchanged_for_every_kind_of_field() {
    let server = prefect::server();
    let api = server.api_url();
    let s = suffix();
    let (ingest, publish) = (format!("ingest-{s}"), format!("publish-{s}"));
    let mut definitions = full_definitions(&ingest, &publish);
    let (dir, file) = project(&definitions);

    let (code, before) = run_json(api, "plan", &file, &[]);
    assert_eq!(code, 0, "{before:#}");
    assert!(
        actions(&before).iter().all(|(_, a)| a == "create"),
        "{before:#}"
    );
    assert_eq!(before["summary"]["create"], 5);

    let (code, applied) = run_json(api, "deploy", &file, &[]);
    assert_eq!(code, 0, "{applied:#}");
    assert_eq!(applied["summary"]["applied"], 5, "{applied:#}");

    let (code, after) = run_json(api, "plan", &file, &[]);
    assert_eq!(code, 0, "{after:#}");
    assert!(
        actions(&after).iter().all(|(_, a)| a == "unchanged"),
        "a freshly applied deployment must plan as unchanged:\n{after:#}"
    );
    // The ids are the applied ones.
    for (p, a) in after["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .zip(applied["deployments"].as_array().unwrap())
    {
        assert_eq!(p["id"], a["id"]);
    }

    // Change some fields: the plan names exactly those.
    definitions[0]["tags"] = json!(["etl", "weekday"]);
    definitions[0]["parameters"]["retries"] = json!(5);
    definitions[0]["concurrency_limit"]["limit"] = json!(3);
    definitions[1]["interval"] = json!(1800);
    definitions[1]["paused"] = json!(false);
    definitions[2]["schedules"][0]["cron"] = json!("0 7 * * *");
    definitions[3]["triggers"][0]["expect"] = json!(["warehouse.refreshed"]);
    definitions[4]["description"] = json!("Run by hand");
    write_definitions(dir.path(), &definitions);
    let (code, changed) = run_json(api, "plan", &file, &[]);
    assert_eq!(code, 0, "{changed:#}");
    assert!(
        actions(&changed).iter().all(|(_, a)| a == "update"),
        "{changed:#}"
    );
    let set = |fields: &[&str]| {
        fields
            .iter()
            .map(|f| f.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        changed_fields(&changed, "cron"),
        set(&["concurrency_limit", "parameters", "tags"])
    );
    assert_eq!(
        changed_fields(&changed, "interval"),
        set(&["paused", "schedules"])
    );
    assert_eq!(changed_fields(&changed, "schedules"), set(&["schedules"]));
    assert_eq!(changed_fields(&changed, "rrule"), set(&["triggers"]));
    assert_eq!(changed_fields(&changed, "manual"), set(&["description"]));
    let tags = &changed["deployments"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "tags")
        .unwrap()
        .clone();
    assert_eq!(tags["server"], json!(["etl", "nightly"]));
    assert_eq!(tags["local"], json!(["etl", "weekday"]));

    // Human output: the field-level diff.
    let out = prefab(api)
        .args(["plan", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let human = text(&out);
    assert!(human.contains("tags[1]: nightly → weekday"), "{human}");
    assert!(
        human.contains("schedules[0].schedule.cron: 0 6 * * * → 0 7 * * *"),
        "{human}"
    );
    assert!(
        human.contains("0 to create, 5 to update, 0 unchanged"),
        "{human}"
    );

    // Applying the changes makes the plan unchanged again.
    let (code, _) = run_json(api, "deploy", &file, &[]);
    assert_eq!(code, 0);
    let (_, again) = run_json(api, "plan", &file, &[]);
    assert!(
        actions(&again).iter().all(|(_, a)| a == "unchanged"),
        "{again:#}"
    );
}

/// The example file under fresh deployment names (its flows are shared with deploy.rs).
#[test]
fn the_example_file_plans_create_then_unchanged() {
    let server = prefect::server();
    let api = server.api_url();
    let s = suffix();
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    for entry in std::fs::read_dir(format!("{EXAMPLES}/flows")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, flows.join(path.file_name().unwrap())).unwrap();
    }
    let yaml = std::fs::read_to_string(format!("{EXAMPLES}/deployments.yaml")).unwrap();
    // Every deployment under a fresh name: `  name: x` → `  name: x-<suffix>`.
    let mut names = Vec::new();
    let yaml: String = yaml
        .lines()
        .map(|line| match line.strip_prefix("  name: ") {
            Some(name) => {
                names.push(format!("{name}-{s}"));
                format!("  name: {name}-{s}\n")
            }
            None => format!("{line}\n"),
        })
        .collect();
    assert!(
        names.len() >= 5,
        "the example file holds at least five deployments"
    );
    let file = dir.path().join("deployments.yaml");
    std::fs::write(&file, yaml).unwrap();

    let (code, before) = run_json(api, "plan", &file, &[]);
    assert_eq!(code, 0, "{before:#}");
    assert_eq!(
        actions(&before),
        names
            .iter()
            .map(|n| (n.clone(), "create".to_owned()))
            .collect::<Vec<_>>()
    );
    let out = prefab(api)
        .args(["deploy", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let human = text(&out);
    // The result table, then each deployment's next three runs in its schedule's zone.
    assert!(human.contains("DEPLOYMENT"), "{human}");
    let nightly_runs = human
        .lines()
        .find(|l| l.starts_with(&format!("nightly-etl/nightly-{s} ")) && l.contains("T02:30:00-0"))
        .unwrap_or_else(|| panic!("no next runs for nightly:\n{human}"));
    assert_eq!(
        nightly_runs.matches("T02:30:00-0").count(),
        3,
        "{nightly_runs}"
    );
    let (_, after) = run_json(api, "plan", &file, &[]);
    assert!(
        actions(&after).iter().all(|(_, a)| a == "unchanged"),
        "{after:#}"
    );
}

#[test]
fn prune_lists_then_deletes_only_the_same_flows_deployments() {
    let server = prefect::server();
    let api = server.api_url();
    let s = suffix();
    let (ingest, publish) = (format!("ingest-{s}"), format!("publish-{s}"));
    let all = json!([
        {"entrypoint": "flows/jobs.py:ingest", "name": "keep", "flow_name": ingest},
        {"entrypoint": "flows/jobs.py:ingest", "name": "old-1", "flow_name": ingest},
        {"entrypoint": "flows/jobs.py:ingest", "name": "old-2", "flow_name": ingest},
        {"entrypoint": "flows/jobs.py:publish", "name": "other", "flow_name": publish}
    ]);
    let (dir, file) = project(&all);
    let (code, applied) = run_json(api, "deploy", &file, &[]);
    assert_eq!(code, 0, "{applied:#}");

    // Only `keep` remains in the file: `old-*` are candidates; `publish`'s deployment belongs
    // to a flow the file no longer names, so it is never touched.
    let fewer =
        json!([{"entrypoint": "flows/jobs.py:ingest", "name": "keep", "flow_name": ingest}]);
    let file = write_definitions(dir.path(), &fewer);
    let (code, plan) = run_json(api, "plan", &file, &["--prune"]);
    assert_eq!(code, 0, "{plan:#}");
    let listed: Vec<(String, String)> = plan["prune"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["action"], "delete");
            (
                c["flow"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (ingest.clone(), "old-1".to_owned()),
            (ingest.clone(), "old-2".to_owned())
        ]
    );
    let human = text(
        &prefab(api)
            .args(["plan", "--prune", "--file"])
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert!(
        human.contains(&format!("{ingest}/old-1")) && human.contains("delete"),
        "{human}"
    );
    // Plan wrote nothing.
    let c = client(api);
    assert!(c.read_deployment_by_name(&ingest, "old-1").is_ok());

    // A failing definition: nothing is pruned, and the output says so.
    let broken = json!([
        {"entrypoint": "flows/jobs.py:ingest", "name": "keep", "flow_name": ingest},
        {"entrypoint": "flows/jobs.py:ingest", "name": "in-missing-pool", "flow_name": ingest,
         "work_pool_name": format!("no-such-pool-{s}")}
    ]);
    let file = write_definitions(dir.path(), &broken);
    let (code, refused) = run_json(api, "deploy", &file, &["--prune"]);
    assert_eq!(code, 1, "{refused:#}");
    assert_eq!(refused["prune"]["deleted"], json!([]));
    assert!(
        refused["prune"]["skipped"]
            .as_str()
            .unwrap()
            .contains("nothing was deleted"),
        "{refused:#}"
    );
    assert!(c.read_deployment_by_name(&ingest, "old-1").is_ok());

    // Everything applied: exactly the candidates are deleted and reported.
    let file = write_definitions(dir.path(), &fewer);
    let (code, pruned) = run_json(api, "deploy", &file, &["--prune"]);
    assert_eq!(code, 0, "{pruned:#}");
    let deleted: Vec<&str> = pruned["prune"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, ["old-1", "old-2"], "{pruned:#}");
    let old_id = applied["deployments"][1]["id"].clone();
    assert_eq!(pruned["prune"]["deleted"][0]["id"], old_id);
    assert!(
        c.read_deployment_by_name(&ingest, "old-1")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        c.read_deployment_by_name(&ingest, "old-2")
            .unwrap_err()
            .is_not_found()
    );
    assert!(c.read_deployment_by_name(&ingest, "keep").is_ok());
    assert!(c.read_deployment_by_name(&publish, "other").is_ok());
    // Nothing left to prune.
    let (_, plan) = run_json(api, "plan", &file, &["--prune"]);
    assert_eq!(plan["prune"], json!([]));
}

#[test]
fn json_output_and_exit_codes() {
    let server = prefect::server();
    let api = server.api_url();
    let s = suffix();
    let ingest = format!("ingest-{s}");
    // A server-side failure (a work pool that does not exist): exit 1, the others applied.
    let (dir, file) = project(&json!([
        {"entrypoint": "flows/jobs.py:ingest", "name": "ok", "flow_name": ingest, "cron": "0 9 * * *"},
        {"entrypoint": "flows/jobs.py:ingest", "name": "no-pool", "flow_name": ingest,
         "work_pool_name": format!("no-such-pool-{s}")}
    ]));
    let (code, doc) = run_json(api, "deploy", &file, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["command"], "deploy");
    let ok = &doc["deployments"][0];
    assert_eq!(ok["name"], "ok");
    assert_eq!(ok["flow"], ingest.as_str());
    assert_eq!(ok["result"], "applied");
    assert!(uuid::Uuid::parse_str(ok["id"].as_str().unwrap()).is_ok());
    assert_eq!(ok["error"], Value::Null);
    let runs = ok["next_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(
        runs.iter()
            .all(|r| r.as_str().unwrap().contains("T09:00:00"))
    );
    let failed = &doc["deployments"][1];
    assert_eq!(failed["result"], "failed");
    assert_eq!(failed["id"], Value::Null);
    assert!(
        failed["error"].as_str().unwrap().contains("not found"),
        "{doc:#}"
    );
    assert_eq!(failed["next_runs"], json!([]));
    assert_eq!(
        doc["summary"],
        json!({"applied": 1, "unchanged": 0, "failed": 1, "invalid": 0, "not_attempted": 0})
    );
    assert_eq!(doc["prune"], Value::Null);

    // Bad input (a flow that does not exist): exit 2; the valid definition is still applied.
    write_definitions(
        dir.path(),
        &json!([
            {"entrypoint": "flows/jobs.py:ingest", "name": "ok", "flow_name": ingest, "cron": "0 9 * * *"},
            {"entrypoint": "flows/jobs.py:missing", "name": "broken"}
        ]),
    );
    let (code, doc) = run_json(api, "deploy", &file, &[]);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["deployments"][0]["result"], "applied");
    assert_eq!(doc["deployments"][1]["result"], "invalid");
    assert_eq!(doc["deployments"][1]["name"], "broken");
    let (code, plan) = run_json(api, "plan", &file, &[]);
    assert_eq!(code, 2, "{plan:#}");
    assert_eq!(
        actions(&plan),
        vec![
            ("ok".to_owned(), "unchanged".to_owned()),
            ("broken".to_owned(), "invalid".to_owned())
        ]
    );
    // A file that cannot be read at all: exit 2 before any request.
    let out = prefab(api)
        .args(["plan", "--file"])
        .arg(dir.path().join("absent.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// A TCP proxy to the real server that records each request line (`POST /api/flows/`) with
/// its response status: the server's responses cannot tell how many upserts a run sent. (The
/// client retries a `503` from a busy SQLite server; those attempts are recorded with their
/// status, so the counts below take the answered ones.)
struct CountingProxy {
    url: String,
    exchanges: Arc<Mutex<Vec<(String, u16)>>>,
}

impl CountingProxy {
    async fn start(upstream_api: &str) -> CountingProxy {
        let rest = upstream_api.strip_prefix("http://").unwrap();
        let (upstream, path) = rest.split_once('/').unwrap();
        let upstream = upstream.to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/{path}", listener.local_addr().unwrap());
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let seen = exchanges.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    // HTTP/1.1 without pipelining: responses come in request order.
                    let in_flight = Mutex::new(std::collections::VecDeque::new());
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    let to_server = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut pending: Vec<u8> = Vec::new();
                        loop {
                            let n = match ri.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            pending.extend_from_slice(&buf[..n]);
                            for line in request_lines(&mut pending) {
                                in_flight.lock().unwrap().push_back(line);
                            }
                            if wo.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = wo.shutdown().await;
                    };
                    let to_client = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut pending: Vec<u8> = Vec::new();
                        loop {
                            let n = match ro.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            pending.extend_from_slice(&buf[..n]);
                            for status in response_statuses(&mut pending) {
                                let line = in_flight.lock().unwrap().pop_front();
                                seen.lock()
                                    .unwrap()
                                    .push((line.unwrap_or_default(), status));
                            }
                            if wi.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = wi.shutdown().await;
                    };
                    tokio::join!(to_server, to_client);
                });
            }
        });
        CountingProxy { url, exchanges }
    }

    /// How many `method_and_path` requests the server answered (anything but a `503`).
    fn count(&self, method_and_path: &str) -> usize {
        self.exchanges
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, status)| l.as_str() == method_and_path && *status != 503)
            .count()
    }

    fn count_prefix(&self, prefix: &str) -> usize {
        self.exchanges
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, status)| l.starts_with(prefix) && *status != 503)
            .count()
    }
}

/// Takes every complete request line (`METHOD /path HTTP/1.1`) out of `pending`, as
/// `METHOD /path`, keeping the tail that may hold an unfinished one.
fn request_lines(pending: &mut Vec<u8>) -> Vec<String> {
    const MARK: &[u8] = b" HTTP/1.1\r\n";
    let mut lines = Vec::new();
    while let Some(at) = pending.windows(MARK.len()).position(|w| w == MARK) {
        let line = String::from_utf8_lossy(&pending[..at]).into_owned();
        // The line starts after the last line break, or right after the previous body.
        if let Some(space) = line.rfind(" /") {
            let method: String = line[..space]
                .chars()
                .rev()
                .take_while(char::is_ascii_uppercase)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            lines.push(format!("{method} {}", &line[space + 1..]));
        }
        pending.drain(..at + MARK.len());
    }
    if pending.len() > 4096 {
        pending.drain(..pending.len() - 4096);
    }
    lines
}

/// Takes every response status line (`HTTP/1.1 200 OK`) out of `pending`.
fn response_statuses(pending: &mut Vec<u8>) -> Vec<u16> {
    const MARK: &[u8] = b"HTTP/1.1 ";
    let mut statuses = Vec::new();
    while let Some(at) = pending.windows(MARK.len()).position(|w| w == MARK) {
        let start = at + MARK.len();
        if pending.len() < start + 3 {
            pending.drain(..at);
            return statuses;
        }
        if let Ok(code) = std::str::from_utf8(&pending[start..start + 3])
            .unwrap_or("")
            .parse()
        {
            statuses.push(code);
        }
        pending.drain(..start);
    }
    if pending.len() > 16 {
        pending.drain(..pending.len() - 16);
    }
    statuses
}

/// Each definition built as `prefab deploy --file` builds it, with its apply options.
fn build_all(
    definitions: &[Value],
    root: &std::path::Path,
) -> Vec<(
    prefab_core::deployment::RunnerDeployment,
    prefab_core::deployment::ApplyOptions,
)> {
    definitions
        .iter()
        .map(|v| {
            let f = DeploymentFile::from_json(v).unwrap();
            (f.build(root).unwrap(), f.apply_options())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_all_upserts_each_flow_once_and_reports_progress() {
    let api = prefect::server().api_url().to_owned();
    let proxy = CountingProxy::start(&api).await;
    let s = suffix();
    let (ingest, publish) = (format!("ingest-{s}"), format!("publish-{s}"));
    let mut definitions = Vec::new();
    for i in 0..4 {
        definitions.push(
            json!({"entrypoint": "flows/jobs.py:ingest", "name": format!("i{i}"),
            "flow_name": ingest, "cron": format!("{i} 1 * * *"), "tags": ["bulk"]}),
        );
        definitions.push(
            json!({"entrypoint": "flows/jobs.py:publish", "name": format!("p{i}"),
            "flow_name": publish, "interval": 600 + i}),
        );
    }
    let (dir, _) = project(&Value::Array(definitions.clone()));
    let items = build_all(&definitions, dir.path());
    let client = PrefectClient::new(ClientConfig::new(proxy.url.clone()).unwrap()).unwrap();
    let events = Mutex::new(Vec::new());
    let results = apply_all(
        &client,
        &items,
        &BulkOptions::default().pre_read(true),
        |e| events.lock().unwrap().push(e),
    )
    .await;

    assert_eq!(results.len(), 8);
    let ids: Vec<uuid::Uuid> = results.into_iter().map(|r| r.unwrap().id()).collect();
    // One flow upsert per flow name, one create per deployment.
    assert_eq!(proxy.count("POST /api/flows/"), 2, "{:?}", proxy.exchanges);
    assert_eq!(
        proxy.count("POST /api/deployments/"),
        8,
        "{:?}",
        proxy.exchanges
    );
    // Which deployments exist: one filter per flow, no read per deployment (D24).
    assert_eq!(proxy.count("POST /api/deployments/filter"), 2);
    assert_eq!(proxy.count_prefix("GET /api/deployments/name/"), 0);
    // Results in input order.
    let reader = PrefectClient::new(ClientConfig::new(api.clone()).unwrap()).unwrap();
    for ((d, _), id) in items.iter().zip(&ids) {
        let read = reader
            .read_deployment_by_name(d.flow_name.as_deref().unwrap(), &d.name)
            .await
            .unwrap();
        assert_eq!(read.id, *id);
    }
    // Progress: each deployment started once and was applied once, with its index.
    let events = events.into_inner().unwrap();
    assert_eq!(events.len(), 16);
    for (index, ((d, _), id)) in items.iter().zip(&ids).enumerate() {
        let started = events
            .iter()
            .position(|e| matches!(e, ApplyEvent::Started { index: i, name } if *i == index && *name == d.full_name()))
            .unwrap_or_else(|| panic!("no Started for #{index}: {events:?}"));
        let applied = events
            .iter()
            .position(|e| matches!(e, ApplyEvent::Applied { index: i, id: got, .. } if *i == index && got == id))
            .unwrap_or_else(|| panic!("no Applied for #{index}: {events:?}"));
        assert!(started < applied);
    }

    // Re-applying takes the update path: no flow upsert at all.
    let events = Mutex::new(Vec::new());
    let again = apply_all(
        &client,
        &items,
        &BulkOptions::default().concurrency(3).pre_read(true),
        |e| events.lock().unwrap().push(e),
    )
    .await;
    assert!(again.iter().all(Result::is_ok));
    assert_eq!(proxy.count("POST /api/flows/"), 2);
    assert_eq!(proxy.count("POST /api/deployments/"), 8);
    assert_eq!(proxy.count_prefix("PATCH /api/deployments/"), 8);
    assert_eq!(proxy.count("POST /api/deployments/filter"), 4);
    assert_eq!(proxy.count_prefix("GET /api/deployments/name/"), 0);

    // Without the pre-read (the default): a read by name per deployment, as Prefect.
    let again = apply_all(&client, &items, &BulkOptions::default(), |_| {}).await;
    assert!(again.iter().all(Result::is_ok));
    assert_eq!(proxy.count("POST /api/deployments/filter"), 4);
    assert_eq!(proxy.count_prefix("GET /api/deployments/name/"), 8);
    assert_eq!(proxy.count_prefix("PATCH /api/deployments/"), 16);
}

/// The bulk pre-read's answers are used once: a definition repeated in one run is created by
/// its first occurrence and updated (after a read) by the second, as a loop of applies does;
/// a deployment deleted after the pre-read is created again, not reported as missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_all_pre_read_answers_are_used_once_and_rechecked() {
    let api = prefect::server().api_url().to_owned();
    let proxy = CountingProxy::start(&api).await;
    let s = suffix();
    let flow = format!("ingest-{s}");
    let definitions = [
        json!({"entrypoint": "flows/jobs.py:ingest", "name": "a", "flow_name": flow}),
        json!({"entrypoint": "flows/jobs.py:ingest", "name": "b", "flow_name": flow}),
        json!({"entrypoint": "flows/jobs.py:ingest", "name": "a", "flow_name": flow, "tags": ["again"]}),
    ];
    let (dir, _) = project(&Value::Array(definitions.to_vec()));
    let items = build_all(&definitions, dir.path());
    let client = PrefectClient::new(ClientConfig::new(proxy.url.clone()).unwrap()).unwrap();
    let results = apply_all(
        &client,
        &items,
        &BulkOptions::default().pre_read(true),
        |_| {},
    )
    .await;
    let ids: Vec<uuid::Uuid> = results.into_iter().map(|r| r.unwrap().id()).collect();
    assert_eq!(
        ids[0], ids[2],
        "the repeated definition updates the first one's deployment"
    );
    assert_eq!(proxy.count("POST /api/deployments/"), 2);
    assert_eq!(proxy.count_prefix("PATCH /api/deployments/"), 1);
    assert_eq!(proxy.count_prefix("GET /api/deployments/name/"), 1);
    let reader = PrefectClient::new(ClientConfig::new(api.clone()).unwrap()).unwrap();
    let a = reader.read_deployment_by_name(&flow, "a").await.unwrap();
    assert_eq!(a.tags, Some(vec!["again".to_owned()]));

    // Re-apply `a` and `b`; `b` is deleted while `a` is being applied (after the pre-read).
    let items = items[..2].to_vec();
    let b_id = ids[1];
    let deleted = std::sync::atomic::AtomicBool::new(false);
    let results = apply_all(
        &client,
        &items,
        &BulkOptions::default().pre_read(true),
        |e| {
            if let ApplyEvent::Started { index: 0, .. } = e {
                let api = api.clone();
                std::thread::spawn(move || {
                    prefab_client::blocking::PrefectClient::new(ClientConfig::new(api).unwrap())
                        .unwrap()
                        .delete_deployment(b_id)
                        .unwrap();
                })
                .join()
                .unwrap();
                deleted.store(true, Ordering::SeqCst);
            }
        },
    )
    .await;
    assert!(deleted.load(Ordering::SeqCst));
    let new_b = results[1].as_ref().unwrap().id();
    assert_ne!(new_b, b_id, "b was created again");
    assert_eq!(
        reader.read_deployment_by_name(&flow, "b").await.unwrap().id,
        new_b
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_all_goes_on_past_failures_and_reports_them() {
    let api = prefect::server().api_url().to_owned();
    let s = suffix();
    let ingest = format!("ingest-{s}");
    let definitions = [
        json!({"entrypoint": "flows/jobs.py:ingest", "name": "a", "flow_name": ingest}),
        json!({"entrypoint": "flows/jobs.py:ingest", "name": "b", "flow_name": ingest,
               "work_pool_name": format!("no-such-pool-{s}")}),
        json!({"entrypoint": "flows/jobs.py:ingest", "name": "c", "flow_name": ingest}),
    ];
    let (dir, _) = project(&Value::Array(definitions.to_vec()));
    let items = build_all(&definitions, dir.path());
    let client = PrefectClient::new(ClientConfig::new(api).unwrap()).unwrap();
    let failed = AtomicUsize::new(0);
    let results = apply_all(&client, &items, &BulkOptions::default(), |e| {
        if let ApplyEvent::Failed { index, error, .. } = e {
            assert_eq!(index, 1);
            assert!(error.contains("not found"), "{error}");
            failed.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(results[1].is_err());
    assert_eq!(failed.load(Ordering::SeqCst), 1);
}

/// The automations related to deployment `id`, as `(id, name)` pairs, sorted.
async fn related_automations(client: &PrefectClient, id: &str) -> Vec<(String, String)> {
    let resp = client
        .send(&prefab_client::request::read_automations_related_to(
            &format!("prefect.deployment.{id}"),
        ))
        .await
        .unwrap();
    let list: Value = serde_json::from_slice(&resp.body).unwrap();
    let mut out: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `BulkOptions::skip_unchanged` (D25): every deployment is planned first; those the server
/// already matches get no write (their schedules and automations keep their ids), the others
/// are applied as usual with the plan's read reused, and a pause made on the server counts as
/// a change (re-applying unpauses it, as Prefect's apply does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_all_skip_unchanged_writes_only_what_changed() {
    let api = prefect::server().api_url().to_owned();
    let s = suffix();
    let (ingest, publish) = (format!("ingest-{s}"), format!("publish-{s}"));
    let mut definitions: Vec<Value> = full_definitions(&ingest, &publish)
        .as_array()
        .unwrap()
        .clone();
    let (dir, _) = project(&Value::Array(definitions.clone()));
    let items = build_all(&definitions, dir.path());
    let direct = PrefectClient::new(ClientConfig::new(api.clone()).unwrap()).unwrap();
    let first = apply_all(&direct, &items, &BulkOptions::default(), |_| {}).await;
    let ids: Vec<uuid::Uuid> = first.into_iter().map(|r| r.unwrap().id()).collect();
    let read = |i: usize| {
        let direct = &direct;
        let (flow, name) = (
            items[i].0.flow_name.clone().unwrap(),
            items[i].0.name.clone(),
        );
        async move { direct.read_deployment_by_name(&flow, &name).await.unwrap() }
    };
    let schedule_ids = |d: &prefab_schemas::api::Deployment| -> Vec<String> {
        let mut out: Vec<String> = d
            .schedules
            .iter()
            .flatten()
            .map(|s| s.id.to_string())
            .collect();
        out.sort();
        out
    };
    let schedules_before = schedule_ids(&read(2).await);
    let automations_before = related_automations(&direct, &ids[3].to_string()).await;
    assert_eq!(automations_before.len(), 2);

    // Nothing changed: one read by name and one automations read per deployment, no write.
    let proxy = CountingProxy::start(&api).await;
    let client = PrefectClient::new(ClientConfig::new(proxy.url.clone()).unwrap()).unwrap();
    let events = Mutex::new(Vec::new());
    let again = apply_all(
        &client,
        &items,
        &BulkOptions::default().skip_unchanged(true),
        |e| events.lock().unwrap().push(e),
    )
    .await;
    let outcomes: Vec<BulkOutcome> = again.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes,
        ids.iter()
            .map(|id| BulkOutcome::Unchanged(*id))
            .collect::<Vec<_>>()
    );
    let written: Vec<_> = proxy
        .exchanges
        .lock()
        .unwrap()
        .iter()
        .filter(|(line, _)| !line.starts_with("GET "))
        .cloned()
        .collect();
    assert!(written.is_empty(), "no write expected: {written:?}");
    assert_eq!(proxy.count_prefix("GET /api/deployments/name/"), 5);
    let unchanged_events = events
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e, ApplyEvent::Unchanged { .. }))
        .count();
    assert_eq!(unchanged_events, 5);
    assert_eq!(schedule_ids(&read(2).await), schedules_before);
    assert_eq!(
        related_automations(&direct, &ids[3].to_string()).await,
        automations_before
    );

    // A changed field, a pause made on the server and a new definition are applied; the rest
    // is left alone.
    definitions[0]["tags"] = json!(["etl", "weekday"]);
    definitions.push(
        json!({"entrypoint": "flows/jobs.py:publish", "name": "added", "flow_name": publish,
               "cron": "0 12 * * *"}),
    );
    write_definitions(dir.path(), &Value::Array(definitions.clone()));
    let items = build_all(&definitions, dir.path());
    let mut pause = prefab_schemas::api::DeploymentUpdate::default();
    pause.paused = Some(true);
    direct.update_deployment(ids[2], &pause).await.unwrap();
    let proxy = CountingProxy::start(&api).await;
    let client = PrefectClient::new(ClientConfig::new(proxy.url.clone()).unwrap()).unwrap();
    let results = apply_all(
        &client,
        &items,
        &BulkOptions::default().skip_unchanged(true),
        |_| {},
    )
    .await;
    let outcomes: Vec<BulkOutcome> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes[0], BulkOutcome::Applied(ids[0]));
    assert_eq!(outcomes[1], BulkOutcome::Unchanged(ids[1]));
    assert_eq!(outcomes[2], BulkOutcome::Applied(ids[2]));
    assert_eq!(outcomes[3], BulkOutcome::Unchanged(ids[3]));
    assert_eq!(outcomes[4], BulkOutcome::Unchanged(ids[4]));
    assert!(outcomes[5].was_applied());
    // The plan's read is the apply's: still one read by name per deployment.
    assert_eq!(proxy.count_prefix("GET /api/deployments/name/"), 6);
    assert_eq!(proxy.count_prefix("PATCH /api/deployments/"), 2);
    assert_eq!(proxy.count("POST /api/deployments/"), 1);
    assert_eq!(proxy.count("POST /api/flows/"), 1);
    let tags = read(0).await.tags.unwrap();
    assert_eq!(tags, vec!["etl".to_owned(), "weekday".to_owned()]);
    assert_eq!(read(2).await.paused, Some(false), "the re-apply unpauses");
    assert_eq!(
        related_automations(&direct, &ids[3].to_string()).await,
        automations_before,
        "the unchanged deployment's automations keep their ids"
    );
}

/// `prefab deploy --skip-unchanged`: the result column and the summary count what was left
/// alone; `--pre-read` cannot be combined with it.
#[test]
fn deploy_skip_unchanged_reports_unchanged_deployments() {
    let server = prefect::server();
    let api = server.api_url();
    let s = suffix();
    let (ingest, publish) = (format!("ingest-{s}"), format!("publish-{s}"));
    let mut definitions = full_definitions(&ingest, &publish);
    let (dir, file) = project(&definitions);
    let (code, applied) = run_json(api, "deploy", &file, &["--skip-unchanged"]);
    assert_eq!(code, 0, "{applied:#}");
    assert_eq!(applied["summary"]["applied"], 5, "{applied:#}");
    assert_eq!(applied["summary"]["unchanged"], 0, "{applied:#}");

    definitions[4]["description"] = json!("Run by hand");
    write_definitions(dir.path(), &definitions);
    let (code, again) = run_json(api, "deploy", &file, &["--skip-unchanged"]);
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(again["summary"]["applied"], 1, "{again:#}");
    assert_eq!(again["summary"]["unchanged"], 4, "{again:#}");
    let results: Vec<&str> = again["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged",
            "applied"
        ]
    );
    // Unchanged deployments still show their next runs and ids.
    assert_eq!(
        again["deployments"][0]["id"],
        applied["deployments"][0]["id"]
    );
    assert_eq!(
        again["deployments"][0]["next_runs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let out = prefab(api)
        .args(["deploy", "--skip-unchanged", "--pre-read", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = prefab(api)
        .args(["deploy", "--skip-unchanged", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 applied, 5 unchanged, 0 failed"),
        "{}",
        text(&out)
    );
}
