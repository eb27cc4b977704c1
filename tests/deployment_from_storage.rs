//! `RunnerDeployment::from_storage` against real sources: the git servers of
//! `support::git_server` (smart HTTP with Basic auth, and `file://`) and moto's S3
//! (`support::s3_server`). The flow exists only in the remote repository or bucket. The
//! expected `path` and pull steps are Prefect 3.9.1's (runner.py `from_storage`:
//! `_path = str(storage.destination).replace(tmpdir, "$STORAGE_BASE_PATH")`; spec
//! storage.md §10.3: without a pool `path` is that and there is no `pull_steps` key, with a pool
//! `path` is null and `pull_steps` is `[to_pull_step()]`; an update sends `pull_steps` too),
//! written out literally from the source, not from prefab's output.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use prefab_core::deployment::{
    DeploymentError, DeploymentFile, FromEntrypointOptions, RunnerDeployment,
};
use prefab_storage::describe::StorageDefinition;
use prefab_storage::{RunnerStorage as _, Storage};
use serde_json::{Value, json};
use support::git_server::{self, PASSWORD, USER};
use support::s3_server;
use uuid::Uuid;

const FLOW: &str = r#"from prefect import flow


@flow(name="remote-etl")
def etl(source: str, retries: int = 2):
    """Loads rows from a source."""
    return source
"#;

fn md5_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, bytes).unwrap();
    let out = Command::new("md5sum").arg(&f).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_owned()
}

fn options() -> FromEntrypointOptions {
    serde_json::from_value(json!({"cron": "0 3 * * *", "parameters": {"source": "s3://raw"}}))
        .unwrap()
}

fn storage(def: Value) -> Storage {
    let nowhere = tempfile::tempdir().unwrap();
    StorageDefinition(def)
        .build(nowhere.path(), nowhere.path())
        .unwrap()
}

/// What a loaded flow and its bodies must hold, whatever the source.
fn check_loaded(d: &RunnerDeployment, expected_path: &str, expected_step: &Value) {
    assert_eq!(d.flow_name.as_deref(), Some("remote-etl"));
    assert_eq!(d.description.as_deref(), Some("Loads rows from a source."));
    assert_eq!(
        d.version.as_deref(),
        Some(md5_hex(FLOW.as_bytes()).as_str())
    );
    assert_eq!(d.entrypoint.as_deref(), Some("flows/etl.py:etl"));
    let schema = d.parameter_openapi_schema.to_json();
    assert_eq!(schema["required"], json!(["source"]));
    assert_eq!(schema["properties"]["retries"]["default"], json!(2));
    let flow_id = Uuid::nil();

    // Served by a runner (no pool): path with the placeholder, no pull_steps key.
    let body = d.create_body(flow_id, None, None, None, None).unwrap();
    assert_eq!(body["path"], json!(expected_path));
    assert!(body.get("pull_steps").is_none(), "{body}");
    // With a work pool: path null, pull_steps = [step].
    let body = d
        .create_body(flow_id, Some("pool"), None, None, None)
        .unwrap();
    assert_eq!(body["path"], Value::Null);
    assert_eq!(body["pull_steps"], json!([expected_step]));
    assert_eq!(body["entrypoint"], json!("flows/etl.py:etl"));
    // Update: pull_steps whatever the pool.
    let body = d.update_body(None, None).unwrap();
    assert_eq!(body["pull_steps"], json!([expected_step]));
    // The temporary checkout is gone; the storage is kept.
    let storage = d.storage.as_ref().unwrap();
    assert!(
        !storage.destination().exists(),
        "the temporary directory is removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_over_http_with_basic_auth() {
    let s = git_server::servers();
    let repo = s.create_repo("from-storage", true);
    repo.publish(&git_server::files(&[
        ("flows/etl.py", FLOW),
        ("README.md", "x"),
    ]));
    let url = s.http_url(&repo.name);
    let def = json!({"kind": "git", "url": url, "credentials": {
        "username": USER, "access_token": {"$secret": {"name": "git-pass", "value": PASSWORD}}}});
    let d = RunnerDeployment::from_storage(storage(def), "flows/etl.py:etl", "nightly", options())
        .await
        .unwrap();
    let name = repo.name.trim_end_matches(".git");
    check_loaded(
        &d,
        &format!("$STORAGE_BASE_PATH/{name}"),
        &json!({"prefect.deployments.steps.git_clone": {
            "repository": url, "branch": null,
            "credentials": {"username": USER, "access_token": "{{ prefect.blocks.secret.git-pass }}"}}}),
    );
    assert!(!format!("{d:?}").contains(PASSWORD), "no secret in Debug");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_over_file_url_with_branch_and_module_entrypoint() {
    let s = git_server::servers();
    let repo = s.create_repo("from-storage-file", true);
    repo.publish(&git_server::files(&[("README.md", "main")]));
    repo.publish_tree(
        "release",
        &git_server::files(&[("flows/etl.py", FLOW), ("flows/__init__.py", "")]),
        &[],
    );
    let url = s.file_url(&repo.name);
    let def = json!({"kind": "git", "url": url, "branch": "release"});
    let d = RunnerDeployment::from_storage(storage(def.clone()), "flows.etl:etl", "mod", options())
        .await
        .unwrap();
    assert_eq!(d.flow_name.as_deref(), Some("remote-etl"));
    assert_eq!(d.entrypoint.as_deref(), Some("flows.etl:etl"));
    let name = repo.name.trim_end_matches(".git");
    let body = d.create_body(Uuid::nil(), None, None, None, None).unwrap();
    assert_eq!(
        body["path"],
        json!(format!("$STORAGE_BASE_PATH/{name}-release"))
    );
    let body = d
        .create_body(Uuid::nil(), Some("pool"), None, None, None)
        .unwrap();
    assert_eq!(
        body["pull_steps"],
        json!([{"prefect.deployments.steps.git_clone": {"repository": url, "branch": "release"}}])
    );
    // The flow is not on `main`: loading from there names the source and the missing file.
    let err = RunnerDeployment::from_storage(
        storage(json!({"kind": "git", "url": url})),
        "flows/etl.py:etl",
        "main",
        options(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DeploymentError::PulledFlowLoad { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains(&url) && msg.contains("flows/etl.py"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bucket_on_moto() {
    let s3 = s3_server::server();
    let bucket = s3.create_bucket("from-storage");
    let store = s3.store(&bucket);
    use prefab_storage::object_store::{ObjectStoreExt as _, PutPayload, path::Path as ObjectPath};
    store
        .put(
            &ObjectPath::from("code/flows/etl.py"),
            PutPayload::from(FLOW.as_bytes().to_vec()),
        )
        .await
        .unwrap();
    let def = json!({"kind": "remote", "url": format!("s3://{bucket}/code"), "settings": {
        "key": {"$secret": {"name": "aws-key", "value": s3_server::ACCESS_KEY}},
        "secret": {"$secret": {"name": "aws-secret", "value": s3_server::SECRET_KEY}},
        "client_kwargs": {"endpoint_url": s3.endpoint(), "region_name": s3_server::REGION}}});
    let d = RunnerDeployment::from_storage(storage(def), "flows/etl.py:etl", "s3", options())
        .await
        .unwrap();
    check_loaded(
        &d,
        &format!("$STORAGE_BASE_PATH/{bucket}/code"),
        &json!({"prefect.deployments.steps.pull_from_remote_storage": {
            "url": format!("s3://{bucket}/code"),
            "key": "{{ prefect.blocks.secret.aws-key }}",
            "secret": "{{ prefect.blocks.secret.aws-secret }}",
            "client_kwargs": {"endpoint_url": s3.endpoint(), "region_name": s3_server::REGION},
            "requires": "s3fs"}}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_source_is_a_clear_error_without_secrets() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/private/gone.git");
    let def = json!({"kind": "git", "url": url, "credentials": {
        "username": USER, "access_token": {"$secret": {"name": "git-pass", "value": PASSWORD}}}});
    let err = RunnerDeployment::from_storage(storage(def), "flows/etl.py:etl", "x", options())
        .await
        .unwrap_err();
    assert!(matches!(err, DeploymentError::Pull { .. }), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains(&url), "names the source: {msg}");
    assert!(msg.contains("could not pull"), "{msg}");
    assert!(!msg.contains(PASSWORD), "no secret: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_errors_come_before_the_pull() {
    let def = json!({"kind": "git", "url": "http://127.0.0.1:9/never.git"});
    let opts: FromEntrypointOptions =
        serde_json::from_value(json!({"cron": "not a cron"})).unwrap();
    let err = RunnerDeployment::from_storage(storage(def), "flows/etl.py:etl", "x", opts)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeploymentError::InvalidSchedule { .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_file_definition_is_pulled_with_build_pulled() {
    let s = git_server::servers();
    let repo = s.create_repo("from-storage-file-def", true);
    let files: BTreeMap<String, Vec<u8>> = git_server::files(&[("flows/etl.py", FLOW)]);
    repo.publish(&files);
    let url = s.public_http_url(&repo.name);
    let local = tempfile::tempdir().unwrap(); // the local tree has no flows/etl.py
    let file = DeploymentFile::from_json(&json!({
        "entrypoint": "flows/etl.py:etl", "name": "pulled",
        "parameters": {"source": "x"},
        "storage": {"kind": "git", "url": url},
    }))
    .unwrap();
    assert!(
        file.build(local.path()).is_err(),
        "the local tree lacks the flow"
    );
    let d = file.build_pulled(local.path()).await.unwrap();
    assert_eq!(d.flow_name.as_deref(), Some("remote-etl"));
    assert!(
        d.path
            .as_deref()
            .unwrap()
            .starts_with("$STORAGE_BASE_PATH/")
    );
    // Parameters the server would refuse are refused after the pull, before any request.
    let bad = DeploymentFile::from_json(&json!({
        "entrypoint": "flows/etl.py:etl", "name": "pulled",
        "parameters": {"retries": "many"},
        "storage": {"kind": "git", "url": url},
    }))
    .unwrap();
    let err = bad.build_pulled(local.path()).await.unwrap_err();
    assert!(
        matches!(err, DeploymentError::InvalidParameters { .. }),
        "{err}"
    );
}
