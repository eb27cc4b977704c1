//! Mirroring an object-store prefix into the destination (storage.md §4, Q11).
//!
//! Prefect runs fsspec's `fs.get("<netloc>/<path>/", destination, recursive=True)`: every object
//! under the prefix is written to `<destination>/<key relative to the prefix>`, existing files
//! are overwritten and local files without an object are left alone. prefab does the same, with
//! these guarantees on top:
//!
//! - The listing comes first: a pull whose listing fails (missing bucket, refused connection,
//!   bad credentials) has touched nothing, not even created the destination.
//! - Each file is downloaded into a temporary file beside it and renamed into place, so a failed
//!   or interrupted pull never leaves a half-written file.
//! - Unchanged objects are not downloaded again. `<destination>/.prefab-manifest.json` records,
//!   per key, the object's size and ETag (or last-modified time when the store has no ETags)
//!   and the local file's size and modification time after prefab wrote it. An object counts as
//!   unchanged when its listing entry matches the record and the local file still has the
//!   recorded size and mtime; a file edited locally is downloaded again. A warm pull is one
//!   LIST and no GET.
//! - Mirror mode (`delete_stale`) removes local files whose objects are gone, but only files
//!   the manifest says prefab wrote and that were not modified since.
//!
//! Downloads run `PullOptions::concurrency` at a time (default 16).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::RemoteStorage;
use super::settings::MetadataFallback;
use crate::StorageError;
use crate::storage::{PullOptions, PullProgress, PullReport, RunnerStorage};
use crate::urls::{strip_auth, strip_auth_in_text};

/// The manifest's file name in the destination.
pub(crate) const MANIFEST: &str = ".prefab-manifest.json";
/// Prefix of prefab's temporary files (the manifest shares the `.prefab` prefix).
const TEMP_PREFIX: &str = ".prefab-tmp-";
const MANIFEST_VERSION: u32 = 1;
/// Files up to this size are compared byte for byte with the file they replace, so that a
/// re-download of identical content is reported as unchanged.
const COMPARE_LIMIT: u64 = 16 * 1024 * 1024;

const HINT_BUCKET: &str = "Hint: Verify the bucket name and region.";
const HINT_PERMISSIONS: &str = "Hint: Check your storage permissions and credentials.";
const HINT_PATH: &str = "Hint: Verify the storage path exists.";
const HINT_NETWORK: &str = "Hint: Check network connectivity and the storage endpoint URL.";

/// Prefect's hint for a failed remote pull (`_get_remote_storage_error_hint`): the first
/// pattern found, case-insensitively, in the error text. prefab adds object_store's own
/// wordings of the same failures (a refused connection, a missing bucket or container, a
/// redirect to another region, `Forbidden`), and only counts `403` as a whole number (so that
/// a duration such as `1.403s` does not look like a permission error).
pub(crate) fn error_hint(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    let has = |p: &str| lower.contains(p);
    if has("nosuchbucket") {
        return Some(HINT_BUCKET);
    }
    if has("accessdenied") || has_number(&lower, "403") {
        return Some(HINT_PERMISSIONS);
    }
    if has("nosuchkey") {
        return Some(HINT_PATH);
    }
    if has("connectionerror") || has("endpointconnectionerror") || has("connectionrefusederror") {
        return Some(HINT_NETWORK);
    }
    // object_store / reqwest / cloud wordings.
    if has("bucket not found")
        || has("specified bucket does not exist")
        || has("containernotfound")
        || has("incorrectly configured region")
        || has("permanentredirect")
    {
        return Some(HINT_BUCKET);
    }
    if has("permission denied")
        || has("forbidden")
        || has("unauthenticated")
        || has("invalidaccesskeyid")
        || has("signaturedoesnotmatch")
        || has("authenticationfailed")
        || has_number(&lower, "401")
    {
        return Some(HINT_PERMISSIONS);
    }
    if has("no objects under") {
        return Some(HINT_PATH);
    }
    if has("connection refused")
        || has("tcp connect error")
        || has("dns error")
        || has("failed to lookup address")
        || has("error sending request")
        || has("connection reset")
        || has("operation timed out")
    {
        return Some(HINT_NETWORK);
    }
    None
}

/// Whether `number` occurs in `text` not as part of a longer number (or a decimal).
fn has_number(text: &str, number: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(number).any(|(i, m)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + m.len()).copied();
        let numeric = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit() || b == b'.');
        !numeric(before) && !numeric(after)
    })
}

/// What went wrong inside a pull, before it is turned into Prefect's message.
#[derive(Debug)]
enum Failure {
    Store(object_store::Error),
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    Empty(String),
}

impl Failure {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Failure {
        let path = path.to_path_buf();
        move |source| Failure::Io {
            action,
            path,
            source,
        }
    }

    /// The error and its sources, one sentence each (object_store's messages repeat their
    /// sources sometimes; a repeat is left out).
    fn text(&self) -> String {
        match self {
            Failure::Store(e) => chain_text(e),
            Failure::Io {
                action,
                path,
                source,
            } => format!("{action} {}: {source}", path.display()),
            Failure::Empty(text) => text.clone(),
        }
    }
}

fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// One entry of the manifest: the object as listed and the file prefab wrote for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
    local_size: u64,
    local_mtime_ns: u64,
}

impl Record {
    /// Whether the listing entry `meta` describes the object this record was made from.
    fn same_object(&self, meta: &ObjectMeta) -> bool {
        self.size == meta.size
            && match &meta.e_tag {
                Some(etag) => self.etag.as_ref() == Some(etag),
                None => {
                    self.etag.is_none()
                        && self.last_modified.as_deref()
                            == Some(meta.last_modified.to_rfc3339().as_str())
                }
            }
    }

    /// Whether the local file is still the one prefab wrote.
    fn same_file(&self, metadata: &std::fs::Metadata) -> bool {
        metadata.is_file()
            && metadata.len() == self.local_size
            && mtime_ns(metadata) == Some(self.local_mtime_ns)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    url: String,
    objects: BTreeMap<String, Record>,
}

impl Manifest {
    /// The manifest of `destination` if it was written by a pull of `url`; anything else (no
    /// manifest, another URL, an unreadable file) starts empty.
    fn load(destination: &Path, url: &str) -> Manifest {
        let path = destination.join(MANIFEST);
        let empty = || Manifest {
            version: MANIFEST_VERSION,
            url: url.to_owned(),
            objects: BTreeMap::new(),
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return empty();
        };
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if m.version == MANIFEST_VERSION && m.url == url => m,
            Ok(_) => empty(),
            Err(e) => {
                tracing::warn!(
                    "ignoring unreadable pull manifest {}: {e}; every object is downloaded again",
                    path.display()
                );
                empty()
            }
        }
    }

    fn save(&self, destination: &Path) -> Result<(), Failure> {
        let path = destination.join(MANIFEST);
        let bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        let temp = TempFile::create_sync(destination)?;
        std::fs::write(&temp.path, bytes).map_err(Failure::io("writing", &temp.path))?;
        temp.persist(&path)
    }
}

fn mtime_ns(metadata: &std::fs::Metadata) -> Option<u64> {
    let since = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// A temporary file beside its target, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempFile {
    fn name() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "{TEMP_PREFIX}{}-{}-{nanos:x}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn create_sync(dir: &Path) -> Result<TempFile, Failure> {
        let path = dir.join(Self::name());
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(Failure::io("creating", &path))?;
        Ok(TempFile { path, armed: true })
    }

    async fn create(dir: &Path) -> Result<(TempFile, tokio::fs::File), Failure> {
        let path = dir.join(Self::name());
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(Failure::io("creating", &path))?;
        Ok((TempFile { path, armed: true }, file))
    }

    fn persist(mut self, target: &Path) -> Result<(), Failure> {
        std::fs::rename(&self.path, target).map_err(Failure::io("renaming into", target))?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One object to mirror.
struct Entry {
    rel: String,
    meta: ObjectMeta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Added,
    Updated,
    Unchanged,
}

struct Downloaded {
    rel: String,
    change: Change,
    bytes: u64,
    record: Record,
}

/// `<destination>/<rel>`, one component per `/`-separated part.
fn local_path(destination: &Path, rel: &str) -> PathBuf {
    let mut path = destination.to_path_buf();
    path.extend(rel.split('/'));
    path
}

/// The key of `meta` relative to `prefix` as `/`-separated local path components, or why it
/// cannot be mirrored. Keys are taken literally, as S3 lists them and as object_store's local
/// filesystem lists file names (an in-memory object put at `Path::from("a~b")` is stored as
/// `a%7Eb`: publish with `Path::parse` to keep such characters).
fn relative_key(meta: &ObjectMeta, prefix: &ObjectPath) -> Option<Result<String, String>> {
    let parts: Vec<String> = meta
        .location
        .prefix_match(prefix)?
        .map(|p| p.as_ref().to_owned())
        .collect();
    if parts.is_empty() {
        return None; // the prefix itself (a "directory" marker object)
    }
    for part in &parts {
        if part.is_empty()
            || part == "."
            || part == ".."
            || part.contains(['\\', '\0'])
            || (cfg!(windows) && part.contains(':'))
        {
            return Some(Err(format!(
                "object '{}' has a key that is not a safe local path",
                meta.location
            )));
        }
        if part.starts_with(".prefab-") {
            return Some(Err(format!(
                "object '{}' uses a name reserved for prefab's own files (.prefab-…)",
                meta.location
            )));
        }
    }
    Some(Ok(parts.join("/")))
}

/// Lists the prefix and turns the listing into the entries to mirror (sorted by key).
async fn list(store: &dyn ObjectStore, prefix: &ObjectPath) -> Result<Vec<Entry>, Failure> {
    let listing: Vec<ObjectMeta> = store
        .list((!prefix.as_ref().is_empty()).then_some(prefix))
        .try_collect()
        .await
        .map_err(Failure::Store)?;
    let mut entries: Vec<Entry> = Vec::with_capacity(listing.len());
    for meta in listing {
        match relative_key(&meta, prefix) {
            None => {}
            Some(Ok(rel)) => entries.push(Entry { rel, meta }),
            Some(Err(why)) => tracing::warn!("skipping {why}"),
        }
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    // A key that is also a "directory" of other keys: a zero-byte folder marker (S3 consoles
    // create them) is skipped silently; anything else cannot be both a file and a directory.
    let dirs: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| {
            e.rel
                .match_indices('/')
                .map(move |(i, _)| &e.rel[..i])
                .collect::<Vec<_>>()
        })
        .collect();
    let dirs: BTreeSet<String> = dirs.into_iter().map(str::to_owned).collect();
    entries.retain(|e| {
        if !dirs.contains(&e.rel) {
            return true;
        }
        if e.meta.size > 0 {
            tracing::warn!(
                "skipping object '{}': other objects use its key as a directory",
                e.meta.location
            );
        }
        false
    });
    Ok(entries)
}

/// Downloads one object into place (temporary file + rename).
async fn download(
    store: Arc<dyn ObjectStore>,
    destination: PathBuf,
    entry: Entry,
) -> Result<Downloaded, Failure> {
    let target = local_path(&destination, &entry.rel);
    let dir = target.parent().unwrap_or(&destination).to_path_buf();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(Failure::io("creating", &dir))?;
    let (temp, mut file) = TempFile::create(&dir).await?;
    let result = store
        .get(&entry.meta.location)
        .await
        .map_err(Failure::Store)?;
    // The object may have changed since the listing: record what was actually downloaded.
    let got = result.meta.clone();
    let mut stream = result.into_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Failure::Store)?;
        bytes += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(Failure::io("writing", &temp.path))?;
    }
    file.flush()
        .await
        .map_err(Failure::io("writing", &temp.path))?;
    drop(file);

    let change = match tokio::fs::metadata(&target).await {
        Ok(old) if old.is_file() => {
            if old.len() == bytes
                && bytes <= COMPARE_LIMIT
                && same_content(&temp.path, &target).await
            {
                Change::Unchanged
            } else {
                Change::Updated
            }
        }
        _ => Change::Added,
    };
    if change == Change::Unchanged {
        drop(temp);
    } else {
        temp.persist(&target)?;
    }
    let local = tokio::fs::metadata(&target)
        .await
        .map_err(Failure::io("reading", &target))?;
    let listed = &entry.meta;
    let meta = if got.e_tag.is_some() && got.e_tag != listed.e_tag {
        &got
    } else {
        listed
    };
    Ok(Downloaded {
        rel: entry.rel,
        change,
        bytes,
        record: Record {
            size: meta.size,
            etag: meta.e_tag.clone(),
            last_modified: meta
                .e_tag
                .is_none()
                .then(|| meta.last_modified.to_rfc3339()),
            local_size: local.len(),
            local_mtime_ns: mtime_ns(&local).unwrap_or(0),
        },
    })
}

async fn same_content(a: &Path, b: &Path) -> bool {
    match (tokio::fs::read(a).await, tokio::fs::read(b).await) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Removes `dir` and its parents up to (not including) `root` while they are empty.
fn prune_empty_dirs(root: &Path, mut dir: &Path) {
    while dir != root && dir.starts_with(root) {
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
}

/// The pull: lists `storage`'s prefix and mirrors it into its destination.
pub(crate) async fn pull(
    storage: &RemoteStorage,
    options: &PullOptions,
) -> Result<PullReport, StorageError> {
    let config = storage.object_store_config()?;
    let store = config.build()?;
    let mut secrets = storage.secret_texts();
    secrets.extend(config.secret_values());
    // Longest first, so that a secret containing another is replaced whole.
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    let mirror = Mirror {
        store,
        prefix: config.prefix_path(),
        destination: storage.destination(),
        url: strip_auth(storage.url()),
        delete_stale: options.delete_stale || storage.delete_stale(),
        metadata_fallback: config.metadata_fallback(),
    };
    tracing::debug!(
        "Pulling contents from remote storage '{}' to '{}'...",
        mirror.url,
        mirror.destination.display()
    );
    mirror
        .run(options)
        .await
        .map_err(|failure| mirror.error(&failure, &secrets))
}

/// Everything one pull needs.
pub(crate) struct Mirror {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: ObjectPath,
    pub(crate) destination: PathBuf,
    /// The URL without credentials.
    pub(crate) url: String,
    pub(crate) delete_stale: bool,
    /// The instance metadata endpoint credentials may be asked of last, so that its failure
    /// is reported as missing credentials.
    pub(crate) metadata_fallback: Option<MetadataFallback>,
}

impl Mirror {
    /// Prefect's message, `Failed to pull contents from remote storage '<url>' to '<dest>'`,
    /// then `. <hint>` when one applies, then ` Cause: <what failed>` (`. Cause: …` without a
    /// hint); credentials removed.
    fn error(&self, failure: &Failure, secrets: &[String]) -> StorageError {
        let cause = failure.text();
        let mut message = format!(
            "Failed to pull contents from remote storage '{}' to '{}'",
            self.url,
            self.destination.display()
        );
        if let Some(fallback) = &self.metadata_fallback
            && fallback.hosts.iter().any(|h| cause.contains(h.as_str()))
        {
            // Not a permission problem of the bucket: nothing to sign with. Say where
            // credentials come from; the metadata endpoint's answer is the cause.
            message.push_str(&format!(
                ": {}. The instance metadata endpoint ({}), asked last, gave none{}. Cause: ",
                fallback.no_credentials, fallback.endpoint, fallback.skip
            ));
        } else if let Some(hint) = error_hint(&cause) {
            message.push_str(". ");
            message.push_str(hint);
            message.push_str(" Cause: ");
        } else {
            message.push_str(". Cause: ");
        }
        message.push_str(&cause);
        StorageError::Remote {
            message: strip_auth_in_text(&message, secrets),
        }
    }

    async fn run(&self, options: &PullOptions) -> Result<PullReport, Failure> {
        options.emit(PullProgress::Phase("listing".into()));
        let entries = list(self.store.as_ref(), &self.prefix).await?;
        if entries.is_empty() {
            return Err(Failure::Empty(format!(
                "no objects under '{}/'",
                self.url.trim_end_matches('/')
            )));
        }

        // Nothing has been written so far.
        let destination = &self.destination;
        let fresh = !destination.exists();
        std::fs::create_dir_all(destination).map_err(Failure::io("creating", destination))?;
        let mut manifest = Manifest::load(destination, &self.url);
        let mut report = PullReport::new(destination.clone());
        report.fresh = fresh;

        let listed: BTreeSet<String> = entries.iter().map(|e| e.rel.clone()).collect();
        let mut jobs = Vec::new();
        for entry in entries {
            let unchanged = manifest.objects.get(&entry.rel).is_some_and(|record| {
                record.same_object(&entry.meta)
                    && std::fs::metadata(local_path(destination, &entry.rel))
                        .is_ok_and(|m| record.same_file(&m))
            });
            if unchanged {
                report.unchanged += 1;
            } else {
                jobs.push(entry);
            }
        }

        let total = jobs.len() as u64;
        options.emit(PullProgress::Started { total: Some(total) });
        let mut downloads = futures::stream::iter(jobs)
            .map(|entry| download(Arc::clone(&self.store), destination.clone(), entry))
            .buffer_unordered(options.concurrency.max(1));
        let mut done = 0u64;
        let mut failure = None;
        while let Some(result) = downloads.next().await {
            match result {
                Ok(d) => {
                    done += 1;
                    report.bytes_downloaded += d.bytes;
                    match d.change {
                        Change::Added => report.added.push(d.rel.clone()),
                        Change::Updated => report.updated.push(d.rel.clone()),
                        Change::Unchanged => report.unchanged += 1,
                    }
                    manifest.objects.insert(d.rel, d.record);
                    options.emit(PullProgress::Advanced {
                        done,
                        total: Some(total),
                        bytes: report.bytes_downloaded,
                    });
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(downloads);

        if failure.is_none() {
            self.settle_stale(&listed, &mut manifest, &mut report);
        }
        // Saved even after a failed download, so that the files that did arrive are not
        // downloaded again.
        let saved = manifest.save(destination);
        if let Some(failure) = failure {
            return Err(failure);
        }
        saved?;

        report.added.sort();
        report.updated.sort();
        report.removed.sort();
        tracing::debug!(
            "Pulled '{}' into '{}': {} added, {} updated, {} removed, {} unchanged, {} bytes",
            self.url,
            destination.display(),
            report.added.len(),
            report.updated.len(),
            report.removed.len(),
            report.unchanged,
            report.bytes_downloaded
        );
        Ok(report)
    }

    /// Manifest entries whose objects are gone: in mirror mode the local file is deleted if
    /// prefab wrote it and nobody changed it since; otherwise the entry is kept while the file
    /// exists (it still describes a file prefab wrote).
    fn settle_stale(
        &self,
        listed: &BTreeSet<String>,
        manifest: &mut Manifest,
        report: &mut PullReport,
    ) {
        let stale: Vec<String> = manifest
            .objects
            .keys()
            .filter(|k| !listed.contains(*k))
            .cloned()
            .collect();
        for rel in stale {
            let path = local_path(&self.destination, &rel);
            let record = &manifest.objects[&rel];
            match std::fs::symlink_metadata(&path) {
                Err(_) => {
                    manifest.objects.remove(&rel);
                }
                Ok(m) if !self.delete_stale => {
                    if !m.is_file() {
                        manifest.objects.remove(&rel);
                    }
                }
                Ok(m) if record.same_file(&m) => match std::fs::remove_file(&path) {
                    Ok(()) => {
                        manifest.objects.remove(&rel);
                        report.removed.push(rel);
                        if let Some(parent) = path.parent() {
                            prune_empty_dirs(&self.destination, parent);
                        }
                    }
                    Err(e) => tracing::warn!(
                        "could not remove {} (its object is gone from {}): {e}",
                        path.display(),
                        self.url
                    ),
                },
                Ok(_) => {
                    tracing::warn!(
                        "keeping {}: its object is gone from {}, but the file was changed locally",
                        path.display(),
                        self.url
                    );
                    manifest.objects.remove(&rel);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefect_hint_table() {
        let cases = [
            ("NoSuchBucket: the bucket does not exist", Some(HINT_BUCKET)),
            ("AccessDenied", Some(HINT_PERMISSIONS)),
            (
                "An error occurred (403) when calling",
                Some(HINT_PERMISSIONS),
            ),
            ("NoSuchKey: missing", Some(HINT_PATH)),
            ("ConnectionError: boom", Some(HINT_NETWORK)),
            (
                "EndpointConnectionError: Could not connect",
                Some(HINT_NETWORK),
            ),
            ("ConnectionRefusedError: [Errno 111]", Some(HINT_NETWORK)),
            ("something else entirely", None),
        ];
        for (text, hint) in cases {
            assert_eq!(error_hint(text), hint, "{text}");
        }
        // object_store wordings.
        assert_eq!(
            error_hint(
                "Generic S3 error: Error performing GET http://127.0.0.1:1/b in 1.403s - HTTP error: error sending request: tcp connect error: Connection refused (os error 111)"
            ),
            Some(HINT_NETWORK)
        );
        assert_eq!(
            error_hint("Server returned non-2xx status code: 403 Forbidden"),
            Some(HINT_PERMISSIONS)
        );
        assert_eq!(
            error_hint(
                "Received redirect without LOCATION, this normally indicates an incorrectly configured region"
            ),
            Some(HINT_BUCKET)
        );
    }

    /// An in-memory store that counts LIST and GET requests and can fail GETs of one key.
    #[derive(Debug, Default)]
    struct Counting {
        inner: object_store::memory::InMemory,
        lists: AtomicU64,
        gets: AtomicU64,
        fail_get: std::sync::Mutex<Option<String>>,
    }

    impl std::fmt::Display for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Counting")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: object_store::PutPayload,
            opts: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: object_store::PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }

        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            if self.fail_get.lock().unwrap().as_deref() == Some(location.as_ref()) {
                return Err(object_store::Error::Generic {
                    store: "Counting",
                    source: "Connection reset by peer".into(),
                });
            }
            self.inner.get_opts(location, options).await
        }

        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectPath>> {
            self.inner.delete_stream(locations)
        }

        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            self.inner.list(prefix)
        }

        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<object_store::ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }

        async fn copy_opts(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
            options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    fn mirror(store: Arc<Counting>, destination: &Path, delete_stale: bool) -> Mirror {
        Mirror {
            store,
            prefix: ObjectPath::from("code"),
            destination: destination.to_path_buf(),
            url: "memory://code".into(),
            delete_stale,
            metadata_fallback: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warm_pull_of_2000_objects_is_one_list_and_no_get() {
        const N: u64 = 2_000;
        let store = Arc::new(Counting::default());
        for i in 0..N {
            store
                .put(
                    &ObjectPath::from(format!("code/pkg{}/m{i}.py", i % 40)),
                    format!("v = {i}\n").into(),
                )
                .await
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("code");
        let m = mirror(Arc::clone(&store), &dest, false);

        let started = std::time::Instant::now();
        let cold = m.run(&PullOptions::default()).await.unwrap();
        let cold_time = started.elapsed();
        assert_eq!(cold.added.len() as u64, N);
        assert_eq!(store.lists.load(Ordering::SeqCst), 1);
        assert_eq!(store.gets.load(Ordering::SeqCst), N);

        let started = std::time::Instant::now();
        let warm = m.run(&PullOptions::default()).await.unwrap();
        let warm_time = started.elapsed();
        assert_eq!(store.lists.load(Ordering::SeqCst), 2, "one LIST");
        assert_eq!(store.gets.load(Ordering::SeqCst), N, "no GET");
        assert_eq!(warm.unchanged, N);
        assert_eq!(warm.bytes_downloaded, 0);
        eprintln!(
            "in-memory store, {N} objects: cold pull {cold_time:.2?}, warm pull {warm_time:.2?}"
        );
        assert!(
            warm_time < std::time::Duration::from_secs(2),
            "warm pull took {warm_time:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_download_leaves_no_partial_file_and_keeps_the_others() {
        let store = Arc::new(Counting::default());
        for name in ["a.py", "b.py", "c.py", "d.py"] {
            store
                .put(&ObjectPath::from(format!("code/{name}")), "x".into())
                .await
                .unwrap();
        }
        *store.fail_get.lock().unwrap() = Some("code/c.py".into());
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("code");
        let m = mirror(Arc::clone(&store), &dest, false);
        let failure = m
            .run(&PullOptions::default().with_concurrency(1))
            .await
            .unwrap_err();
        let err = m.error(&failure, &[]);
        let msg = err.to_string();
        assert!(
            msg.starts_with("Failed to pull contents from remote storage 'memory://code' to '"),
            "{msg}"
        );
        assert!(msg.contains("Connection reset by peer"), "{msg}");
        let names: Vec<String> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(TEMP_PREFIX)),
            "{names:?}"
        );
        assert!(!names.contains(&"c.py".to_owned()), "{names:?}");
        assert!(names.contains(&MANIFEST.to_owned()), "{names:?}");

        // The next pull downloads only what is missing.
        *store.fail_get.lock().unwrap() = None;
        let before = store.gets.load(Ordering::SeqCst);
        let report = m.run(&PullOptions::default()).await.unwrap();
        let fetched = store.gets.load(Ordering::SeqCst) - before;
        assert_eq!(fetched as usize, report.added.len());
        assert!(report.added.contains(&"c.py".to_owned()), "{report:?}");
        assert_eq!(report.unchanged as usize + report.added.len(), 4);
    }

    #[tokio::test]
    async fn folder_markers_and_reserved_names_are_skipped() {
        let store = Arc::new(Counting::default());
        for (key, body) in [
            ("code/pkg", ""),
            ("code/pkg/a.py", "a"),
            ("code/.prefab-manifest.json", "{}"),
            ("code/top.py", "t"),
        ] {
            store
                .put(&ObjectPath::from(key), body.into())
                .await
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("code");
        let report = mirror(store, &dest, false)
            .run(&PullOptions::default())
            .await
            .unwrap();
        assert_eq!(report.added, ["pkg/a.py", "top.py"]);
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(dest.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(manifest.url, "memory://code");
        assert_eq!(manifest.objects.len(), 2);
    }

    #[test]
    fn whole_numbers_only() {
        assert!(has_number("status 403 forbidden", "403"));
        assert!(has_number("(403)", "403"));
        assert!(!has_number("in 1.403s", "403"));
        assert!(!has_number("14035", "403"));
    }
}
