//! What can go wrong while provisioning a local Prefect server.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// An error from [`PythonEnvSpec::ensure`](super::PythonEnvSpec::ensure) or the
/// [`LocalServer`](super::LocalServer) lifecycle.
///
/// Every message names the input or file involved and what to do about it. Log excerpts
/// (`log_tail`) are the last lines of the relevant log, with the server's auth string (if any)
/// replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalServerError {
    /// Neither `XDG_CACHE_HOME` nor `HOME` is set, and no explicit directory was given.
    #[error(
        "cannot find the user cache directory: neither XDG_CACHE_HOME nor HOME is set; set one of \
         them, or pass an explicit directory (PythonEnvSpec::venvs_dir, ServerOptions::state_dir)"
    )]
    CacheDirUnknown,

    /// The Python interpreter used to create the virtualenv does not exist.
    #[error(
        "Python interpreter `{}` not found; the local Prefect server needs CPython 3.11 with the \
         venv module (Debian/Ubuntu: `apt-get install python3.11 python3.11-venv`; pyenv: \
         `pyenv install 3.11`), or pick another interpreter (>= 3.11) with PythonEnvSpec::python",
        python.display()
    )]
    PythonNotFound {
        /// The interpreter that was looked for.
        python: PathBuf,
    },

    /// The interpreter exists but cannot make the virtualenv (too old, no `venv` module, …).
    #[error("Python interpreter `{}` cannot create the virtualenv: {reason}", python.display())]
    PythonUnusable {
        /// The interpreter.
        python: PathBuf,
        /// Why, with the fix.
        reason: String,
    },

    /// `python -m venv` failed.
    #[error(
        "`{} -m venv {}` failed ({status}); check that the venv module works \
         (Debian/Ubuntu: `apt-get install python3.11-venv`)\n--- its output ---\n{output_tail}",
        python.display(),
        venv.display()
    )]
    VenvCreationFailed {
        /// The interpreter.
        python: PathBuf,
        /// The virtualenv that was being created (removed again).
        venv: PathBuf,
        /// How it exited.
        status: ExitStatus,
        /// The last lines of its output.
        output_tail: String,
    },

    /// `pip install` of the pinned packages failed.
    #[error(
        "`pip install {pins}` into {} failed ({status}); a half-made virtualenv is removed, so \
         the next call retries; full log: {}\n--- last lines of pip's log ---\n{log_tail}",
        venv.display(),
        log_file.display()
    )]
    InstallFailed {
        /// The virtualenv (removed again).
        venv: PathBuf,
        /// The requirements, space-separated.
        pins: String,
        /// How pip exited.
        status: ExitStatus,
        /// pip's full log.
        log_file: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },

    /// Another process held a lock for longer than the wait allows.
    #[error(
        "timed out after {waited:?} waiting for the lock {} (held by {holder}); another \
         install or server start is still running; wait for it, or stop that process",
        lock.display()
    )]
    LockTimedOut {
        /// The lock file.
        lock: PathBuf,
        /// How long this call waited.
        waited: Duration,
        /// Who holds it, as recorded in the lock file (`pid N`, or `an unknown process`).
        holder: String,
    },

    /// A file or directory operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create directory`, `read`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A venv or server name is not a single path component.
    #[error("invalid {what} `{name}`: {reason}")]
    InvalidName {
        /// What the name names.
        what: &'static str,
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The operating system gave no free loopback port.
    #[error("could not get a free port on 127.0.0.1 from the operating system: {source}")]
    FreePortUnavailable {
        /// The operating system's error.
        source: io::Error,
    },

    /// A `KEY=VALUE` server setting is malformed.
    #[error("invalid server setting `{key}`: {reason}")]
    InvalidSetting {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A program (the venv's `prefect`, `kill`, …) could not be started.
    #[error("could not run `{}`: {source}", program.display())]
    SpawnFailed {
        /// The program.
        program: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// The server process ended before `/api/health` answered.
    #[error(
        "the Prefect server exited during startup ({status}); log: {}\n\
         --- last lines of the server log ---\n{log_tail}",
        log_file.display()
    )]
    ServerExited {
        /// How it exited.
        status: ExitStatus,
        /// The server log (kept for inspection).
        log_file: PathBuf,
        /// The lines this start wrote to it, at most the last 30.
        log_tail: String,
    },

    /// The server did not become healthy in time; it was stopped again.
    #[error(
        "the Prefect server did not answer GET {health_url} within {timeout:?} and was stopped; \
         raise the start timeout if this machine is slow; log: {}\n\
         --- last lines of the server log ---\n{log_tail}",
        log_file.display()
    )]
    StartTimedOut {
        /// The start timeout.
        timeout: Duration,
        /// The URL that was polled.
        health_url: String,
        /// The server log.
        log_file: PathBuf,
        /// The lines this start wrote to it, at most the last 30.
        log_tail: String,
    },

    /// Every port tried was taken by the time the server bound it.
    #[error(
        "no free loopback port after {attempts} attempts (another process took each one first); \
         retry, or free some ports\n--- last lines of the server log ---\n{log_tail}"
    )]
    NoFreePort {
        /// How many ports were tried.
        attempts: u32,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// A server is running from this state directory with other services/auth/settings.
    #[error(
        "a Prefect server is already running from {} (pid {pid}, {api_url}) with other options \
         ({differences}); stop it first \
         (`cargo xtask prefect-server stop --state-dir {}`) or use another state directory",
        state_dir.display(),
        state_dir.display()
    )]
    RunningWithOtherOptions {
        /// The state directory.
        state_dir: PathBuf,
        /// The running server's PID.
        pid: u32,
        /// The running server's API URL.
        api_url: String,
        /// What differs, naming no secret value: the running and the requested options
        /// (services, auth on/off, setting names) when those differ, "the auth strings differ
        /// (neither is shown)" or "the values of KEY differ (neither is shown)".
        differences: String,
    },

    /// The recorded server process is alive but `/api/health` does not answer.
    #[error(
        "the Prefect server recorded in {} (pid {pid}) is running but GET {health_url} did not \
         answer within {waited:?}; stop it (`cargo xtask prefect-server stop --state-dir {}`) and \
         retry; log: {}",
        state_dir.display(),
        state_dir.display(),
        log_file.display()
    )]
    RunningButUnhealthy {
        /// The state directory.
        state_dir: PathBuf,
        /// The server's PID.
        pid: u32,
        /// The URL that was polled.
        health_url: String,
        /// How long it was polled.
        waited: Duration,
        /// The server log.
        log_file: PathBuf,
    },

    /// `status` found the recorded server process alive but `/api/health` not answering.
    #[error(
        "pid {pid} runs but does not answer /api/health (starting, or hung); log: {}",
        log_file.display()
    )]
    NotAnswering {
        /// The server's PID.
        pid: u32,
        /// The server log.
        log_file: PathBuf,
    },

    /// `kill` refused to signal the server process.
    #[error("could not send SIG{signal} to pid {pid}: {reason}")]
    SignalFailed {
        /// The process.
        pid: u32,
        /// `TERM` or `KILL`.
        signal: &'static str,
        /// `kill`'s complaint.
        reason: String,
    },

    /// A program of a system package the requested server shape needs is not installed.
    #[error(
        "`{program}` not found (looked in {looked_in}); install the system package \
         `{package}` (Debian/Ubuntu, as root: `apt-get install {package}`), or start the server \
         with `--database sqlite` and one worker, which need neither PostgreSQL nor Redis"
    )]
    MissingSystemProgram {
        /// The program looked for.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
        /// Where it was looked for.
        looked_in: String,
    },

    /// PostgreSQL or Redis could not be set up or started.
    #[error(
        "{service} failed at {step}; see {}\n--- its output ---\n{output_tail}",
        log_file.display()
    )]
    BackingServiceFailed {
        /// `PostgreSQL` or `Redis`.
        service: &'static str,
        /// What was being done.
        step: &'static str,
        /// Its log (or directory).
        log_file: PathBuf,
        /// The last lines of its output.
        output_tail: String,
    },

    /// Options that cannot go together (several workers on SQLite, services with workers).
    #[error("invalid server options: {reason}")]
    InvalidOptions {
        /// What is wrong, with the fix.
        reason: String,
    },

    /// `prefect server database upgrade` (or the block type registration after it) failed.
    #[error(
        "{what} the server's database failed ({status}); full log: {}\n--- last lines ---\n{log_tail}",
        log_file.display()
    )]
    MigrationFailed {
        /// `migrating` or `registering block types in`.
        what: &'static str,
        /// How it exited (or `timed out`).
        status: String,
        /// The server log it wrote to.
        log_file: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },

    /// The server process survived SIGKILL.
    #[error(
        "pid {pid} is still alive {waited:?} after SIGKILL; check it with `ps -p {pid}` \
         (a process in uninterruptible sleep cannot be killed until its I/O finishes)"
    )]
    StopFailed {
        /// The process.
        pid: u32,
        /// How long this call waited after SIGKILL.
        waited: Duration,
    },
}

impl LocalServerError {
    /// An [`Io`](Self::Io) error for `action` on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
