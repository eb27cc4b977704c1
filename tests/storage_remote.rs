//! RemoteStorage against real object stores: moto's S3 server (configured by settings, and by
//! environment variables only), the process-global `memory://` store and `file://` — each
//! through the shared conformance suite, additive (Prefect's behaviour) and in mirror mode —
//! plus the targeted cases of storage.md §4/§12: warm pulls download nothing, local edits are
//! repaired, Prefect's error texts and hints, unsupported schemes, and no secret in errors,
//! `Debug` or logs.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use indexmap::IndexMap;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use prefab_storage::{
    PullOptions, PullProgress, RemoteStorage, RunnerStorage, SecretBlock, SettingValue, Storage,
    StorageError, settings_from_json,
};
use serde_json::json;

use support::s3_server::{self, ACCESS_KEY, REGION, SECRET_KEY};
use support::storage_suite::{Upstream, read_tree, run_suite};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A loopback port nothing listens on (bound, then released).
fn refused_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Settings that point s3fs (and prefab) at `endpoint` with the test credentials.
fn s3_settings(endpoint: &str) -> IndexMap<String, SettingValue> {
    settings_from_json(&json!({
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
    }))
    .unwrap()
}

/// Replaces everything under `prefix` in `store` with exactly `files`.
async fn publish_to(store: &dyn ObjectStore, prefix: &str, files: &BTreeMap<String, Vec<u8>>) {
    let root = ObjectPath::from(prefix);
    let existing: Vec<ObjectPath> = futures::TryStreamExt::try_collect::<Vec<_>>(
        store.list((!prefix.is_empty()).then_some(&root)),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|m| m.location)
    .collect();
    // Keys exactly as given (`Path::from` would percent-encode `~`, `%`, `#`, …).
    let key = |rel: &str| {
        let key = if prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{prefix}/{rel}")
        };
        ObjectPath::parse(&key).unwrap_or_else(|e| panic!("key {key}: {e}"))
    };
    for location in existing {
        let rel = location
            .as_ref()
            .strip_prefix(prefix)
            .unwrap()
            .trim_start_matches('/');
        if !files.contains_key(rel) {
            store.delete(&location).await.unwrap();
        }
    }
    for (rel, content) in files {
        store
            .put(&key(rel), content.clone().into())
            .await
            .unwrap_or_else(|e| panic!("publishing {rel}: {e}"));
    }
}

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn based(storage: RemoteStorage, base: &Path) -> RemoteStorage {
    let mut storage = storage;
    storage.set_base_path(base);
    storage
}

/// A log capture for the whole process (tests that read it only look for what they need).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || CaptureWriter(Arc::clone(&writer)))
            .finish();
        // Another test of this process may have installed it first: then it is ours anyway.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

fn captured_logs() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Upstreams for the conformance suite

/// Where the objects live and how the storage is configured.
enum Kind {
    /// moto, configured through settings (`key`, `secret`, `client_kwargs.endpoint_url`).
    S3Settings { endpoint: String, bucket: String },
    /// moto, configured through `AWS_*` environment variables only (no settings).
    S3Env { endpoint: String, bucket: String },
    /// The process-global `memory://` store.
    Memory,
    /// A local directory through `file://`.
    File { root: tempfile::TempDir },
}

struct Remote {
    kind: Kind,
    prefix: String,
    delete_stale: bool,
}

impl Remote {
    fn new(kind: Kind, delete_stale: bool) -> Remote {
        Remote {
            kind,
            prefix: format!("flows/{}", unique("p")),
            delete_stale,
        }
    }

    fn url(&self) -> String {
        match &self.kind {
            Kind::S3Settings { bucket, .. } | Kind::S3Env { bucket, .. } => {
                format!("s3://{bucket}/{}", self.prefix)
            }
            Kind::Memory => format!("memory://{}", self.prefix),
            Kind::File { root } => format!("file://{}/{}", root.path().display(), self.prefix),
        }
    }

    fn remote_storage(&self, base: &Path) -> RemoteStorage {
        let storage = RemoteStorage::new(self.url()).with_delete_stale(self.delete_stale);
        let storage = match &self.kind {
            Kind::S3Settings { endpoint, .. } => storage.with_settings(s3_settings(endpoint)),
            _ => storage,
        };
        based(storage, base)
    }
}

#[async_trait]
impl Upstream for Remote {
    fn name(&self) -> String {
        let kind = match self.kind {
            Kind::S3Settings { .. } => "s3-moto-settings",
            Kind::S3Env { .. } => "s3-moto-env",
            Kind::Memory => "memory",
            Kind::File { .. } => "file",
        };
        if self.delete_stale {
            format!("{kind} (delete_stale)")
        } else {
            kind.to_owned()
        }
    }

    async fn publish(&self, files: &BTreeMap<String, Vec<u8>>) {
        match &self.kind {
            Kind::S3Settings { endpoint, bucket } | Kind::S3Env { endpoint, bucket } => {
                let store = s3_server::store_at(endpoint, bucket);
                publish_to(store.as_ref(), &self.prefix, files).await;
            }
            Kind::Memory => {
                let store = RemoteStorage::memory_store();
                publish_to(store.as_ref(), &self.prefix, files).await;
            }
            Kind::File { root } => {
                let dir = root.path().join(&self.prefix);
                let _ = std::fs::remove_dir_all(&dir);
                for (rel, content) in files {
                    let path = dir.join(rel);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, content).unwrap();
                }
            }
        }
    }

    fn storage(&self, base: &Path) -> Storage {
        self.remote_storage(base).into()
    }

    fn failing_storage(&self, base: &Path) -> Storage {
        // Same destination (`<base>/<netloc>/<path>`), but an S3 endpoint that refuses
        // connections: the listing fails before anything is written.
        let remote_path = self.remote_storage(base).remote_path();
        let (bucket, path) = remote_path.split_once('/').unwrap();
        let storage = RemoteStorage::new(format!("s3://{bucket}/{path}"))
            .with_delete_stale(self.delete_stale)
            .with_settings(s3_settings(&refused_endpoint()));
        based(storage, base).into()
    }

    fn removes_deleted_files(&self) -> bool {
        self.delete_stale
    }
}

fn moto_settings_upstream(delete_stale: bool) -> Remote {
    let server = s3_server::server();
    Remote::new(
        Kind::S3Settings {
            endpoint: server.endpoint().to_owned(),
            bucket: server.create_bucket("suite"),
        },
        delete_stale,
    )
}

// ---------------------------------------------------------------------------------------------
// The conformance suite

#[tokio::test]
async fn suite_s3_moto_configured_by_settings() {
    run_suite(&moto_settings_upstream(false)).await;
}

#[tokio::test]
async fn suite_s3_moto_configured_by_settings_delete_stale() {
    run_suite(&moto_settings_upstream(true)).await;
}

/// Set in the child process of [`suite_s3_moto_configured_by_environment_only`].
const ENV_CHILD: &str = "PREFAB_TEST_S3_ENV_CHILD";

/// Environment variables are process-global and the workspace forbids `unsafe` (which
/// `std::env::set_var` needs), so this test re-runs itself as a child process whose
/// environment holds only the standard AWS variables — exactly what a user of
/// `prefab storage pull s3://bucket/prefix` against an S3-compatible server sets — and no
/// setting at all reaches the storage.
#[tokio::test]
async fn suite_s3_moto_configured_by_environment_only() {
    if let Ok(bucket) = std::env::var(ENV_CHILD) {
        // The child: AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
        // and AWS_REGION come from the parent.
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        for delete_stale in [false, true] {
            let upstream = Remote::new(
                Kind::S3Env {
                    endpoint: endpoint.clone(),
                    bucket: bucket.clone(),
                },
                delete_stale,
            );
            run_suite(&upstream).await;
        }
        // The whole bucket (no prefix) and no AWS_ALLOW_HTTP needed for an http:// endpoint
        // when the variable is absent is checked by the parent's second run.
        return;
    }
    let server = s3_server::server();
    let bucket = server.create_bucket("env");
    run_self_with_env(
        "suite_s3_moto_configured_by_environment_only",
        &[
            (ENV_CHILD, bucket.as_str()),
            ("AWS_ENDPOINT_URL", server.endpoint()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", REGION),
        ],
    );
}

const ENV_MINIMAL_CHILD: &str = "PREFAB_TEST_S3_ENV_MINIMAL_CHILD";

/// Only `AWS_ENDPOINT_URL` (an `http://` one, without `AWS_ALLOW_HTTP`) and the keys, no
/// region: boto would reach that endpoint, so prefab does too; path-style addressing; a URL
/// naming the whole bucket.
#[tokio::test]
async fn s3_environment_endpoint_url_alone_reaches_an_http_server() {
    if let Ok(bucket) = std::env::var(ENV_MINIMAL_CHILD) {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let store = s3_server::store_at(&endpoint, &bucket);
        publish_to(
            store.as_ref(),
            "",
            &files(&[("a.py", "a"), ("pkg/b.py", "b")]),
        )
        .await;
        let base = tempfile::tempdir().unwrap();
        let storage = based(RemoteStorage::new(format!("s3://{bucket}")), base.path());
        let report = storage.pull_code().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.added, ["a.py", "pkg/b.py"]);
        assert_eq!(storage.destination(), base.path().join(&bucket));
        assert_eq!(read_tree(&storage.destination()).len(), 2);
        return;
    }
    let server = s3_server::server();
    let bucket = server.create_bucket("envmin");
    run_self_with_env(
        "s3_environment_endpoint_url_alone_reaches_an_http_server",
        &[
            (ENV_MINIMAL_CHILD, bucket.as_str()),
            ("AWS_ENDPOINT_URL", server.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
}

/// Runs test `name` of this binary in a child process with exactly these `AWS_*` variables
/// (every other `AWS_*` / `AZURE_*` / `GOOGLE_*` variable of ours removed) and fails with its
/// output if it fails.
fn run_self_with_env(name: &str, vars: &[(&str, &str)]) {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("AZURE_") || key.starts_with("GOOGLE_") {
            command.env_remove(key);
        }
    }
    command.envs(vars.iter().copied());
    let output = command.output().expect("running the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child run of {name} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("1 passed"),
        "child run of {name} ran no test:\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn suite_memory() {
    run_suite(&Remote::new(Kind::Memory, false)).await;
}

#[tokio::test]
async fn suite_memory_delete_stale() {
    run_suite(&Remote::new(Kind::Memory, true)).await;
}

#[tokio::test]
async fn suite_file() {
    let root = tempfile::tempdir().unwrap();
    run_suite(&Remote::new(Kind::File { root }, false)).await;
}

#[tokio::test]
async fn suite_file_delete_stale() {
    let root = tempfile::tempdir().unwrap();
    run_suite(&Remote::new(Kind::File { root }, true)).await;
}

// ---------------------------------------------------------------------------------------------
// Targeted cases

#[tokio::test]
async fn warm_pull_downloads_nothing_and_local_edits_are_repaired() {
    let upstream = moto_settings_upstream(false);
    let content: BTreeMap<String, Vec<u8>> = (0..40)
        .map(|i| {
            (
                format!("pkg{}/mod{i}.py", i % 4),
                format!("x = {i}\n").into_bytes(),
            )
        })
        .collect();
    upstream.publish(&content).await;
    let base = tempfile::tempdir().unwrap();
    let storage = upstream.remote_storage(base.path());

    let cold = storage.pull_code().await.unwrap();
    assert!(cold.fresh);
    assert_eq!(cold.added.len(), 40);
    assert!(cold.bytes_downloaded > 0);

    let warm = storage.pull_code().await.unwrap();
    assert!(!warm.fresh);
    assert_eq!(warm.bytes_downloaded, 0, "{warm:?}");
    assert_eq!(warm.unchanged, 40, "{warm:?}");
    assert!(warm.is_unchanged(), "{warm:?}");

    // A file edited (or deleted) locally is downloaded again, and only that one.
    let edited = storage.destination().join("pkg1/mod5.py");
    std::fs::write(&edited, "x = 'edited locally'\n").unwrap();
    std::fs::remove_file(storage.destination().join("pkg2/mod6.py")).unwrap();
    let repair = storage.pull_code().await.unwrap();
    assert_eq!(repair.updated, ["pkg1/mod5.py"], "{repair:?}");
    assert_eq!(repair.added, ["pkg2/mod6.py"], "{repair:?}");
    assert_eq!(repair.unchanged, 38);
    assert_eq!(repair.bytes_downloaded, 12);
    assert_eq!(read_tree(&storage.destination()), content);
}

#[tokio::test]
async fn mirror_mode_never_deletes_files_prefab_did_not_write() {
    let upstream = Remote::new(Kind::Memory, true);
    upstream
        .publish(&files(&[
            ("a.py", "a"),
            ("old/b.py", "b"),
            ("old/c.py", "c"),
        ]))
        .await;
    let base = tempfile::tempdir().unwrap();
    let storage = upstream.remote_storage(base.path());
    storage.pull_code().await.unwrap();
    let dest = storage.destination();
    std::fs::write(dest.join("mine.txt"), "local").unwrap();
    std::fs::write(dest.join("old/notes.txt"), "local").unwrap();
    std::fs::write(dest.join("old/c.py"), "edited").unwrap();

    upstream.publish(&files(&[("a.py", "a")])).await;
    let report = storage.pull_code().await.unwrap();
    assert_eq!(report.removed, ["old/b.py"], "{report:?}");
    let tree = read_tree(&dest);
    assert_eq!(
        tree.keys().cloned().collect::<Vec<_>>(),
        ["a.py", "mine.txt", "old/c.py", "old/notes.txt"],
        "local and locally edited files stay"
    );

    // The same through PullOptions on a storage without the flag; an emptied directory goes.
    let upstream = Remote::new(Kind::Memory, false);
    upstream
        .publish(&files(&[("a.py", "a"), ("gone/b.py", "b")]))
        .await;
    let storage = upstream.remote_storage(base.path());
    storage.pull_code().await.unwrap();
    upstream.publish(&files(&[("a.py", "a")])).await;
    let additive = storage.pull_code().await.unwrap();
    assert!(additive.removed.is_empty());
    assert!(storage.destination().join("gone/b.py").exists());
    let mirrored = storage
        .pull(&PullOptions::default().with_delete_stale(true))
        .await
        .unwrap();
    assert_eq!(mirrored.removed, ["gone/b.py"]);
    assert!(!storage.destination().join("gone").exists());
}

#[tokio::test]
async fn missing_bucket_fails_with_prefects_text_and_hint_and_touches_nothing() {
    let server = s3_server::server();
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new("s3://no-such-bucket-for-prefab/flows")
            .with_settings(s3_settings(server.endpoint())),
        base.path(),
    );
    let err = storage.pull_code().await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StorageError::Remote { .. }), "{err:?}");
    assert_eq!(err.python_class(), "RuntimeError");
    assert!(
        msg.starts_with(&format!(
            "Failed to pull contents from remote storage 's3://no-such-bucket-for-prefab/flows' to '{}'. Hint: Verify the bucket name and region.",
            storage.destination().display()
        )),
        "{msg}"
    );
    assert!(msg.contains("NoSuchBucket"), "the cause is kept: {msg}");
    assert!(!base.path().join("no-such-bucket-for-prefab").exists());
}

#[tokio::test]
async fn empty_prefix_fails_like_prefect_with_the_path_hint() {
    let server = s3_server::server();
    let bucket = server.create_bucket("empty");
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new(format!("s3://{bucket}/nothing/here"))
            .with_settings(s3_settings(server.endpoint())),
        base.path(),
    );
    let msg = storage.pull_code().await.unwrap_err().to_string();
    assert!(
        msg.contains("Failed to pull contents from remote storage")
            && msg.contains("Hint: Verify the storage path exists."),
        "{msg}"
    );
    assert!(!storage.destination().exists());
}

#[tokio::test]
async fn refused_connection_fails_with_the_network_hint() {
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new("s3://bucket/flows").with_settings(s3_settings(&refused_endpoint())),
        base.path(),
    );
    let msg = storage.pull_code().await.unwrap_err().to_string();
    assert!(
        msg.contains("Failed to pull contents from remote storage 's3://bucket/flows'")
            && msg.contains("Hint: Check network connectivity and the storage endpoint URL."),
        "{msg}"
    );
    assert!(!base.path().join("bucket").exists());
}

#[tokio::test]
async fn unknown_setting_is_warned_about_and_ignored() {
    let _ = logs();
    let upstream = moto_settings_upstream(false);
    upstream.publish(&files(&[("flow.py", "x")])).await;
    let base = tempfile::tempdir().unwrap();
    let mut settings = s3_settings(match &upstream.kind {
        Kind::S3Settings { endpoint, .. } => endpoint,
        _ => unreachable!(),
    });
    settings.insert("use_listings_cache".into(), SettingValue::from(false));
    settings.insert("frobnicate_the_bucket".into(), SettingValue::from("yes"));
    let storage = based(
        RemoteStorage::new(upstream.url()).with_settings(settings),
        base.path(),
    );
    let config = storage.object_store_config().unwrap();
    assert_eq!(
        config.ignored,
        ["use_listings_cache", "frobnicate_the_bucket"]
    );
    let report = storage.pull_code().await.unwrap();
    assert_eq!(report.added, ["flow.py"]);
    let logs = captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("WARN")
            && l.contains("`frobnicate_the_bucket`")
            && l.contains("ignored")),
        "{logs}"
    );
}

#[tokio::test]
async fn unsupported_scheme_is_a_clear_error() {
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new("ftp://user:pw@example.com/flows"),
        base.path(),
    );
    let err = storage.pull_code().await.unwrap_err();
    assert!(matches!(err, StorageError::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("'ftp://'"), "{msg}");
    assert!(msg.contains("s3://") && msg.contains("gs://"), "{msg}");
    assert!(!msg.contains("pw"), "credentials in {msg}");
    assert!(!base.path().join("example.com").exists());
    // Classified as remote storage, as Prefect does; to_pull_step still works.
    let from_source =
        prefab_storage::create_storage_from_source("ftp://example.com/x", Some(60)).unwrap();
    assert!(matches!(from_source, Storage::Remote(_)));
}

#[tokio::test]
async fn secrets_never_show_in_errors_debug_or_logs() {
    let _ = logs();
    const KEY: &str = "AKIA-PREFAB-SECRET-KEY-ID-7731";
    const SECRET: &str = "prefab-secret-access-key-0099xyz";
    const TOKEN: &str = "prefab-session-token-5544qq";
    const BLOCK: &str = "prefab-block-secret-3322pp";
    let server = s3_server::server();
    let base = tempfile::tempdir().unwrap();
    for (endpoint, bucket) in [
        (refused_endpoint(), "bucket".to_owned()),
        (
            server.endpoint().to_owned(),
            "no-such-bucket-secret".to_owned(),
        ),
    ] {
        let storage = based(
            RemoteStorage::new(format!("s3://{bucket}/flows"))
                .setting("key", KEY)
                .setting("secret", SECRET)
                .setting("token", SecretBlock::saved("aws-token", TOKEN))
                .setting(
                    "client_kwargs",
                    SettingValue::from_json(&json!({
                        "endpoint_url": endpoint,
                        "aws_secret_access_key": {"$secret": {"name": "s", "value": BLOCK}},
                    }))
                    .unwrap(),
                ),
            base.path(),
        );
        let err = storage.pull_code().await.unwrap_err();
        let config = storage.object_store_config().unwrap();
        let step = storage.to_pull_step().unwrap().to_string();
        let texts = [
            ("error", err.to_string()),
            ("error Debug", format!("{err:?}")),
            ("storage Debug", format!("{storage:?}")),
            (
                "Storage Debug",
                format!("{:?}", Storage::from(storage.clone())),
            ),
            ("config Debug", format!("{config:?}")),
            ("logs", captured_logs()),
        ];
        for (what, text) in &texts {
            for secret in [KEY, SECRET, TOKEN, BLOCK] {
                assert!(!text.contains(secret), "{what} contains {secret}:\n{text}");
            }
        }
        assert!(texts[0].1.contains("Failed to pull contents"));
        // Plain-text secrets do reach the pull step, as in Prefect (Q7), with a warning.
        assert!(step.contains(KEY) && !step.contains(TOKEN), "{step}");
    }
    let logs = captured_logs();
    assert!(
        logs.contains("setting `key`") && logs.contains("plain text"),
        "Q7 warning: {logs}"
    );
}

#[tokio::test]
async fn url_credentials_are_stripped_from_errors() {
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new("http://user:hunter2pass@127.0.0.1:1/code"),
        base.path(),
    );
    let err = storage.pull_code().await.unwrap_err();
    let text = format!("{err} {err:?} {storage:?}");
    assert!(!text.contains("hunter2pass"), "{text}");
    assert!(
        err.to_string()
            .contains("Failed to pull contents from remote storage 'http://127.0.0.1:1/code'"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// storage.md §12 (tests/runner/test_storage.py, RemoteStorage)

#[test]
fn init_destination_and_remote_paths() {
    let storage = RemoteStorage::new("s3://bucket/path");
    assert_eq!(storage.url(), "s3://bucket/path");
    assert_eq!(storage.pull_interval(), Some(60));
    assert_eq!(
        storage.destination(),
        std::env::current_dir().unwrap().join("bucket/path")
    );
    let base = tempfile::tempdir().unwrap();
    let storage = based(storage, base.path());
    assert_eq!(storage.destination(), base.path().join("bucket/path"));
    assert_eq!(
        RemoteStorage::new("memory://path/to/directory/").remote_path(),
        "path/to/directory"
    );
    assert_eq!(RemoteStorage::new("s3://bucket").remote_path(), "bucket");
    assert_eq!(
        RemoteStorage::new("s3://bucket/path").required_package(),
        Some("s3fs")
    );
    assert_eq!(
        RemoteStorage::new("gs://bucket/path").required_package(),
        Some("gcsfs")
    );
    assert_eq!(
        RemoteStorage::new("unknown://bucket/path").required_package(),
        None
    );
}

#[test]
fn equality_and_repr() {
    let a = RemoteStorage::new("s3://bucket/path").setting("key", "k");
    assert_eq!(
        a,
        RemoteStorage::new("s3://bucket/path").setting("key", "k")
    );
    assert_ne!(
        a,
        RemoteStorage::new("s3://bucket/path").setting("key", "j")
    );
    assert_ne!(
        a,
        RemoteStorage::new("s3://bucket/other").setting("key", "k")
    );
    // Mirror mode and base path are not part of equality (Prefect compares url + settings).
    assert_eq!(
        a,
        RemoteStorage::new("s3://bucket/path")
            .setting("key", "k")
            .with_delete_stale(true)
    );
    assert_eq!(a.repr(), "RemoteStorage(url='s3://bucket/path')");
}

#[test]
fn pull_step_uses_placeholders_and_refuses_unsaved_secrets() {
    let storage = RemoteStorage::new("s3://bucket/path")
        .setting("key", SecretBlock::saved("aws-access-key-id", "fake"))
        .setting(
            "secret",
            SecretBlock::saved("aws-secret-access-key", "fake"),
        )
        .setting("token", SecretBlock::saved("aws-session-token", "fake"));
    assert_eq!(
        storage.to_pull_step().unwrap(),
        json!({"prefect.deployments.steps.pull_from_remote_storage": {
            "url": "s3://bucket/path",
            "key": "{{ prefect.blocks.secret.aws-access-key-id }}",
            "secret": "{{ prefect.blocks.secret.aws-secret-access-key }}",
            "token": "{{ prefect.blocks.secret.aws-session-token }}",
            "requires": "s3fs"}})
    );
    let unsaved = RemoteStorage::new("s3://bucket/path").setting(
        "key",
        SecretBlock {
            name: None,
            value: "fake".into(),
        },
    );
    let err = unsaved.to_pull_step().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not generate block placeholder for unsaved block."
    );
}

#[test]
fn filesystem_settings_resolve_secret_blocks() {
    // Prefect: key/secret/token Secret blocks with value "fake" → s3 filesystem built with
    // key="fake", secret="fake", token="fake".
    let storage = RemoteStorage::new("s3://bucket/path")
        .setting("key", SecretBlock::saved("k", "fake"))
        .setting("secret", SecretBlock::saved("s", "fake"))
        .setting("token", SecretBlock::saved("t", "fake"));
    let config = storage.object_store_config().unwrap();
    for key in [
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    ] {
        let value = config.option(key).unwrap();
        assert!(value.is_secret());
        assert_eq!(value.expose(), "fake");
    }
}

#[tokio::test]
async fn pull_code_creates_the_destination_and_downloads_nested_directories() {
    let prefix = unique("path/to/directory");
    let store = RemoteStorage::memory_store();
    publish_to(
        store.as_ref(),
        &prefix,
        &files(&[
            ("flow.py", "f"),
            ("sub/dir/deep.py", "d"),
            ("sub/other.txt", "o"),
        ]),
    )
    .await;
    // A sibling prefix sharing the first characters is not part of the pull.
    store
        .put(
            &ObjectPath::from(format!("{prefix}-sibling/x.py")),
            "no".into(),
        )
        .await
        .unwrap();
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new(format!("memory://{prefix}/")),
        base.path(),
    );
    assert_eq!(storage.destination(), base.path().join(&prefix));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let report = storage
        .pull(
            &PullOptions::default()
                .with_concurrency(2)
                .with_progress(Arc::new(move |e| sink.lock().unwrap().push(e))),
        )
        .await
        .unwrap();
    assert!(report.fresh);
    assert_eq!(report.destination, storage.destination());
    assert_eq!(
        report.added,
        ["flow.py", "sub/dir/deep.py", "sub/other.txt"]
    );
    assert_eq!(report.bytes_downloaded, 3);
    assert_eq!(
        read_tree(&storage.destination()),
        files(&[
            ("flow.py", "f"),
            ("sub/dir/deep.py", "d"),
            ("sub/other.txt", "o")
        ])
    );
    let events = events.lock().unwrap();
    assert_eq!(events[0], PullProgress::Phase("listing".into()));
    assert_eq!(events[1], PullProgress::Started { total: Some(3) });
    assert_eq!(
        events.last().unwrap(),
        &PullProgress::Advanced {
            done: 3,
            total: Some(3),
            bytes: 3
        }
    );
}

#[tokio::test]
async fn download_error_message_names_the_url_and_destination() {
    let prefix = unique("path/to/directory");
    publish_to(
        RemoteStorage::memory_store().as_ref(),
        &prefix,
        &files(&[("a/flow.py", "f")]),
    )
    .await;
    let base = tempfile::tempdir().unwrap();
    let storage = based(
        RemoteStorage::new(format!("memory://{prefix}/")),
        base.path(),
    );
    // A file where the pull needs a directory: writing fails.
    std::fs::create_dir_all(storage.destination()).unwrap();
    std::fs::write(storage.destination().join("a"), "in the way").unwrap();
    let msg = storage.pull_code().await.unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "Failed to pull contents from remote storage 'memory://{prefix}/' to '{}'",
            storage.destination().display()
        )),
        "{msg}"
    );
    // No temporary file is left behind.
    let leftovers: Vec<PathBuf> = walk(&storage.destination())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".prefab-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn unusual_file_names_keep_their_names() {
    // object_store percent-encodes `%`, `~`, `#`, … in local and in-memory paths; on S3 a key
    // is taken literally.
    let names = files(&[("a~b c%20.py", "1"), ("dir #1/[x].txt", "2")]);
    for delete_stale in [false, true] {
        let root = tempfile::tempdir().unwrap();
        let upstream = Remote::new(Kind::File { root }, delete_stale);
        upstream.publish(&names).await;
        let base = tempfile::tempdir().unwrap();
        let storage = upstream.remote_storage(base.path());
        storage.pull_code().await.unwrap();
        assert_eq!(read_tree(&storage.destination()), names);
        assert!(storage.pull_code().await.unwrap().is_unchanged());
    }
    let upstream = moto_settings_upstream(false);
    upstream.publish(&names).await;
    let base = tempfile::tempdir().unwrap();
    let storage = upstream.remote_storage(base.path());
    storage.pull_code().await.unwrap();
    assert_eq!(read_tree(&storage.destination()), names);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Measurements (printed; run with --nocapture to see them)

#[tokio::test]
async fn measure_two_thousand_objects_on_moto() {
    const N: usize = 2_000;
    let upstream = moto_settings_upstream(false);
    let content: BTreeMap<String, Vec<u8>> = (0..N)
        .map(|i| {
            (
                format!("pkg{:02}/mod{i}.py", i % 50),
                format!("# module {i}\nVALUE = {i}\n").into_bytes(),
            )
        })
        .collect();
    let store = match &upstream.kind {
        Kind::S3Settings { endpoint, bucket } => s3_server::store_at(endpoint, bucket),
        _ => unreachable!(),
    };
    let started = Instant::now();
    futures::future::try_join_all(content.iter().map(|(rel, body)| {
        let store = Arc::clone(&store);
        let key = ObjectPath::from(format!("{}/{rel}", upstream.prefix));
        let body = body.clone();
        async move { store.put(&key, body.into()).await }
    }))
    .await
    .unwrap();
    let publish = started.elapsed();
    let base = tempfile::tempdir().unwrap();
    let storage = upstream.remote_storage(base.path());

    let started = Instant::now();
    let cold = storage.pull_code().await.unwrap();
    let cold_time = started.elapsed();
    assert_eq!(cold.added.len(), N);

    let started = Instant::now();
    let warm = storage.pull_code().await.unwrap();
    let warm_time = started.elapsed();
    assert_eq!(warm.unchanged, N as u64);
    assert_eq!(warm.bytes_downloaded, 0);
    let mut out = std::io::stderr();
    writeln!(
        out,
        "moto, {N} objects: publish {publish:.2?}, cold pull {cold_time:.2?} ({} bytes), warm pull {warm_time:.2?}",
        cold.bytes_downloaded
    )
    .unwrap();
}
