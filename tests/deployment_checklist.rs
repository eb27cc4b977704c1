//! Prefect's own `apply` tests (spec runner-deployment.md §15.3 and §15.8), ported and run
//! against a real Prefect 3.9.1 server: work pools and images, paused, the pool-less errors
//! (nothing written), the server's job-variable verdict, saved-block parameters as `$ref`, and
//! `apply` from synchronous code.

mod support;

use std::path::PathBuf;

use http::Method;
use prefab_client::request::{ApiRequest, Safety};
use prefab_client::{ClientConfig, ClientError, PrefectClient};
use prefab_core::deployment::{
    ApplyOptions, ApplyStep, DeploymentFile, RunnerDeployment, apply, blocking,
};
use serde_json::{Value, json};
use uuid::Uuid;

const FLOW: &str = r#"from prefect import flow


@flow(name="checklist-flow", version="1.0")
def checklist(creds, n: int = 1):
    """A flow with an untyped parameter (block references) and a typed one."""
"#;

/// A flow file in its own directory, and apply options that infer no version from it.
struct Fixture {
    dir: tempfile::TempDir,
    options: ApplyOptions,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("checklist.py"), FLOW).unwrap();
        let options = ApplyOptions::default()
            .inference_dir(dir.path())
            .env(Default::default());
        Fixture { dir, options }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn deployment(&self, definition: Value) -> RunnerDeployment {
        let mut d = json!({"entrypoint": "checklist.py:checklist"});
        d.as_object_mut()
            .unwrap()
            .extend(definition.as_object().unwrap().clone());
        DeploymentFile::from_json(&d)
            .unwrap()
            .build(&self.root())
            .unwrap()
    }
}

fn client() -> PrefectClient {
    let server = support::prefect::server();
    PrefectClient::new(ClientConfig::new(server.api_url()).unwrap()).unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

async fn send_json(c: &PrefectClient, method: Method, path: &str, body: Value) -> Value {
    let resp = c
        .send(&ApiRequest {
            method,
            path: path.to_owned(),
            body: (!body.is_null()).then(|| serde_json::to_vec(&body).unwrap()),
            safety: Safety::NotIdempotent,
            subject: "test setup",
        })
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&resp.body).unwrap()
}

/// A work pool whose job template declares `image` (a string) and `retries` (an integer).
async fn work_pool(c: &PrefectClient) -> String {
    let name = unique("pool");
    send_json(
        c,
        Method::POST,
        "/work_pools/",
        json!({
            "name": name,
            "type": "prefab-test",
            "base_job_template": {
                "job_configuration": {"image": "{{ image }}", "retries": "{{ retries }}"},
                "variables": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "title": "Image"},
                        "retries": {"type": "integer", "title": "Retries", "default": 0},
                    },
                },
            },
        }),
    )
    .await;
    name
}

/// A saved `secret` block document; its id.
async fn secret_block(c: &PrefectClient, value: &str) -> Uuid {
    let block_type = send_json(c, Method::GET, "/block_types/slug/secret", Value::Null).await;
    let schemas = send_json(
        c,
        Method::POST,
        "/block_schemas/filter",
        json!({"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}}),
    )
    .await;
    let doc = send_json(
        c,
        Method::POST,
        "/block_documents/",
        json!({
            "name": unique("secret"),
            "data": {"value": value},
            "block_schema_id": schemas[0]["id"],
            "block_type_id": block_type["id"],
        }),
    )
    .await;
    Uuid::parse_str(doc["id"].as_str().unwrap()).unwrap()
}

/// §15.3: apply with a pool and an image → pool set, `job_variables.image`, queue "default";
/// re-applying with another pool keeps the id (and, as in 3.9.1, empties the job variables);
/// `apply(image=…)` on the existing deployment sets the image and keeps the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_and_images() {
    let c = client();
    let fx = Fixture::new();
    let (pool_a, pool_b) = (work_pool(&c).await, work_pool(&c).await);
    let name = unique("pooled");
    let d = fx.deployment(json!({"name": name}));

    let options = fx
        .options
        .clone()
        .work_pool_name(&pool_a)
        .image("repo/img:1");
    let id = apply(&c, &d, &options).await.unwrap();
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(stored.work_pool_name.as_deref(), Some(pool_a.as_str()));
    assert_eq!(stored.work_queue_name.as_deref(), Some("default"));
    assert_eq!(
        stored.job_variables.as_ref().unwrap().get("image"),
        Some(&json!("repo/img:1"))
    );

    let again = apply(&c, &d, &fx.options.clone().work_pool_name(&pool_b))
        .await
        .unwrap();
    assert_eq!(again, id, "re-apply updates the same deployment");
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(stored.work_pool_name.as_deref(), Some(pool_b.as_str()));
    // Prefect's newer test suite expects the image to survive this re-apply; 3.9.1 sends
    // `job_variables: {}` in the update and the server stores `{}` — checked by running
    // 3.9.1's own `RunnerDeployment.apply` against this server. prefab sends what 3.9.1 sends.
    assert_eq!(stored.job_variables, Some(Default::default()));

    apply(&c, &d, &fx.options.clone().image("repo/img:2"))
        .await
        .unwrap();
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(stored.work_pool_name.as_deref(), Some(pool_b.as_str()));
    assert_eq!(
        stored.job_variables.as_ref().unwrap().get("image"),
        Some(&json!("repo/img:2"))
    );
}

/// §15.3: `paused=True` is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_is_stored() {
    let c = client();
    let fx = Fixture::new();
    let d = fx.deployment(json!({"name": unique("paused"), "paused": true, "cron": "0 1 * * *"}));
    let id = apply(&c, &d, &fx.options).await.unwrap();
    assert_eq!(c.read_deployment(id).await.unwrap().paused, Some(true));
}

/// §15.3: without a pool, `work_queue_name`, `job_variables` and `image` are refused before any
/// request — the server holds nothing afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_less_errors_write_nothing() {
    let c = client();
    let fx = Fixture::new();
    let cases = [
        (
            json!({"work_queue_name": "q"}),
            ApplyOptions::default(),
            "work queue",
        ),
        (
            json!({"job_variables": {"a": 1}}),
            ApplyOptions::default(),
            "job variables",
        ),
        (json!({}), ApplyOptions::default().image("img"), "image"),
    ];
    for (extra, more, what) in cases {
        let name = unique("poolless");
        let mut def = json!({"name": name});
        def.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let d = fx.deployment(def);
        let mut options = fx.options.clone();
        options.image = more.image;
        let err = apply(&c, &d, &options).await.unwrap_err();
        let text = err.to_string().to_lowercase();
        assert!(text.contains(what), "{what}: {text}");
        assert!(text.contains("work pool"), "{what}: {text}");
        assert_eq!(err.written.flow_id, None, "{what}: nothing written");
        assert_eq!(err.written.deployment_id, None, "{what}: nothing written");
        match c.read_deployment_by_name("checklist-flow", &name).await {
            Err(ClientError::NotFound { .. }) => {}
            other => panic!("{what}: expected no deployment on the server, got {other:?}"),
        }
    }
}

/// §15.3: the server's job-variable validation failure comes back as a
/// `DeploymentApplyError` carrying the server's detail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_job_variable_verdict_is_reported() {
    let c = client();
    let fx = Fixture::new();
    let pool = work_pool(&c).await;
    let d = fx.deployment(json!({
        "name": unique("badvars"),
        "work_pool_name": pool,
        "job_variables": {"retries": "many"},
    }));
    let err = apply(&c, &d, &fx.options).await.unwrap_err();
    assert_eq!(err.step, ApplyStep::CreateDeployment, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Validation failed for field 'retries'") && text.contains("'many'"),
        "the server's detail: {text}"
    );
    assert!(
        err.written.flow_id.is_some(),
        "the flow was upserted before the refusal"
    );
}

/// §15.3: a saved block parameter (and a schedule parameter) is stored as a `$ref`; re-applying
/// with another block keeps the id and updates the reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_parameters_are_references() {
    let c = client();
    let fx = Fixture::new();
    let (first, second) = (secret_block(&c, "one").await, secret_block(&c, "two").await);
    let name = unique("blocks");
    let definition = |block: Uuid| {
        fx.deployment(json!({
            "name": name,
            "parameters": {"creds": {"$ref": {"block_document_id": block.to_string()}}},
            "schedules": [{
                "interval": 3600,
                "slug": "hourly",
                "parameters": {"creds": {"$ref": {"block_document_id": block.to_string()}}},
            }],
        }))
    };
    let id = apply(&c, &definition(first), &fx.options).await.unwrap();
    let stored = c.read_deployment(id).await.unwrap();
    let reference = |b: Uuid| json!({"$ref": {"block_document_id": b.to_string()}});
    assert_eq!(
        stored.parameters.as_ref().unwrap()["creds"],
        reference(first)
    );
    let schedules = stored.schedules.as_ref().unwrap();
    let schedule = serde_json::to_value(&schedules[0]).unwrap();
    assert_eq!(schedule["slug"], "hourly");
    assert_eq!(schedule["parameters"]["creds"], reference(first));

    let again = apply(&c, &definition(second), &fx.options).await.unwrap();
    assert_eq!(again, id);
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(
        stored.parameters.as_ref().unwrap()["creds"],
        reference(second)
    );
}

/// §15.8: `apply` from synchronous code (no runtime of the caller's), with a block parameter.
#[test]
fn apply_from_synchronous_code() {
    let server = support::prefect::server();
    let c =
        prefab_client::blocking::PrefectClient::new(ClientConfig::new(server.api_url()).unwrap())
            .unwrap();
    let fx = Fixture::new();
    let block = c.block_on(secret_block(c.as_async(), "sync"));
    let name = unique("sync");
    let d = fx.deployment(json!({
        "name": name,
        "parameters": {"creds": {"$ref": {"block_document_id": block.to_string()}}},
    }));
    let id = blocking::apply(&c, &d, &fx.options).unwrap();
    let stored = c.read_deployment(id).unwrap();
    assert_eq!(stored.name, name);
    assert_eq!(
        stored.parameters.as_ref().unwrap()["creds"],
        json!({"$ref": {"block_document_id": block.to_string()}})
    );
}

/// A deployment file's `work_pools`: missing pools are created with their type, existing ones
/// are left alone (and a type mismatch is reported, not fixed); storage then becomes pull steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_work_pools_are_created_once_and_never_modified() {
    use prefab_core::deployment::{PoolOutcome, WorkPoolSpec, ensure_work_pools};
    let c = client();
    let existing = work_pool(&c).await;
    let missing = unique("declared");
    let specs: Vec<WorkPoolSpec> = serde_json::from_value(json!([
        {"name": missing, "type": "process", "description": "made by prefab"},
        {"name": existing, "type": "process"},
    ]))
    .unwrap();
    let outcomes = ensure_work_pools(&c, &specs).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            (missing.clone(), PoolOutcome::Created),
            (
                existing.clone(),
                PoolOutcome::ExistsWithOtherType {
                    actual: "prefab-test".into()
                }
            ),
        ]
    );
    let pool = c.read_work_pool(&missing).await.unwrap();
    assert_eq!(pool.r#type, "process");
    assert_eq!(pool.description.as_deref(), Some("made by prefab"));
    let again = ensure_work_pools(&c, &specs[..1]).await.unwrap();
    assert_eq!(again, vec![(missing.clone(), PoolOutcome::Exists)]);
    assert_eq!(c.read_work_pool(&missing).await.unwrap().id, pool.id);

    // With the pool in place, git storage becomes the deployment's pull step.
    let fx = Fixture::new();
    let d = fx.deployment(json!({
        "name": unique("stored"),
        "work_pool_name": missing,
        "storage": {"kind": "git", "url": "https://github.com/acme/flows.git", "branch": "main"},
    }));
    assert!(d.warnings(None).is_empty());
    let id = apply(&c, &d, &fx.options).await.unwrap();
    let stored = c.read_deployment(id).await.unwrap();
    assert_eq!(
        serde_json::to_value(&stored.pull_steps).unwrap(),
        json!([{"prefect.deployments.steps.git_clone": {
            "repository": "https://github.com/acme/flows.git", "branch": "main"}}])
    );
    assert_eq!(stored.path, None, "a storage-based deployment has no path");
}
