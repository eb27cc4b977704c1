//! `prefab deploy`: build deployments from Python entrypoints (read statically) and apply them
//! with Prefect 3.9.1's exact request sequence — one from flags, or many from a deployment file
//! (JSON, YAML or TOML), applied with bounded concurrency, every outcome reported.

mod file;

use std::path::{Path, PathBuf};

use clap::Args;
use futures::StreamExt as _;
use prefab_client::PrefectClient;
use prefab_core::deployment::{DeploymentFile, apply};
use serde_json::{Map, Value, json};

use crate::Failure;

/// Arguments of `prefab deploy`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["entrypoint", "file"])))]
pub(crate) struct DeployArgs {
    /// The flow: `path/to/file.py:function` or `package.module:function`.
    pub entrypoint: Option<String>,
    /// A deployment file: one object or a list (keys: `RunnerDeployment.from_entrypoint`'s
    /// arguments plus `storage` and `apply`); entrypoints are relative to the file.
    #[arg(long, value_name = "FILE", conflicts_with = "entrypoint")]
    pub file: Option<PathBuf>,
    /// The deployment name (with ENTRYPOINT).
    #[arg(long, value_name = "NAME", requires = "entrypoint")]
    pub name: Option<String>,
    /// A cron schedule (repeatable).
    #[arg(long, value_name = "EXPR")]
    pub cron: Vec<String>,
    /// An interval schedule in seconds (repeatable).
    #[arg(long, value_name = "SECONDS")]
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
    /// How many deployments are applied at once (the client also adapts to a busy server).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
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

/// One deployment to apply: where it came from and its definition.
struct Definition {
    label: String,
    root: PathBuf,
    value: Value,
}

pub(crate) fn run(args: DeployArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let definitions = match &args.file {
        Some(path) => {
            let root = path
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."))
                .to_path_buf();
            file::read_definitions(path)?
                .into_iter()
                .enumerate()
                .map(|(i, value)| Definition {
                    label: label_of(&value, i),
                    root: root.clone(),
                    value,
                })
                .collect::<Vec<_>>()
        }
        None => {
            let value = definition_from_flags(&args)?;
            vec![Definition {
                label: label_of(&value, 0),
                root: cwd.clone(),
                value,
            }]
        }
    };
    // Build everything first: a definition that cannot be built is reported, the others go on.
    let mut built = Vec::new();
    let mut failures = Vec::new();
    let puller = args.pull.then(pull_runtime).transpose()?;
    for d in definitions {
        let result = DeploymentFile::from_json(&d.value).and_then(|f| {
            let dep = match &puller {
                Some(rt) => rt.block_on(f.build_pulled(&d.root))?,
                None => f.build(&d.root)?,
            };
            Ok((dep, f.apply_options()))
        });
        match result {
            Ok((deployment, options)) => built.push((d.label, deployment, options)),
            Err(e) => failures.push((d.label, format!("not applied: {e}"))),
        }
    }
    // Nothing could be built: bad input (exit 2), and no server is needed to say so.
    if built.is_empty() && !failures.is_empty() {
        for (label, error) in &failures {
            println!("FAILED   {label}: {error}");
        }
        return Err(Failure::Input(format!(
            "none of the {} deployments could be built (listed above)",
            failures.len()
        )));
    }
    let target = crate::api::resolve(!args.no_local_server)?;
    let client = PrefectClient::new(target.config)
        .map_err(|e| Failure::Input(format!("the Prefect API: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(format!("starting the async runtime: {e}")))?;
    let mut outcomes: Vec<(usize, String, Result<uuid::Uuid, String>)> = runtime.block_on(async {
        futures::stream::iter(built.into_iter().enumerate().map(
            |(i, (label, deployment, options))| {
                let client = &client;
                async move {
                    let result = apply(client, &deployment, &options)
                        .await
                        .map_err(|e| e.to_string());
                    (i, format!("{} ({label})", deployment.full_name()), result)
                }
            },
        ))
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await
    });
    // Report in file order, whatever order the applies finished in.
    outcomes.sort_by_key(|(i, _, _)| *i);
    let mut applied = 0;
    for (_, label, result) in &outcomes {
        match result {
            Ok(id) => {
                applied += 1;
                println!("applied  {label}  {id}");
            }
            Err(e) => failures.push((label.clone(), e.clone())),
        }
    }
    for (label, error) in &failures {
        println!("FAILED   {label}: {error}");
    }
    println!(
        "{applied} applied, {} failed{}",
        failures.len(),
        target
            .local_url
            .map(|u| format!(" (server {u})"))
            .unwrap_or_default()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::Run(format!(
            "{} of {} deployments were not applied (listed above)",
            failures.len(),
            applied + failures.len()
        )))
    }
}

/// The runtime `--pull` pulls on (git runs on its blocking threads).
fn pull_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(format!("starting the async runtime: {e}")))
}

fn label_of(value: &Value, index: usize) -> String {
    let name = value.get("name").and_then(Value::as_str).unwrap_or("?");
    let entrypoint = value
        .get("entrypoint")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("#{} {name} from {entrypoint}", index + 1)
}

fn definition_from_flags(args: &DeployArgs) -> Result<Value, Failure> {
    let entrypoint = args
        .entrypoint
        .clone()
        .expect("clap requires ENTRYPOINT or --file");
    let name = args.name.clone().ok_or_else(|| {
        Failure::Input("--name is required with ENTRYPOINT (the deployment's name)".into())
    })?;
    let mut d = Map::new();
    d.insert("entrypoint".into(), json!(entrypoint));
    d.insert("name".into(), json!(name));
    let one_or_list = |items: Vec<Value>| {
        if items.len() == 1 {
            items.into_iter().next().expect("one")
        } else {
            Value::Array(items)
        }
    };
    if !args.cron.is_empty() {
        d.insert(
            "cron".into(),
            one_or_list(args.cron.iter().map(|c| json!(c)).collect()),
        );
    }
    if !args.interval.is_empty() {
        d.insert(
            "interval".into(),
            one_or_list(args.interval.iter().map(|i| json!(i)).collect()),
        );
    }
    if !args.rrule.is_empty() {
        d.insert(
            "rrule".into(),
            one_or_list(args.rrule.iter().map(|r| json!(r)).collect()),
        );
    }
    if !args.params.is_empty() {
        let mut params = Map::new();
        for p in &args.params {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                Failure::Input(format!(
                    "--param {p:?}: expected KEY=VALUE, e.g. --param retries=3"
                ))
            })?;
            let v = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
            params.insert(k.to_owned(), v);
        }
        d.insert("parameters".into(), Value::Object(params));
    }
    if !args.tags.is_empty() {
        d.insert("tags".into(), json!(args.tags));
    }
    for (key, value) in [
        ("work_pool_name", &args.pool),
        ("work_queue_name", &args.queue),
        ("description", &args.description),
        ("version", &args.version),
    ] {
        if let Some(v) = value {
            d.insert(key.into(), json!(v));
        }
    }
    if args.paused {
        d.insert("paused".into(), json!(true));
    }
    match &args.source {
        Some(url) => {
            d.insert("storage".into(), json!({"kind": "source", "source": url}));
        }
        None if args.pull => {
            return Err(Failure::Input(
                "--pull with ENTRYPOINT needs --source URL (where the flow's code lives)".into(),
            ));
        }
        None => {}
    }
    Ok(Value::Object(d))
}
