//! `prefab deploy` on prefect.yaml projects, for what prefab does beyond Prefect or instead of
//! it: a shared build step runs once per run, a project's own step runs through Python, a
//! missing step module and an invalid file are clear errors that apply nothing, variables and
//! blocks template as Prefect templates them, and `--skip-unchanged` / `--prune` work on a
//! project. The real binary against the workspace tests' shared Prefect 3.9.1 server.
//! (Prefect's own outcomes for the same kinds of projects: tests/conformance_prefect_yaml.rs.)

mod common;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;

use common::text;
use std::path::Path;
use std::process::Command;

use prefab_client::ClientConfig;
use prefab_client::blocking::PrefectClient;
use prefab_client::request::{ApiRequest, Safety};
use serde_json::{Value, json};

fn prefab(dir: &Path, api: &str) -> Command {
    let mut cmd = common::prefab(Some(api));
    for (key, _) in std::env::vars() {
        if key.starts_with("GITHUB_") || key == "CI" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap());
    cmd
}

fn client(api: &str) -> PrefectClient {
    PrefectClient::new(ClientConfig::new(api).unwrap()).unwrap()
}

fn post(api: &str, path: &str, body: Value) -> Value {
    let resp = client(api)
        .send(&ApiRequest {
            method: http::Method::POST,
            path: path.into(),
            body: Some(serde_json::to_vec(&body).unwrap()),
            safety: Safety::NotIdempotent,
            subject: "test object",
        })
        .unwrap();
    resp.json().unwrap()
}

fn deployment(api: &str, flow: &str, name: &str) -> Option<Value> {
    match client(api).read_deployment_by_name(flow, name) {
        Ok(d) => Some(serde_json::to_value(d).unwrap()),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("{e}"),
    }
}

/// A project directory with `flows.py` (flow `greet`, parameters `who: str = "world"`,
/// `options: dict = {}`) and `prefect.yaml` = `yaml`.
fn project(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flows.py"),
        "from prefect import flow\n\n@flow\ndef greet(who: str = \"world\", options: dict = {}):\n    \"\"\"Say hello.\"\"\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("prefect.yaml"), yaml).unwrap();
    dir
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[test]
fn a_shared_build_step_runs_once_and_its_output_templates_every_deployment() {
    let server = prefect::server();
    let api = server.api_url();
    let pool = unique("pool");
    let names: Vec<String> = (0..5).map(|_| unique("once")).collect();
    let deployments: String = names
        .iter()
        .map(|n| {
            format!(
                "- name: {n}\n  entrypoint: flows.py:greet\n  work_pool: {{name: {pool}}}\n  \
                 tags: [\"built-{{{{ build-info.stdout }}}}\"]\n"
            )
        })
        .collect();
    let dir = project(&format!(
        "work_pools:\n- {{name: {pool}, type: process}}\nbuild:\n- prefect.deployments.steps.run_shell_script:\n    id: build-info\n    script: echo ran >> runs.txt && echo v7\n    shell: true\n    stream_output: false\ndeployments:\n{deployments}"
    ));
    let out = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let runs = std::fs::read_to_string(dir.path().join("runs.txt")).unwrap();
    assert_eq!(runs.lines().count(), 1, "the build ran {runs:?}");
    for n in &names {
        let d = deployment(api, "greet", n).expect("created");
        assert_eq!(d["tags"], json!(["built-v7"]), "{d}");
        assert_eq!(d["description"], json!("Say hello."));
        assert_eq!(
            d["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"],
            json!(std::fs::canonicalize(dir.path()).unwrap().to_string_lossy())
        );
    }
}

#[test]
fn a_projects_own_step_runs_through_python_and_a_missing_module_is_named() {
    let server = prefect::server();
    let api = server.api_url();
    let pool = unique("pool");
    let name = unique("own-step");
    let dir = project(&format!(
        "work_pools:\n- {{name: {pool}, type: process}}\nbuild:\n- mysteps.make_tag:\n    id: made\n    prefix: \"{{{{ $PREFAB_TEST_PREFIX }}}}\"\ndeployments:\n- name: {name}\n  entrypoint: flows.py:greet\n  work_pool: {{name: {pool}}}\n  parameters: {{who: \"{{{{ made.tag }}}}\"}}\n"
    ));
    std::fs::write(
        dir.path().join("mysteps.py"),
        "def make_tag(prefix):\n    print('making the tag')\n    return {'tag': prefix + '-ok'}\n",
    )
    .unwrap();
    let out = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .env("PREFAB_TEST_PREFIX", "from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = deployment(api, "greet", &name).unwrap();
    assert_eq!(d["parameters"], json!({"who": "from-env-ok"}));

    // A step whose module no interpreter has: named, with the fix; nothing applied.
    let missing = unique("missing-step");
    std::fs::write(
        dir.path().join("prefect.yaml"),
        format!(
            "build:\n- prefab_no_such_pkg.steps.build_it: {{}}\ndeployments:\n- name: {missing}\n  entrypoint: flows.py:greet\n  work_pool: {{name: {pool}}}\n"
        ),
    )
    .unwrap();
    let out = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("prefab_no_such_pkg"), "{said}");
    assert!(said.contains("pip install prefab-no-such-pkg"), "{said}");
    assert!(said.contains("--python"), "{said}");
    assert!(deployment(api, "greet", &missing).is_none());
}

#[test]
fn a_file_prefect_would_skip_is_refused_with_its_line_and_nothing_is_applied() {
    let server = prefect::server();
    let api = server.api_url();
    let name = unique("refused");
    let dir = project(&format!(
        "deployments:\n- name: {name}\n  entrypoint: flows.py:greet\n  version: 1.0\n  work_pool: {{name: default}}\n"
    ));
    let out = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("deployments[0].version (line 4, column 12)"),
        "{said}"
    );
    assert!(said.contains("quote it"), "{said}");
    assert!(deployment(api, "greet", &name).is_none());
}

#[test]
fn variables_and_blocks_template_as_in_prefect_and_pull_steps_keep_them() {
    let server = prefect::server();
    let api = server.api_url();
    let pool = unique("pool");
    let name = unique("templated");
    let var = unique("opts").replace('-', "_");
    post(
        api,
        "/variables/",
        json!({"name": var, "value": {"retries": 3, "fast": true}}),
    );
    let block_type = client(api)
        .send(&ApiRequest {
            method: http::Method::GET,
            path: "/block_types/slug/secret".into(),
            body: None,
            safety: Safety::Idempotent,
            subject: "block type",
        })
        .unwrap()
        .json::<Value>()
        .unwrap();
    let schemas = post(
        api,
        "/block_schemas/filter",
        json!({"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}}),
    );
    let secret = unique("token");
    post(
        api,
        "/block_documents/",
        json!({"name": secret, "block_type_id": block_type["id"],
               "block_schema_id": schemas[0]["id"], "data": {"value": "s3cr3t"}}),
    );
    let dir = project(&format!(
        "work_pools:\n- {{name: {pool}, type: process}}\npull:\n- prefect.deployments.steps.git_clone:\n    repository: https://example.com/r.git\n    access_token: \"{{{{ prefect.blocks.secret.{secret} }}}}\"\ndeployments:\n- name: {name}\n  entrypoint: flows.py:greet\n  work_pool: {{name: {pool}}}\n  parameters:\n    options: \"{{{{ prefect.variables.{var} }}}}\"\n    who: \"{{{{ prefect.blocks.secret.{secret} }}}} and {{{{ prefect.variables.{var} }}}}\"\n"
    ));
    let out = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = deployment(api, "greet", &name).unwrap();
    // The variable's dict is written in the order the server returns its keys, as Prefect does:
    // as stored on SQLite, in JSONB order (shorter keys first) on PostgreSQL.
    let dict = match prefect::server_database() {
        prefab_client::local_server::Database::Postgres => "{'fast': True, 'retries': 3}",
        _ => "{'retries': 3, 'fast': True}",
    };
    assert_eq!(
        d["parameters"],
        json!({"options": {"retries": 3, "fast": true}, "who": format!("s3cr3t and {dict}")})
    );
    assert_eq!(
        d["pull_steps"],
        json!([{"prefect.deployments.steps.git_clone": {
            "repository": "https://example.com/r.git",
            "access_token": format!("{{{{ prefect.blocks.secret.{secret} }}}}")}}])
    );
    // The secret never shows in prefab's output.
    assert!(!text(&out).contains("s3cr3t"), "{}", text(&out));
}

#[test]
fn skip_unchanged_and_prune_work_on_a_project() {
    let server = prefect::server();
    let api = server.api_url();
    let pool = unique("pool");
    // A flow of its own, so the prune's scope (the file's flows) holds only these.
    let flow_fn = unique("prunable").replace('-', "_");
    let names: Vec<String> = (0..3).map(|_| unique("keep")).collect();
    let yaml = |names: &[String]| {
        let deployments: String = names
            .iter()
            .map(|n| {
                format!(
                    "- name: {n}\n  entrypoint: flows.py:{flow_fn}\n  work_pool: {{name: {pool}}}\n  schedules: [{{cron: '0 3 * * *'}}]\n"
                )
            })
            .collect();
        format!("work_pools:\n- {{name: {pool}, type: process}}\ndeployments:\n{deployments}")
    };
    let dir = project(&yaml(&names));
    std::fs::write(
        dir.path().join("flows.py"),
        format!("from prefect import flow\n\n@flow\ndef {flow_fn}(n: int = 1):\n    pass\n"),
    )
    .unwrap();
    let flow_name = flow_fn.replace('_', "-");
    let out = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(dir.path().join("prefect.yaml"), yaml(&names[..2])).unwrap();
    let out = prefab(dir.path(), api)
        .args([
            "deploy",
            "--all",
            "--skip-unchanged",
            "--prune",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["unchanged"], json!(2), "{report:#}");
    let deleted: Vec<&str> = report["prune"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, [names[2].as_str()], "{report:#}");
    assert!(deployment(api, &flow_name, &names[2]).is_none());
    assert!(deployment(api, &flow_name, &names[0]).is_some());
}

#[test]
fn ctrl_c_while_a_build_step_runs_stops_it_and_applies_nothing() {
    let server = prefect::server();
    let api = server.api_url();
    let pool = unique("pool");
    let name = unique("interrupted");
    let dir = project(&format!(
        "work_pools:\n- {{name: {pool}, type: process}}\nbuild:\n- prefect.deployments.steps.run_shell_script:\n    script: echo started > started.txt && sleep 60 && echo finished > finished.txt\n    shell: true\ndeployments:\n- name: {name}\n  entrypoint: flows.py:greet\n  work_pool: {{name: {pool}}}\n"
    ));
    let mut child = prefab(dir.path(), api)
        .args(["deploy", "--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !dir.path().join("started.txt").exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the build step never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // A hang guard, not a timing claim: the step sleeps 60 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("prefab still running 30 s after SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(130), "{}", text(&out));
    assert!(text(&out).contains("nothing was applied"), "{}", text(&out));
    assert!(deployment(api, "greet", &name).is_none());
    // The step's shell was killed with it: it never finishes.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!dir.path().join("finished.txt").exists());
}
