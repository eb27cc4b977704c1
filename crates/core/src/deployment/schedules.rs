//! Deployment schedules: the constructor shorthands (`cron`, `interval`, `rrule`), the flexible
//! `schedules` list (Prefect's `reconcile_schedules`), RRule `DTSTART` injection, and which
//! keys count as "set" (what an update sends).

use jiff::civil::DateTime;
use prefab_schemas::schedules::{CronSchedule, RRuleSchedule, Schedule};
use serde_json::{Map, Value, json};

use super::error::DeploymentError;

/// Which keys of a schedule were given explicitly (pydantic's "fields set"): an update sends
/// only these (`model_dump(exclude_unset=True)`).
#[derive(Debug, Clone, PartialEq, Default)]
struct SetKeys {
    outer: Vec<&'static str>,
    inner: Vec<&'static str>,
}

/// A schedule attached to a deployment (Prefect's `DeploymentScheduleCreate` /
/// `DeploymentScheduleUpdate`), remembering which fields were given so the create and update
/// bodies carry exactly Prefect's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentSchedule {
    /// The schedule (`None` only for an update that leaves it unchanged).
    pub schedule: Option<Schedule>,
    /// Whether the schedule is active.
    pub active: bool,
    /// The maximum number of scheduled runs.
    pub max_scheduled_runs: Option<u32>,
    /// Parameter overrides.
    pub parameters: Map<String, Value>,
    /// The slug.
    pub slug: Option<String>,
    /// The slug this schedule replaces.
    pub replaces: Option<String>,
    set: SetKeys,
    /// An interval schedule given without `anchor_date` (anchored at "now" when built, so on
    /// every apply, as in Prefect): [`plan`](super::plan) does not compare its anchor.
    anchor_defaulted: bool,
}

impl DeploymentSchedule {
    /// An active schedule, as `DeploymentScheduleCreate(schedule=…)` builds it.
    pub fn new(schedule: impl Into<Schedule>) -> Self {
        let schedule = schedule.into();
        let inner = all_inner_keys(&schedule);
        DeploymentSchedule {
            schedule: Some(schedule),
            active: true,
            max_scheduled_runs: None,
            parameters: Map::new(),
            slug: None,
            replaces: None,
            set: SetKeys {
                outer: vec!["schedule", "active"],
                inner,
            },
            anchor_defaulted: false,
        }
    }

    /// Whether this is an interval schedule given without an anchor date (anchored when it
    /// was built).
    pub fn anchor_defaulted(&self) -> bool {
        self.anchor_defaulted
    }

    /// Sets `active`.
    pub fn with_active(mut self, active: bool) -> Self {
        self.active = active;
        self.mark("active");
        self
    }

    /// Sets the slug.
    pub fn with_slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self.mark("slug");
        self
    }

    /// Sets the parameter overrides.
    pub fn with_parameters(mut self, parameters: Map<String, Value>) -> Self {
        self.parameters = parameters;
        self.mark("parameters");
        self
    }

    fn mark(&mut self, key: &'static str) {
        if !self.set.outer.contains(&key) {
            self.set.outer.push(key);
        }
    }

    /// The body of this schedule in a create request: every key.
    pub fn create_json(&self) -> Value {
        json!({
            "schedule": self.schedule.as_ref().map(schedule_json).unwrap_or(Value::Null),
            "active": self.active,
            "max_scheduled_runs": self.max_scheduled_runs,
            "parameters": self.parameters,
            "slug": self.slug,
            "replaces": self.replaces,
        })
    }

    /// The body of this schedule in an update request: only the keys that were set (nested
    /// schedule included), in the model's field order.
    pub fn update_json(&self) -> Value {
        let full = self.create_json();
        let mut out = Map::new();
        for key in [
            "schedule",
            "active",
            "max_scheduled_runs",
            "parameters",
            "slug",
            "replaces",
        ] {
            if !self.set.outer.contains(&key) {
                continue;
            }
            if key == "schedule"
                && let Some(Value::Object(inner)) = full.get("schedule")
            {
                let filtered: Map<String, Value> = inner
                    .iter()
                    .filter(|(k, _)| self.set.inner.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                out.insert(key.into(), Value::Object(filtered));
                continue;
            }
            out.insert(key.into(), full[key].clone());
        }
        Value::Object(out)
    }
}

/// The schedule's JSON (Prefect's wire form).
fn schedule_json(schedule: &Schedule) -> Value {
    serde_json::to_value(schedule).unwrap_or(Value::Null)
}

fn all_inner_keys(schedule: &Schedule) -> Vec<&'static str> {
    match schedule {
        Schedule::Interval(_) => vec!["interval", "anchor_date", "timezone"],
        Schedule::Cron(_) => vec!["cron", "timezone", "day_or"],
        _ => vec!["rrule", "timezone"],
    }
}

fn invalid(input: &Value, reason: impl std::fmt::Display) -> DeploymentError {
    DeploymentError::InvalidSchedule {
        input: input.to_string(),
        reason: reason.to_string(),
    }
}

/// The legacy anchor of an rrule without DTSTART.
const LEGACY_ANCHOR: &str = "20200101T000000";

/// Prefect's `normalize_rrule_string`: prepends `DTSTART:…` to a rule without one.
/// `FREQ=SECONDLY`/`MINUTELY` without `COUNT` get the latest anchor
/// `2020-01-01T00:00 + k·period` not after now (wall clock in `timezone`); everything else
/// `DTSTART:20200101T000000`.
pub fn normalize_rrule_string(rrule: &str, timezone: Option<&str>) -> String {
    if rrule.to_uppercase().contains("DTSTART") {
        return rrule.to_owned();
    }
    let lines: Vec<&str> = rrule
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let single = lines.len() == 1
        && !lines[0].to_uppercase().starts_with("EXRULE")
        && !lines[0].to_uppercase().starts_with("RDATE")
        && !lines[0].to_uppercase().starts_with("EXDATE");
    if !single {
        return format!("DTSTART:{LEGACY_ANCHOR}\n{rrule}");
    }
    let body = lines[0];
    let body = body
        .strip_prefix("RRULE:")
        .or_else(|| body.strip_prefix("rrule:"))
        .unwrap_or(body);
    let mut freq = None;
    let mut interval: i64 = 1;
    let mut count = false;
    for part in body.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_uppercase().as_str() {
            "FREQ" => freq = Some(v.trim().to_uppercase()),
            "INTERVAL" => interval = v.trim().parse().unwrap_or(1),
            "COUNT" => count = true,
            _ => {}
        }
    }
    let unit = match freq.as_deref() {
        Some("SECONDLY") => 1,
        Some("MINUTELY") => 60,
        _ => 0,
    };
    if unit == 0 || count || interval <= 0 {
        return format!("DTSTART:{LEGACY_ANCHOR}\n{rrule}");
    }
    let period = unit * interval;
    let tz = timezone
        .and_then(|t| jiff::tz::TimeZone::get(t).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let now = tz.to_datetime(jiff::Timestamp::now());
    let base = DateTime::constant(2020, 1, 1, 0, 0, 0, 0);
    let delta = now.duration_since(base).as_secs();
    if delta <= 0 {
        return format!("DTSTART:{LEGACY_ANCHOR}\n{rrule}");
    }
    let k = delta / period;
    let anchor = base
        .checked_add(jiff::SignedDuration::from_secs(k * period))
        .unwrap_or(base);
    format!("DTSTART:{}\n{rrule}", anchor.strftime("%Y%m%dT%H%M%S"))
}

/// Builds an rrule schedule with Prefect's DTSTART injection.
fn rrule_schedule(
    rule: &str,
    timezone: Option<&str>,
    input: &Value,
) -> Result<Schedule, DeploymentError> {
    // Validate the rule as given first (Prefect validates, then normalises).
    let first = RRuleSchedule::new(rule).map_err(|e| invalid(input, e))?;
    if let Some(tz) = timezone {
        first.with_timezone(tz).map_err(|e| invalid(input, e))?;
    }
    let normalized = normalize_rrule_string(rule, Some(timezone.unwrap_or("UTC")));
    let mut s = RRuleSchedule::new(&normalized).map_err(|e| invalid(input, e))?;
    if let Some(tz) = timezone {
        s = s.with_timezone(tz).map_err(|e| invalid(input, e))?;
    }
    Ok(Schedule::RRule(s))
}

fn cron_schedule(
    cron: &str,
    timezone: Option<&str>,
    day_or: Option<bool>,
    input: &Value,
) -> Result<Schedule, DeploymentError> {
    let mut s = CronSchedule::new(cron).map_err(|e| invalid(input, e))?;
    if let Some(tz) = timezone {
        s = s.with_timezone(tz).map_err(|e| invalid(input, e))?;
    }
    if let Some(d) = day_or {
        s = s.with_day_or(d);
    }
    Ok(Schedule::Cron(s))
}

fn interval_schedule(
    interval: &Value,
    anchor: Option<&Value>,
    timezone: Option<&str>,
    input: &Value,
) -> Result<Schedule, DeploymentError> {
    let mut body = Map::new();
    body.insert("interval".into(), interval.clone());
    if let Some(a) = anchor.filter(|a| !a.is_null()) {
        body.insert("anchor_date".into(), a.clone());
    }
    if let Some(tz) = timezone {
        body.insert("timezone".into(), Value::String(tz.to_owned()));
    }
    let s = Schedule::from_json(&Value::Object(body)).map_err(|e| invalid(input, e))?;
    Ok(s)
}

/// Whether a JSON interval is zero or negative (checked here to give a clear message, Q5).
fn check_positive_interval(v: &Value, input: &Value) -> Result<(), DeploymentError> {
    if let Some(n) = v.as_f64()
        && n <= 0.0
    {
        return Err(invalid(
            input,
            "Input should be greater than 0 seconds (give the interval as a positive number of seconds)",
        ));
    }
    Ok(())
}

/// The schedule shorthands of the constructors (`interval`, `cron`, `rrule`, `schedules`),
/// at most one of which may be given (Prefect's `_construct_deployment_schedules`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleArgs {
    /// Seconds (one value or a list).
    pub interval: Option<Value>,
    /// A cron string or a list of them.
    pub cron: Option<Value>,
    /// An rrule string or a list of them.
    pub rrule: Option<Value>,
    /// The flexible list: wrappers `{"schedule": {...}, "active": ...}` or flat arguments of
    /// `Cron(...)`/`Interval(...)`/`RRule(...)`.
    pub schedules: Option<Vec<Value>>,
}

impl ScheduleArgs {
    /// Builds the deployment's schedules, with Prefect's errors.
    pub fn build(&self) -> Result<Vec<DeploymentSchedule>, DeploymentError> {
        let given = [
            self.interval.is_some(),
            self.cron.is_some(),
            self.rrule.is_some(),
            self.schedules.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            return Err(DeploymentError::ScheduleArgumentConflict);
        }
        if let Some(list) = &self.schedules {
            return list.iter().map(normalize_schedule_item).collect();
        }
        let one_or_many = |v: &Value| -> Vec<Value> {
            match v {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            }
        };
        if let Some(v) = &self.interval {
            return one_or_many(v)
                .iter()
                .map(|i| {
                    check_positive_interval(i, v)?;
                    let s = interval_schedule(i, None, None, v)?;
                    let mut d = shorthand(s, &["interval", "anchor_date", "timezone"]);
                    d.anchor_defaulted = true;
                    Ok(d)
                })
                .collect();
        }
        if let Some(v) = &self.cron {
            return one_or_many(v)
                .iter()
                .map(|c| {
                    let text = c
                        .as_str()
                        .ok_or_else(|| invalid(v, "a cron schedule must be a string such as \"0 9 * * *\""))?;
                    if text.is_empty() {
                        return Err(invalid(v, "an empty cron string is not a schedule; give a cron expression such as \"0 9 * * *\""));
                    }
                    let s = cron_schedule(text, None, None, v)?;
                    Ok(shorthand(s, &["cron", "timezone"]))
                })
                .collect();
        }
        if let Some(v) = &self.rrule {
            return one_or_many(v)
                .iter()
                .map(|r| {
                    let text = r
                        .as_str()
                        .ok_or_else(|| invalid(v, "an rrule schedule must be a string such as \"FREQ=DAILY\""))?;
                    if text.is_empty() {
                        return Err(invalid(v, "an empty rrule string is not a schedule; give a rule such as \"FREQ=DAILY\""));
                    }
                    let s = rrule_schedule(text, None, v)?;
                    Ok(shorthand(s, &["rrule", "timezone"]))
                })
                .collect();
        }
        Ok(Vec::new())
    }
}

fn shorthand(schedule: Schedule, inner: &[&'static str]) -> DeploymentSchedule {
    let mut d = DeploymentSchedule::new(schedule);
    d.set.inner = inner.to_vec();
    d
}

fn opt_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    item: &Value,
) -> Result<Option<&'a str>, DeploymentError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            item,
            format!("`{key}` must be a string, got {other}"),
        )),
    }
}

/// Normalises one item of the flexible `schedules` list (Prefect's `reconcile_schedules`).
pub fn normalize_schedule_item(item: &Value) -> Result<DeploymentSchedule, DeploymentError> {
    let Value::Object(map) = item else {
        return Err(DeploymentError::UnsupportedScheduleItem {
            input: item.to_string(),
        });
    };
    let mut map = map.clone();
    map.remove("$schedule");
    if map.contains_key("schedule") {
        // `create_deployment_schedule_create(**item)`: only `schedule` and `active`.
        if let Some(extra) = map.keys().find(|k| *k != "schedule" && *k != "active") {
            return Err(invalid(
                item,
                format!(
                    "create_deployment_schedule_create() got an unexpected keyword argument '{extra}' (a wrapper takes only `schedule` and `active`)"
                ),
            ));
        }
        let active = match map.get("active") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(
                    item,
                    format!("active must be able to be parsed as a boolean, got {other}"),
                ));
            }
        };
        let (schedule, inner) = schedule_from_body(&map["schedule"], item)?;
        let mut d = DeploymentSchedule::new(schedule);
        d.active = active;
        d.anchor_defaulted = interval_without_anchor(&map["schedule"]);
        d.set.inner = inner;
        return Ok(d);
    }
    let kinds: Vec<&str> = ["interval", "cron", "rrule"]
        .into_iter()
        .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if kinds.len() != 1 {
        if kinds.is_empty() {
            return Err(DeploymentError::UnsupportedScheduleItem {
                input: item.to_string(),
            });
        }
        return Err(invalid(
            item,
            "Only one of interval, cron, or rrule can be provided.",
        ));
    }
    // The flat arguments of Prefect's `Cron(...)`, `Interval(...)`, `RRule(...)` helpers.
    let allowed: &[&str] = match kinds[0] {
        "cron" => &["cron", "timezone", "day_or", "active", "parameters", "slug"],
        "interval" => &[
            "interval",
            "anchor_date",
            "timezone",
            "active",
            "parameters",
            "slug",
        ],
        _ => &["rrule", "timezone", "active", "parameters", "slug"],
    };
    if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            item,
            format!(
                "unexpected key `{extra}` for a {} schedule (allowed: {})",
                kinds[0],
                allowed.join(", ")
            ),
        ));
    }
    let timezone = opt_str(&map, "timezone", item)?;
    let schedule = match kinds[0] {
        "cron" => {
            let cron = opt_str(&map, "cron", item)?.unwrap_or_default();
            let day_or = match map.get("day_or") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(invalid(
                        item,
                        format!("`day_or` must be a boolean, got {other}"),
                    ));
                }
            };
            cron_schedule(cron, timezone, Some(day_or), item)?
        }
        "interval" => {
            check_positive_interval(&map["interval"], item)?;
            interval_schedule(&map["interval"], map.get("anchor_date"), timezone, item)?
        }
        _ => {
            let rule = opt_str(&map, "rrule", item)?.unwrap_or_default();
            rrule_schedule(rule, timezone, item)?
        }
    };
    let inner = all_inner_keys(&schedule);
    let mut d = DeploymentSchedule::new(schedule);
    d.set.inner = inner;
    d.anchor_defaulted =
        kinds[0] == "interval" && map.get("anchor_date").is_none_or(Value::is_null);
    d.active = match map.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                item,
                format!("`active` must be a boolean, got {other}"),
            ));
        }
    };
    d.parameters = match map.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(other) => {
            return Err(invalid(
                item,
                format!("`parameters` must be an object, got {other}"),
            ));
        }
    };
    d.slug = opt_str(&map, "slug", item)?.map(str::to_owned);
    d.set.outer = vec!["schedule", "parameters", "active", "slug"];
    Ok(d)
}

/// Parses a schedule body (`{"cron": …}`, `{"interval": …}`, `{"rrule": …}`) and the keys it
/// sets.
fn schedule_from_body(
    body: &Value,
    item: &Value,
) -> Result<(Schedule, Vec<&'static str>), DeploymentError> {
    let Value::Object(map) = body else {
        return Err(invalid(
            item,
            "`schedule` must be an object with an interval, cron or rrule key",
        ));
    };
    let known = [
        "interval",
        "anchor_date",
        "timezone",
        "cron",
        "day_or",
        "rrule",
    ];
    let mut inner: Vec<&'static str> = known
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .collect();
    let schedule = if map.contains_key("rrule")
        && !map.contains_key("cron")
        && !map.contains_key("interval")
    {
        let rule = opt_str(map, "rrule", item)?.unwrap_or_default();
        let tz = opt_str(map, "timezone", item)?;
        let s = rrule_schedule(rule, tz, item)?;
        if !rule.to_uppercase().contains("DTSTART") && !inner.contains(&"timezone") {
            // Prefect rebuilds the schedule with the DTSTART, passing the timezone.
            inner.push("timezone");
        }
        s
    } else {
        if let Some(i) = map.get("interval") {
            check_positive_interval(i, item)?;
        }
        Schedule::from_json(body).map_err(|e| invalid(item, e))?
    };
    if matches!(schedule, Schedule::Interval(_)) && !inner.contains(&"timezone") {
        // IntervalSchedule's validator assigns the inferred timezone.
        inner.push("timezone");
    }
    Ok((schedule, inner))
}

/// A schedule from `apply(schedules=[{...}])`: `DeploymentScheduleCreate(**d)` (create) or
/// `DeploymentScheduleUpdate(**d)` (update) — the keys given are the keys set.
pub fn schedule_from_apply_arg(item: &Value) -> Result<DeploymentSchedule, DeploymentError> {
    let Value::Object(map) = item else {
        return Err(DeploymentError::UnsupportedScheduleItem {
            input: item.to_string(),
        });
    };
    let allowed = [
        "schedule",
        "active",
        "max_scheduled_runs",
        "parameters",
        "slug",
        "replaces",
    ];
    if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            item,
            format!("unexpected key `{extra}` (allowed: {})", allowed.join(", ")),
        ));
    }
    let (schedule, inner) = match map.get("schedule") {
        Some(body) if !body.is_null() => {
            let (s, inner) = schedule_from_body(body, item)?;
            (Some(s), inner)
        }
        _ => (None, Vec::new()),
    };
    let mut outer = Vec::new();
    for key in allowed {
        if map.contains_key(key) {
            outer.push(key);
        }
    }
    let anchor_defaulted = map.get("schedule").is_some_and(interval_without_anchor);
    Ok(DeploymentSchedule {
        schedule,
        active: map.get("active").and_then(Value::as_bool).unwrap_or(true),
        max_scheduled_runs: map
            .get("max_scheduled_runs")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
        parameters: map
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        slug: map.get("slug").and_then(Value::as_str).map(str::to_owned),
        replaces: map
            .get("replaces")
            .and_then(Value::as_str)
            .map(str::to_owned),
        set: SetKeys { outer, inner },
        anchor_defaulted,
    })
}

/// An interval schedule body without an anchor date.
fn interval_without_anchor(body: &Value) -> bool {
    body.get("interval").is_some() && body.get("anchor_date").is_none_or(Value::is_null)
}
