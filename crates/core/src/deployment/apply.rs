//! `apply`: the exact request sequence of Prefect 3.9.1's `RunnerDeployment.apply` (spec §6).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use http::Method;
use prefab_client::request::{self, ApiRequest, Safety};
use prefab_client::{ApiResponse, ClientError, PrefectClient};
use serde_json::{Value, json};
use uuid::Uuid;

use super::RunnerDeployment;
use super::automations::{self, Wanted};
use super::bulk::FlowIdCache;
use super::error::{ApplyStep, DeploymentApplyError, DeploymentError, Written};
use super::schedules::schedule_from_apply_arg;
use super::validate::{Endpoint, Verdict, server_verdict};
use crate::version::{VersionInfo, get_inferred_version_info, process_env};

/// `apply()`'s arguments.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// The work pool (overrides the deployment's).
    pub work_pool_name: Option<String>,
    /// The image, written into `job_variables.image`.
    pub image: Option<String>,
    /// Schedules replacing the deployment's: `DeploymentScheduleCreate` (create) /
    /// `DeploymentScheduleUpdate` (update) dicts.
    pub schedules: Vec<Value>,
    /// Version info to send; `None` = infer it (CI variables, then git) as Prefect does.
    pub version_info: Option<VersionInfo>,
    /// Where version inference looks for a git repository (default: the process's working
    /// directory).
    pub inference_dir: Option<PathBuf>,
    /// The environment version inference reads (default: the process's).
    pub env: Option<HashMap<String, String>>,
    /// Skip the local parameter check (prefab's addition, on by default; it only refuses
    /// what the server would refuse, before any request).
    pub skip_parameter_validation: bool,
}

impl ApplyOptions {
    /// `schedules` read as `apply(schedules=[...])` reads them; `None` when none were given
    /// (the deployment's own schedules stay).
    pub(crate) fn parsed_schedules(
        &self,
    ) -> Result<Option<Vec<super::DeploymentSchedule>>, DeploymentError> {
        if self.schedules.is_empty() {
            return Ok(None);
        }
        self.schedules
            .iter()
            .map(schedule_from_apply_arg)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Sets the work pool.
    pub fn work_pool_name(mut self, v: impl Into<String>) -> Self {
        self.work_pool_name = Some(v.into());
        self
    }
    /// Sets the image.
    pub fn image(mut self, v: impl Into<String>) -> Self {
        self.image = Some(v.into());
        self
    }
    /// Sets the version info.
    pub fn version_info(mut self, v: VersionInfo) -> Self {
        self.version_info = Some(v);
        self
    }
    /// Sets the directory version inference looks at.
    pub fn inference_dir(mut self, v: impl Into<PathBuf>) -> Self {
        self.inference_dir = Some(v.into());
        self
    }
    /// Sets the environment version inference reads.
    pub fn env(mut self, v: HashMap<String, String>) -> Self {
        self.env = Some(v);
        self
    }
    /// Skips the local parameter check: the server alone decides.
    pub fn skip_parameter_validation(mut self, skip: bool) -> Self {
        self.skip_parameter_validation = skip;
        self
    }
}

pub(crate) fn raw(
    method: Method,
    path: &str,
    body: &Value,
    safety: Safety,
    subject: &'static str,
) -> ApiRequest {
    ApiRequest {
        method,
        path: path.to_owned(),
        body: Some(serde_json::to_vec(body).unwrap_or_default()),
        safety,
        subject,
    }
}

/// The `id` of the object in an answer. An answer without one (HTML, broken JSON, another
/// shape) is the server's fault: a request error naming the URL, status and body, not a
/// local check.
fn response_id(
    resp: &ApiResponse,
    step: ApplyStep,
    written: &Written,
) -> Result<Uuid, DeploymentApplyError> {
    let id = match resp.json::<Value>() {
        Ok(v) => v
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| resp.unexpected("JSON without the object's `id` (a UUID)")),
        Err(e) => Err(e),
    };
    id.map_err(|e| DeploymentApplyError::request(step, e, written))
}

/// Applies `deployment` (Prefect's `RunnerDeployment.apply`):
///
/// 1. version info (given, or inferred; may replace a flow-derived version by the short SHA);
/// 2. `GET /deployments/name/{flow}/{name}`;
/// 3. 404 → pool pre-checks, `POST /flows/`, `POST /deployments/`; found → `PATCH
///    /deployments/{id}` (only the fields that were set);
/// 4. `DELETE /automations/owned-by/prefect.deployment.{id}` then `POST /automations/` per
///    trigger; then, for a deployment with triggers, `GET /automations/related-to/…` to make
///    sure each trigger has exactly one automation — duplicates (the smallest id stays) are
///    deleted, a missing one is created — which holds however many applies of the same
///    deployment run at the same time, in any order (D32);
/// 5. SLAs, when given (Prefect Cloud only).
///
/// Returns the deployment id. A failure says which step failed and what was already written.
pub async fn apply(
    client: &PrefectClient,
    deployment: &RunnerDeployment,
    options: &ApplyOptions,
) -> Result<Uuid, DeploymentApplyError> {
    apply_with(client, deployment, options, &FlowIdCache::new()).await
}

/// [`apply`], sharing flow ids with other applies of the same run: a flow already upserted
/// through `flow_ids` (by this or a concurrent apply) is not upserted again. With a fresh
/// cache the requests are exactly [`apply`]'s; [`apply_all`](super::apply_all) shares one
/// cache across a bulk run, so each flow name costs one `POST /flows/`.
pub async fn apply_with(
    client: &PrefectClient,
    deployment: &RunnerDeployment,
    options: &ApplyOptions,
    flow_ids: &FlowIdCache,
) -> Result<Uuid, DeploymentApplyError> {
    let mut d = deployment.clone();
    let mut written = Written::default();

    // 0. Parameters the server would refuse, new or existing: refused before any request.
    let report = (!options.skip_parameter_validation).then(|| d.check_parameters());
    if let Some(report) = &report {
        if let (Verdict::Refused(v), Verdict::Refused(_)) = (&report.create, &report.update)
            && d.is_set("enforce_parameter_schema")
        {
            return Err(DeploymentApplyError::local(
                d.invalid_parameters(v.clone()).to_string(),
                &written,
            ));
        }
        for w in &report.schedule_warnings {
            tracing::warn!(
                deployment = %d.full_name(),
                "schedule parameter the flow's schema refuses (the server stores it anyway; runs scheduled with it may fail): {w}"
            );
        }
    }

    // 1. Version info.
    let version_info = resolve_version(&mut d, options, Some(flow_ids.versions()))
        .map_err(|m| DeploymentApplyError::local(m, &written))?;

    // 2. Lookup: asked of the server, unless a bulk run already read this deployment (its
    // `pre_read`, D24, or the plan of `skip_unchanged`, D25; each such answer is used once).
    let flow_name = d.flow_name.clone().unwrap_or_else(|| "None".into());
    let known = flow_ids.take_existing(&flow_name, &d.name);
    let prefetched = known.is_some();
    let mut existing_body = None;
    let existing = match known {
        Some(Some(found)) => {
            existing_body = Some(found.body);
            Some(found.id)
        }
        Some(None) => None,
        None => match client
            .send(&request::read_deployment_by_name(&flow_name, &d.name))
            .await
        {
            Ok(resp) => {
                let id = response_id(&resp, ApplyStep::ReadExisting, &written)?;
                existing_body = serde_json::from_slice::<Value>(&resp.body).ok();
                Some(id)
            }
            Err(ClientError::NotFound { .. }) => None,
            Err(e) => {
                return Err(DeploymentApplyError::request(
                    ApplyStep::ReadExisting,
                    e,
                    &written,
                ));
            }
        },
    };

    // The endpoint is known now: its verdict decides, still before anything is written.
    if report.is_some() {
        check_parameters_for(&d, existing_body.as_ref(), &written)?;
    }

    let id = match existing {
        None => {
            if let Some(list) = options
                .parsed_schedules()
                .map_err(|e| DeploymentApplyError::local(e.to_string(), &written))?
            {
                d.schedules = Some(list);
            }
            // Pre-checks before anything is written.
            d.create_body(
                Uuid::nil(),
                options.work_pool_name.as_deref(),
                options.image.as_deref(),
                d.version.as_deref(),
                Some(&version_info),
            )
            .map_err(|m| DeploymentApplyError::local(m, &written))?;
            let flow_id = flow_ids
                .get_or_upsert(&flow_name, || async {
                    let flow_body = json!({"name": flow_name, "tags": [], "labels": {}});
                    let resp = client
                        .send(&raw(
                            Method::POST,
                            "/flows/",
                            &flow_body,
                            Safety::Upsert,
                            "flow",
                        ))
                        .await
                        .map_err(|e| {
                            DeploymentApplyError::request(ApplyStep::CreateFlow, e, &written)
                        })?;
                    response_id(&resp, ApplyStep::CreateFlow, &written)
                })
                .await?;
            written.flow_id = Some(flow_id);
            let body = d
                .create_body(
                    flow_id,
                    options.work_pool_name.as_deref(),
                    options.image.as_deref(),
                    d.version.as_deref(),
                    Some(&version_info),
                )
                .map_err(|m| DeploymentApplyError::local(m, &written))?;
            let resp = client
                .send(&raw(
                    Method::POST,
                    "/deployments/",
                    &body,
                    Safety::Upsert,
                    "deployment",
                ))
                .await
                .map_err(|e| {
                    DeploymentApplyError::request(ApplyStep::CreateDeployment, e, &written)
                })?;
            let id = response_id(&resp, ApplyStep::CreateDeployment, &written)?;
            written.deployment_id = Some(id);
            id
        }
        Some(id) => {
            let body = update_body_for(&mut d, options, &version_info)
                .map_err(|e| DeploymentApplyError::local(e.to_string(), &written))?;
            let patched = client
                .send(&raw(
                    Method::PATCH,
                    &format!("/deployments/{id}"),
                    &body,
                    Safety::Idempotent,
                    "deployment",
                ))
                .await;
            match patched {
                Ok(_) => {}
                // Deleted since the bulk run read it: start again, asking the server this time
                // (nothing was written).
                Err(ClientError::NotFound { .. }) if prefetched => {
                    return Box::pin(apply_with(client, deployment, options, flow_ids)).await;
                }
                Err(e) => {
                    return Err(DeploymentApplyError::request(
                        ApplyStep::UpdateDeployment,
                        e,
                        &written,
                    ));
                }
            }
            written.deployment_id = Some(id);
            id
        }
    };

    // 4. Triggers → automations: Prefect's delete of what the deployment owns, then one create
    // per trigger, then `converge` — one automation per trigger however many applies of this
    // deployment run at once, and whatever a create without an answer did (D32).
    let bodies = d.automation_bodies(id);
    // A deployment created a moment ago owns nothing: a bulk run skips the delete (D7). (If a
    // concurrent apply created it first, `converge` removes the duplicates.)
    let skip_delete = existing.is_none() && flow_ids.is_bulk();
    if !skip_delete {
        match client
            .send(&request::delete_automations_owned_by(&format!(
                "prefect.deployment.{id}"
            )))
            .await
        {
            Ok(_) => written.automations_deleted = true,
            // No automations on this server: nothing to create either.
            Err(ClientError::NotFound { .. }) => {
                return finish_slas(client, &d, id, written).await;
            }
            Err(e) => {
                return Err(DeploymentApplyError::request(
                    ApplyStep::DeleteAutomations,
                    e,
                    &written,
                ));
            }
        }
    }
    if bodies.is_empty() {
        return finish_slas(client, &d, id, written).await;
    }
    let mut wanted: Vec<Wanted> = bodies.into_iter().map(Wanted::new).collect();
    let full_name = d.full_name();
    for w in &mut wanted {
        // The delete was skipped and the server has no automations API: as Prefect, nothing
        // to create.
        if !automations::create(client, &full_name, w, &mut written, skip_delete).await? {
            return finish_slas(client, &d, id, written).await;
        }
    }
    automations::converge(client, &full_name, id, &mut wanted, &mut written).await?;
    finish_slas(client, &d, id, written).await
}

/// The server's verdict on the request about to be sent: create (`existing` is `None`) or
/// update, where the server checks the parameters it will hold (the existing ones when the
/// update does not send any) if enforcement (sent, or the existing setting) is on.
fn check_parameters_for(
    d: &RunnerDeployment,
    existing: Option<&Value>,
    written: &Written,
) -> Result<(), DeploymentApplyError> {
    let schema = d.parameter_openapi_schema.to_json();
    let verdict = match existing {
        None if d.enforce_parameter_schema => {
            server_verdict(&schema, &d.parameters, Endpoint::Create)
        }
        None => Verdict::Accepted,
        Some(body) => {
            let enforce = if d.is_set("enforce_parameter_schema") {
                d.enforce_parameter_schema
            } else {
                body.get("enforce_parameter_schema")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            let parameters = if d.is_set("parameters") {
                Some(d.parameters.clone())
            } else {
                body.get("parameters").and_then(Value::as_object).cloned()
            };
            match parameters {
                Some(p) if enforce => server_verdict(&schema, &p, Endpoint::Update),
                _ => Verdict::Accepted,
            }
        }
    };
    match verdict {
        Verdict::Refused(v) => Err(DeploymentApplyError::local(
            d.invalid_parameters(v).to_string(),
            written,
        )),
        _ => Ok(()),
    }
}

/// Inferred version info by `(version_type, directory)` for one run of many deployments: the
/// process environment and the repository do not change meanwhile, and reading git runs the
/// `git` command (four processes). An explicit [`ApplyOptions::env`] is not cached.
#[derive(Debug, Default)]
pub(crate) struct VersionCache {
    found: Mutex<HashMap<VersionKey, Option<VersionInfo>>>,
}

/// `(version_type, directory, explicit environment)`: an explicit environment
/// ([`ApplyOptions::env`]) is part of the key, sorted; `None` is the process's.
type VersionKey = (Option<String>, PathBuf, Option<Vec<(String, String)>>);

impl VersionCache {
    /// The cached answer for `key`, or `infer`'s (cached when it succeeded).
    fn get_or_infer<E>(
        &self,
        key: VersionKey,
        infer: impl FnOnce() -> Result<Option<VersionInfo>, E>,
    ) -> Result<Option<VersionInfo>, E> {
        let mut found = self
            .found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hit) = found.get(&key) {
            return Ok(hit.clone());
        }
        let info = infer()?;
        found.insert(key, info.clone());
        Ok(info)
    }
}

/// Step 1 of [`apply`]: the version info to send (given, or inferred from CI variables and
/// git), replacing an empty or flow-derived `version` by the inferred one as Prefect does.
pub(crate) fn resolve_version(
    d: &mut RunnerDeployment,
    options: &ApplyOptions,
    cache: Option<&VersionCache>,
) -> Result<VersionInfo, String> {
    if let Some(v) = &options.version_info {
        return Ok(v.clone());
    }
    let dir = options
        .inference_dir
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let version_type = d.version_type.as_deref();
    let infer = || match &options.env {
        Some(env) => get_inferred_version_info(version_type, &|k: &str| env.get(k).cloned(), &dir),
        None => get_inferred_version_info(version_type, &process_env, &dir),
    };
    let inferred = match cache {
        Some(cache) => {
            let env = options.env.as_ref().map(|env| {
                let mut pairs: Vec<(String, String)> =
                    env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                pairs.sort_unstable();
                pairs
            });
            cache.get_or_infer((d.version_type.clone(), dir.clone(), env), infer)
        }
        None => infer(),
    }
    .map_err(|e| e.to_string())?;
    if let Some(info) = &inferred
        && (d.version.as_deref().is_none_or(str::is_empty) || d.version_from_flow)
    {
        d.version = Some(info.version.clone());
        d.mark_set("version");
    }
    Ok(VersionInfo::deployment(
        inferred,
        d.version.as_deref(),
        false,
    ))
}

/// The update path of [`apply`]: `apply()`'s image, pool and schedules arguments folded into
/// the deployment, then the `PATCH` body. [`plan`](super::plan) compares the same body.
pub(crate) fn update_body_for(
    d: &mut RunnerDeployment,
    options: &ApplyOptions,
    version_info: &VersionInfo,
) -> Result<Value, DeploymentError> {
    if let Some(image) = options.image.as_deref().filter(|i| !i.is_empty()) {
        d.job_variables.insert("image".into(), json!(image));
        d.mark_set("job_variables");
    }
    if let Some(pool) = options.work_pool_name.as_deref().filter(|p| !p.is_empty()) {
        d.work_pool_name = Some(pool.to_owned());
        d.mark_set("work_pool_name");
    }
    if let Some(list) = options.parsed_schedules()? {
        d.schedules = Some(list);
        d.mark_set("schedules");
    }
    d.update_body(d.version.as_deref(), Some(version_info))
}

async fn finish_slas(
    client: &PrefectClient,
    d: &RunnerDeployment,
    id: Uuid,
    written: Written,
) -> Result<Uuid, DeploymentApplyError> {
    let Some(slas) = &d.slas else {
        return Ok(id);
    };
    if !client.config().is_cloud() {
        return Err(DeploymentApplyError {
            step: ApplyStep::ApplySlas,
            message: "SLA configuration is currently only supported on Prefect Cloud.".into(),
            written,
            source: None,
        });
    }
    let owner = format!("prefect.deployment.{id}");
    let bodies: Vec<Value> = slas
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if let Value::Object(m) = &mut s {
                m.insert("owner_resource".into(), json!(owner));
            }
            s
        })
        .collect();
    client
        .apply_deployment_slas(id, &bodies)
        .await
        .map_err(|e| DeploymentApplyError::request(ApplyStep::ApplySlas, e, &written))?;
    Ok(id)
}
