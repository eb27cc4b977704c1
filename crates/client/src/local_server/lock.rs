//! A cross-process exclusive lock on a file.
//!
//! It is an OS advisory lock (`flock(2)` through [`File::try_lock`]), not a "lock file exists"
//! convention: the kernel releases it when the holder exits or crashes, so a stale lock cannot
//! outlive its process and needs no age heuristics. The file itself stays on disk (deleting a
//! lock file while another process waits on it would let two holders in); it records the
//! holder's PID only so that a waiter can say whom it waits for. Files opened by `std` are
//! close-on-exec, so a server spawned while the lock is held does not inherit it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::LocalServerError;

/// How often a waiter retries.
const POLL: Duration = Duration::from_millis(100);

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Takes the lock on `path` (created if missing), waiting up to `timeout`. `on_wait` is
    /// called once, with the recorded holder, if the lock is busy at first.
    pub(crate) fn acquire(
        path: &Path,
        timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<FileLock, LocalServerError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(LocalServerError::io("open lock file", path))?;
        let started = Instant::now();
        let mut on_wait = Some(on_wait);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if let Some(notify) = on_wait.take() {
                        notify(&holder(&mut file));
                    }
                    if started.elapsed() >= timeout {
                        return Err(LocalServerError::LockTimedOut {
                            lock: PathBuf::from(path),
                            waited: started.elapsed(),
                            holder: holder(&mut file),
                        });
                    }
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::Error(e)) => {
                    return Err(LocalServerError::io("lock", path)(e));
                }
            }
        }
        // Only informative (see the module docs), so a failed write does not fail the lock.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "pid {}", std::process::id()));
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first just makes it prompt even if
        // the handle were leaked.
        let _ = self.file.unlock();
    }
}

/// The holder recorded in the lock file.
fn holder(file: &mut File) -> String {
    let mut recorded = String::new();
    let _ = file
        .rewind()
        .and_then(|()| file.read_to_string(&mut recorded));
    let recorded = recorded.trim();
    if recorded.is_empty() {
        "an unknown process".to_owned()
    } else {
        recorded.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_then_times_out_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = FileLock::acquire(&path, Duration::ZERO, |_| {}).unwrap();
        let mut waited_for = String::new();
        let err = FileLock::acquire(&path, Duration::from_millis(250), |h| {
            waited_for = h.to_owned();
        })
        .unwrap_err();
        let me = format!("pid {}", std::process::id());
        assert_eq!(waited_for, me);
        assert!(
            matches!(&err, LocalServerError::LockTimedOut { holder, .. } if *holder == me),
            "{err}"
        );
        drop(first);
        FileLock::acquire(&path, Duration::ZERO, |_| panic!("lock was released")).unwrap();
    }

    #[test]
    fn lock_is_released_when_its_holder_dies() {
        // util-linux `flock --no-fork` holds the lock in a process that we then kill: the
        // stale-lock case, with no cleanup by the holder.
        let no_fork = std::process::Command::new("flock")
            .arg("--help")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--no-fork"));
        if !no_fork {
            eprintln!("flock(1) with --no-fork is not installed; the drop test covers release");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let mut holder = std::process::Command::new("flock")
            .arg("--no-fork")
            .arg(&path)
            .args(["sleep", "30"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let busy = File::open(&path)
                .map(|f| matches!(f.try_lock(), Err(TryLockError::WouldBlock)))
                .unwrap_or(false);
            if busy {
                break;
            }
            assert!(Instant::now() < deadline, "flock(1) never took the lock");
            std::thread::sleep(Duration::from_millis(20));
        }
        holder.kill().unwrap();
        holder.wait().unwrap();
        FileLock::acquire(&path, Duration::from_secs(5), |_| {}).unwrap();
    }
}
