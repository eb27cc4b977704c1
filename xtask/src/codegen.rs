//! `cargo xtask codegen [--check]`: Prefect's OpenAPI document → the wire models in
//! `crates/schemas/src/api/generated.rs`.
//!
//! OpenAPI 3.1 as Prefect (pydantic) writes it becomes idiomatic Rust:
//!
//! * `anyOf [X, null]` → `Option<X>`; in request bodies an optional *and* nullable field is
//!   `Option<Option<X>>`, because Prefect tells "not sent" from "sent as null" (`exclude_unset`);
//! * unions whose members carry a constant `type` → `#[serde(tag = "type")]` enums;
//! * other unions → `#[serde(untagged)]` enums (shared when their variants are the same);
//! * `number | duration string` → `prefab_schemas::api::Seconds`;
//! * `additionalProperties` with a schema → `IndexMap<String, T>`, free-form objects →
//!   `serde_json::Map` (parameters, job variables, schemas);
//! * `-Input` / `-Output` twins that come out identical become one type;
//! * the schedule schemas map to the hand-written types of `prefab_schemas::schedules`, which
//!   carry the schedule computation — one source of truth.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs;

use serde_json::{Map, Value};

use crate::workspace_root;

const SPEC: &str = "openapi/prefect-3.9.1.json";
const SUPPLEMENT: &str = "openapi/prefect-cloud-supplement.json";
const OUTPUT: &str = "crates/schemas/src/api/generated.rs";

/// Schemas whose models are generated (with everything they reference), and how each is used.
const ROOTS: &[(&str, Use)] = &[
    ("Flow", Use::Response),
    ("FlowCreate", Use::Request),
    ("DeploymentResponse", Use::Response),
    ("DeploymentCreate", Use::Request),
    ("DeploymentUpdate", Use::Request),
    ("DeploymentSchedule", Use::Response),
    ("DeploymentPaginationResponse", Use::Response),
    ("ConcurrencyOptions", Use::Request),
    ("VersionInfo", Use::Request),
    ("WorkPoolCreate", Use::Request),
    ("WorkPoolResponse", Use::Response),
    ("WorkQueueResponse", Use::Response),
    ("FlowRun", Use::Response),
    ("FlowRunResponse", Use::Response),
    ("FlowRunCreate", Use::Request),
    ("DeploymentFlowRunCreate", Use::Request),
    ("Automation", Use::Response),
    ("AutomationCreate", Use::Request),
    ("Body_read_flows_flows_filter_post", Use::Request),
    (
        "Body_read_deployments_deployments_filter_post",
        Use::Request,
    ),
    (
        "Body_paginate_deployments_deployments_paginate_post",
        Use::Request,
    ),
    (
        "Body_count_deployments_deployments_count_post",
        Use::Request,
    ),
    (
        "Body_read_automations_automations_filter_post",
        Use::Request,
    ),
    ("Body_read_flow_runs_flow_runs_filter_post", Use::Request),
    (
        "Body_schedule_deployment_deployments__id__schedule_post",
        Use::Request,
    ),
    (
        "Body_read_work_queues_work_pools__work_pool_name__queues_filter_post",
        Use::Request,
    ),
];

/// OpenAPI names → Rust names, where the OpenAPI name is not the one a Rust user looks for.
const RENAMES: &[(&str, &str)] = &[
    ("DeploymentResponse", "Deployment"),
    ("WorkPoolResponse", "WorkPool"),
    ("Body_read_flows_flows_filter_post", "FlowFilterRequest"),
    (
        "Body_read_deployments_deployments_filter_post",
        "DeploymentFilterRequest",
    ),
    (
        "Body_paginate_deployments_deployments_paginate_post",
        "DeploymentPaginateRequest",
    ),
    (
        "Body_count_deployments_deployments_count_post",
        "DeploymentCountRequest",
    ),
    (
        "Body_read_automations_automations_filter_post",
        "AutomationFilterRequest",
    ),
    (
        "Body_read_flow_runs_flow_runs_filter_post",
        "FlowRunFilterRequest",
    ),
    (
        "Body_schedule_deployment_deployments__id__schedule_post",
        "ScheduleDeploymentRequest",
    ),
    (
        "Body_read_work_queues_work_pools__work_pool_name__queues_filter_post",
        "WorkQueueFilterRequest",
    ),
];

/// Schemas implemented by hand (with their computation) in `prefab_schemas::schedules`.
const HAND_WRITTEN: &[(&str, &str)] = &[
    (
        "IntervalSchedule-Input",
        "crate::schedules::IntervalSchedule",
    ),
    (
        "IntervalSchedule-Output",
        "crate::schedules::IntervalSchedule",
    ),
    ("CronSchedule", "crate::schedules::CronSchedule"),
    ("RRuleSchedule", "crate::schedules::RRuleSchedule"),
    (
        "DeploymentScheduleCreate",
        "crate::schedules::DeploymentScheduleCreate",
    ),
    (
        "DeploymentScheduleUpdate",
        "crate::schedules::DeploymentScheduleUpdate",
    ),
];

/// Names for inline string enums that several schemas share (keyed by their values).
const ENUM_NAMES: &[(&str, &str)] = &[
    ("selected|inferred", "ActionSource"),
    ("any|all", "RequireKeyword"),
    ("<|<=|>|>=", "MetricTriggerOperator"),
];

/// Names for unions whose members share no name suffix.
const UNION_NAMES: &[(&str, &str)] = &[("DoNothing", "Action")];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    Request,
    Response,
}

pub(crate) fn run(check: bool) -> Result<(), String> {
    let root = workspace_root();
    let spec_path = root.join(SPEC);
    let text =
        fs::read_to_string(&spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let mut spec: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let sup_path = root.join(SUPPLEMENT);
    let sup_text =
        fs::read_to_string(&sup_path).map_err(|e| format!("{}: {e}", sup_path.display()))?;
    let supplement: Value =
        serde_json::from_str(&sup_text).map_err(|e| format!("{}: {e}", sup_path.display()))?;
    add_supplement(&mut spec, &supplement)?;
    let code = generate(&spec)?;
    let out = root.join(OUTPUT);
    let current = fs::read_to_string(&out).unwrap_or_default();
    if check {
        if current != code {
            return Err(format!(
                "{OUTPUT} is stale: run `cargo xtask codegen` and commit the result"
            ));
        }
        eprintln!("xtask: {OUTPUT} is up to date");
        return Ok(());
    }
    if current != code {
        fs::write(&out, &code).map_err(|e| format!("{}: {e}", out.display()))?;
        let _ = std::process::Command::new("rustfmt")
            .args(["--edition", "2024"])
            .arg(&out)
            .status();
        eprintln!("xtask: wrote {OUTPUT}");
    } else {
        eprintln!("xtask: {OUTPUT} unchanged");
    }
    Ok(())
}

/// Adds the Cloud-only schemas, and the metric trigger to every trigger union (after the event
/// trigger, the order Prefect's client lists them in).
fn add_supplement(spec: &mut Value, supplement: &Value) -> Result<(), String> {
    let extra = supplement
        .get("schemas")
        .and_then(Value::as_object)
        .ok_or("supplement has no schemas")?;
    let schemas = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or("the OpenAPI document has no components.schemas")?;
    for (name, schema) in extra {
        schemas.insert(name.clone(), schema.clone());
    }
    fn patch(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(members)) = map.get_mut("anyOf") {
                    let at = members.iter().position(|m| {
                        m.get("$ref")
                            .and_then(Value::as_str)
                            .is_some_and(|r| r.contains("/EventTrigger-"))
                    });
                    if let Some(at) = at {
                        members.insert(
                            at + 1,
                            serde_json::json!({"$ref": "#/components/schemas/MetricTrigger"}),
                        );
                    }
                }
                map.values_mut().for_each(patch);
            }
            Value::Array(items) => items.iter_mut().for_each(patch),
            _ => {}
        }
    }
    schemas.values_mut().for_each(patch);
    Ok(())
}

/// The whole generated file, formatted the way rustfmt leaves it (so `--check` compares exactly).
fn generate(spec: &Value) -> Result<String, String> {
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .ok_or("the OpenAPI document has no components.schemas")?;
    let mut g = Generator::new(schemas);
    for &(name, usage) in ROOTS {
        if !schemas.contains_key(name) {
            return Err(format!("root schema {name} is not in {SPEC}"));
        }
        g.mark_use(name, usage);
    }
    for &(name, _) in ROOTS {
        g.enqueue(name);
    }
    g.drain()?;
    let body = g.finish();
    rustfmt(&body)
}

fn rustfmt(code: &str) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt has no stdin")?
        .write_all(code.as_bytes())
        .map_err(|e| format!("feeding rustfmt: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected the generated code:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}

struct Generator<'a> {
    schemas: &'a Map<String, Value>,
    /// Rust names of the types that appear in request bodies (an `-Input` twin makes its
    /// `-Output` twin a request type too: they are one Rust type).
    request: BTreeSet<String>,
    queue: VecDeque<String>,
    done: BTreeSet<String>,
    /// Rust item name → its code.
    items: BTreeMap<String, String>,
    /// Untagged unions by their variant list → the name given first.
    unions: HashMap<String, String>,
    /// Inline string enums by their values → the name given first.
    inline_enums: HashMap<String, String>,
    /// Member schema names of tagged unions (their `type` field is the enum's tag).
    tagged_members: BTreeSet<String>,
}

impl<'a> Generator<'a> {
    fn new(schemas: &'a Map<String, Value>) -> Self {
        Generator {
            schemas,
            request: BTreeSet::new(),
            queue: VecDeque::new(),
            done: BTreeSet::new(),
            items: BTreeMap::new(),
            unions: HashMap::new(),
            inline_enums: HashMap::new(),
            tagged_members: BTreeSet::new(),
        }
    }

    /// Records the schemas reachable from `name` as used in requests.
    fn mark_use(&mut self, name: &str, usage: Use) {
        if usage != Use::Request {
            return;
        }
        let mut seen = BTreeSet::new();
        let mut stack = vec![name.to_owned()];
        while let Some(n) = stack.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            self.request.insert(rust_name(&n));
            if let Some(schema) = self.schemas.get(&n) {
                refs(schema, &mut stack);
            }
        }
    }

    fn enqueue(&mut self, name: &str) {
        if !self.done.contains(name) {
            self.queue.push_back(name.to_owned());
        }
    }

    fn drain(&mut self) -> Result<(), String> {
        while let Some(name) = self.queue.pop_front() {
            if !self.done.insert(name.clone()) || hand_written(&name).is_some() {
                continue;
            }
            let schema = self
                .schemas
                .get(&name)
                .ok_or_else(|| format!("dangling $ref to {name}"))?
                .clone();
            self.emit_schema(&name, &schema)?;
        }
        Ok(())
    }

    fn finish(self) -> String {
        let mut out = String::from(
            "// generated by `cargo xtask codegen` from openapi/prefect-3.9.1.json, do not edit.\n\
             //! Prefect 3.9.1 API models, generated from the server's OpenAPI document.\n\
             //!\n\
             //! Regenerate with `cargo xtask codegen`; CI runs `cargo xtask codegen --check`.\n\n\
             #![allow(clippy::large_enum_variant, clippy::derive_partial_eq_without_eq)]\n\n\
             use indexmap::IndexMap;\n\
             use jiff::Timestamp;\n\
             use serde::{Deserialize, Serialize};\n\
             use serde_json::{Map, Value};\n\
             use uuid::Uuid;\n\n\
             use super::Seconds;\n\n",
        );
        for code in self.items.values() {
            out.push_str(code);
            out.push('\n');
        }
        out
    }

    fn emit_schema(&mut self, name: &str, schema: &Value) -> Result<(), String> {
        let rust = rust_name(name);
        let doc = doc_of(schema);
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let code = enum_code(&rust, &doc, values);
            return self.add_item(&rust, code);
        }
        let props = schema.get("properties").and_then(Value::as_object);
        match props {
            Some(props) => self.emit_struct(name, &rust, &doc, schema, props),
            None => {
                // A map schema (e.g. ResourceSpecification) becomes a type alias.
                let ty = self.object_type(schema, &rust, "Value")?;
                let code = format!("{doc}pub type {rust} = {ty};\n");
                self.add_item(&rust, code)
            }
        }
    }

    fn add_item(&mut self, rust: &str, code: String) -> Result<(), String> {
        // `-Input`/`-Output` twins differ where the input also accepts a duration string
        // (`number | duration`) and the output is a plain number: both are `Seconds`.
        if let Some(merged) = self
            .items
            .get(rust)
            .and_then(|existing| merge_seconds(existing, &code))
        {
            self.items.insert(rust.to_owned(), merged);
            return Ok(());
        }
        match self.items.get(rust) {
            Some(existing) if *existing != code => Err(format!(
                "two different schemas generate `{rust}`; add a rename to xtask/src/codegen.rs\n--- first\n{existing}\n--- second\n{code}"
            )),
            _ => {
                self.items.insert(rust.to_owned(), code);
                Ok(())
            }
        }
    }

    fn emit_struct(
        &mut self,
        name: &str,
        rust: &str,
        doc: &str,
        schema: &Value,
        props: &Map<String, Value>,
    ) -> Result<(), String> {
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let request = self.request.contains(rust);
        let tag_member = self.tagged_members.contains(name);
        let mut fields = String::new();
        let mut ctor_args = Vec::new();
        let mut ctor_fields = Vec::new();
        let mut all_default = true;
        for (prop, prop_schema) in props {
            if tag_member && prop == "type" && prop_schema.get("const").is_some() {
                continue; // the enclosing tagged enum writes it
            }
            let field = field_ident(prop);
            let ctx = format!("{rust}{}", camel(prop));
            let (ty, nullable) = self.type_of(prop_schema, &ctx)?;
            let is_required = required.contains(prop.as_str());
            let mut fdoc = doc_of(prop_schema);
            if fdoc.is_empty() {
                fdoc = format!("/// The `{prop}` field.\n");
            }
            let rename = if field.trim_start_matches("r#") != prop {
                format!("#[serde(rename = \"{prop}\")]\n")
            } else {
                String::new()
            };
            let (attr, full_ty) = match (is_required, nullable) {
                (true, false) => (String::new(), ty.clone()),
                (true, true) => ("#[serde(default)]\n".to_owned(), format!("Option<{ty}>")),
                (false, false) => (
                    "#[serde(default, skip_serializing_if = \"Option::is_none\")]\n".to_owned(),
                    format!("Option<{ty}>"),
                ),
                (false, true) if request => (
                    "#[serde(default, skip_serializing_if = \"Option::is_none\", with = \"super::double_option\")]\n".to_owned(),
                    format!("Option<Option<{ty}>>"),
                ),
                (false, true) => ("#[serde(default)]\n".to_owned(), format!("Option<{ty}>")),
            };
            let _ = writeln!(fields, "{fdoc}{rename}{attr}pub {field}: {full_ty},");
            if is_required && !nullable {
                ctor_args.push(format!("{field}: {full_ty}"));
                ctor_fields.push(field.clone());
                if !defaultable(&ty) {
                    all_default = false;
                }
            } else {
                ctor_fields.push(format!("{field}: Default::default()"));
            }
        }
        let extra = schema.get("additionalProperties") == Some(&Value::Bool(true));
        if extra {
            fields.push_str(
                "/// Fields beyond the documented ones (the schema allows any).\n\
                 #[serde(flatten)]\npub extra: Map<String, Value>,\n",
            );
            ctor_fields.push("extra: Map::new()".to_owned());
        }
        let default = if all_default && ctor_args.is_empty() {
            ", Default"
        } else {
            ""
        };
        let mut code = format!(
            "{doc}#[derive(Debug, Clone, PartialEq, Serialize, Deserialize{default})]\n#[non_exhaustive]\npub struct {rust} {{\n{fields}}}\n"
        );
        if !(all_default && ctor_args.is_empty()) {
            let _ = write!(
                code,
                "\nimpl {rust} {{\n/// A value with the required fields set and every other field unset.\n#[allow(clippy::too_many_arguments)]\npub fn new({}) -> Self {{\nSelf {{ {} }}\n}}\n}}\n",
                ctor_args.join(", "),
                ctor_fields.join(", ")
            );
        }
        self.add_item(rust, code)
    }

    /// The Rust type of a schema, and whether it admits `null`.
    fn type_of(&mut self, schema: &Value, ctx: &str) -> Result<(String, bool), String> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return Ok((self.ref_type(r), false));
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array)
            && let [one] = all.as_slice()
        {
            return self.type_of(one, ctx);
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            let nullable = any
                .iter()
                .any(|s| s.get("type").and_then(Value::as_str) == Some("null"));
            let rest: Vec<&Value> = any
                .iter()
                .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            let ty = self.union_type(&rest, ctx)?;
            return Ok((ty, nullable));
        }
        let ty = match schema.get("type").and_then(Value::as_str) {
            None => "Value".to_owned(),
            Some("null") => return Ok(("Value".to_owned(), true)),
            Some("string") => match schema.get("format").and_then(Value::as_str) {
                Some("uuid") => "Uuid".to_owned(),
                Some("date-time") => "Timestamp".to_owned(),
                Some("duration") => "Seconds".to_owned(),
                _ => match schema.get("enum").and_then(Value::as_array) {
                    Some(values) if schema.get("const").is_none() => {
                        let key: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                        let key = key.join("|");
                        if let Some(name) = self.inline_enums.get(&key) {
                            name.clone()
                        } else {
                            let name = ENUM_NAMES
                                .iter()
                                .find(|(k, _)| *k == key)
                                .map_or_else(|| ctx.to_owned(), |(_, n)| (*n).to_owned());
                            let code = enum_code(&name, &doc_of(schema), values);
                            self.add_item(&name, code)?;
                            self.inline_enums.insert(key, name.clone());
                            name
                        }
                    }
                    _ => "String".to_owned(),
                },
            },
            Some("integer") => "i64".to_owned(),
            Some("number") => match schema.get("format").and_then(Value::as_str) {
                Some("time-delta") => "Seconds".to_owned(),
                _ => "f64".to_owned(),
            },
            Some("boolean") => "bool".to_owned(),
            Some("array") => {
                let items = schema
                    .get("items")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new()));
                let (inner, nullable) = self.type_of(&items, &format!("{ctx}Item"))?;
                if nullable {
                    format!("Vec<Option<{inner}>>")
                } else {
                    format!("Vec<{inner}>")
                }
            }
            Some("object") => self.object_type(schema, ctx, "Value")?,
            Some(other) => return Err(format!("{ctx}: unsupported schema type {other}")),
        };
        Ok((ty, false))
    }

    fn object_type(
        &mut self,
        schema: &Value,
        ctx: &str,
        _fallback: &str,
    ) -> Result<String, String> {
        match schema.get("additionalProperties") {
            Some(ap @ Value::Object(m)) if !m.is_empty() => {
                let (inner, nullable) = self.type_of(ap, &format!("{ctx}Value"))?;
                Ok(if nullable {
                    format!("IndexMap<String, Option<{inner}>>")
                } else {
                    format!("IndexMap<String, {inner}>")
                })
            }
            _ => Ok("Map<String, Value>".to_owned()),
        }
    }

    fn ref_type(&mut self, reference: &str) -> String {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        if let Some(path) = hand_written(name) {
            return path.to_owned();
        }
        self.enqueue(name);
        // A map schema is an alias: use what it stands for, so unions of it and the same map
        // written inline collapse into one type.
        if let Some(schema) = self.schemas.get(name)
            && schema.get("properties").is_none()
            && schema.get("enum").is_none()
            && let Ok(ty) = self.object_type(schema, &rust_name(name), "Value")
        {
            return ty;
        }
        rust_name(name)
    }

    fn union_type(&mut self, members: &[&Value], ctx: &str) -> Result<String, String> {
        match members {
            [] => return Ok("Value".to_owned()),
            [one] => return Ok(self.type_of(one, ctx)?.0),
            _ => {}
        }
        // `number | duration string` (and `number | string` for intervals) are seconds.
        let kinds: Vec<(Option<&str>, Option<&str>)> = members
            .iter()
            .map(|m| {
                (
                    m.get("type").and_then(Value::as_str),
                    m.get("format").and_then(Value::as_str),
                )
            })
            .collect();
        if kinds
            .iter()
            .all(|k| matches!(k, (Some("number"), _) | (Some("string"), Some("duration"))))
        {
            return Ok("Seconds".to_owned());
        }
        let ref_names: Vec<&str> = members
            .iter()
            .filter_map(|m| m.get("$ref").and_then(Value::as_str))
            .map(|r| r.rsplit('/').next().unwrap_or(r))
            .collect();
        if ref_names.len() == members.len() {
            // The three schedule kinds: one hand-written enum.
            if ref_names.iter().all(|n| hand_written(n).is_some()) {
                return Ok("crate::schedules::Schedule".to_owned());
            }
            let consts: Option<Vec<String>> = ref_names
                .iter()
                .map(|n| {
                    self.schemas
                        .get(*n)
                        .and_then(|s| s.pointer("/properties/type/const"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            if let Some(consts) = consts {
                return self.tagged_union(&ref_names, &consts);
            }
        }
        // Otherwise an untagged union of distinct Rust types.
        let mut variants: Vec<(String, String)> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let (ty, _) = self.type_of(m, &format!("{ctx}Value{i}"))?;
            if variants.iter().any(|(_, t)| *t == ty) {
                continue;
            }
            variants.push((variant_name(&ty, m), ty));
        }
        if let [(_, ty)] = variants.as_slice() {
            return Ok(ty.clone());
        }
        let key = variants
            .iter()
            .map(|(v, t)| format!("{v}:{t}"))
            .collect::<Vec<_>>()
            .join("|");
        if let Some(name) = self.unions.get(&key) {
            return Ok(name.clone());
        }
        let name = if key == "String:String|List:Vec<String>" {
            "StringOrList".to_owned()
        } else {
            ctx.to_owned()
        };
        self.unions.insert(key, name.clone());
        let mut code = format!(
            "/// One of several shapes (an untagged union in the API).\n#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n#[serde(untagged)]\npub enum {name} {{\n"
        );
        for (v, t) in &variants {
            let _ = writeln!(
                code,
                "/// A value of type `{}`.\n{v}({t}),",
                t.replace('<', "&lt;").replace('>', "&gt;")
            );
        }
        code.push_str("}\n");
        self.add_item(&name, code)?;
        Ok(name)
    }

    fn tagged_union(&mut self, members: &[&str], tags: &[String]) -> Result<String, String> {
        let rust: Vec<String> = members.iter().map(|m| rust_name(m)).collect();
        let suffix = common_suffix(&rust);
        let name = UNION_NAMES
            .iter()
            .find(|(first, _)| rust.first().is_some_and(|r| r == first))
            .map(|(_, n)| (*n).to_owned())
            .or_else(|| (!suffix.is_empty()).then(|| suffix.clone()))
            .ok_or_else(|| {
                format!("no name for the union of {members:?}: add one to UNION_NAMES")
            })?;
        let mut code = format!(
            "/// One of the API's `{name}` kinds, told apart by their `type` field.\n#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n#[serde(tag = \"type\")]\n#[non_exhaustive]\npub enum {name} {{\n"
        );
        for ((member, r), tag) in members.iter().zip(&rust).zip(tags) {
            self.tagged_members.insert((*member).to_owned());
            self.enqueue(member);
            let variant = r
                .strip_suffix(suffix.as_str())
                .filter(|v| !v.is_empty())
                .unwrap_or(r);
            let _ = writeln!(
                code,
                "/// `type: \"{tag}\"`.\n#[serde(rename = \"{tag}\")]\n{variant}({r}),"
            );
        }
        code.push_str("}\n");
        self.add_item(&name, code)?;
        Ok(name)
    }
}

/// `a` and `b` line by line, where the only differences are `f64` in one and `Seconds` in the
/// other: the `Seconds` reading of both.
fn merge_seconds(a: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if la.len() != lb.len() {
        return None;
    }
    let mut out = String::new();
    for (x, y) in la.iter().zip(&lb) {
        let line = if x == y {
            *x
        } else if x.replace("f64", "Seconds") == *y {
            *y
        } else if y.replace("f64", "Seconds") == *x {
            *x
        } else {
            return None;
        };
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

fn refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(r) = v.as_str() {
                        out.push(r.rsplit('/').next().unwrap_or(r).to_owned());
                    }
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn hand_written(name: &str) -> Option<&'static str> {
    HAND_WRITTEN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
}

fn rust_name(schema: &str) -> String {
    if let Some((_, r)) = RENAMES.iter().find(|(n, _)| *n == schema) {
        return (*r).to_owned();
    }
    let base = schema
        .strip_suffix("-Input")
        .or_else(|| schema.strip_suffix("-Output"))
        .unwrap_or(schema);
    camel(base)
}

fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in s.chars() {
        if c == '_' || c == '-' || c == '.' || c == ' ' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn field_ident(prop: &str) -> String {
    let mut s: String = prop
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    const KEYWORDS: &[&str] = &[
        "type", "match", "ref", "use", "mod", "fn", "in", "loop", "move", "self", "async", "await",
        "where", "enum", "struct", "const", "static", "crate", "super", "impl", "trait", "let",
        "mut", "return", "for", "if", "else", "while", "break", "continue", "as", "dyn", "pub",
        "true", "false", "unsafe", "extern", "box", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

fn enum_code(name: &str, doc: &str, values: &[Value]) -> String {
    let fallback = format!("/// The values `{name}` can take.\n");
    let doc = if doc.is_empty() {
        fallback.as_str()
    } else {
        doc
    };
    let mut code = format!(
        "{doc}#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]\n#[non_exhaustive]\npub enum {name} {{\n"
    );
    for v in values.iter().filter_map(Value::as_str) {
        let mut variant = match v {
            "<" => "Lt".to_owned(),
            "<=" => "Lte".to_owned(),
            ">" => "Gt".to_owned(),
            ">=" => "Gte".to_owned(),
            _ => camel(&v.to_lowercase()),
        };
        if variant.is_empty() || variant.starts_with(|c: char| c.is_ascii_digit()) {
            variant.insert(0, 'V');
        }
        let _ = writeln!(code, "/// `{v}`.\n#[serde(rename = \"{v}\")]\n{variant},");
    }
    code.push_str("}\n");
    code
}

fn variant_name(ty: &str, schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return rust_name(r.rsplit('/').next().unwrap_or(r));
    }
    match ty {
        "String" => "String".into(),
        "i64" => "Integer".into(),
        "f64" => "Number".into(),
        "bool" => "Bool".into(),
        "Value" => "Any".into(),
        t if t.starts_with("Vec<") => "List".into(),
        t if t.starts_with("IndexMap<") || t.starts_with("Map<") => "Object".into(),
        t => t.rsplit("::").next().unwrap_or(t).to_owned(),
    }
}

fn common_suffix(names: &[String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    // Suffixes that start at a capital letter, longest first.
    let starts: Vec<usize> = first
        .char_indices()
        .filter(|(_, c)| c.is_ascii_uppercase())
        .map(|(i, _)| i)
        .collect();
    for &i in &starts {
        let suffix = &first[i..];
        if suffix.len() < first.len()
            && names
                .iter()
                .all(|n| n.ends_with(suffix) && n.len() > suffix.len())
        {
            return suffix.to_owned();
        }
    }
    String::new()
}

fn defaultable(ty: &str) -> bool {
    ty.starts_with("Option<")
        || ty.starts_with("Vec<")
        || ty.starts_with("IndexMap<")
        || ty.starts_with("Map<")
        || matches!(ty, "String" | "bool" | "i64" | "f64" | "Value")
}

fn doc_of(schema: &Value) -> String {
    let text = schema
        .get("description")
        .and_then(Value::as_str)
        .or_else(|| schema.get("title").and_then(Value::as_str))
        .unwrap_or("")
        .trim();
    if text.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for line in text.lines() {
        let line = line
            .trim_end()
            .replace('[', "\\[")
            .replace(']', "\\]")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        if line.is_empty() {
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {line}");
        }
    }
    out
}
