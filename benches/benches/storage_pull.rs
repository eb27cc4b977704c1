//! Storage pulls, prefab against `git clone --depth 1` and against Prefect 3.9.1's own
//! `GitRepository` / `RemoteStorage` (with s3fs), on the same servers in the same run:
//!
//! - a git repository of 2,000 files (20 directories) on the smart-HTTP test server with Basic
//!   auth: cold pull (fresh clone) and warm pull (nothing changed);
//! - an S3 prefix of 2,000 objects on a moto server: cold and warm.
//!
//! `cargo bench -p prefab-benches --bench storage_pull` (or `cargo xtask bench-compare
//! --storage`). Prints a markdown table; each figure is the median of `PREFAB_STORAGE_RUNS`
//! (default 3) runs. The servers are provisioned here, exactly as the tests provision them.

#[allow(dead_code)]
#[path = "../../tests/support/git_server.rs"]
mod git_server;
#[allow(dead_code)]
#[path = "../../tests/support/s3_server.rs"]
mod s3_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt as _;
use prefab_client::local_server::PythonEnvSpec;
use prefab_storage::{GitCredentials, GitRepository, PullOptions, RemoteStorage, RunnerStorage};

const FILES: usize = 2_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn content() -> BTreeMap<String, Vec<u8>> {
    (0..FILES)
        .map(|i| {
            (
                format!("pkg{:02}/module_{i:04}.py", i % 20),
                format!(
                    "\"\"\"Module {i}.\"\"\"\n\nVALUE = {i}\n\n\ndef f():\n    return VALUE * 2\n"
                )
                .repeat(8)
                .into_bytes(),
            )
        })
        .collect()
}

fn with_auth(url: &str) -> String {
    url.replacen(
        "http://",
        &format!("http://{}:{}@", git_server::USER, git_server::PASSWORD),
        1,
    )
}

/// Runs Prefect's own pull (cold then warm) in the venv; returns (cold, warm).
fn prefect_pull(python: &Path, kind: &str, url: &str, settings: &str) -> (Duration, Duration) {
    let base = tempfile::tempdir().expect("tempdir");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/prefect_storage_pull.py"
    );
    let output = Command::new(python)
        .args([script, kind, url])
        .arg(base.path())
        .arg(settings)
        .env("PREFECT_LOGGING_LEVEL", "WARNING")
        .output()
        .expect("running Prefect");
    assert!(
        output.status.success(),
        "Prefect's pull failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON from Prefect");
    assert_eq!(
        v["files"].as_u64(),
        Some(FILES as u64),
        "Prefect pulled {v}"
    );
    (
        Duration::from_secs_f64(v["cold_s"].as_f64().unwrap()),
        Duration::from_secs_f64(v["warm_s"].as_f64().unwrap()),
    )
}

fn row(what: &str, baseline: &str, prefab: Duration, other: Duration) -> String {
    format!(
        "| {what} | {baseline} {:.3} s | {:.3} s | {:.2}× |",
        other.as_secs_f64(),
        prefab.as_secs_f64(),
        other.as_secs_f64() / prefab.as_secs_f64()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("PREFAB_STORAGE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    eprintln!("storage_pull: preparing the Prefect venv (prefect 3.9.1 + s3fs)…");
    let venv = PythonEnvSpec::new("prefect-3.9.1-s3fs", ["prefect==3.9.1", "s3fs==2026.9.0"])
        .on_progress(|line| eprintln!("storage_pull: {line}"))
        .ensure()
        .expect("the Prefect + s3fs venv");
    let python = venv.python();

    // --- git ---
    eprintln!("storage_pull: publishing {FILES} files to the git server…");
    let servers = git_server::servers();
    let repo = servers.create_repo("bench", true);
    let files = content();
    repo.publish(&files);
    let url = servers.http_url(&repo.name);
    let git_repo = |base: &Path| {
        GitRepository::builder(&url)
            .credentials(GitCredentials::username_password(
                git_server::USER,
                git_server::PASSWORD,
            ))
            .base_path(base)
            .build()
            .expect("git storage")
    };
    let (mut cold, mut warm, mut cli, mut cli_nofsync) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let base = tempfile::tempdir().unwrap();
        let storage = git_repo(base.path());
        let t = Instant::now();
        let options = if std::env::var_os("PREFAB_STORAGE_PHASES").is_some() {
            // Diagnostics: when each phase of the cold pull starts.
            let started = t;
            PullOptions::default().with_progress(std::sync::Arc::new(move |e| {
                if let prefab_storage::PullProgress::Phase(p) = e {
                    eprintln!(
                        "storage_pull: {:>7.3} s {p}",
                        started.elapsed().as_secs_f64()
                    );
                }
            }))
        } else {
            PullOptions::default()
        };
        let report = storage.pull(&options).await.expect("prefab cold git pull");
        cold.push(t.elapsed());
        assert_eq!(report.added.len(), FILES);
        let t = Instant::now();
        let report = storage.pull_code().await.expect("prefab warm git pull");
        warm.push(t.elapsed());
        assert!(report.is_unchanged());

        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let status = Command::new("git")
            .args(["clone", "-q", "--depth", "1", &with_auth(&url)])
            .arg(dir.path().join("repo"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .status()
            .expect("git clone");
        cli.push(t.elapsed());
        assert!(status.success());

        // git fsyncs the pack and refs it writes (core.fsync defaults); libgit2 does not. On a
        // disk with slow fsync that alone can take seconds, so also time git without it.
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let status = Command::new("git")
            .args([
                "-c",
                "core.fsync=none",
                "clone",
                "-q",
                "--depth",
                "1",
                &with_auth(&url),
            ])
            .arg(dir.path().join("repo"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .status()
            .expect("git clone");
        cli_nofsync.push(t.elapsed());
        assert!(status.success());
    }
    let (git_cold, git_warm, git_cli, git_cli_nofsync) =
        (median(cold), median(warm), median(cli), median(cli_nofsync));
    let mut prefect_git = Vec::new();
    for _ in 0..runs {
        prefect_git.push(prefect_pull(&python, "git", &with_auth(&url), "{}"));
    }
    let prefect_git_cold = median(prefect_git.iter().map(|p| p.0).collect());
    let prefect_git_warm = median(prefect_git.iter().map(|p| p.1).collect());
    if std::env::var("PREFAB_STORAGE_ONLY").as_deref() == Ok("git") {
        println!(
            "{}",
            row("git cold", "`git clone --depth 1`", git_cold, git_cli)
        );
        println!(
            "{}",
            row(
                "git cold",
                "`git -c core.fsync=none clone --depth 1`",
                git_cold,
                git_cli_nofsync
            )
        );
        println!(
            "{}",
            row(
                "git cold",
                "Prefect `GitRepository`",
                git_cold,
                prefect_git_cold
            )
        );
        println!(
            "{}",
            row(
                "git warm",
                "Prefect `GitRepository`",
                git_warm,
                prefect_git_warm
            )
        );
        return;
    }

    // --- S3 ---
    eprintln!("storage_pull: publishing {FILES} objects to moto…");
    let s3 = s3_server::server();
    let bucket = s3.create_bucket("bench");
    let store = s3.store(&bucket);
    futures::future::try_join_all(files.iter().map(|(rel, body)| {
        let store = store.clone();
        let key = object_store::path::Path::from(format!("deploy/{rel}"));
        let body = body.clone();
        async move { store.put(&key, body.into()).await }
    }))
    .await
    .expect("publishing objects");
    let s3_url = format!("s3://{bucket}/deploy");
    let settings = serde_json::json!({
        "key": "testing", "secret": "testing",
        "client_kwargs": {"endpoint_url": s3.endpoint(), "region_name": "us-east-1"}
    });
    let remote = |base: &Path| {
        let mut r = RemoteStorage::new(&s3_url)
            .with_settings(prefab_storage::settings_from_json(&settings).expect("settings"));
        r.set_base_path(base);
        r
    };
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let base = tempfile::tempdir().unwrap();
        let storage = remote(base.path());
        let t = Instant::now();
        let report = storage
            .pull(&PullOptions::default())
            .await
            .expect("prefab cold S3 pull");
        cold.push(t.elapsed());
        assert_eq!(report.added.len(), FILES);
        let t = Instant::now();
        let report = storage.pull_code().await.expect("prefab warm S3 pull");
        warm.push(t.elapsed());
        assert_eq!(report.bytes_downloaded, 0);
    }
    let (s3_cold, s3_warm) = (median(cold), median(warm));
    let mut prefect_s3 = Vec::new();
    for _ in 0..runs {
        prefect_s3.push(prefect_pull(
            &python,
            "remote",
            &s3_url,
            &settings.to_string(),
        ));
    }
    let prefect_s3_cold = median(prefect_s3.iter().map(|p| p.0).collect());
    let prefect_s3_warm = median(prefect_s3.iter().map(|p| p.1).collect());

    println!("| pull ({FILES} files) | baseline | prefab | baseline ÷ prefab |");
    println!("|---|---:|---:|---:|");
    println!(
        "{}",
        row(
            "git cold, smart HTTP + Basic auth",
            "`git clone --depth 1`",
            git_cold,
            git_cli
        )
    );
    println!(
        "{}",
        row(
            "git cold, smart HTTP + Basic auth",
            "`git -c core.fsync=none clone --depth 1`",
            git_cold,
            git_cli_nofsync
        )
    );
    println!(
        "{}",
        row(
            "git cold",
            "Prefect `GitRepository`",
            git_cold,
            prefect_git_cold
        )
    );
    println!(
        "{}",
        row(
            "git warm (nothing changed)",
            "Prefect `GitRepository`",
            git_warm,
            prefect_git_warm
        )
    );
    println!(
        "{}",
        row(
            "S3 cold (moto)",
            "Prefect `RemoteStorage` + s3fs",
            s3_cold,
            prefect_s3_cold
        )
    );
    println!(
        "{}",
        row(
            "S3 warm (nothing changed)",
            "Prefect `RemoteStorage` + s3fs",
            s3_warm,
            prefect_s3_warm
        )
    );
}
