//! The errors of building and applying a [`RunnerDeployment`](super::RunnerDeployment).

use prefab_client::ClientError;
use prefab_flows::FlowLoadError;
use uuid::Uuid;

/// Why a deployment could not be built or validated (before any request is sent).
///
/// Where Prefect 3.9.1 raises for the same input, the message is Prefect's text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    /// More than one of `interval`, `cron`, `rrule`, `schedule`, `schedules` was given.
    #[error("Only one of interval, cron, rrule, schedule, or schedules can be provided.")]
    ScheduleArgumentConflict,
    /// A schedule shorthand or schedule body was refused.
    #[error("invalid schedule {input}: {reason}")]
    InvalidSchedule {
        /// The schedule as given (JSON).
        input: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A `schedules` item that is neither a schedule, a `{"schedule", "active"}` wrapper nor
    /// the arguments of `Cron`/`Interval`/`RRule`.
    #[error(
        "Invalid schedule provided. Must be a schedule object, a dict,or a `DeploymentScheduleCreate` object (got {input})"
    )]
    UnsupportedScheduleItem {
        /// The item as given (JSON).
        input: String,
    },
    /// `concurrency_limit` / `concurrency_options` was refused.
    #[error("invalid concurrency_limit {input}: {reason}")]
    InvalidConcurrency {
        /// The value as given (JSON).
        input: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A trigger could not be read.
    #[error("invalid trigger #{position} {input}: {reason}")]
    InvalidTrigger {
        /// 1-based position in `triggers`.
        position: usize,
        /// The trigger as given (JSON).
        input: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A parameter (or schedule parameter) refers to a block that was never saved.
    #[error(
        "Block must be saved with `.save()` before it can be used as a deployment parameter. (parameter {path}: {input})"
    )]
    BlockNotSaved {
        /// Where the reference is, e.g. `parameters.creds`.
        path: String,
        /// The reference as given.
        input: String,
    },
    /// A frozen value that is not JSON (never happens for values read from JSON).
    #[error("Value must be JSON serializable (parameter {key})")]
    FrozenNotJson {
        /// The parameter.
        key: String,
    },
    /// A field of the deployment file has the wrong shape.
    #[error("invalid deployment field `{field}`: {reason}")]
    InvalidField {
        /// The field.
        field: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Parameters the Prefect server would refuse (checked locally before any request, with
    /// `enforce_parameter_schema` on; see [`check_parameters`](super::RunnerDeployment::check_parameters)).
    #[error("{}", super::validate::describe_invalid(deployment, violations))]
    InvalidParameters {
        /// The deployment, `flow/name`.
        deployment: String,
        /// Every value the schema refuses.
        violations: Vec<super::validate::ParameterViolation>,
    },
    /// The flow could not be loaded from its entrypoint.
    #[error(transparent)]
    FlowLoad(#[from] FlowLoadError),
    /// `from_storage`: the code could not be pulled.
    #[error(
        "could not pull the code from {source_name}: {reason}. Check the URL, the credentials and that the source is reachable (or deploy from the local tree, without --pull)"
    )]
    Pull {
        /// The source (URL without credentials, directory or block).
        source_name: String,
        /// What failed.
        reason: String,
    },
    /// `from_storage`: the flow could not be loaded from the pulled code.
    #[error(
        "in the code pulled from {source_name}: {error} (the entrypoint is read relative to the root of the pulled code: check its path, and the branch or prefix)"
    )]
    PulledFlowLoad {
        /// The source (URL without credentials, directory or block).
        source_name: String,
        /// The loader's error (paths are relative to the pulled tree).
        #[source]
        error: FlowLoadError,
    },
    /// The storage definition could not be built, or gives no pull step.
    #[error("storage: {0}")]
    Storage(#[from] prefab_storage::StorageError),
    /// `version_type` is not one Prefect knows.
    #[error(transparent)]
    UnknownVersionType(#[from] crate::version::UnknownVersionType),
}

impl DeploymentError {
    /// Whether the definition is at fault (exit 2 in the CLI), rather than a pull, the
    /// network or a storage server (exit 1: the definition may be fine, retrying may work).
    pub fn blames_input(&self) -> bool {
        match self {
            DeploymentError::Pull { .. } => false,
            DeploymentError::Storage(e) => e.blames_input(),
            _ => true,
        }
    }
}

/// The step of [`apply`](super::apply) that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyStep {
    /// Local checks before any request (pool rules, version type, payload building).
    Validate,
    /// `GET /deployments/name/{flow}/{deployment}`.
    ReadExisting,
    /// `POST /flows/`.
    CreateFlow,
    /// `POST /deployments/`.
    CreateDeployment,
    /// `PATCH /deployments/{id}`.
    UpdateDeployment,
    /// `DELETE /automations/owned-by/prefect.deployment.{id}`.
    DeleteAutomations,
    /// `POST /automations/` for one trigger.
    CreateAutomation,
    /// `GET /automations/related-to/prefect.deployment.{id}` and `DELETE /automations/{id}`:
    /// making sure each trigger has exactly one automation, whatever other applies of the same
    /// deployment did meanwhile.
    ConvergeAutomations,
    /// `POST /slas/apply-resource-slas/…` (Prefect Cloud).
    ApplySlas,
    /// Not started: a bulk run was stopped or found the server unavailable before this
    /// deployment's turn. Nothing was sent for it.
    NotStarted,
}

impl std::fmt::Display for ApplyStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApplyStep::Validate => "checking the deployment",
            ApplyStep::ReadExisting => "looking up the existing deployment",
            ApplyStep::CreateFlow => "registering the flow",
            ApplyStep::CreateDeployment => "creating the deployment",
            ApplyStep::UpdateDeployment => "updating the deployment",
            ApplyStep::DeleteAutomations => "removing the deployment's previous automations",
            ApplyStep::CreateAutomation => "creating an automation for a trigger",
            ApplyStep::ConvergeAutomations => "checking that each trigger has one automation",
            ApplyStep::ApplySlas => "applying SLAs",
            ApplyStep::NotStarted => "waiting for its turn",
        })
    }
}

/// What the server already holds when an apply fails part-way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The flow was registered (`POST /flows/` succeeded).
    pub flow_id: Option<Uuid>,
    /// The deployment was created or updated.
    pub deployment_id: Option<Uuid>,
    /// The deployment's previous automations were deleted.
    pub automations_deleted: bool,
    /// Automations created for triggers, in order.
    pub automation_ids: Vec<Uuid>,
}

impl Written {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = self.flow_id {
            parts.push(format!("flow {id} registered"));
        }
        if let Some(id) = self.deployment_id {
            parts.push(format!("deployment {id} written"));
        }
        if self.automations_deleted {
            parts.push("its previous automations deleted".to_owned());
        }
        if !self.automation_ids.is_empty() {
            parts.push(format!(
                "{} automation(s) created",
                self.automation_ids.len()
            ));
        }
        if parts.is_empty() {
            "nothing was written".to_owned()
        } else {
            format!("already written: {}", parts.join(", "))
        }
    }
}

/// Why [`apply`](super::apply) failed: the step, Prefect's message (the server's `detail`
/// where there is one), and what the server already holds.
#[derive(Debug, thiserror::Error)]
#[error("{message} (while {step}; {})", written.describe())]
#[non_exhaustive]
pub struct DeploymentApplyError {
    /// The failed step.
    pub step: ApplyStep,
    /// Prefect's message: for a refused create the server's `detail`, for a local check
    /// Prefect's `ValueError` text.
    pub message: String,
    /// What was written before the failure.
    pub written: Written,
    /// The client error, when the failure came from a request.
    #[source]
    pub source: Option<Box<ClientError>>,
}

impl DeploymentApplyError {
    pub(crate) fn local(message: impl Into<String>, written: &Written) -> Self {
        DeploymentApplyError {
            step: ApplyStep::Validate,
            message: message.into(),
            written: written.clone(),
            source: None,
        }
    }

    pub(crate) fn request(step: ApplyStep, err: ClientError, written: &Written) -> Self {
        DeploymentApplyError {
            step,
            message: client_detail(&err),
            written: written.clone(),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn not_attempted(reason: String) -> Self {
        DeploymentApplyError {
            step: ApplyStep::NotStarted,
            message: reason,
            written: Written::default(),
            source: None,
        }
    }

    /// Whether the deployment was not started at all (a bulk run stopped before its turn).
    pub fn is_not_attempted(&self) -> bool {
        self.step == ApplyStep::NotStarted
    }

    /// Whether the failure says the server is unavailable rather than that it refused this
    /// deployment: no connection, no answer in time, a 5xx after the retries, or an answer that
    /// is not the Prefect API's. What [`BulkOptions::circuit_breaker`](super::BulkOptions)
    /// counts.
    pub fn is_server_unavailable(&self) -> bool {
        self.source.as_deref().is_some_and(|e| {
            matches!(
                e,
                ClientError::Transport { .. }
                    | ClientError::Timeout { .. }
                    | ClientError::UnexpectedResponse { .. }
            ) || e.status().is_some_and(|s| s >= 500)
        })
    }

    /// The Python exception class Prefect raises for this failure: `ValueError` for local
    /// checks, `DeploymentApplyError` for a refused create, `PrefectHTTPStatusError` for
    /// other HTTP failures.
    pub fn python_class(&self) -> &'static str {
        match (self.step, &self.source) {
            (ApplyStep::Validate, _) => "ValueError",
            (ApplyStep::CreateDeployment, _) => "DeploymentApplyError",
            _ => "PrefectHTTPStatusError",
        }
    }
}

/// The server's detail for an HTTP error (what Prefect puts in `DeploymentApplyError`), or
/// the client's message.
fn client_detail(err: &ClientError) -> String {
    match err {
        ClientError::Conflict { detail, .. } => detail.clone(),
        ClientError::NotFound {
            detail: Some(d), ..
        } => d.clone(),
        // The server's message alone ("Invalid request received.") says nothing: each issue
        // (where in the body, what is wrong) goes with it.
        ClientError::Validation {
            message, issues, ..
        } if !issues.is_empty() => {
            let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
            format!("{message} ({})", issues.join("; "))
        }
        ClientError::Validation { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
