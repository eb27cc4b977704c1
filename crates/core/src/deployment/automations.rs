//! A deployment's automations: their comparable form ([`canonical_automation`], used by
//! [`plan`](super::plan)) and the step that ends every [`apply`](super::apply) of a deployment
//! with triggers, [`converge`]: exactly one automation per trigger, however many applies of the
//! same deployment run at once (docs/deviations.md D32).
//!
//! Why a step of its own: deployments and flows are upserts by name, automations are not. Two
//! applies of one deployment that each "delete the owned automations, then create one per
//! trigger" (Prefect's `RunnerDeployment.apply`), or that each find the deployment new and only
//! create, can interleave as delete, delete, create, create — two automations for one trigger.
//! A retried `POST /automations/` after an ambiguous failure can do the same, or create none.
//!
//! [`converge`] lists the automations related to the deployment and, for each trigger, keeps the
//! matching automation with the smallest id and deletes the other matches; a trigger with no
//! match is created and the list read again (at most [`CONVERGE_ROUNDS`] lists). Why that
//! converges under any interleaving, and never deletes the only copy:
//!
//! * Every apply lists *after* its last create. Take the apply whose create was the last to
//!   land: its list sees every copy that will ever exist, and it deletes all but the smallest,
//!   `m`. After that nothing is created, so at most `m` is left.
//! * `m` is never deleted. An owned-by `DELETE` precedes its apply's creates, so it runs before
//!   that last list, which saw `m`: it ran before `m` existed. A delete by [`converge`] needs a
//!   list that saw a smaller match `y1` beside `m`; `y1` was gone by the last list, so it too
//!   was deleted, by a list that saw a smaller `y2` beside it, and so on down to some `yk`
//!   removed by an owned-by `DELETE` at a time `t` before `m` existed. `y1` was seen beside `m`,
//!   so it existed after `t`, so it was created after `t`; `y2` was seen beside `y1`, so the
//!   same holds for it, and for each in turn up to `yk` — which `t` deleted: impossible.
//!   (Gaps: a copy committed in the instant between the owned-by `DELETE`'s clock reading and
//!   its read; an apply that fails between its delete and its creates, and says so.)
//!
//! Only automations equal to a trigger are ever deleted: the list holds every automation
//! *related* to the deployment, including ones made elsewhere that run it (the API does not say
//! which ones the deployment owns), and those are left alone unless they are identical to one of
//! its triggers (the same limit as `plan`'s, D9).

use http::Method;
use prefab_client::request::{self, Safety};
use prefab_client::{ClientError, PrefectClient};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::compare::same;
use super::error::{ApplyStep, DeploymentApplyError, Written};

/// How many times [`converge`] reads the deployment's automations before giving up on a trigger
/// that keeps having none (another apply deleting them as fast as this one creates them).
pub(crate) const CONVERGE_ROUNDS: usize = 3;

/// An automation in comparable form: what `apply` sends, without ids and timestamps.
pub(crate) fn canonical_automation(a: &Value) -> Value {
    let mut out = Map::new();
    for key in [
        "name",
        "description",
        "enabled",
        "tags",
        "trigger",
        "actions",
        "actions_on_trigger",
        "actions_on_resolve",
    ] {
        let mut v = a.get(key).cloned().unwrap_or(Value::Null);
        if key == "trigger" {
            strip_ids(&mut v);
        }
        out.insert(key.into(), v);
    }
    Value::Object(out)
}

fn strip_ids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("id");
            m.values_mut().for_each(strip_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

/// One trigger as [`converge`] recognises it on the server.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    /// The body `POST /automations/` sends.
    pub body: Value,
    /// Comparable forms: the body's, and those of the server's answers to creates of it (the
    /// server's own serialisation, so a copy another apply created matches even where the
    /// body's form and the server's differ in some detail).
    forms: Vec<Value>,
    /// Automations this apply created for it.
    created: Vec<Uuid>,
}

impl Wanted {
    /// The trigger whose automation body is `body`.
    pub fn new(body: Value) -> Self {
        let forms = vec![canonical_automation(&body)];
        Wanted {
            body,
            forms,
            created: Vec::new(),
        }
    }

    /// Records the server's answer to a create of this trigger.
    pub fn created(&mut self, id: Uuid, answer: Option<&Value>) {
        self.created.push(id);
        if let Some(answer) = answer {
            let form = canonical_automation(answer);
            if !self.forms.iter().any(|f| same(f, &form)) {
                self.forms.push(form);
            }
        }
    }

    fn matches(&self, id: Uuid, form: &Value) -> bool {
        self.created.contains(&id) || self.forms.iter().any(|f| same(f, form))
    }
}

/// What one list of the deployment's automations says to do.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Verdict {
    /// Per trigger, the automation kept (`None`: there is none).
    pub kept: Vec<Option<Uuid>>,
    /// Further automations equal to a trigger: to delete.
    pub duplicates: Vec<Uuid>,
}

/// Sorts the listed automations (`GET /automations/related-to/…`) out against the triggers:
/// each trigger keeps the matching automation with the smallest id not kept by an earlier
/// trigger; the other matches are duplicates; automations matching no trigger are left alone.
pub(crate) fn sort_out(wanted: &[Wanted], listed: &[Value]) -> Verdict {
    let mut server: Vec<(Uuid, Value)> = listed
        .iter()
        .filter_map(|a| {
            let id = a.get("id")?.as_str()?.parse().ok()?;
            Some((id, canonical_automation(a)))
        })
        .collect();
    server.sort_by_key(|(id, _)| *id);
    server.dedup_by_key(|(id, _)| *id);
    let mut taken = vec![false; server.len()];
    let kept = wanted
        .iter()
        .map(|w| {
            let (i, (id, _)) = server
                .iter()
                .enumerate()
                .find(|(i, (id, form))| !taken[*i] && w.matches(*id, form))?;
            taken[i] = true;
            Some(*id)
        })
        .collect();
    let duplicates = server
        .iter()
        .zip(&taken)
        .filter(|((id, form), taken)| !**taken && wanted.iter().any(|w| w.matches(*id, form)))
        .map(|((id, _), _)| *id)
        .collect();
    Verdict { kept, duplicates }
}

/// The last step of applying a deployment with triggers (module docs): reads the automations
/// related to deployment `id`, deletes those that duplicate a trigger's, creates those a trigger
/// lacks, and reads again after creating, until each trigger has exactly one. One read when
/// nothing raced. A server without an automations API (404) has nothing to converge.
pub(crate) async fn converge(
    client: &PrefectClient,
    deployment: &str,
    id: Uuid,
    wanted: &mut [Wanted],
    written: &mut Written,
) -> Result<(), DeploymentApplyError> {
    let resource = format!("prefect.deployment.{id}");
    for round in 1..=CONVERGE_ROUNDS {
        let listed = match client
            .send(&request::read_automations_related_to(&resource))
            .await
        {
            Ok(resp) => match resp.json::<Value>() {
                Ok(Value::Array(items)) => items,
                Ok(_) => {
                    let e = resp.unexpected("JSON that is not a list of automations");
                    return Err(DeploymentApplyError::request(
                        ApplyStep::ConvergeAutomations,
                        e,
                        written,
                    ));
                }
                Err(e) => {
                    return Err(DeploymentApplyError::request(
                        ApplyStep::ConvergeAutomations,
                        e,
                        written,
                    ));
                }
            },
            Err(ClientError::NotFound { .. }) => return Ok(()),
            Err(e) => {
                return Err(DeploymentApplyError::request(
                    ApplyStep::ConvergeAutomations,
                    e,
                    written,
                ));
            }
        };
        let verdict = sort_out(wanted, &listed);
        for duplicate in verdict.duplicates {
            tracing::debug!(deployment, automation = %duplicate, "deleting a duplicate automation of a trigger");
            match client.send(&delete_automation(duplicate)).await {
                // Gone already: another apply deleted the same duplicate.
                Ok(_) | Err(ClientError::NotFound { .. }) => {}
                Err(e) => {
                    return Err(DeploymentApplyError::request(
                        ApplyStep::ConvergeAutomations,
                        e,
                        written,
                    ));
                }
            }
        }
        let missing: Vec<usize> = (0..wanted.len())
            .filter(|i| verdict.kept[*i].is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if round == CONVERGE_ROUNDS {
            break;
        }
        for i in missing {
            tracing::debug!(
                deployment,
                trigger = i + 1,
                "a trigger has no automation; creating it"
            );
            create(client, deployment, &mut wanted[i], written, false).await?;
        }
    }
    Err(DeploymentApplyError {
        step: ApplyStep::ConvergeAutomations,
        message: format!(
            "a trigger still had no automation after {CONVERGE_ROUNDS} reads of the deployment's \
             automations; another apply of the same deployment is probably replacing them — \
             apply again once it is done"
        ),
        written: written.clone(),
        source: None,
    })
}

/// `POST /automations/` for one trigger. A create that got no answer may or may not have landed
/// — it is never repeated blindly: the [`converge`] that follows finds out. `Ok(false)`: the
/// server answered 404 and `no_api_on_404` says to read that as a server without automations.
pub(crate) async fn create(
    client: &PrefectClient,
    deployment: &str,
    wanted: &mut Wanted,
    written: &mut Written,
    no_api_on_404: bool,
) -> Result<bool, DeploymentApplyError> {
    match client
        .send(&request::ApiRequest {
            method: Method::POST,
            path: "/automations/".to_owned(),
            body: Some(serde_json::to_vec(&wanted.body).unwrap_or_default()),
            safety: Safety::NotIdempotent,
            subject: "automation",
        })
        .await
    {
        Ok(resp) => {
            let answer = resp.json::<Value>().ok();
            let id = answer
                .as_ref()
                .and_then(|a| a.get("id")?.as_str()?.parse::<Uuid>().ok());
            if let Some(id) = id {
                wanted.created(id, answer.as_ref());
                written.automation_ids.push(id);
            }
            Ok(true)
        }
        Err(ClientError::NotFound { .. }) if no_api_on_404 => Ok(false),
        Err(e) if e.status().is_none() => {
            tracing::warn!(
                deployment,
                error = %e,
                "creating an automation got no answer; checking the deployment's automations"
            );
            Ok(true)
        }
        Err(e) => Err(DeploymentApplyError::request(
            ApplyStep::CreateAutomation,
            e,
            written,
        )),
    }
}

/// `DELETE /automations/{id}` (204).
fn delete_automation(id: Uuid) -> request::ApiRequest {
    request::ApiRequest {
        method: Method::DELETE,
        path: format!("/automations/{id}"),
        body: None,
        safety: Safety::Idempotent,
        subject: "automation",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(name: &str) -> Value {
        json!({"name": name, "description": "", "enabled": true, "tags": [],
               "trigger": {"type": "event", "expect": ["x"], "id": "t"},
               "actions": [], "actions_on_trigger": [], "actions_on_resolve": [],
               "owner_resource": "prefect.deployment.d"})
    }

    fn stored(id: u128, name: &str) -> Value {
        let mut a = body(name);
        a["id"] = json!(Uuid::from_u128(id));
        a["created"] = json!("2026-12-06T00:00:00Z");
        a["trigger"]["id"] = json!(Uuid::from_u128(id + 1000));
        a
    }

    #[test]
    fn the_smallest_match_is_kept_the_other_matches_go_and_foreign_ones_stay() {
        let wanted = [Wanted::new(body("a")), Wanted::new(body("b"))];
        let listed = [
            stored(9, "a"),
            stored(3, "a"),
            stored(5, "user-made"),
            stored(7, "b"),
            stored(4, "a"),
        ];
        let v = sort_out(&wanted, &listed);
        assert_eq!(v.kept, [Some(Uuid::from_u128(3)), Some(Uuid::from_u128(7))]);
        assert_eq!(v.duplicates, [Uuid::from_u128(4), Uuid::from_u128(9)]);
    }

    #[test]
    fn two_identical_triggers_keep_two_and_a_missing_one_is_reported() {
        let wanted = [
            Wanted::new(body("a")),
            Wanted::new(body("a")),
            Wanted::new(body("c")),
        ];
        let v = sort_out(&wanted, &[stored(2, "a"), stored(1, "a"), stored(6, "a")]);
        assert_eq!(
            v.kept,
            [Some(Uuid::from_u128(1)), Some(Uuid::from_u128(2)), None]
        );
        assert_eq!(v.duplicates, [Uuid::from_u128(6)]);
    }

    #[test]
    fn every_lister_agrees_on_the_survivor_whatever_it_saw() {
        // Two applies that saw different subsets keep the same smallest one of what they saw.
        let wanted = [Wanted::new(body("a"))];
        let one = sort_out(&wanted, &[stored(8, "a"), stored(2, "a")]);
        let other = sort_out(&wanted, &[stored(2, "a"), stored(5, "a"), stored(8, "a")]);
        assert_eq!(one.kept, other.kept);
        assert!(!other.duplicates.contains(&Uuid::from_u128(2)));
    }

    #[test]
    fn a_copy_this_apply_created_matches_even_if_the_server_changed_its_form() {
        let mut w = Wanted::new(body("a"));
        let mut answer = stored(4, "a");
        answer["description"] = json!("filled in by the server");
        w.created(Uuid::from_u128(4), Some(&answer));
        // Another apply's copy, in the server's form: matches through the answer's form.
        let mut theirs = stored(2, "a");
        theirs["description"] = json!("filled in by the server");
        let v = sort_out(&[w], &[answer, theirs]);
        assert_eq!(v.kept, [Some(Uuid::from_u128(2))]);
        assert_eq!(v.duplicates, [Uuid::from_u128(4)]);
    }
}
