//! `cargo xtask test`: the whole suite, exactly what CI runs (`.ci/run` calls this).
//!
//! Every step runs even after one fails, so one run reports everything; the exit status is the
//! failure of any step. Servers the tests need are provisioned by the tests' own support code.

use std::process::Command;
use std::time::Instant;

use crate::workspace_root;

/// The end-to-end deploy suite (create, re-apply, plan, prune, skip-unchanged, triggers, bulk
/// with failures, concurrency, several clients) that runs a second time against PostgreSQL.
/// The scheduler test keeps its own SQLite server, and the multi-worker tests use PostgreSQL
/// in the first run already.
const POSTGRES_SUITE: &str = "((package(prefab-cli) & (binary(deploy) | binary(deploy_bulk) \
     | binary(plan) | binary(deploy_project) | binary(deploy_concurrent))) \
     | (package(prefab) & binary(deployment_e2e))) \
     - test(/scheduler/) - test(/multi_worker/)";

/// Default time budget of the parser fuzzing step.
const DEFAULT_FUZZ_SECONDS: u64 = 60;

pub(crate) fn run(fuzz_seconds: Option<u64>) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let nextest = Command::new(&cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let fuzz_seconds = fuzz_seconds.unwrap_or(DEFAULT_FUZZ_SECONDS).to_string();

    let mut steps: Vec<(&str, Command)> = Vec::new();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(&cargo);
        c.current_dir(workspace_root()).args(args);
        c
    };
    // PostgreSQL and Redis for the production-shaped servers (installed with apt-get as root
    // when missing; otherwise the step names the packages and fails).
    let mut packages = Command::new("bash");
    packages
        .current_dir(workspace_root())
        .arg(".ci/system-packages");
    steps.push(("system packages (postgresql, redis-server)", packages));
    steps.push(("format", cmd(&["fmt", "--all", "--check"])));
    steps.push(("codegen is current", cmd(&["xtask", "codegen", "--check"])));
    steps.push((
        "clippy",
        cmd(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    ));
    if nextest {
        steps.push((
            "tests",
            cmd(&["nextest", "run", "--workspace", "--no-fail-fast"]),
        ));
        // The end-to-end deploy suite again, on a PostgreSQL-backed server: the tests are the
        // same, `tests/support/prefect.rs` picks the server kind from PREFAB_TEST_DATABASE.
        let mut postgres = cmd(&[
            "nextest",
            "run",
            "--workspace",
            "--no-fail-fast",
            "-E",
            POSTGRES_SUITE,
        ]);
        postgres.env("PREFAB_TEST_DATABASE", "postgres");
        steps.push(("deploy suite on PostgreSQL", postgres));
        steps.push(("doc tests", cmd(&["test", "--workspace", "--doc"])));
    } else {
        steps.push(("tests", cmd(&["test", "--workspace", "--no-fail-fast"])));
    }
    let mut doc = cmd(&["doc", "--workspace", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    steps.push(("docs", doc));
    let mut fuzz = cmd(&[
        "test",
        "--release",
        "-p",
        "prefab-schemas",
        "--test",
        "fuzz_parsers",
        "--",
        "--nocapture",
    ]);
    fuzz.env("PREFAB_FUZZ_SECONDS", &fuzz_seconds);
    steps.push(("fuzz parsers", fuzz));
    steps.push((
        "hostile suite (release binary, real server)",
        cmd(&["xtask", "hostile"]),
    ));

    let mut failed = Vec::new();
    for (name, mut command) in steps {
        eprintln!("\n== xtask test: {name} ==");
        let started = Instant::now();
        let ok = command.status().is_ok_and(|s| s.success());
        eprintln!(
            "== {name}: {} in {:.0?} ==",
            if ok { "ok" } else { "FAILED" },
            started.elapsed()
        );
        if !ok {
            failed.push(name);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed steps: {}", failed.join(", ")))
    }
}
