//! Deployment triggers and the automations they become (Prefect's `DeploymentTrigger` types and
//! `as_automation`, spec §7).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::DeploymentError;

/// A deployment trigger: the automation fields plus the trigger proper, already validated and
/// normalised to Prefect's trigger JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentTrigger {
    /// The automation's name (`None` → filled with `{deployment}__automation_{i}`).
    pub name: Option<String>,
    /// The automation's description.
    pub description: String,
    /// Whether the automation is enabled.
    pub enabled: bool,
    /// Parameters for the run (`None` = the deployment's defaults).
    pub parameters: Option<Map<String, Value>>,
    /// Job variables for the run.
    pub job_variables: Option<Map<String, Value>>,
    /// Seconds to wait before the run.
    pub schedule_after: f64,
    /// The trigger in Prefect's JSON form, serialised: a bulk run holds thousands of these,
    /// and the text is a fifth of the size of the parsed tree. Read with
    /// [`trigger`](Self::trigger).
    trigger: String,
}

impl DeploymentTrigger {
    /// Reads a deployment trigger from Prefect's JSON (`{"type": "event", "expect": [...],
    /// ...}`); `position` is 1-based, for messages.
    pub fn from_json(value: &Value, position: usize) -> Result<Self, DeploymentError> {
        let err = |reason: String| DeploymentError::InvalidTrigger {
            position,
            input: value.to_string(),
            reason,
        };
        let Value::Object(map) = value else {
            return Err(err("a trigger must be a JSON object such as {\"type\": \"event\", \"expect\": [\"my.event\"]}".into()));
        };
        let name = match map.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(err(format!("`name` must be a string, got {other}"))),
        };
        let description = match map.get("description") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(err(format!("`description` must be a string, got {other}"))),
        };
        let enabled = match map.get("enabled") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(err(format!("`enabled` must be a boolean, got {other}"))),
        };
        let object = |key: &str| -> Result<Option<Map<String, Value>>, DeploymentError> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(m)) => Ok(Some(m.clone())),
                Some(other) => Err(err(format!("`{key}` must be an object, got {other}"))),
            }
        };
        let parameters = object("parameters")?;
        let job_variables = object("job_variables")?;
        let schedule_after = match map.get("schedule_after") {
            None => 0.0,
            Some(v) => {
                let s = seconds(v).map_err(|r| err(format!("`schedule_after`: {r}")))?;
                if s < 0.0 {
                    return Err(err("`schedule_after` must be 0 or more seconds".into()));
                }
                s
            }
        };
        let trigger = normalize_trigger(map).map_err(err)?.to_string();
        Ok(DeploymentTrigger {
            name,
            description,
            enabled,
            parameters,
            job_variables,
            schedule_after,
            trigger,
        })
    }

    /// The trigger proper, in Prefect's JSON form (`{"type": "event", ...}`), normalised:
    /// every default filled in, durations in seconds.
    pub fn trigger(&self) -> Value {
        // Written by `from_json` from a `Value`: it parses back to the same value.
        serde_json::from_str(&self.trigger).unwrap_or(Value::Null)
    }

    /// The automation body (`POST /automations/`) for this trigger on deployment `id`.
    pub fn automation_json(&self, deployment_id: Uuid) -> Value {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("Automation for deployment {deployment_id}"));
        json!({
            "name": name,
            "description": self.description,
            "enabled": self.enabled,
            "tags": [],
            "trigger": self.trigger(),
            "actions": [{
                "type": "run-deployment",
                "source": "selected",
                "deployment_id": deployment_id.to_string(),
                "parameters": self.parameters,
                "job_variables": self.job_variables,
                "schedule_after": self.schedule_after,
            }],
            "actions_on_trigger": [],
            "actions_on_resolve": [],
            "owner_resource": format!("prefect.deployment.{deployment_id}"),
        })
    }
}

/// Seconds from a pydantic `timedelta` input: a number of seconds, or a string in one of the
/// forms pydantic accepts — ISO 8601 (`PT1H`, `P1DT2H`, `-PT5S`) or `[D day[s], ]HH:MM[:SS[.f]]`
/// (`01:30:00`, `1 day, 01:00:00`). Strings are parsed by `speedate`, pydantic-core's own
/// parser, so the accepted forms and values are pydantic's.
fn seconds(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("expected a number of seconds, got {v}")),
        Value::String(s) => speedate::Duration::parse_str(s)
            .map(|d| d.signed_total_seconds() as f64 + d.signed_microseconds() as f64 / 1e6)
            .map_err(|e| {
                format!(
                    "{s:?} is not a duration ({e}): give seconds (3600), ISO 8601 (\"PT1H\") \
                     or HH:MM:SS (\"01:00:00\")"
                )
            }),
        _ => Err(format!(
            "expected a number of seconds or a duration string such as \"PT1H\", got {v}"
        )),
    }
}

fn string_set(map: &Map<String, Value>, key: &str) -> Result<Value, String> {
    match map.get(key) {
        None => Ok(json!([])),
        Some(Value::Array(items)) => {
            let mut out: Vec<Value> = Vec::new();
            for i in items {
                let Value::String(_) = i else {
                    return Err(format!("`{key}` must be a list of strings, got {i}"));
                };
                if !out.contains(i) {
                    out.push(i.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Some(Value::String(s)) => Ok(json!([s])),
        Some(other) => Err(format!("`{key}` must be a list of strings, got {other}")),
    }
}

fn resource_spec(map: &Map<String, Value>, key: &str) -> Result<Value, String> {
    match map.get(key) {
        None => Ok(json!({})),
        Some(v @ Value::Object(m)) => {
            for (label, value) in m {
                let ok = match value {
                    Value::String(_) => true,
                    Value::Array(items) => items.iter().all(Value::is_string),
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "`{key}.{label}` must be a string or a list of strings, got {value}"
                    ));
                }
            }
            Ok(v.clone())
        }
        Some(v @ Value::Array(items))
            if key == "match_related" && items.iter().all(Value::is_object) =>
        {
            Ok(v.clone())
        }
        Some(other) => Err(format!("`{key}` must be an object of labels, got {other}")),
    }
}

/// Which trigger type a mapping is (Prefect's discriminator).
fn trigger_type(map: &Map<String, Value>) -> Result<&'static str, String> {
    match map.get("type") {
        Some(Value::String(t)) => match t.as_str() {
            "event" => Ok("event"),
            "metric" => Ok("metric"),
            "compound" => Ok("compound"),
            "sequence" => Ok("sequence"),
            other => Err(format!(
                "unknown trigger type {other:?} (use event, metric, compound or sequence)"
            )),
        },
        Some(other) => Err(format!("`type` must be a string, got {other}")),
        None => Ok(
            if map.get("posture").and_then(Value::as_str) == Some("Metric") {
                "metric"
            } else if map.contains_key("triggers") && map.contains_key("require") {
                "compound"
            } else if map.contains_key("triggers") {
                "sequence"
            } else {
                "event"
            },
        ),
    }
}

/// Normalises a trigger mapping to Prefect's JSON for its type (defaults filled, durations as
/// float seconds, sets as lists).
pub fn normalize_trigger(map: &Map<String, Value>) -> Result<Value, String> {
    match trigger_type(map)? {
        "event" => {
            let posture = match map.get("posture") {
                None => "Reactive",
                Some(Value::String(p)) if p == "Reactive" => "Reactive",
                Some(Value::String(p)) if p == "Proactive" => "Proactive",
                Some(other) => {
                    return Err(format!(
                        "`posture` of an event trigger must be \"Reactive\" or \"Proactive\", got {other}"
                    ));
                }
            };
            let threshold = match map.get("threshold") {
                None => 1,
                Some(v) => v
                    .as_i64()
                    .ok_or_else(|| format!("`threshold` must be an integer, got {v}"))?,
            };
            let mut within = match map.get("within") {
                None => 0.0,
                Some(Value::Null) => {
                    return Err("`within` must be a number of seconds, not null".into());
                }
                Some(v) => seconds(v).map_err(|r| format!("`within`: {r}"))?,
            };
            if within < 0.0 {
                return Err("`within` must be 0 or more seconds".into());
            }
            if posture == "Proactive" {
                if within == 0.0 {
                    within = 10.0;
                } else if within < 10.0 {
                    return Err(
                        "`within` for Proactive triggers must be greater than or equal to 10 seconds"
                            .into(),
                    );
                }
            }
            Ok(json!({
                "type": "event",
                "match": resource_spec(map, "match")?,
                "match_related": resource_spec(map, "match_related")?,
                "after": string_set(map, "after")?,
                "expect": string_set(map, "expect")?,
                "for_each": string_set(map, "for_each")?,
                "posture": posture,
                "threshold": threshold,
                "within": within,
            }))
        }
        "metric" => {
            let Some(Value::Object(metric)) = map.get("metric") else {
                return Err("a metric trigger needs `metric`: {name, threshold, operator}".into());
            };
            let name = metric
                .get("name")
                .and_then(Value::as_str)
                .ok_or("`metric.name` is required (lateness, duration or successes)")?;
            let threshold = metric
                .get("threshold")
                .and_then(Value::as_f64)
                .ok_or("`metric.threshold` must be a number")?;
            let operator = metric
                .get("operator")
                .and_then(Value::as_str)
                .filter(|o| ["<", "<=", ">", ">="].contains(o))
                .ok_or("`metric.operator` must be one of <, <=, >, >=")?;
            let dur = |key: &str| -> Result<f64, String> {
                let s = match metric.get(key) {
                    None => 300.0,
                    Some(v) => seconds(v).map_err(|r| format!("`metric.{key}`: {r}"))?,
                };
                if s < 300.0 {
                    return Err(format!("`metric.{key}` must be at least 300 seconds"));
                }
                Ok(s)
            };
            Ok(json!({
                "type": "metric",
                "match": resource_spec(map, "match")?,
                "match_related": resource_spec(map, "match_related")?,
                "posture": "Metric",
                "metric": {
                    "name": name,
                    "threshold": threshold,
                    "operator": operator,
                    "range": dur("range")?,
                    "firing_for": dur("firing_for")?,
                },
            }))
        }
        kind => {
            let Some(Value::Array(items)) = map.get("triggers") else {
                return Err(format!(
                    "a {kind} trigger needs `triggers`: a list of triggers"
                ));
            };
            let mut triggers = Vec::with_capacity(items.len());
            for t in items {
                let Value::Object(m) = t else {
                    return Err(format!("each of `triggers` must be an object, got {t}"));
                };
                triggers.push(normalize_trigger(m)?);
            }
            let within = match map.get("within") {
                None | Some(Value::Null) => Value::Null,
                Some(v) => json!(seconds(v).map_err(|r| format!("`within`: {r}"))?),
            };
            if kind == "sequence" {
                return Ok(json!({"type": "sequence", "triggers": triggers, "within": within}));
            }
            let require = match map.get("require") {
                Some(Value::String(s)) if s == "any" || s == "all" => json!(s),
                Some(Value::Number(n))
                    if n.as_i64()
                        .is_some_and(|n| n >= 1 && (n as usize) <= triggers.len()) =>
                {
                    json!(n)
                }
                Some(other) => {
                    return Err(format!(
                        "`require` must be \"any\", \"all\" or a number from 1 to {} (the number of triggers), got {other}",
                        triggers.len()
                    ));
                }
                None => return Err("a compound trigger needs `require`".into()),
            };
            Ok(
                json!({"type": "compound", "triggers": triggers, "within": within, "require": require}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values pydantic 2.14 (pydantic-core 2.50, Prefect 3.9.1's venv) gives for
    /// `TypeAdapter(timedelta).validate_python(s).total_seconds()`; `None` = a validation error.
    const PYDANTIC: &[(&str, Option<f64>)] = &[
        ("PT1H", Some(3600.0)),
        ("P1D", Some(86400.0)),
        ("P1DT2H3M4.5S", Some(93784.5)),
        ("PT0.5S", Some(0.5)),
        ("-PT1S", Some(-1.0)),
        ("P1W", Some(604800.0)),
        ("P1Y", Some(31536000.0)),
        ("P1M", Some(2592000.0)),
        ("PT", None),
        ("01:02:03", Some(3723.0)),
        ("1d,01:02:03.000004", Some(90123.000004)),
        ("1 day, 01:00:00", Some(90000.0)),
        ("2 days, 00:00:00", Some(172800.0)),
        ("3600", None),
        ("  PT1H ", None),
        ("pt1h", None),
        ("+PT5M", Some(300.0)),
        ("10:00", Some(36000.0)),
        ("1:2:3", None),
        ("PT1.5H", Some(5400.0)),
        ("P2W3D", Some(1468800.0)),
        ("PT-1S", None),
        ("1day", Some(86400.0)),
        ("", None),
    ];

    #[test]
    fn duration_strings_parse_as_pydantic_does() {
        for (input, expected) in PYDANTIC {
            let got = seconds(&json!(input)).ok();
            match (got, expected) {
                (Some(g), Some(e)) => assert!((g - e).abs() < 1e-9, "{input:?}: {g} != {e}"),
                (None, None) => {}
                _ => panic!("{input:?}: got {got:?}, pydantic gives {expected:?}"),
            }
        }
        assert_eq!(seconds(&json!(90)), Ok(90.0));
        let err = seconds(&json!("soon")).unwrap_err();
        assert!(err.contains("\"soon\"") && err.contains("PT1H"), "{err}");
        assert!(seconds(&json!(true)).is_err());
    }

    #[test]
    fn iso_durations_in_triggers_become_seconds() {
        let map = json!({"expect": ["x"], "posture": "Proactive", "within": "PT1H"});
        let t = normalize_trigger(map.as_object().unwrap()).unwrap();
        assert_eq!(t["within"], json!(3600.0));
        let neg = json!({"expect": ["x"], "within": "-PT1M"});
        let err = normalize_trigger(neg.as_object().unwrap()).unwrap_err();
        assert!(err.contains("0 or more"), "{err}");
    }
}
