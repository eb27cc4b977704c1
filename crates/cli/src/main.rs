//! The `prefab` command line.
//!
//! Exit codes: 0 success, 1 a run that failed (the server, the network or a pull: the input may
//! be fine), 2 bad input (a flag, a file, a line).

mod api;
mod deploy;
mod inspect;
mod interrupt;
mod plan;
mod schedule;
mod server;
mod storage;
mod waiting;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Define, validate, preview and apply Prefect deployments — fast, and exactly as Prefect would.
#[derive(Debug, Parser)]
#[command(name = "prefab", version, about, long_about = None)]
struct Cli {
    /// Log more (-v: info, -vv: debug). Warnings are always shown.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute deployment schedules' run dates (interval, cron, rrule) as Prefect 3.9.1 does.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Describe and pull deployment storage (git, object stores, local paths) as Prefect does.
    #[command(subcommand)]
    Storage(storage::StorageCommand),
    /// Show what Prefect records about a flow: name, description, version, parameter schema.
    Inspect(inspect::InspectArgs),
    /// Run a local Prefect 3.9.1 server on 127.0.0.1 (start/reuse, status, stop).
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Build deployments from flows (read statically) and apply them as Prefect 3.9.1 does;
    /// without PREFECT_API_URL, to a local server prefab starts.
    Deploy(deploy::DeployArgs),
    /// Show what `prefab deploy` would do — create, update (field by field) or unchanged —
    /// without writing; `--prune` also lists the deployments it would delete.
    Plan(deploy::DeployArgs),
}

/// A failure, with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input: the message names the flag, file or line.
    Input(String),
    /// Something failed while running.
    Run(String),
    /// Stopped by Ctrl-C or SIGTERM (after reporting what was done).
    Interrupted(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Input(_) => ExitCode::from(2),
            Failure::Run(_) => ExitCode::from(1),
            Failure::Interrupted(_) => ExitCode::from(130),
        }
    }
}

/// Library warnings and logs go to stderr; secrets are never logged by the libraries.
fn init_logging(verbose: u8) {
    use tracing_subscriber::Layer as _;
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 1)
        .without_time()
        .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level));
    // Retries are shown at every verbosity (on the progress bar, or as stderr lines).
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(waiting::RetryNotices)
        .try_init();
}

fn main() -> ExitCode {
    // `prefab … | head`: stdout closed early is not a crash. Rust ignores SIGPIPE, so a print
    // to a closed pipe panics; end quietly with the shell's code for SIGPIPE instead.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Schedule(cmd) => schedule::run(cmd),
        Command::Storage(cmd) => storage::run(cmd),
        Command::Inspect(args) => inspect::run(args),
        Command::Server(cmd) => server::run(cmd),
        Command::Deploy(args) => deploy::run(args),
        Command::Plan(args) => plan::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let (Failure::Input(msg) | Failure::Run(msg) | Failure::Interrupted(msg)) = &failure;
            eprintln!("error: {msg}");
            failure.exit_code()
        }
    }
}
