//! The conformance suite every storage backend runs (object_store's `integration.rs` is the
//! model): fresh pull, re-pull after an upstream change, re-pull with nothing changed, pull into
//! an existing directory, a failing pull that leaves the old content, and two concurrent pulls
//! of one destination.
//!
//! A backend implements [`Upstream`] over a real server (git http-backend / git daemon /
//! file://, moto S3) or a local backend, and calls [`run_suite`].

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use prefab_storage::{PullReport, RunnerStorage, Storage};

/// The upstream side of a backend: where tests publish content and what storage reads it.
#[async_trait]
pub trait Upstream: Send + Sync {
    /// A short name for messages (`git-http`, `s3-moto`, …).
    fn name(&self) -> String;

    /// Replaces the upstream content with exactly `files` (relative path → content): a new
    /// commit on the branch the storage reads, or a new set of objects under its prefix
    /// (objects not listed are deleted).
    async fn publish(&self, files: &BTreeMap<String, Vec<u8>>);

    /// A storage reading the upstream, based in `base`.
    fn storage(&self, base: &Path) -> Storage;

    /// A storage with the same destination under `base` whose pull fails (wrong credentials,
    /// a missing branch or bucket, an unreachable server).
    fn failing_storage(&self, base: &Path) -> Storage;

    /// Whether a pull deletes local files whose upstream copies are gone (git does; remote
    /// storage does not by default, as in Prefect).
    fn removes_deleted_files(&self) -> bool;
}

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// Every regular file under `root` except `.git/` and prefab's own bookkeeping
/// (`.prefab-*`), relative path → content.
pub fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == ".git" || name.starts_with(".prefab") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn assert_tree(label: &str, root: &Path, expected: &BTreeMap<String, Vec<u8>>) {
    let actual = read_tree(root);
    let show = |m: &BTreeMap<String, Vec<u8>>| {
        m.iter()
            .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(
        show(&actual),
        show(expected),
        "{label}: content at {}",
        root.display()
    );
}

async fn pull(label: &str, storage: &Storage) -> PullReport {
    match storage.pull_code().await {
        Ok(report) => report,
        Err(e) => panic!("{label}: pull failed: {e}"),
    }
}

/// Runs every case of the suite against `upstream`, each in a fresh base directory.
pub async fn run_suite(upstream: &dyn Upstream) {
    let name = upstream.name();
    let v1 = files(&[("flows/a.py", "print(1)\n"), ("sub/b.txt", "b\n")]);
    let v2 = files(&[
        ("flows/a.py", "print(2)\n"),
        ("flows/c.py", "print('c')\n"),
        ("sub/b.txt", "b\n"),
    ]);

    // 1. Fresh pull.
    let base = tempfile::tempdir().unwrap();
    upstream.publish(&v1).await;
    let storage = upstream.storage(base.path());
    let report = pull(&format!("{name} fresh"), &storage).await;
    assert_eq!(report.destination, storage.destination());
    assert_tree(&format!("{name} fresh"), &storage.destination(), &v1);
    assert!(
        report.added.contains(&"flows/a.py".to_owned()),
        "{name}: fresh pull reports added files: {report:?}"
    );

    // 2. Re-pull with nothing changed.
    let report = pull(&format!("{name} unchanged"), &storage).await;
    assert!(
        report.is_unchanged(),
        "{name}: nothing changed upstream, but the pull reports {report:?}"
    );
    assert_tree(&format!("{name} unchanged"), &storage.destination(), &v1);

    // 3. Re-pull after an upstream change.
    upstream.publish(&v2).await;
    let report = pull(&format!("{name} changed"), &storage).await;
    assert_tree(&format!("{name} changed"), &storage.destination(), &v2);
    assert_eq!(
        report.updated,
        vec!["flows/a.py".to_owned()],
        "{name}: updated files in {report:?}"
    );
    assert_eq!(
        report.added,
        vec!["flows/c.py".to_owned()],
        "{name}: added files in {report:?}"
    );

    // Deletion upstream.
    let v3 = files(&[("flows/a.py", "print(2)\n"), ("sub/b.txt", "b\n")]);
    upstream.publish(&v3).await;
    let report = pull(&format!("{name} deleted"), &storage).await;
    if upstream.removes_deleted_files() {
        assert_eq!(
            report.removed,
            vec!["flows/c.py".to_owned()],
            "{name}: {report:?}"
        );
        assert_tree(&format!("{name} deleted"), &storage.destination(), &v3);
    } else {
        assert!(report.removed.is_empty(), "{name}: {report:?}");
        assert_tree(
            &format!("{name} deleted (additive)"),
            &storage.destination(),
            &v2,
        );
    }

    // 4. A failing pull leaves the previous content untouched.
    let failing = upstream.failing_storage(base.path());
    assert_eq!(
        failing.destination(),
        storage.destination(),
        "{name}: failing storage must share the destination"
    );
    let before = read_tree(&storage.destination());
    let err = failing
        .pull_code()
        .await
        .expect_err("the failing storage must fail");
    assert!(!err.to_string().is_empty());
    assert_eq!(
        read_tree(&storage.destination()),
        before,
        "{name}: a failed pull changed the checkout ({err})"
    );

    // 5. Pull into an existing, empty directory (e.g. created by a deployment tool).
    let base2 = tempfile::tempdir().unwrap();
    let storage2 = upstream.storage(base2.path());
    std::fs::create_dir_all(storage2.destination()).unwrap();
    pull(&format!("{name} existing dir"), &storage2).await;
    assert_tree(
        &format!("{name} existing dir"),
        &storage2.destination(),
        &v3,
    );

    // 6. Two concurrent pulls of one destination, fresh and after a change.
    for round in 0..2 {
        let base3 = tempfile::tempdir().unwrap();
        if round == 1 {
            let s = upstream.storage(base3.path());
            pull(&format!("{name} concurrent seed"), &s).await;
            upstream.publish(&v2).await;
        }
        let a = upstream.storage(base3.path());
        let b = upstream.storage(base3.path());
        let (ra, rb) = tokio::join!(a.pull_code(), b.pull_code());
        ra.unwrap_or_else(|e| panic!("{name}: concurrent pull A failed: {e}"));
        rb.unwrap_or_else(|e| panic!("{name}: concurrent pull B failed: {e}"));
        let expected = if round == 1 { &v2 } else { &v3 };
        if upstream.removes_deleted_files() || round == 0 {
            assert_tree(
                &format!("{name} concurrent {round}"),
                &a.destination(),
                expected,
            );
        }
    }
}
