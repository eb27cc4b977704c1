//! `cargo xtask bench-compare --prefect-yaml [--quick] [--write-docs]`: `prefab deploy --all`
//! (release build, default settings) against Prefect 3.9.1's own `prefect --no-prompt deploy
//! --all` on the same generated prefect.yaml project, in the same run (issue 13 §6).
//!
//! The project ([`project`]): 100 deployments over 20 flow files (20 over 4 with `--quick`),
//! cron and interval schedules, templated parameters and tags, job variables, an event trigger
//! on a fifth of them, and one top-level `run_shell_script` build step whose stdout tags every
//! deployment — in two variants: (a) the step is a plain `echo`; (b) it takes a second, a
//! stand-in for a cached image build. Prefect runs the top-level build once per deployment,
//! prefab once per run.
//!
//! Each side deploys to its own server started from a copy of the same freshly migrated
//! database (work pools and the variable created first), through the counting proxy of
//! `--deploy`, then deploys again on the same server (the update path); prefab also runs a third
//! time with `--skip-unchanged`. Wall time and peak RSS are the whole command's (`measure-child`).
//! After each run the server's normalised state is dumped (`tests/support/prefect_state.rs`,
//! the conformance harness's port of the corpus's `dump-state`, automation owners included);
//! the two sides must leave the same.

mod project;

#[allow(dead_code)]
#[path = "../../tests/support/prefect_state.rs"]
mod prefect_state;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use prefab_client::local_server::LocalServer;
use serde_json::{Value, json};

use crate::bench_deploy::{
    CountingProxy, Measured, build_prefab_release, clean_command, fresh_server, machine_note, met,
    other_prefect_servers, refuse_other_servers, run_measured, secs, server_cpu_seconds, tail,
    template_database, upstream_addr,
};
use crate::{venv, workspace_root};
use prefect_state::{Api, Differences, compare_states, dump_state, now_unix, read_owners};
use project::Build;

/// Deployments in the full run and in `--quick`.
const DEPLOYMENTS: usize = 100;
const QUICK_DEPLOYMENTS: usize = 20;
/// The targets: Prefect's wall ÷ prefab's, per variant; prefab's peak RSS at most this
/// fraction of Prefect's.
const ECHO_SPEEDUP_TARGET: f64 = 3.0;
const SLOW_SPEEDUP_TARGET: f64 = 10.0;
const RSS_FRACTION_TARGET: f64 = 5.0;
/// Environment variables by which tools recognise a CI runner: neither side may see them.
const CI_VARIABLES: [&str; 14] = [
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "CODEBUILD_BUILD_ID",
    "BITBUCKET_BUILD_NUMBER",
    "DRONE",
    "BUILD_NUMBER",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Prefect,
    Prefab,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Prefect => "prefect",
            Side::Prefab => "prefab",
        }
    }
}

/// One run of one side's command.
struct Pass {
    measured: Measured,
    requests: u64,
    connections: u64,
    server_cpu_s: f64,
    /// The server's normalised state after the run.
    state: Value,
}

/// The runs of one variant: Prefect's deploy and re-deploy; prefab's deploy, re-deploy and
/// re-deploy with `--skip-unchanged`.
struct Variant {
    build: Build,
    prefect: Vec<Pass>,
    prefab: Vec<Pass>,
}

impl Variant {
    /// (what was compared, the differences) for: the deploys, the re-deploys, and prefab's
    /// `--skip-unchanged` run against Prefect's re-deploy.
    fn comparisons(&self) -> Vec<(&'static str, Differences)> {
        [
            ("deploy", 0, 0),
            ("re-deploy", 1, 1),
            ("re-deploy, prefab `--skip-unchanged`", 1, 2),
        ]
        .into_iter()
        .filter_map(|(what, theirs, ours)| {
            let (t, o) = (self.prefect.get(theirs)?, self.prefab.get(ours)?);
            Some((what, compare_states(&t.state, &o.state)))
        })
        .collect()
    }
}

/// Everything a side's command needs, shared by the two variants.
struct Setup {
    prefab: PathBuf,
    prefect: PathBuf,
    python: PathBuf,
    /// The project directory (regenerated before each side's first run).
    project: PathBuf,
    scratch: PathBuf,
    template_home: PathBuf,
    /// Prefect's default base job template of a `process` pool.
    pool_template: Value,
    deployments: usize,
}

pub(crate) fn run(quick: bool, write_docs: bool) -> Result<(), String> {
    refuse_other_servers()?;
    let prefab = build_prefab_release()?;
    let venv = venv::prefect()?;
    let scratch =
        std::env::temp_dir().join(format!("prefab-bench-prefect-yaml-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let template_home = template_database()?;
    let mut setup = Setup {
        prefab,
        prefect: venv.bin("prefect"),
        python: venv.python(),
        project: scratch.join("project"),
        scratch: scratch.clone(),
        template_home,
        pool_template: Value::Null,
        deployments: if quick {
            QUICK_DEPLOYMENTS
        } else {
            DEPLOYMENTS
        },
    };
    setup.pool_template = process_template()?;
    warm_up(&setup)?;

    let mut variants = Vec::new();
    for build in [Build::Echo, Build::Slow] {
        let variant = run_variant(&setup, build)?;
        for (what, diffs) in variant.comparisons() {
            if diffs.is_empty() {
                eprintln!("xtask: {}: {what}: same normalised state", build.label());
            } else {
                eprintln!(
                    "xtask: {}: {what}: {} differences in the normalised state:",
                    build.label(),
                    diffs.diffs.len()
                );
                for (path, message) in &diffs.diffs {
                    eprintln!("xtask:   {path}: {message}");
                }
            }
        }
        variants.push(variant);
    }
    let _ = fs::remove_dir_all(&scratch);

    let text = render(&setup, quick, &variants);
    println!("{text}");
    if write_docs {
        crate::bench_compare::replace_section("prefect_yaml", &text)?;
    }
    let all_same = variants
        .iter()
        .all(|v| v.comparisons().iter().all(|(_, d)| d.is_empty()));
    if all_same {
        Ok(())
    } else {
        Err("the two sides left different server states (listed above)".into())
    }
}

/// Prefect 3.9.1's default base job template of a `process` pool (what `prefect work-pool
/// create --type process` stores), vendored with the conformance corpus.
fn process_template() -> Result<Value, String> {
    let path = workspace_root().join("tests/fixtures/prefect-yaml/process-base-job-template.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs each side's program once unmeasured, so neither pays for a cold page cache.
fn warm_up(setup: &Setup) -> Result<(), String> {
    for (program, args) in [
        (&setup.prefect, ["--no-prompt", "version"].as_slice()),
        (&setup.prefab, ["--version"].as_slice()),
    ] {
        let mut cmd = clean_command(program, &setup.scratch);
        cmd.env("PREFECT_HOME", setup.scratch.join("prefect-home-setup"))
            .args(args);
        let out = cmd
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {}: {}",
                program.display(),
                args.join(" "),
                tail(&String::from_utf8_lossy(&out.stderr))
            ));
        }
    }
    Ok(())
}

fn run_variant(setup: &Setup, build: Build) -> Result<Variant, String> {
    let mut variant = Variant {
        build,
        prefect: Vec::new(),
        prefab: Vec::new(),
    };
    let tag = match build {
        Build::Echo => "a",
        Build::Slow => "b",
    };
    for side in [Side::Prefect, Side::Prefab] {
        // The same text at the same path for both sides (the path is part of what is stored).
        let _ = fs::remove_dir_all(&setup.project);
        fs::create_dir_all(&setup.project)
            .map_err(|e| format!("{}: {e}", setup.project.display()))?;
        project::write(&setup.project, setup.deployments, build)?;
        let server = fresh_server(
            &format!("prefect-yaml-{tag}-{}", side.label()),
            &setup.template_home,
        )?;
        let result = run_side(setup, build, side, &server);
        server.stop().map_err(|e| e.to_string())?;
        let passes = result?;
        match side {
            Side::Prefect => variant.prefect = passes,
            Side::Prefab => variant.prefab = passes,
        }
    }
    Ok(variant)
}

/// The work pools and the variable the project reads, on a fresh server.
fn prepare_server(setup: &Setup, server: &LocalServer) -> Result<(), String> {
    let api = Api::new(server.api_url())?;
    for pool in project::WORK_POOLS {
        api.post(
            "/work_pools/",
            &json!({"name": pool, "type": "process", "base_job_template": setup.pool_template}),
        )?;
    }
    let (name, value) = project::VARIABLE;
    api.post(
        "/variables/",
        &json!({"name": name, "value": value, "tags": []}),
    )?;
    Ok(())
}

fn run_side(
    setup: &Setup,
    build: Build,
    side: Side,
    server: &LocalServer,
) -> Result<Vec<Pass>, String> {
    prepare_server(setup, server)?;
    let proxy = CountingProxy::start(upstream_addr(server))?;
    let home = setup.scratch.join(format!("prefect-home-{}", side.label()));
    let _ = fs::remove_dir_all(&home);
    fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let passes: &[&str] = match side {
        Side::Prefect => &["deploy", "re-deploy"],
        Side::Prefab => &["deploy", "re-deploy", "re-deploy --skip-unchanged"],
    };
    let mut out = Vec::new();
    for (i, pass) in passes.iter().enumerate() {
        let mut cmd = match side {
            Side::Prefect => {
                let mut cmd = clean_command(&setup.prefect, &setup.project);
                cmd.args(["--no-prompt", "deploy", "--all"]);
                cmd
            }
            Side::Prefab => {
                let mut cmd = clean_command(&setup.prefab, &setup.project);
                cmd.args(["deploy", "--all"]);
                if i == 2 {
                    cmd.arg("--skip-unchanged");
                }
                cmd
            }
        };
        side_environment(&mut cmd, &setup.project, &home, &proxy.url);
        let what = format!(
            "{} {}: {} {pass}",
            build.label(),
            side.label(),
            setup.deployments
        );
        eprintln!("xtask: {what}…");
        let started = now_unix();
        let cpu_before = server_cpu_seconds(server.pid());
        let result = run_measured(&cmd, &what, None);
        let server_cpu_s = server_cpu_seconds(server.pid()) - cpu_before;
        let (requests, _, connections) = proxy.counts.take();
        let (_, measured) = result?;
        let owners = read_owners(
            &setup.python,
            &server.state_dir().join("home").join("prefect.db"),
        )?;
        let state = dump_state(
            &Api::new(server.api_url())?,
            Some(&setup.project),
            Some(&owners),
            started,
        )?;
        let on_server = state["deployments"].as_array().map_or(0, Vec::len);
        if side == Side::Prefect && i == 0 {
            check_templates(&state, setup.deployments)?;
        }
        eprintln!(
            "xtask: {what}: {} wall, {:.1} MiB peak RSS, {} requests, {on_server} deployments \
             on the server",
            secs(measured.wall.as_secs_f64()),
            measured.mib(),
            requests.values().sum::<u64>()
        );
        out.push(Pass {
            measured,
            requests: requests.values().sum(),
            connections,
            server_cpu_s,
            state,
        });
    }
    Ok(out)
}

/// That Prefect's deploy filled the project's templates (the build step's stdout and the
/// environment variable in the tags, the Prefect variable in a parameter) and created the
/// triggers: otherwise two equal states would prove little.
fn check_templates(state: &Value, deployments: usize) -> Result<(), String> {
    let listed = state["deployments"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if listed.len() != deployments {
        return Err(format!(
            "Prefect's deploy left {} deployments, not {deployments}",
            listed.len()
        ));
    }
    let (_, env_value) = project::ENV_VAR;
    let (_, variable_value) = project::VARIABLE;
    for d in listed {
        let tags: Vec<&str> = d["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let source = d["parameters"]["source"].as_str().unwrap_or("");
        if !tags.contains(&project::BUILD_TAG)
            || !tags.contains(&env_value)
            || !source.starts_with(variable_value)
        {
            return Err(format!(
                "Prefect's deploy did not fill the project's templates as expected: {} has tags \
                 {tags:?} and source {source:?}",
                d["name"]
            ));
        }
    }
    let automations = state["automations"].as_array().map_or(0, Vec::len);
    if automations != deployments / 5 {
        return Err(format!(
            "Prefect's deploy left {automations} automations, not {}",
            deployments / 5
        ));
    }
    Ok(())
}

/// The environment both sides run in: the proxy's API URL, their own PREFECT_HOME, the
/// project's `{{ $ENV }}` value, no CI variables, no enclosing git repository, UTC.
fn side_environment(cmd: &mut Command, project: &Path, home: &Path, api_url: &str) {
    for name in CI_VARIABLES {
        cmd.env_remove(name);
    }
    let (env_name, env_value) = project::ENV_VAR;
    cmd.env("PREFECT_API_URL", api_url)
        .env("PREFECT_HOME", home)
        .env(env_name, env_value)
        .env(
            "GIT_CEILING_DIRECTORIES",
            project.parent().unwrap_or(project),
        )
        .env("TZ", "UTC")
        .env("DO_NOT_TRACK", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // A step's `requires:` must never reach a package index from here.
        .env("PIP_NO_INDEX", "1");
}

fn render(setup: &Setup, quick: bool, variants: &[Variant]) -> String {
    let n = setup.deployments;
    let (date, cores, load) = machine_note();
    let others = match other_prefect_servers().len() {
        0 => String::new(),
        k => format!(
            ", {k} other Prefect servers running: the machine was shared with other work, so \
             the figures are noisy"
        ),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {date}, {cores} cores (load average {load} at the end{others}){}, prefab \
         release build with default \
         settings, Prefect 3.9.1 in its pinned venv. {n} deployments over {} flow files; each \
         side on its own server (a copy of the same freshly migrated SQLite database, API only, \
         work pools and the variable created first), through a counting proxy; wall time and \
         peak RSS of the whole command.\n",
        if quick {
            " — QUICK run, indicative only"
        } else {
            ""
        },
        project::flow_files(n)
    );
    let _ = writeln!(
        out,
        "| variant | measure | Prefect 3.9.1 `prefect --no-prompt deploy --all` | prefab `prefab deploy --all` | Prefect ÷ prefab | target |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|");
    for v in variants {
        let label = v.build.label();
        let target = match v.build {
            Build::Echo => ECHO_SPEEDUP_TARGET,
            Build::Slow => SLOW_SPEEDUP_TARGET,
        };
        for (i, pass) in ["deploy", "re-deploy"].into_iter().enumerate() {
            let (Some(t), Some(o)) = (v.prefect.get(i), v.prefab.get(i)) else {
                continue;
            };
            let speedup = t.measured.wall.as_secs_f64() / o.measured.wall.as_secs_f64();
            let wall_target = if i == 0 {
                format!("≥ {target:.0}× ({})", met(speedup >= target))
            } else {
                "—".to_owned()
            };
            let _ = writeln!(
                out,
                "| {label} | {pass} {n}: wall | {} | {} | {speedup:.1}× | {wall_target} |",
                secs(t.measured.wall.as_secs_f64()),
                secs(o.measured.wall.as_secs_f64()),
            );
            let _ = writeln!(
                out,
                "| {label} | {pass} {n}: peak RSS | {:.1} MiB | {:.1} MiB | {:.1}× | ≤ 1/{RSS_FRACTION_TARGET:.0} ({}) |",
                t.measured.mib(),
                o.measured.mib(),
                t.measured.mib() / o.measured.mib(),
                met(o.measured.mib() * RSS_FRACTION_TARGET <= t.measured.mib())
            );
            let per = |p: &Pass| p.requests as f64 / n as f64;
            let _ = writeln!(
                out,
                "| {label} | {pass}: requests per deployment (connections), server CPU | {:.2} ({}), {} | {:.2} ({}), {} | — | — |",
                per(t),
                t.connections,
                secs(t.server_cpu_s),
                per(o),
                o.connections,
                secs(o.server_cpu_s)
            );
        }
        if let (Some(t), Some(k)) = (v.prefect.get(1), v.prefab.get(2)) {
            let _ = writeln!(
                out,
                "| {label} | re-deploy {n}, prefab `--skip-unchanged` (opt-in): wall, peak RSS | {} (re-deploy), {:.1} MiB | {} ({:.2} requests per deployment), {:.1} MiB | {:.1}× | — |",
                secs(t.measured.wall.as_secs_f64()),
                t.measured.mib(),
                secs(k.measured.wall.as_secs_f64()),
                k.requests as f64 / n as f64,
                k.measured.mib(),
                t.measured.wall.as_secs_f64() / k.measured.wall.as_secs_f64()
            );
        }
        let comparisons = v.comparisons();
        let same = comparisons.iter().all(|(_, d)| d.is_empty());
        let detail: Vec<String> = comparisons
            .iter()
            .map(|(what, d)| {
                if d.is_empty() {
                    format!("{what}: same")
                } else {
                    format!("{what}: {} differences", d.diffs.len())
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "| {label} | normalised server state | — | {} | — | the same ({}) |",
            detail.join("; "),
            met(same && comparisons.len() == 3)
        );
    }
    let differing: Vec<(&str, &str, Differences)> = variants
        .iter()
        .flat_map(|v| {
            v.comparisons()
                .into_iter()
                .filter(|(_, d)| !d.is_empty())
                .map(move |(what, d)| (v.build.label(), what, d))
        })
        .collect();
    if !differing.is_empty() {
        let _ = writeln!(
            out,
            "\nDifferences in the normalised state (expected: Prefect's, actual: prefab's):\n"
        );
        for (label, what, diffs) in differing {
            for (path, message) in diffs.diffs.iter().take(20) {
                let _ = writeln!(out, "- {label}, {what}: `{path}`: {message}");
            }
            if diffs.diffs.len() > 20 {
                let _ = writeln!(out, "- {label}, {what}: … {} more", diffs.diffs.len() - 20);
            }
        }
    }
    out
}
