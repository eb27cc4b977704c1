//! `prefab storage pull` as a user runs it: the real binary against the real git servers
//! (smart HTTP with Basic auth) and a real moto S3 server, configured only by the standard
//! environment variables.

#[allow(dead_code)]
#[path = "../../../tests/support/git_server.rs"]
mod git_server;
#[allow(dead_code)]
#[path = "../../../tests/support/s3_server.rs"]
mod s3_server;

use std::process::{Command, Output};

use object_store::ObjectStoreExt as _;

fn prefab() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prefab"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("PREFAB_GIT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn git_pull_with_credentials_from_the_environment() {
    let servers = git_server::servers();
    let repo = servers.create_repo("cli", true);
    repo.publish(&git_server::files(&[
        ("flows/a.py", "print(1)\n"),
        ("README.md", "hi\n"),
    ]));
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("checkout");
    let url = servers.http_url(&repo.name);
    let run = |password: &str| {
        prefab()
            .args(["storage", "pull", &url, "--git", "--dest"])
            .arg(&dest)
            .env("PREFAB_GIT_USERNAME", git_server::USER)
            .env("PREFAB_GIT_PASSWORD", password)
            .output()
            .unwrap()
    };
    let first = run(git_server::PASSWORD);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("+ flows/a.py"), "{}", text(&first));
    assert_eq!(
        std::fs::read_to_string(dest.join("flows/a.py")).unwrap(),
        "print(1)\n"
    );

    let again = run(git_server::PASSWORD);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("0 added, 0 updated, 0 removed"),
        "{}",
        text(&again)
    );

    repo.publish(&git_server::files(&[
        ("flows/a.py", "print(2)\n"),
        ("README.md", "hi\n"),
    ]));
    let wrong = run("not-the-password");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("rejected the credentials"),
        "{}",
        text(&wrong)
    );
    assert!(!text(&wrong).contains("not-the-password"));
    assert_eq!(
        std::fs::read_to_string(dest.join("flows/a.py")).unwrap(),
        "print(1)\n"
    );

    let updated = run(git_server::PASSWORD);
    assert!(
        text(&updated).contains("~ flows/a.py"),
        "{}",
        text(&updated)
    );
    for output in [&first, &again, &updated] {
        assert!(
            !text(output).contains(git_server::PASSWORD),
            "{}",
            text(output)
        );
    }
}

#[test]
fn git_flags_need_a_git_source() {
    let output = prefab()
        .args(["storage", "pull", "s3://bucket/flows", "--branch", "dev"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("--git"), "{}", text(&output));
}

#[tokio::test]
async fn s3_pull_configured_only_by_environment_variables() {
    let server = s3_server::server();
    let bucket = server.create_bucket("cli");
    let store = server.store(&bucket);
    for (key, body) in [
        ("deploy/flows/etl.py", "etl\n"),
        ("deploy/lib/util.py", "util\n"),
        ("other/x.py", "x\n"),
    ] {
        store
            .put(
                &object_store::path::Path::from(key),
                body.as_bytes().to_vec().into(),
            )
            .await
            .unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint().to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing-secret-value".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    // Without --dest: ./<bucket>/<prefix>, as Prefect names the destination.
    let output = prefab()
        .args(["storage", "pull", &format!("s3://{bucket}/deploy")])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let landed = work.path().join(&bucket).join("deploy");
    assert_eq!(
        std::fs::read_to_string(landed.join("flows/etl.py")).unwrap(),
        "etl\n"
    );
    assert_eq!(
        std::fs::read_to_string(landed.join("lib/util.py")).unwrap(),
        "util\n"
    );
    assert!(!work.path().join(&bucket).join("other").exists());

    // With --dest: the objects land in DIR itself, keeping their paths under the prefix.
    let dest = work.path().join("code");
    let output = prefab()
        .args([
            "storage",
            "pull",
            &format!("s3://{bucket}/deploy"),
            "--output",
            "json",
            "--dest",
        ])
        .arg(&dest)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["added"],
        serde_json::json!(["flows/etl.py", "lib/util.py"])
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("flows/etl.py")).unwrap(),
        "etl\n"
    );
    assert!(!text(&output).contains("testing-secret-value"));

    // A missing bucket: Prefect's message and hint, exit 1, the secret nowhere.
    let output = prefab()
        .args([
            "storage",
            "pull",
            "s3://no-such-bucket-cli/deploy",
            "--dest",
        ])
        .arg(work.path().join("missing"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let all = text(&output);
    assert!(
        all.contains("Failed to pull contents from remote storage"),
        "{all}"
    );
    assert!(
        all.contains("Hint: Verify the bucket name and region."),
        "{all}"
    );
    assert!(!all.contains("testing-secret-value"), "{all}");
}
