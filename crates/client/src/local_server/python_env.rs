//! Pinned Python virtualenvs under the user's cache directory, shared by every clone.
//!
//! A CI clone starts with an empty `target/`, so the venvs live in
//! `$XDG_CACHE_HOME/prefab/venvs/<name>` (default `~/.cache/prefab/venvs/<name>`). A marker file
//! in the venv records the exact pins it was built with: the same pins reuse it in a
//! millisecond, other pins rebuild it. pip honours the caller's `PIP_*` variables (an index
//! URL, a wheel directory), so those need no option here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::lock::FileLock;
use super::{LocalServerError, Progress, tail_lines, validate_name};

/// The Prefect release prefab reproduces.
pub const PREFECT_VERSION: &str = "3.9.1";
/// The requirement that installs it.
pub const PREFECT_PIN: &str = "prefect==3.9.1";
/// The requirement that adds Redis messaging to the Prefect venv, for servers with several API
/// workers (installed into the venv on first use; see [`PythonEnvSpec::ensure_extra`]).
pub const PREFECT_REDIS_PIN: &str = "prefect-redis==0.3.0";
/// The interpreter venvs are made with by default: prefab's reference corpora were produced by
/// Prefect on CPython 3.11 (3.13 takes another path through Prefect's interval code).
pub const DEFAULT_PYTHON: &str = "python3.11";

/// File in the venv that records the pins it holds, one per line. The format predates this
/// module (xtask wrote it), so venvs made by older checkouts are reused.
const MARKER: &str = ".prefab-pins";
/// File in the venv that records the requirements added later by
/// [`PythonEnvSpec::ensure_extra`], one per line.
const EXTRAS_MARKER: &str = ".prefab-extras";
/// How many lines of a failed command's output an error carries.
const TAIL_LINES: usize = 30;
/// Checks the interpreter before a venv is made from it, so that the error can say what to fix.
const PROBE: &str = "import sys\n\
if sys.version_info < (3, 11):\n    \
sys.exit('it is Python %d.%d; Prefect needs 3.11 or newer' % sys.version_info[:2])\n\
import venv, ensurepip\n";

/// The user cache directory of prefab: `$XDG_CACHE_HOME/prefab`, else `~/.cache/prefab`.
pub fn prefab_cache_dir() -> Result<PathBuf, LocalServerError> {
    let non_empty = |key| std::env::var_os(key).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("prefab"));
    }
    let home = non_empty("HOME").ok_or(LocalServerError::CacheDirUnknown)?;
    Ok(PathBuf::from(home).join(".cache").join("prefab"))
}

/// What a virtualenv should hold; [`ensure`](Self::ensure) makes it so (once) and returns it.
///
/// ```no_run
/// use prefab_client::local_server::PythonEnvSpec;
///
/// let env = PythonEnvSpec::prefect().ensure()?; // ~1 min the first time, then instant
/// println!("{}", env.python().display());
/// # Ok::<(), prefab_client::local_server::LocalServerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PythonEnvSpec {
    name: String,
    pins: Vec<String>,
    python: PathBuf,
    venvs_dir: Option<PathBuf>,
    lock_timeout: Duration,
    pub(super) progress: Progress,
}

impl PythonEnvSpec {
    /// A venv called `name` (one path component) holding exactly `pins` (pip requirements).
    pub fn new<P: Into<String>>(
        name: impl Into<String>,
        pins: impl IntoIterator<Item = P>,
    ) -> Self {
        Self {
            name: name.into(),
            pins: pins.into_iter().map(Into::into).collect(),
            python: PathBuf::from(DEFAULT_PYTHON),
            venvs_dir: None,
            lock_timeout: Duration::from_secs(30 * 60),
            progress: Progress::default(),
        }
    }

    /// The venv with [`PREFECT_PIN`], named `prefect-3.9.1`.
    pub fn prefect() -> Self {
        Self::new(format!("prefect-{PREFECT_VERSION}"), [PREFECT_PIN])
    }

    /// The interpreter that creates the venv (a name on `PATH` or a path; default
    /// [`DEFAULT_PYTHON`]). Only used when the venv has to be made.
    #[must_use]
    pub fn python(mut self, interpreter: impl Into<PathBuf>) -> Self {
        self.python = interpreter.into();
        self
    }

    /// The directory that holds the venvs (default `<prefab cache dir>/venvs`).
    #[must_use]
    pub fn venvs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.venvs_dir = Some(dir.into());
        self
    }

    /// How long to wait for another process that is installing the same venv (default 30 min).
    #[must_use]
    pub fn install_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Receives one-line progress messages (an install takes about a minute).
    #[must_use]
    pub fn on_progress(mut self, report: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Progress::new(report);
        self
    }

    /// The venv's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the venv lives (whether or not it exists yet).
    pub fn root(&self) -> Result<PathBuf, LocalServerError> {
        validate_name("virtualenv name", &self.name)?;
        let dir = match &self.venvs_dir {
            Some(dir) => dir.clone(),
            None => prefab_cache_dir()?.join("venvs"),
        };
        Ok(dir.join(&self.name))
    }

    /// Returns the venv, creating it and installing the pins first unless a venv with exactly
    /// these pins is already there. Concurrent callers (threads or processes) install once: the
    /// others wait on a lock file beside the venv, then reuse the result.
    pub fn ensure(&self) -> Result<PythonEnv, LocalServerError> {
        let root = self.root()?;
        let env = PythonEnv { root };
        let wanted = self.pins.join("\n");
        if env.holds(&wanted) {
            return Ok(env);
        }
        let venvs_dir = env.root.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(venvs_dir)
            .map_err(LocalServerError::io("create directory", venvs_dir))?;
        let lock_path = venvs_dir.join(format!("{}.install-lock", self.name));
        let _lock = FileLock::acquire(&lock_path, self.lock_timeout, |holder| {
            self.progress.report(&format!(
                "waiting for {holder} to finish installing {}",
                env.root.display()
            ));
        })?;
        if env.holds(&wanted) {
            return Ok(env);
        }
        self.install(&env, &wanted)?;
        Ok(env)
    }

    /// [`ensure`](Self::ensure)s the venv, then installs `extras` into it unless they are
    /// there already (recorded beside the pins). Adding packages this way keeps the venv —
    /// servers running from it are not disturbed, as a rebuild with other pins would.
    pub fn ensure_extra(&self, extras: &[&str]) -> Result<PythonEnv, LocalServerError> {
        let env = self.ensure()?;
        let has_all = |env: &PythonEnv| {
            let got = fs::read_to_string(env.root.join(EXTRAS_MARKER)).unwrap_or_default();
            extras.iter().all(|e| got.lines().any(|l| l == *e))
        };
        if has_all(&env) {
            return Ok(env);
        }
        let venvs_dir = env.root.parent().unwrap_or(Path::new("."));
        let lock_path = venvs_dir.join(format!("{}.install-lock", self.name));
        let _lock = FileLock::acquire(&lock_path, self.lock_timeout, |holder| {
            self.progress.report(&format!(
                "waiting for {holder} to finish installing into {}",
                env.root.display()
            ));
        })?;
        if has_all(&env) {
            return Ok(env);
        }
        let started = Instant::now();
        let pins = extras.join(" ");
        self.progress.report(&format!(
            "installing {pins} into {} (one time)",
            env.root.display()
        ));
        let log_file = env.root.with_file_name(format!("{}.extras.log", self.name));
        // The pins again beside the extras: pip keeps them, resolving the extras against them.
        let packages: Vec<&str> = self
            .pins
            .iter()
            .map(String::as_str)
            .chain(extras.iter().copied())
            .collect();
        pip_install(&env, &packages, &log_file, pins.clone())?;
        let mut recorded = fs::read_to_string(env.root.join(EXTRAS_MARKER)).unwrap_or_default();
        for extra in extras {
            if !recorded.lines().any(|l| l == *extra) {
                recorded.push_str(extra);
                recorded.push('\n');
            }
        }
        let marker = env.root.join(EXTRAS_MARKER);
        let partial = env.root.join(format!("{EXTRAS_MARKER}.partial"));
        fs::write(&partial, recorded).map_err(LocalServerError::io("write", &partial))?;
        fs::rename(&partial, &marker).map_err(LocalServerError::io("write", &marker))?;
        self.progress
            .report(&format!("installed {pins} in {:.0?}", started.elapsed()));
        Ok(env)
    }

    /// Builds the venv from scratch; the caller holds the install lock.
    fn install(&self, env: &PythonEnv, wanted: &str) -> Result<(), LocalServerError> {
        let started = Instant::now();
        self.check_python()?;
        let pins = self.pins.join(" ");
        self.progress.report(&format!(
            "creating {} with {pins} (one time, about a minute; reused afterwards)",
            env.root.display()
        ));
        remove_dir_if_present(&env.root)?;

        let out = Command::new(&self.python)
            .args(["-m", "venv"])
            .arg(&env.root)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.spawn_error(source))?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&env.root);
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            return Err(LocalServerError::VenvCreationFailed {
                python: self.python.clone(),
                venv: env.root.clone(),
                status: out.status,
                output_tail: tail_lines(&output, TAIL_LINES),
            });
        }

        // Beside the venv, not in it: the log must survive removing a failed venv.
        let log_file = env
            .root
            .with_file_name(format!("{}.install.log", self.name));
        let packages: Vec<&str> = self.pins.iter().map(String::as_str).collect();
        if let Err(e) = pip_install(env, &packages, &log_file, pins.clone()) {
            let _ = fs::remove_dir_all(&env.root);
            return Err(e);
        }

        // Written last and atomically: a crash before this leaves no marker, so the next call
        // rebuilds instead of trusting a half-installed venv.
        let marker = env.root.join(MARKER);
        let partial = env.root.join(format!("{MARKER}.partial"));
        fs::write(&partial, wanted).map_err(LocalServerError::io("write", &partial))?;
        fs::rename(&partial, &marker).map_err(LocalServerError::io("write", &marker))?;
        self.progress
            .report(&format!("installed {pins} in {:.0?}", started.elapsed()));
        Ok(())
    }

    /// Fails with a precise error if the interpreter is missing, too old or has no `venv`.
    fn check_python(&self) -> Result<(), LocalServerError> {
        let out = Command::new(&self.python)
            .args(["-c", PROBE])
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.spawn_error(source))?;
        if out.status.success() {
            return Ok(());
        }
        // pyenv's shim for a version that is not installed exits 127, like a shell would.
        if out.status.code() == Some(127) {
            return Err(LocalServerError::PythonNotFound {
                python: self.python.clone(),
            });
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("").trim();
        let reason = if last.contains("No module named") {
            format!(
                "{last}: the venv module is missing (Debian/Ubuntu: \
                 `apt-get install python3.11-venv`)"
            )
        } else {
            format!("{last} ({})", out.status)
        };
        Err(LocalServerError::PythonUnusable {
            python: self.python.clone(),
            reason,
        })
    }

    fn spawn_error(&self, source: std::io::Error) -> LocalServerError {
        if source.kind() == std::io::ErrorKind::NotFound {
            LocalServerError::PythonNotFound {
                python: self.python.clone(),
            }
        } else {
            LocalServerError::PythonUnusable {
                python: self.python.clone(),
                reason: format!("it cannot be run: {source}"),
            }
        }
    }
}

/// A ready virtualenv, made by [`PythonEnvSpec::ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonEnv {
    root: PathBuf,
}

impl PythonEnv {
    /// The venv's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its interpreter, `<root>/bin/python`.
    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// A program the pins installed, `<root>/bin/<program>` (e.g. `prefect`).
    pub fn bin(&self, program: &str) -> PathBuf {
        self.root.join("bin").join(program)
    }

    /// Whether the venv holds exactly `wanted` and its interpreter still resolves (the base
    /// Python it links to may have been removed or upgraded since).
    fn holds(&self, wanted: &str) -> bool {
        fs::read_to_string(self.root.join(MARKER)).is_ok_and(|got| got == wanted)
            && fs::metadata(self.python()).is_ok()
    }
}

/// `pip install` of `packages` into `env`, its output in `log_file`; a failure is
/// [`LocalServerError::InstallFailed`] with the log's tail (`pins` names what was asked for).
fn pip_install(
    env: &PythonEnv,
    packages: &[&str],
    log_file: &Path,
    pins: String,
) -> Result<(), LocalServerError> {
    let log =
        fs::File::create(log_file).map_err(LocalServerError::io("create pip log", log_file))?;
    let log_err = log
        .try_clone()
        .map_err(LocalServerError::io("open pip log", log_file))?;
    let status = Command::new(env.python())
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(packages)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|source| LocalServerError::SpawnFailed {
            program: env.python(),
            source,
        })?;
    if status.success() {
        return Ok(());
    }
    let log_tail = fs::read_to_string(log_file)
        .map(|log| tail_lines(&log, TAIL_LINES))
        .unwrap_or_default();
    Err(LocalServerError::InstallFailed {
        venv: env.root.clone(),
        pins,
        status,
        log_file: log_file.to_path_buf(),
        log_tail,
    })
}

fn remove_dir_if_present(dir: &Path) -> Result<(), LocalServerError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(LocalServerError::io("remove the stale virtualenv", dir)(e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interpreter_is_python_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = PythonEnvSpec::new("x", ["nothing==1"])
            .python("/nonexistent/python3.11")
            .venvs_dir(dir.path())
            .ensure()
            .unwrap_err();
        assert!(
            matches!(err, LocalServerError::PythonNotFound { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/python3.11"), "{msg}");
        assert!(msg.contains("apt-get install python3.11"), "{msg}");
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn too_old_interpreter_is_refused_with_the_reason() {
        // A stand-in interpreter that behaves like Python 3.10 running the probe.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python3.10");
        fs::write(
            &fake,
            "#!/bin/sh\necho 'it is Python 3.10; Prefect needs 3.11 or newer' >&2\nexit 1\n",
        )
        .unwrap();
        make_executable(&fake);
        let err = PythonEnvSpec::new("x", ["nothing==1"])
            .python(&fake)
            .venvs_dir(dir.path())
            .ensure()
            .unwrap_err();
        assert!(
            matches!(&err, LocalServerError::PythonUnusable { reason, .. }
                if reason.contains("Python 3.10")),
            "{err}"
        );
    }

    #[test]
    fn existing_venv_with_the_same_pins_is_reused_without_python() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ready");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/python"), "").unwrap();
        fs::write(root.join(MARKER), "a==1\nb==2").unwrap();
        let spec = PythonEnvSpec::new("ready", ["a==1", "b==2"])
            .python("/nonexistent/python")
            .venvs_dir(dir.path());
        assert_eq!(spec.ensure().unwrap().root(), root);
        // Other pins: rebuilt, which needs the (missing) interpreter.
        let other = PythonEnvSpec::new("ready", ["a==1"])
            .python("/nonexistent/python")
            .venvs_dir(dir.path());
        assert!(matches!(
            other.ensure(),
            Err(LocalServerError::PythonNotFound { .. })
        ));
    }

    /// A stand-in interpreter: passes the probe, makes a "venv" by copying itself to
    /// `<venv>/bin/python`, and as that copy logs each `pip install` to `installs` (slowly, so
    /// concurrent callers overlap), failing it if `pip_fails`.
    fn fake_python(dir: &Path, installs: &Path, pip_fails: bool) -> PathBuf {
        let pip = if pip_fails {
            "echo 'ERROR: No matching distribution found for nothing==1'; exit 1"
        } else {
            "exit 0"
        };
        let script = format!(
            "#!/bin/sh\n\
             case \"$1 $2\" in\n\
             '-c '*) exit 0 ;;\n\
             '-m venv') mkdir -p \"$3/bin\" && cp \"$0\" \"$3/bin/python\"; exit ;;\n\
             '-m pip') echo \"$*\" >> '{}'; sleep 1; {pip} ;;\n\
             esac\nexit 2\n",
            installs.display()
        );
        let path = dir.join("python3.11");
        fs::write(&path, script).unwrap();
        make_executable(&path);
        path
    }

    #[test]
    fn concurrent_callers_install_once() {
        let dir = tempfile::tempdir().unwrap();
        let installs = dir.path().join("installs.log");
        let spec = PythonEnvSpec::new("shared", ["nothing==1"])
            .python(fake_python(dir.path(), &installs, false))
            .venvs_dir(dir.path().join("venvs"));
        let roots: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3).map(|_| s.spawn(|| spec.ensure())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap().root().to_path_buf())
                .collect()
        });
        assert!(roots.iter().all(|r| *r == dir.path().join("venvs/shared")));
        let log = fs::read_to_string(&installs).unwrap();
        assert_eq!(log.lines().count(), 1, "installed more than once:\n{log}");
        assert!(log.contains("install --disable-pip-version-check --no-input nothing==1"));
        assert_eq!(
            fs::read_to_string(dir.path().join("venvs/shared").join(MARKER)).unwrap(),
            "nothing==1"
        );
    }

    #[test]
    fn pip_failure_reports_the_log_tail_and_removes_the_venv() {
        let dir = tempfile::tempdir().unwrap();
        let installs = dir.path().join("installs.log");
        let err = PythonEnvSpec::new("broken", ["nothing==1"])
            .python(fake_python(dir.path(), &installs, true))
            .venvs_dir(dir.path().join("venvs"))
            .ensure()
            .unwrap_err();
        let LocalServerError::InstallFailed {
            log_tail, log_file, ..
        } = &err
        else {
            panic!("{err}");
        };
        assert!(log_tail.contains("No matching distribution found for nothing==1"));
        assert!(log_file.exists());
        assert!(err.to_string().contains("pip install nothing==1"), "{err}");
        assert!(
            !dir.path().join("venvs/broken").exists(),
            "half-made venv left"
        );
    }

    #[test]
    fn names_must_be_one_path_component() {
        for name in ["", "..", "a/b"] {
            let err = PythonEnvSpec::new(name, ["a==1"]).root().unwrap_err();
            assert!(
                matches!(err, LocalServerError::InvalidName { .. }),
                "{name}"
            );
        }
    }

    fn make_executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}
