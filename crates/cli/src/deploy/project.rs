//! `prefab deploy` / `prefab plan` on a prefect.yaml project (no ENTRYPOINT, no `--file`): the
//! deployments `--all` or `--name` select, prepared as `prefect --no-prompt deploy` prepares
//! them (prefab_project), then applied by the same bulk machinery as a deployment file.

use std::collections::HashMap;
use std::path::PathBuf;

use futures::StreamExt as _;
use prefab_core::deployment::{SchemaPool, ensure_work_pools};
use prefab_project::model::PrefectFile;
use prefab_project::prepare::{RunContext, moves_directory, prepare};
use prefab_project::select::{Selection, select};
use prefab_project::server::ServerValues;
use prefab_project::steps::StepRunner;

use super::inputs::{Built, Inputs, Invalid};
use super::{DeployArgs, Session};
use crate::Failure;

/// How many deployments are prepared at once (flow reading, API reads; steps are shared).
const PREPARE_CONCURRENCY: usize = 8;

/// Whether `args` mean a prefect.yaml project (neither ENTRYPOINT nor `--file`).
pub(crate) fn is_project(args: &DeployArgs) -> bool {
    args.entrypoint.is_none() && args.file.is_none()
}

/// Flags that set one deployment's fields: Prefect applies them only when one deployment is
/// targeted; prefab takes them from the file only.
fn refuse_single_flags(args: &DeployArgs) -> Result<(), Failure> {
    let given: Vec<&str> = [
        ("--cron", !args.cron.is_empty()),
        ("--interval", !args.interval.is_empty()),
        ("--rrule", !args.rrule.is_empty()),
        ("--param", !args.params.is_empty()),
        ("--tag", !args.tags.is_empty()),
        ("--pool", args.pool.is_some()),
        ("--queue", args.queue.is_some()),
        ("--description", args.description.is_some()),
        ("--version", args.version.is_some()),
        ("--paused", args.paused),
        ("--source", args.source.is_some()),
        ("--pull", args.pull),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(Failure::Input(format!(
        "{} set one deployment's fields, which a prefect.yaml project takes from the file: \
         write them in prefect.yaml (or deploy one flow with ENTRYPOINT --name NAME)",
        given.join(", ")
    )))
}

/// Reads the project's prefect.yaml and prepares the selected deployments; with
/// `create_pools` (deploy), the pools the file declares are created first.
pub(crate) fn load(
    args: &DeployArgs,
    session: &Session,
    create_pools: bool,
) -> Result<Inputs, Failure> {
    refuse_single_flags(args)?;
    let dir = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let path = args
        .prefect_file
        .clone()
        .unwrap_or_else(|| PathBuf::from("prefect.yaml"));
    if !dir.join(&path).is_file() {
        return Err(Failure::Input(format!(
            "{}: no such file in {} — run prefab deploy in the project directory, or pass \
             --prefect-file PATH, a deployment file (--file FILE) or ENTRYPOINT --name NAME",
            path.display(),
            dir.display()
        )));
    }
    let file = PrefectFile::load(&dir.join(&path)).map_err(|e| Failure::Input(e.to_string()))?;
    for w in &file.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    let picked = select(
        &file.deployments,
        &Selection {
            all: args.all,
            names: args.names.clone(),
        },
    )
    .map_err(|e| Failure::Input(e.to_string()))?;
    for note in &picked.notes {
        eprintln!("{note}");
    }
    let pools_done = if create_pools && !file.work_pools.is_empty() {
        match session
            .runtime
            .block_on(ensure_work_pools(&session.client, &file.work_pools))
        {
            Ok(done) => Some(done),
            Err((done, e)) => {
                for (name, outcome) in &done {
                    eprintln!("work pool {name}: {}", outcome.describe());
                }
                return Err(Failure::Run(format!("{e}; no deployment was applied")));
            }
        }
    } else {
        None
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    let server = ServerValues::new(session.client.clone());
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let steps = StepRunner::new(python, env.clone());
    let cx = RunContext {
        file: &file,
        env: &env,
        server: &server,
        steps: &steps,
        multi: picked.multi,
        declared_pools: file.work_pools.iter().map(|p| p.name.clone()).collect(),
    };
    // A step that changes the working directory moves every later deployment (as Prefect's
    // os.chdir does): such a file is prepared in order, one deployment after another.
    let sequential = moves_directory(&file);
    let preparing = async {
        if sequential {
            let mut cwd = dir.clone();
            let mut out = Vec::new();
            for s in &picked.deployments {
                let result = prepare(&cx, s.index, s.name_override.as_deref(), &cwd).await;
                if let Ok(p) = &result {
                    cwd = p.cwd_after.clone();
                }
                out.push((s, result));
            }
            out
        } else {
            futures::stream::iter(picked.deployments.iter())
                .map(|s| {
                    let cx = &cx;
                    let dir = &dir;
                    async move {
                        (
                            s,
                            prepare(cx, s.index, s.name_override.as_deref(), dir).await,
                        )
                    }
                })
                .buffered(PREPARE_CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        }
    };
    // Ctrl-C while steps run: stop them (their processes are killed with the futures) and
    // apply nothing.
    let interrupted = async {
        while !crate::interrupt::interrupted() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let results = session.runtime.block_on(async {
        tokio::select! {
            results = preparing => Some(results),
            () = interrupted => None,
        }
    });
    let Some(results) = results else {
        return Err(Failure::Interrupted(
            "interrupted while preparing the deployments (build and push steps were stopped); \
             nothing was applied"
                .into(),
        ));
    };
    let mut inputs = Inputs {
        built: Vec::new(),
        invalid: Vec::new(),
        work_pools: file.work_pools.clone(),
        pools_done,
    };
    let mut schemas = SchemaPool::new();
    for (position, (selected, result)) in results.into_iter().enumerate() {
        let index = selected.index.unwrap_or(position);
        match result {
            Ok(prepared) => {
                for w in &prepared.warnings {
                    eprintln!("warning: {}: {w}", prepared.deployment.full_name());
                }
                let mut deployment = prepared.deployment;
                schemas.share(&mut deployment);
                inputs.built.push(Built {
                    index,
                    deployment,
                    options: prepared.options,
                });
            }
            Err(e) => {
                let name = selected.name_override.clone().or_else(|| {
                    selected
                        .index
                        .and_then(|i| file.deployments[i].get("name"))
                        .and_then(|n| n.as_str())
                        .map(str::to_owned)
                });
                let label = match selected.index {
                    Some(i) => format!(
                        "{} ({})",
                        name.as_deref().unwrap_or("(no name)"),
                        file.locate(i, "")
                    ),
                    None => "(the file has no deployments)".to_owned(),
                };
                inputs.invalid.push(Invalid {
                    index,
                    label,
                    name,
                    blames_input: e.blames_input(),
                    error: e.to_string(),
                });
            }
        }
    }
    Ok(inputs)
}
