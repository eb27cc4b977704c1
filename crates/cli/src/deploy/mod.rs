//! `prefab deploy`: build deployments from Python entrypoints (read statically) and apply them
//! with Prefect 3.9.1's exact request sequence — one from flags, or many from a deployment file
//! (JSON, YAML or TOML), applied with bounded concurrency, every outcome reported.

mod file;
pub(crate) mod inputs;
pub(crate) mod project;
pub(crate) mod report;

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use prefab_client::PrefectClient;
use prefab_core::deployment::{
    ApplyEvent, ApplyStep, BulkOptions, BulkOutcome, Concurrency, PoolOutcome, PruneCandidate,
    apply_all, delete_deployments, ensure_work_pools, prune_candidates,
};
use serde_json::{Value, json};

use clap::Args;
use report::{NextRuns, Output, abbreviate, next_runs, print_next_runs, table};

use crate::Failure;

/// Arguments of `prefab deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The flow: `path/to/file.py:function` or `package.module:function`. Without it (and
    /// without --file), the deployments of the project's prefect.yaml (`--all` or `--name`),
    /// as `prefect --no-prompt deploy` deploys them.
    pub entrypoint: Option<String>,
    /// A deployment file: one object or a list (keys: `RunnerDeployment.from_entrypoint`'s
    /// arguments plus `storage` and `apply`); entrypoints are relative to the file.
    #[arg(long, value_name = "FILE", conflicts_with = "entrypoint")]
    pub file: Option<PathBuf>,
    /// The deployment name (with ENTRYPOINT); in a prefect.yaml project, which deployments to
    /// deploy: `NAME`, `FLOW/NAME` (FLOW is the entrypoint's function, `-` for `_`), `*`
    /// patterns; repeatable.
    #[arg(long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// Every deployment of the project's prefect.yaml.
    #[arg(long, conflicts_with_all = ["entrypoint", "file"])]
    pub all: bool,
    /// The project file (default `./prefect.yaml`).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["entrypoint", "file"])]
    pub prefect_file: Option<PathBuf>,
    /// The Python interpreter that runs build and push steps prefab does not run itself
    /// (`prefect_docker…`, a project's own step function); default `python3` on PATH.
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// A cron schedule (repeatable).
    #[arg(long, value_name = "EXPR")]
    pub cron: Vec<String>,
    /// An interval schedule in seconds (repeatable).
    #[arg(long, value_name = "SECONDS", value_parser = finite_seconds)]
    pub interval: Vec<f64>,
    /// An RFC 5545 rrule schedule (repeatable).
    #[arg(long, value_name = "RULE")]
    pub rrule: Vec<String>,
    /// A default parameter, KEY=VALUE (VALUE is JSON when it parses as JSON; repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// A tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// The work pool.
    #[arg(long = "pool", value_name = "POOL")]
    pub pool: Option<String>,
    /// The work queue (needs --pool).
    #[arg(long = "queue", value_name = "QUEUE", requires = "pool")]
    pub queue: Option<String>,
    /// The deployment's description (default: the flow's).
    #[arg(long)]
    pub description: Option<String>,
    /// The deployment's version (default: inferred from CI or git, else the flow's).
    #[arg(long)]
    pub version: Option<String>,
    /// Create the deployment paused.
    #[arg(long)]
    pub paused: bool,
    /// Fail instead of starting a local Prefect server when PREFECT_API_URL is unset.
    #[arg(long)]
    pub no_local_server: bool,
    /// How many deployments are applied at once: `auto` (the default) or a fixed number.
    /// `auto` starts at 1, adds one while that raises throughput (up to 8) and halves when
    /// the server answers 503 or drops connections: it settles near 1 on a SQLite-backed
    /// Prefect server, which serialises writes, and higher on a PostgreSQL-backed one. A fixed
    /// N applies exactly N at once (the client still backs off on 503s).
    #[arg(long, default_value = "auto", value_name = "auto|N", value_parser = concurrency)]
    pub concurrency: Concurrency,
    /// Look up which deployments exist with one `POST /deployments/filter` per flow before the
    /// run, instead of a read by name per deployment: fewer round trips to Prefect Cloud or a
    /// remote server (against a local SQLite-backed server it was not reliably faster).
    #[arg(long)]
    pub pre_read: bool,
    /// Leave alone the deployments the server already matches: plan each one first (as
    /// `prefab plan` does) and write only those it would create or update. Prefect rewrites
    /// every deployment on each apply (new schedule and automation ids, auto-scheduled runs
    /// deleted); this keeps unchanged ones as they are. A deployment that did change costs one
    /// read more (its automations).
    #[arg(long, conflicts_with = "pre_read")]
    pub skip_unchanged: bool,
    /// Also delete the deployments of the same flows that the definitions no longer contain
    /// (only after every definition applied; `plan --prune` lists them).
    #[arg(long)]
    pub prune: bool,
    /// Output format: tables, or one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Pull each deployment's storage (`storage` in the file, or --source) into a temporary
    /// directory and load its flow from the pulled code instead of the local tree
    /// (Prefect's `RunnerDeployment.from_storage`).
    #[arg(long)]
    pub pull: bool,
    /// Where the flow's code lives (with ENTRYPOINT): a git URL, a remote URL (`s3://…`) or a
    /// directory, as Prefect's `from_source` reads it. Its pull step is recorded; with --pull
    /// the entrypoint is also read from the pulled code.
    #[arg(long, value_name = "URL", requires = "entrypoint")]
    pub source: Option<String>,
}

/// `--interval`: a finite number of seconds (`nan` and `inf` have no JSON form).
fn finite_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{s:?} is not a finite number of seconds")),
        Err(e) => Err(format!("{s:?}: {e}; give seconds, e.g. 3600")),
    }
}

/// `--concurrency`: `auto`, or 1 or more.
fn concurrency(s: &str) -> Result<Concurrency, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("0 would apply nothing; give 1 or more, or `auto`".into()),
        _ => s.parse::<Concurrency>().map_err(|e| e.to_string()),
    }
}

/// The API client and a runtime, for `deploy` and `plan`.
pub(crate) struct Session {
    pub client: PrefectClient,
    pub runtime: tokio::runtime::Runtime,
    /// The local server's URL when prefab started or reused it.
    pub local_url: Option<String>,
}

/// Resolves the API (environment or local server) and builds the client and runtime.
pub(crate) fn session(allow_local: bool) -> Result<Session, Failure> {
    let target = crate::api::resolve(allow_local)?;
    let client = PrefectClient::new(target.config)
        .map_err(|e| Failure::Input(format!("the Prefect API: {e}")))?;
    // One thread: the work is waiting on the server, and one thread keeps the process small
    // (no per-thread allocator arenas).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(format!("starting the async runtime: {e}")))?;
    Ok(Session {
        client,
        runtime,
        local_url: target.local_url,
    })
}

/// A progress bar over `len` deployments on stderr (hidden for JSON output and when stderr is
/// not a terminal).
pub(crate) fn progress(len: usize, output: Output, verb: &str) -> ProgressBar {
    if output == Output::Json || len == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!("{verb} [{{bar:30}}] {{pos}}/{{len}} {{msg}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// One row of the deploy report, in input order.
struct Row {
    index: usize,
    deployment: String,
    name: Option<String>,
    flow: Option<String>,
    result: &'static str,
    id: Option<uuid::Uuid>,
    error: Option<String>,
    next: Option<NextRuns>,
}

pub(crate) fn run(args: DeployArgs) -> Result<(), Failure> {
    // From here on the first Ctrl-C / SIGTERM stops starting deployments and reports (one
    // during the loading below leaves every deployment not attempted).
    let stop = crate::interrupt::install()?;
    let (mut inputs, session) = load_inputs(&args, true)?;
    // The deployments move into the bulk run (no second copy of each parameter schema).
    let built = std::mem::take(&mut inputs.built);
    let indices: Vec<usize> = built.iter().map(|b| b.index).collect();
    let items: Vec<_> = built
        .into_iter()
        .map(|b| (b.deployment, b.options))
        .collect();
    // The pools the file declares, before any deployment needs them; a pool that cannot be
    // read or created stops the run before anything else is written.
    let pools = if let Some(done) = inputs.pools_done.take() {
        done
    } else if inputs.work_pools.is_empty() {
        Vec::new()
    } else {
        match session
            .runtime
            .block_on(ensure_work_pools(&session.client, &inputs.work_pools))
        {
            Ok(done) => done,
            Err((done, e)) => {
                for (name, outcome) in &done {
                    eprintln!("work pool {name}: {}", outcome.describe());
                }
                return Err(Failure::Run(format!("{e}; no deployment was applied")));
            }
        }
    };
    let bar = progress(items.len(), args.output, "applying");
    let bulk = BulkOptions::default()
        .concurrency_mode(args.concurrency)
        .pre_read(args.pre_read)
        .skip_unchanged(args.skip_unchanged)
        .stop(stop);
    crate::waiting::show_on(&bar);
    let results =
        session.runtime.block_on(apply_all(
            &session.client,
            &items,
            &bulk,
            |event| match event {
                ApplyEvent::Started { name, .. } => bar.set_message(name),
                ApplyEvent::Applied { name, .. } => {
                    bar.inc(1);
                    bar.set_message(format!("applied {name}"));
                }
                ApplyEvent::Unchanged { name, .. } => {
                    bar.inc(1);
                    bar.set_message(format!("unchanged {name}"));
                }
                ApplyEvent::Failed { name, .. } => {
                    bar.inc(1);
                    bar.println(format!("failed: {name}"));
                }
                // Not attempted, and events added later: one deployment done.
                _ => bar.inc(1),
            },
        ));
    crate::waiting::clear_bar();
    bar.finish_and_clear();

    let mut rows: Vec<Row> = Vec::new();
    for ((index, (d, options)), result) in indices.iter().zip(&items).zip(results) {
        let (result, id, error) = match result {
            Ok(BulkOutcome::Unchanged(id)) => ("unchanged", Some(id), None),
            Ok(outcome) => ("applied", Some(outcome.id()), None),
            // A local check (Prefect's ValueError) is bad input; nothing was written.
            Err(e) if e.step == ApplyStep::Validate => ("invalid", None, Some(e.to_string())),
            Err(e) if e.is_not_attempted() => ("not attempted", None, Some(e.message)),
            Err(e) => ("failed", None, Some(e.to_string())),
        };
        rows.push(Row {
            index: *index,
            deployment: d.full_name(),
            name: Some(d.name.clone()),
            flow: d.flow_name.clone(),
            result,
            id,
            error,
            next: id.is_some().then(|| next_runs(d, options)),
        });
    }
    for i in &inputs.invalid {
        rows.push(Row {
            index: i.index,
            deployment: i.label.clone(),
            name: i.name.clone(),
            flow: None,
            result: i.result(),
            id: None,
            error: Some(format!("not applied: {}", i.error)),
            next: None,
        });
    }
    rows.sort_by_key(|r| r.index);
    let applied = rows.iter().filter(|r| r.result == "applied").count();
    let unchanged = rows.iter().filter(|r| r.result == "unchanged").count();
    let failed = rows.iter().filter(|r| r.result == "failed").count();
    let invalid = rows.iter().filter(|r| r.result == "invalid").count();
    let not_attempted = rows.iter().filter(|r| r.result == "not attempted").count();
    let interrupted = crate::interrupt::interrupted();

    // Prune only when everything was applied: a definition that failed may be one of the
    // deployments a prune would otherwise delete.
    let prune = if !args.prune {
        None
    } else if failed + invalid + not_attempted > 0 || interrupted {
        Some(Prune::Skipped(format!(
            "prune skipped: {} of {} definitions were not applied{}, so nothing was deleted",
            failed + invalid + not_attempted,
            rows.len(),
            if interrupted { " (interrupted)" } else { "" }
        )))
    } else {
        let built: Vec<_> = items.iter().map(|(d, _)| d.clone()).collect();
        Some(session.runtime.block_on(async {
            match prune_candidates(&session.client, &built).await {
                Err(e) => Prune::Skipped(format!(
                    "prune failed: listing the flows' deployments: {e}; nothing was deleted"
                )),
                Ok(candidates) => {
                    let results = delete_deployments(&session.client, &candidates).await;
                    Prune::Done(
                        candidates
                            .into_iter()
                            .zip(results)
                            .map(|(c, r)| (c, r.err().map(|e| e.to_string())))
                            .collect(),
                    )
                }
            }
        }))
    };
    let prune_failed = match &prune {
        Some(Prune::Done(list)) => list.iter().filter(|(_, e)| e.is_some()).count(),
        Some(Prune::Skipped(_)) => usize::from(failed + invalid + not_attempted == 0),
        None => 0,
    };

    match args.output {
        Output::Json => {
            let doc = json!({
                "command": "deploy",
                "server": session.local_url,
                "deployments": rows.iter().map(|r| json!({
                    "name": r.name,
                    "flow": r.flow,
                    "result": r.result,
                    "id": r.id,
                    "error": r.error,
                    "next_runs": r.next.as_ref().map(NextRuns::to_json).unwrap_or(json!([])),
                })).collect::<Vec<_>>(),
                "prune": prune.as_ref().map(Prune::to_json),
                "work_pools": pools_json(&pools),
                "summary": {"applied": applied, "unchanged": unchanged, "failed": failed, "invalid": invalid, "not_attempted": not_attempted},
                "interrupted": interrupted,
            });
            println!("{doc:#}");
        }
        Output::Text => {
            print_pools(&pools);
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.deployment.clone(),
                        r.result.to_owned(),
                        r.id.map(|id| id.to_string())
                            .or_else(|| r.error.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["DEPLOYMENT", "RESULT", "ID / ERROR"], &table_rows)
            );
            print_next_runs(
                rows.iter()
                    .map(|r| (r.deployment.as_str(), r.next.as_ref())),
            );
            if let Some(p) = &prune {
                println!();
                p.print();
            }
            println!(
                "{applied} applied, {}{failed} failed{}{}",
                if args.skip_unchanged {
                    format!("{unchanged} unchanged, ")
                } else {
                    String::new()
                },
                if invalid > 0 {
                    format!(", {invalid} invalid")
                } else {
                    String::new()
                } + &if not_attempted > 0 {
                    format!(", {not_attempted} not attempted")
                } else {
                    String::new()
                },
                session
                    .local_url
                    .as_ref()
                    .map(|u| format!(" (server {u})"))
                    .unwrap_or_default()
            );
        }
    }
    if interrupted {
        return Err(Failure::Interrupted(format!(
            "interrupted: {} of {} deployments were not attempted (listed above); every \
             deployment that was started finished its requests",
            not_attempted,
            rows.len()
        )));
    }
    if invalid > 0 {
        return Err(Failure::Input(format!(
            "{invalid} of {} definitions are invalid and were not applied (listed above)",
            rows.len()
        )));
    }
    if not_attempted > 0 {
        return Err(Failure::Run(format!(
            "{failed} of {} deployments failed and {not_attempted} were not attempted: the \
             server looks unavailable (listed above); check it and run again",
            rows.len()
        )));
    }
    if failed > 0 {
        return Err(Failure::Run(format!(
            "{failed} of {} deployments were not applied (listed above)",
            rows.len()
        )));
    }
    if prune_failed > 0 {
        return Err(Failure::Run(
            "every deployment was applied, but the prune did not complete (see above)".into(),
        ));
    }
    Ok(())
}

/// The inputs and the API session: a prefect.yaml project needs the API to prepare its
/// deployments (variables, blocks, work pools); a file or ENTRYPOINT is read first, so bad
/// input is reported before any server is started.
pub(crate) fn load_inputs(
    args: &DeployArgs,
    create_pools: bool,
) -> Result<(inputs::Inputs, Session), Failure> {
    if project::is_project(args) {
        let session = session(!args.no_local_server)?;
        let inputs = project::load(args, &session, create_pools)?;
        Ok((inputs, session))
    } else {
        let inputs = inputs::load(args)?;
        Ok((inputs, session(!args.no_local_server)?))
    }
}

/// The work pools' outcomes as JSON: `[{"name", "result"}]`.
pub(crate) fn pools_json(pools: &[(String, PoolOutcome)]) -> Value {
    json!(
        pools
            .iter()
            .map(|(name, o)| json!({"name": name, "result": o.describe()}))
            .collect::<Vec<_>>()
    )
}

/// The work pools' outcomes as a table (nothing when the file declares none).
pub(crate) fn print_pools(pools: &[(String, PoolOutcome)]) {
    if pools.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|(name, o)| vec![name.clone(), o.describe()])
        .collect();
    print!("{}", table(&["WORK POOL", "RESULT"], &rows));
    println!();
}

/// What `deploy --prune` did.
enum Prune {
    /// Not attempted, or failed before deleting anything: why.
    Skipped(String),
    /// The candidates, each with its deletion error if it failed.
    Done(Vec<(PruneCandidate, Option<String>)>),
}

impl Prune {
    fn to_json(&self) -> Value {
        match self {
            Prune::Skipped(reason) => json!({"deleted": [], "failed": [], "skipped": reason}),
            Prune::Done(list) => json!({
                "deleted": list.iter().filter(|(_, e)| e.is_none())
                    .map(|(c, _)| json!({"flow": c.flow_name, "name": c.name, "id": c.id}))
                    .collect::<Vec<_>>(),
                "failed": list.iter().filter_map(|(c, e)| e.as_ref().map(|e|
                    json!({"flow": c.flow_name, "name": c.name, "id": c.id, "error": e})))
                    .collect::<Vec<_>>(),
                "skipped": null,
            }),
        }
    }

    fn print(&self) {
        match self {
            Prune::Skipped(reason) => println!("{reason}"),
            Prune::Done(list) if list.is_empty() => {
                println!("prune: nothing to delete");
            }
            Prune::Done(list) => {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|(c, e)| {
                        vec![
                            c.full_name(),
                            if e.is_some() {
                                "delete FAILED"
                            } else {
                                "deleted"
                            }
                            .to_owned(),
                            e.clone().unwrap_or_else(|| c.id.to_string()),
                        ]
                    })
                    .collect();
                print!("{}", table(&["PRUNED", "RESULT", "ID / ERROR"], &rows));
            }
        }
    }
}

/// A value for a table cell.
pub(crate) fn cell(v: &Value) -> String {
    abbreviate(v, 60)
}
