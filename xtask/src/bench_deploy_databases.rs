//! `cargo xtask bench-compare --deploy --database postgres|sqlite|both [--count N]
//! [--prefect-count N] [--no-workers-compare] [--write-docs]`: issue 15's speed comparison,
//! `prefab deploy --file` against Prefect 3.9.1's `RunnerDeployment.apply()` loop on each kind
//! of database, in one run.
//!
//! For each database kind, `--count` deployments (default 1000; the workload of
//! `tests/support/bulk_deployments.rs`: a cron schedule, parameters, tags and one event trigger
//! each) are applied and then re-applied by:
//! - Prefect's Python loop (`benches/python/prefect_apply_bulk.py`; `--prefect-count` of them,
//!   default `--count`, compared per deployment),
//! - `prefab deploy --file` with no concurrency flag (the default, whatever it is today),
//! - `prefab deploy --file --concurrency N` for N = 1, 2, 4 and 8,
//!
//! each on its own fresh server and database: SQLite from a copy of one freshly migrated
//! database (as `--deploy` does), PostgreSQL from a new cluster in its own state directory
//! (initdb, `pg_trgm`, migration). On PostgreSQL, prefab's default and Prefect's loop run once
//! more against a server with two API workers (and Redis), unless `--no-workers-compare`.
//!
//! Per pass: the client's wall time, peak RSS and CPU (`measure-child`; Prefect's wall and CPU
//! are its apply loop's own), requests through the counting proxy, the CPU of the API server's
//! process tree, of the PostgreSQL postmaster's tree (exited backends included) and of Redis,
//! and a check on the server afterwards: every deployment exactly once, one automation running
//! each (its `run-deployment` action) and no other. The section
//! `bench-compare:deploy_databases` of docs/performance.md holds the result (`--write-docs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prefab_client::local_server::{Database, LocalServer};
use serde_json::{Value, json};

use crate::bench_deploy::{
    CountingProxy, Measured, build_prefab_release, bulk_deployments, clean_command, fresh_server,
    machine_note, met, options, prefab_failures, refuse_other_servers, run_measured, secs,
    server_cpu_seconds, servers_root, tail, template_database, upstream_addr,
};
use crate::{target_dir, venv, workspace_root};

/// The fixed concurrencies the default is held against.
const FIXED: [usize; 4] = [1, 2, 4, 8];
/// The names of the deployments (`bulk-000`, …).
const PREFIX: &str = "bulk";
/// Prefect's deployment file (the first `--prefect-count` definitions of prefab's).
const PREFECT_FILE: &str = "deployments-prefect.json";
/// The targets, on PostgreSQL.
const CREATE_SPEEDUP_TARGET: f64 = 4.0;
const UPDATE_SPEEDUP_TARGET: f64 = 3.0;
const RSS_FRACTION_TARGET: f64 = 5.0;
/// The default's throughput over the best fixed setting's, at least.
const DEFAULT_VS_BEST_TARGET: f64 = 0.90;
/// The two passes, in order.
const PASSES: [&str; 2] = ["create", "re-apply"];

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) databases: Vec<Database>,
    pub(crate) count: usize,
    pub(crate) prefect_count: usize,
    pub(crate) workers_compare: bool,
    pub(crate) write_docs: bool,
}

/// The database kinds `--database` names.
pub(crate) fn databases(name: &str) -> Result<Vec<Database>, String> {
    match name {
        "both" => Ok(vec![Database::Postgres, Database::Sqlite]),
        other => other
            .parse()
            .map(|d| vec![d])
            .map_err(|e: prefab_client::local_server::UnknownDatabase| e.to_string()),
    }
}

/// Who applies the deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// Prefect's `RunnerDeployment.apply()` loop.
    Prefect,
    /// `prefab deploy --file`, with `--concurrency N` or without (the default).
    Prefab(Option<usize>),
}

impl Client {
    fn label(self) -> String {
        match self {
            Client::Prefect => "Prefect 3.9.1 `apply()` loop".to_owned(),
            Client::Prefab(None) => "prefab, default".to_owned(),
            Client::Prefab(Some(n)) => format!("prefab `--concurrency {n}`"),
        }
    }

    fn slug(self) -> String {
        match self {
            Client::Prefect => "prefect".to_owned(),
            Client::Prefab(None) => "prefab-default".to_owned(),
            Client::Prefab(Some(n)) => format!("prefab-c{n}"),
        }
    }
}

/// One pass (create or re-apply) of one client.
#[derive(Debug)]
struct Pass {
    deployments: usize,
    measured: Measured,
    /// Prefect's apply loop alone: (wall seconds, process CPU seconds).
    apply_loop: Option<(f64, f64)>,
    failures: usize,
    requests: u64,
    connections: u64,
    api_cpu_s: f64,
    postgres_cpu_s: Option<f64>,
    redis_cpu_s: Option<f64>,
    /// What the check on the server found wrong; empty when every deployment is there once
    /// with exactly one automation.
    problems: Vec<String>,
}

impl Pass {
    /// The compared wall time: Prefect's apply loop, prefab's whole process.
    fn wall_s(&self) -> f64 {
        self.apply_loop
            .map_or(self.measured.wall.as_secs_f64(), |(wall, _)| wall)
    }

    fn ms_per_deployment(&self) -> f64 {
        self.wall_s() * 1e3 / self.deployments as f64
    }

    fn per_second(&self) -> f64 {
        self.deployments as f64 / self.wall_s()
    }

    fn per_deployment(&self, seconds: f64) -> f64 {
        seconds * 1e3 / self.deployments as f64
    }

    fn client_cpu_ms(&self) -> f64 {
        let cpu = self
            .apply_loop
            .map_or(self.measured.cpu.as_secs_f64(), |(_, cpu)| cpu);
        self.per_deployment(cpu)
    }

    /// Cores the API server kept busy on average over the compared wall time.
    fn api_cores(&self) -> f64 {
        self.api_cpu_s / self.wall_s()
    }

    fn ok(&self) -> bool {
        self.failures == 0 && self.problems.is_empty()
    }
}

/// Both passes of one client against one fresh server.
#[derive(Debug)]
struct Run {
    kind: Database,
    workers: u16,
    client: Client,
    passes: Vec<Pass>,
    /// Why the run stopped early, if it did.
    error: Option<String>,
}

impl Run {
    fn ok(&self) -> bool {
        self.error.is_none()
            && self.passes.len() == PASSES.len()
            && self.passes.iter().all(Pass::ok)
    }
}

/// What every run shares.
struct Context {
    prefab: PathBuf,
    python: PathBuf,
    scripts: PathBuf,
    work: PathBuf,
    py_home: PathBuf,
    sqlite_template: Option<PathBuf>,
    count: usize,
    prefect_count: usize,
}

pub(crate) fn run(options: &Options) -> Result<(), String> {
    if options.count == 0 || options.prefect_count == 0 {
        return Err("--count and --prefect-count must be at least 1".to_owned());
    }
    refuse_other_servers()?;
    if options.write_docs {
        check_docs_markers()?;
    }
    let started = Instant::now();
    let prefab = build_prefab_release()?;
    let venv = venv::prefect()?;

    // The workload: the flow file and both deployment files, entrypoints relative.
    let work = target_dir().join("bench-deploy").join("databases");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let py_home = work.join("prefect-home");
    fs::create_dir_all(&py_home).map_err(|e| format!("{}: {e}", py_home.display()))?;
    bulk_deployments::write(&work, PREFIX, options.count).map_err(|e| format!("workload: {e}"))?;
    let prefect_definitions = bulk_deployments::definitions(PREFIX, options.prefect_count);
    fs::write(
        work.join(PREFECT_FILE),
        serde_json::to_string_pretty(&prefect_definitions).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{PREFECT_FILE}: {e}"))?;

    let sqlite_template = if options.databases.contains(&Database::Sqlite) {
        Some(template_database()?)
    } else {
        None
    };
    let context = Context {
        prefab,
        python: venv.python(),
        scripts: workspace_root().join("benches/python"),
        work,
        py_home,
        sqlite_template,
        count: options.count,
        prefect_count: options.prefect_count,
    };

    let mut plan: Vec<(Database, u16, Client)> = Vec::new();
    for &kind in &options.databases {
        plan.push((kind, 1, Client::Prefect));
        plan.push((kind, 1, Client::Prefab(None)));
        plan.extend(FIXED.map(|n| (kind, 1, Client::Prefab(Some(n)))));
        if kind == Database::Postgres && options.workers_compare {
            plan.push((kind, 2, Client::Prefab(None)));
            plan.push((kind, 2, Client::Prefect));
        }
    }
    let mut runs = Vec::new();
    for (i, &(kind, workers, client)) in plan.iter().enumerate() {
        eprintln!(
            "xtask: [{}/{}, {} so far] {kind}, {workers} API worker(s), {}…",
            i + 1,
            plan.len(),
            secs(started.elapsed().as_secs_f64()),
            client.label()
        );
        let run = run_client(&context, kind, workers, client);
        if let Some(e) = &run.error {
            eprintln!("xtask: {kind}, {}: {e}", client.label());
        }
        runs.push(run);
    }

    let text = render(options, &runs, started.elapsed());
    println!("{text}");
    if options.write_docs {
        crate::bench_compare::replace_section("deploy_databases", &text)?;
    }
    let bad: Vec<String> = runs
        .iter()
        .filter(|r| !r.ok())
        .map(|r| format!("{}-w{}-{}", r.kind, r.workers, r.client.slug()))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "runs with failures, server-check problems or errors: {}",
            bad.join(", ")
        ))
    }
}

/// Both passes of `client` against a fresh server; the server is stopped (and its state
/// removed) whatever happens.
fn run_client(context: &Context, kind: Database, workers: u16, client: Client) -> Run {
    let mut run = Run {
        kind,
        workers,
        client,
        passes: Vec::new(),
        error: None,
    };
    let name = format!("{kind}-w{workers}-{}", client.slug());
    let server = match start_server(context, kind, workers, &name) {
        Ok(server) => server,
        Err(e) => {
            run.error = Some(format!("starting the server: {e}"));
            return run;
        }
    };
    if let Err(e) = measure_passes(context, &server, client, &mut run.passes) {
        run.error = Some(e);
    }
    let dir = server.state_dir().to_path_buf();
    match server.stop() {
        // Kept for a look at its logs when something went wrong.
        Ok(_) if run.ok() => remove_state_dir(&dir),
        Ok(_) => {}
        Err(e) => {
            run.error.get_or_insert(format!("stopping the server: {e}"));
        }
    }
    run
}

/// A fresh server: SQLite on a copy of the migrated template; PostgreSQL in a new state
/// directory (its own cluster, migrated on start).
fn start_server(
    context: &Context,
    kind: Database,
    workers: u16,
    name: &str,
) -> Result<LocalServer, String> {
    match kind {
        Database::Sqlite => {
            let template = context
                .sqlite_template
                .as_deref()
                .ok_or("no SQLite template database")?;
            fresh_server(name, template)
        }
        Database::Postgres => {
            let dir = servers_root().join(name);
            LocalServer::stop_in(&dir, Duration::from_secs(30)).map_err(|e| e.to_string())?;
            remove_state_dir(&dir);
            options(&dir)
                .database(Database::Postgres)
                .workers(workers)
                .start()
                .map_err(|e| e.to_string())
        }
    }
}

/// Removes a stopped server's state directory, and the cluster its `postgres` symlink points
/// to (under /var/tmp when the `postgres` user cannot reach the state directory): the link's
/// target is derived from the directory's path, so a leftover would be the next run's
/// "fresh" cluster.
fn remove_state_dir(dir: &Path) {
    if let Ok(target) = fs::read_link(dir.join("postgres")) {
        let _ = fs::remove_dir_all(target);
    }
    let _ = fs::remove_dir_all(dir);
}

/// The PostgreSQL postmaster's PID: the first line of `postmaster.pid`.
fn postmaster_pid(state_dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(state_dir.join("postgres/data/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn redis_pid(state_dir: &Path) -> Option<u32> {
    fs::read_to_string(state_dir.join("redis.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn measure_passes(
    context: &Context,
    server: &LocalServer,
    client: Client,
    passes: &mut Vec<Pass>,
) -> Result<(), String> {
    let proxy = CountingProxy::start(upstream_addr(server))?;
    let postgres = match server.database() {
        Database::Postgres => Some(
            postmaster_pid(server.state_dir())
                .ok_or("no postmaster.pid in the server's PostgreSQL data directory")?,
        ),
        Database::Sqlite => None,
    };
    let redis = if server.workers() > 1 {
        Some(redis_pid(server.state_dir()).ok_or("no redis.pid in the server's state")?)
    } else {
        None
    };
    let deployments = match client {
        Client::Prefect => context.prefect_count,
        Client::Prefab(_) => context.count,
    };
    for pass in PASSES {
        let what = format!("{}, {pass}", client.label());
        eprintln!("xtask: {what}: {deployments} deployments…");
        let mut cmd = match client {
            Client::Prefect => {
                let mut cmd = clean_command(&context.python, &context.work);
                cmd.arg(context.scripts.join("prefect_apply_bulk.py"))
                    .arg(PREFECT_FILE)
                    .env("PREFECT_HOME", &context.py_home);
                cmd
            }
            Client::Prefab(concurrency) => {
                let mut cmd = clean_command(&context.prefab, &context.work);
                cmd.args(["deploy", "--file", bulk_deployments::DEPLOYMENT_FILE]);
                if let Some(n) = concurrency {
                    cmd.args(["--concurrency", &n.to_string()]);
                }
                cmd
            }
        };
        cmd.env("PREFECT_API_URL", &proxy.url);
        let cpu = |pid: Option<u32>| pid.map(server_cpu_seconds);
        let before = (server_cpu_seconds(server.pid()), cpu(postgres), cpu(redis));
        // `prefab deploy` exits 1 when some deployments failed: counted, not fatal.
        let result = run_measured(&cmd, &what, Some(1));
        let after = (server_cpu_seconds(server.pid()), cpu(postgres), cpu(redis));
        let (requests, _, connections) = proxy.counts.take();
        let (out, measured) = result?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (apply_loop, failures) = match client {
            Client::Prefab(_) => {
                for line in stdout.lines().filter(|l| l.starts_with("FAILED")) {
                    eprintln!("xtask: {what}: {line}");
                }
                (None, prefab_failures(&stdout)?)
            }
            Client::Prefect => {
                let v: Value =
                    serde_json::from_str(stdout.lines().last().unwrap_or("")).map_err(|e| {
                        format!(
                            "prefect_apply_bulk.py printed no JSON: {e}\n{}",
                            tail(&stdout)
                        )
                    })?;
                let failures = v["failures"].as_array().map_or(usize::MAX, Vec::len);
                if failures > 0 {
                    eprintln!("xtask: Prefect failures: {}", v["failures"]);
                }
                let wall = v["apply_s"].as_f64().ok_or("no apply_s from Prefect")?;
                let cpu = v["apply_cpu_s"]
                    .as_f64()
                    .ok_or("no apply_cpu_s from Prefect")?;
                (Some((wall, cpu)), failures)
            }
        };
        let problems = check_server(server.api_url(), deployments)?;
        for p in &problems {
            eprintln!("xtask: {what}: on the server: {p}");
        }
        let delta = |b: Option<f64>, a: Option<f64>| b.zip(a).map(|(b, a)| a - b);
        let pass = Pass {
            deployments,
            measured,
            apply_loop,
            failures,
            requests: requests.values().sum(),
            connections,
            api_cpu_s: after.0 - before.0,
            postgres_cpu_s: delta(before.1, after.1),
            redis_cpu_s: delta(before.2, after.2),
            problems,
        };
        eprintln!(
            "xtask: {what}: {} ({:.1} ms per deployment), peak RSS {:.1} MiB, API CPU {:.1} ms \
             per deployment, {} failed",
            secs(pass.wall_s()),
            pass.ms_per_deployment(),
            pass.measured.mib(),
            pass.per_deployment(pass.api_cpu_s),
            pass.failures
        );
        passes.push(pass);
    }
    Ok(())
}

/// Every page of a `POST …/filter` (the server caps a page at 200).
fn filter_all(
    client: &prefab_client::blocking::PrefectClient,
    path: &str,
    body: &Value,
) -> Result<Vec<Value>, String> {
    const PAGE: usize = 200;
    let mut all = Vec::new();
    loop {
        let mut page_body = body.clone();
        page_body["limit"] = json!(PAGE);
        page_body["offset"] = json!(all.len());
        let request = prefab_client::request::ApiRequest {
            method: http::Method::POST,
            path: path.to_owned(),
            body: Some(page_body.to_string().into_bytes()),
            safety: prefab_client::request::Safety::Idempotent,
            subject: "filter",
        };
        let response = client.send(&request).map_err(|e| format!("{path}: {e}"))?;
        let page: Vec<Value> = serde_json::from_slice(&response.body)
            .map_err(|e| format!("{path}: not a list: {e}"))?;
        let last = page.len() < PAGE;
        all.extend(page);
        if last {
            return Ok(all);
        }
    }
}

/// What is wrong on the server after a pass of `count` deployments: each of `bulk-000…` must
/// be there exactly once, with exactly one automation that runs it; no other automation may
/// exist. (The API does not return an automation's `owner_resource`; its `run-deployment`
/// action names the deployment.)
fn check_server(api_url: &str, count: usize) -> Result<Vec<String>, String> {
    let client = prefab_client::blocking::PrefectClient::new(
        prefab_client::ClientConfig::new(api_url).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let deployments = filter_all(
        &client,
        "/deployments/filter",
        &json!({"deployments": {"name": {"like_": format!("{PREFIX}-")}}, "sort": "NAME_ASC"}),
    )?;
    let automations = filter_all(
        &client,
        "/automations/filter",
        &json!({"sort": "CREATED_DESC"}),
    )?;
    let mut problems = Vec::new();

    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut owners = BTreeSet::new();
    for d in &deployments {
        *names.entry(d["name"].as_str().unwrap_or("?")).or_default() += 1;
        owners.insert(d["id"].as_str().unwrap_or("?"));
    }
    let expected: BTreeSet<String> = (0..count).map(|i| format!("{PREFIX}-{i:03}")).collect();
    let missing = expected
        .iter()
        .filter(|n| !names.contains_key(n.as_str()))
        .count();
    let repeated = names.values().filter(|n| **n > 1).count();
    let unexpected = names.keys().filter(|n| !expected.contains(**n)).count();
    if missing + repeated + unexpected > 0 {
        problems.push(format!(
            "deployments: {missing} of {count} missing, {repeated} more than once, \
             {unexpected} unexpected"
        ));
    }

    let mut owned: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for a in &automations {
        ids.insert(a["id"].as_str().unwrap_or("?"));
        let runs: BTreeSet<&str> = a["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|action| action["deployment_id"].as_str())
            .collect();
        let key = match runs.len() {
            1 => runs.first().copied().unwrap_or("?"),
            0 => "(no deployment)",
            _ => "(several deployments)",
        };
        *owned.entry(key).or_default() += 1;
    }
    if ids.len() != automations.len() {
        problems.push(format!(
            "automations: {} listed but {} distinct (the pages moved under the check)",
            automations.len(),
            ids.len()
        ));
    }
    let without = owners.iter().filter(|o| !owned.contains_key(*o)).count();
    let several = owners
        .iter()
        .filter(|o| owned.get(*o).is_some_and(|n| *n > 1))
        .count();
    let stray: usize = owned
        .iter()
        .filter(|(o, _)| !owners.contains(**o))
        .map(|(_, n)| n)
        .sum();
    if without + several + stray > 0 {
        problems.push(format!(
            "automations: {without} deployments have none, {several} more than one, \
             {stray} automations run no listed deployment"
        ));
    }
    Ok(problems)
}

// ---------------------------------------------------------------------------------------------
// The report.

fn find(runs: &[Run], kind: Database, workers: u16, client: Client) -> Option<&Run> {
    runs.iter()
        .find(|r| r.kind == kind && r.workers == workers && r.client == client)
}

fn pass(runs: &[Run], kind: Database, workers: u16, client: Client, i: usize) -> Option<&Pass> {
    find(runs, kind, workers, client).and_then(|r| r.passes.get(i))
}

fn kind_name(kind: Database) -> &'static str {
    match kind {
        Database::Postgres => "PostgreSQL",
        Database::Sqlite => "SQLite",
    }
}

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

/// `a / b` of two optional figures, or a dash.
fn cell(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".to_owned())
}

fn render(options: &Options, runs: &[Run], elapsed: Duration) -> String {
    let mut out = String::new();
    let (date, cores, load) = machine_note();
    let scaled = if options.prefect_count == options.count {
        String::new()
    } else {
        format!(
            " (**Prefect's loop applied {} deployments, not {}: its figures are per deployment \
             and its ratios compare per-deployment times, a scaled estimate for {}**)",
            options.prefect_count, options.count, options.count
        )
    };
    let _ = writeln!(
        out,
        "Measured {date}, {cores} cores (load average {load} at the end), prefab release build, \
         Prefect 3.9.1 in its pinned venv; {} deployments per run{scaled}; every run on its own \
         fresh server and database (SQLite: a copy of one freshly migrated database; \
         PostgreSQL: a new cluster, migrated), one API worker unless said; the whole run took \
         {}.\n",
        options.count,
        secs(elapsed.as_secs_f64())
    );

    // The targets, PostgreSQL first, SQLite beside.
    let kinds: Vec<Database> = [Database::Postgres, Database::Sqlite]
        .into_iter()
        .filter(|k| options.databases.contains(k))
        .collect();
    let _ = write!(out, "| measure |");
    for k in &kinds {
        let _ = write!(out, " {} |", kind_name(*k));
    }
    let _ = writeln!(out, " target (PostgreSQL) |");
    let _ = writeln!(out, "|---|{}---|", "---:|".repeat(kinds.len()));
    let default = Client::Prefab(None);
    for (i, pass_name, target) in [
        (0, "create", CREATE_SPEEDUP_TARGET),
        (1, "re-apply", UPDATE_SPEEDUP_TARGET),
    ] {
        let _ = write!(
            out,
            "| {pass_name}: Prefect's loop ÷ prefab default, time per deployment |"
        );
        let mut verdict = "—".to_owned();
        for &k in &kinds {
            let figures = pass(runs, k, 1, Client::Prefect, i)
                .zip(pass(runs, k, 1, default, i))
                .map(|(f, p)| {
                    let speedup = f.ms_per_deployment() / p.ms_per_deployment();
                    if k == Database::Postgres {
                        verdict = format!("≥ {target:.0}× ({})", met(speedup >= target));
                    }
                    format!(
                        "{speedup:.1}× ({:.1} / {:.1} ms)",
                        f.ms_per_deployment(),
                        p.ms_per_deployment()
                    )
                });
            let _ = write!(out, " {} |", cell(figures));
        }
        let _ = writeln!(out, " {verdict} |");
    }
    let _ = write!(
        out,
        "| peak RSS: prefab default ÷ Prefect (create; re-apply) |"
    );
    let mut verdict = "—".to_owned();
    for &k in &kinds {
        let fractions: Vec<(f64, f64, f64)> = (0..PASSES.len())
            .filter_map(|i| {
                let (f, p) =
                    pass(runs, k, 1, Client::Prefect, i).zip(pass(runs, k, 1, default, i))?;
                Some((
                    f.measured.mib() / p.measured.mib(),
                    p.measured.mib(),
                    f.measured.mib(),
                ))
            })
            .collect();
        if k == Database::Postgres && !fractions.is_empty() {
            let ok = fractions.iter().all(|(x, _, _)| *x >= RSS_FRACTION_TARGET);
            verdict = format!("≤ 1/{RSS_FRACTION_TARGET:.0} ({})", met(ok));
        }
        let text = fractions
            .iter()
            .map(|(x, p, f)| format!("1/{x:.1} ({p:.1} of {f:.1} MiB)"))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = write!(out, " {} |", cell((!text.is_empty()).then_some(text)));
    }
    let _ = writeln!(out, " {verdict} |");
    let _ = write!(
        out,
        "| failures and server-check problems, all runs of the kind |"
    );
    let mut verdict = "—".to_owned();
    for &k in &kinds {
        let of_kind: Vec<&Run> = runs.iter().filter(|r| r.kind == k).collect();
        let failures: usize = of_kind
            .iter()
            .flat_map(|r| &r.passes)
            .map(|p| p.failures)
            .sum();
        let problems: usize = of_kind
            .iter()
            .flat_map(|r| &r.passes)
            .map(|p| p.problems.len())
            .sum();
        let errors = of_kind.iter().filter(|r| r.error.is_some()).count();
        if k == Database::Postgres {
            verdict = format!("0 ({})", met(failures + problems + errors == 0));
        }
        let _ = write!(
            out,
            " {failures} failed, {problems} check problems, {errors} runs cut short |"
        );
    }
    let _ = writeln!(out, " {verdict} |");
    for (i, pass_name) in PASSES.iter().enumerate() {
        let _ = write!(
            out,
            "| {pass_name}: default ÷ best of `--concurrency 1/2/4/8`, throughput |"
        );
        let mut all_met = true;
        for &k in &kinds {
            let best = FIXED
                .iter()
                .filter_map(|n| Some((*n, pass(runs, k, 1, Client::Prefab(Some(*n)), i)?)))
                .max_by(|a, b| a.1.per_second().total_cmp(&b.1.per_second()));
            let figures = best.zip(pass(runs, k, 1, default, i)).map(|((n, b), d)| {
                let ratio = d.per_second() / b.per_second();
                all_met &= ratio >= DEFAULT_VS_BEST_TARGET;
                format!(
                    "{ratio:.2} ({:.1} vs {:.1}/s at {n})",
                    d.per_second(),
                    b.per_second()
                )
            });
            all_met &= figures.is_some();
            let _ = write!(out, " {} |", cell(figures));
        }
        let _ = writeln!(
            out,
            " ≥ {DEFAULT_VS_BEST_TARGET:.2} on each kind ({}) |",
            met(all_met)
        );
    }

    // One table per kind.
    for &k in &kinds {
        let _ = writeln!(
            out,
            "\n{}, one API worker: time per deployment, wall in brackets (Prefect's: its apply \
             loop; prefab's: the whole process); CPU in ms per deployment; requests through the \
             proxy per deployment (connections opened in brackets); peak RSS create / re-apply.\n",
            kind_name(k)
        );
        let _ = writeln!(
            out,
            "| client | create | re-apply | peak RSS | requests | API server CPU | PostgreSQL CPU | \
             client CPU | failures |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let clients = [Client::Prefect, default]
            .into_iter()
            .chain(FIXED.map(|n| Client::Prefab(Some(n))));
        for client in clients {
            let Some(run) = find(runs, k, 1, client) else {
                continue;
            };
            let _ = writeln!(out, "{}", table_row(run));
        }
    }

    // What a second API worker changes (PostgreSQL only: Prefect refuses it on SQLite).
    let two: Vec<&Run> = runs.iter().filter(|r| r.workers == 2).collect();
    if !two.is_empty() {
        let _ = writeln!(
            out,
            "\nPostgreSQL with two API workers (and Redis, which Prefect requires for them) \
             against one, same columns; Redis CPU per deployment (create / re-apply) in the \
             last column:\n"
        );
        let _ = writeln!(
            out,
            "| client | API workers | create | re-apply | peak RSS | requests | API server CPU | \
             PostgreSQL CPU | client CPU | failures | API cores busy | Redis CPU |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for client in [default, Client::Prefect] {
            for workers in [1, 2] {
                let Some(run) = find(runs, Database::Postgres, workers, client) else {
                    continue;
                };
                let row = table_row(run);
                let (label, rest) = row
                    .trim_start_matches("| ")
                    .split_once(" | ")
                    .unwrap_or(("?", ""));
                let cores = run
                    .passes
                    .iter()
                    .map(|p| format!("{:.2}", p.api_cores()))
                    .collect::<Vec<_>>()
                    .join(" / ");
                let redis = run
                    .passes
                    .iter()
                    .map(|p| {
                        p.redis_cpu_s
                            .map_or("—".to_owned(), |s| ms(p.per_deployment(s)))
                    })
                    .collect::<Vec<_>>()
                    .join(" / ");
                let _ = writeln!(out, "| {label} | {workers} | {rest} {cores} | {redis} |");
            }
        }
    }

    let _ = writeln!(out, "\n{}", larger_machine(runs, cores));
    for run in runs.iter().filter(|r| !r.ok()) {
        let _ = writeln!(
            out,
            "\n**{}, {} API worker{}, {}:** {}{}{}",
            kind_name(run.kind),
            run.workers,
            if run.workers == 1 { "" } else { "s" },
            run.client.label(),
            run.error.as_deref().unwrap_or(""),
            PASSES
                .iter()
                .zip(&run.passes)
                .filter(|(_, p)| p.failures > 0)
                .map(|(name, p)| format!(
                    " {name}: {} deployment(s) reported failed (the client's exit status said \
                     so).",
                    p.failures
                ))
                .collect::<String>(),
            run.passes
                .iter()
                .flat_map(|p| &p.problems)
                .map(|p| format!(" {p}."))
                .collect::<String>()
        );
    }
    out
}

/// One row of a per-kind table: client, create, re-apply, RSS, requests, API CPU, PostgreSQL
/// CPU, client CPU, failures.
fn table_row(run: &Run) -> String {
    let both = |f: &dyn Fn(&Pass) -> String| {
        let cells: Vec<String> = run.passes.iter().map(f).collect();
        if cells.is_empty() {
            "—".to_owned()
        } else {
            cells.join(" / ")
        }
    };
    let time = |i: usize| {
        run.passes.get(i).map_or("—".to_owned(), |p| {
            format!("{:.1} ms ({})", p.ms_per_deployment(), secs(p.wall_s()))
        })
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        run.client.label(),
        time(0),
        time(1),
        both(&|p| format!("{:.1} MiB", p.measured.mib())),
        both(&|p| format!(
            "{:.2} ({})",
            p.requests as f64 / p.deployments as f64,
            p.connections
        )),
        both(&|p| ms(p.per_deployment(p.api_cpu_s))),
        both(&|p| p
            .postgres_cpu_s
            .map_or("—".to_owned(), |s| ms(p.per_deployment(s)))),
        both(&|p| ms(p.client_cpu_ms())),
        both(&|p| {
            let mut s = p.failures.to_string();
            if !p.problems.is_empty() {
                s.push_str(" + check problems");
            }
            s
        }),
    )
}

/// The "larger machine" paragraph, from the measured CPU per deployment: an estimate.
fn larger_machine(runs: &[Run], cores: usize) -> String {
    let default = Client::Prefab(None);
    let (Some(one), Some(prefect)) = (
        pass(runs, Database::Postgres, 1, default, 0),
        pass(runs, Database::Postgres, 1, Client::Prefect, 0),
    ) else {
        return "(No PostgreSQL runs: no estimate for a larger machine.)".to_owned();
    };
    let one_update = pass(runs, Database::Postgres, 1, default, 1);
    let two = pass(runs, Database::Postgres, 2, default, 0);
    let api = one.per_deployment(one.api_cpu_s);
    let postgres = one.postgres_cpu_s.map_or(0.0, |s| one.per_deployment(s));
    let client = one.client_cpu_ms();
    let mut text = format!(
        "**What a larger machine would show (an estimate from the figures above, not a \
         measurement).** On these {cores} cores, prefab's default create pass on PostgreSQL kept \
         the one API worker busy {:.2} cores on average (its CPU ÷ the wall time) at {api:.1} ms \
         of API CPU per deployment, with PostgreSQL at {postgres:.1} ms and prefab itself at \
         {client:.1} ms: the API worker, one Python process, is the bottleneck",
        one.api_cores()
    );
    if let Some(u) = one_update {
        let _ = write!(
            text,
            " (re-apply: {:.1} ms API, {:.1} ms PostgreSQL per deployment)",
            u.per_deployment(u.api_cpu_s),
            u.postgres_cpu_s.map_or(0.0, |s| u.per_deployment(s))
        );
    }
    text.push('.');
    if let Some(two) = two {
        let api_two = two.per_deployment(two.api_cpu_s);
        let redis = two.redis_cpu_s.map_or(0.0, |s| two.per_deployment(s));
        let _ = write!(
            text,
            " A second worker here took {:.1} ms per deployment against {:.1} ms with one: both \
             workers, PostgreSQL, Redis ({redis:.1} ms CPU per deployment) and the client share \
             the same {cores} cores, and the API CPU per deployment was {api_two:.1} ms against \
             {api:.1} ms (with two workers each create also publishes its events to Redis). With \
             more cores, each worker would have one to \
             itself: one worker tops out near 1000 ÷ {api_two:.1} ≈ {:.0} creates/s, so W \
             workers near W × {:.0}/s, until PostgreSQL ({postgres:.1} ms per create: about \
             {:.0}/s per core it gets) or the client ({client:.1} ms: about {:.0}/s per core) \
             saturates — e.g. 4 workers ≈ {:.0}/s would need about {:.1} cores of PostgreSQL and \
             {:.1} of client. prefab reaches that only if its concurrency keeps at least W \
             requests in flight.",
            two.ms_per_deployment(),
            one.ms_per_deployment(),
            1000.0 / api_two,
            1000.0 / api_two,
            1000.0 / postgres.max(0.001),
            1000.0 / client.max(0.001),
            4000.0 / api_two,
            4.0 * postgres / api_two,
            4.0 * client / api_two,
        );
    }
    let _ = write!(
        text,
        " Prefect's loop applies one deployment at a time ({:.1} ms each, {:.1} ms of it its own \
         CPU), so more workers do not shorten it; only faster cores do. The ratio between the \
         two would grow with the workers prefab keeps busy.",
        prefect.ms_per_deployment(),
        prefect.client_cpu_ms()
    );
    text
}

/// The docs' marker section exists (checked before a long run with `--write-docs`).
fn check_docs_markers() -> Result<(), String> {
    let path = workspace_root().join("docs/performance.md");
    let doc = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if doc.contains("<!-- bench-compare:deploy_databases:start -->")
        && doc.contains("<!-- bench-compare:deploy_databases:end -->")
    {
        Ok(())
    } else {
        Err(format!(
            "{} lacks the bench-compare:deploy_databases markers",
            path.display()
        ))
    }
}
