//! The deployment-file form: `from_entrypoint`'s arguments plus `storage` and `apply`
//! (JSON, or anything serde reads: YAML, TOML).

use std::path::Path;

use prefab_storage::describe::StorageDefinition;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::apply::ApplyOptions;
use super::error::DeploymentError;
use super::schedules::{DeploymentSchedule, ScheduleArgs};
use super::{ConcurrencyLimit, ConcurrencyOptions};
use super::{FlowCache, RunnerDeployment};
use crate::yaml::join_path;

/// A concurrency limit and its options, as the constructors take them apart.
pub(crate) type LimitAndOptions = (i64, Option<ConcurrencyOptions>);

/// The marker of a frozen parameter value in files: `{"$freeze": value}`.
pub const FREEZE_MARKER: &str = "$freeze";

/// `RunnerDeployment.from_entrypoint`'s optional arguments. A key that is absent or `null`
/// means "argument not passed".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromEntrypointOptions {
    /// The flow name (default: the flow's).
    #[serde(default)]
    pub flow_name: Option<String>,
    /// Seconds, or a list of them.
    #[serde(default)]
    pub interval: Option<Value>,
    /// A cron string or a list of them.
    #[serde(default)]
    pub cron: Option<Value>,
    /// An rrule string or a list of them.
    #[serde(default)]
    pub rrule: Option<Value>,
    /// Flat `Cron`/`Interval`/`RRule` arguments or `{"schedule", "active"}` wrappers.
    #[serde(default)]
    pub schedules: Option<Vec<Value>>,
    /// Paused (`null` → `false`).
    #[serde(default)]
    pub paused: Option<bool>,
    /// Default parameters; `{"$freeze": v}` freezes a value.
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// The description (default: the flow's).
    #[serde(default)]
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<Value>>,
    /// The version (default: the flow's).
    #[serde(default)]
    pub version: Option<String>,
    /// Whether the server enforces the parameter schema (default `true`).
    #[serde(default)]
    pub enforce_parameter_schema: Option<bool>,
    /// A number or `{limit, collision_strategy, grace_period_seconds}`.
    #[serde(default)]
    pub concurrency_limit: Option<Value>,
    /// Prefect's deployment-trigger JSON.
    #[serde(default)]
    pub triggers: Option<Vec<Value>>,
    /// The work pool.
    #[serde(default)]
    pub work_pool_name: Option<String>,
    /// The work queue.
    #[serde(default)]
    pub work_queue_name: Option<String>,
    /// Job variables.
    #[serde(default)]
    pub job_variables: Option<Map<String, Value>>,
}

impl FromEntrypointOptions {
    /// The schedules and the concurrency limit (with its options), built and checked — what
    /// every constructor does first, so their errors come before any flow load or pull.
    pub fn schedules_and_concurrency(
        &self,
    ) -> Result<(Vec<DeploymentSchedule>, Option<LimitAndOptions>), DeploymentError> {
        self.check_tags()?;
        let schedules = self.schedule_args().build()?;
        let concurrency = self
            .concurrency_limit
            .as_ref()
            .map(ConcurrencyLimit::from_json)
            .transpose()?
            .map(|c| c.extract())
            .transpose()?;
        Ok((schedules, concurrency))
    }

    /// Tags must be strings. Prefect applies Python's `str()` to anything else (`1` → `"1"`,
    /// `true` → `"True"`, `null` → `"None"`, a mapping → its Python repr); a value that is not
    /// a string in a file is nearly always a mistake, so prefab refuses it and says what Prefect
    /// would have stored (docs/deviations.md D26).
    fn check_tags(&self) -> Result<(), DeploymentError> {
        for (i, tag) in self.tags.iter().flatten().enumerate() {
            let python = match tag {
                Value::String(_) => continue,
                Value::Null => "\"None\"".to_owned(),
                Value::Bool(true) => "\"True\"".to_owned(),
                Value::Bool(false) => "\"False\"".to_owned(),
                Value::Number(n) => format!("\"{n}\""),
                Value::Array(_) | Value::Object(_) => "its Python repr".to_owned(),
            };
            return Err(DeploymentError::InvalidField {
                field: format!("tags[{i}]"),
                reason: format!(
                    "`{tag}` is not a string; tags are strings (Prefect would store {python}): \
                     quote the tag you mean"
                ),
            });
        }
        Ok(())
    }

    /// The schedule arguments.
    pub fn schedule_args(&self) -> ScheduleArgs {
        ScheduleArgs {
            interval: self.interval.clone(),
            cron: self.cron.clone(),
            rrule: self.rrule.clone(),
            schedules: self.schedules.clone(),
        }
    }

    /// The parameters with `{"$freeze": v}` unwrapped to `v`.
    pub fn unwrapped_parameters(&self) -> Map<String, Value> {
        self.parameters
            .iter()
            .flatten()
            .map(|(k, v)| {
                (
                    k.clone(),
                    frozen_value(v).cloned().unwrap_or_else(|| v.clone()),
                )
            })
            .collect()
    }

    /// The frozen parameter names.
    pub fn frozen_keys(&self) -> Vec<String> {
        self.parameters
            .iter()
            .flatten()
            .filter(|(_, v)| frozen_value(v).is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }
}

fn frozen_value(v: &Value) -> Option<&Value> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(FREEZE_MARKER),
        _ => None,
    }
}

/// `apply()`'s own arguments in a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplySpec {
    /// The work pool to use.
    #[serde(default)]
    pub work_pool_name: Option<String>,
    /// The image (written into `job_variables.image`).
    #[serde(default)]
    pub image: Option<String>,
    /// Schedules replacing the deployment's (`DeploymentScheduleCreate/Update` dicts).
    #[serde(default)]
    pub schedules: Option<Vec<Value>>,
}

/// One deployment of a deployment file.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentFile {
    /// The flow entrypoint, relative to the file's directory.
    pub entrypoint: String,
    /// The deployment name.
    pub name: String,
    /// The other `from_entrypoint` arguments.
    pub options: FromEntrypointOptions,
    /// A storage definition (the `storage.jsonl` input form).
    pub storage: Option<Value>,
    /// `apply()`'s arguments.
    pub apply: ApplySpec,
}

impl DeploymentFile {
    /// Reads one deployment object (keys: `entrypoint`, `name`, the `from_entrypoint`
    /// arguments, `storage`, `apply`).
    pub fn from_json(value: &Value) -> Result<Self, DeploymentError> {
        let Value::Object(map) = value else {
            return Err(DeploymentError::InvalidField {
                field: "<deployment>".into(),
                reason: format!("a deployment must be an object, got {value}"),
            });
        };
        let mut map = map.clone();
        let take_str =
            |map: &mut Map<String, Value>, key: &str| -> Result<String, DeploymentError> {
                match map.remove(key) {
                    Some(Value::String(s)) => Ok(s),
                    other => Err(DeploymentError::InvalidField {
                        field: key.into(),
                        reason: format!(
                            "required, as a string (got {})",
                            other.unwrap_or(Value::Null)
                        ),
                    }),
                }
            };
        let entrypoint = take_str(&mut map, "entrypoint")?;
        let name = take_str(&mut map, "name")?;
        let storage = map.remove("storage").filter(|s| !s.is_null());
        let apply = match map.remove("apply") {
            None | Some(Value::Null) => ApplySpec::default(),
            Some(v) => {
                serde_path_to_error::deserialize(v).map_err(|e| DeploymentError::InvalidField {
                    field: join_path("apply", &e.path().to_string()),
                    reason: e.into_inner().to_string(),
                })?
            }
        };
        let options: FromEntrypointOptions = serde_path_to_error::deserialize(Value::Object(map))
            .map_err(|e| {
            let path = e.path().to_string();
            let reason = e.into_inner().to_string();
            // An unknown key is reported at the object; name it as the field.
            let field = match reason.strip_prefix("unknown field `") {
                Some(rest) if path == "." => rest.split('`').next().unwrap_or_default().to_owned(),
                _ => join_path("", &path),
            };
            DeploymentError::InvalidField { field, reason }
        })?;
        Ok(DeploymentFile {
            entrypoint,
            name,
            options,
            storage,
            apply,
        })
    }

    /// Builds the deployment: `from_entrypoint` under `root`, then the storage (built against
    /// `root`; only its pull step is used). Parameters the server would refuse, whether the
    /// deployment is new or exists, are refused here
    /// ([`validate_parameters`](RunnerDeployment::validate_parameters)); schedule parameters
    /// the schema refuses are logged as warnings.
    pub fn build(&self, root: &Path) -> Result<RunnerDeployment, DeploymentError> {
        self.build_with(root, &mut FlowCache::new())
    }

    /// [`build`](Self::build), reading each flow once per `cache`
    /// ([`RunnerDeployment::from_entrypoint_cached`]): for the many definitions of one file.
    pub fn build_with(
        &self,
        root: &Path,
        cache: &mut FlowCache,
    ) -> Result<RunnerDeployment, DeploymentError> {
        let mut d = RunnerDeployment::from_entrypoint_cached(
            &self.entrypoint,
            &self.name,
            root,
            self.options.clone(),
            cache,
        )?;
        if let Some(s) = &self.storage {
            let storage = StorageDefinition(s.clone()).build(root, root)?;
            d.storage = Some(Box::new(storage));
        }
        for w in d.validate_parameters()? {
            tracing::warn!(
                deployment = %d.full_name(),
                "schedule parameter the flow's schema refuses (the server stores it anyway; runs scheduled with it may fail): {w}"
            );
        }
        Ok(d)
    }

    /// The apply options of this file's `apply` key.
    pub fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            work_pool_name: self.apply.work_pool_name.clone(),
            image: self.apply.image.clone(),
            schedules: self.apply.schedules.clone().unwrap_or_default(),
            ..ApplyOptions::default()
        }
    }
}
