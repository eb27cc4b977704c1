//! Local parameter validation against the real Prefect 3.9.1 server: for every case of the
//! table, the deployment is sent with local validation bypassed (raw requests through
//! `prefab_client`, bodies from `create_body` / `update_body`) — once as a create
//! (`POST /deployments/`, 422 when refused) and once as an update of an existing deployment
//! (`PATCH /deployments/{id}`, 409 when refused) — and prefab's local verdicts must equal the
//! server's. The expected column documents what the server was measured to do; the test fails
//! if the server disagrees with it, so the table cannot pass vacuously.

mod support;

use http::Method;
use prefab_client::request::{ApiRequest, Safety};
use prefab_client::{ClientConfig, PrefectClient};
use prefab_core::deployment::{DeploymentSchedule, RunnerDeployment, ScheduleArgs, Verdict};
use prefab_core::flow::ParameterSchema;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Refused (`R`) or accepted (`A`), as create / update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    A,
    R,
}

struct Case {
    id: &'static str,
    /// Parameter properties (the `properties` of the schema).
    properties: Value,
    /// `required` of the schema.
    required: &'static [&'static str],
    /// Parameters of the deployment.
    parameters: Value,
    /// Parameters of its one schedule (`None`: no schedule).
    schedule_parameters: Option<Value>,
    /// `enforce_parameter_schema`.
    enforce: bool,
    /// Frozen parameters (readOnly + enum), as `frozen_parameter` sets them.
    frozen: Value,
    /// What the server answers: create, update.
    expect: (V, V),
}

fn case(id: &'static str, properties: Value, parameters: Value, expect: (V, V)) -> Case {
    Case {
        id,
        properties,
        required: &[],
        parameters,
        schedule_parameters: None,
        enforce: true,
        frozen: json!({}),
        expect,
    }
}

/// Definitions shared by the cases, as pydantic 2 writes them for Prefect.
fn definitions() -> Value {
    json!({
        "Address": {"properties": {
                "street": {"title": "Street", "type": "string"},
                "zip": {"title": "Zip", "type": "integer"},
                "country": {"default": "US", "title": "Country", "type": "string"}},
            "required": ["street", "zip"], "title": "Address", "type": "object"},
        "Customer": {"properties": {
                "name": {"title": "Name", "type": "string"},
                "address": {"$ref": "#/definitions/Address"},
                "tags": {"default": [], "items": {"type": "string"}, "title": "Tags", "type": "array"}},
            "required": ["name", "address"], "title": "Customer", "type": "object"},
        "Priority": {"enum": ["low", "high"], "title": "Priority", "type": "string"},
    })
}

fn p(title: &str, position: u32, schema: Value) -> Value {
    let mut m = schema.as_object().unwrap().clone();
    m.insert("title".into(), json!(title));
    m.insert("position".into(), json!(position));
    Value::Object(m)
}

fn table() -> Vec<Case> {
    use V::{A, R};
    let int = || json!({"n": p("n", 0, json!({"type": "integer"}))});
    let customer =
        || json!({"customer": p("customer", 0, json!({"$ref": "#/definitions/Customer"}))});
    let mut cases = vec![
        case("int-ok", int(), json!({"n": 3}), (A, A)),
        case("int-given-string", int(), json!({"n": "3"}), (R, R)),
        case("int-given-integral-float", int(), json!({"n": 3.0}), (A, A)),
        case("int-given-fraction", int(), json!({"n": 3.5}), (R, R)),
        case(
            "bool-given-string",
            json!({"b": p("b", 0, json!({"type": "boolean", "default": false}))}),
            json!({"b": "true"}),
            (R, R),
        ),
        case(
            "number-given-int",
            json!({"x": p("x", 0, json!({"type": "number"}))}),
            json!({"x": 2}),
            (A, A),
        ),
        case(
            "bounds-out-of-range",
            json!({"n": p("n", 0, json!({"type": "integer", "minimum": 0, "maximum": 10, "default": 1}))}),
            json!({"n": 11}),
            (R, R),
        ),
        case(
            "literal-outside-enum",
            json!({"mode": p("mode", 0, json!({"enum": ["fast", "safe"], "type": "string", "default": "safe"}))}),
            json!({"mode": "slow"}),
            (R, R),
        ),
        case(
            "enum-class-outside",
            json!({"prio": p("prio", 0, json!({"$ref": "#/definitions/Priority", "default": "low"}))}),
            json!({"prio": "urgent"}),
            (R, R),
        ),
        case(
            "enum-class-inside",
            json!({"prio": p("prio", 0, json!({"$ref": "#/definitions/Priority", "default": "low"}))}),
            json!({"prio": "high"}),
            (A, A),
        ),
        case(
            "nested-model-ok",
            customer(),
            json!({"customer": {"name": "A", "address": {"street": "Main", "zip": 1}}}),
            (A, A),
        ),
        case(
            "nested-model-wrong-type",
            customer(),
            json!({"customer": {"name": "A", "address": {"street": "Main", "zip": "one"}}}),
            (R, R),
        ),
        case(
            "nested-model-missing-required",
            customer(),
            json!({"customer": {"address": {"street": "Main"}}}),
            (A, A),
        ),
        case(
            "nested-model-null",
            customer(),
            json!({"customer": null}),
            (R, R),
        ),
        case(
            "nested-model-extra-key",
            customer(),
            json!({"customer": {"name": "A", "address": {"street": "M", "zip": 1}, "vip": true}}),
            (A, A),
        ),
        case(
            "optional-given-null",
            json!({"o": p("o", 0, json!({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null}))}),
            json!({"o": null}),
            (A, A),
        ),
        case(
            "optional-given-wrong-type",
            json!({"o": p("o", 0, json!({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null}))}),
            json!({"o": "x"}),
            (R, R),
        ),
        case(
            "union-given-list",
            json!({"u": p("u", 0, json!({"anyOf": [{"type": "integer"}, {"type": "string"}]}))}),
            json!({"u": [1]}),
            (R, R),
        ),
        case(
            "list-of-str-with-int",
            json!({"l": p("l", 0, json!({"items": {"type": "string"}, "type": "array"}))}),
            json!({"l": ["a", 1]}),
            (R, R),
        ),
        case(
            "list-of-models-bad-item",
            json!({"l": p("l", 0, json!({"items": {"$ref": "#/definitions/Address"}, "type": "array"}))}),
            json!({"l": [{"street": "a", "zip": 1}, {"street": 2}]}),
            (R, R),
        ),
        case(
            "dict-of-int-bad-value",
            json!({"d": p("d", 0, json!({"additionalProperties": {"type": "integer"}, "type": "object"}))}),
            json!({"d": {"a": 1, "b": "x"}}),
            (R, R),
        ),
        case(
            "tuple-wrong-item",
            json!({"t": p("t", 0, json!({"maxItems": 2, "minItems": 2,
                "prefixItems": [{"type": "integer"}, {"type": "string"}], "type": "array"}))}),
            json!({"t": ["x", 1]}),
            (R, R),
        ),
        case(
            "tuple-too-long",
            json!({"t": p("t", 0, json!({"maxItems": 2, "minItems": 2,
                "prefixItems": [{"type": "integer"}, {"type": "string"}], "type": "array"}))}),
            json!({"t": [1, "a", 2]}),
            (R, R),
        ),
        case(
            "datetime-not-a-date",
            json!({"when": p("when", 0, json!({"format": "date-time", "type": "string"}))}),
            json!({"when": "yesterday"}),
            (A, A),
        ),
        case(
            "datetime-given-number",
            json!({"when": p("when", 0, json!({"format": "date-time", "type": "string"}))}),
            json!({"when": 1700000000}),
            (R, R),
        ),
        case(
            "uuid-not-a-uuid",
            json!({"id": p("id", 0, json!({"format": "uuid", "type": "string"}))}),
            json!({"id": "nope"}),
            (A, A),
        ),
        case(
            "extra-top-level-key",
            int(),
            json!({"n": 1, "other": [1, 2]}),
            (A, A),
        ),
        case(
            "any-annotation",
            json!({"x": p("x", 0, json!({}))}),
            json!({"x": {"deep": [null, 1.5]}}),
            (A, A),
        ),
        // Non-required, no default (not what pydantic writes for a flow, but a schema a Rust
        // caller may give): the update path's preprocessing makes it nullable, create does not.
        case(
            "optional-without-default-null",
            json!({"n": p("n", 0, json!({"type": "integer"}))}),
            json!({"n": null}),
            (R, A),
        ),
    ];
    let mut missing = case("missing-required-top-level", int(), json!({}), (A, A));
    missing.required = &["n"];
    cases.push(missing);
    let mut required_wrong = case("required-wrong-type", int(), json!({"n": []}), (R, R));
    required_wrong.required = &["n"];
    cases.push(required_wrong);
    let mut off = case("enforcement-off", int(), json!({"n": "x"}), (A, A));
    off.enforce = false;
    cases.push(off);
    let mut frozen_ok = case("frozen-same-value", int(), json!({}), (A, A));
    frozen_ok.frozen = json!({"n": 5});
    cases.push(frozen_ok);
    let mut sched = case(
        "schedule-parameters-wrong-type",
        int(),
        json!({"n": 1}),
        (A, A),
    );
    sched.schedule_parameters = Some(json!({"n": "x"}));
    cases.push(sched);
    let mut sched_enum = case(
        "schedule-parameters-outside-enum",
        json!({"prio": p("prio", 0, json!({"$ref": "#/definitions/Priority", "default": "low"}))}),
        json!({}),
        (A, A),
    );
    sched_enum.schedule_parameters = Some(json!({"prio": "urgent"}));
    cases.push(sched_enum);
    let mut sched_frozen = case("schedule-parameters-vs-frozen", int(), json!({}), (A, A));
    sched_frozen.frozen = json!({"n": 5});
    sched_frozen.schedule_parameters = Some(json!({"n": 6}));
    cases.push(sched_frozen);
    cases
}

fn deployment(c: &Case, name: &str) -> RunnerDeployment {
    let mut schema = json!({"title": "Parameters", "type": "object", "properties": c.properties,
        "definitions": definitions()});
    if !c.required.is_empty() {
        schema["required"] = json!(c.required);
    }
    let schema: ParameterSchema = serde_json::from_value(schema).unwrap();
    let mut b = RunnerDeployment::builder(name)
        .flow_name("prefab-validation")
        .parameter_schema(schema)
        .parameters(c.parameters.as_object().unwrap().clone())
        .enforce_parameter_schema(c.enforce);
    for (k, v) in c.frozen.as_object().unwrap() {
        b = b.frozen_parameter(k.clone(), v.clone());
    }
    if let Some(sp) = &c.schedule_parameters {
        let b2 = b
            .schedules(ScheduleArgs {
                interval: Some(json!(3600)),
                ..Default::default()
            })
            .unwrap();
        let mut d = b2.build().unwrap();
        let list: Vec<DeploymentSchedule> = d
            .schedules
            .take()
            .unwrap()
            .into_iter()
            .map(|mut s| {
                s.parameters = sp.as_object().unwrap().clone();
                s
            })
            .collect();
        d.schedules = Some(list);
        return d;
    }
    b.build().unwrap()
}

fn raw(method: Method, path: String, body: &Value) -> ApiRequest {
    ApiRequest {
        method,
        path,
        body: Some(serde_json::to_vec(body).unwrap()),
        safety: Safety::Idempotent,
        subject: "deployment",
    }
}

fn verdict_of(
    result: Result<prefab_client::ApiResponse, prefab_client::ClientError>,
    refusal: u16,
) -> Result<(V, Option<Uuid>), String> {
    match result {
        Ok(resp) => {
            let id = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| v["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()));
            Ok((V::A, id))
        }
        Err(e) if e.status() == Some(refusal) => Ok((V::R, None)),
        Err(e) => Err(format!(
            "unexpected answer (wanted success or {refusal}): {e}"
        )),
    }
}

fn local(v: &Verdict) -> V {
    match v {
        Verdict::Refused(_) => V::R,
        Verdict::Accepted => V::A,
        Verdict::Unchecked(why) => panic!("a table case the local check cannot decide: {why}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_verdicts_equal_the_real_servers() {
    let server = support::prefect::server();
    let client = PrefectClient::new(ClientConfig::new(server.api_url()).unwrap()).unwrap();
    let flow = client
        .send(&raw(
            Method::POST,
            "/flows/".into(),
            &json!({"name": "prefab-validation", "tags": [], "labels": {}}),
        ))
        .await
        .unwrap();
    let flow_id = Uuid::parse_str(
        serde_json::from_slice::<Value>(&flow.body).unwrap()["id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let run = Uuid::new_v4().simple().to_string();
    let cases = table();
    assert!(cases.len() >= 20, "table too small: {}", cases.len());
    let mut failures = Vec::new();
    let (mut refused, mut accepted) = (0, 0);
    for c in &cases {
        let name = format!("{}-{}", c.id, &run[..8]);
        let d = deployment(c, &name);
        let report = d.check_parameters();
        let local_create = local(&report.create);
        let local_update = local(&report.update);

        // Create, exactly what apply would send, with no local check.
        let body = d.create_body(flow_id, None, None, None, None).unwrap();
        let created = verdict_of(
            client
                .send(&raw(Method::POST, "/deployments/".into(), &body))
                .await,
            422,
        );
        let (server_create, id) = match created {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: create: {e}", c.id));
                continue;
            }
        };
        // Update: an existing deployment (same schema, no parameters) patched with them.
        let base_name = format!("{name}-u");
        let mut base = deployment(c, &base_name);
        base.parameters = Map::new();
        base.schedules = None;
        let base_body = base.create_body(flow_id, None, None, None, None).unwrap();
        let base_id = match verdict_of(
            client
                .send(&raw(Method::POST, "/deployments/".into(), &base_body))
                .await,
            422,
        ) {
            Ok((V::A, Some(id))) => id,
            other => {
                failures.push(format!(
                    "{}: creating the deployment to update: {other:?}",
                    c.id
                ));
                continue;
            }
        };
        let patch = d.update_body(None, None).unwrap();
        let server_update = match verdict_of(
            client
                .send(&raw(
                    Method::PATCH,
                    format!("/deployments/{base_id}"),
                    &patch,
                ))
                .await,
            409,
        ) {
            Ok((v, _)) => v,
            Err(e) => {
                failures.push(format!("{}: update: {e}", c.id));
                continue;
            }
        };
        for (what, expect, server, local) in [
            ("create", c.expect.0, server_create, local_create),
            ("update", c.expect.1, server_update, local_update),
        ] {
            if server != expect {
                failures.push(format!(
                    "{}: {what}: the server answered {server:?}, the table says {expect:?}",
                    c.id
                ));
            }
            if local != server {
                failures.push(format!(
                    "{}: {what}: local verdict {local:?} != server {server:?} ({:?})",
                    c.id,
                    if what == "create" {
                        &report.create
                    } else {
                        &report.update
                    }
                ));
            }
            if server == V::R {
                refused += 1;
            } else {
                accepted += 1;
            }
        }
        // Schedule parameters are never refused, only reported.
        if c.schedule_parameters.is_some() {
            assert!(
                !report.schedule_warnings.is_empty(),
                "{}: a schedule-parameter warning",
                c.id
            );
        }
        // The local check on the deployment as a whole refuses exactly when both refuse.
        assert_eq!(
            d.validate_parameters().is_err(),
            local_create == V::R && local_update == V::R,
            "{}",
            c.id
        );
        for id in [id, Some(base_id)].into_iter().flatten() {
            client.delete_deployment(id).await.unwrap();
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        refused >= 10 && accepted >= 10,
        "{refused} refused, {accepted} accepted"
    );
}

/// `apply` refuses before writing anything: what both endpoints refuse before any request,
/// what only create refuses once the lookup says the deployment is new; the same parameters
/// are applied when the deployment exists (the update accepts them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_before_writing() {
    use prefab_core::deployment::{ApplyOptions, ApplyStep, apply};
    let server = support::prefect::server();
    let client = PrefectClient::new(ClientConfig::new(server.api_url()).unwrap()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let options = ApplyOptions::default()
        .inference_dir(work.path())
        .env(Default::default());
    let run = Uuid::new_v4().simple().to_string();
    let flow = format!("prefab-validation-apply-{}", &run[..8]);
    let named = |c: &Case, name: &str| {
        let mut d = deployment(c, name);
        d.flow_name = Some(flow.clone());
        d
    };

    // Both refuse: an error at the Validate step, nothing on the server (not even the flow).
    let bad = case(
        "apply-both-refuse",
        json!({"n": p("n", 0, json!({"type": "integer"}))}),
        json!({"n": "x"}),
        (V::R, V::R),
    );
    let err = apply(&client, &named(&bad, "both"), &options)
        .await
        .unwrap_err();
    assert_eq!(err.step, ApplyStep::Validate, "{err}");
    assert!(err.message.contains("parameters.n"), "{err}");
    assert!(
        client
            .read_flow_by_name(&flow)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Only create refuses (null for a non-required property without default).
    let divergent = case(
        "apply-divergent",
        json!({"n": p("n", 0, json!({"type": "integer"}))}),
        json!({"n": null}),
        (V::R, V::A),
    );
    let err = apply(&client, &named(&divergent, "div"), &options)
        .await
        .unwrap_err();
    assert_eq!(err.step, ApplyStep::Validate, "{err}");
    assert!(
        client
            .read_flow_by_name(&flow)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Once it exists, the update accepts the same parameters, as the server does.
    let mut plain = named(&divergent, "div");
    plain.parameters = Map::new();
    let id = apply(&client, &plain, &options).await.unwrap();
    let id2 = apply(&client, &named(&divergent, "div"), &options)
        .await
        .unwrap();
    assert_eq!(id, id2);
    let stored = client.read_deployment(id).await.unwrap();
    assert_eq!(stored.parameters.unwrap()["n"], Value::Null);
    client.delete_deployment(id).await.unwrap();
}
