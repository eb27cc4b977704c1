//! Validator unit tests (Prefect's tests/runner/test_runner.py::TestRunnerDeployment and
//! tests/deployment/test_schedules.py, spec §15.1 and §15.4).

use serde_json::{Value, json};

use super::*;

fn schedules(args: ScheduleArgs) -> Result<Vec<DeploymentSchedule>, DeploymentError> {
    args.build()
}

#[test]
fn py_names_become_their_stem_and_dots_are_kept() {
    assert_eq!(normalize_name("my-deploy.py"), "my-deploy");
    assert_eq!(normalize_name("a/b/c.py"), "c");
    for n in [
        "..test-deployment",
        "flow-from-my.python.module",
        "pricing-subflow-v2.0.1",
        "my-flow-v1.2.3.4",
    ] {
        assert_eq!(normalize_name(n), n);
    }
}

#[test]
fn paused_none_becomes_false_and_true_stays() {
    let d = RunnerDeployment::builder("x").build().unwrap();
    assert_eq!(d.paused, Some(false));
    assert!(d.is_set("paused"));
    let d = RunnerDeployment::builder("x")
        .paused(Some(true))
        .build()
        .unwrap();
    assert_eq!(d.paused, Some(true));
    let d = RunnerDeployment::builder("x")
        .paused(Some(false))
        .build()
        .unwrap();
    assert_eq!(d.paused, Some(false));
}

#[test]
fn tags_are_stringified_and_blank_ones_dropped() {
    assert_eq!(
        clean_tags([json!("a"), json!(""), json!("  "), json!(3)]),
        ["a", "3"]
    );
}

#[test]
fn interval_shorthands_give_one_schedule_each_in_order() {
    let s = schedules(ScheduleArgs {
        interval: Some(json!(3600)),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].create_json()["schedule"]["interval"], json!(3600.0));
    assert_eq!(s[0].create_json()["schedule"]["timezone"], "UTC");
    let s = schedules(ScheduleArgs {
        interval: Some(json!([3600, 7200])),
        ..Default::default()
    })
    .unwrap();
    let iv: Vec<Value> = s
        .iter()
        .map(|s| s.create_json()["schedule"]["interval"].clone())
        .collect();
    assert_eq!(iv, [json!(3600.0), json!(7200.0)]);
}

#[test]
fn cron_and_rrule_shorthands() {
    let s = schedules(ScheduleArgs {
        cron: Some(json!(["0 * * * *", "@daily"])),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        s[1].create_json()["schedule"],
        json!({"cron": "@daily", "timezone": null, "day_or": true})
    );
    assert_eq!(
        s[0].update_json(),
        json!({"schedule": {"cron": "0 * * * *", "timezone": null}, "active": true})
    );
    let s = schedules(ScheduleArgs {
        rrule: Some(json!("FREQ=MINUTELY")),
        ..Default::default()
    })
    .unwrap();
    let rule = s[0].create_json()["schedule"]["rrule"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        rule.starts_with("DTSTART:") && rule.ends_with("\nFREQ=MINUTELY"),
        "{rule}"
    );
    assert_ne!(
        rule, "DTSTART:20200101T000000\nFREQ=MINUTELY",
        "MINUTELY gets a recent anchor"
    );
    let s = schedules(ScheduleArgs {
        rrule: Some(json!("FREQ=DAILY;COUNT=3")),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        s[0].create_json()["schedule"]["rrule"],
        "DTSTART:20200101T000000\nFREQ=DAILY;COUNT=3"
    );
}

#[test]
fn only_one_schedule_argument() {
    let err = schedules(ScheduleArgs {
        cron: Some(json!("0 * * * *")),
        interval: Some(json!(60)),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Only one of interval, cron, rrule, schedule, or schedules can be provided."
    );
    // A falsy-but-present value counts.
    let err = schedules(ScheduleArgs {
        interval: Some(json!(0)),
        schedules: Some(vec![]),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, DeploymentError::ScheduleArgumentConflict));
    assert!(schedules(ScheduleArgs::default()).unwrap().is_empty());
}

#[test]
fn zero_interval_is_a_clear_error() {
    let err = schedules(ScheduleArgs {
        interval: Some(json!(0)),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("greater than 0 seconds"), "{err}");
}

#[test]
fn flexible_schedule_list_normalises_each_kind() {
    let s = schedules(ScheduleArgs {
        schedules: Some(vec![
            json!({"schedule": {"interval": 60}}),
            json!({"schedule": {"cron": "0 0 1 * *"}, "active": false}),
            json!({"schedule": {"cron": "0 0 1 * *"}, "active": null}),
            json!({"cron": "0 9 * * *", "timezone": "Europe/Berlin", "slug": "s", "active": false}),
            json!({"interval": 600, "anchor_date": "2024-01-01T00:00:00+00:00"}),
        ]),
        ..Default::default()
    })
    .unwrap();
    let active: Vec<bool> = s.iter().map(|s| s.active).collect();
    assert_eq!(active, [true, false, true, false, true]);
    assert_eq!(
        s[1].update_json(),
        json!({"schedule": {"cron": "0 0 1 * *"}, "active": false})
    );
    assert_eq!(
        s[3].update_json(),
        json!({"schedule": {"cron": "0 9 * * *", "timezone": "Europe/Berlin", "day_or": true},
               "active": false, "parameters": {}, "slug": "s"})
    );
    assert_eq!(
        s[4].create_json()["schedule"]["anchor_date"],
        "2024-01-01T00:00:00Z"
    );
}

#[test]
fn invalid_schedule_items_are_refused() {
    let err = normalize_schedule_item(&json!("not a schedule")).unwrap_err();
    assert!(
        err.to_string().starts_with("Invalid schedule provided."),
        "{err}"
    );
    let err = normalize_schedule_item(&json!({"schedule": {"cron": "* * * * *"}, "slug": "x"}))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unexpected keyword argument 'slug'"),
        "{err}"
    );
    assert!(normalize_schedule_item(&json!({"cron": "not cron"})).is_err());
    assert!(
        normalize_schedule_item(&json!({"cron": "0 * * * *", "timezone": "Mars/Base"})).is_err()
    );
}

#[test]
fn concurrency_config_gives_limit_and_options() {
    let (l, o) =
        ConcurrencyLimit::from_json(&json!({"limit": 2, "collision_strategy": "CANCEL_NEW"}))
            .unwrap()
            .extract()
            .unwrap();
    assert_eq!(l, 2);
    assert_eq!(
        o.unwrap().to_json(),
        json!({"collision_strategy": "CANCEL_NEW"})
    );
    let (_, o) = ConcurrencyLimit::from_json(&json!({"limit": 1, "grace_period_seconds": 300}))
        .unwrap()
        .extract()
        .unwrap();
    assert_eq!(
        o.unwrap().to_json(),
        json!({"collision_strategy": "ENQUEUE", "grace_period_seconds": 300})
    );
    assert_eq!(
        ConcurrencyLimit::from_json(&json!(5))
            .unwrap()
            .extract()
            .unwrap(),
        (5, None)
    );
    assert!(
        ConcurrencyLimit::from_json(&json!({"limit": 1, "grace_period_seconds": 10}))
            .unwrap()
            .extract()
            .is_err()
    );
    assert!(
        ConcurrencyLimit::from_json(&json!({"limit": 1, "collision_strategy": "DROP"})).is_err()
    );
}

#[test]
fn unnamed_triggers_are_named_by_position() {
    let d = RunnerDeployment::builder("d.py")
        .trigger_json(json!({"expect": ["a"]}))
        .trigger_json(json!({"name": "given", "expect": ["b"]}))
        .trigger_json(json!({"expect": ["c"]}))
        .build()
        .unwrap();
    let names: Vec<_> = d.triggers.iter().map(|t| t.name.clone().unwrap()).collect();
    assert_eq!(names, ["d__automation_1", "given", "d__automation_3"]);
}

#[test]
fn proactive_within_rules() {
    let t =
        DeploymentTrigger::from_json(&json!({"posture": "Proactive", "expect": ["x"]}), 1).unwrap();
    assert_eq!(t.trigger()["within"], json!(10.0));
    let err =
        DeploymentTrigger::from_json(&json!({"posture": "Proactive", "within": 5}), 1).unwrap_err();
    assert!(
        err.to_string()
            .contains("greater than or equal to 10 seconds"),
        "{err}"
    );
    let t = DeploymentTrigger::from_json(
        &json!({"triggers": [{"expect": ["a"]}], "require": "any"}),
        1,
    )
    .unwrap();
    assert_eq!(t.trigger()["type"], "compound");
    let t = DeploymentTrigger::from_json(&json!({"triggers": [{"expect": ["a"]}]}), 1).unwrap();
    assert_eq!(t.trigger()["type"], "sequence");
    let t = DeploymentTrigger::from_json(&json!({"posture": "Metric", "metric": {"name": "lateness", "threshold": 1, "operator": ">"}}), 1).unwrap();
    assert_eq!(t.trigger()["metric"]["range"], json!(300.0));
}

#[test]
fn unsaved_block_references_are_refused() {
    let ok = RunnerDeployment::builder("x")
        .parameters(
            serde_json::from_value(json!({"creds": [block_reference(uuid::Uuid::nil())]})).unwrap(),
        )
        .build();
    assert!(ok.is_ok());
    let err = RunnerDeployment::builder("x")
        .parameters(
            serde_json::from_value(json!({"creds": {"$ref": {"block_document_id": null}}}))
                .unwrap(),
        )
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Block must be saved with `.save()`"),
        "{err}"
    );
}

#[test]
fn frozen_parameters_mark_the_schema() {
    let mut schema = prefab_flows::ParameterSchema::default();
    schema.properties.insert(
        "n".into(),
        json!({"type": "integer", "title": "n", "position": 0}),
    );
    let d = RunnerDeployment::builder("x")
        .parameter_schema(schema)
        .frozen_parameter("n", json!(3))
        .build()
        .unwrap();
    assert_eq!(d.parameters["n"], json!(3));
    let p = &d.parameter_openapi_schema.properties["n"];
    assert_eq!(p["readOnly"], json!(true));
    assert_eq!(p["enum"], json!([3]));
    assert_eq!(p["type"], "integer");
}

#[test]
fn create_body_pool_prechecks_in_prefects_order() {
    let d = RunnerDeployment::builder("x")
        .work_queue_name("q")
        .build()
        .unwrap();
    let id = uuid::Uuid::nil();
    assert_eq!(
        d.create_body(id, None, Some("img"), None, None)
            .unwrap_err(),
        "An image can only be provided when registering a deployment with a work pool."
    );
    assert_eq!(
        d.create_body(id, None, None, None, None).unwrap_err(),
        "A work queue can only be provided when registering a deployment with a work pool."
    );
    let body = d
        .create_body(id, Some("pool"), Some("img"), Some("1"), None)
        .unwrap();
    assert_eq!(body["job_variables"], json!({"image": "img"}));
    assert_eq!(body["pull_steps"], json!([]));
    assert_eq!(body["description"], "None");
}

#[test]
fn update_body_sends_only_set_fields() {
    let d = RunnerDeployment::builder("x").build().unwrap();
    let body = d.update_body(None, None).unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["paused", "parameter_openapi_schema", "pull_steps"]);
    assert_eq!(body["pull_steps"], Value::Null);
}

#[test]
fn storage_without_a_pool_is_warned_about() {
    let storage = prefab_storage::describe::StorageDefinition(
        json!({"kind": "git", "url": "https://github.com/acme/flows.git"}),
    )
    .build(Path::new("."), Path::new("."))
    .unwrap();
    let mut d = RunnerDeployment::builder("nightly")
        .flow_name("etl")
        .build()
        .unwrap();
    assert!(d.warnings(None).is_empty());
    d.storage = Some(Box::new(storage));
    let warnings = d.warnings(None);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("etl/nightly:") && warnings[0].contains("work_pool_name"),
        "{warnings:?}"
    );
    assert!(d.warnings(Some("pool")).is_empty(), "apply's pool counts");
    d.work_pool_name = Some("pool".into());
    assert!(d.warnings(None).is_empty());
}

/// §15.1: from_flow copies the flow's name, version (marked as the flow's) and description;
/// a file entrypoint gets `path` "." and a module path none; a flow without an entrypoint
/// cannot be deployed.
#[test]
fn from_flow_takes_the_flow_and_its_entrypoint_type() {
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    /// Loads things.
    struct Params {
        bucket: String,
    }
    let flow = prefab_flows::Flow::from_parameters::<Params>("loader").with_version("1.2");
    let err = RunnerDeployment::from_flow(&flow, "d", FromEntrypointOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"loader\"") && err.contains("with_entrypoint"),
        "{err}"
    );

    let file = flow.clone().with_entrypoint("flows/load.py:loader");
    let options = FromEntrypointOptions {
        cron: Some(json!("0 1 * * *")),
        tags: Some(vec![json!("a")]),
        ..Default::default()
    };
    let d = RunnerDeployment::from_flow(&file, "d", options).unwrap();
    assert_eq!(d.full_name(), "loader/d");
    assert_eq!(d.entrypoint.as_deref(), Some("flows/load.py:loader"));
    assert_eq!(d.path.as_deref(), Some("."));
    assert_eq!(d.version.as_deref(), Some("1.2"));
    assert!(d.version_from_flow);
    assert_eq!(d.description.as_deref(), Some("Loads things."));
    assert_eq!(d.tags, ["a"]);
    assert_eq!(d.schedules.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        d.parameter_openapi_schema.required.as_deref(),
        Some(&["bucket".to_owned()][..])
    );

    let module = flow.with_entrypoint("acme.flows.loader");
    let d = RunnerDeployment::from_flow(&module, "d", FromEntrypointOptions::default()).unwrap();
    assert_eq!(d.path, None);
    let body = d
        .create_body(Uuid::nil(), None, None, d.version.as_deref(), None)
        .unwrap();
    assert_eq!(body["path"], Value::Null);
    assert_eq!(body["entrypoint"], "acme.flows.loader");
}

/// The apply futures can be spawned on a multi-threaded runtime (the bulk pre-read's retry
/// makes `apply_with` recursive; the future must stay `Send`).
#[test]
fn apply_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let client = prefab_client::PrefectClient::new(
        prefab_client::ClientConfig::new("http://127.0.0.1:9/api").unwrap(),
    )
    .unwrap();
    let d = RunnerDeployment::builder("d")
        .flow_name("f")
        .build()
        .unwrap();
    let options = ApplyOptions::default();
    let cache = FlowIdCache::bulk();
    is_send(&apply_with(&client, &d, &options, &cache));
    let items = vec![(d.clone(), options.clone())];
    is_send(&apply_all(&client, &items, &BulkOptions::default(), |_| {}));
}

/// Deployments with equal schemas share one copy; one whose schema a frozen parameter changed
/// keeps its own.
#[test]
fn schema_pool_shares_equal_schemas_only() {
    let mut schema = prefab_flows::ParameterSchema::default();
    schema.properties.insert(
        "n".into(),
        json!({"type": "integer", "title": "n", "position": 0}),
    );
    let build = |name: &str| {
        RunnerDeployment::builder(name)
            .parameter_schema(schema.clone())
            .build()
            .unwrap()
    };
    let (mut a, mut b) = (build("a"), build("b"));
    let mut frozen = RunnerDeployment::builder("c")
        .parameter_schema(schema.clone())
        .frozen_parameter("n", json!(3))
        .build()
        .unwrap();
    assert!(!std::sync::Arc::ptr_eq(
        &a.parameter_openapi_schema,
        &b.parameter_openapi_schema
    ));
    let mut pool = SchemaPool::new();
    for d in [&mut a, &mut b, &mut frozen] {
        pool.share(d);
    }
    assert_eq!(pool.len(), 2);
    assert!(std::sync::Arc::ptr_eq(
        &a.parameter_openapi_schema,
        &b.parameter_openapi_schema
    ));
    assert_eq!(
        frozen.parameter_openapi_schema.properties["n"]["enum"],
        json!([3])
    );
    assert_eq!(*a.parameter_openapi_schema, schema);
}

/// A run infers version info once per directory: the second deployment of a run reuses the
/// first one's answer (git is not read again), a deployment outside a run reads it again.
#[test]
fn version_info_is_inferred_once_per_run() {
    use super::apply::{VersionCache, resolve_version};
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "first"]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://example.com/org/repo.git",
    ]);
    // An explicit, empty environment: the answer must not depend on the CI variables of the
    // process running the test (GITHUB_SHA and friends would win over git).
    let mut options = ApplyOptions::default().inference_dir(dir.path());
    options.env = Some(std::collections::HashMap::new());
    let deployment = RunnerDeployment::builder("d")
        .flow_name("f")
        .build()
        .unwrap();
    let cache = VersionCache::default();
    let first = resolve_version(&mut deployment.clone(), &options, Some(&cache)).unwrap();
    assert_eq!(first.kind, "vcs:git");
    assert_eq!(first.message.as_deref(), Some("first"));
    git(&["commit", "-q", "--allow-empty", "-m", "second"]);
    let again = resolve_version(&mut deployment.clone(), &options, Some(&cache)).unwrap();
    assert_eq!(again, first);
    let fresh = resolve_version(&mut deployment.clone(), &options, None).unwrap();
    assert_eq!(fresh.message.as_deref(), Some("second"));
    // A different explicit environment is a different answer, inferred anew.
    let mut github = options.clone();
    github.env = Some(
        [
            ("GITHUB_SHA", "abc1234"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_REPOSITORY", "org/repo"),
            ("GITHUB_SERVER_URL", "https://github.example"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    );
    let from_ci = resolve_version(&mut deployment.clone(), &github, Some(&cache)).unwrap();
    assert_eq!(from_ci.kind, "vcs:github");
    assert_eq!(
        resolve_version(&mut deployment.clone(), &options, Some(&cache)).unwrap(),
        first
    );
}

#[test]
fn empty_flow_name_description_and_version_fall_back_to_the_flow_as_in_prefect() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("f.py"),
        "from prefect import flow\n\n@flow(name=\"real\", version=\"7\")\ndef f():\n    \"\"\"Doc.\"\"\"\n",
    )
    .unwrap();
    let options = FromEntrypointOptions {
        flow_name: Some(String::new()),
        description: Some(String::new()),
        version: Some(String::new()),
        ..FromEntrypointOptions::default()
    };
    let d = RunnerDeployment::from_entrypoint("f.py:f", "d", dir.path(), options).unwrap();
    assert_eq!(d.flow_name.as_deref(), Some("real"));
    assert_eq!(d.description.as_deref(), Some("Doc."));
    assert_eq!(d.version.as_deref(), Some("7"));
}

#[test]
fn a_flow_cache_reads_each_flow_once_and_shares_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("etl.py"),
        "from prefect import flow\n\n@flow\ndef etl(day: str, retries: int = 2):\n    \"\"\"Nightly load.\"\"\"\n",
    )
    .unwrap();
    let mut cache = FlowCache::new();
    let build = |name: &str, cache: &mut FlowCache| {
        RunnerDeployment::from_entrypoint_cached(
            "etl.py:etl",
            name,
            dir.path(),
            FromEntrypointOptions::default(),
            cache,
        )
    };
    let a = build("a", &mut cache).unwrap();
    let b = build("b", &mut cache).unwrap();
    assert_eq!(cache.len(), 1);
    assert!(Arc::ptr_eq(
        &a.parameter_openapi_schema,
        &b.parameter_openapi_schema
    ));
    // The same deployment as without a cache.
    let fresh = RunnerDeployment::from_entrypoint(
        "etl.py:etl",
        "b",
        dir.path(),
        FromEntrypointOptions::default(),
    )
    .unwrap();
    assert_eq!(
        b.create_body(Uuid::nil(), None, None, None, None).unwrap(),
        fresh
            .create_body(Uuid::nil(), None, None, None, None)
            .unwrap()
    );
    assert_eq!(b.description.as_deref(), Some("Nightly load."));
    // A flow that does not load is not kept: the next build reads (and fails) again.
    let err = RunnerDeployment::from_entrypoint_cached(
        "missing.py:etl",
        "c",
        dir.path(),
        FromEntrypointOptions::default(),
        &mut cache,
    );
    assert!(err.is_err());
    assert_eq!(cache.len(), 1);
}
