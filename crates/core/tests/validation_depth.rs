//! Local parameter validation (`server_verdict`, jsonschema) on deep schemas and deep
//! parameter values: a verdict or a violation naming the parameter, never a stack overflow,
//! on a 2 MiB thread (a tokio worker's stack).

use prefab_core::deployment::{Endpoint, Verdict, server_verdict};
use serde_json::{Map, Value, json};

const SMALL_STACK: usize = 2 * 1024 * 1024;

fn nested_array_schema(levels: usize) -> Value {
    let mut s = json!({"type": "integer"});
    for _ in 0..levels {
        s = json!({"type": "array", "items": s});
    }
    s
}

fn nested_list(levels: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..levels {
        v = Value::Array(vec![v]);
    }
    v
}

fn verdicts(schema: Value, param: Value) -> Vec<Verdict> {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let schema =
                json!({"type": "object", "title": "Parameters", "properties": {"x": schema}});
            let mut params = Map::new();
            params.insert("x".into(), param);
            let out = [Endpoint::Create, Endpoint::Update]
                .into_iter()
                .map(|e| server_verdict(&schema, &params, e))
                .collect();
            // Dropped here, on the small stack too.
            drop((schema, params));
            out
        })
        .unwrap()
        .join()
        .expect("validation panicked")
}

#[test]
fn the_deepest_schema_the_flow_reader_makes_validates_deep_values() {
    // 161 nested lists: the deepest parameter type Prefect loads.
    for v in verdicts(nested_array_schema(161), nested_list(128, json!(1))) {
        assert!(matches!(v, Verdict::Refused(_)), "{v:?}"); // 128 levels, not 161
    }
    for v in verdicts(nested_array_schema(161), nested_list(161, json!(1))) {
        assert_eq!(v, Verdict::Accepted);
    }
    for v in verdicts(nested_array_schema(161), nested_list(161, json!("s"))) {
        assert!(matches!(v, Verdict::Refused(_)), "{v:?}");
    }
}

#[test]
fn schemas_and_values_at_the_limits_are_checked() {
    // 505 levels of schema JSON, a 256-level value.
    for v in verdicts(nested_array_schema(500), nested_list(256, json!(1))) {
        let Verdict::Refused(violations) = v else {
            panic!("{v:?}")
        };
        assert_eq!(violations[0].rule, "type");
    }
    for v in verdicts(json!({}), nested_list(256, json!(1))) {
        assert_eq!(v, Verdict::Accepted);
    }
}

#[test]
fn values_deeper_than_the_limit_are_refused_naming_the_parameter() {
    for v in verdicts(json!({}), nested_list(600, json!(1))) {
        let Verdict::Refused(violations) = v else {
            panic!("{v:?}")
        };
        assert_eq!(violations.len(), 1);
        let text = violations[0].to_string();
        assert!(text.starts_with("parameters.x "), "{text}");
        assert!(text.contains("256 levels"), "{text}");
    }
}

#[test]
fn schemas_deeper_than_the_limit_are_left_to_the_server() {
    for v in verdicts(nested_array_schema(1000), json!(1)) {
        let Verdict::Unchecked(why) = v else {
            panic!("{v:?}")
        };
        assert!(why.contains("nests deeper than"), "{why}");
    }
}
