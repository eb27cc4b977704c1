//! `cargo xtask`: the project's automation, in Rust (no shell scripts in disguise).
//!
//! * `cargo xtask codegen [--check]` — API models from the vendored OpenAPI document.
//! * `cargo xtask bench-compare [--quick] [--write-docs] [--throughput | --storage | --deploy |
//!   --prefect-yaml]` — Prefect 3.9.1 vs prefab on the same inputs (schedules; or create
//!   throughput; or storage pulls; or flow loading and bulk apply; or `deploy --all` of a
//!   prefect.yaml project), side by side, in one run.
//! * `cargo xtask bench-compare --deploy --database sqlite|postgres|both [--count N]
//!   [--prefect-count N] [--no-workers-compare] [--write-docs]` — 1000 deployments applied and
//!   re-applied by Prefect's `apply()` loop and by `prefab deploy --file` (default and
//!   `--concurrency 1/2/4/8`) on fresh SQLite and PostgreSQL servers (issue 15).
//! * `cargo xtask gen-schedule-cases --kind K --count N --seed S --out FILE` — random schedule
//!   cases answered by Prefect itself, for differential tests.
//! * `cargo xtask release X.Y.Z --dry-run` — lockstep bump, changelog, package checks.
//! * `cargo xtask compare-flows DIR… [--env K=V]… [--json]` — prefab's static flow reader and
//!   Prefect 3.9.1's `from_entrypoint` on every flow under each project directory, and what
//!   differs (docs/flows-real-world.md).
//! * `cargo xtask test` — the whole suite, exactly as CI runs it.
//! * `cargo xtask python-env` — create (or reuse) the pinned Prefect venv and print its path.
//! * `cargo xtask prefect-server start|status|stop` — a real Prefect 3.9.1 server on loopback,
//!   left running in the background; `start` prints its API URL as the last line of stdout.

mod bench_compare;
mod bench_deploy;
mod bench_deploy_databases;
mod bench_prefect_yaml;
mod codegen;
mod compare_flows;
mod gen_cases;
mod hostile;
mod prefect_server;
mod release;
mod test;
mod venv;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "prefab's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Prefect 3.9.1's schedule classes and prefab's criterion benches on the same inputs
    /// and print one table (Prefect, prefab, ratio).
    BenchCompare {
        /// Fewer repetitions on both sides (a smoke run, not for the record).
        #[arg(long)]
        quick: bool,
        /// Replace the generated table in docs/performance.md.
        #[arg(long)]
        write_docs: bool,
        /// Measure deployment-create throughput against a real server instead (500 creates at
        /// concurrency 1, 4 and 8).
        #[arg(long)]
        throughput: bool,
        /// Measure storage pulls instead: a 2,000-file git repository and a 2,000-object S3
        /// prefix, cold and warm, against `git clone --depth 1` and Prefect's own storage classes.
        #[arg(long, conflicts_with = "throughput")]
        storage: bool,
        /// Measure the deployment workflow instead: a cold `prefab inspect` of a six-parameter
        /// flow against `RunnerDeployment.from_entrypoint` in a fresh Python process, and
        /// applying then re-applying 200 deployments (`prefab deploy --file`, release build)
        /// against a Python loop of `RunnerDeployment.apply()`, each on a fresh real server.
        #[arg(long, conflicts_with_all = ["throughput", "storage"])]
        deploy: bool,
        /// With `--deploy`: issue 15's comparison instead, on `sqlite`, `postgres` or `both`:
        /// `--count` deployments applied and re-applied by Prefect's `apply()` loop and by
        /// `prefab deploy --file` at its default and at `--concurrency 1/2/4/8`, each on a
        /// fresh server and database; on PostgreSQL also with two API workers.
        #[arg(long, requires = "deploy", value_parser = ["sqlite", "postgres", "both"])]
        database: Option<String>,
        /// With `--database`: deployments per run.
        #[arg(long, requires = "database", default_value_t = 1000)]
        count: usize,
        /// With `--database`: deployments in Prefect's loop (default `--count`); its figures
        /// are then compared per deployment, and the report says so.
        #[arg(long, requires = "database")]
        prefect_count: Option<usize>,
        /// With `--database`: leave out the two-API-worker PostgreSQL runs.
        #[arg(long, requires = "database")]
        no_workers_compare: bool,
        /// Measure `prefab deploy --all` against `prefect --no-prompt deploy --all` on a
        /// generated prefect.yaml project (100 deployments over 20 flow files; 20 with
        /// `--quick`), a plain and a one-second build step, deploy and re-deploy, each side on
        /// its own fresh real server; both must leave the same normalised server state.
        #[arg(long, conflicts_with_all = ["throughput", "storage", "deploy"])]
        prefect_yaml: bool,
    },
    /// Run a command and report its wall time and peak RSS (`getrusage(RUSAGE_CHILDREN)`) to
    /// FILE as JSON; used by `bench-compare --deploy`.
    #[command(hide = true)]
    MeasureChild {
        /// Where the JSON report goes.
        #[arg(long)]
        report: PathBuf,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Run prefab's static flow reader and Prefect 3.9.1's `RunnerDeployment.from_entrypoint`
    /// on every flow (`@flow` function, method or `x = flow(f)`) in every .py file under each
    /// DIR, and print what differs per flow and a summary; exit 1 when anything differs.
    CompareFlows {
        /// Project directories: each is the working directory and import root of its flows,
        /// as `prefect deploy` run there would have it.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Set an environment variable for both sides (repeatable); the rest of the
        /// environment is this process's.
        #[arg(long, value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Print one JSON report (every flow with both answers) instead of text.
        #[arg(long)]
        json: bool,
        /// Seconds Prefect's side may take for one file before its processes are killed.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Files compared at once.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
    /// prefab's side of `compare-flows`: one JSON line per entrypoint.
    #[command(hide = true)]
    CompareFlowsPrefab {
        /// The project directory.
        #[arg(long)]
        root: PathBuf,
        /// The entrypoints.
        #[arg(last = true)]
        entrypoints: Vec<String>,
    },
    /// Generate the API models in crates/schemas/src/api/generated.rs from openapi/.
    Codegen {
        /// Fail if the generated file is stale instead of writing it.
        #[arg(long)]
        check: bool,
    },
    /// Generate random schedule cases answered by Prefect 3.9.1 (conformance corpus format).
    GenScheduleCases {
        /// interval, interval-dst (future anchors across DST changes), cron or rrule.
        #[arg(long)]
        kind: String,
        /// How many cases.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (JSON lines).
        #[arg(long)]
        out: PathBuf,
    },
    /// Bump every crate to VERSION, date the changelog, package and `cargo publish --dry-run`
    /// every crate in dependency order (never publishes), print the tag to create.
    Release {
        /// The new version, X.Y.Z.
        version: String,
        /// Work on a temporary copy of HEAD and leave the working tree unchanged.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or reuse the pinned Prefect 3.9.1 virtualenv (python3.11) and print its path.
    PythonEnv,
    /// Run a local Prefect 3.9.1 server on 127.0.0.1 (start/reuse, status, stop).
    #[command(subcommand)]
    PrefectServer(prefect_server::ServerCommand),
    /// Hostile input, lying and dead servers against the release `prefab` binary and a real
    /// Prefect 3.9.1 server: no panic, no hang, the documented exit codes, nothing changed on
    /// the server beyond what the report says.
    Hostile,
    /// The whole suite, as CI runs it: format, clippy, tests, docs, bounded parser fuzzing,
    /// the hostile suite.
    Test {
        /// Time budget of the parser fuzzing step, in seconds (default 60).
        #[arg(long)]
        fuzz_seconds: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::MeasureChild { report, command } => {
            return bench_deploy::measure_child(&report, &command);
        }
        Command::BenchCompare {
            prefect_yaml: true,
            quick,
            write_docs,
            ..
        } => bench_prefect_yaml::run(quick, write_docs),
        Command::BenchCompare {
            deploy: true,
            database: Some(database),
            count,
            prefect_count,
            no_workers_compare,
            write_docs,
            ..
        } => bench_deploy_databases::databases(&database).and_then(|databases| {
            bench_deploy_databases::run(&bench_deploy_databases::Options {
                databases,
                count,
                prefect_count: prefect_count.unwrap_or(count),
                workers_compare: !no_workers_compare,
                write_docs,
            })
        }),
        Command::BenchCompare {
            deploy: true,
            write_docs,
            ..
        } => bench_deploy::run(write_docs),
        Command::BenchCompare {
            storage: true,
            write_docs,
            ..
        } => bench_compare::storage(write_docs),
        Command::BenchCompare {
            throughput: true,
            write_docs,
            ..
        } => bench_compare::throughput(write_docs),
        Command::BenchCompare {
            quick, write_docs, ..
        } => bench_compare::run(quick, write_docs),
        Command::CompareFlowsPrefab { root, entrypoints } => {
            return compare_flows::prefab_side(&root, &entrypoints);
        }
        Command::CompareFlows {
            dirs,
            env,
            json,
            timeout,
            jobs,
        } => compare_flows::run(&compare_flows::Options {
            dirs,
            env,
            json,
            timeout: std::time::Duration::from_secs(timeout),
            jobs,
        }),
        Command::GenScheduleCases {
            kind,
            count,
            seed,
            out,
        } => gen_cases::run(&kind, count, seed, &out),
        Command::Release { version, dry_run } => release::run(&version, dry_run),
        Command::Codegen { check } => codegen::run(check),
        Command::Test { fuzz_seconds } => test::run(fuzz_seconds),
        Command::Hostile => hostile::run(),
        Command::PythonEnv => venv::prefect().map(|v| println!("{}", v.root().display())),
        Command::PrefectServer(command) => prefect_server::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo target directory (honours `CARGO_TARGET_DIR`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}
