use prefab_flows::ParameterSchema;
use serde_json::{Value, json};

use super::*;
use crate::deployment::{DeploymentSchedule, RunnerDeployment};

/// The schema of the corpus case `pub-apply-gen-00` (a model, an enum, a union, an `enum`).
fn schema() -> Value {
    json!({
        "title": "Parameters", "type": "object",
        "properties": {
            "window": {"$ref": "#/definitions/Job", "position": 0, "title": "window"},
            "region": {"default": 10, "maximum": 100, "minimum": 1, "position": 1, "title": "region", "type": "integer"},
            "target": {"$ref": "#/definitions/Mode", "default": "auto", "position": 3, "title": "target"},
            "config": {"anyOf": [{"type": "string"}, {"items": {"type": "string"}, "type": "array"}], "default": ["a"], "position": 5, "title": "config"},
            "until": {"default": 2, "enum": [1, 2, 3], "position": 6, "title": "until", "type": "integer"},
            "token": {"format": "password", "writeOnly": true, "position": 7, "title": "token", "type": "string", "default": "x"},
        },
        "required": ["window"],
        "definitions": {
            "Job": {"properties": {
                        "name": {"title": "Name", "type": "string"},
                        "window": {"$ref": "#/definitions/Window", "default": {"days": 1}}},
                    "required": ["name"], "title": "Job", "type": "object"},
            "Mode": {"enum": ["auto", "manual"], "title": "Mode", "type": "string"},
            "Window": {"properties": {"days": {"default": 1, "title": "Days", "type": "integer"}},
                       "title": "Window", "type": "object"},
        }
    })
}

fn params(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn refused(v: Verdict) -> Vec<ParameterViolation> {
    match v {
        Verdict::Refused(v) => v,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn missing_required_is_accepted_even_nested() {
    for endpoint in [Endpoint::Create, Endpoint::Update] {
        assert_eq!(
            server_verdict(&schema(), &params(json!({})), endpoint),
            Verdict::Accepted
        );
        // `Job.name` is required; the nested model without it is accepted too.
        let nested = params(json!({"window": {"window": {"days": 3}}}));
        assert_eq!(
            server_verdict(&schema(), &nested, endpoint),
            Verdict::Accepted
        );
    }
}

#[test]
fn wrong_types_and_enums_are_refused_with_path_and_rule() {
    let v = refused(server_verdict(
        &schema(),
        &params(json!({"region": "34", "target": "v", "window": {"window": {"days": "x"}}})),
        Endpoint::Create,
    ));
    let by_path = |p: &str| {
        v.iter()
            .find(|x| x.path == p)
            .unwrap_or_else(|| panic!("{p}: {v:?}"))
    };
    assert_eq!(by_path("region").rule, "type");
    assert_eq!(by_path("region").value, "\"34\"");
    assert!(by_path("region").message.contains("integer"), "{v:?}");
    assert_eq!(by_path("target").rule, "enum");
    assert_eq!(by_path("window.window.days").rule, "type");
    assert_eq!(by_path("region").source, "parameters");
}

#[test]
fn bounds_unions_and_literal_enums() {
    for (p, rule) in [
        (json!({"region": 0}), "minimum"),
        (json!({"until": 4}), "enum"),
        (json!({"config": 3}), "anyOf"),
        (json!({"config": ["a", 1]}), "anyOf"),
    ] {
        let v = refused(server_verdict(
            &schema(),
            &params(p.clone()),
            Endpoint::Create,
        ));
        assert_eq!(v[0].rule, rule, "{p}: {v:?}");
    }
    let ok = params(json!({"region": 100, "until": 3, "config": ["a", "b"], "target": "manual"}));
    assert_eq!(
        server_verdict(&schema(), &ok, Endpoint::Create),
        Verdict::Accepted
    );
}

#[test]
fn required_inside_lists_is_kept_as_prefect_does() {
    // `remove_nested_keys` does not descend into lists: an inline object inside `anyOf`
    // keeps its `required`.
    let schema = json!({"type": "object", "properties": {"x": {"anyOf": [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
        {"type": "null"}]}}});
    let v = server_verdict(&schema, &params(json!({"x": {}})), Endpoint::Create);
    assert_eq!(refused(v)[0].path, "x");
    // A property literally named `required` is dropped from `properties` too.
    let schema = json!({"type": "object", "properties": {"required": {"type": "integer"}}});
    let v = server_verdict(
        &schema,
        &params(json!({"required": "no"})),
        Endpoint::Create,
    );
    assert_eq!(v, Verdict::Accepted);
}

#[test]
fn update_makes_optional_without_default_nullable() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer", "title": "n"}}});
    let p = params(json!({"n": null}));
    assert!(server_verdict(&schema, &p, Endpoint::Create).is_refused());
    assert_eq!(
        server_verdict(&schema, &p, Endpoint::Update),
        Verdict::Accepted
    );
    // Hydrated values are the server's business on update.
    let p = params(json!({"n": {"__prefect_kind": "json", "value": "1"}}));
    assert!(matches!(
        server_verdict(&schema, &p, Endpoint::Update),
        Verdict::Unchecked(_)
    ));
}

#[test]
fn update_turns_list_items_into_prefix_items() {
    let schema = json!({"type": "object", "properties": {"t": {"type": "array", "default": [],
        "items": [{"type": "integer"}, {"type": "string"}]}}});
    let p = params(json!({"t": ["x", 1]}));
    // Create: a list `items` is not a valid 2020-12 schema; left to the server.
    assert!(matches!(
        server_verdict(&schema, &p, Endpoint::Create),
        Verdict::Unchecked(_)
    ));
    assert!(server_verdict(&schema, &p, Endpoint::Update).is_refused());
}

#[test]
fn secrets_are_masked() {
    let v = refused(server_verdict(
        &schema(),
        &params(json!({"token": 12345})),
        Endpoint::Create,
    ));
    assert_eq!(v[0].value, "***");
    assert!(!v[0].to_string().contains("12345"), "{}", v[0]);
}

fn deployment(parameters: Value, enforce: bool) -> RunnerDeployment {
    let schema: ParameterSchema = serde_json::from_value(schema()).unwrap();
    RunnerDeployment::builder("nightly")
        .flow_name("etl")
        .parameters(params(parameters))
        .parameter_schema(schema)
        .enforce_parameter_schema(enforce)
        .build()
        .unwrap()
}

#[test]
fn the_error_names_deployment_parameter_rule_and_fix() {
    let d = deployment(json!({"region": "north", "target": "v"}), true);
    let err = d.validate_parameters().unwrap_err();
    let msg = err.to_string();
    for want in [
        "etl/nightly",
        "parameters.region = \"north\"",
        "rule `type`",
        "parameters.target = \"v\"",
        "rule `enum`",
        "enforce_parameter_schema",
        "Fix the values",
    ] {
        assert!(msg.contains(want), "missing {want:?} in:\n{msg}");
    }
    assert!(
        matches!(err, DeploymentError::InvalidParameters { ref violations, .. } if violations.len() == 2)
    );
}

#[test]
fn enforcement_off_checks_nothing() {
    let d = deployment(json!({"region": "north"}), false);
    assert_eq!(d.validate_parameters().unwrap(), vec![]);
    assert_eq!(d.check_parameters().create, Verdict::Accepted);
}

#[test]
fn schedule_parameters_are_warnings_only() {
    let mut d = deployment(json!({"region": 5}), true);
    let schedule: prefab_schemas::schedules::Schedule =
        serde_json::from_value(json!({"interval": 3600.0})).unwrap();
    let mut s = DeploymentSchedule::new(schedule);
    s.parameters = params(json!({"region": "x"}));
    d.schedules = Some(vec![s]);
    let warnings = d.validate_parameters().unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].source, "schedules[0].parameters");
    assert_eq!(warnings[0].path, "region");
}

#[test]
fn frozen_values_pass_and_others_fail() {
    let schema: ParameterSchema = serde_json::from_value(schema()).unwrap();
    let d = RunnerDeployment::builder("nightly")
        .flow_name("etl")
        .parameter_schema(schema)
        .frozen_parameter("region", json!(7))
        .build()
        .unwrap();
    assert_eq!(d.check_parameters().create, Verdict::Accepted);
    let s = d.parameter_openapi_schema.to_json();
    assert_eq!(s["properties"]["region"]["enum"], json!([7]));
    let v = server_verdict(&s, &params(json!({"region": 8})), Endpoint::Create);
    assert_eq!(refused(v)[0].rule, "enum");
}
