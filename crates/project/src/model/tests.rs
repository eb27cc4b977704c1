use serde_json::json;

use super::*;

fn parse(text: &str) -> Result<PrefectFile, ProjectError> {
    PrefectFile::parse(Path::new("prefect.yaml"), text)
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ProjectError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn fields_are_coerced_as_pydantic_does() {
    let f = parse(
        "deployments:\n- name: a\n  paused: 'yes'\n  enforce_parameter_schema: 0\n  concurrency_limit: '5'\n",
    )
    .unwrap();
    let d = &f.deployments[0];
    assert_eq!(d["paused"], json!(true));
    assert_eq!(d["enforce_parameter_schema"], json!(false));
    assert_eq!(d["concurrency_limit"], json!(5));
    let f = parse("deployments:\n- {name: a, concurrency_limit: {limit: 3, collision_strategy: CANCEL_NEW, x: 1}}\n")
        .unwrap();
    assert_eq!(
        f.deployments[0]["concurrency_limit"],
        json!({"limit": 3, "collision_strategy": "CANCEL_NEW"})
    );
}

#[test]
fn prefect_skips_these_files_and_prefab_refuses_them_with_lines() {
    let p = problems("deployments:\n- name: a\n  version: 1.0\n");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("deployments[0].version (line 3, column 12)"),
        "{p:?}"
    );
    assert!(problems("deployments:\n- {name: a, paused: 2}\n")[0].contains("not a boolean"));
    assert!(problems("deployments:\n- {name: a, work_pool: pool}\n")[0].contains("work_pool"));
    assert!(
        problems("deployments:\n- {name: a, schedules: [{cron: '* * * * *', catchup: false}]}\n")
            [0]
        .contains("catchup")
    );
    assert!(
        problems("deployments:\n- {name: a, schedules: [{cron: '* * * * *', interval: 60}]}\n")[0]
            .contains("exactly one")
    );
    assert!(problems("deployments:\n- {name: a, build: [x]}\n")[0].contains("a step is a mapping"));
    assert!(problems("prefect-version: 3.0\ndeployments: []\n")[0].contains("prefect-version"));
    assert!(problems("deployments: null\n")[0].contains("list of deployments"));
    assert!(problems("deployments:\n- {name: a, parameters: null}\n")[0].contains("mapping"));
    assert!(
        problems("deployments:\n- {name: a, concurrency_limit: 5.5}\n")[0].contains("whole number")
    );
}

#[test]
fn sections_and_unknown_keys() {
    let f = parse(
        "definitions:\n  x: &x {cron: '0 * * * *'}\nbuild:\n  a.b: {x: 1}\npull: []\nextra: 1\ndeployments:\n- name: a\n  schedules: [*x]\n  colour: red\n  build: null\n",
    )
    .unwrap();
    assert_eq!(f.build, vec![json!({"a.b": {"x": 1}})]);
    assert_eq!(f.pull, Some(json!([])));
    assert_eq!(f.deployments[0]["build"], Value::Null);
    assert_eq!(
        f.deployments[0]["schedules"],
        json!([{"cron": "0 * * * *"}])
    );
    assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
    assert!(f.warnings[0].contains("extra") && f.warnings[0].contains("line 6"));
    assert!(f.warnings[1].contains("colour"));
}

#[test]
fn intervals_read_as_pydantic_timedelta() {
    assert_eq!(interval_seconds(&json!(60)), Some(60.0));
    assert_eq!(interval_seconds(&json!("PT1H30M")), Some(5400.0));
    assert_eq!(interval_seconds(&json!("P1DT1S")), Some(86401.0));
    assert_eq!(interval_seconds(&json!("1:30:00")), Some(5400.0));
    assert_eq!(interval_seconds(&json!("1 day, 0:00:01")), Some(86401.0));
    assert_eq!(interval_seconds(&json!("PT")), None);
    assert_eq!(interval_seconds(&json!("soon")), None);
}

#[test]
fn yaml11_keys_that_are_not_text_fail_where_pydantic_wants_text() {
    // Inside a parameter's value (Any) they become text keys, as pydantic writes them.
    let f = parse("deployments:\n- name: a\n  parameters:\n    extra: {Off: Off, 1: x}\n").unwrap();
    assert_eq!(
        f.deployments[0]["parameters"]["extra"],
        json!({"false": false, "1": "x"})
    );
    // Directly in parameters, job variables, triggers or steps they fail, with the line.
    let p = problems("deployments:\n- name: a\n  parameters:\n    on: true\n");
    assert!(
        p[0].starts_with("deployments[0].parameters.true (line 4, column 5)"),
        "{p:?}"
    );
    assert!(p[0].contains("quote it (\"on\")"), "{p:?}");
    assert!(!problems("build:\n- yes: {}\n").is_empty());
    // Where Prefect ignores unknown keys, they are ignored (with the unknown-key warning).
    let f = parse("on: 1\ndeployments: [{name: a, work_pool: {name: p, no: 1}}]\n").unwrap();
    assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
}

#[test]
fn dates_are_text_in_parameters_and_refused_in_text_fields() {
    let f = parse(
        "deployments:\n- name: a\n  parameters: {day: 2024-05-01, at: 2024-05-01 10:20:30}\n",
    )
    .unwrap();
    assert_eq!(
        f.deployments[0]["parameters"],
        json!({"day": "2024-05-01", "at": "2024-05-01T10:20:30"})
    );
    let p = problems("deployments:\n- name: a\n  version: 2024-01-01\n");
    assert!(
        p[0].contains("is a date in YAML 1.1") && p[0].contains("line 3"),
        "{p:?}"
    );
}

#[test]
fn hostile_files_are_refused_at_once_with_where() {
    // 100k levels of flow nesting, and a billion-laughs alias bomb: refused, not parsed out.
    let deep = format!(
        "deployments: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = parse(&deep).unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    bomb.push_str("deployments: [*b8]\n");
    let err = parse(&bomb).unwrap_err().to_string();
    assert!(err.contains("alias"), "{err}");
}
