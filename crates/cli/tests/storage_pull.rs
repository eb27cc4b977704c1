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

/// A metadata endpoint that answers 403 to everything (what a non-EC2 network often does at
/// 169.254.169.254); its URL and the count of connections it got.
fn forbidding_metadata_endpoint() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (url, count)
}

/// S3 without any credentials says so, and where credentials may come from, instead of the
/// metadata endpoint's bare "403"; with AWS_EC2_METADATA_DISABLED=true the endpoint is not
/// asked at all.
#[test]
fn s3_without_credentials_says_where_credentials_come_from() {
    use std::sync::atomic::Ordering;
    let (metadata, connections) = forbidding_metadata_endpoint();
    let work = tempfile::tempdir().unwrap();
    let run = |disabled: bool| {
        let mut cmd = prefab();
        cmd.args(["storage", "pull", "s3://bucket/flows", "--dest"])
            .arg(work.path().join("out"))
            // Nothing listens there: no S3 request may succeed by accident.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_METADATA_ENDPOINT", &metadata);
        if disabled {
            cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        }
        cmd.output().unwrap()
    };
    for disabled in [false, true] {
        let before = connections.load(Ordering::SeqCst);
        let out = run(disabled);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        for needle in [
            "no AWS credentials were found",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "`anon: true`",
            "AWS_EC2_METADATA_DISABLED",
        ] {
            assert!(
                all.contains(needle),
                "disabled={disabled}: {needle:?} in\n{all}"
            );
        }
        let asked = connections.load(Ordering::SeqCst) - before;
        if disabled {
            assert_eq!(asked, 0, "the metadata endpoint was asked\n{all}");
        } else {
            assert!(asked > 0, "the metadata endpoint was not asked\n{all}");
            assert!(all.contains(&metadata) && all.contains("403"), "{all}");
        }
    }
}

/// A URL, the variables pointing its cloud's metadata endpoint at ours, and what the message
/// must say.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a [&'a str]);

/// Google Cloud Storage and Azure without credentials: the same message, naming each cloud's
/// own sources, instead of the metadata endpoint's 403.
#[test]
fn gcs_and_azure_without_credentials_say_where_credentials_come_from() {
    let (metadata, connections) = forbidding_metadata_endpoint();
    let host = metadata.trim_start_matches("http://").to_owned();
    let work = tempfile::tempdir().unwrap();
    let cases: [Case; 2] = [
        (
            "gs://bucket/flows",
            vec![
                ("GCE_METADATA_HOST", host.clone()),
                ("GCE_METADATA_IP", host.clone()),
            ],
            &[
                "no Google Cloud credentials were found",
                "GOOGLE_APPLICATION_CREDENTIALS",
                "gcloud auth application-default login",
            ],
        ),
        (
            "az://container/flows",
            vec![(
                "AZURE_MSI_ENDPOINT",
                format!("{metadata}/metadata/identity/oauth2/token"),
            )],
            &[
                "no Azure credentials were found",
                "AZURE_STORAGE_ACCOUNT_KEY",
                "`anon: true`",
            ],
        ),
    ];
    for (url, env, needles) in cases {
        let mut cmd = prefab();
        for (key, _) in std::env::vars() {
            if key.starts_with("GOOGLE_") || key.starts_with("AZURE_") || key.starts_with("GCE_") {
                cmd.env_remove(key);
            }
        }
        // No gcloud application-default credentials from the real home directory.
        cmd.env("HOME", work.path()).env_remove("CLOUDSDK_CONFIG");
        cmd.args(["storage", "pull", url, "--dest"])
            .arg(work.path().join("out"));
        if url.starts_with("az://") {
            cmd.args(["--setting", "account_name=prefabtest"]);
        }
        for (key, value) in &env {
            cmd.env(key, value);
        }
        let before = connections.load(std::sync::atomic::Ordering::SeqCst);
        let out = cmd.output().unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{url}: {all}");
        for needle in needles {
            assert!(all.contains(needle), "{url}: {needle:?} in\n{all}");
        }
        assert!(all.contains(&host) && all.contains("403"), "{url}: {all}");
        assert!(
            connections.load(std::sync::atomic::Ordering::SeqCst) > before,
            "{url}: the metadata endpoint was not asked\n{all}"
        );
    }
}
