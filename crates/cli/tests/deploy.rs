//! `prefab deploy` as a user runs it: the real binary, the example deployment file, a real
//! Prefect 3.9.1 server (the workspace tests' shared one), read back over the API.

mod common;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;

use common::{prefab, text};

use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

fn read_deployment(api: &str, flow: &str, name: &str) -> Value {
    let client =
        prefab_client::blocking::PrefectClient::new(prefab_client::ClientConfig::new(api).unwrap())
            .unwrap();
    let d = client.read_deployment_by_name(flow, name).unwrap();
    serde_json::to_value(d).unwrap()
}

#[test]
fn the_example_file_applies_and_reapplies() {
    let server = prefect::server();
    let api = server.api_url();
    let file = format!("{EXAMPLES}/deployments.yaml");
    let first = prefab(Some(api))
        .args(["deploy", "--file", &file])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("5 applied, 0 failed"),
        "{}",
        text(&first)
    );
    let nightly = read_deployment(api, "nightly-etl", "nightly");
    assert_eq!(nightly["schedules"][0]["schedule"]["cron"], "30 2 * * *");
    assert_eq!(
        nightly["schedules"][0]["schedule"]["timezone"],
        "America/New_York"
    );
    assert_eq!(nightly["parameters"]["region"], "us");
    assert_eq!(nightly["entrypoint"], "flows/etl.py:nightly_etl");
    let props = &nightly["parameter_openapi_schema"]["properties"];
    assert_eq!(props["source"]["$ref"], "#/definitions/Source");
    // Re-applying updates the same deployment.
    let again = prefab(Some(api))
        .args(["deploy", "--file", &file])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        read_deployment(api, "nightly-etl", "nightly")["id"],
        nightly["id"]
    );
}

#[test]
fn one_broken_definition_does_not_stop_the_others() {
    let server = prefect::server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(
        dir.path().join("flows/ok.py"),
        "from prefect import flow\n\n@flow\ndef ok(n: int = 1):\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d.json"),
        r#"[{"entrypoint": "flows/ok.py:ok", "name": "fine", "interval": 600},
            {"entrypoint": "flows/ok.py:missing", "name": "broken"}]"#,
    )
    .unwrap();
    let out = prefab(Some(server.api_url()))
        .args(["deploy", "--file"])
        .arg(dir.path().join("d.json"))
        .output()
        .unwrap();
    // A definition that cannot be built is bad input (exit 2); the others are still applied.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.lines()
            .any(|l| l.starts_with("ok/fine ") && l.contains(" applied ")),
        "{all}"
    );
    assert!(
        all.lines().any(
            |l| l.starts_with("#2 broken from flows/ok.py:missing ") && l.contains(" invalid ")
        ),
        "{all}"
    );
    assert!(all.contains("1 applied, 0 failed, 1 invalid"), "{all}");
}

/// Issue 12: a flow nested deeper than Python loads is one invalid definition (exit 2), not
/// a stack overflow that stops the whole file.
#[test]
fn too_deep_flows_are_invalid_definitions_and_the_others_apply() {
    let server = prefect::server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(
        dir.path().join("flows/ok.py"),
        "from prefect import flow\n\n@flow\ndef ok_deep_neighbour(n: int = 1):\n    pass\n",
    )
    .unwrap();
    let list = format!("{}int{}", "list[".repeat(500), "]".repeat(500));
    std::fs::write(
        dir.path().join("flows/deep.py"),
        format!("from prefect import flow\n\n@flow\ndef deep(x: {list}):\n    pass\n"),
    )
    .unwrap();
    let mut chain = String::from("A0 = []\n");
    for i in 1..1500 {
        chain.push_str(&format!("A{i} = [A{}]\n", i - 1));
    }
    std::fs::write(
        dir.path().join("flows/chain.py"),
        format!("from prefect import flow\n{chain}\n@flow\ndef chain(x=A1499):\n    pass\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d.json"),
        r#"[{"entrypoint": "flows/deep.py:deep", "name": "annotation"},
            {"entrypoint": "flows/ok.py:ok_deep_neighbour", "name": "fine"},
            {"entrypoint": "flows/chain.py:chain", "name": "default"}]"#,
    )
    .unwrap();
    let out = prefab(Some(server.api_url()))
        .current_dir(dir.path())
        .args(["deploy", "--file", "d.json"])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("ok-deep-neighbour/fine ") && l.contains(" applied ")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("#1 annotation from flows/deep.py:deep ")
                && l.contains(" invalid ")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("#3 default from flows/chain.py:chain ")
                && l.contains(" invalid ")),
        "{all}"
    );
    assert!(all.contains("nested parentheses"), "{all}");
    assert!(all.contains("default of parameter \"x\""), "{all}");
    assert!(all.contains("1 applied, 0 failed, 2 invalid"), "{all}");
}

#[test]
fn deploy_from_flags() {
    let server = prefect::server();
    let out = prefab(Some(server.api_url()))
        .current_dir(EXAMPLES)
        .args([
            "deploy",
            "flows/etl.py:hourly_report",
            "--name",
            "flags",
            "--cron",
            "0 * * * *",
            "--param",
            "recipients=[\"a@example.com\"]",
            "--tag",
            "cli",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = read_deployment(server.api_url(), "hourly-report", "flags");
    assert_eq!(d["parameters"]["recipients"][0], "a@example.com");
    assert_eq!(d["tags"], serde_json::json!(["cli"]));
    assert_eq!(d["schedules"][0]["schedule"]["cron"], "0 * * * *");
}

#[test]
fn no_local_server_without_an_api_url_is_an_error_naming_the_fix() {
    let out = prefab(None)
        .args([
            "deploy",
            "--no-local-server",
            "--file",
            &format!("{EXAMPLES}/deployments.yaml"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("PREFECT_API_URL"), "{}", text(&out));
}

/// A plain-HTTP API needs no certificate authorities: on a machine without a CA bundle (a
/// minimal container) `deploy` still applies. (Before, building the HTTP client failed there.)
#[test]
fn deploy_to_an_http_server_needs_no_ca_bundle() {
    let server = prefect::server();
    let empty = tempfile::tempdir().unwrap();
    let bundle = empty.path().join("none.pem");
    std::fs::write(&bundle, "").unwrap();
    let out = prefab(Some(server.api_url()))
        .current_dir(EXAMPLES)
        .env("SSL_CERT_FILE", &bundle)
        .env("SSL_CERT_DIR", empty.path())
        .args([
            "deploy",
            "flows/etl.py:hourly_report",
            "--name",
            "no-ca-bundle",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = read_deployment(server.api_url(), "hourly-report", "no-ca-bundle");
    assert_eq!(d["name"], "no-ca-bundle");
}

/// Every 422 carries the server's detail: a negative `concurrency_limit` (Prefect's client
/// model accepts it, the server's `DeploymentCreate` refuses it) says which field and why, not
/// only "Invalid request received.".
#[test]
fn a_refused_body_shows_the_servers_detail() {
    let server = prefect::server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("f.py"),
        "from prefect import flow\n\n@flow\ndef limited(n: int = 1):\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d.json"),
        r#"{"entrypoint": "f.py:limited", "name": "negative", "concurrency_limit": -3}"#,
    )
    .unwrap();
    let out = prefab(Some(server.api_url()))
        .args(["deploy", "--file"])
        .arg(dir.path().join("d.json"))
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Invalid request received.")
            && all.contains("body.concurrency_limit")
            && all.contains("greater than 0"),
        "{all}"
    );
}
