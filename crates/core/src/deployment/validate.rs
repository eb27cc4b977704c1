//! Local parameter validation: the verdicts Prefect 3.9.1's server gives on a deployment's
//! parameters, computed before any request (a prefab addition, on by default; it acts only
//! locally).
//!
//! The server checks parameters against `parameter_openapi_schema` only when
//! `enforce_parameter_schema` is on, and in two places with different rules (read from
//! `prefect/server/schemas/actions.py`, `_internal/schemas/validators.py`,
//! `server/api/deployments.py` and `utilities/schema_tools/validation.py`):
//!
//! * **create** (`POST /deployments/`, refused with 422): `DeploymentCreate`'s
//!   `validate_values_conform_to_schema(parameters, schema, ignore_required=True)` — plain
//!   `jsonschema.validate` (draft from `$schema`, else 2020-12; no format assertion; no remote
//!   `$ref`) against the schema with every `required` key removed (dicts only, not inside lists);
//! * **update** (`PATCH /deployments/{id}`, refused with 409): `validate(…, ignore_required=True)`
//!   — Prefect's own 2020-12 validator on `preprocess_schema(schema)` (non-required properties
//!   without a default made nullable, list-form `items` turned into `prefixItems`, block
//!   definitions also accepting a `$ref`), again without `required`. The parameters are hydrated
//!   first, so values holding `__prefect_kind` are left to the server.
//!
//! A missing required property, even inside a nested model, is therefore accepted; wrong types
//! and values outside an `enum` are refused. Schedule parameters are not checked by the server
//! at all (runs scheduled from them get them merged over the deployment's): a violation there
//! is reported as a warning, never refused.
//!
//! ```
//! use prefab_core::deployment::{Endpoint, Verdict, server_verdict};
//! use serde_json::json;
//!
//! let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
//! let ok = server_verdict(&schema, json!({}).as_object().unwrap(), Endpoint::Create);
//! assert!(matches!(ok, Verdict::Accepted)); // missing required: accepted
//! let bad = server_verdict(&schema, json!({"n": "x"}).as_object().unwrap(), Endpoint::Create);
//! assert!(matches!(bad, Verdict::Refused(_)));
//! ```

use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value, json};

use super::RunnerDeployment;
use super::error::DeploymentError;

/// Which server endpoint's rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /deployments/` (a new deployment): refused with 422.
    Create,
    /// `PATCH /deployments/{id}` (an existing deployment): refused with 409.
    Update,
}

/// One value the parameter schema refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParameterViolation {
    /// Where the parameters are: `parameters` or `schedules[1].parameters`.
    pub source: String,
    /// The parameter and the path inside it (`region`, `job.window.days`, `items[2]`); empty
    /// for the parameters object itself.
    pub path: String,
    /// The schema rule (JSON Schema keyword) that failed: `type`, `enum`, `anyOf`, …
    pub rule: String,
    /// What is wrong, e.g. `the value is not of type "string"`.
    pub message: String,
    /// The offending value, shortened; `***` where the schema marks it secret (`writeOnly`,
    /// `format: password`).
    pub value: String,
}

impl std::fmt::Display for ParameterViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(
                f,
                "{}: {} (rule `{}`)",
                self.source, self.message, self.rule
            )
        } else {
            write!(
                f,
                "{}.{} = {}: {} (rule `{}`)",
                self.source, self.path, self.value, self.message, self.rule
            )
        }
    }
}

/// The server's verdict on a set of parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server accepts them.
    Accepted,
    /// The server refuses them, for these reasons (all of them; the server names the first).
    Refused(Vec<ParameterViolation>),
    /// Cannot be decided locally (why): the server decides.
    Unchecked(String),
}

impl Verdict {
    /// Whether the server refuses.
    pub fn is_refused(&self) -> bool {
        matches!(self, Verdict::Refused(_))
    }
}

/// The verdict of Prefect 3.9.1's server on `parameters` against `schema` at `endpoint`
/// (assuming `enforce_parameter_schema` is on). Violations name the source `parameters`.
pub fn server_verdict(
    schema: &Value,
    parameters: &Map<String, Value>,
    endpoint: Endpoint,
) -> Verdict {
    verdict_for(schema, parameters, endpoint, "parameters")
}

/// Parameter values nesting deeper than this are refused before validation: the server's
/// Python validator gives up on its recursion limit well before (and a file's JSON or YAML
/// parser already stops at 128 levels).
pub const MAX_PARAMETER_DEPTH: usize = 256;

/// Schemas nesting deeper than this are not compiled locally (the flow reader's deepest
/// parameter type, 161 nested lists, is about 500 levels of JSON with `anyOf` around each).
const MAX_SCHEMA_DEPTH: usize = 512;

/// Validation recurses once per level of the schema and the value, with large frames in
/// debug builds: it runs on a stack of its own, whatever the caller's (a tokio worker has
/// 2 MiB).
const VALIDATION_STACK: usize = 64 * 1024 * 1024;

/// Whether `v` nests arrays and objects more than `limit` deep (without recursing).
fn deeper_than(v: &Value, limit: usize) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    false
}

fn verdict_for(
    schema: &Value,
    parameters: &Map<String, Value>,
    endpoint: Endpoint,
    source: &str,
) -> Verdict {
    if let Some((name, value)) = parameters
        .iter()
        .find(|(_, v)| deeper_than(v, MAX_PARAMETER_DEPTH))
    {
        return Verdict::Refused(vec![ParameterViolation {
            source: source.to_owned(),
            path: name.clone(),
            rule: "depth".into(),
            message: format!(
                "the value nests deeper than {MAX_PARAMETER_DEPTH} levels, more than the server's validator handles: flatten it"
            ),
            value: match value {
                Value::Array(_) => "[…]".into(),
                _ => "{…}".into(),
            },
        }]);
    }
    if deeper_than(schema, MAX_SCHEMA_DEPTH) {
        return Verdict::Unchecked(format!(
            "the parameter schema nests deeper than {MAX_SCHEMA_DEPTH} levels, more than is checked locally"
        ));
    }
    stacker::maybe_grow(VALIDATION_STACK / 4, VALIDATION_STACK, || {
        verdict_on_this_stack(schema, parameters, endpoint, source)
    })
}

fn verdict_on_this_stack(
    schema: &Value,
    parameters: &Map<String, Value>,
    endpoint: Endpoint,
    source: &str,
) -> Verdict {
    let prepared = match endpoint {
        Endpoint::Create => remove_nested_required(schema),
        Endpoint::Update => {
            if holds_prefect_kind(&Value::Object(parameters.clone())) {
                return Verdict::Unchecked(
                    "the server hydrates `__prefect_kind` values before checking them".into(),
                );
            }
            remove_nested_required(&preprocess_schema(schema))
        }
    };
    let mut options = jsonschema::options()
        .offline()
        .should_validate_formats(false);
    if endpoint == Endpoint::Update {
        // Prefect's own validator class is always 2020-12, whatever `$schema` says.
        options = options.with_draft(jsonschema::Draft::Draft202012);
    }
    let validator = match options.build(&prepared) {
        Ok(v) => v,
        Err(e) => {
            return Verdict::Unchecked(format!(
                "the parameter schema cannot be compiled locally ({})",
                e.masked_with("a value")
            ));
        }
    };
    let instance = Value::Object(parameters.clone());
    let violations: Vec<ParameterViolation> = validator
        .iter_errors(&instance)
        .map(|e| {
            let segments: Vec<LocationSegment<'_>> = e.instance_path().segments().collect();
            let secret = segments
                .first()
                .and_then(|s| match s {
                    LocationSegment::Property(p) => schema.get("properties")?.get(p.as_ref()),
                    LocationSegment::Index(_) => None,
                })
                .is_some_and(is_secret_schema);
            ParameterViolation {
                source: source.to_owned(),
                path: render_path(&segments),
                rule: e.kind().keyword().to_owned(),
                message: e.masked_with("the value").to_string(),
                value: if secret {
                    "***".into()
                } else {
                    shorten(&e.instance().to_string())
                },
            }
        })
        .collect();
    if violations.is_empty() {
        Verdict::Accepted
    } else {
        Verdict::Refused(violations)
    }
}

/// What local validation found for a deployment: the verdict per endpoint on its own
/// parameters, and violations in schedule parameters (which the server accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParameterReport {
    /// The verdict of `POST /deployments/` (422 when refused).
    pub create: Verdict,
    /// The verdict of `PATCH /deployments/{id}` (409 when refused), when the update sends
    /// the parameters.
    pub update: Verdict,
    /// Schedule parameters the schema refuses: the server stores them anyway, but runs
    /// scheduled with them would get values the flow's schema refuses.
    pub schedule_warnings: Vec<ParameterViolation>,
}

impl RunnerDeployment {
    /// Checks the parameters (and each schedule's) against `parameter_openapi_schema` with
    /// the server's rules ([`server_verdict`]). With `enforce_parameter_schema` off the server
    /// checks nothing, and neither does this: every verdict is `Accepted`.
    pub fn check_parameters(&self) -> ParameterReport {
        if !self.enforce_parameter_schema {
            return ParameterReport {
                create: Verdict::Accepted,
                update: Verdict::Accepted,
                schedule_warnings: Vec::new(),
            };
        }
        let schema = self.parameter_openapi_schema.to_json();
        let create = verdict_for(&schema, &self.parameters, Endpoint::Create, "parameters");
        let update = verdict_for(&schema, &self.parameters, Endpoint::Update, "parameters");
        let mut schedule_warnings = Vec::new();
        for (i, s) in self.schedules.iter().flatten().enumerate() {
            if let Verdict::Refused(v) = verdict_for(
                &schema,
                &s.parameters,
                Endpoint::Create,
                &format!("schedules[{i}].parameters"),
            ) {
                schedule_warnings.extend(v);
            }
        }
        ParameterReport {
            create,
            update,
            schedule_warnings,
        }
    }

    /// Refuses, before any request, parameters the server would refuse whether the deployment
    /// is new or exists (`enforce_parameter_schema` on); returns the schedule-parameter
    /// warnings otherwise. Where the two endpoints disagree, [`apply`](super::apply) decides
    /// once it knows which one it calls.
    pub fn validate_parameters(&self) -> Result<Vec<ParameterViolation>, DeploymentError> {
        let report = self.check_parameters();
        match (&report.create, &report.update) {
            (Verdict::Refused(violations), Verdict::Refused(_)) => {
                Err(self.invalid_parameters(violations.clone()))
            }
            _ => Ok(report.schedule_warnings),
        }
    }

    pub(crate) fn invalid_parameters(
        &self,
        violations: Vec<ParameterViolation>,
    ) -> DeploymentError {
        DeploymentError::InvalidParameters {
            deployment: self.full_name(),
            violations,
        }
    }
}

/// The `required`-free schema of `ignore_required=True`: Prefect's `remove_nested_keys`
/// drops every `required` key of every nested dict (a property named `required` too), but
/// does not descend into lists (`anyOf`/`allOf` items keep theirs).
fn remove_nested_required(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "required")
                .map(|(k, v)| (k.clone(), remove_nested_required(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Prefect's `preprocess_schema(schema, allow_none_with_default=False)` (update path only).
fn preprocess_schema(schema: &Value) -> Value {
    let mut schema = schema.clone();
    let Value::Object(root) = &mut schema else {
        return schema;
    };
    let required = required_of(root);
    if let Some(Value::Object(props)) = root.get_mut("properties") {
        process_properties(props, &required);
    }
    if let Some(Value::Object(defs)) = root.get_mut("definitions") {
        let mut block_defs = Vec::new();
        for def in defs.values_mut() {
            let Value::Object(def) = def else { continue };
            let required = required_of(def);
            if let Some(Value::Object(props)) = def.get_mut("properties") {
                process_properties(props, &required);
            }
            if def.contains_key("block_type_slug") {
                block_defs.push(def.clone());
            }
        }
        // Block types may also be referenced by id: stored under the definition's title.
        for def in block_defs {
            let title = match def.get("title") {
                Some(Value::String(t)) => t.clone(),
                Some(other) => other.to_string(),
                None => continue,
            };
            defs.insert(
                title,
                json!({"oneOf": [Value::Object(def), {
                    "type": "object",
                    "properties": {"$ref": {"oneOf": [
                        {"type": "string", "format": "uuid"},
                        {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
                    ]}},
                    "required": ["$ref"],
                }]}),
            );
        }
    }
    schema
}

fn required_of(m: &Map<String, Value>) -> Vec<String> {
    m.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn process_properties(props: &mut Map<String, Value>, required: &[String]) {
    for (key, schema) in props.iter_mut() {
        let Value::Object(s) = schema else { continue };
        // `_fix_null_typing`: optional without a default → also null.
        if !required.contains(key)
            && s.get("type").is_some_and(|t| *t != "null")
            && !s.contains_key("default")
            && let Some(t) = s.remove("type")
        {
            s.insert("anyOf".into(), json!([{"type": t}, {"type": "null"}]));
        }
        // `_fix_tuple_items`: list-form `items` → `prefixItems`.
        if matches!(s.get("items"), Some(Value::Array(a)) if !a.is_empty())
            && s.get("prefixItems").is_none_or(|p| !truthy(p))
            && let Some(items) = s.remove("items")
        {
            s.insert("prefixItems".into(), items);
        }
        if s.contains_key("properties") {
            let nested_required = required_of(s);
            if let Some(Value::Object(p)) = s.get_mut("properties") {
                process_properties(p, &nested_required);
            }
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
    }
}

fn holds_prefect_kind(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("__prefect_kind") || m.values().any(holds_prefect_kind),
        Value::Array(a) => a.iter().any(holds_prefect_kind),
        _ => false,
    }
}

fn is_secret_schema(s: &Value) -> bool {
    s.get("writeOnly") == Some(&Value::Bool(true))
        || s.get("format").and_then(Value::as_str) == Some("password")
}

fn render_path(segments: &[LocationSegment<'_>]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            LocationSegment::Property(p) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(p);
            }
            LocationSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// The message of [`DeploymentError::InvalidParameters`].
pub(crate) fn describe_invalid(deployment: &str, violations: &[ParameterViolation]) -> String {
    let list: Vec<String> = violations.iter().map(|v| format!("  - {v}")).collect();
    format!(
        "deployment {deployment}: the Prefect server would refuse its parameters \
         (enforce_parameter_schema is on and they do not match the flow's parameter schema):\n{}\n\
         Fix the values to match the flow's parameters, or set enforce_parameter_schema to false \
         to store them unchecked.",
        list.join("\n")
    )
}

#[cfg(test)]
mod tests;
