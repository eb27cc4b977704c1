//! Reading prefect.yaml as `prefect deploy` reads it (spec §1): PyYAML's `safe_load` (YAML 1.1
//! scalars, merge keys), then the checks of Prefect's pydantic models (`PrefectYamlModel`,
//! `DeploymentConfig`, `WorkPoolConfig`, `ConcurrencyLimitSpec`, `RawScheduleConfig`), and the
//! configuration they dump (`model_dump(exclude_unset=True, mode="json")`).
//!
//! Where Prefect prints a validation error and goes on with an empty configuration (it then
//! fails with "An entrypoint must be provided"), prefab refuses the file with every problem's
//! line and field and applies nothing from it (docs/deviations.md P1).

use std::fmt;
use std::path::{Path, PathBuf};

use prefab_core::deployment::WorkPoolSpec;
use prefab_core::yaml::{LoadedYaml, Location, Schema, load_with, pointer_to_path};
use serde_json::{Map, Value};

use crate::error::ProjectError;

/// A prefect.yaml larger than this is refused before parsing (real ones are a few KiB).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A prefect.yaml, read and checked.
#[derive(Debug, Clone)]
pub struct PrefectFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// `name`.
    pub name: Option<String>,
    /// `prefect-version`.
    pub prefect_version: Option<String>,
    /// The top-level `build` steps (`[]` when absent or empty).
    pub build: Vec<Value>,
    /// The top-level `push` steps.
    pub push: Vec<Value>,
    /// The top-level `pull` steps: `None` when absent or `null` (a default is generated),
    /// `Some([])` for an explicit `pull: []` (no pull steps).
    pub pull: Option<Value>,
    /// prefab's extension: work pools to create when missing before anything is deployed
    /// (top-level `work_pools`, the deployment file's form; Prefect ignores the key).
    pub work_pools: Vec<WorkPoolSpec>,
    /// The deployments, each as Prefect's model dumps it (only the keys given).
    pub deployments: Vec<Map<String, Value>>,
    /// Things the file does that Prefect accepts but a person should know (unknown keys,
    /// duplicate keys), each with its line.
    pub warnings: Vec<String>,
    positions: LoadedYaml,
}

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field (`deployments[2].version`).
    pub field: String,
    /// Where it is.
    pub location: Option<Location>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(at) => write!(f, "{} ({at}): {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl PrefectFile {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<PrefectFile, ProjectError> {
        let meta = std::fs::metadata(path).map_err(|e| ProjectError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(ProjectError::Read {
                path: path.to_path_buf(),
                reason: format!(
                    "the file is {} bytes; prefab reads prefect.yaml files up to {MAX_FILE_BYTES} bytes",
                    meta.len()
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| ProjectError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text` as the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<PrefectFile, ProjectError> {
        let loaded = load_with(text, Schema::Yaml11).map_err(|e| ProjectError::Yaml {
            path: path.to_path_buf(),
            error: e,
        })?;
        let mut checker = Checker {
            positions: &loaded,
            problems: Vec::new(),
            warnings: loaded.warnings.iter().map(ToString::to_string).collect(),
        };
        let Value::Object(root) = &loaded.value else {
            return Err(ProjectError::Invalid {
                path: path.to_path_buf(),
                problems: vec![Problem {
                    field: "(the document)".into(),
                    location: loaded.location(""),
                    message: format!(
                        "a prefect.yaml is a mapping with a `deployments` list; this document is {}",
                        kind(&loaded.value)
                    ),
                }],
            });
        };
        let name = checker.opt_str(root, "", "name");
        let prefect_version = match root.get("prefect-version") {
            Some(_) => checker.opt_str(root, "", "prefect-version"),
            None => checker.opt_str(root, "", "prefect_version"),
        };
        let build = checker.steps(root, "", "build");
        let push = checker.steps(root, "", "push");
        let pull = checker.steps(root, "", "pull");
        for key in root.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                checker.unknown(&format!("/{}", escape(key)), key, "top-level");
            }
        }
        let mut work_pools = Vec::new();
        match root.get("work_pools") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match serde_json::from_value::<WorkPoolSpec>(item.clone()) {
                        Ok(spec) => work_pools.push(spec),
                        Err(e) => checker.problem(
                            &format!("/work_pools/{i}"),
                            format!(
                                "{e} (a work pool is {{name, type, description, \
                                 base_job_template}})"
                            ),
                        ),
                    }
                }
            }
            Some(other) => checker.problem(
                "/work_pools",
                format!("`work_pools` is a list of work pools, not {}", kind(other)),
            ),
        }
        let mut deployments = Vec::new();
        match root.get("deployments") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("/deployments/{i}");
                    match item {
                        Value::Object(d) => deployments.push(checker.deployment(d, &at)),
                        other => checker.problem(
                            &at,
                            format!(
                                "a deployment is a mapping of its fields, not {}",
                                kind(other)
                            ),
                        ),
                    }
                }
            }
            Some(other) => checker.problem(
                "/deployments",
                format!(
                    "`deployments` is a list of deployments, not {}",
                    kind(other)
                ),
            ),
        }
        for key in loaded.non_string_keys() {
            if str_keyed(&key.mapping) {
                checker.problems.push(Problem {
                    field: pointer_to_path(&format!("{}/{}", key.mapping, escape(&key.key))),
                    location: Some(key.location),
                    message: format!(
                        "the key `{}` is {} in YAML 1.1, and this mapping's keys are text: quote \
                         it (\"{}\")",
                        key.text, key.kind, key.text
                    ),
                });
            }
        }
        if !checker.problems.is_empty() {
            return Err(ProjectError::Invalid {
                path: path.to_path_buf(),
                problems: checker.problems,
            });
        }
        let steps = |v: Option<Value>| match v {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        let warnings = checker.warnings;
        Ok(PrefectFile {
            path: path.to_path_buf(),
            name,
            prefect_version,
            build: steps(build.clone()),
            push: steps(push),
            pull: pull.filter(|p| !p.is_null()),
            work_pools,
            deployments,
            warnings,
            positions: loaded,
        })
    }

    /// `deployments[i].field (line L, column C)`, for messages about deployment `index`.
    pub fn locate(&self, index: usize, field: &str) -> String {
        let pointer = if field.is_empty() {
            format!("/deployments/{index}")
        } else {
            format!("/deployments/{index}/{}", field.replace('.', "/"))
        };
        let path = pointer_to_path(&pointer);
        match self.positions.nearest_location(&pointer) {
            Some(at) => format!("{path} ({at})"),
            None => path,
        }
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "prefect-version",
    "prefect_version",
    "build",
    "push",
    "pull",
    "deployments",
    // Prefect's documented place for anchors: ignored by the model, on purpose.
    "definitions",
    // prefab's extension (Prefect ignores it).
    "work_pools",
];

/// Whether the mapping at `pointer` is one Prefect's model types `Dict[str, …]` (or a model
/// that forbids other keys), so that a key YAML 1.1 reads as a boolean, number or date fails
/// its validation: parameters, job variables, triggers, schedules and their parameters, steps.
fn str_keyed(pointer: &str) -> bool {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    let steps = |s: &str| matches!(s, "build" | "push" | "pull");
    let index = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match segs.as_slice() {
        [s] | [s, _] if steps(s) => true,
        ["deployments", d, rest @ ..] if index(d) => match rest {
            ["parameters"] | ["work_pool", "job_variables"] => true,
            ["triggers", t] => index(t),
            ["schedule"] | ["schedule", "parameters"] => true,
            ["schedules", i] | ["schedules", i, "parameters"] => index(i),
            [s] | [s, _] if steps(s) => true,
            _ => false,
        },
        _ => false,
    }
}

/// `a string`, `a number`, … for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

struct Checker<'a> {
    positions: &'a LoadedYaml,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Checker<'_> {
    fn problem(&mut self, pointer: &str, message: String) {
        self.problems.push(Problem {
            field: pointer_to_path(pointer),
            location: self.positions.nearest_location(pointer),
            message,
        });
    }

    fn unknown(&mut self, pointer: &str, key: &str, level: &str) {
        let at = self
            .positions
            .nearest_location(pointer)
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        self.warnings.push(format!(
            "{}{at}: unknown {level} key `{key}`, ignored (as Prefect ignores it); check its \
             spelling",
            pointer_to_path(pointer)
        ));
    }

    fn is_timestamp(&self, pointer: &str) -> bool {
        self.positions.timestamp(pointer).is_some()
    }

    /// A `str | None` field (pydantic refuses numbers, booleans and dates for a `str`).
    fn opt_str(&mut self, map: &Map<String, Value>, at: &str, key: &str) -> Option<String> {
        let pointer = format!("{at}/{}", escape(key));
        match map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if self.is_timestamp(&pointer) => {
                self.problem(
                    &pointer,
                    format!(
                        "`{s}` is a date in YAML 1.1, and this field takes text: quote it (\"{s}\")"
                    ),
                );
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                let hint = match other {
                    Value::Number(_) | Value::Bool(_) => format!(
                        ": quote it (\"{}\") — YAML reads it as {}",
                        yaml_text(other),
                        kind(other)
                    ),
                    _ => String::new(),
                };
                self.problem(
                    &pointer,
                    format!("`{key}` takes text, not {}{hint}", kind(other)),
                );
                None
            }
        }
    }

    /// A build/push/pull section: `null`, a list of step mappings, or one step mapping (a
    /// one-item list); an empty mapping stays as it is (Prefect treats it as "no steps").
    fn steps(&mut self, map: &Map<String, Value>, at: &str, key: &str) -> Option<Value> {
        let pointer = format!("{at}/{key}");
        match map.get(key)? {
            Value::Null => Some(Value::Null),
            Value::Object(step) if step.is_empty() => Some(Value::Object(Map::new())),
            Value::Object(step) => Some(Value::Array(vec![Value::Object(step.clone())])),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        self.problem(
                            &format!("{pointer}/{i}"),
                            format!(
                                "a step is a mapping `{{module.function: {{arguments}}}}`, not {}",
                                kind(item)
                            ),
                        );
                    }
                }
                Some(Value::Array(items.clone()))
            }
            other => {
                self.problem(
                    &pointer,
                    format!(
                        "`{key}` is a list of steps (or one step mapping), not {}",
                        kind(other)
                    ),
                );
                None
            }
        }
    }

    /// Pydantic's lax `bool`: booleans, 0/1, and `yes`/`no`/`on`/`off`/`true`/`false`/`t`/`f`/
    /// `y`/`n`/`1`/`0` text in any case.
    fn lax_bool(&mut self, pointer: &str, v: &Value) -> Option<bool> {
        match lax_bool(v) {
            Some(b) => Some(b),
            None => {
                self.problem(
                    pointer,
                    format!("`{}` is not a boolean: write true or false", yaml_text(v)),
                );
                None
            }
        }
    }

    /// A `Dict[str, Any]` field: a mapping (string keys are guaranteed by the loader, except
    /// the booleans YAML 1.1 makes of `on:`/`yes:` keys, which the loader refuses already).
    fn mapping(&mut self, pointer: &str, key: &str, v: &Value) -> Option<Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m.clone()),
            other => {
                self.problem(
                    pointer,
                    format!("`{key}` is a mapping, not {}", kind(other)),
                );
                None
            }
        }
    }

    fn deployment(&mut self, d: &Map<String, Value>, at: &str) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in d {
            let pointer = format!("{at}/{}", escape(key));
            let dumped: Option<Value> = match key.as_str() {
                "name" | "version" | "version_type" | "description" | "flow_name"
                | "entrypoint" => match value {
                    Value::Null => Some(Value::Null),
                    _ => self.opt_str(d, at, key).map(Value::String),
                },
                "tags" => match value {
                    Value::Null | Value::String(_) | Value::Array(_) => Some(value.clone()),
                    other => {
                        self.problem(
                            &pointer,
                            format!(
                                "`tags` is a list of tags (or one text), not {}",
                                kind(other)
                            ),
                        );
                        None
                    }
                },
                "schedule" => match value {
                    Value::Null => Some(Value::Null),
                    item => self.schedule(&pointer, item).map(|_| item.clone()),
                },
                "schedules" => match value {
                    Value::Null => Some(Value::Null),
                    Value::Array(items) => {
                        let mut ok = true;
                        for (i, item) in items.iter().enumerate() {
                            ok &= self.schedule(&format!("{pointer}/{i}"), item).is_some();
                        }
                        ok.then(|| value.clone())
                    }
                    other => {
                        self.problem(
                            &pointer,
                            format!("`schedules` is a list of schedules, not {}", kind(other)),
                        );
                        None
                    }
                },
                "paused" | "enforce_parameter_schema" => match value {
                    Value::Null => Some(Value::Null),
                    v => self.lax_bool(&pointer, v).map(Value::Bool),
                },
                "concurrency_limit" => self.concurrency_limit(&pointer, value),
                "parameters" => self.mapping(&pointer, key, value).map(Value::Object),
                "build" | "push" | "pull" => self.steps(d, at, key),
                "work_pool" => self.work_pool(&pointer, value),
                "triggers" | "sla" => match value {
                    Value::Null => Some(Value::Null),
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            if !item.is_object() {
                                self.problem(
                                    &format!("{pointer}/{i}"),
                                    format!("each of `{key}` is a mapping, not {}", kind(item)),
                                );
                            }
                        }
                        Some(value.clone())
                    }
                    other => {
                        self.problem(
                            &pointer,
                            format!("`{key}` is a list of mappings, not {}", kind(other)),
                        );
                        None
                    }
                },
                _ => {
                    self.unknown(&pointer, key, "deployment");
                    continue;
                }
            };
            if let Some(v) = dumped {
                out.insert(key.clone(), v);
            }
        }
        out
    }

    fn concurrency_limit(&mut self, pointer: &str, value: &Value) -> Option<Value> {
        match value {
            Value::Null => Some(Value::Null),
            Value::Object(spec) => {
                let mut out = Map::new();
                for key in ["limit", "collision_strategy", "grace_period_seconds"] {
                    let Some(v) = spec.get(key) else { continue };
                    let p = format!("{pointer}/{key}");
                    let checked = match (key, v) {
                        (_, Value::Null) => Some(Value::Null),
                        ("collision_strategy", Value::String(s)) => Some(Value::String(s.clone())),
                        ("collision_strategy", other) => {
                            self.problem(&p, format!("takes text, not {}", kind(other)));
                            None
                        }
                        (_, other) => match lax_int(other) {
                            Some(n) => Some(Value::from(n)),
                            None => {
                                self.problem(
                                    &p,
                                    format!("`{}` is not a whole number", yaml_text(other)),
                                );
                                None
                            }
                        },
                    };
                    if let Some(c) = checked {
                        out.insert(key.into(), c);
                    }
                }
                Some(Value::Object(out))
            }
            other => match lax_int(other) {
                Some(n) => Some(Value::from(n)),
                None => {
                    self.problem(
                        pointer,
                        format!(
                            "`{}` is not a whole number or a mapping {{limit, collision_strategy, \
                             grace_period_seconds}}",
                            yaml_text(other)
                        ),
                    );
                    None
                }
            },
        }
    }

    fn work_pool(&mut self, pointer: &str, value: &Value) -> Option<Value> {
        let pool = match value {
            Value::Null => return Some(Value::Null),
            Value::Object(p) => p,
            other => {
                self.problem(
                    pointer,
                    format!(
                        "`work_pool` is a mapping {{name, work_queue_name, job_variables}}, not \
                         {}{}",
                        kind(other),
                        if other.is_string() {
                            ": write `work_pool: {name: ...}`"
                        } else {
                            ""
                        }
                    ),
                );
                return None;
            }
        };
        let mut out = Map::new();
        for (key, v) in pool {
            let p = format!("{pointer}/{}", escape(key));
            match key.as_str() {
                "name" | "work_queue_name" => {
                    if let Some(s) = self.opt_str(pool, pointer, key) {
                        out.insert(key.clone(), Value::String(s));
                    } else if v.is_null() {
                        out.insert(key.clone(), Value::Null);
                    }
                }
                "job_variables" => {
                    if let Some(m) = self.mapping(&p, key, v) {
                        out.insert(key.clone(), Value::Object(m));
                    }
                }
                _ => self.unknown(&p, key, "work_pool"),
            }
        }
        Some(Value::Object(out))
    }

    /// One schedule: Prefect accepts a `RawScheduleConfig` (exactly one of cron/interval/
    /// rrule, and only its keys), or one of the API's schedule shapes; anything else rejects
    /// the file. Returns `Some(())` when acceptable.
    fn schedule(&mut self, pointer: &str, item: &Value) -> Option<()> {
        let Value::Object(map) = item else {
            self.problem(
                pointer,
                format!(
                    "a schedule is a mapping (cron, interval or rrule), not {}",
                    kind(item)
                ),
            );
            return None;
        };
        if map.is_empty() {
            return Some(());
        }
        const RAW: &[&str] = &[
            "cron",
            "interval",
            "rrule",
            "timezone",
            "anchor_date",
            "active",
            "parameters",
            "slug",
            "replaces",
            "day_or",
        ];
        const WRAPPED: &[&str] = &[
            "schedule",
            "active",
            "max_scheduled_runs",
            "parameters",
            "slug",
            "replaces",
        ];
        if map.contains_key("schedule") {
            if let Some(extra) = map.keys().find(|k| !WRAPPED.contains(&k.as_str())) {
                self.problem(
                    &format!("{pointer}/{}", escape(extra)),
                    format!("unknown schedule key `{extra}`"),
                );
                return None;
            }
            return Some(());
        }
        if let Some(extra) = map.keys().find(|k| !RAW.contains(&k.as_str())) {
            let hint = match extra.as_str() {
                "max_active_runs" | "catchup" => {
                    " (a Prefect 2 key that Prefect 3 no longer takes; remove it)"
                }
                _ => "",
            };
            self.problem(
                &format!("{pointer}/{}", escape(extra)),
                format!(
                    "unknown schedule key `{extra}`{hint}: a schedule takes {}",
                    RAW.join(", ")
                ),
            );
            return None;
        }
        let given: Vec<&str> = ["cron", "interval", "rrule"]
            .into_iter()
            .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if given.len() != 1 {
            self.problem(
                pointer,
                format!(
                    "a schedule needs exactly one of `cron`, `interval` or `rrule` ({})",
                    if given.is_empty() {
                        "none is given".to_owned()
                    } else {
                        format!("{} are given", given.join(" and "))
                    }
                ),
            );
            return None;
        }
        let mut ok = true;
        for key in ["cron", "rrule", "timezone", "slug", "replaces"] {
            if let Some(v) = map.get(key).filter(|v| !v.is_null())
                && !v.is_string()
            {
                self.problem(
                    &format!("{pointer}/{key}"),
                    format!("`{key}` takes text, not {}", kind(v)),
                );
                ok = false;
            }
        }
        if let Some(v) = map.get("anchor_date").filter(|v| !v.is_null()) {
            let is_date = self.is_timestamp(&format!("{pointer}/anchor_date"));
            if !(v.is_string() || is_date || v.is_number()) {
                self.problem(
                    &format!("{pointer}/anchor_date"),
                    format!("`anchor_date` is a date and time, not {}", kind(v)),
                );
                ok = false;
            }
        }
        if let Some(v) = map.get("interval").filter(|v| !v.is_null())
            && interval_seconds(v).is_none()
        {
            self.problem(
                &format!("{pointer}/interval"),
                format!(
                    "`{}` is not an interval: give seconds (3600), HH:MM:SS or an ISO 8601 \
                         duration (PT1H)",
                    yaml_text(v)
                ),
            );
            ok = false;
        }
        for key in ["active", "day_or"] {
            if let Some(v) = map.get(key).filter(|v| !v.is_null())
                && !(v.is_boolean() || v.is_string())
            {
                self.problem(
                    &format!("{pointer}/{key}"),
                    format!("`{key}` is true or false, not {}", kind(v)),
                );
                ok = false;
            }
        }
        if let Some(v) = map.get("parameters")
            && !v.is_object()
        {
            self.problem(
                &format!("{pointer}/parameters"),
                format!("`parameters` is a mapping, not {}", kind(v)),
            );
            ok = false;
        }
        ok.then_some(())
    }
}

/// How YAML wrote a scalar, roughly, for messages (`1.0`, `true`).
fn yaml_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Pydantic's lax `bool`.
pub(crate) fn lax_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// Pydantic's lax `int`: integers, integral floats, booleans and integer text.
pub(crate) fn lax_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().replace('_', "").parse().ok(),
        _ => None,
    }
}

/// An interval as pydantic's `timedelta` reads it: seconds (a number), `[D day[s], ]HH:MM:SS`
/// text, or an ISO 8601 duration (`PT1H30M`, `P1D`).
pub fn interval_seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_duration(s.trim()),
        _ => None,
    }
}

fn parse_duration(s: &str) -> Option<f64> {
    if let Ok(secs) = s.parse::<f64>() {
        return secs.is_finite().then_some(secs);
    }
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Some(iso) = body.strip_prefix('P') {
        let (date, time) = match iso.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (iso, None),
        };
        let mut total = 0.0;
        let mut any = false;
        for (part, units) in [
            (
                date,
                &[
                    ('Y', 365.0 * 86400.0),
                    ('M', 30.0 * 86400.0),
                    ('W', 7.0 * 86400.0),
                    ('D', 86400.0),
                ][..],
            ),
            (
                time.unwrap_or(""),
                &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..],
            ),
        ] {
            let mut rest = part;
            for (unit, factor) in units {
                if let Some(i) = rest.find(*unit) {
                    let n: f64 = rest[..i].replace(',', ".").parse().ok()?;
                    total += n * factor;
                    rest = &rest[i + 1..];
                    any = true;
                }
            }
            if !rest.is_empty() {
                return None;
            }
        }
        if time == Some("") {
            return None;
        }
        return any.then_some(sign * total);
    }
    // `[D day[s], ][H]H:MM:SS[.f]` or `MM:SS`.
    let (days, clock) = match body.split_once(',') {
        Some((d, c)) => {
            let d = d.trim();
            let n: f64 = d
                .strip_suffix("days")
                .or_else(|| d.strip_suffix("day"))
                .or_else(|| d.strip_suffix('d'))?
                .trim()
                .parse()
                .ok()?;
            (n, c.trim())
        }
        None => (0.0, body),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let nums: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok()).collect();
    let nums = nums?;
    let secs = match nums.as_slice() {
        [h, m, s] => h * 3600.0 + m * 60.0 + s,
        [m, s] => m * 60.0 + s,
        _ => return None,
    };
    Some(sign * (days * 86400.0 + secs))
}

#[cfg(test)]
mod tests;
