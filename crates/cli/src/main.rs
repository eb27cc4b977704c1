//! The `prefab` command line.
//!
//! Exit codes: 0 success, 1 a run that failed part-way, 2 bad input (a flag, a file, a line).

mod schedule;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Define, validate, preview and apply Prefect deployments — fast, and exactly as Prefect would.
#[derive(Debug, Parser)]
#[command(name = "prefab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute deployment schedules' run dates (interval, cron, rrule) as Prefect 3.9.1 does.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
}

/// A failure, with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input: the message names the flag, file or line.
    Input(String),
    /// Something failed while running.
    Run(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Input(_) => ExitCode::from(2),
            Failure::Run(_) => ExitCode::from(1),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schedule(cmd) => schedule::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let (Failure::Input(msg) | Failure::Run(msg)) = &failure;
            eprintln!("error: {msg}");
            failure.exit_code()
        }
    }
}
