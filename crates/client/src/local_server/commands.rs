//! The `start` / `status` / `stop` commands shared by `cargo xtask prefect-server` and
//! `prefab server`: one implementation, two front ends that differ only in their names.
//!
//! Each command reports progress on stderr (prefixed with the front end's tag) and returns the
//! line to print on stdout: the API URL, or `stopped`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT, Database, LocalServer, LocalServerError,
    ServerOptions, ServerStatus, Services, StopOutcome,
};

/// A command-line front end: its default state directory name, its stderr tag and how users
/// stop a server with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerCommands {
    /// The default state directory is `<prefab cache dir>/servers/<name>`.
    pub name: &'static str,
    /// Prefix of the progress lines on stderr (`xtask`, `prefab`).
    pub tag: &'static str,
    /// The command that stops the server, for the hint after `start`
    /// (`cargo xtask prefect-server stop`).
    pub stop_command: &'static str,
}

/// The arguments of `start`.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The state directory (default: the front end's, under the cache directory).
    pub state_dir: Option<PathBuf>,
    /// Background services.
    pub services: Services,
    /// HTTP Basic `user:pass`; empty means none. Never printed.
    pub auth_string: Option<String>,
    /// Extra Prefect settings as `KEY=VALUE`.
    pub settings: Vec<String>,
    /// How long to wait for `/api/health`.
    pub start_timeout: Duration,
    /// The database.
    pub database: Database,
    /// API worker processes (more than one needs PostgreSQL).
    pub workers: u16,
}

impl Default for StartRequest {
    fn default() -> Self {
        Self {
            state_dir: None,
            services: Services::None,
            auth_string: None,
            settings: Vec::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
            database: Database::Sqlite,
            workers: 1,
        }
    }
}

/// What `status` found: the stdout line is the URL or `stopped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusLine {
    /// A healthy server's API URL.
    Running(String),
    /// No server.
    Stopped,
}

impl std::fmt::Display for StatusLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusLine::Running(url) => f.write_str(url),
            StatusLine::Stopped => f.write_str("stopped"),
        }
    }
}

/// `database postgres, 2 API workers`.
fn shape(database: Database, workers: u16) -> String {
    format!(
        "database {database}, {workers} API worker{}",
        if workers == 1 { "" } else { "s" }
    )
}

impl ServerCommands {
    /// `start`: starts a server (or reuses the running one) that outlives the process, and
    /// returns it; print [`LocalServer::api_url`] as the last stdout line.
    pub fn start(&self, request: StartRequest) -> Result<LocalServer, LocalServerError> {
        let tag = self.tag;
        let mut options = ServerOptions::new()
            .name(self.name)
            .services(request.services)
            .database(request.database)
            .workers(request.workers)
            .start_timeout(request.start_timeout)
            .on_progress(move |line| eprintln!("{tag}: {line}"));
        if let Some(dir) = request.state_dir {
            options = options.state_dir(dir);
        }
        if let Some(auth) = request.auth_string.filter(|a| !a.is_empty()) {
            options = options.auth_string(auth);
        }
        for setting in &request.settings {
            let (key, value) =
                setting
                    .split_once('=')
                    .ok_or_else(|| LocalServerError::InvalidSetting {
                        key: setting.clone(),
                        reason: "expected KEY=VALUE",
                    })?;
            options = options.setting(key, value);
        }
        let server = options.start()?;
        eprintln!(
            "{tag}: {} pid {} ({}; log: {}); stop it with `{}{}`",
            if server.was_reused() {
                "reusing"
            } else {
                "started"
            },
            server.pid(),
            shape(server.database(), server.workers()),
            server.log_file().display(),
            self.stop_command,
            self.state_dir_hint(&options)
        );
        Ok(server)
    }

    /// `status`: the running server's URL, or stopped; an error when the recorded process runs
    /// but does not answer `/api/health`.
    pub fn status(&self, state_dir: Option<&Path>) -> Result<StatusLine, LocalServerError> {
        let state_dir = self.state_dir(state_dir)?;
        match LocalServer::status(&state_dir)? {
            ServerStatus::Running {
                api_url,
                pid,
                database,
                workers,
            } => {
                eprintln!(
                    "{}: running, pid {pid}, {}",
                    self.tag,
                    shape(database, workers)
                );
                Ok(StatusLine::Running(api_url))
            }
            ServerStatus::Unhealthy { pid } => Err(LocalServerError::NotAnswering {
                log_file: state_dir.join("server.log"),
                pid,
            }),
            _ => Ok(StatusLine::Stopped),
        }
    }

    /// `stop`: stops the server (SIGTERM, SIGKILL after 30 s), then the Redis and PostgreSQL
    /// servers it stood on, each by PID; the database is kept. Returns
    /// [`StatusLine::Stopped`].
    pub fn stop(&self, state_dir: Option<&Path>) -> Result<StatusLine, LocalServerError> {
        let state_dir = self.state_dir(state_dir)?;
        match LocalServer::stop_in(&state_dir, DEFAULT_STOP_TIMEOUT)? {
            StopOutcome::Stopped { pid, killed } => eprintln!(
                "{}: stopped pid {pid}{}",
                self.tag,
                if killed { " (needed SIGKILL)" } else { "" }
            ),
            _ => eprintln!(
                "{}: no server was running from {}",
                self.tag,
                state_dir.display()
            ),
        }
        Ok(StatusLine::Stopped)
    }

    /// The state directory a command uses.
    pub fn state_dir(&self, state_dir: Option<&Path>) -> Result<PathBuf, LocalServerError> {
        let mut options = ServerOptions::new().name(self.name);
        if let Some(dir) = state_dir {
            options = options.state_dir(dir);
        }
        options.resolved_state_dir()
    }

    /// ` --state-dir DIR` unless the default is in use.
    fn state_dir_hint(&self, options: &ServerOptions) -> String {
        let default = self.state_dir(None).ok();
        match options.resolved_state_dir() {
            Ok(dir) if Some(&dir) != default.as_ref() => format!(" --state-dir {}", dir.display()),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: ServerCommands = ServerCommands {
        name: "unit",
        tag: "unit",
        stop_command: "unit stop",
    };

    #[test]
    fn malformed_setting_is_rejected_before_anything_starts() {
        let dir = std::env::temp_dir().join(format!("prefab-commands-{}", std::process::id()));
        let err = COMMANDS
            .start(StartRequest {
                state_dir: Some(dir.clone()),
                settings: vec!["PREFECT_NO_VALUE".to_owned()],
                ..StartRequest::default()
            })
            .unwrap_err();
        assert!(
            matches!(&err, LocalServerError::InvalidSetting { key, .. } if key == "PREFECT_NO_VALUE"),
            "{err}"
        );
        assert!(!dir.exists());
    }

    #[test]
    fn status_and_stop_of_an_empty_state_dir() {
        let dir =
            std::env::temp_dir().join(format!("prefab-commands-empty-{}", std::process::id()));
        assert_eq!(COMMANDS.status(Some(&dir)).unwrap(), StatusLine::Stopped);
        assert_eq!(COMMANDS.stop(Some(&dir)).unwrap().to_string(), "stopped");
        assert_eq!(
            StatusLine::Running("http://127.0.0.1:1/api".to_owned()).to_string(),
            "http://127.0.0.1:1/api"
        );
    }

    #[test]
    fn explicit_state_dir_is_used_as_given() {
        let dir = std::env::temp_dir().join("prefab-commands-explicit");
        assert_eq!(COMMANDS.state_dir(Some(&dir)).unwrap(), dir);
    }
}
