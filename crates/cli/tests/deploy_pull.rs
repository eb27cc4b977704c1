//! `prefab deploy --pull` as a user runs it: the real binary, a flow that exists only in a
//! repository of the real git servers, applied to the real Prefect 3.9.1 server (the workspace
//! tests' shared one) and read back over the API.

mod common;
#[allow(dead_code)]
#[path = "../../../tests/support/git_server.rs"]
mod git_server;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;

use common::text;
use std::process::Command;

use serde_json::{Value, json};

const FLOW: &str = r#"from prefect import flow


@flow(name="pulled-etl")
def etl(source: str, retries: int = 2):
    """Loads rows from a source."""
    return source
"#;

fn prefab(api_url: &str) -> Command {
    let mut cmd = common::prefab(Some(api_url));
    for (key, _) in std::env::vars() {
        if key.starts_with("PREFAB_GIT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn client(api: &str) -> prefab_client::blocking::PrefectClient {
    prefab_client::blocking::PrefectClient::new(prefab_client::ClientConfig::new(api).unwrap())
        .unwrap()
}

fn read_deployment(api: &str, flow: &str, name: &str) -> Value {
    serde_json::to_value(client(api).read_deployment_by_name(flow, name).unwrap()).unwrap()
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[test]
fn pull_with_source_loads_the_flow_from_the_repository() {
    let server = prefect::server();
    let git = git_server::servers();
    let repo = git.create_repo("deploy-pull", true);
    repo.publish(&git_server::files(&[("flows/etl.py", FLOW)]));
    let url = git.public_http_url(&repo.name);
    let empty = tempfile::tempdir().unwrap(); // no flows/ here
    let name = unique("from-source");
    let out = prefab(server.api_url())
        .current_dir(empty.path())
        .args(["deploy", "--pull", "--source", &url, "flows/etl.py:etl"])
        .args(["--name", &name, "--param", "source=s3://raw"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = read_deployment(server.api_url(), "pulled-etl", &name);
    assert_eq!(d["entrypoint"], "flows/etl.py:etl");
    let repo_dir = repo.name.trim_end_matches(".git");
    assert_eq!(d["path"], json!(format!("$STORAGE_BASE_PATH/{repo_dir}")));
    assert_eq!(d["description"], "Loads rows from a source.");
    assert_eq!(d["parameters"]["source"], "s3://raw");
    assert_eq!(
        d["parameter_openapi_schema"]["properties"]["retries"]["default"],
        2
    );
    // Without --pull the entrypoint is read from the local tree, which lacks it.
    let out = prefab(server.api_url())
        .current_dir(empty.path())
        .args([
            "deploy",
            "--source",
            &url,
            "flows/etl.py:etl",
            "--name",
            &name,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn pull_with_a_file_pulls_only_definitions_with_storage() {
    let server = prefect::server();
    let git = git_server::servers();
    let repo = git.create_repo("deploy-pull-file", true);
    repo.publish(&git_server::files(&[("flows/etl.py", FLOW)]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(
        dir.path().join("flows/local.py"),
        "from prefect import flow\n\n@flow\ndef local_flow(n: int = 1):\n    pass\n",
    )
    .unwrap();
    let (remote_name, local_name) = (unique("remote"), unique("local"));
    let file = json!([
        {"entrypoint": "flows/etl.py:etl", "name": remote_name, "interval": 3600,
         "parameters": {"source": "db"},
         "storage": {"kind": "git", "url": git.http_url(&repo.name), "credentials": {
             "username": git_server::USER,
             "access_token": {"$secret": {"name": "git-pass", "value": git_server::PASSWORD}}}}},
        {"entrypoint": "flows/local.py:local_flow", "name": local_name},
    ]);
    std::fs::write(dir.path().join("d.json"), file.to_string()).unwrap();
    let out = prefab(server.api_url())
        .args(["deploy", "--pull", "--file"])
        .arg(dir.path().join("d.json"))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("2 applied, 0 failed"), "{all}");
    assert!(
        !all.contains(git_server::PASSWORD),
        "no secret in the output"
    );
    let remote = read_deployment(server.api_url(), "pulled-etl", &remote_name);
    let repo_dir = repo.name.trim_end_matches(".git");
    assert_eq!(
        remote["path"],
        json!(format!("$STORAGE_BASE_PATH/{repo_dir}"))
    );
    assert_eq!(remote["schedules"][0]["schedule"]["interval"], 3600.0);
    let local = read_deployment(server.api_url(), "local-flow", &local_name);
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(local["path"], json!(cwd.to_string_lossy()));
}

#[test]
fn parameters_the_server_refuses_are_bad_input_and_nothing_is_applied() {
    let server = prefect::server();
    let git = git_server::servers();
    let repo = git.create_repo("deploy-pull-bad", true);
    repo.publish(&git_server::files(&[("flows/etl.py", FLOW)]));
    let name = unique("bad-params");
    let empty = tempfile::tempdir().unwrap();
    let out = prefab(server.api_url())
        .current_dir(empty.path())
        .args([
            "deploy",
            "--pull",
            "--source",
            &git.public_http_url(&repo.name),
        ])
        .args([
            "flows/etl.py:etl",
            "--name",
            &name,
            "--param",
            "retries=\"many\"",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    for want in [
        "pulled-etl/",
        "parameters.retries",
        "rule `type`",
        "enforce_parameter_schema",
    ] {
        assert!(all.contains(want), "missing {want:?}: {all}");
    }
    let err = client(server.api_url())
        .read_deployment_by_name("pulled-etl", &name)
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn pull_with_an_entrypoint_needs_a_source() {
    let out = prefab("http://127.0.0.1:9/api")
        .args(["deploy", "--pull", "flows/etl.py:etl", "--name", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--source"), "{}", text(&out));
}

/// A repository that cannot be reached is a failed pull, not an invalid definition: exit 1,
/// "could not pull" naming the URL without its credentials, for `deploy` and `plan`.
#[test]
fn an_unreachable_repository_is_a_pull_failure_not_bad_input() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://deployer:tok3n-s3cret@127.0.0.1:{port}/team/flows.git");
    let empty = tempfile::tempdir().unwrap();
    for command in ["deploy", "plan"] {
        let out = prefab("http://127.0.0.1:9/api")
            .current_dir(empty.path())
            .args([command, "--pull", "--source", &url, "flows/etl.py:etl"])
            .args(["--name", "unreachable"])
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{command}: {all}");
        assert!(
            all.contains("could not pull")
                && all.contains(&format!("127.0.0.1:{port}/team/flows.git")),
            "{command}: {all}"
        );
        assert!(!all.contains("tok3n-s3cret"), "{command}: {all}");
        assert!(!all.contains("invalid"), "{command}: {all}");
    }
    // A one-letter user name is not a secret: replacing it everywhere mangled the message
    // ("Co***ld not connect").
    let url = format!("http://u:tok3n-s3cret@127.0.0.1:{port}/team/flows.git");
    let out = prefab("http://127.0.0.1:9/api")
        .current_dir(empty.path())
        .args(["deploy", "--pull", "--source", &url, "flows/etl.py:etl"])
        .args(["--name", "unreachable"])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("tok3n-s3cret"), "{all}");
    assert!(
        all.contains("could not pull") && !all.contains("Co***ld"),
        "{all}"
    );
}
