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
use prefab_client::local_server::{Database, ServerCommands, Services, StartRequest};

/// The shared `start|status|stop` implementation, under xtask's names (state directory
/// `<cache>/prefab/servers/xtask`).
const COMMANDS: ServerCommands = ServerCommands {
    name: "xtask",
    tag: "xtask",
    stop_command: "cargo xtask prefect-server stop",
};

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

pub(crate) fn run(command: ServerCommand) -> Result<(), String> {
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
            .map(|s| s.to_string()),
        ServerCommand::Stop(args) => COMMANDS
            .stop(args.state_dir.as_deref())
            .map(|s| s.to_string()),
    }
    .map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}
