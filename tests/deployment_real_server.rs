//! `apply` against a real Prefect 3.9.1 server: create (cron schedule + a trigger), read back,
//! re-apply (the update path), and check what the server holds.

mod support;

use std::path::Path;

use http::Method;
use prefab_client::request::{ApiRequest, Safety};
use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{ApplyOptions, DeploymentFile, apply};
use prefab_schemas::schedules::Schedule;
use serde_json::json;

fn client() -> PrefectClient {
    let server = support::prefect::server();
    PrefectClient::new(ClientConfig::new(server.api_url()).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_then_updates_on_a_real_server() {
    let c = client();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
    let name = format!("prefab-apply-{}", uuid::Uuid::new_v4().simple());
    let file = |tags: serde_json::Value| {
        DeploymentFile::from_json(&json!({
            "entrypoint": "flows/etl.py:etl_pipeline",
            "name": name,
            "cron": "0 2 * * *",
            "tags": tags,
            "parameters": {"source": "s3://raw"},
            "concurrency_limit": {"limit": 2, "collision_strategy": "CANCEL_NEW"},
            "triggers": [{"type": "event", "expect": ["prefab.test.done"],
                          "parameters": {"source": "{{ event.resource.id }}"}}],
        }))
        .unwrap()
    };
    let work = tempfile::tempdir().unwrap();
    let options = ApplyOptions::default()
        .inference_dir(work.path())
        .env(Default::default());

    // Create.
    let d = file(json!(["etl", " "])).build(&root).unwrap();
    let id = apply(&c, &d, &options).await.unwrap();
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(stored.name, name);
    assert_eq!(stored.version.as_deref(), Some("2.1.0"));
    assert_eq!(stored.paused, Some(false));
    assert_eq!(stored.tags.as_deref(), Some(&["etl".to_owned()][..]));
    assert_eq!(
        stored.concurrency_limit, None,
        "a config limit becomes a global limit"
    );
    assert_eq!(
        stored
            .concurrency_options
            .as_ref()
            .map(|o| serde_json::to_value(o).unwrap()["collision_strategy"].clone()),
        Some(json!("CANCEL_NEW"))
    );
    assert_eq!(stored.parameters.as_ref().unwrap()["source"], "s3://raw");
    assert_eq!(
        stored.entrypoint.as_deref(),
        Some("flows/etl.py:etl_pipeline")
    );
    let schedules = stored.schedules.clone().unwrap();
    assert_eq!(schedules.len(), 1);
    match &schedules[0].schedule {
        Schedule::Cron(cron) => assert_eq!(cron.cron(), "0 2 * * *"),
        other => panic!("expected a cron schedule, got {other:?}"),
    }
    let owner = format!("prefect.deployment.{id}");
    let automations = c.read_automations_related_to(&owner).await.unwrap();
    assert_eq!(automations.len(), 1);
    assert_eq!(automations[0].name, format!("{name}__automation_1"));
    let first_automation = automations[0].id;

    // Pause it server-side, then re-apply with other tags: same id, updated tags, un-paused
    // (Prefect's Q2), still exactly one schedule and one automation (the old one replaced).
    c.send(&ApiRequest {
        method: Method::PATCH,
        path: format!("/deployments/{id}"),
        body: Some(serde_json::to_vec(&json!({"paused": true})).unwrap()),
        safety: Safety::Idempotent,
        subject: "deployment",
    })
    .await
    .unwrap();
    assert_eq!(c.read_deployment(id).await.unwrap().paused, Some(true));
    let d2 = file(json!(["etl", "v2"])).build(&root).unwrap();
    let id2 = apply(&c, &d2, &options).await.unwrap();
    assert_eq!(id2, id);
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(stored.tags.unwrap(), ["etl", "v2"]);
    assert_eq!(stored.paused, Some(false));
    assert_eq!(stored.schedules.unwrap().len(), 1);
    let automations = c.read_automations_related_to(&owner).await.unwrap();
    assert_eq!(automations.len(), 1);
    assert_ne!(
        automations[0].id, first_automation,
        "the old automation is replaced"
    );

    c.delete_deployment(id).await.unwrap();
}
