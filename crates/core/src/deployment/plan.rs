//! `plan`: what [`apply`](super::apply) would do to the server, without writing — per
//! deployment `Create`, `Update` with a field-level diff, or `Unchanged`.
//!
//! The local side is exactly what `apply` would `PATCH` (same version inference, same
//! `apply()` arguments folded in); the server side is `GET /deployments/name/{flow}/{name}`
//! and the automations related to the deployment. Both are normalised so that a deployment
//! applied a moment ago plans as `Unchanged` (docs/deviations.md, D9):
//!
//! * numbers compare by value (`3600` = `3600.0`), objects regardless of key order, tags as
//!   sets;
//! * schedules compare by content, not ids or order; an interval schedule given without an
//!   anchor date is anchored at "now" on every apply (as in Prefect), so its anchor is not
//!   compared; a cron schedule without a time zone matches the server's `UTC`;
//! * `concurrency_limit` is read back from `global_concurrency_limit.limit`, and
//!   `concurrency_options` keys the server fills with `null` are dropped;
//! * defaults the server fills in: `pull_steps` `null` = `[]`, a missing description
//!   (`null`) = Prefect's `"None"`, no work queue with a pool = the pool's queue;
//! * `version_info` is not compared (the deployment read does not return it);
//! * triggers compare with the automations related to the deployment, by content (the
//!   server's trigger ids and timestamps are ignored).

use futures::StreamExt as _;
use prefab_client::{ClientError, PrefectClient, request};
use prefab_schemas::schedules::parse_timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::RunnerDeployment;
use super::apply::{ApplyOptions, VersionCache, resolve_version, update_body_for};
use super::automations::canonical_automation;
use super::bulk::{BulkOptions, Existing, FlowIdCache};
use super::compare::same;
use super::schedules::DeploymentSchedule;

/// One field that differs: the server's value and the value `apply` would send, both
/// normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field's name, as in Prefect's `DeploymentUpdate` (plus `triggers`).
    pub field: String,
    /// The server's value.
    pub server: Value,
    /// The local value.
    pub local: Value,
}

/// What `apply` would do to one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanAction {
    /// The deployment does not exist: `apply` would create it.
    Create,
    /// The deployment exists and these fields differ.
    Update {
        /// The differing fields, in `DeploymentUpdate` order, then `triggers`.
        changes: Vec<FieldChange>,
    },
    /// The deployment exists and matches.
    Unchanged,
}

/// The plan of one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeploymentPlan {
    /// The flow's name.
    pub flow_name: String,
    /// The deployment's name.
    pub name: String,
    /// The deployment's id on the server, when it exists.
    pub id: Option<Uuid>,
    /// What `apply` would do.
    #[serde(flatten)]
    pub action: PlanAction,
}

impl DeploymentPlan {
    /// `flow/deployment`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.flow_name, self.name)
    }
}

/// Why a deployment could not be planned: a local check `apply` would fail on, or a request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct PlanError {
    /// What went wrong.
    pub message: String,
    /// The client error, when a request failed.
    #[source]
    pub source: Option<Box<ClientError>>,
}

impl PlanError {
    fn local(message: impl Into<String>) -> Self {
        PlanError {
            message: message.into(),
            source: None,
        }
    }
    fn request(what: &str, err: ClientError) -> Self {
        PlanError {
            message: format!("{what}: {err}"),
            source: Some(Box::new(err)),
        }
    }
}

/// Plans one deployment: reads it (and its automations) and compares with what
/// [`apply`](super::apply) would send. Sends only reads.
pub async fn plan(
    client: &PrefectClient,
    deployment: &RunnerDeployment,
    options: &ApplyOptions,
) -> Result<DeploymentPlan, PlanError> {
    plan_with(client, deployment, options, None)
        .await
        .map(|(plan, _)| plan)
}

/// [`plan`], also returning the server's read of the deployment (`None` when it does not
/// exist), which an apply that follows can reuse instead of reading again.
async fn plan_with(
    client: &PrefectClient,
    deployment: &RunnerDeployment,
    options: &ApplyOptions,
    versions: Option<&VersionCache>,
) -> Result<(DeploymentPlan, Option<Value>), PlanError> {
    let mut d = deployment.clone();
    let version_info = resolve_version(&mut d, options, versions).map_err(PlanError::local)?;
    let flow_name = d.flow_name.clone().unwrap_or_else(|| "None".into());
    let read = client
        .send(&request::read_deployment_by_name(&flow_name, &d.name))
        .await;
    let (server, id): (Value, Uuid) = match read {
        Ok(resp) => {
            let server: Value = resp
                .json()
                .map_err(|e| PlanError::request("reading the deployment", e))?;
            let id = server
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok());
            match id {
                Some(id) => (server, id),
                None => {
                    return Err(PlanError::request(
                        "reading the deployment",
                        resp.unexpected("JSON without the deployment's `id` (a UUID)"),
                    ));
                }
            }
        }
        Err(ClientError::NotFound { .. }) => {
            // The pre-checks `apply` runs before a create.
            let mut created = d.clone();
            if let Some(list) = options
                .parsed_schedules()
                .map_err(|e| PlanError::local(e.to_string()))?
            {
                created.schedules = Some(list);
            }
            created
                .create_body(
                    Uuid::nil(),
                    options.work_pool_name.as_deref(),
                    options.image.as_deref(),
                    created.version.as_deref(),
                    Some(&version_info),
                )
                .map_err(PlanError::local)?;
            return Ok((
                DeploymentPlan {
                    flow_name,
                    name: d.name.clone(),
                    id: None,
                    action: PlanAction::Create,
                },
                None,
            ));
        }
        Err(e) => return Err(PlanError::request("reading the deployment", e)),
    };
    let body = update_body_for(&mut d, options, &version_info)
        .map_err(|e| PlanError::local(e.to_string()))?;
    let mut changes = Vec::new();
    if let Value::Object(body) = &body {
        for (field, local) in body {
            if let Some(change) = compare_field(field, local, &server, &d) {
                changes.push(change);
            }
        }
    }
    if let Some(change) = compare_triggers(client, &d, id).await? {
        changes.push(change);
    }
    Ok((
        DeploymentPlan {
            flow_name,
            name: d.name.clone(),
            id: Some(id),
            action: if changes.is_empty() {
                PlanAction::Unchanged
            } else {
                PlanAction::Update { changes }
            },
        },
        Some(server),
    ))
}

/// For [`BulkOptions::skip_unchanged`]: plans `deployment` and returns its id when the server
/// already matches it (nothing to apply). Otherwise the plan's read is left in `cache` for the
/// apply that follows (so it does not read again) and the answer is `None`; a plan that fails
/// also answers `None`, and the apply reports what is wrong.
pub(crate) async fn unchanged_on_server(
    client: &PrefectClient,
    deployment: &RunnerDeployment,
    options: &ApplyOptions,
    cache: &FlowIdCache,
) -> Option<Uuid> {
    match plan_with(client, deployment, options, Some(cache.versions())).await {
        Ok((plan, server)) => {
            if let (PlanAction::Unchanged, Some(id)) = (&plan.action, plan.id) {
                return Some(id);
            }
            let existing = plan.id.zip(server).map(|(id, body)| Existing { id, body });
            cache.put_existing(&plan.flow_name, &plan.name, existing);
            None
        }
        Err(e) => {
            tracing::debug!(deployment = %deployment.full_name(), error = %e, "plan failed; applying");
            None
        }
    }
}

/// [`plan`] for many deployments, `options.concurrency` at a time (one at a time for
/// [`Concurrency::Auto`](super::Concurrency::Auto): a plan only reads, so there is no busy
/// signal to adapt to, and the server's CPU is what bounds it); one result per deployment, in
/// input order.
pub async fn plan_all(
    client: &PrefectClient,
    items: &[(RunnerDeployment, ApplyOptions)],
    options: &BulkOptions,
) -> Vec<Result<DeploymentPlan, PlanError>> {
    // Version info is inferred once for the run.
    let versions = VersionCache::default();
    let versions = &versions;
    futures::stream::iter(0..items.len())
        .map(|i| plan_with(client, &items[i].0, &items[i].1, Some(versions)))
        .buffered(options.concurrency.as_fixed().unwrap_or(1))
        .map(|r| r.map(|(plan, _)| plan))
        .collect()
        .await
}

fn change(field: &str, server: Value, local: Value) -> Option<FieldChange> {
    Some(FieldChange {
        field: field.to_owned(),
        server,
        local,
    })
}

/// Compares one field of the update body with the server's deployment.
fn compare_field(
    field: &str,
    local: &Value,
    server: &Value,
    d: &RunnerDeployment,
) -> Option<FieldChange> {
    let on_server = server.get(field).cloned().unwrap_or(Value::Null);
    match field {
        // Not part of the deployment read (kept in the deployment's version record).
        "version_info" => None,
        "schedules" => compare_schedules(d, &on_server),
        "concurrency_limit" => {
            let limit = server
                .get("global_concurrency_limit")
                .and_then(|g| g.get("limit"))
                .cloned()
                .filter(|v| !v.is_null())
                .unwrap_or(on_server);
            (!same(local, &limit)).then(|| change(field, limit, local.clone()))?
        }
        "concurrency_options" => {
            let (s, l) = (drop_nulls(&on_server), drop_nulls(local));
            (!same(&l, &s)).then(|| change(field, on_server, local.clone()))?
        }
        "tags" => {
            let set = |v: &Value| {
                let mut t: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        t.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| t.to_string())
                    })
                    .collect();
                t.sort();
                t.dedup();
                t
            };
            (set(local) != set(&on_server)).then(|| change(field, on_server, local.clone()))?
        }
        "pull_steps" => {
            let empty = |v: &Value| v.is_null() || v.as_array().is_some_and(Vec::is_empty);
            if empty(local) && empty(&on_server) || same(local, &on_server) {
                None
            } else {
                change(field, on_server, local.clone())
            }
        }
        // Prefect sends a missing description as "None" on create, `null` on update.
        "description"
            if local.is_null() && on_server.as_str() == Some("None")
                || on_server.is_null() && local.as_str() == Some("None") =>
        {
            None
        }
        // No queue with a pool: the server puts the deployment in the pool's default queue.
        "work_queue_name"
            if local.is_null() && server.get("work_pool_name").is_some_and(|p| !p.is_null()) =>
        {
            None
        }
        _ => (!same(local, &on_server)).then(|| change(field, on_server, local.clone()))?,
    }
}

/// A schedule in comparable form: the schedule body (anchor as an instant), `active`,
/// `max_scheduled_runs`, `parameters`, `slug`.
fn canonical_schedule(item: &Value, drop_anchor: bool) -> Value {
    let mut body = item.get("schedule").cloned().unwrap_or(Value::Null);
    if let Value::Object(m) = &mut body {
        if drop_anchor {
            m.remove("anchor_date");
        } else if let Some(a) = m.get("anchor_date").and_then(Value::as_str)
            && let Ok(t) = parse_timestamp(a)
        {
            m.insert("anchor_date".into(), json!(t.to_string()));
        }
        if m.contains_key("cron") && m.get("timezone").is_none_or(Value::is_null) {
            m.insert("timezone".into(), json!("UTC"));
        }
        if m.contains_key("cron") && !m.contains_key("day_or") {
            m.insert("day_or".into(), json!(true));
        }
    }
    json!({
        "schedule": body,
        "active": item.get("active").cloned().unwrap_or(json!(true)),
        "max_scheduled_runs": item.get("max_scheduled_runs").cloned().unwrap_or(Value::Null),
        "parameters": item.get("parameters").cloned().filter(|p| !p.is_null()).unwrap_or(json!({})),
        "slug": item.get("slug").cloned().unwrap_or(Value::Null),
    })
}

fn compare_schedules(d: &RunnerDeployment, on_server: &Value) -> Option<FieldChange> {
    let local: Vec<&DeploymentSchedule> = d.schedules.iter().flatten().collect();
    let server: Vec<&Value> = on_server.as_array().into_iter().flatten().collect();
    let local_forms: Vec<(Value, bool)> = local
        .iter()
        .map(|s| (s.create_json(), s.anchor_defaulted()))
        .collect();
    let mut unmatched: Vec<Value> = server
        .iter()
        .map(|s| canonical_schedule(s, false))
        .collect();
    let mut all_matched = local.len() == server.len();
    if all_matched {
        for (form, defaulted) in &local_forms {
            let mine = canonical_schedule(form, *defaulted);
            let hit = unmatched.iter().position(|theirs| {
                let theirs = if *defaulted {
                    let mut t = theirs.clone();
                    if let Some(Value::Object(m)) = t.get_mut("schedule") {
                        m.remove("anchor_date");
                    }
                    t
                } else {
                    theirs.clone()
                };
                same(&mine, &theirs)
            });
            match hit {
                Some(i) => {
                    unmatched.remove(i);
                }
                None => {
                    all_matched = false;
                    break;
                }
            }
        }
    }
    if all_matched {
        return None;
    }
    // Show the server's schedules aligned with the local ones (same content, else same slug,
    // else same kind), so a diff by position reads naturally; the rest follow.
    let mine: Vec<Value> = local_forms
        .iter()
        .map(|(f, defaulted)| canonical_schedule(f, *defaulted))
        .collect();
    let mut theirs: Vec<Option<Value>> = server
        .iter()
        .map(|s| Some(canonical_schedule(s, false)))
        .collect();
    let kind = |v: &Value| {
        ["cron", "interval", "rrule"]
            .into_iter()
            .find(|k| v["schedule"].get(*k).is_some())
    };
    let mut aligned: Vec<Option<Value>> = vec![None; mine.len()];
    let tests: [&Matcher<'_>; 3] = [
        &|m, t| {
            same(
                m,
                &without_anchor_if(t, m["schedule"].get("anchor_date").is_none()),
            )
        },
        &|m, t| !m["slug"].is_null() && m["slug"] == t["slug"],
        &|m, t| kind(m) == kind(t),
    ];
    for test in tests {
        for (i, m) in mine.iter().enumerate() {
            if aligned[i].is_some() {
                continue;
            }
            if let Some(j) = theirs
                .iter()
                .position(|t| t.as_ref().is_some_and(|t| test(m, t)))
            {
                aligned[i] = theirs[j].take();
            }
        }
    }
    let mut server_list: Vec<Value> = aligned
        .into_iter()
        .zip(&mine)
        .filter_map(|(t, m)| {
            t.map(|t| without_anchor_if(&t, m["schedule"].get("anchor_date").is_none()))
        })
        .collect();
    server_list.extend(theirs.into_iter().flatten());
    change("schedules", Value::Array(server_list), Value::Array(mine))
}

/// Whether a local and a server schedule belong together.
type Matcher<'a> = dyn Fn(&Value, &Value) -> bool + 'a;

/// `schedule` without `schedule.anchor_date` when `drop` is true.
fn without_anchor_if(schedule: &Value, drop: bool) -> Value {
    let mut s = schedule.clone();
    if drop && let Some(Value::Object(m)) = s.get_mut("schedule") {
        m.remove("anchor_date");
    }
    s
}

async fn compare_triggers(
    client: &PrefectClient,
    d: &RunnerDeployment,
    id: Uuid,
) -> Result<Option<FieldChange>, PlanError> {
    let related = match client
        .send(&request::read_automations_related_to(&format!(
            "prefect.deployment.{id}"
        )))
        .await
    {
        Ok(resp) => {
            let related: Value = resp
                .json()
                .map_err(|e| PlanError::request("reading the deployment's automations", e))?;
            if !related.is_array() {
                return Err(PlanError::request(
                    "reading the deployment's automations",
                    resp.unexpected("JSON that is not a list of automations"),
                ));
            }
            related
        }
        // A server without automations: apply creates none either.
        Err(ClientError::NotFound { .. }) => return Ok(None),
        Err(e) => {
            return Err(PlanError::request(
                "reading the deployment's automations",
                e,
            ));
        }
    };
    let mut server: Vec<Value> = related
        .as_array()
        .into_iter()
        .flatten()
        .map(canonical_automation)
        .collect();
    let mut local: Vec<Value> = d
        .automation_bodies(id)
        .iter()
        .map(canonical_automation)
        .collect();
    let key = |v: &Value| v.to_string();
    server.sort_by_key(key);
    local.sort_by_key(key);
    let equal = server.len() == local.len() && server.iter().zip(&local).all(|(s, l)| same(s, l));
    Ok((!equal)
        .then(|| change("triggers", Value::Array(server), Value::Array(local)))
        .flatten())
}

/// `v` without object keys whose value is `null` (recursively).
fn drop_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), drop_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(drop_nulls).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_by_value_objects_by_keys() {
        assert!(same(
            &json!({"a": 1, "b": [2.0]}),
            &json!({"b": [2], "a": 1.0})
        ));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": null})));
    }

    #[test]
    fn schedules_by_content() {
        let server = json!({"id": "x", "deployment_id": "y", "schedule": {"cron": "0 9 * * *", "timezone": "UTC", "day_or": true}, "active": true, "max_scheduled_runs": null, "parameters": {}, "slug": null});
        let local = json!({"schedule": {"cron": "0 9 * * *", "timezone": null, "day_or": true}, "active": true, "max_scheduled_runs": null, "parameters": {}, "slug": null, "replaces": null});
        assert!(same(
            &canonical_schedule(&server, false),
            &canonical_schedule(&local, false)
        ));
    }
}
