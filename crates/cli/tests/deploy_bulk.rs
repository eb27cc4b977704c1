//! Bulk apply through the `prefab` binary against a real Prefect 3.9.1 server (issue 5 §7): 200
//! deployments of one deployment file (the workload of `cargo xtask bench-compare --deploy`),
//! zero failures, and every one of them readable afterwards as defined, with its automation.
//! Also at `--concurrency 8` and with the adaptive default (issue 15): the SQLite-backed test
//! server answers concurrent writes with 503s and dropped connections, and still no deployment
//! or automation may be lost or duplicated.

mod common;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;

#[allow(dead_code)]
#[path = "../../../tests/support/bulk_deployments.rs"]
mod bulk_deployments;

use std::collections::BTreeMap;

use futures::{StreamExt as _, TryStreamExt as _};
use prefab_client::api::{DeploymentFilter, DeploymentFilterName, DeploymentFilterRequest};
use prefab_client::local_server::LocalServer;
use prefab_client::{ClientConfig, PrefectClient};
use serde_json::{Value, json};

const COUNT: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_deployments_apply_without_failure_and_read_back() {
    let (server, prefix, _, text) = deploy(COUNT, &[]);
    assert!(
        text.contains(&format!("{COUNT} applied, 0 failed")),
        "{text}"
    );
    check_server(server, &prefix, COUNT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_deployments_at_adaptive_concurrency_none_lost_none_duplicated() {
    let (server, prefix, stdout, _) = deploy(60, &["--concurrency", "auto", "--output", "json"]);
    let ids = check_report(&stdout, 60);
    let stored = check_server(server, &prefix, 60).await;
    assert_eq!(ids, stored);
}

/// Eight writers at once against a server that may take one (SQLite): a write can lose the
/// lock through all its retries. Such a deployment must be *reported* failed (exit 1), never
/// lost in silence or duplicated; a second run (the default concurrency) then applies it, and
/// the server holds every deployment once, the ones applied by the first run unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_deployments_at_concurrency_eight_none_lost_none_duplicated() {
    let server = prefect::server();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("bulk-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    bulk_deployments::write(dir.path(), &prefix, 60).unwrap();
    let (code, stdout, text) = run_deploy(
        server.api_url(),
        dir.path(),
        &["--concurrency", "8", "--output", "json"],
    );
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    let rows = doc["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), 60, "{doc:#}");
    let mut applied = BTreeMap::new();
    let mut failed = 0;
    for r in rows {
        match r["result"].as_str() {
            Some("applied") => {
                applied.insert(
                    r["name"].as_str().unwrap().to_owned(),
                    r["id"].as_str().unwrap().to_owned(),
                );
            }
            Some("failed") if r["error"].as_str().is_some_and(|e| e.contains("503")) => {
                failed += 1;
            }
            _ => panic!("neither applied nor failed on the server's 503s: {r}"),
        }
    }
    assert_eq!(
        code == 0,
        failed == 0,
        "exit {code} with {failed} failed: {text}"
    );
    if failed > 0 {
        let (code, _, text) = run_deploy(server.api_url(), dir.path(), &[]);
        assert_eq!(code, 0, "{text}");
    }
    let stored = check_server(server, &prefix, 60).await;
    for (name, id) in &applied {
        assert_eq!(stored.get(name), Some(id), "{name}");
    }
}

/// Runs `prefab deploy --file` with `args` in `dir`: exit code, stdout, stdout then stderr.
fn run_deploy(api_url: &str, dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["deploy", "--file", bulk_deployments::DEPLOYMENT_FILE];
    all.extend_from_slice(args);
    run_prefab(api_url, dir, &all)
}

/// Runs `prefab <args>` in `dir` against `api_url` (no other `PREFECT_*` setting): exit code,
/// stdout, stdout then stderr.
fn run_prefab(api_url: &str, dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = common::prefab(Some(api_url))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), stdout, text)
}

/// The production shape (PostgreSQL, Redis, two API workers): a bulk apply, a re-apply that
/// changes every deployment, then `plan` finds all of them unchanged, and every deployment and
/// automation is there exactly once, as defined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_apply_and_reapply_on_a_multi_worker_postgres_server() {
    const N: usize = 100;
    let server = prefect::multi_worker_server();
    assert_eq!(server.workers(), 2);
    assert_eq!(
        server.database(),
        prefab_client::local_server::Database::Postgres
    );
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("mw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    bulk_deployments::write(dir.path(), &prefix, N).unwrap();
    let text = prefab(server.api_url(), dir.path(), &["deploy"]);
    assert!(text.contains(&format!("{N} applied, 0 failed")), "{text}");
    stored_as_defined(server.api_url(), &prefix, N).await;

    // Re-apply with every deployment changed (another cron, another tag).
    let file = dir.path().join(bulk_deployments::DEPLOYMENT_FILE);
    let changed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"orders\"", "\"orders-v2\"");
    assert_ne!(changed, std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, changed).unwrap();
    let text = prefab(server.api_url(), dir.path(), &["deploy"]);
    assert!(text.contains(&format!("{N} applied, 0 failed")), "{text}");
    assert!(
        !text.contains("created"),
        "a re-apply creates nothing: {text}"
    );
    let (plan, text) = prefab_output(server.api_url(), dir.path(), &["plan", "--output", "json"]);
    let plan: Value =
        serde_json::from_str(&plan).unwrap_or_else(|e| panic!("plan --output json: {e}: {text}"));
    let actions = plan["deployments"].as_array().unwrap();
    assert_eq!(actions.len(), N, "{plan}");
    assert!(actions.iter().all(|d| d["action"] == "unchanged"), "{plan}");
    let stored = stored_as_defined(server.api_url(), &prefix, N).await;
    assert!(
        stored
            .values()
            .all(|d| d["tags"].as_array().unwrap().contains(&json!("orders-v2")))
    );
}

/// Runs `prefab <args> --file deployments.json` in `dir` against `api_url`; asserts success
/// and returns stdout then stderr.
fn prefab(api_url: &str, dir: &std::path::Path, args: &[&str]) -> String {
    prefab_output(api_url, dir, args).1
}

/// [`prefab`], returning stdout alone beside stdout-then-stderr.
fn prefab_output(api_url: &str, dir: &std::path::Path, args: &[&str]) -> (String, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--file", bulk_deployments::DEPLOYMENT_FILE]);
    let (code, stdout, text) = run_prefab(api_url, dir, &all);
    assert_eq!(code, 0, "prefab {args:?}: {text}");
    (stdout, text)
}

/// Writes `count` definitions under a fresh prefix and runs `prefab deploy --file` with `args`
/// on the shared server; panics unless it succeeds. Returns the server, the prefix, stdout,
/// and all the output (stdout then stderr).
fn deploy(count: usize, args: &[&str]) -> (&'static LocalServer, String, String, String) {
    let server = prefect::server();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("bulk-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    bulk_deployments::write(dir.path(), &prefix, count).unwrap();
    let (code, stdout, text) = run_deploy(server.api_url(), dir.path(), args);
    assert_eq!(code, 0, "{text}");
    (server, prefix, stdout, text)
}

/// The `--output json` report: every deployment applied, none failed; name → id.
fn check_report(stdout: &str, count: usize) -> BTreeMap<String, String> {
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        doc["summary"],
        json!({"applied": count, "unchanged": 0, "failed": 0, "invalid": 0, "not_attempted": 0}),
        "{doc:#}"
    );
    let rows = doc["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), count);
    rows.iter()
        .map(|r| {
            assert_eq!(r["result"], "applied", "{r}");
            (
                r["name"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Checks that the server holds each of the `count` deployments under `prefix` once, as
/// defined, with exactly one automation; returns name → id.
async fn check_server(
    server: &LocalServer,
    prefix: &str,
    count: usize,
) -> BTreeMap<String, String> {
    stored_as_defined(server.api_url(), prefix, count)
        .await
        .into_iter()
        .map(|(name, d)| (name, d["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// Every deployment of `prefix` on the server at `api_url` is there once, as
/// [`bulk_deployments::definitions`] defines it (tags aside: a re-apply may change them), with
/// exactly one automation; returns them by name.
async fn stored_as_defined(api_url: &str, prefix: &str, count: usize) -> BTreeMap<String, Value> {
    // Every deployment is on the server, as defined.
    let c = PrefectClient::new(ClientConfig::new(api_url).unwrap()).unwrap();
    let mut filter = DeploymentFilterRequest::default();
    let mut deployments = DeploymentFilter::default();
    let mut by_name = DeploymentFilterName::default();
    by_name.like_ = Some(Some(prefix.to_owned()));
    deployments.name = Some(Some(by_name));
    filter.deployments = Some(Some(deployments));
    let stored: BTreeMap<String, Value> = c
        .deployments(filter)
        .map_ok(|d| (d.name.clone(), serde_json::to_value(d).unwrap()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), count);
    let definitions = bulk_deployments::definitions(prefix, count);
    for definition in definitions.as_array().unwrap() {
        let name = definition["name"].as_str().unwrap();
        let d = stored
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not on the server"));
        assert_eq!(d["parameters"], definition["parameters"], "{name}");
        assert_eq!(d["entrypoint"], json!(bulk_deployments::ENTRYPOINT));
        let schedules = d["schedules"].as_array().unwrap();
        assert_eq!(schedules.len(), 1, "{name}");
        assert_eq!(
            schedules[0]["schedule"]["cron"], definition["cron"],
            "{name}"
        );
        assert_eq!(
            d["parameter_openapi_schema"]["properties"]
                .as_object()
                .unwrap()
                .len(),
            6
        );
    }
    // One automation each, owned by its deployment.
    let ids: BTreeMap<String, String> = stored
        .iter()
        .map(|(name, d)| (name.clone(), d["id"].as_str().unwrap().to_owned()))
        .collect();
    let counts: Vec<(String, usize)> = futures::stream::iter(ids)
        .map(|(name, id)| {
            let c = c.clone();
            async move {
                let related = c
                    .read_automations_related_to(&format!("prefect.deployment.{id}"))
                    .await
                    .unwrap();
                let expected = format!("{name}__automation_1");
                (name, related.iter().filter(|a| a.name == expected).count())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let wrong: Vec<_> = counts.iter().filter(|(_, n)| *n != 1).collect();
    assert!(wrong.is_empty(), "automations per deployment: {wrong:?}");
    stored
}
