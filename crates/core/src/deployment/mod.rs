//! `RunnerDeployment`: Prefect 3.9.1's deployment model, its validators, the create/update
//! request bodies (pure functions) and [`apply`].
//!
//! ```
//! use prefab_core::deployment::{RunnerDeployment, ScheduleArgs};
//! use serde_json::json;
//!
//! let d = RunnerDeployment::builder("nightly.py")
//!     .flow_name("etl")
//!     .schedules(ScheduleArgs { cron: Some(json!("0 2 * * *")), ..Default::default() })
//!     .unwrap()
//!     .tags(["etl", " "])
//!     .build()
//!     .unwrap();
//! assert_eq!(d.name, "nightly"); // the `.py` stem rule
//! assert_eq!(d.tags, ["etl"]); // blank tags dropped
//! assert_eq!(d.paused, Some(false)); // reconcile_paused
//! ```

mod adaptive;
mod apply;
mod automations;
#[cfg(feature = "blocking")]
pub mod blocking;
mod bulk;
mod compare;
mod error;
mod file;
mod from_storage;
mod plan;
mod pools;
mod prune;
mod schedules;
mod triggers;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prefab_flows::{Flow, ParameterSchema, load_flow_from_entrypoint};
use prefab_storage::{RunnerStorage as _, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub use adaptive::{Concurrency, MAX_AUTO_CONCURRENCY, ParseConcurrencyError};
pub use apply::{ApplyOptions, apply, apply_with};
pub use bulk::{
    ApplyEvent, BulkOptions, BulkOutcome, DEFAULT_CIRCUIT_BREAKER, DEFAULT_CIRCUIT_BREAKER_WINDOW,
    DEFAULT_CONCURRENCY, FlowIdCache, StopSignal, apply_all,
};
pub use error::{ApplyStep, DeploymentApplyError, DeploymentError, Written};
pub use file::{ApplySpec, DeploymentFile, FromEntrypointOptions};
pub use from_storage::STORAGE_BASE_PATH;
pub use plan::{DeploymentPlan, FieldChange, PlanAction, PlanError, plan, plan_all};
pub use pools::{PoolError, PoolOutcome, WorkPoolSpec, ensure_work_pools, plan_work_pools};
pub use prune::{PruneCandidate, delete_deployments, prune_candidates};
pub use schedules::{
    DeploymentSchedule, ScheduleArgs, normalize_rrule_string, normalize_schedule_item,
    schedule_from_apply_arg,
};
pub use triggers::{DeploymentTrigger, normalize_trigger};
pub use validate::{Endpoint, ParameterReport, ParameterViolation, Verdict, server_verdict};

use crate::version::VersionInfo;

/// How concurrent runs beyond the limit are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CollisionStrategy {
    /// Queue the run until a slot frees up (Prefect's default).
    #[serde(rename = "ENQUEUE")]
    Enqueue,
    /// Cancel the new run.
    #[serde(rename = "CANCEL_NEW")]
    CancelNew,
}

/// Prefect's `ConcurrencyOptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrencyOptions {
    /// What happens to runs over the limit.
    pub collision_strategy: CollisionStrategy,
    /// Seconds a slot is held for a crashed run (60–86400), if set.
    pub grace_period_seconds: Option<i64>,
}

impl ConcurrencyOptions {
    /// The JSON Prefect sends (exclude-unset: `grace_period_seconds` only when set).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("collision_strategy".into(), json!(self.collision_strategy));
        if let Some(g) = self.grace_period_seconds {
            m.insert("grace_period_seconds".into(), json!(g));
        }
        Value::Object(m)
    }
}

/// A concurrency limit as the constructors take it: a number, or
/// `{limit, collision_strategy, grace_period_seconds}` (Prefect's `ConcurrencyLimitConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcurrencyLimit {
    /// A plain limit.
    Limit(i64),
    /// A limit with options.
    Config {
        /// The limit.
        limit: i64,
        /// What happens to runs over the limit (default `ENQUEUE`).
        collision_strategy: CollisionStrategy,
        /// Grace period for crashed runs, 60–86400 seconds.
        grace_period_seconds: Option<i64>,
    },
}

impl ConcurrencyLimit {
    /// Reads the file form: a number or `{limit, collision_strategy?, grace_period_seconds?}`.
    pub fn from_json(value: &Value) -> Result<Self, DeploymentError> {
        let err = |reason: &str| DeploymentError::InvalidConcurrency {
            input: value.to_string(),
            reason: reason.to_owned(),
        };
        match value {
            Value::Number(n) => n
                .as_i64()
                .map(ConcurrencyLimit::Limit)
                .ok_or_else(|| err("the limit must be a whole number")),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| {
                    !["limit", "collision_strategy", "grace_period_seconds"].contains(&k.as_str())
                }) {
                    return Err(err(&format!(
                        "unexpected key `{k}` (allowed: limit, collision_strategy, grace_period_seconds)"
                    )));
                }
                let limit = m
                    .get("limit")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| err("`limit` is required and must be a whole number"))?;
                let collision_strategy = match m.get("collision_strategy") {
                    None | Some(Value::Null) => CollisionStrategy::Enqueue,
                    Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
                        err("`collision_strategy` must be \"ENQUEUE\" or \"CANCEL_NEW\"")
                    })?,
                };
                let grace_period_seconds = match m.get("grace_period_seconds") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.as_i64().ok_or_else(|| {
                        err("`grace_period_seconds` must be a whole number of seconds")
                    })?),
                };
                Ok(ConcurrencyLimit::Config {
                    limit,
                    collision_strategy,
                    grace_period_seconds,
                })
            }
            _ => Err(err(
                "give a number or {\"limit\": n, \"collision_strategy\": \"ENQUEUE\"|\"CANCEL_NEW\"}",
            )),
        }
    }

    /// Prefect's `_extract_concurrency_options`: the limit and the options, validated.
    pub fn extract(&self) -> Result<(i64, Option<ConcurrencyOptions>), DeploymentError> {
        match *self {
            ConcurrencyLimit::Limit(n) => Ok((n, None)),
            ConcurrencyLimit::Config {
                limit,
                collision_strategy,
                grace_period_seconds,
            } => {
                if let Some(g) = grace_period_seconds
                    && !(60..=86400).contains(&g)
                {
                    return Err(DeploymentError::InvalidConcurrency {
                        input: g.to_string(),
                        reason: "grace_period_seconds must be between 60 and 86400".into(),
                    });
                }
                Ok((
                    limit,
                    Some(ConcurrencyOptions {
                        collision_strategy,
                        grace_period_seconds,
                    }),
                ))
            }
        }
    }
}

/// A reference to a saved block, as a parameter value: `{"$ref": {"block_document_id": id}}`.
pub fn block_reference(block_document_id: Uuid) -> Value {
    json!({"$ref": {"block_document_id": block_document_id.to_string()}})
}

/// Prefect's `validate_block_parameters`: every `{"$ref": …}` block reference must name a
/// saved block document (a UUID).
fn check_block_refs(value: &Value, path: &str) -> Result<(), DeploymentError> {
    match value {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref") {
                let ok = r
                    .get("block_document_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| Uuid::parse_str(id).is_ok());
                if !ok {
                    return Err(DeploymentError::BlockNotSaved {
                        path: path.to_owned(),
                        input: value.to_string(),
                    });
                }
            }
            for (k, v) in m {
                check_block_refs(v, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_block_refs(v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Prefect's name rule: a name ending in `.py` becomes the file stem
/// (`"a/b/c.py"` → `"c"`); other dots are kept.
pub fn normalize_name(name: &str) -> String {
    if name.ends_with(".py") {
        Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_owned())
    } else {
        name.to_owned()
    }
}

/// Prefect's tag clean-up: every element stringified, blank ones silently dropped (Q10).
/// Strings, `null` (`"None"`), booleans (`"True"`/`"False"`) and integers stringify as Python's
/// `str()` does; deployment files refuse anything but strings (D26).
pub fn clean_tags<I, T>(tags: I) -> Vec<String>
where
    I: IntoIterator<Item = T>,
    T: Into<Value>,
{
    tags.into_iter()
        .map(Into::into)
        .filter_map(|v| {
            let s = match v {
                Value::String(s) => s,
                Value::Null => "None".to_owned(),
                Value::Bool(true) => "True".to_owned(),
                Value::Bool(false) => "False".to_owned(),
                other => other.to_string(),
            };
            (!s.trim().is_empty()).then_some(s)
        })
        .collect()
}

/// A deployment of a flow, as Prefect 3.9.1's `RunnerDeployment` holds it (spec §1).
///
/// Build one with [`RunnerDeployment::from_entrypoint`] (reads the flow) or
/// [`RunnerDeployment::builder`]; send it with [`apply`]. Which fields were given matters:
/// an update sends only those (Prefect's exclude-unset semantics); [`RunnerDeployment::mark_set`]
/// records a field assigned directly.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunnerDeployment {
    /// The deployment name (`.py` stem rule applied).
    pub name: String,
    /// The flow's name.
    pub flow_name: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The version.
    pub version: Option<String>,
    /// `prefect:simple`, `vcs:github`, …; steers version inference only.
    pub version_type: Option<String>,
    /// Tags (blank ones dropped).
    pub tags: Vec<String>,
    /// Schedules (`None` = not given).
    pub schedules: Option<Vec<DeploymentSchedule>>,
    /// The concurrency limit.
    pub concurrency_limit: Option<i64>,
    /// Concurrency options.
    pub concurrency_options: Option<ConcurrencyOptions>,
    /// Whether the deployment is paused (`None` only when assigned after construction).
    pub paused: Option<bool>,
    /// Default parameters.
    pub parameters: Map<String, Value>,
    /// The flow's entrypoint.
    pub entrypoint: Option<String>,
    /// Triggers (each becomes an automation).
    pub triggers: Vec<DeploymentTrigger>,
    /// Whether the server validates parameters against the schema.
    pub enforce_parameter_schema: bool,
    /// Where the code lives; its pull step becomes the deployment's `pull_steps`.
    pub storage: Option<Box<Storage>>,
    /// The work pool.
    pub work_pool_name: Option<String>,
    /// The work queue.
    pub work_queue_name: Option<String>,
    /// Job variables.
    pub job_variables: Map<String, Value>,
    /// SLAs (Prefect Cloud): `None` = don't touch, `Some(vec![])` = remove all.
    pub slas: Option<Vec<Value>>,
    /// The deployment `path` (sent on create only).
    pub path: Option<String>,
    /// The flow's parameter schema, shared between the deployments of one flow when built in
    /// bulk ([`SchemaPool`]); changed copy-on-write (`Arc::make_mut`).
    pub parameter_openapi_schema: Arc<ParameterSchema>,
    /// Whether `version` came from the flow (lets an inferred VCS version win).
    pub version_from_flow: bool,
    fields_set: Vec<&'static str>,
}

/// Fields an update may send, in Prefect's `DeploymentUpdate` order.
const UPDATE_FIELDS: &[&str] = &[
    "version",
    "description",
    "parameters",
    "paused",
    "schedules",
    "concurrency_limit",
    "concurrency_options",
    "tags",
    "work_queue_name",
    "work_pool_name",
    "job_variables",
    "entrypoint",
    "enforce_parameter_schema",
];

impl RunnerDeployment {
    /// A builder for a deployment named `name` (Rust callers).
    pub fn builder(name: impl Into<String>) -> RunnerDeploymentBuilder {
        RunnerDeploymentBuilder {
            d: RunnerDeployment {
                name: name.into(),
                flow_name: None,
                description: None,
                version: None,
                version_type: None,
                tags: Vec::new(),
                schedules: None,
                concurrency_limit: None,
                concurrency_options: None,
                paused: None,
                parameters: Map::new(),
                entrypoint: None,
                triggers: Vec::new(),
                enforce_parameter_schema: true,
                storage: None,
                work_pool_name: None,
                work_queue_name: None,
                job_variables: Map::new(),
                slas: None,
                path: None,
                parameter_openapi_schema: Arc::default(),
                version_from_flow: false,
                fields_set: Vec::new(),
            },
            raw_triggers: Vec::new(),
            frozen: Vec::new(),
        }
    }

    /// Records that `field` was given (an update sends it).
    pub fn mark_set(&mut self, field: &'static str) {
        if !self.fields_set.contains(&field) {
            self.fields_set.push(field);
        }
    }

    /// Whether `field` was given.
    pub fn is_set(&self, field: &str) -> bool {
        self.fields_set.contains(&field)
    }

    /// `"{flow_name}/{name}"` (`"None/…"` without a flow name, as in Prefect).
    pub fn full_name(&self) -> String {
        format!(
            "{}/{}",
            self.flow_name.as_deref().unwrap_or("None"),
            self.name
        )
    }

    /// Prefect's `RunnerDeployment.from_entrypoint`: builds the schedules (errors first), the
    /// concurrency options, then loads the flow statically from `entrypoint` under `root` and
    /// takes its name, description, version and parameter schema. `path` is the process's
    /// working directory, as Prefect records it.
    pub fn from_entrypoint(
        entrypoint: &str,
        name: &str,
        root: &Path,
        options: FromEntrypointOptions,
    ) -> Result<RunnerDeployment, DeploymentError> {
        Self::from_entrypoint_cached(entrypoint, name, root, options, &mut FlowCache::new())
    }

    /// [`from_entrypoint`](Self::from_entrypoint), reading each flow once per `cache`: the
    /// deployments of a flow built through the same cache share its loaded name, description,
    /// version and parameter schema (one copy of the schema, not one per deployment). For
    /// many deployments of few flow files, as a deployment file or a prefect.yaml project has;
    /// a cache should not outlive the run that built it (an edit of the file in between is
    /// not seen).
    pub fn from_entrypoint_cached(
        entrypoint: &str,
        name: &str,
        root: &Path,
        options: FromEntrypointOptions,
        cache: &mut FlowCache,
    ) -> Result<RunnerDeployment, DeploymentError> {
        let (schedules, concurrency) = options.schedules_and_concurrency()?;
        let key = (root.to_path_buf(), entrypoint.to_owned());
        let facts = match cache.loaded.get(&key) {
            Some(facts) => facts.clone(),
            None => {
                let facts = FlowFacts::from(load_flow_from_entrypoint(entrypoint, root)?.flow);
                cache.loaded.insert(key, facts.clone());
                facts
            }
        };
        let mut d = Self::from_parts(facts, entrypoint, name, &options, schedules, concurrency)?;
        d.path = Some(
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| ".".into()),
        );
        Ok(d)
    }

    /// Prefect's `RunnerDeployment.from_flow`: a deployment of `flow` — a Python flow loaded
    /// with [`load_flow_from_entrypoint`], or a Rust [`Flow`] descriptor with its
    /// [`Flow::with_entrypoint`] set (where workers find the code). The flow name, version (then
    /// replaceable by version inference, as Prefect's is) and description come from the flow.
    /// `path` is `"."` for a file entrypoint (`path/to/file.py:func`) and unset for a module
    /// path (`package.module.func`), as Prefect sets `_path` for its two entrypoint types.
    ///
    /// ```
    /// use prefab_core::deployment::{FromEntrypointOptions, RunnerDeployment};
    /// use prefab_core::flow::Flow;
    ///
    /// /// Nightly load.
    /// #[derive(schemars::JsonSchema)]
    /// #[allow(dead_code)]
    /// struct Params { bucket: String, retries: Option<u32> }
    ///
    /// let flow = Flow::from_parameters::<Params>("etl").with_entrypoint("flows/etl.py:etl");
    /// let d = RunnerDeployment::from_flow(&flow, "nightly", FromEntrypointOptions::default())?;
    /// assert_eq!(d.full_name(), "etl/nightly");
    /// assert_eq!(d.path.as_deref(), Some("."));
    /// assert_eq!(d.description.as_deref(), Some("Nightly load."));
    /// # Ok::<(), prefab_core::deployment::DeploymentError>(())
    /// ```
    pub fn from_flow(
        flow: &Flow,
        name: &str,
        options: FromEntrypointOptions,
    ) -> Result<RunnerDeployment, DeploymentError> {
        let (schedules, concurrency) = options.schedules_and_concurrency()?;
        let entrypoint = flow
            .entrypoint
            .clone()
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| DeploymentError::InvalidField {
                field: "entrypoint".into(),
                reason: format!(
                    "flow {:?} has no entrypoint, so no worker could run it: set it with \
                     Flow::with_entrypoint(\"path/to/file.py:function\") or \
                     (\"package.module.function\")",
                    flow.name
                ),
            })?;
        let file_path = entrypoint.contains(".py:");
        let mut d = Self::from_parts(
            FlowFacts::from(flow.clone()),
            &entrypoint,
            name,
            &options,
            schedules,
            concurrency,
        )?;
        d.path = file_path.then(|| ".".to_owned());
        Ok(d)
    }

    /// What `from_flow` and `from_entrypoint` share once the flow is known.
    fn from_parts(
        flow: FlowFacts,
        entrypoint: &str,
        name: &str,
        options: &FromEntrypointOptions,
        schedules: Vec<DeploymentSchedule>,
        concurrency: Option<(i64, Option<ConcurrencyOptions>)>,
    ) -> Result<RunnerDeployment, DeploymentError> {
        let mut b = RunnerDeployment::builder(name)
            // `flow_name or flow.name`: an empty name is the flow's, as in Prefect.
            .flow_name(
                options
                    .flow_name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(flow.name.clone()),
            )
            .schedule_list(schedules)
            .tags(options.tags.clone().unwrap_or_default())
            .parameters(options.unwrapped_parameters())
            .entrypoint(entrypoint)
            .enforce_parameter_schema(options.enforce_parameter_schema.unwrap_or(true))
            .job_variables(options.job_variables.clone().unwrap_or_default());
        b.d.description = options.description.clone();
        b.d.version = options.version.clone();
        b.d.paused = options.paused;
        b.d.concurrency_limit = concurrency.as_ref().map(|c| c.0);
        b.d.concurrency_options = concurrency.and_then(|c| c.1);
        for f in [
            "description",
            "version",
            "paused",
            "concurrency_limit",
            "concurrency_options",
        ] {
            b.d.mark_set(f);
        }
        if let Some(p) = &options.work_pool_name {
            b = b.work_pool_name(p.clone());
        }
        if let Some(q) = &options.work_queue_name {
            b = b.work_queue_name(q.clone());
        }
        for t in options.triggers.clone().unwrap_or_default() {
            b = b.trigger_json(t);
        }
        let mut d = b.build()?;
        d.parameter_openapi_schema = flow.parameter_schema;
        if d.version.as_deref().is_none_or(str::is_empty) {
            d.version = flow.version;
            d.version_from_flow = true;
        }
        if d.description.as_deref().is_none_or(str::is_empty) {
            d.description = flow.description;
        }
        d.apply_frozen(&options.frozen_keys());
        d.shrink();
        Ok(d)
    }

    /// Gives back the spare capacity of the lists built by pushing: a bulk run holds every
    /// deployment at once, and a one-schedule list keeps room for four (1.5 KB).
    fn shrink(&mut self) {
        self.tags.shrink_to_fit();
        if let Some(s) = &mut self.schedules {
            s.shrink_to_fit();
        }
        self.triggers.shrink_to_fit();
        self.fields_set.shrink_to_fit();
    }

    /// Prefect's `validate_deployment_parameters`, applied once the schema is known (Q1):
    /// a frozen value's schema property gets `readOnly: true` and `enum: [value]`.
    fn apply_frozen(&mut self, frozen: &[String]) {
        for key in frozen {
            let Some(raw) = self.parameters.get(key).cloned() else {
                continue;
            };
            if let Some(Value::Object(prop)) = Arc::make_mut(&mut self.parameter_openapi_schema)
                .properties
                .get_mut(key)
            {
                prop.insert("readOnly".into(), Value::Bool(true));
                prop.insert("enum".into(), Value::Array(vec![raw]));
            }
        }
    }

    /// What Prefect would silently ignore in this definition, as sentences for a person: a
    /// storage without a work pool (Prefect's create sends pull steps only when a pool is in
    /// effect, while its update always sends them — so the first apply drops the storage and
    /// the second records it). `work_pool_name` is `apply`'s pool argument, if any.
    /// The requests are unchanged; callers show these as warnings.
    pub fn warnings(&self, work_pool_name: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let pool = work_pool_name
            .or(self.work_pool_name.as_deref())
            .filter(|p| !p.is_empty());
        if self.storage.is_some() && pool.is_none() {
            out.push(format!(
                "{}: its storage is not sent when the deployment is created — Prefect sends \
                 pull steps on create only with a work pool (an update sends them); set \
                 `work_pool_name` so workers fetch the code",
                self.full_name()
            ));
        }
        out
    }

    /// The pull steps of the storage as a list (`None` without storage).
    pub fn pull_steps(&self) -> Result<Option<Vec<Value>>, DeploymentError> {
        let Some(storage) = &self.storage else {
            return Ok(None);
        };
        Ok(Some(match storage.to_pull_step()? {
            Value::Array(steps) => steps,
            Value::Null => Vec::new(),
            step => vec![step],
        }))
    }

    /// The `POST /deployments/` body (spec §6.3), or Prefect's `ValueError` text for the pool
    /// pre-checks. `version` is the version after inference.
    pub fn create_body(
        &self,
        flow_id: Uuid,
        work_pool_name: Option<&str>,
        image: Option<&str>,
        version: Option<&str>,
        version_info: Option<&VersionInfo>,
    ) -> Result<Value, String> {
        let pool = work_pool_name
            .filter(|p| !p.is_empty())
            .or(self.work_pool_name.as_deref().filter(|p| !p.is_empty()));
        if pool.is_none() {
            if image.is_some_and(|i| !i.is_empty()) {
                return Err(
                    "An image can only be provided when registering a deployment with a work pool."
                        .into(),
                );
            }
            if self
                .work_queue_name
                .as_deref()
                .is_some_and(|q| !q.is_empty())
            {
                return Err("A work queue can only be provided when registering a deployment with a work pool.".into());
            }
            if !self.job_variables.is_empty() {
                return Err("Job variables can only be provided when registering a deployment with a work pool.".into());
            }
        }
        let mut job_variables = self.job_variables.clone();
        if let Some(i) = image.filter(|i| !i.is_empty()) {
            job_variables.insert("image".into(), Value::String(i.to_owned()));
        }
        let mut b = Map::new();
        b.insert("name".into(), json!(self.name));
        b.insert("flow_id".into(), json!(flow_id.to_string()));
        if let Some(p) = self.paused {
            b.insert("paused".into(), json!(p));
        }
        b.insert(
            "schedules".into(),
            Value::Array(
                self.schedules
                    .iter()
                    .flatten()
                    .map(DeploymentSchedule::create_json)
                    .collect(),
            ),
        );
        b.insert("concurrency_limit".into(), json!(self.concurrency_limit));
        b.insert(
            "concurrency_options".into(),
            self.concurrency_options
                .as_ref()
                .map(ConcurrencyOptions::to_json)
                .unwrap_or(Value::Null),
        );
        b.insert(
            "enforce_parameter_schema".into(),
            json!(self.enforce_parameter_schema),
        );
        b.insert(
            "parameter_openapi_schema".into(),
            self.parameter_openapi_schema.to_json(),
        );
        b.insert("parameters".into(), Value::Object(self.parameters.clone()));
        b.insert("tags".into(), json!(self.tags));
        b.insert("labels".into(), json!({}));
        if pool.is_some() {
            let steps = self.pull_steps().map_err(|e| e.to_string())?;
            b.insert("pull_steps".into(), json!(steps.unwrap_or_default()));
        }
        b.insert("work_queue_name".into(), json!(self.work_queue_name));
        if let Some(p) = pool {
            b.insert("work_pool_name".into(), json!(p));
        }
        b.insert("storage_document_id".into(), Value::Null);
        b.insert("infrastructure_document_id".into(), Value::Null);
        // Prefect stringifies the description: a missing one is sent as "None".
        b.insert(
            "description".into(),
            json!(self.description.as_deref().unwrap_or("None")),
        );
        let path = if pool.is_some() && self.storage.is_some() {
            None
        } else {
            self.path.clone()
        };
        b.insert("path".into(), json!(path));
        b.insert("entrypoint".into(), json!(self.entrypoint));
        b.insert("job_variables".into(), Value::Object(job_variables));
        b.insert("version".into(), json!(version));
        if let Some(info) = version_info {
            b.insert("version_info".into(), info.to_json());
        }
        Ok(Value::Object(b))
    }

    /// The `PATCH /deployments/{id}` body (spec §6.4): the fields that were set, plus
    /// `version_info`, `parameter_openapi_schema` and `pull_steps` (`null` without storage).
    /// `version` is the version after inference.
    pub fn update_body(
        &self,
        version: Option<&str>,
        version_info: Option<&VersionInfo>,
    ) -> Result<Value, DeploymentError> {
        let mut b = Map::new();
        for &field in UPDATE_FIELDS {
            if field == "version" {
                if self.is_set("version") || version != self.version.as_deref() {
                    b.insert("version".into(), json!(version));
                }
                if let Some(info) = version_info {
                    b.insert("version_info".into(), info.to_json());
                }
                continue;
            }
            let set = match field {
                "work_pool_name" => self.is_set(field) || self.work_pool_name.is_some(),
                "work_queue_name" => self.is_set(field) || self.work_queue_name.is_some(),
                _ => self.is_set(field),
            };
            if !set {
                continue;
            }
            let value = match field {
                "description" => json!(self.description),
                "parameters" => Value::Object(self.parameters.clone()),
                "paused" => json!(self.paused),
                "schedules" => match &self.schedules {
                    None => Value::Null,
                    Some(list) => {
                        Value::Array(list.iter().map(DeploymentSchedule::update_json).collect())
                    }
                },
                "concurrency_limit" => json!(self.concurrency_limit),
                "concurrency_options" => self
                    .concurrency_options
                    .as_ref()
                    .map(ConcurrencyOptions::to_json)
                    .unwrap_or(Value::Null),
                "tags" => json!(self.tags),
                "work_queue_name" => json!(self.work_queue_name),
                "work_pool_name" => json!(self.work_pool_name),
                "job_variables" => Value::Object(self.job_variables.clone()),
                "entrypoint" => json!(self.entrypoint),
                "enforce_parameter_schema" => json!(self.enforce_parameter_schema),
                _ => continue,
            };
            b.insert(field.into(), value);
        }
        b.insert(
            "parameter_openapi_schema".into(),
            self.parameter_openapi_schema.to_json(),
        );
        b.insert("pull_steps".into(), json!(self.pull_steps()?));
        Ok(Value::Object(b))
    }

    /// The automation bodies for the triggers, on deployment `id`.
    pub fn automation_bodies(&self, deployment_id: Uuid) -> Vec<Value> {
        self.triggers
            .iter()
            .map(|t| t.automation_json(deployment_id))
            .collect()
    }
}

/// Builds a [`RunnerDeployment`] the way Prefect's constructor validates one.
#[derive(Debug)]
#[must_use]
pub struct RunnerDeploymentBuilder {
    d: RunnerDeployment,
    raw_triggers: Vec<Value>,
    frozen: Vec<String>,
}

impl RunnerDeploymentBuilder {
    fn set(mut self, field: &'static str, f: impl FnOnce(&mut RunnerDeployment)) -> Self {
        f(&mut self.d);
        self.d.mark_set(field);
        self
    }

    /// The flow's name.
    pub fn flow_name(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("flow_name", |d| d.flow_name = Some(v))
    }
    /// The description.
    pub fn description(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("description", |d| d.description = Some(v))
    }
    /// The version.
    pub fn version(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("version", |d| d.version = Some(v))
    }
    /// The version type (`prefect:simple`, `vcs:git`, …).
    pub fn version_type(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("version_type", |d| d.version_type = Some(v))
    }
    /// Tags (stringified; blank ones dropped).
    pub fn tags<I, T>(self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Value>,
    {
        let tags = clean_tags(tags);
        self.set("tags", |d| d.tags = tags)
    }
    /// Schedules from the shorthands / flexible list (one kind only).
    pub fn schedules(self, args: ScheduleArgs) -> Result<Self, DeploymentError> {
        let list = args.build()?;
        Ok(self.schedule_list(list))
    }
    /// Already-built schedules.
    pub fn schedule_list(self, list: Vec<DeploymentSchedule>) -> Self {
        self.set("schedules", |d| d.schedules = Some(list))
    }
    /// The concurrency limit (number or config).
    pub fn concurrency_limit(self, c: ConcurrencyLimit) -> Result<Self, DeploymentError> {
        let (limit, options) = c.extract()?;
        Ok(self
            .set("concurrency_limit", |d| d.concurrency_limit = Some(limit))
            .set("concurrency_options", |d| d.concurrency_options = options))
    }
    /// Paused (`None` → `false`, Prefect's `reconcile_paused`).
    pub fn paused(self, v: Option<bool>) -> Self {
        self.set("paused", |d| d.paused = v)
    }
    /// Default parameters (JSON values; saved blocks as [`block_reference`]).
    pub fn parameters(self, p: Map<String, Value>) -> Self {
        self.set("parameters", |d| d.parameters = p)
    }
    /// A frozen parameter: the value is fixed, and the schema marks it read-only.
    pub fn frozen_parameter(mut self, key: impl Into<String>, value: Value) -> Self {
        let key = key.into();
        self.d.parameters.insert(key.clone(), value);
        self.d.mark_set("parameters");
        self.frozen.push(key);
        self
    }
    /// The entrypoint.
    pub fn entrypoint(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("entrypoint", |d| d.entrypoint = Some(v))
    }
    /// A trigger in Prefect's JSON (validated by [`build`](Self::build)).
    pub fn trigger_json(mut self, t: Value) -> Self {
        self.raw_triggers.push(t);
        self.d.mark_set("triggers");
        self
    }
    /// Whether the server enforces the parameter schema.
    pub fn enforce_parameter_schema(self, v: bool) -> Self {
        self.set("enforce_parameter_schema", |d| {
            d.enforce_parameter_schema = v
        })
    }
    /// The storage.
    pub fn storage(self, s: Storage) -> Self {
        self.set("storage", |d| d.storage = Some(Box::new(s)))
    }
    /// The work pool.
    pub fn work_pool_name(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("work_pool_name", |d| d.work_pool_name = Some(v))
    }
    /// The work queue.
    pub fn work_queue_name(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.set("work_queue_name", |d| d.work_queue_name = Some(v))
    }
    /// Job variables.
    pub fn job_variables(self, v: Map<String, Value>) -> Self {
        self.set("job_variables", |d| d.job_variables = v)
    }
    /// SLAs (Prefect Cloud); an empty list removes all.
    pub fn slas(mut self, slas: Vec<Value>) -> Self {
        self.d.slas = Some(slas);
        self
    }
    /// The parameter schema.
    pub fn parameter_schema(mut self, s: ParameterSchema) -> Self {
        self.d.parameter_openapi_schema = Arc::new(s);
        self
    }
    /// The deployment `path`.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.d.path = Some(p.into());
        self
    }

    /// Runs the validators (spec §2): name stem rule, `paused` reconciliation, block
    /// references, trigger parsing and automation names, frozen parameters.
    pub fn build(self) -> Result<RunnerDeployment, DeploymentError> {
        let RunnerDeploymentBuilder {
            mut d,
            raw_triggers,
            frozen,
        } = self;
        d.name = normalize_name(&d.name);
        if d.paused.is_none() {
            d.paused = Some(false);
        }
        d.mark_set("paused");
        check_block_refs(&Value::Object(d.parameters.clone()), "parameters")?;
        for (i, s) in d.schedules.iter().flatten().enumerate() {
            check_block_refs(
                &Value::Object(s.parameters.clone()),
                &format!("schedules[{i}].parameters"),
            )?;
        }
        for (i, raw) in raw_triggers.iter().enumerate() {
            let mut t = DeploymentTrigger::from_json(raw, i + 1)?;
            if t.name.is_none() {
                t.name = Some(format!("{}__automation_{}", d.name, i + 1));
            }
            d.triggers.push(t);
        }
        d.apply_frozen(&frozen);
        d.shrink();
        Ok(d)
    }
}

/// Flows read by [`RunnerDeployment::from_entrypoint_cached`], by (root, entrypoint). Only
/// flows that loaded are kept: an entrypoint that failed is read (and fails) again.
#[derive(Debug, Default)]
pub struct FlowCache {
    loaded: HashMap<(PathBuf, String), FlowFacts>,
}

impl FlowCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many flows the cache holds.
    pub fn len(&self) -> usize {
        self.loaded.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
    }
}

/// What a deployment takes from its flow; the schema shared.
#[derive(Debug, Clone)]
struct FlowFacts {
    name: String,
    description: Option<String>,
    version: Option<String>,
    parameter_schema: Arc<ParameterSchema>,
}

impl From<Flow> for FlowFacts {
    fn from(flow: Flow) -> Self {
        FlowFacts {
            name: flow.name,
            description: flow.description,
            version: flow.version,
            parameter_schema: Arc::new(flow.parameter_schema),
        }
    }
}

/// One copy of each distinct parameter schema: deployments of one flow hold the same schema,
/// and a bulk run keeps them all, so [`SchemaPool::share`] points each deployment at the pool's
/// copy (the deployment's own is dropped). Equal content only: a schema changed by frozen
/// parameters stays its own.
#[derive(Debug, Default)]
pub struct SchemaPool {
    distinct: Vec<Arc<ParameterSchema>>,
}

impl SchemaPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `d` share the pool's copy of its schema (adding it when new).
    pub fn share(&mut self, d: &mut RunnerDeployment) {
        let own = &d.parameter_openapi_schema;
        match self
            .distinct
            .iter()
            .find(|s| Arc::ptr_eq(s, own) || ***s == **own)
        {
            Some(shared) => d.parameter_openapi_schema = Arc::clone(shared),
            None => self.distinct.push(Arc::clone(own)),
        }
    }

    /// How many distinct schemas the pool holds.
    pub fn len(&self) -> usize {
        self.distinct.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.distinct.is_empty()
    }
}

#[cfg(test)]
mod tests;
