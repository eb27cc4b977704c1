//! `prefab deploy` against the prefect.yaml corpus (`tests/fixtures/prefect-yaml/projects`):
//! one test per project folder, each on a real Prefect 3.9.1 server prepared exactly as the
//! recording's was; the server's normalised state afterwards must equal `expected.json`'s, and
//! the exit code must be of the same class (0, or not 0).
//!
//! ```text
//! cargo nextest run -p prefab-cli --test conformance_prefect_yaml            # prefab
//! PREFAB_PREFECT_YAML_DEPLOYER=prefect \
//!     cargo nextest run -p prefab-cli --test conformance_prefect_yaml        # harness self-check
//! ```
//!
//! The self-check deploys with Prefect's own `prefect --no-prompt` instead: every project must
//! then match, which shows that the preparation, the state dump and the comparison reproduce
//! the recordings. The server is dedicated (every project wipes it), so the projects run one
//! at a time: `.config/nextest.toml` puts this binary in a one-thread group, a file lock in the
//! server's state directory serialises any other runner, and `cargo test` runs it on one thread.

#[allow(dead_code)]
#[path = "../../../tests/support/prefect.rs"]
mod prefect;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect_state.rs"]
mod prefect_state;
#[allow(dead_code)]
#[path = "../../../tests/support/prefect_yaml.rs"]
mod prefect_yaml;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use prefab_client::local_server::{PythonEnv, PythonEnvSpec};
use serde_json::Value;

use prefect_state::{Api, dump_state, now_unix, read_owners};
use prefect_yaml::{
    Deployer, Project, REPORT_TAIL_LINES, compare_with_expected, create_inputs, deploy_environment,
    fixtures_dir, git_init, process_base_job_template, run_deployer, stage_project, tail,
    wipe_server,
};

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // One dedicated server: never two projects at once, whatever the runner asks for.
    args.test_threads = Some(1);
    let trials = match prefect_yaml::projects(&fixtures_dir().join("projects")) {
        Ok(projects) => projects
            .into_iter()
            .map(|project| {
                Trial::test(format!("prefect_yaml::{}", project.name), move || {
                    check_project(&project).map_err(Failed::from)
                })
            })
            .collect(),
        Err(reason) => vec![Trial::test("prefect_yaml::corpus", move || {
            Err(Failed::from(format!("the corpus does not load: {reason}")))
        })],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// The Prefect 3.9.1 virtualenv (the server's; also the self-check's deployer).
fn venv() -> Result<&'static PythonEnv, String> {
    static VENV: OnceLock<Result<PythonEnv, String>> = OnceLock::new();
    VENV.get_or_init(|| PythonEnvSpec::prefect().ensure().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| format!("the Prefect 3.9.1 virtualenv: {e}"))
}

/// Where the actual states are written, for a look after a failure.
fn results_dir(deployer: &Deployer) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("prefect-yaml-results")
        .join(deployer.name())
}

fn check_project(project: &Project) -> Result<(), String> {
    let server = prefect::prefect_yaml_server();
    let venv = venv()?;
    let deployer = Deployer::from_env(Path::new(env!("CARGO_BIN_EXE_prefab")), venv.root())?;
    let template = process_base_job_template()?;

    // Another runner (a second `cargo test`) may use the same server: one project at a time.
    let lock_path = server.state_dir().join("conformance.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;

    let api = Api::new(server.api_url())?;
    wipe_server(&api)?;
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let project_dir = stage_project(project, &scratch.path().join("projects"))?;
    for dir in ["home", "prefect-home"] {
        fs::create_dir_all(scratch.path().join(dir)).map_err(|e| format!("{dir}: {e}"))?;
    }
    create_inputs(&api, project, &template)?;
    if project.case["git"]
        .as_object()
        .is_some_and(|g| !g.is_empty())
    {
        git_init(&project_dir, &project.case["git"])?;
    }
    let env = deploy_environment(
        project,
        &project_dir,
        server.api_url(),
        venv.root(),
        scratch.path(),
        &deployer,
    );

    let started = now_unix();
    let run = run_deployer(&deployer, &project.args(), &project_dir, &env)?;
    let owners = read_owners(&venv.python(), &server.state_dir().join("home/prefect.db"))?;
    let actual = dump_state(&api, Some(&project_dir), Some(&owners), started)?;
    drop(lock);

    let results = results_dir(&deployer);
    let actual_path = results.join(format!("{}.json", project.name));
    let written = fs::create_dir_all(&results).and_then(|()| {
        let text = serde_json::to_string_pretty(&actual).unwrap_or_default();
        fs::write(&actual_path, text + "\n")
    });

    let differences = compare_with_expected(project, &actual);
    let expected_code = project.expected_exit_code();
    let exit_ok = match (expected_code, run.exit_code) {
        (Some(0), Some(0)) => true,
        (Some(0), _) | (_, Some(0)) => false,
        // Prefect failed: the same class is prefab's 1 (some deployment failed) or 2 (refused
        // before applying anything); a panic (101), a signal or a timeout never is.
        (_, code) => matches!(code, Some(1 | 2)),
    };
    if exit_ok && differences.is_empty() {
        return Ok(());
    }

    let mut report = String::new();
    let _ = writeln!(
        report,
        "prefect.yaml project {} deployed by {}: {}",
        project.name,
        deployer.name(),
        match (exit_ok, differences.is_empty()) {
            (false, false) => "wrong exit code and state",
            (false, true) => "wrong exit code",
            _ => "wrong state",
        }
    );
    let _ = writeln!(report, "  command: {}", run.command);
    let _ = writeln!(report, "  in: {}", project_dir.display());
    let class = |code: Option<i64>| match code {
        Some(0) => "success".to_owned(),
        Some(_) => "failure".to_owned(),
        None => "no exit code".to_owned(),
    };
    let got = if run.timed_out {
        "killed after the run timeout".to_owned()
    } else {
        run.exit_code
            .map_or("killed by a signal".to_owned(), |c| c.to_string())
    };
    let _ = writeln!(
        report,
        "  exit code: Prefect's was {} ({}), got {got}{}",
        expected_code.map_or("none".to_owned(), |c| c.to_string()),
        class(expected_code),
        if exit_ok { " (same class)" } else { "" }
    );
    if differences.is_empty() {
        let _ = writeln!(report, "  state: equal to expected.json's");
    } else {
        let _ = writeln!(
            report,
            "  state (expected.json vs the server after the run):"
        );
        for line in differences.to_string().lines() {
            let _ = writeln!(report, "    {line}");
        }
    }
    match written {
        Ok(()) => {
            let _ = writeln!(report, "  actual state: {}", actual_path.display());
        }
        Err(e) => {
            let _ = writeln!(report, "  (actual state not written: {e})");
        }
    }
    let _ = write!(
        report,
        "  stderr, last {REPORT_TAIL_LINES} lines:\n{}  stdout, last {REPORT_TAIL_LINES} lines:\n{}",
        tail(&run.stderr, REPORT_TAIL_LINES),
        tail(&run.stdout, REPORT_TAIL_LINES)
    );
    if let Some(Value::Array(prefect_tail)) = project.expected.get("stdout_tail")
        && !exit_ok
    {
        let last: Vec<&str> = prefect_tail
            .iter()
            .rev()
            .take(8)
            .rev()
            .filter_map(Value::as_str)
            .collect();
        let _ = write!(
            report,
            "  Prefect's stdout ended with:\n{}",
            tail(&last.join("\n"), 8)
        );
    }
    Err(report)
}
