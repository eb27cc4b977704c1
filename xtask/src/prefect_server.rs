//! `cargo xtask prefect-server start|stop|status`: a real Prefect 3.9.1 server on loopback that
//! outlives the command, for trying things by hand and for CI steps outside `cargo test`.
//!
//! ```text
//! export PREFECT_API_URL=$(cargo xtask prefect-server start | tail -n1)
//! cargo xtask prefect-server status   # the URL, or `stopped`
//! cargo xtask prefect-server stop
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use prefab_client::local_server::{
    DEFAULT_STOP_TIMEOUT, LocalServer, ServerOptions, ServerStatus, Services, StopOutcome,
};

/// The state directory's name under `<cache>/prefab/servers/`.
const STATE_NAME: &str = "xtask";

#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Start a server (or reuse the running one) and print its API URL as the last line of
    /// stdout; the server keeps running in the background.
    Start(StartArgs),
    /// Print the running server's API URL, or `stopped`.
    Status(StateArgs),
    /// Stop the server (SIGTERM, SIGKILL after 30 s); the database is kept.
    Stop(StateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// State directory: PID/URL files, log, PREFECT_HOME with the SQLite database
    /// [default: `~/.cache/prefab/servers/xtask`].
    #[arg(long, env = "PREFAB_SERVER_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Background services: none (API only), scheduler (auto-scheduled runs), all.
    #[arg(long, default_value_t = Services::None)]
    services: Services,
    /// HTTP Basic `user:pass` the server requires (PREFECT_SERVER_API_AUTH_STRING); prefer the
    /// environment variable, which other users cannot read from the process list.
    #[arg(long, env = "PREFAB_SERVER_AUTH_STRING", hide_env_values = true)]
    auth_string: Option<String>,
    /// An extra Prefect setting for the server, e.g.
    /// PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=5 (repeatable).
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Seconds to wait for /api/health.
    #[arg(long, default_value_t = 180)]
    start_timeout: u64,
}

pub(crate) fn run(command: ServerCommand) -> Result<(), String> {
    match command {
        ServerCommand::Start(args) => start(args),
        ServerCommand::Status(args) => {
            let state_dir = state_dir(&args)?;
            match LocalServer::status(&state_dir).map_err(|e| e.to_string())? {
                ServerStatus::Running { api_url, .. } => println!("{api_url}"),
                ServerStatus::Unhealthy { pid } => {
                    return Err(format!(
                        "pid {pid} runs but does not answer /api/health (starting, or hung); \
                         log: {}",
                        state_dir.join("server.log").display()
                    ));
                }
                _ => println!("stopped"),
            }
            Ok(())
        }
        ServerCommand::Stop(args) => {
            let state_dir = state_dir(&args)?;
            match LocalServer::stop_in(&state_dir, DEFAULT_STOP_TIMEOUT)
                .map_err(|e| e.to_string())?
            {
                StopOutcome::Stopped { pid, killed } => eprintln!(
                    "xtask: stopped pid {pid}{}",
                    if killed { " (needed SIGKILL)" } else { "" }
                ),
                _ => eprintln!("xtask: no server was running from {}", state_dir.display()),
            }
            println!("stopped");
            Ok(())
        }
    }
}

fn start(args: StartArgs) -> Result<(), String> {
    let mut options = ServerOptions::new()
        .name(STATE_NAME)
        .services(args.services)
        .start_timeout(Duration::from_secs(args.start_timeout))
        .on_progress(|line| eprintln!("xtask: {line}"));
    if let Some(dir) = args.state.state_dir {
        options = options.state_dir(dir);
    }
    if let Some(auth) = args.auth_string.filter(|a| !a.is_empty()) {
        options = options.auth_string(auth);
    }
    for setting in &args.settings {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--setting {setting:?}: expected KEY=VALUE"))?;
        options = options.setting(key, value);
    }
    let server = options.start().map_err(|e| e.to_string())?;
    eprintln!(
        "xtask: {} pid {} (log: {}); stop it with `cargo xtask prefect-server stop{}`",
        if server.was_reused() {
            "reusing"
        } else {
            "started"
        },
        server.pid(),
        server.log_file().display(),
        stop_hint(&options)
    );
    println!("{}", server.api_url());
    Ok(())
}

fn state_dir(args: &StateArgs) -> Result<PathBuf, String> {
    let mut options = ServerOptions::new().name(STATE_NAME);
    if let Some(dir) = &args.state_dir {
        options = options.state_dir(dir);
    }
    options.resolved_state_dir().map_err(|e| e.to_string())
}

/// ` --state-dir DIR` unless the default is in use.
fn stop_hint(options: &ServerOptions) -> String {
    let default = ServerOptions::new()
        .name(STATE_NAME)
        .resolved_state_dir()
        .ok();
    match options.resolved_state_dir() {
        Ok(dir) if Some(&dir) != default.as_ref() => format!(" --state-dir {}", dir.display()),
        _ => String::new(),
    }
}
