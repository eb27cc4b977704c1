//! Prefect's PID lock-file protocol (storage.md §3.5 "Locking";
//! `prefect/locking/_filelock.py`), so that prefab and Prefect's Python workers pulling into
//! one directory take turns.
//!
//! The lock is the existence of a file holding the owner's PID. Taking it writes the PID into a
//! temporary file beside the lock and hard-links that file to the lock path (atomic
//! create-or-fail; `O_CREAT|O_EXCL` when the filesystem has no hard links). A waiter polls every
//! 0.1 s, without a timeout, and removes a lock whose process is gone, or one that is empty or
//! not a number and older than 5 s — both only if the file's inode did not change in between.
//! Releasing removes the file.
//!
//! ```no_run
//! # async fn demo() -> Result<(), prefab_storage::StorageError> {
//! use prefab_storage::lock::FileLock;
//!
//! let guard = FileLock::for_destination("/srv/flows/repo".as_ref()).acquire().await?;
//! // … work on /srv/flows/repo; /srv/flows/repo.lock exists until `guard` is dropped …
//! drop(guard);
//! # Ok(()) }
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::StorageError;

/// How often a waiter tries again (Prefect's `poll_interval`).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How old an empty or unreadable lock file must be before it counts as abandoned (Prefect's
/// `_STALE_EMPTY_THRESHOLD`).
pub const STALE_EMPTY_THRESHOLD: Duration = Duration::from_secs(5);

/// A lock file following Prefect's protocol. [`acquire`](FileLock::acquire) waits until the lock
/// is free and returns a [`LockGuard`] that releases it when dropped.
#[derive(Debug, Clone)]
pub struct FileLock {
    path: PathBuf,
    poll_interval: Duration,
}

impl FileLock {
    /// A lock at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileLock {
            path: path.into(),
            poll_interval: POLL_INTERVAL,
        }
    }

    /// The lock Prefect's `GitRepository.pull_code` takes for `destination`:
    /// `<destination.parent>/<destination.name>.lock`.
    pub fn for_destination(destination: &Path) -> Self {
        FileLock::new(lock_path(destination))
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits (polling every 0.1 s, with no timeout, as Prefect does) until the lock is taken.
    /// Abandoned locks (dead PID; empty or malformed and older than 5 s) are removed on the way.
    ///
    /// Errors only when the lock file cannot be created at all (for example the directory is
    /// not writable).
    pub async fn acquire(&self) -> Result<LockGuard, StorageError> {
        let mut waited = false;
        loop {
            match self.try_acquire()? {
                Some(guard) => {
                    if waited {
                        tracing::debug!("acquired lock {}", self.path.display());
                    }
                    return Ok(guard);
                }
                None => {
                    if !waited {
                        tracing::debug!(
                            "waiting for lock {} (held by another pull)",
                            self.path.display()
                        );
                        waited = true;
                    }
                    remove_stale_lock(&self.path);
                    tokio::time::sleep(self.poll_interval).await;
                }
            }
        }
    }

    /// One attempt: `Ok(Some(guard))` when the lock was taken, `Ok(None)` when another owner
    /// holds it. Does not remove stale locks.
    pub fn try_acquire(&self) -> Result<Option<LockGuard>, StorageError> {
        match write_lock(&self.path) {
            Ok(()) => Ok(Some(LockGuard {
                path: self.path.clone(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(StorageError::Lock {
                path: self.path.clone(),
                reason: format!("cannot create the lock file: {e}"),
            }),
        }
    }
}

/// `<destination.parent>/<destination.name>.lock`, as Prefect computes it with `pathlib`.
pub fn lock_path(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = destination.parent().unwrap_or(Path::new("."));
    parent.join(format!("{name}.lock"))
}

/// A held lock; dropping it removes the lock file.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    path: PathBuf,
}

impl LockGuard {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove lock {}: {e}", self.path.display()),
        }
    }
}

/// Prefect's `_write_lock`: PID into a temp file in the same directory, hard-linked to `path`.
fn write_lock(path: &Path) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let pid = std::process::id().to_string();
    let mut tmp = tempfile::Builder::new()
        .prefix(".lock_")
        .tempfile_in(parent)?;
    tmp.write_all(pid.as_bytes())?;
    tmp.flush()?;
    match std::fs::hard_link(tmp.path(), path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            // No hard links on this filesystem: O_CREAT|O_EXCL.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?;
            f.write_all(pid.as_bytes())?;
            Ok(())
        }
    }
    // `tmp` is removed when dropped (the link made a second name for it).
}

/// Whether a process with this PID exists.
pub fn is_pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without /proc (and without `unsafe` for kill(pid, 0)), ask `kill -0`.
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(true)
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(meta: &std::fs::Metadata) -> u64 {
    // No inode numbers: use the creation time as the identity of the file.
    meta.created()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Prefect's `_remove_stale_lock`.
fn remove_stale_lock(path: &Path) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let Ok(contents) = std::fs::read_to_string(path) else {
        return;
    };
    let original = inode(&meta);
    let contents = contents.trim();
    let stale = match contents.parse::<u32>() {
        Ok(pid) if !contents.is_empty() => !is_pid_alive(pid),
        _ => {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            age > STALE_EMPTY_THRESHOLD
        }
    };
    if stale
        && let Ok(now) = std::fs::metadata(path)
        && inode(&now) == original
    {
        tracing::debug!("removing stale lock {}", path.display());
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn lock_path_is_prefects() {
        assert_eq!(
            lock_path(Path::new("/base/repo")),
            PathBuf::from("/base/repo.lock")
        );
    }

    #[tokio::test]
    async fn acquire_release_and_contention() {
        let dir = tempfile::tempdir().unwrap();
        let lock = FileLock::for_destination(&dir.path().join("repo"));
        let guard = lock.acquire().await.unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text, std::process::id().to_string());
        assert!(
            lock.try_acquire().unwrap().is_none(),
            "held lock taken twice"
        );
        drop(guard);
        assert!(!lock.path().exists());
        // No stray temp files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_holders_serialise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (path, inside, max) = (path.clone(), inside.clone(), max.clone());
            tasks.push(tokio::spawn(async move {
                let _g = FileLock::new(path).acquire().await.unwrap();
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    /// The longest a test waits for a lock that should be taken: only there to turn a hang
    /// into a failure; generous, for a loaded machine.
    const HANG_GUARD: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn dead_pid_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        // A PID above the kernel's maximum cannot be alive.
        std::fs::write(&path, "4194304999").unwrap();
        // A hang guard, not a speed limit: a lock whose owner is dead is never released, so
        // an implementation that waited for it would stop here.
        let guard = tokio::time::timeout(HANG_GUARD, FileLock::new(&path).acquire())
            .await
            .expect("a dead owner's lock must be taken over")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(guard);
    }

    #[tokio::test]
    async fn fresh_empty_lock_is_respected_old_one_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        std::fs::write(&path, "").unwrap();
        remove_stale_lock(&path);
        assert!(path.exists(), "a fresh empty lock may belong to a writer");
        let old = SystemTime::now() - Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        remove_stale_lock(&path);
        assert!(!path.exists(), "an old empty lock is abandoned");
        std::fs::write(&path, "not a pid").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        remove_stale_lock(&path);
        assert!(!path.exists(), "an old malformed lock is abandoned");
    }

    #[tokio::test]
    async fn live_foreign_pid_blocks_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&path, child.id().to_string()).unwrap();
        let lock = FileLock::new(&path);
        let waiting = tokio::time::timeout(Duration::from_millis(400), lock.acquire()).await;
        assert!(waiting.is_err(), "a live owner's lock must block");
        std::fs::remove_file(&path).unwrap();
        let guard = tokio::time::timeout(HANG_GUARD, lock.acquire())
            .await
            .expect("free lock")
            .unwrap();
        drop(guard);
        let _ = child.kill();
        let _ = child.wait();
    }
}
