//! The inputs `prefab deploy` and `prefab plan` share: a deployment file (`--file`) or one
//! deployment from ENTRYPOINT and flags, each definition built into a [`RunnerDeployment`].
//! A definition that cannot be built is reported and the others go on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prefab_core::deployment::{
    ApplyOptions, DeploymentError, DeploymentFile, FlowCache, RunnerDeployment, SchemaPool,
    WorkPoolSpec,
};
use prefab_core::yaml::join_path;
use serde_json::{Map, Value, json};

use super::DeployArgs;
use super::file;
use crate::Failure;

/// One definition that was built.
pub(crate) struct Built {
    /// Position in the input.
    pub index: usize,
    /// The deployment.
    pub deployment: RunnerDeployment,
    /// Its `apply()` arguments.
    pub options: ApplyOptions,
}

/// One definition that could not be built (bad input: a missing flow, a bad schedule, …).
pub(crate) struct Invalid {
    /// Position in the input.
    pub index: usize,
    /// `#N name from entrypoint`, for messages.
    pub label: String,
    /// The deployment name, when the definition has one.
    pub name: Option<String>,
    /// Why it could not be built.
    pub error: String,
    /// False when the definition is not at fault: its code could not be pulled (network,
    /// server, credentials refused). Reported as failed (exit 1), not invalid (exit 2).
    pub blames_input: bool,
}

impl Invalid {
    /// The result a report shows: `invalid` (bad input) or `failed` (a pull that failed).
    pub(crate) fn result(&self) -> &'static str {
        if self.blames_input {
            "invalid"
        } else {
            "failed"
        }
    }
}

/// The definitions, in input order: built ones and invalid ones.
pub(crate) struct Inputs {
    /// Built definitions, in input order.
    pub built: Vec<Built>,
    /// Definitions that could not be built, in input order.
    pub invalid: Vec<Invalid>,
    /// The work pools the file declares (created by `deploy` when missing).
    pub work_pools: Vec<WorkPoolSpec>,
    /// What was done for `work_pools` while loading (a prefect.yaml project creates its pools
    /// before preparing, as its deployments must find them), if it was.
    pub pools_done: Option<Vec<(String, prefab_core::deployment::PoolOutcome)>>,
}

/// Reads and builds the definitions `args` name. A file that cannot be read or parsed is an
/// error (nothing is built); a definition that cannot be built is listed in `invalid`.
pub(crate) fn load(args: &DeployArgs) -> Result<Inputs, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Run(format!("reading the current directory: {e}")))?;
    let mut work_pools = Vec::new();
    let mut contents = None;
    let definitions: Vec<(String, PathBuf, Value)> = match &args.file {
        Some(path) => {
            let root = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let mut read = file::read_definitions(path)?;
            work_pools = std::mem::take(&mut read.work_pools);
            let definitions = std::mem::take(&mut read.definitions)
                .into_iter()
                .enumerate()
                .map(|(i, value)| (label_of(&value, i), root.clone(), value))
                .collect();
            contents = Some((path, read));
            definitions
        }
        None => {
            let value = definition_from_flags(args)?;
            vec![(label_of(&value, 0), cwd, value)]
        }
    };
    // Where definition `index` is, for messages: `--file d.yaml: deployments[3] (line 9,
    // column 5)`, or the label alone for a definition made from flags.
    let position = |index: usize, field: Option<&str>| match &contents {
        Some((path, read)) => {
            let at = join_path(&read.paths[index], field.unwrap_or(""));
            format!("--file {}: {}", path.display(), read.locate(&at))
        }
        None => field.map_or_else(String::new, str::to_owned),
    };
    let mut inputs = Inputs {
        built: Vec::new(),
        invalid: Vec::new(),
        work_pools,
        pools_done: None,
    };
    let puller = args.pull.then(pull_runtime).transpose()?;
    // Deployments of one flow share its parameter schema: one copy, not one per deployment.
    let mut schemas = SchemaPool::new();
    // Each flow file is read once, however many deployments it has.
    let mut flows = FlowCache::new();
    for (index, (label, root, value)) in definitions.into_iter().enumerate() {
        let result = DeploymentFile::from_json(&value).and_then(|f| {
            let deployment = match &puller {
                Some(rt) => rt.block_on(f.build_pulled(&root))?,
                None => f.build_with(&root, &mut flows)?,
            };
            Ok((deployment, f.apply_options()))
        });
        match result {
            Ok((mut deployment, options)) => {
                schemas.share(&mut deployment);
                for w in deployment.warnings(options.work_pool_name.as_deref()) {
                    eprintln!("warning: {w}");
                }
                inputs.built.push(Built {
                    index,
                    deployment,
                    options,
                });
            }
            Err(e) => {
                let error = match &e {
                    // A field's type or shape: say where it is.
                    DeploymentError::InvalidField { field, reason } => {
                        let at = position(index, Some(field));
                        if at.is_empty() {
                            e.to_string()
                        } else {
                            format!("{at}: {reason}")
                        }
                    }
                    _ => e.to_string(),
                };
                inputs.invalid.push(Invalid {
                    index,
                    label,
                    name: value.get("name").and_then(Value::as_str).map(str::to_owned),
                    blames_input: e.blames_input(),
                    error,
                })
            }
        }
    }
    // The same deployment twice: which one the user meant is unknowable, and applying both
    // would silently keep the last. Refuse before anything is sent.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for b in &inputs.built {
        let name = b.deployment.full_name();
        if let Some(first) = seen.insert(name.clone(), b.index) {
            let where_ = |i: usize| match &contents {
                Some(_) => position(i, None),
                None => format!("#{}", i + 1),
            };
            return Err(Failure::Input(format!(
                "deployment {name} is defined twice: {} and {}; remove or rename one (nothing \
                 was applied)",
                where_(first),
                where_(b.index)
            )));
        }
    }
    Ok(inputs)
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
    let name = match args.names.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(Failure::Input(
                "--name is required with ENTRYPOINT (the deployment's name)".into(),
            ));
        }
        _ => {
            return Err(Failure::Input(
                "--name is given more than once; with ENTRYPOINT it is the one deployment's name"
                    .into(),
            ));
        }
    };
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
            let (k, v) = p
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| {
                    Failure::Input(format!(
                        "--param {p:?}: expected KEY=VALUE with a parameter name, e.g. --param \
                         retries=3"
                    ))
                })?;
            let v = param_value(k, v)?;
            if params.insert(k.to_owned(), v).is_some() {
                return Err(Failure::Input(format!(
                    "--param {k}: given twice; give each parameter once"
                )));
            }
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

/// A `--param` value: JSON when it parses as JSON, the text itself otherwise — except text
/// that is clearly meant as JSON but is not (a `[`/`{` that does not parse, a number JSON
/// cannot hold, nesting past the JSON limit), which is refused rather than stored as a string.
fn param_value(key: &str, text: &str) -> Result<Value, Failure> {
    match serde_json::from_str::<Value>(text) {
        // Valid JSON: an integer serde_json read as a float is refused, not rounded.
        Ok(v) => match prefab_core::yaml::check_json_integers(text) {
            Ok(()) => Ok(v),
            Err(e) => Err(Failure::Input(format!("--param {key}: {e}"))),
        },
        Err(e) => {
            let trimmed = text.trim_start();
            let looks_json = trimmed.starts_with(['[', '{'])
                || e.to_string().starts_with("number out of range")
                || e.to_string().starts_with("recursion limit exceeded");
            if looks_json {
                Err(Failure::Input(format!(
                    "--param {key}: {text:.40?} is not valid JSON ({e}); fix it, or quote it \
                     as a JSON string (--param '{key}=\"...\"') to pass text"
                )))
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
    }
}
