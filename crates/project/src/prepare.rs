//! One selected deployment, from its prefect.yaml configuration to a [`RunnerDeployment`] and
//! its `apply()` arguments, in the order of Prefect's `_run_single_deploy` (spec §3):
//!
//! 1. the file's defaults, the command line's name;
//! 2. the raw pull steps kept; blocks, then variables, then the environment filled in;
//! 3. the flow read statically (no import) and its parameter schema;
//! 4. the work pool checked (it must exist);
//! 5. build, then push steps run (each distinct list once per run: [`StepRunner`]);
//! 6. schedules, the configuration and the triggers templated with the step outputs;
//! 7. the pull steps templated with the step outputs only (block and variable placeholders
//!    stay for the worker).

use std::collections::HashMap;
use std::path::Path;

use prefab_core::deployment::{ApplyOptions, ConcurrencyLimit, RunnerDeployment};
use prefab_flows::load_flow_from_entrypoint;
use prefab_storage::{PullSteps, Storage};
use serde_json::{Map, Value, json};

use crate::error::ProjectError;
use crate::model::{PrefectFile, interval_seconds, lax_bool};
use crate::resolve::{resolve_blocks, resolve_variables};
use crate::server::ServerValues;
use crate::steps::{SET_WORKING_DIRECTORY, StepRunner};
use crate::template::{Fill, get_path};

/// The docker build step whose presence changes the default pull step.
const BUILD_DOCKER_IMAGE: &str = "prefect_docker.deployments.steps.build_docker_image";

/// What a run shares between its deployments.
#[derive(Debug)]
pub struct RunContext<'a> {
    /// The file.
    pub file: &'a PrefectFile,
    /// The environment `{{ $NAME }}` reads and steps run with.
    pub env: &'a HashMap<String, String>,
    /// API reads, once per run.
    pub server: &'a ServerValues,
    /// Build and push steps, once per run.
    pub steps: &'a StepRunner,
    /// Prefect's multi-deploy mode (several deployments selected).
    pub multi: bool,
    /// Pools the file declares (`work_pools`) that a plan may count as existing: `deploy`
    /// creates them before preparing.
    pub declared_pools: Vec<String>,
}

/// A deployment ready to apply.
#[derive(Debug)]
pub struct Prepared {
    /// The deployment.
    pub deployment: RunnerDeployment,
    /// Its `apply()` arguments (the schedules, version inference in the project directory).
    pub options: ApplyOptions,
    /// What the user should know (missing values, Prefect's silent conversions).
    pub warnings: Vec<String>,
    /// The working directory the deployment's steps left the run in.
    pub cwd_after: std::path::PathBuf,
}

/// Whether any step list of the file changes the working directory: Prefect's
/// `set_working_directory` build or push step moves every later deployment (its flow is read,
/// and its default pull step computed, from the new directory), so such a file is prepared
/// one deployment after another, in file order.
pub fn moves_directory(file: &PrefectFile) -> bool {
    let lists = file
        .deployments
        .iter()
        .flat_map(|d| [d.get("build"), d.get("push")])
        .flatten()
        .chain(file.build.iter())
        .chain(file.push.iter());
    lists
        .into_iter()
        .any(|v| v.to_string().contains(SET_WORKING_DIRECTORY))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Python's `x or []` for a step section.
fn steps_of(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    }
}

fn opt_string(dc: &Map<String, Value>, key: &str) -> Result<Option<String>, ProjectError> {
    match dc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ProjectError::Deployment(format!(
            "`{key}` is {other} after templating, and it must be text: check the placeholder \
             that fills it"
        ))),
    }
}

fn defaults(dc: &mut Map<String, Value>) -> Result<(), ProjectError> {
    for (key, value) in [
        ("name", Value::Null),
        ("version", Value::Null),
        ("tags", json!([])),
        ("concurrency_limit", Value::Null),
        ("description", Value::Null),
        ("flow_name", Value::Null),
        ("entrypoint", Value::Null),
        ("parameters", json!({})),
    ] {
        dc.entry(key).or_insert(value);
    }
    match dc.entry("work_pool").or_insert_with(|| json!({})) {
        Value::Object(pool) => {
            pool.entry("name").or_insert(Value::Null);
            pool.entry("work_queue_name").or_insert(Value::Null);
            pool.entry("job_variables").or_insert_with(|| json!({}));
            Ok(())
        }
        _ => Err(ProjectError::Deployment(
            "`work_pool: null` makes Prefect fail (TypeError); give the pool: `work_pool: {name: \
             my-pool}`"
                .into(),
        )),
    }
}

/// Prepares the deployment at `index` of the file (`None`: Prefect's empty configuration),
/// named `name_override` when the command line names it, in working directory `cwd` (the
/// project directory, or where an earlier deployment's `set_working_directory` step left the
/// run: [`moves_directory`]).
pub async fn prepare(
    cx: &RunContext<'_>,
    index: Option<usize>,
    name_override: Option<&str>,
    cwd: &Path,
) -> Result<Prepared, ProjectError> {
    let file = cx.file;
    let mut warnings = Vec::new();
    let mut dc = index
        .and_then(|i| file.deployments.get(i).cloned())
        .unwrap_or_default();
    let here = |field: &str| match index {
        Some(i) => file.locate(i, field),
        None => field.to_owned(),
    };
    defaults(&mut dc)?;
    // `schedule:` is a one-item `schedules:`; both is an error.
    if truthy(dc.get("schedule")) {
        if dc.contains_key("schedules") {
            return Err(ProjectError::Deployment(format!(
                "{}: Both 'schedule' and 'schedules' keys are present in the deployment \
                 configuration. Please use only use `schedules`.",
                here("schedule")
            )));
        }
        if let Some(s @ Value::Object(_)) = dc.get("schedule").cloned() {
            dc.insert("schedules".into(), json!([s]));
        }
    }
    let default_pool = cx
        .env
        .get("PREFECT_DEFAULT_WORK_POOL_NAME")
        .filter(|p| !p.is_empty());
    if let Some(pool) = default_pool {
        let Some(Value::Object(wp)) = dc.get_mut("work_pool") else {
            unreachable!("defaults() made work_pool a mapping");
        };
        // Multi-deploy fills a missing pool; a single deploy takes the setting over the file.
        if !cx.multi || wp.get("name").is_none_or(Value::is_null) {
            wp.insert("name".into(), Value::String(pool.clone()));
        }
    }
    if let Some(n) = name_override {
        dc.insert("name".into(), Value::String(n.to_owned()));
    }

    // The deployment's own section wins when present (`build: null` disables the top-level
    // build, `pull: []` means no pull steps).
    let top = |key: &str| -> Option<Value> {
        match key {
            "build" => Some(Value::Array(file.build.clone())),
            "push" => Some(Value::Array(file.push.clone())),
            _ => file.pull.clone(),
        }
    };
    let section = |key: &str| dc.get(key).cloned().or_else(|| top(key));
    let label = |key: &str| match (index, dc.contains_key(key)) {
        (Some(i), true) => format!("deployments[{i}].{key}"),
        _ => key.to_owned(),
    };
    let build_steps = steps_of(section("build").as_ref());
    let mut push_steps = steps_of(section("push").as_ref());
    let raw_pull = steps_of(section("pull").as_ref());
    let explicit_no_pull = section("pull") == Some(json!([]));
    let build_label = label("build");
    let mut push_label = label("push");

    // Blocks, then variables, then the environment (unset `{{ $X }}` stays for now).
    let resolved = resolve_blocks(&Value::Object(dc), cx.server)
        .await
        .map_err(|e| in_deployment(&here(""), e))?;
    let resolved = resolve_variables(&resolved, cx.server, &mut warnings)
        .await
        .map_err(|e| in_deployment(&here(""), e))?;
    let env_values = Value::Object(
        cx.env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    );
    let env = |name: &str| cx.env.get(name).cloned();
    let mut ignored = Vec::new();
    let Some(Value::Object(mut dc)) =
        Fill::new()
            .keep_missing()
            .apply(&resolved, &env_values, &env, &mut ignored)
    else {
        unreachable!("a mapping stays a mapping");
    };

    let entrypoint = match dc.get("entrypoint") {
        Some(Value::String(e)) if !e.is_empty() => e.clone(),
        Some(v) if truthy(Some(v)) => {
            return Err(ProjectError::Deployment(format!(
                "{}: the entrypoint is {v}; it is text (path/to/file.py:function)",
                here("entrypoint")
            )));
        }
        _ => {
            return Err(ProjectError::Deployment(format!(
                "{}: An entrypoint must be provided: give `entrypoint: path/to/file.py:function` \
                 in the deployment",
                here("")
            )));
        }
    };
    let loaded = load_flow_from_entrypoint(&entrypoint, cwd).map_err(|e| {
        ProjectError::Deployment(format!(
            "{}: cannot load the flow {entrypoint:?} ({}): {e}",
            here("entrypoint"),
            e.python_class()
        ))
    })?;
    let flow = loaded.flow;
    dc.insert("flow_name".into(), Value::String(flow.name.clone()));
    let name = match dc.get("name") {
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        Some(v) if truthy(Some(v)) => {
            return Err(ProjectError::Deployment(format!(
                "{}: the deployment name is {v} after templating; it must be text",
                here("name")
            )));
        }
        _ => {
            return Err(ProjectError::Deployment(format!(
                "{}: A deployment name must be provided.",
                here("")
            )));
        }
    };

    // The work pool must exist.
    let pool_name = match get_path(&Value::Object(dc.clone()), "work_pool.name") {
        Some(Value::String(p)) if !p.is_empty() => p,
        Some(v) if truthy(Some(&v)) => {
            return Err(ProjectError::Deployment(format!(
                "{}: the work pool name is {v}; it must be text",
                here("work_pool.name")
            )));
        }
        _ => {
            return Err(ProjectError::Deployment(format!(
                "{}: A work pool is required to deploy this flow: give `work_pool: {{name: ...}}` \
                 in the deployment (prefab never prompts)",
                here("")
            )));
        }
    };
    let pool = cx
        .server
        .work_pool(&pool_name)
        .await
        .map_err(ProjectError::Server)?
        .or_else(|| {
            cx.declared_pools
                .contains(&pool_name)
                .then(|| json!({"name": pool_name}))
        })
        .ok_or_else(|| {
            ProjectError::Deployment(format!(
                "{}: This deployment configuration references work pool {pool_name:?} which \
                 does not exist. This means no worker will be able to pick up its runs: create \
                 it (prefect work-pool create {pool_name} --type process) or fix the name",
                here("work_pool.name")
            ))
        })?;
    if pool.get("type").and_then(Value::as_str) == Some("prefect-agent") {
        return Err(ProjectError::Deployment(format!(
            "{}: Cannot create a project-style deployment with work pool of type \
             'prefect-agent'.",
            here("work_pool.name")
        )));
    }

    let pull_steps: Vec<Value> = if explicit_no_pull {
        Vec::new()
    } else if !raw_pull.is_empty() {
        raw_pull
    } else if truthy(dc.get("pull")) {
        steps_of(dc.get("pull"))
    } else if truthy(file.pull.as_ref()) {
        steps_of(file.pull.as_ref())
    } else {
        default_pull(cx, cwd, &dc, &mut warnings)
    };

    // Build, then push steps.
    let mut outputs = Map::new();
    let mut cwd_after = cwd.to_path_buf();
    if !build_steps.is_empty() {
        let done = cx
            .steps
            .run_steps(&build_label, &build_steps, &outputs, &cwd_after, cx.server)
            .await?;
        outputs = done.outputs;
        cwd_after = done.cwd;
    }
    if push_steps.is_empty() {
        push_steps = file.push.clone();
        push_label = "push".into();
    }
    if !push_steps.is_empty() {
        let done = cx
            .steps
            .run_steps(&push_label, &push_steps, &outputs, &cwd_after, cx.server)
            .await?;
        outputs = done.outputs;
        cwd_after = done.cwd;
    }
    let outputs = Value::Object(outputs);

    if !truthy(dc.get("description")) {
        dc.insert(
            "description".into(),
            flow.description.clone().map_or(Value::Null, Value::String),
        );
    }
    let schedules = match dc.get("schedules") {
        None | Some(Value::Null) => None,
        Some(list) => {
            let filled = Fill::new()
                .apply(list, &outputs, &env, &mut ignored)
                .unwrap_or(Value::Null);
            let items = match filled {
                Value::Array(items) => items,
                other => vec![other],
            };
            Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        to_deployment_schedule(s).map_err(|e| {
                            ProjectError::Deployment(format!(
                                "{}: {e}",
                                here(&format!("schedules.{i}"))
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
    };
    // The deployment name the trigger names default to (before step outputs, as in Prefect).
    let trigger_base = name.clone();
    dc.remove("schedules");
    let triggers = dc.remove("triggers");
    let Some(Value::Object(dc)) = Fill::new().warn_missing().skip_prefixes(&["ctx."]).apply(
        &Value::Object(dc),
        &outputs,
        &env,
        &mut warnings,
    ) else {
        unreachable!("a mapping stays a mapping");
    };
    let mut trigger_specs = Vec::new();
    for (i, spec) in steps_of(triggers.as_ref()).into_iter().enumerate() {
        let Value::Object(mut spec) = spec else {
            continue;
        };
        let parameters = spec.remove("parameters");
        let Some(Value::Object(mut templated)) =
            Fill::new().apply(&Value::Object(spec), &outputs, &env, &mut ignored)
        else {
            unreachable!("a mapping stays a mapping");
        };
        if let Some(p) = parameters {
            templated.insert("parameters".into(), p);
        }
        templated
            .entry("name")
            .or_insert_with(|| Value::String(format!("{trigger_base}__automation_{}", i + 1)));
        trigger_specs.push(Value::Object(templated));
    }

    let concurrency = match dc.get("concurrency_limit") {
        None | Some(Value::Null) => None,
        Some(Value::Object(spec)) => {
            if spec.get("collision_strategy").is_none_or(Value::is_null) {
                return Err(ProjectError::Deployment(format!(
                    "{}: a concurrency_limit mapping needs `collision_strategy` (ENQUEUE or \
                     CANCEL_NEW); Prefect fails on it too. Or give the limit as a number",
                    here("concurrency_limit")
                )));
            }
            Some(Value::Object(spec.clone()))
        }
        Some(v) => Some(v.clone()),
    };
    let pull_steps = Fill::new()
        .keep_missing()
        .apply(&Value::Array(pull_steps), &outputs, &env, &mut ignored)
        .map(|v| steps_of(Some(&v)))
        .unwrap_or_default();

    let work_pool = dc.get("work_pool").cloned().unwrap_or_default();
    let mut b = RunnerDeployment::builder(name.clone())
        .flow_name(flow.name.clone())
        .entrypoint(entrypoint.clone())
        .storage(Storage::Steps(PullSteps::new(pull_steps)))
        .work_pool_name(pool_name.clone());
    if let Some(q) = opt_string(
        work_pool.as_object().unwrap_or(&Map::new()),
        "work_queue_name",
    )? {
        b = b.work_queue_name(q);
    }
    match dc.get("parameters") {
        Some(Value::Object(p)) => b = b.parameters(p.clone()),
        None | Some(Value::Null) => {}
        Some(other) => {
            return Err(ProjectError::Deployment(format!(
                "{}: parameters are {other} after templating; they must be a mapping",
                here("parameters")
            )));
        }
    }
    if let Some(Value::Object(jv)) = work_pool.get("job_variables") {
        b = b.job_variables(jv.clone());
    }
    match dc.get("tags") {
        Some(Value::String(s)) => {
            warnings.push(format!(
                "{}: `tags` is one text, so Prefect makes a tag of each character ({s:?} → {:?}); \
                 write a list (tags: [{s}]) for one tag",
                here("tags"),
                s.chars().map(String::from).collect::<Vec<_>>()
            ));
            b = b.tags(s.chars().map(|c| Value::String(c.to_string())));
        }
        Some(Value::Array(tags)) => {
            if let Some(odd) = tags.iter().find(|t| !t.is_string()) {
                warnings.push(format!(
                    "{}: the tag {odd} is not text; stored as Python's str() of it, as Prefect \
                     does — quote it to say what you mean",
                    here("tags")
                ));
            }
            b = b.tags(
                tags.iter()
                    .map(|t| Value::String(crate::python::python_str(t))),
            );
        }
        _ => {}
    }
    for t in trigger_specs {
        b = b.trigger_json(t);
    }
    if let Some(v) = dc.get("enforce_parameter_schema").filter(|v| !v.is_null()) {
        b = b.enforce_parameter_schema(lax_bool(v).ok_or_else(|| {
            ProjectError::Deployment(format!(
                "{}: enforce_parameter_schema is {v}; true or false",
                here("enforce_parameter_schema")
            ))
        })?);
    }
    if let Some(c) = &concurrency {
        b = b
            .concurrency_limit(ConcurrencyLimit::from_json(c).map_err(|e| {
                ProjectError::Deployment(format!("{}: {e}", here("concurrency_limit")))
            })?)
            .map_err(|e| ProjectError::Deployment(format!("{}: {e}", here("concurrency_limit"))))?;
    }
    let paused = match dc.get("paused") {
        None | Some(Value::Null) => None,
        Some(v) => Some(lax_bool(v).ok_or_else(|| {
            ProjectError::Deployment(format!("{}: paused is {v}; true or false", here("paused")))
        })?),
    };
    b = b.paused(paused);
    if let Some(d) = opt_string(&dc, "description")? {
        b = b.description(d);
    }
    if let Some(v) = opt_string(&dc, "version")?.filter(|v| !v.is_empty()) {
        b = b.version(v);
    }
    if let Some(v) = opt_string(&dc, "version_type")? {
        b = b.version_type(v);
    }
    if let Some(sla) = dc.get("sla").filter(|v| !v.is_null()) {
        b = b.slas(steps_of(Some(sla)));
    }
    let mut d = b
        .build()
        .map_err(|e| ProjectError::Deployment(format!("{}: {e}", here(""))))?;
    for field in [
        "description",
        "version",
        "paused",
        "concurrency_limit",
        "concurrency_options",
        "tags",
        "parameters",
        "work_queue_name",
        "work_pool_name",
        "job_variables",
        "entrypoint",
    ] {
        d.mark_set(field);
    }
    if dc
        .get("enforce_parameter_schema")
        .is_some_and(|v| !v.is_null())
    {
        d.mark_set("enforce_parameter_schema");
    }
    // `_set_defaults_from_flow`.
    d.parameter_openapi_schema = std::sync::Arc::new(flow.parameter_schema);
    if d.version.as_deref().is_none_or(str::is_empty) {
        d.version = flow.version;
        d.version_from_flow = true;
    }
    if d.description.as_deref().is_none_or(str::is_empty) {
        d.description = flow.description;
    }
    // Version inference reads the process's environment (the one `cx.env` was taken from),
    // once per run for all the deployments of one directory.
    let mut options = ApplyOptions::default().inference_dir(cwd);
    options.schedules = schedules.unwrap_or_default();
    Ok(Prepared {
        deployment: d,
        options,
        warnings,
        cwd_after,
    })
}

fn in_deployment(at: &str, e: ProjectError) -> ProjectError {
    match e {
        ProjectError::Deployment(m) => ProjectError::Deployment(format!("{at}: {m}")),
        other => other,
    }
}

/// `_generate_default_pull_action`, without prompts: a docker build with `dockerfile: auto`
/// → `/opt/prefect/<dir>`; a custom image without one → `/opt/prefect` (with Prefect's
/// warning); else the project directory.
fn default_pull(
    cx: &RunContext<'_>,
    cwd: &Path,
    dc: &Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Vec<Value> {
    let build = if truthy(dc.get("build")) {
        steps_of(dc.get("build"))
    } else {
        cx.file.build.clone()
    };
    let docker = build
        .iter()
        .filter_map(|s| s.get(BUILD_DOCKER_IMAGE))
        .find(|v| truthy(Some(v)));
    let dir_name = cwd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let step = |d: String| vec![json!({SET_WORKING_DIRECTORY: {"directory": d}})];
    if let Some(docker) = docker {
        if docker.get("dockerfile").and_then(Value::as_str) == Some("auto") {
            return step(format!("/opt/prefect/{dir_name}"));
        }
        warnings.push(
            "a build_docker_image step without `dockerfile: auto` and no pull step: Prefect \
             records no pull steps (it would ask where the code is in the image); add a \
             set_working_directory pull step"
                .into(),
        );
        return Vec::new();
    }
    let image = get_path(&Value::Object(dc.clone()), "work_pool.job_variables.image");
    if truthy(image.as_ref()) {
        warnings.push(
            "Using default working directory '/opt/prefect' for your Docker image. If your flow \
             code is in a different location, add an explicit set_working_directory pull step \
             to your prefect.yaml."
                .into(),
        );
        return step("/opt/prefect".into());
    }
    let here = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    step(here.to_string_lossy().into_owned())
}

/// `_schedule_config_to_deployment_schedule`: a schedule item of the file as the
/// `DeploymentScheduleCreate` mapping `apply(schedules=...)` takes.
fn to_deployment_schedule(item: &Value) -> Result<Value, String> {
    let empty = Map::new();
    let map = item.as_object().unwrap_or(&empty);
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    let timezone = get("timezone").cloned();
    let schedule = if truthy(get("cron")) {
        let mut s = Map::new();
        s.insert("cron".into(), get("cron").cloned().unwrap_or_default());
        if let Some(tz) = &timezone {
            s.insert("timezone".into(), tz.clone());
        }
        if let Some(day_or) = get("day_or") {
            s.insert(
                "day_or".into(),
                Value::Bool(
                    lax_bool(day_or).ok_or_else(|| format!("day_or is {day_or}; true or false"))?,
                ),
            );
        }
        Value::Object(s)
    } else if truthy(get("interval")) {
        let interval = get("interval").cloned().unwrap_or_default();
        let seconds = interval_seconds(&interval)
            .ok_or_else(|| format!("`{interval}` is not an interval"))?;
        let mut s = Map::new();
        s.insert("interval".into(), json!(seconds));
        if let Some(a) = get("anchor_date") {
            let anchor = match a {
                Value::Number(n) => {
                    // Seconds since the epoch, as pydantic reads a number for a datetime.
                    let secs = n.as_f64().unwrap_or(0.0);
                    epoch_to_iso(secs).ok_or_else(|| format!("anchor_date {n} is out of range"))?
                }
                other => other.as_str().unwrap_or_default().to_owned(),
            };
            s.insert("anchor_date".into(), Value::String(anchor));
        }
        if let Some(tz) = &timezone {
            s.insert("timezone".into(), tz.clone());
        }
        Value::Object(s)
    } else if truthy(get("rrule")) {
        let rule = get("rrule").and_then(Value::as_str).unwrap_or_default();
        match serde_json::from_str::<Value>(rule) {
            Ok(Value::Object(mut obj)) => {
                if let Some(tz) = timezone.clone().filter(|t| truthy(Some(t))) {
                    obj.insert("timezone".into(), tz);
                }
                Value::Object(obj)
            }
            Ok(other) => {
                return Err(format!(
                    "the rrule {rule:?} reads as JSON {other}, not a mapping of RRuleSchedule's \
                     fields"
                ));
            }
            Err(_) => {
                let mut s = Map::new();
                s.insert("rrule".into(), Value::String(rule.to_owned()));
                s.insert("timezone".into(), timezone.clone().unwrap_or(Value::Null));
                Value::Object(s)
            }
        }
    } else {
        return Err(format!(
            "Unknown schedule type. Please provide a valid schedule. schedule={}: give cron, \
             interval or rrule",
            crate::python::python_repr(item)
        ));
    };
    let mut out = Map::new();
    out.insert("schedule".into(), schedule);
    if let Some(active) = get("active") {
        out.insert(
            "active".into(),
            Value::Bool(
                lax_bool(active).ok_or_else(|| format!("active is {active}; true or false"))?,
            ),
        );
    }
    if let Some(p) = get("parameters").filter(|p| truthy(Some(p))) {
        out.insert("parameters".into(), p.clone());
    }
    for key in ["slug", "replaces"] {
        if let Some(v) = get(key).filter(|v| truthy(Some(v))) {
            out.insert(key.into(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// Seconds since the epoch as an ISO 8601 UTC time (pydantic reads a number given for a
/// datetime this way).
fn epoch_to_iso(secs: f64) -> Option<String> {
    if !secs.is_finite() {
        return None;
    }
    let ts =
        jiff::Timestamp::from_duration(jiff::SignedDuration::try_from_secs_f64(secs).ok()?).ok()?;
    Some(ts.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00").to_string())
}
