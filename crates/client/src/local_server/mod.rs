//! A real Prefect 3.9.1 server on loopback, for integration tests, CI and local development.
//!
//! [`LocalServer::start`] makes (once) a pinned virtualenv with `prefect==3.9.1` under the user
//! cache directory ([`PythonEnvSpec`]), then starts `prefect server start` on `127.0.0.1` and a
//! free port, with its own `PREFECT_HOME` and SQLite database in a *state directory*, and waits
//! until `GET /api/health` answers `true`. The server runs in its own process group, so it
//! outlives the caller; a later `start` on the same state directory — from this process or
//! another — reuses it instead of starting a second one, and [`LocalServer::stop_in`] ends it.
//!
//! ```no_run
//! use prefab_client::local_server::{ServerOptions, Services};
//!
//! let server = ServerOptions::new()
//!     .services(Services::Scheduler) // auto-scheduled flow runs, nothing else
//!     .auth_string("admin:pass")     // HTTP Basic on every route but /api/health
//!     .on_progress(|line| eprintln!("{line}"))
//!     .start()?;                     // ~1 min the very first time, ~9 s cold, instant if running
//! println!("PREFECT_API_URL={}", server.api_url()); // http://127.0.0.1:PORT/api
//! server.stop()?;
//! # Ok::<(), prefab_client::local_server::LocalServerError>(())
//! ```
//!
//! The server sees none of the caller's `PREFECT_*` variables (a developer's
//! `PREFECT_API_URL` or profile must not reconfigure it); it gets exactly the settings chosen
//! here. Files in the state directory: `server.pid`, `server.port`, `server.url`,
//! `server.options`, `server.users`, `server.log`, `start.lock`, `watchdog.py` (with
//! [`ServerOptions::stop_when_unused`]) and `home/` (`PREFECT_HOME`, holding `prefect.db`,
//! which is kept across restarts so later starts skip the migrations).
//!
//! Everything here is blocking and std-only; it spawns processes with [`std::process`] and
//! signals them with `kill(1)`.

mod backing;
mod commands;
mod error;
mod health;
mod lock;
mod process;
mod python_env;

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use backing::{Database, UnknownDatabase};
pub use commands::{ServerCommands, StartRequest, StatusLine};
pub use error::LocalServerError;
pub use python_env::{
    DEFAULT_PYTHON, PREFECT_PIN, PREFECT_REDIS_PIN, PREFECT_VERSION, PythonEnv, PythonEnvSpec,
    prefab_cache_dir,
};

use crate::Secret;
use backing::{Postgres, PostgresRunning, Redis, RedisRunning};
use lock::FileLock;

/// Default wait for `/api/health` after launch (a first start runs the migrations, ~9 s).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);
/// Default wait between SIGTERM and SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of the server log carried by a startup error.
const LOG_TAIL_LINES: usize = 30;
/// Ports tried when the free port picked is taken before the server binds it.
const PORT_ATTEMPTS: u32 = 3;
/// How long `stop` waits for a concurrent `start` on the same state directory.
const STOP_LOCK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Prefect's background services other than the scheduler, switched off for
/// [`Services::Scheduler`] (spec §0): with SQLite they only add `database is locked` noise.
const NON_SCHEDULER_SERVICES: [&str; 10] = [
    "CANCELLATION_CLEANUP",
    "EVENT_PERSISTER",
    "EVENT_LOGGER",
    "FOREMAN",
    "LATE_RUNS",
    "PAUSE_EXPIRATIONS",
    "REPOSSESSOR",
    "CLEANUP_RECONCILER",
    "TASK_RUN_RECORDER",
    "TRIGGERS",
];

/// Which of Prefect's background services run beside the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Services {
    /// The API alone (`--no-services`): fastest start, no background database traffic.
    #[default]
    None,
    /// The API and the scheduler only: deployments get auto-scheduled flow runs within ~5 s
    /// of a create or update.
    Scheduler,
    /// Every default Prefect service (noisy with SQLite; spec §0).
    All,
}

impl Services {
    /// `none`, `scheduler` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Services::None => "none",
            Services::Scheduler => "scheduler",
            Services::All => "all",
        }
    }
}

impl fmt::Display for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A services name that is not `none`, `scheduler` or `all`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown services `{0}`: expected none, scheduler or all")]
pub struct UnknownServices(pub String);

impl FromStr for Services {
    type Err = UnknownServices;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Services::None),
            "scheduler" => Ok(Services::Scheduler),
            "all" => Ok(Services::All),
            other => Err(UnknownServices(other.to_owned())),
        }
    }
}

/// A progress callback.
type ReportFn = dyn Fn(&str) + Send + Sync;

/// Receives one-line progress messages.
#[derive(Clone, Default)]
pub(crate) struct Progress(Option<Arc<ReportFn>>);

impl Progress {
    fn new(report: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(report)))
    }

    fn is_set(&self) -> bool {
        self.0.is_some()
    }

    fn report(&self, line: &str) {
        if let Some(report) = &self.0 {
            report(line);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() { "Some(..)" } else { "None" })
    }
}

/// How to start (or find) a local server; every field has a default.
///
/// ```no_run
/// use std::time::Duration;
/// use prefab_client::local_server::{ServerOptions, Services};
///
/// let server = ServerOptions::new()
///     .state_dir("/tmp/my-prefect")
///     .services(Services::None)
///     .setting("PREFECT_SERVER_API_DEFAULT_LIMIT", "50")
///     .start_timeout(Duration::from_secs(60))
///     .start()?;
/// # Ok::<(), prefab_client::local_server::LocalServerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerOptions {
    name: String,
    state_dir: Option<PathBuf>,
    services: Services,
    auth_string: Option<Secret>,
    // Values may hold credentials (a database URL), so they print as `***` too.
    settings: Vec<(String, Secret)>,
    port: Option<u16>,
    start_timeout: Duration,
    stop_timeout: Duration,
    python_env: PythonEnvSpec,
    stop_when_unused: Option<Duration>,
    progress: Progress,
    database: Database,
    workers: u16,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerOptions {
    /// API only, no auth, free port, state in `<prefab cache dir>/servers/default`, Prefect
    /// 3.9.1 from [`PythonEnvSpec::prefect`].
    pub fn new() -> Self {
        Self {
            name: "default".to_owned(),
            state_dir: None,
            services: Services::None,
            auth_string: None,
            settings: Vec::new(),
            port: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            python_env: PythonEnvSpec::prefect(),
            stop_when_unused: None,
            progress: Progress::default(),
            database: Database::Sqlite,
            workers: 1,
        }
    }

    /// The database (default [`Database::Sqlite`]). [`Database::Postgres`] runs a cluster of
    /// the system's `postgresql` package from the state directory (see [`Database`]).
    #[must_use]
    pub fn database(mut self, database: Database) -> Self {
        self.database = database;
        self
    }

    /// The number of API worker processes (`prefect server start --workers N`, default 1).
    /// More than one needs [`Database::Postgres`] and [`Services::None`], and runs a Redis
    /// server of the system's `redis-server` package for Prefect's messaging, with
    /// `prefect-redis` ([`PREFECT_REDIS_PIN`]) added to the venv.
    #[must_use]
    pub fn workers(mut self, workers: u16) -> Self {
        self.workers = workers;
        self
    }

    /// Names the default state directory, `<prefab cache dir>/servers/<name>` (one path
    /// component). Ignored when [`state_dir`](Self::state_dir) is set.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The directory for the PID/URL files, the log and `PREFECT_HOME` (with the database).
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Which background services run (default [`Services::None`]).
    #[must_use]
    pub fn services(mut self, services: Services) -> Self {
        self.services = services;
        self
    }

    /// Turns on HTTP Basic auth: `user:pass`, sent by clients as
    /// `Authorization: Basic base64(user:pass)` (`PREFECT_SERVER_API_AUTH_STRING`; spec §1).
    #[must_use]
    pub fn auth_string(mut self, auth: impl Into<Secret>) -> Self {
        self.auth_string = Some(auth.into());
        self
    }

    /// An extra Prefect setting for the server process, e.g.
    /// `PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=5`. Applied after prefab's own, so it
    /// can override them (`PREFECT_SERVER_DATABASE_CONNECTION_URL` for Postgres).
    #[must_use]
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), Secret::new(value.into())));
        self
    }

    /// A fixed port instead of a free one picked at start.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How long to wait for `/api/health` after launch (default 180 s).
    #[must_use]
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long `stop` waits after SIGTERM before SIGKILL (default 30 s).
    #[must_use]
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// The virtualenv that provides `prefect` (default [`PythonEnvSpec::prefect`]).
    #[must_use]
    pub fn python_env(mut self, spec: PythonEnvSpec) -> Self {
        self.python_env = spec;
        self
    }

    /// Stops the server once every process that started or reused it has exited and `grace`
    /// has passed since, so that a server shared by test runs does not run forever after the
    /// last one (a run within `grace` of the previous one reuses it).
    ///
    /// Takes effect when this call *launches* the server: a small watchdog process (on the
    /// venv's Python, `<state dir>/watchdog.py`) watches the PIDs that `start` records in
    /// `server.users`. Without this option the server runs until it is stopped.
    #[must_use]
    pub fn stop_when_unused(mut self, grace: Duration) -> Self {
        self.stop_when_unused = Some(grace);
        self
    }

    /// Receives one-line progress messages (installing, starting, reusing, waiting).
    #[must_use]
    pub fn on_progress(mut self, report: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Progress::new(report);
        self
    }

    /// The state directory these options use, as an absolute path.
    pub fn resolved_state_dir(&self) -> Result<PathBuf, LocalServerError> {
        let dir = match &self.state_dir {
            Some(dir) => dir.clone(),
            None => {
                validate_name("server name", &self.name)?;
                prefab_cache_dir()?.join("servers").join(&self.name)
            }
        };
        std::path::absolute(&dir).map_err(LocalServerError::io("resolve", dir))
    }

    /// Starts a server, or reuses the one running from the same state directory; see
    /// [`LocalServer::start`].
    pub fn start(&self) -> Result<LocalServer, LocalServerError> {
        LocalServer::start(self)
    }

    fn validate_settings(&self) -> Result<(), LocalServerError> {
        let invalid = |reason: &str| {
            Err(LocalServerError::InvalidOptions {
                reason: reason.to_owned(),
            })
        };
        if self.workers == 0 {
            return invalid("workers must be at least 1");
        }
        if self.workers > 1 && self.database == Database::Sqlite {
            return invalid(
                "several API workers need PostgreSQL (Prefect refuses --workers > 1 on SQLite); \
                 add `--database postgres`",
            );
        }
        if self.workers > 1 && self.services != Services::None {
            return invalid(
                "Prefect runs no background services with several API workers (it forces \
                 --no-services); use `--services none`, or one worker",
            );
        }
        for (key, _) in &self.settings {
            let invalid = |reason| LocalServerError::InvalidSetting {
                key: key.clone(),
                reason,
            };
            let mut chars = key.chars();
            if !chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            {
                return Err(invalid("a key starts with a letter or `_`"));
            }
            if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid("a key holds only letters, digits and `_`"));
            }
        }
        Ok(())
    }

    /// What a running server was started with, for humans: no secret values.
    fn description(&self) -> String {
        let keys: Vec<&str> = self.settings.iter().map(|(k, _)| k.as_str()).collect();
        format!(
            "database={}, workers={}, services={}, auth={}, settings=[{}]",
            self.database,
            self.workers,
            self.services,
            if self.auth_string.is_some() {
                "on"
            } else {
                "off"
            },
            keys.join(", ")
        )
    }

    /// One fingerprint per secret value (the auth string, each setting's value), so that a
    /// mismatch can say *which* differs without showing either; stored beside
    /// [`Self::fingerprint`], which already hashes the same values together.
    fn secret_fingerprints(&self) -> String {
        let auth = self.auth_string.iter().map(|a| ("auth".to_owned(), a));
        let settings = self.settings.iter().map(|(k, v)| (k.clone(), v));
        auth.chain(settings)
            .map(|(key, value)| format!("{key}={}", fnv1a(value.expose())))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What differs between a running server's recorded options and these, naming no secret.
    fn differences(&self, record: &Record) -> String {
        let running = record.description.as_deref().unwrap_or("unknown");
        let requested = self.description();
        let mut parts = Vec::new();
        if running != requested {
            parts.push(format!("running: {running}; requested: {requested}"));
        }
        match &record.secret_fingerprints {
            Some(recorded) => {
                let recorded: std::collections::HashMap<&str, &str> = recorded
                    .split_whitespace()
                    .filter_map(|p| p.split_once('='))
                    .collect();
                let mine = self.secret_fingerprints();
                for (key, hash) in mine.split_whitespace().filter_map(|p| p.split_once('=')) {
                    if recorded.get(key).is_some_and(|h| *h != hash) {
                        parts.push(if key == "auth" {
                            "the auth strings differ (neither is shown)".to_owned()
                        } else {
                            format!("the values of {key} differ (neither is shown)")
                        });
                    }
                }
            }
            None if parts.is_empty() => parts.push(
                "the same services, auth and setting names, but a secret value (the auth \
                 string or a setting's value) differs (neither is shown)"
                    .to_owned(),
            ),
            None => {}
        }
        if parts.is_empty() {
            // The recorded fingerprint differs though nothing above does (a record written by
            // another prefab version).
            parts.push(format!(
                "running: {running}; requested: {requested} (recorded by another prefab version)"
            ));
        }
        parts.join("; ")
    }

    /// Tells apart two option sets, values included, without storing a secret in clear.
    fn fingerprint(&self) -> String {
        let mut text = format!("{}\0", self.services);
        // Appended only when not the default, so that SQLite servers recorded before these
        // options existed keep their fingerprint.
        if (self.database, self.workers) != (Database::Sqlite, 1) {
            text.push_str(&format!("{}:{}\0", self.database, self.workers));
        }
        if let Some(auth) = &self.auth_string {
            text.push_str(auth.expose());
        }
        for (key, value) in &self.settings {
            text.push_str(&format!("\0{key}={}", value.expose()));
        }
        fnv1a(&text)
    }

    /// Replaces the secrets these options carry by `***` in `text` (log excerpts).
    fn redact(&self, text: String) -> String {
        let secrets = self
            .auth_string
            .iter()
            .chain(self.settings.iter().map(|(_, v)| v))
            .map(Secret::expose)
            .filter(|s| s.len() >= 4);
        secrets.fold(text, |text, secret| text.replace(secret, "***"))
    }
}

/// FNV-1a as 16 hex digits: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// A Prefect server listening on `127.0.0.1`, started or found by [`LocalServer::start`].
///
/// Dropping the handle leaves the server running (it belongs to its state directory, not to
/// this value); call [`stop`](Self::stop) or [`LocalServer::stop_in`] to end it.
#[derive(Debug)]
pub struct LocalServer {
    api_url: String,
    pid: u32,
    port: u16,
    state_dir: PathBuf,
    reused: bool,
    stop_timeout: Duration,
    database: Database,
    workers: u16,
    // Kept so that a server this process started and stops is reaped, not left a zombie.
    child: Option<Child>,
}

/// What [`LocalServer::status`] found in a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerStatus {
    /// A healthy server.
    Running {
        /// `http://127.0.0.1:PORT/api`.
        api_url: String,
        /// Its process.
        pid: u32,
        /// Its database.
        database: Database,
        /// Its number of API workers.
        workers: u16,
    },
    /// Our server process is alive but `/api/health` does not answer (yet).
    Unhealthy {
        /// Its process.
        pid: u32,
    },
    /// No server (stale files, if any, are ignored).
    Stopped,
}

/// What [`LocalServer::stop_in`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopOutcome {
    /// The server process ended.
    Stopped {
        /// Its PID.
        pid: u32,
        /// Whether it ignored SIGTERM for the stop timeout and needed SIGKILL.
        killed: bool,
    },
    /// Nothing was running (stale state files were removed).
    NotRunning,
}

impl LocalServer {
    /// Returns the healthy server recorded in the options' state directory, or starts one.
    ///
    /// Creates the Prefect virtualenv first if needed. Two concurrent calls on one state
    /// directory (threads or processes) serialise on a lock: one starts the server, the other
    /// reuses it. A running server is only reused if it was started with the same services,
    /// auth string and settings ([`LocalServerError::RunningWithOtherOptions`] otherwise).
    pub fn start(options: &ServerOptions) -> Result<LocalServer, LocalServerError> {
        options.validate_settings()?;
        let state = StateDir::new(options.resolved_state_dir()?);
        fs::create_dir_all(&state.dir)
            .map_err(LocalServerError::io("create directory", &state.dir))?;
        let progress = &options.progress;
        let lock_timeout = options.start_timeout + Duration::from_secs(30 * 60);
        let _lock = FileLock::acquire(&state.file("start.lock"), lock_timeout, |holder| {
            progress.report(&format!(
                "waiting for {holder}, which is starting the server in {}",
                state.dir.display()
            ));
        })?;

        // Recorded first, so that a watchdog never finds the server unused while this caller
        // is about to use it.
        state.add_user(std::process::id())?;
        if let Some(server) = Self::reuse(&state, options)? {
            return Ok(server);
        }
        let mut spec = options.python_env.clone();
        if !spec.progress.is_set() {
            spec.progress = progress.clone();
        }
        let env = spec.ensure()?;
        Self::launch(&state, options, &env)
    }

    /// The running server in `state_dir`, if any (needs no lock; does not wait).
    pub fn status(state_dir: impl AsRef<Path>) -> Result<ServerStatus, LocalServerError> {
        let state = StateDir::new(state_dir.as_ref().to_path_buf());
        let Some(record) = state.read_record()? else {
            return Ok(ServerStatus::Stopped);
        };
        if !process::is_prefect_server(record.pid, record.port) {
            return Ok(ServerStatus::Stopped);
        }
        match record.api_url {
            Some(api_url) if health::is_healthy(record.port) => Ok(ServerStatus::Running {
                api_url,
                pid: record.pid,
                database: record.database,
                workers: record.workers,
            }),
            _ => Ok(ServerStatus::Unhealthy { pid: record.pid }),
        }
    }

    /// Stops the server recorded in `state_dir` (SIGTERM to the recorded PID, after checking
    /// that it still is that `prefect server start` process; SIGKILL after `stop_timeout`),
    /// and removes the state files. The log and the database stay for the next start.
    pub fn stop_in(
        state_dir: impl AsRef<Path>,
        stop_timeout: Duration,
    ) -> Result<StopOutcome, LocalServerError> {
        let state = StateDir::new(state_dir.as_ref().to_path_buf());
        if !state.dir.is_dir() {
            return Ok(StopOutcome::NotRunning);
        }
        let _lock = FileLock::acquire(&state.file("start.lock"), STOP_LOCK_TIMEOUT, |_| {})?;
        let outcome = match state.read_record()? {
            Some(record) if process::is_prefect_server(record.pid, record.port) => {
                let killed = process::terminate(record.pid, stop_timeout)?;
                StopOutcome::Stopped {
                    pid: record.pid,
                    killed,
                }
            }
            _ => StopOutcome::NotRunning,
        };
        // Then what the server stood on, each by its recorded PID (also when the server
        // itself had already died).
        Redis::stop(&state, stop_timeout)?;
        Postgres::stop(&state, stop_timeout)?;
        state.clear()?;
        Ok(outcome)
    }

    /// Stops this server (with the options' stop timeout); see [`stop_in`](Self::stop_in).
    pub fn stop(mut self) -> Result<StopOutcome, LocalServerError> {
        let outcome = Self::stop_in(&self.state_dir, self.stop_timeout)?;
        if let Some(child) = &mut self.child {
            // Reaps it if it was ours and has exited; never blocks.
            let _ = child.try_wait();
        }
        Ok(outcome)
    }

    /// The API base URL, `http://127.0.0.1:PORT/api` (what `PREFECT_API_URL` takes).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The port it listens on (on `127.0.0.1` only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Its log file (stdout and stderr of the server process).
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("server.log")
    }

    /// Its database.
    pub fn database(&self) -> Database {
        self.database
    }

    /// Its number of API worker processes.
    pub fn workers(&self) -> u16 {
        self.workers
    }

    /// Whether [`start`](Self::start) found it already running rather than starting it.
    pub fn was_reused(&self) -> bool {
        self.reused
    }

    /// Whether it answers `GET /api/health` with `true` right now.
    pub fn is_healthy(&self) -> bool {
        health::is_healthy(self.port)
    }

    /// The recorded server, if it is alive and ours; `None` (with stale files removed) if not.
    fn reuse(
        state: &StateDir,
        options: &ServerOptions,
    ) -> Result<Option<LocalServer>, LocalServerError> {
        let Some(record) = state.read_record()? else {
            return Ok(None);
        };
        if !process::is_prefect_server(record.pid, record.port) {
            options.progress.report(&format!(
                "removing stale state in {} (pid {} is not a running prefect server)",
                state.dir.display(),
                record.pid
            ));
            state.clear_keeping_users()?;
            return Ok(None);
        }
        let Some(api_url) = record.api_url.clone() else {
            // Launched, but its launcher died before the server became healthy: nobody owns
            // it, and it may be half-configured, so replace it.
            options.progress.report(&format!(
                "stopping pid {}, left starting by a launcher that exited",
                record.pid
            ));
            process::terminate(record.pid, options.stop_timeout)?;
            state.clear_keeping_users()?;
            return Ok(None);
        };
        if record.fingerprint.as_deref() != Some(options.fingerprint().as_str()) {
            return Err(LocalServerError::RunningWithOtherOptions {
                state_dir: state.dir.clone(),
                pid: record.pid,
                api_url,
                differences: options.differences(&record),
            });
        }
        let started = Instant::now();
        while !health::is_healthy(record.port) {
            if started.elapsed() >= options.start_timeout {
                return Err(LocalServerError::RunningButUnhealthy {
                    state_dir: state.dir.clone(),
                    pid: record.pid,
                    health_url: format!("{api_url}/health"),
                    waited: started.elapsed(),
                    log_file: state.file("server.log"),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        options.progress.report(&format!(
            "reusing the server already running at {api_url} (pid {})",
            record.pid
        ));
        Ok(Some(LocalServer {
            api_url,
            pid: record.pid,
            port: record.port,
            state_dir: state.dir.clone(),
            reused: true,
            stop_timeout: options.stop_timeout,
            database: record.database,
            workers: record.workers,
            child: None,
        }))
    }

    /// Starts a new server process and waits for it to become healthy.
    fn launch(
        state: &StateDir,
        options: &ServerOptions,
        env: &PythonEnv,
    ) -> Result<LocalServer, LocalServerError> {
        let backing = Backing::start(state, options, env)?;
        let launched = Self::launch_server(state, options, env, &backing);
        if launched.is_err() {
            // Nothing half-started stays behind: what this call started, it stops.
            backing.stop_started(state, options.stop_timeout);
        }
        launched
    }

    fn launch_server(
        state: &StateDir,
        options: &ServerOptions,
        env: &PythonEnv,
        backing: &Backing,
    ) -> Result<LocalServer, LocalServerError> {
        let mut last_tail = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = match options.port {
                Some(port) => port,
                None => free_port()?,
            };
            let api_url = format!("http://127.0.0.1:{port}/api");
            let log_file = state.file("server.log");
            let log_start = fs::metadata(&log_file).map_or(0, |m| m.len());
            let started = Instant::now();
            options.progress.report(&format!(
                "starting prefect server on 127.0.0.1:{port} ({}; log: {})",
                options.description(),
                log_file.display()
            ));
            let mut child = spawn_server(state, options, env, port, &backing.env)?;
            let pid = child.id();
            // Recorded before the wait, so that a launcher killed meanwhile leaves a server
            // that the next start or stop can find (and that is not leaked).
            state.write("server.port", &port.to_string())?;
            state.write(
                "server.options",
                &format!(
                    "{}\n{}\n{}\n{} {}",
                    options.fingerprint(),
                    options.description(),
                    options.secret_fingerprints(),
                    options.database,
                    options.workers
                ),
            )?;
            state.write("server.pid", &pid.to_string())?;

            let tail = || options.redact(read_tail(&log_file, log_start, LOG_TAIL_LINES));
            let settle = if options.workers > 1 {
                MULTI_WORKER_SETTLE
            } else {
                SETTLE
            };
            match wait_until_healthy(&mut child, port, options.start_timeout, settle) {
                Health::Healthy => {
                    if let Some(grace) = options.stop_when_unused
                        && let Err(e) = spawn_watchdog(state, options, env, pid, grace, backing)
                    {
                        // A server nobody would ever stop is worse than no server.
                        let _ = process::terminate(pid, Duration::from_secs(5));
                        let _ = child.try_wait();
                        state.clear_keeping_users()?;
                        return Err(e);
                    }
                    state.write("server.url", &api_url)?;
                    options.progress.report(&format!(
                        "prefect server healthy at {api_url} (pid {pid}) after {:.1?}",
                        started.elapsed()
                    ));
                    return Ok(LocalServer {
                        api_url,
                        pid,
                        port,
                        state_dir: state.dir.clone(),
                        reused: false,
                        stop_timeout: options.stop_timeout,
                        database: options.database,
                        workers: options.workers,
                        child: Some(child),
                    });
                }
                Health::Exited(status) => {
                    state.clear_keeping_users()?;
                    last_tail = tail();
                    let port_taken = options.port.is_none()
                        && last_tail
                            .to_ascii_lowercase()
                            .contains("address already in use");
                    if port_taken {
                        options
                            .progress
                            .report(&format!("port {port} was taken meanwhile; retrying"));
                        continue;
                    }
                    return Err(LocalServerError::ServerExited {
                        status,
                        log_file,
                        log_tail: last_tail,
                    });
                }
                Health::TimedOut => {
                    let _ = process::terminate(pid, Duration::from_secs(5));
                    let _ = child.try_wait();
                    state.clear_keeping_users()?;
                    let log_tail = tail();
                    return Err(LocalServerError::StartTimedOut {
                        timeout: options.start_timeout,
                        health_url: format!("{api_url}/health"),
                        log_file,
                        log_tail,
                    });
                }
            }
        }
        Err(LocalServerError::NoFreePort {
            attempts: PORT_ATTEMPTS,
            log_tail: last_tail,
        })
    }
}

/// Spawns `prefect server start` detached from the caller, its output appended to the log.
fn spawn_server(
    state: &StateDir,
    options: &ServerOptions,
    env: &PythonEnv,
    port: u16,
    backing_env: &[(String, String)],
) -> Result<Child, LocalServerError> {
    let log_file = state.file("server.log");
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_file)
        .map_err(LocalServerError::io("open log", &log_file))?;
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    writeln!(
        log,
        "=== prefab: starting prefect server on 127.0.0.1:{port} ({}) at unix time {since_epoch}",
        options.description()
    )
    .map_err(LocalServerError::io("write log", &log_file))?;
    let log_err = log
        .try_clone()
        .map_err(LocalServerError::io("open log", &log_file))?;

    let program = env.bin("prefect");
    let port_arg = port.to_string();
    let mut cmd = prefect_command(state, options, &program, backing_env)?;
    cmd.args([
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        &port_arg,
    ])
    .args(["--no-ui", "--analytics-off"]);
    match options.services {
        Services::None => {
            cmd.arg("--no-services");
        }
        Services::Scheduler => {
            cmd.args(["--scheduler", "--no-late-runs"]);
            for service in NON_SCHEDULER_SERVICES {
                cmd.env(
                    format!("PREFECT_SERVER_SERVICES_{service}_ENABLED"),
                    "false",
                );
            }
            cmd.env("PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED", "true");
        }
        Services::All => {}
    }
    if options.workers > 1 {
        cmd.args(["--workers", &options.workers.to_string()]);
    }
    cmd.env("PREFECT_SERVER_API_HOST", "127.0.0.1")
        .env("PREFECT_SERVER_API_PORT", &port_arg);
    // The caller's settings last, so that they can override prefab's.
    for (key, value) in &options.settings {
        cmd.env(key, value.expose());
    }
    cmd.stdout(log).stderr(log_err);
    // Never format `cmd` into an error: its Debug output includes the auth string.
    cmd.spawn()
        .map_err(|source| LocalServerError::SpawnFailed { program, source })
}

/// `<venv>/bin/prefect` with the server's environment: none of the caller's `PREFECT_*`
/// variables, `PREFECT_HOME` and the database of the state directory, `backing_env` (the
/// PostgreSQL URL, the Redis settings), then the options' auth string and settings; run from
/// the state directory in a process group of its own.
fn prefect_command(
    state: &StateDir,
    options: &ServerOptions,
    program: &Path,
    backing_env: &[(String, String)],
) -> Result<Command, LocalServerError> {
    let home = state.file("home");
    fs::create_dir_all(&home).map_err(LocalServerError::io("create directory", &home))?;
    let mut cmd = Command::new(program);
    // Prefect reads every PREFECT_* variable as a setting; the caller's must not leak in.
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PREFECT_") {
            cmd.env_remove(&key);
        }
    }
    let mut database = OsStr::new("sqlite+aiosqlite:///").to_os_string();
    database.push(home.join("prefect.db"));
    cmd.env("PREFECT_HOME", &home)
        .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        .env("PREFECT_SERVER_UI_ENABLED", "false")
        .env("PREFECT_SERVER_DATABASE_CONNECTION_URL", database)
        .env("DO_NOT_TRACK", "1");
    for (key, value) in backing_env {
        cmd.env(key, value);
    }
    if let Some(auth) = &options.auth_string {
        cmd.env("PREFECT_SERVER_API_AUTH_STRING", auth.expose());
    }
    for (key, value) in &options.settings {
        cmd.env(key, value.expose());
    }
    // Its own process group: Ctrl-C in the caller's terminal and the caller's exit leave the
    // server running, as a server shared between test processes must.
    cmd.current_dir(&state.dir)
        .stdin(Stdio::null())
        .process_group(0);
    Ok(cmd)
}

/// How long a server must stay up after its first healthy answer: Prefect's multi-worker
/// server can answer `/api/health` and then die when a worker fails to start.
const SETTLE: Duration = Duration::from_millis(500);
const MULTI_WORKER_SETTLE: Duration = Duration::from_secs(3);

/// PostgreSQL and Redis as one launch uses them: the environment they add to the server's,
/// and what this launch started (to be stopped again if the server does not come up).
struct Backing {
    env: Vec<(String, String)>,
    postgres: Option<PostgresRunning>,
    redis: Option<(RedisRunning, bool)>,
}

impl Backing {
    /// Nothing for SQLite; for PostgreSQL the cluster (started or reused), Redis for several
    /// workers (with `prefect-redis` in the venv), and the migration, which must run before
    /// several workers start (each would migrate a fresh database at once, and one dies).
    fn start(
        state: &StateDir,
        options: &ServerOptions,
        env: &PythonEnv,
    ) -> Result<Backing, LocalServerError> {
        let mut backing = Backing {
            env: Vec::new(),
            postgres: None,
            redis: None,
        };
        if options.database == Database::Sqlite {
            return Ok(backing);
        }
        let progress = &options.progress;
        // Found before anything starts, so that a missing package fails fast.
        let mut postgres = Postgres::new(state)?;
        if options.workers > 1 {
            backing::redis_program()?;
        }
        let result = (|| {
            let pg = postgres.ensure_running(state, progress)?;
            backing.postgres = Some(pg);
            backing.env.push((
                "PREFECT_SERVER_DATABASE_CONNECTION_URL".to_owned(),
                pg.url(),
            ));
            if options.workers > 1 {
                let mut spec = options.python_env.clone();
                if !spec.progress.is_set() {
                    spec.progress = progress.clone();
                }
                spec.ensure_extra(&[python_env::PREFECT_REDIS_PIN])?;
                let (redis, started) = Redis::ensure_running(state, progress)?;
                backing.redis = Some((redis, started));
                for (key, value) in backing::redis_settings(redis.port) {
                    backing.env.push((key.to_owned(), value));
                }
            }
            let prefect = env.bin("prefect");
            let upgrade = ["server", "database", "upgrade", "-y"];
            run_to_end(
                state,
                options,
                &prefect,
                &upgrade,
                &backing.env,
                "migrating",
            )?;
            if options.workers > 1 {
                // Each worker registers Prefect's block types at startup, and on a fresh
                // database two of them collide (`uq_block_type__slug`) and the server exits:
                // register them once first, as the server's own startup does.
                let register = ["-c", REGISTER_BLOCK_TYPES];
                let python = env.python();
                run_to_end(
                    state,
                    options,
                    &python,
                    &register,
                    &backing.env,
                    "registering block types in",
                )?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(backing),
            Err(e) => {
                backing.stop_started(state, options.stop_timeout);
                Err(e)
            }
        }
    }

    /// Stops what [`start`](Self::start) started (not what it reused); errors are ignored, the
    /// caller already has the one to report.
    fn stop_started(&self, state: &StateDir, timeout: Duration) {
        if let Some((_, true)) = self.redis {
            let _ = Redis::stop(state, timeout);
        }
        if self.postgres.is_some_and(|pg| pg.started) {
            let _ = Postgres::stop(state, timeout);
        }
    }

    /// `SIGNAL:PID` for each backing process, in stop order, for the watchdog.
    fn stop_list(&self) -> Vec<String> {
        let redis = self.redis.map(|(r, _)| format!("TERM:{}", r.pid));
        let postgres = self.postgres.map(|pg| format!("INT:{}", pg.pid));
        redis.into_iter().chain(postgres).collect()
    }
}

/// What Prefect's server runs at startup to register its block types
/// (`prefect.server.api.server`'s `add_block_types`).
const REGISTER_BLOCK_TYPES: &str = "\
import asyncio
from prefect.server.database import provide_database_interface
from prefect.server.models.block_registration import run_block_auto_registration

async def main():
    session = await provide_database_interface().session()
    async with session:
        await run_block_auto_registration(session=session)

asyncio.run(main())
";

/// Runs `program args` with the server's environment to its end (its output appended to the
/// server log), within the start timeout: the migration (`prefect server database upgrade -y`)
/// and the block type registration.
fn run_to_end(
    state: &StateDir,
    options: &ServerOptions,
    program: &Path,
    args: &[&str],
    backing_env: &[(String, String)],
    what: &'static str,
) -> Result<(), LocalServerError> {
    let log_file = state.file("server.log");
    let log_start = fs::metadata(&log_file).map_or(0, |m| m.len());
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_file)
        .map_err(LocalServerError::io("open log", &log_file))?;
    let log_err = log
        .try_clone()
        .map_err(LocalServerError::io("open log", &log_file))?;
    let started = Instant::now();
    let step = match what {
        "migrating" => "migrating the database (prefect server database upgrade -y)",
        _ => "registering Prefect's block types once, before several workers start",
    };
    options.progress.report(step);
    let mut cmd = prefect_command(state, options, program, backing_env)?;
    cmd.args(args).stdout(log).stderr(log_err);
    let mut child = cmd
        .spawn()
        .map_err(|source| LocalServerError::SpawnFailed {
            program: program.to_path_buf(),
            source,
        })?;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if started.elapsed() >= options.start_timeout {
            let _ = process::terminate(child.id(), Duration::from_secs(5));
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    match status {
        Some(status) if status.success() => {
            options.progress.report(&format!(
                "done {what} the database after {:.1?}",
                started.elapsed()
            ));
            Ok(())
        }
        other => Err(LocalServerError::MigrationFailed {
            what,
            status: other.map_or_else(
                || format!("timed out after {:?}", options.start_timeout),
                |s| s.to_string(),
            ),
            log_tail: options.redact(read_tail(&log_file, log_start, LOG_TAIL_LINES)),
            log_file,
        }),
    }
}

/// The watchdog behind [`ServerOptions::stop_when_unused`].
const WATCHDOG_PY: &str = include_str!("watchdog.py");

/// Starts the watchdog that stops server `pid` once its users are gone for `grace`.
fn spawn_watchdog(
    state: &StateDir,
    options: &ServerOptions,
    env: &PythonEnv,
    pid: u32,
    grace: Duration,
    backing: &Backing,
) -> Result<(), LocalServerError> {
    let script = state.file("watchdog.py");
    fs::write(&script, WATCHDOG_PY).map_err(LocalServerError::io("write", &script))?;
    let log_file = state.file("server.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_file)
        .map_err(LocalServerError::io("open log", &log_file))?;
    let log_err = log
        .try_clone()
        .map_err(LocalServerError::io("open log", &log_file))?;
    let python = env.python();
    // `-I`: no PYTHON* variables, no user site-packages; the script needs only the stdlib.
    Command::new(&python)
        .arg("-I")
        .arg(&script)
        .arg(&state.dir)
        .arg(pid.to_string())
        .arg(grace.as_secs_f64().to_string())
        .arg(options.stop_timeout.as_secs_f64().to_string())
        .args(backing.stop_list())
        .current_dir(&state.dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|source| LocalServerError::SpawnFailed {
            program: python,
            source,
        })?;
    options.progress.report(&format!(
        "the server stops itself {grace:?} after its last user exits"
    ));
    Ok(())
}

enum Health {
    Healthy,
    Exited(std::process::ExitStatus),
    TimedOut,
}

/// Waits for `/api/health` to answer `true`, then for `settle` more, in which the process must
/// stay alive (and the health endpoint keep answering).
fn wait_until_healthy(child: &mut Child, port: u16, timeout: Duration, settle: Duration) -> Health {
    let started = Instant::now();
    let mut healthy_since: Option<Instant> = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Health::Exited(status);
        }
        match healthy_since {
            Some(since) if since.elapsed() >= settle => {
                if health::is_healthy(port) {
                    return Health::Healthy;
                }
                healthy_since = None;
            }
            Some(_) => {}
            None if health::is_healthy(port) => healthy_since = Some(Instant::now()),
            None => {}
        }
        if started.elapsed() >= timeout {
            return Health::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A port that was free a moment ago (the OS picks it; the server binds it right after).
fn free_port() -> Result<u16, LocalServerError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| LocalServerError::FreePortUnavailable { source })
}

/// The files of one state directory.
struct StateDir {
    dir: PathBuf,
}

/// What the state files say about the server.
struct Record {
    pid: u32,
    port: u16,
    /// Written once the server was healthy.
    api_url: Option<String>,
    fingerprint: Option<String>,
    description: Option<String>,
    /// Per-secret fingerprints (records written by prefab versions before them have none).
    secret_fingerprints: Option<String>,
    database: Database,
    workers: u16,
}

impl StateDir {
    fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<String>, LocalServerError> {
        let path = self.file(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LocalServerError::io("read", path)(e)),
        }
    }

    /// `None` unless both a PID and a port are recorded (anything less is not a server).
    fn read_record(&self) -> Result<Option<Record>, LocalServerError> {
        let pid = self.read("server.pid")?.and_then(|p| p.parse().ok());
        let port = self.read("server.port")?.and_then(|p| p.parse().ok());
        let (Some(pid), Some(port)) = (pid, port) else {
            return Ok(None);
        };
        let options = self.read("server.options")?;
        let mut lines = options.as_deref().unwrap_or("").lines().map(str::to_owned);
        let (fingerprint, description, secret_fingerprints, shape) =
            (lines.next(), lines.next(), lines.next(), lines.next());
        // `<database> <workers>`; absent in records of SQLite servers by older versions.
        let mut shape = shape.as_deref().unwrap_or("").split_whitespace();
        let database = shape
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or_default();
        let workers = shape.next().and_then(|w| w.parse().ok()).unwrap_or(1);
        let (fingerprint, description) = match (fingerprint, description) {
            (Some(f), Some(d)) => (Some(f), Some(d)),
            _ => (None, None),
        };
        Ok(Some(Record {
            pid,
            port,
            api_url: self.read("server.url")?,
            fingerprint,
            description,
            secret_fingerprints,
            database,
            workers,
        }))
    }

    fn write(&self, name: &str, contents: &str) -> Result<(), LocalServerError> {
        let path = self.file(name);
        fs::write(&path, format!("{contents}\n")).map_err(LocalServerError::io("write", path))
    }

    /// Records `pid` as a user of the server (see [`ServerOptions::stop_when_unused`]),
    /// dropping users that have exited.
    fn add_user(&self, pid: u32) -> Result<(), LocalServerError> {
        let mut users: Vec<u32> = self
            .read("server.users")?
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|&p| p != pid && process::is_alive(p))
            .collect();
        users.push(pid);
        let lines: Vec<String> = users.iter().map(u32::to_string).collect();
        self.write("server.users", &lines.join("\n"))
    }

    /// Removes the files that describe a running server (not the log, not the database).
    fn clear(&self) -> Result<(), LocalServerError> {
        self.clear_keeping_users()?;
        self.remove("server.users")
    }

    /// [`clear`](Self::clear), but the users stay: they belong to the next server too.
    fn clear_keeping_users(&self) -> Result<(), LocalServerError> {
        for name in ["server.pid", "server.port", "server.url", "server.options"] {
            self.remove(name)?;
        }
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<(), LocalServerError> {
        let path = self.file(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(LocalServerError::io("remove", path)(e))
            }
            _ => Ok(()),
        }
    }
}

/// The last `lines` lines of `path` from byte `from` on (this start's part of the log).
fn read_tail(path: &Path, from: u64, lines: usize) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let start = usize::try_from(from).unwrap_or(0).min(bytes.len());
    tail_lines(&String::from_utf8_lossy(&bytes[start..]), lines)
}

/// The last `n` lines of `text`.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Accepts names that are one plain path component.
fn validate_name(what: &'static str, name: &str) -> Result<(), LocalServerError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it is `.` or `..`")
    } else if name.contains(['/', '\0']) {
        Some("it must not contain `/`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LocalServerError::InvalidName {
            what,
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_round_trip_through_their_names() {
        for services in [Services::None, Services::Scheduler, Services::All] {
            assert_eq!(services.as_str().parse::<Services>(), Ok(services));
        }
        assert_eq!(
            "some".parse::<Services>().unwrap_err().to_string(),
            "unknown services `some`: expected none, scheduler or all"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_and_descriptions() {
        let options = ServerOptions::new().auth_string("admin:hunter2").setting(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL",
            "postgresql://u:pw-xyz@db/p",
        );
        let debug = format!("{options:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("pw-xyz"),
            "{debug}"
        );
        let description = options.description();
        assert_eq!(
            description,
            "database=sqlite, workers=1, services=none, auth=on, settings=[PREFECT_SERVER_DATABASE_CONNECTION_URL]"
        );
        assert!(!options.fingerprint().contains("hunter2"));
        assert_eq!(
            options.redact("auth admin:hunter2 db postgresql://u:pw-xyz@db/p".into()),
            "auth *** db ***"
        );
    }

    #[test]
    fn invalid_shapes_are_refused_with_the_fix() {
        let err = |o: ServerOptions| o.validate_settings().unwrap_err().to_string();
        assert!(err(ServerOptions::new().workers(2)).contains("add `--database postgres`"));
        assert!(err(ServerOptions::new().workers(0)).contains("at least 1"));
        let services = ServerOptions::new()
            .database(Database::Postgres)
            .workers(2)
            .services(Services::Scheduler);
        assert!(err(services).contains("--services none"));
        assert!(
            ServerOptions::new()
                .database(Database::Postgres)
                .workers(4)
                .validate_settings()
                .is_ok()
        );
    }

    #[test]
    fn the_sqlite_fingerprint_is_unchanged_by_the_shape_options() {
        // Servers recorded before `database`/`workers` existed must still be reused.
        let plain = ServerOptions::new().setting("PREFECT_X", "1");
        let explicit = ServerOptions::new()
            .setting("PREFECT_X", "1")
            .database(Database::Sqlite)
            .workers(1);
        assert_eq!(plain.fingerprint(), explicit.fingerprint());
        let postgres = ServerOptions::new()
            .setting("PREFECT_X", "1")
            .database(Database::Postgres);
        assert_ne!(plain.fingerprint(), postgres.fingerprint());
        assert_ne!(
            postgres.fingerprint(),
            postgres.clone().workers(2).fingerprint()
        );
    }

    #[test]
    fn differences_name_what_differs_and_no_secret() {
        let running = ServerOptions::new()
            .auth_string("admin:hunter2")
            .setting("PREFECT_X", "one-value");
        let record = Record {
            pid: 1,
            port: 1,
            api_url: None,
            fingerprint: Some(running.fingerprint()),
            description: Some(running.description()),
            secret_fingerprints: Some(running.secret_fingerprints()),
            database: Database::Sqlite,
            workers: 1,
        };
        let other_auth = ServerOptions::new()
            .auth_string("admin:swordfish")
            .setting("PREFECT_X", "one-value");
        assert_eq!(
            other_auth.differences(&record),
            "the auth strings differ (neither is shown)"
        );
        let other_value = ServerOptions::new()
            .auth_string("admin:hunter2")
            .setting("PREFECT_X", "two-value");
        assert_eq!(
            other_value.differences(&record),
            "the values of PREFECT_X differ (neither is shown)"
        );
        let no_auth = ServerOptions::new().setting("PREFECT_X", "one-value");
        let text = no_auth.differences(&record);
        assert!(
            text.contains("running: database=sqlite, workers=1, services=none, auth=on"),
            "{text}"
        );
        for t in [
            other_auth.differences(&record),
            other_value.differences(&record),
            text,
        ] {
            for secret in ["hunter2", "swordfish", "one-value", "two-value"] {
                assert!(!t.contains(secret), "{t}");
            }
        }
    }

    #[test]
    fn fingerprint_tells_option_sets_apart() {
        let base = ServerOptions::new();
        let same = ServerOptions::new()
            .name("other")
            .start_timeout(Duration::from_secs(1));
        assert_eq!(base.fingerprint(), same.fingerprint());
        for other in [
            ServerOptions::new().services(Services::Scheduler),
            ServerOptions::new().auth_string("a:b"),
            ServerOptions::new().setting("PREFECT_X", "1"),
        ] {
            assert_ne!(base.fingerprint(), other.fingerprint());
        }
    }

    #[test]
    fn malformed_settings_are_refused_by_key() {
        for key in ["", "1X", "A-B", "A=B"] {
            let err = ServerOptions::new()
                .setting(key, "v")
                .validate_settings()
                .unwrap_err();
            assert!(
                matches!(&err, LocalServerError::InvalidSetting { key: k, .. } if k == key),
                "{key}: {err}"
            );
        }
        ServerOptions::new()
            .setting("PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "5")
            .validate_settings()
            .unwrap();
    }

    #[test]
    fn stale_pid_file_reads_as_stopped_and_stop_cleans_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().to_path_buf());
        // Our own PID: alive, but not a prefect server, so it must neither count nor be killed.
        state
            .write("server.pid", &std::process::id().to_string())
            .unwrap();
        state.write("server.port", "4200").unwrap();
        state
            .write("server.url", "http://127.0.0.1:4200/api")
            .unwrap();
        assert_eq!(
            LocalServer::status(dir.path()).unwrap(),
            ServerStatus::Stopped
        );
        assert_eq!(
            LocalServer::stop_in(dir.path(), Duration::from_secs(1)).unwrap(),
            StopOutcome::NotRunning
        );
        assert!(state.read_record().unwrap().is_none());
    }

    #[test]
    fn state_dir_defaults_under_the_cache_dir() {
        let dir = ServerOptions::new()
            .name("xtask")
            .resolved_state_dir()
            .unwrap();
        assert!(dir.ends_with("prefab/servers/xtask"), "{}", dir.display());
        assert!(matches!(
            ServerOptions::new().name("../x").resolved_state_dir(),
            Err(LocalServerError::InvalidName { .. })
        ));
    }

    /// Options whose "Prefect" is `script`, in a fake venv that [`PythonEnvSpec`] accepts as
    /// installed: the failure paths of a start, without Python.
    fn fake_prefect(dir: &Path, script: &str) -> ServerOptions {
        use std::os::unix::fs::PermissionsExt as _;
        let venvs = dir.join("venvs");
        let spec = PythonEnvSpec::prefect().venvs_dir(&venvs);
        let root = spec.root().unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join(".prefab-pins"), PREFECT_PIN).unwrap();
        fs::write(root.join("bin/python"), "").unwrap();
        let prefect = root.join("bin/prefect");
        fs::write(&prefect, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&prefect, fs::Permissions::from_mode(0o755)).unwrap();
        ServerOptions::new()
            .state_dir(dir.join("state"))
            .python_env(spec)
    }

    #[test]
    fn server_dying_at_startup_reports_its_log_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let options = fake_prefect(
            dir.path(),
            "echo \"auth is $PREFECT_SERVER_API_AUTH_STRING, home is $PREFECT_HOME\"\n\
             echo 'sqlite3.OperationalError: pretend migration failure' >&2\nexit 3",
        )
        .auth_string("admin:topsecret");
        let err = options.start().unwrap_err();
        let LocalServerError::ServerExited {
            status, log_tail, ..
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(status.code(), Some(3));
        assert!(log_tail.contains("pretend migration failure"), "{log_tail}");
        let home = dir.path().join("state/home");
        assert!(
            log_tail.contains(&format!("auth is ***, home is {}", home.display())),
            "{log_tail}"
        );
        assert!(
            !err.to_string().contains("topsecret") && !format!("{err:?}").contains("topsecret")
        );
        assert_eq!(
            LocalServer::status(dir.path().join("state")).unwrap(),
            ServerStatus::Stopped
        );
    }

    #[test]
    fn server_never_healthy_is_stopped_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("fake.pid");
        let options = fake_prefect(
            dir.path(),
            &format!(
                "echo $$ > {}\necho 'waiting forever'\nexec sleep 60",
                pid_file.display()
            ),
        )
        .start_timeout(Duration::from_secs(1));
        let err = options.start().unwrap_err();
        assert!(
            matches!(&err, LocalServerError::StartTimedOut { log_tail, .. }
                if log_tail.contains("waiting forever")),
            "{err}"
        );
        let pid: u32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!process::is_alive(pid), "the hung server was left running");
    }

    #[test]
    fn taken_port_is_retried_then_reported() {
        let dir = tempfile::tempdir().unwrap();
        let options = fake_prefect(
            dir.path(),
            "echo \"ERROR: [Errno 98] error while attempting to bind on address \
             ('127.0.0.1', $6): address already in use\"\nexit 1",
        );
        let err = options.start().unwrap_err();
        assert!(
            matches!(&err, LocalServerError::NoFreePort { attempts: 3, log_tail }
                if log_tail.contains("address already in use")),
            "{err}"
        );
        let log = fs::read_to_string(dir.path().join("state/server.log")).unwrap();
        assert_eq!(log.matches("=== prefab: starting").count(), 3, "{log}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
    }
}
