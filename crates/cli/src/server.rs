//! `prefab server start|status|stop`: a real Prefect 3.9.1 server on loopback that outlives the
//! command (the same implementation as `cargo xtask prefect-server`,
//! [`prefab_client::local_server::ServerCommands`]).
//!
//! ```text
//! export PREFECT_API_URL=$(prefab server start | tail -n1)
//! prefab server status   # the URL (exit 0), or `stopped` (exit 0)
//! prefab server stop
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use prefab_client::local_server::{
    Database, LocalServerError, ServerCommands, Services, StartRequest,
};

use crate::Failure;

/// The shared implementation under prefab's names (state directory
/// `<cache>/prefab/servers/cli`).
pub(crate) const COMMANDS: ServerCommands = ServerCommands {
    name: "cli",
    tag: "prefab",
    stop_command: "prefab server stop",
};

/// `prefab server …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Start a server (or reuse the running one) and print its API URL as the last line of
    /// stdout; the server keeps running in the background.
    Start(StartArgs),
    /// Print the running server's API URL, or `stopped`.
    Status(StateArgs),
    /// Stop the server (SIGTERM, SIGKILL after 30 s) and the PostgreSQL and Redis servers it
    /// started, each by PID; the database is kept.
    Stop(StateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// State directory: PID/URL files, logs, PREFECT_HOME with the SQLite database or the
    /// PostgreSQL cluster
    /// [default: `~/.cache/prefab/servers/cli`].
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
    /// The database: sqlite (a file in the state directory), or postgres (a PostgreSQL
    /// cluster of the system's `postgresql` package, run from the state directory on a free
    /// loopback port, with pg_trgm).
    #[arg(long, default_value_t = Database::Sqlite)]
    database: Database,
    /// API worker processes; more than one needs `--database postgres` and runs a Redis
    /// server (system package `redis-server`) with prefect-redis for Prefect's messaging.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
}

/// Runs one `prefab server` command; the stdout line is the URL or `stopped`.
pub(crate) fn run(command: ServerCommand) -> Result<(), Failure> {
    let line = match command {
        ServerCommand::Start(args) => COMMANDS
            .start(StartRequest {
                state_dir: args.state.state_dir,
                services: args.services,
                auth_string: args.auth_string,
                settings: args.settings,
                start_timeout: Duration::from_secs(args.start_timeout),
                database: args.database,
                workers: args.workers,
            })
            .map(|server| server.api_url().to_owned()),
        ServerCommand::Status(args) => COMMANDS
            .status(args.state_dir.as_deref())
            .map(|status| status.to_string()),
        ServerCommand::Stop(args) => COMMANDS
            .stop(args.state_dir.as_deref())
            .map(|status| status.to_string()),
    }
    .map_err(failure)?;
    println!("{line}");
    Ok(())
}

fn failure(err: LocalServerError) -> Failure {
    match err {
        LocalServerError::InvalidSetting { .. }
        | LocalServerError::InvalidName { .. }
        | LocalServerError::InvalidOptions { .. } => Failure::Input(err.to_string()),
        other => Failure::Run(other.to_string()),
    }
}
