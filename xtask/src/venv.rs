//! Pinned Python virtualenvs under the user's cache directory, shared by every clone.
//!
//! A CI clone starts with an empty `target/`, so the venvs live in
//! `$XDG_CACHE_HOME/prefab/venvs` (default `~/.cache/prefab/venvs`) and are keyed by their exact
//! package pins: a changed pin makes a new venv, an unchanged one is reused in a second.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Prefect release the project reproduces.
pub(crate) const PREFECT_PIN: &str = "prefect==3.9.1";
/// Prefect produced the corpora on CPython 3.11 (and takes another interval path on 3.13).
const PYTHON: &str = "python3.11";

/// A ready virtualenv.
pub(crate) struct Venv {
    root: PathBuf,
}

impl Venv {
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn python(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }
}

/// The venv with Prefect 3.9.1.
pub(crate) fn prefect() -> Result<Venv, String> {
    ensure("prefect-3.9.1", &[PREFECT_PIN])
}

fn cache_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("prefab"));
    }
    let home =
        std::env::var_os("HOME").ok_or("HOME is not set: cannot find the cache directory")?;
    Ok(PathBuf::from(home).join(".cache").join("prefab"))
}

/// Creates (once) a venv named `name` with exactly `pins` installed.
pub(crate) fn ensure(name: &str, pins: &[&str]) -> Result<Venv, String> {
    let dir = cache_dir()?.join("venvs");
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let root = dir.join(name);
    let marker = root.join(".prefab-pins");
    let wanted = pins.join("\n");
    if fs::read_to_string(&marker).is_ok_and(|got| got == wanted) {
        return Ok(Venv { root });
    }
    let _lock = Lock::acquire(&dir.join(format!("{name}.lock")))?;
    if fs::read_to_string(&marker).is_ok_and(|got| got == wanted) {
        return Ok(Venv { root });
    }
    eprintln!(
        "xtask: creating {} with {} (one time; cached)",
        root.display(),
        pins.join(" ")
    );
    if root.exists() {
        fs::remove_dir_all(&root).map_err(|e| format!("removing stale {}: {e}", root.display()))?;
    }
    run(Command::new(PYTHON).args(["-m", "venv"]).arg(&root)).map_err(|e| {
        format!("{e}\nprefab needs {PYTHON} on PATH for its Prefect reference environment")
    })?;
    let venv = Venv { root };
    run(Command::new(venv.python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(pins))?;
    fs::write(&marker, wanted).map_err(|e| format!("writing {}: {e}", marker.display()))?;
    Ok(venv)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("running {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// An exclusive lock file (created with `create_new`; a lock older than 30 minutes is stale).
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn acquire(path: &Path) -> Result<Lock, String> {
        let started = Instant::now();
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(Lock {
                        path: path.to_owned(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(1800));
                    if stale {
                        let _ = fs::remove_file(path);
                        continue;
                    }
                    if started.elapsed() > Duration::from_secs(1800) {
                        return Err(format!("timed out waiting for {}", path.display()));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(format!("creating lock {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
