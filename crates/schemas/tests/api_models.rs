//! The generated API models read and write the JSON a Prefect 3.9.1 server speaks (bodies taken
//! from spec/prefect-api.md and spec/runner-deployment.md).

use prefab_schemas::api::{
    Action, Automation, AutomationCreate, Deployment, DeploymentCreate, DeploymentUpdate, Flow,
    Seconds, Trigger,
};
use serde_json::{Value, json};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(body: &Value) -> Value {
    let parsed: T = serde_json::from_value(body.clone()).expect("deserializes");
    serde_json::to_value(&parsed).expect("serializes")
}

#[test]
fn deployment_create_round_trips_exactly() {
    let body = json!({"name":"dep-full","flow_id":"5e94a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d",
     "schedules":[
       {"schedule":{"interval":3600.0,"anchor_date":"2026-01-01T00:30:00Z","timezone":"UTC"},"active":true,"max_scheduled_runs":null,"parameters":{},"slug":"hourly","replaces":null},
       {"schedule":{"cron":"15 9 * * 1-5","timezone":"America/New_York","day_or":true},"active":true,"max_scheduled_runs":null,"parameters":{"x":2},"slug":"weekday-cron","replaces":null}],
     "parameters":{"x":1,"name":"bob"},
     "parameter_openapi_schema":{"title":"Parameters","type":"object","properties":{"x":{"title":"x","type":"integer","position":0}},"required":["x"]},
     "enforce_parameter_schema":true,"tags":["t1","t2"],"version":"v1",
     "version_info":{"type":"prefect:simple","version":"v1"},
     "concurrency_limit":3,"concurrency_options":{"collision_strategy":"CANCEL_NEW"},"paused":false,
     "pull_steps":[{"prefect.deployments.steps.set_working_directory":{"directory":"/opt/app"}}],
     "job_variables":{"env":{"A":"1"}},"entrypoint":"flows.py:my_flow","path":"/opt/app","description":"a full deployment",
     "storage_document_id": null, "infrastructure_document_id": null});
    assert_eq!(round_trip::<DeploymentCreate>(&body), body);
}

#[test]
fn update_tells_unset_from_null() {
    let mut update = DeploymentUpdate::default();
    update.pull_steps = Some(None);
    update.version = Some(Some("v2".into()));
    assert_eq!(
        serde_json::to_value(&update).unwrap(),
        json!({"pull_steps": null, "version": "v2"})
    );
    assert_eq!(
        round_trip::<DeploymentUpdate>(&json!({"pull_steps": null})),
        json!({"pull_steps": null})
    );
}

#[test]
fn deployment_response_reads() {
    let body = json!({"id":"09a8a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","created":"2026-11-26T14:51:20.905285Z","updated":"2026-11-26T14:51:20.905285Z",
     "name":"dep-full","version":"v1","description":"a full deployment","flow_id":"5e94a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","paused":false,
     "schedules":[{"id":"7a23a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","created":"2026-11-26T14:51:20.905285Z","updated":"2026-11-26T14:51:20.905285Z",
        "deployment_id":"09a8a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d",
        "schedule":{"rrule":"DTSTART:20200101T000000\nFREQ=DAILY;BYHOUR=6;BYMINUTE=0","timezone":"Europe/Berlin"},
        "active":false,"max_scheduled_runs":null,"parameters":{},"slug":null}],
     "concurrency_limit":null,
     "global_concurrency_limit":{"id":"c369a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","created":"2026-11-26T14:51:20.905285Z","updated":"2026-11-26T14:51:20.905285Z","active":true,"name":"deployment:09a8","limit":3,"active_slots":0,"slot_decay_per_second":0.0},
     "concurrency_options":{"collision_strategy":"CANCEL_NEW","grace_period_seconds":null},
     "job_variables":{"env":{"A":"1"}},"parameters":{"x":1},"tags":["t1"],
     "labels":{"prefect.flow.id":"5e94a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d"},"work_queue_name":null,"work_queue_id":null,"last_polled":null,
     "parameter_openapi_schema":{},"path":"/opt/app","pull_steps":[],"entrypoint":"flows.py:my_flow",
     "storage_document_id":null,"infrastructure_document_id":null,"created_by":null,"updated_by":null,
     "work_pool_name":null,"status":"NOT_READY","enforce_parameter_schema":true});
    let d: Deployment = serde_json::from_value(body).expect("a real server response deserializes");
    assert_eq!(d.name, "dep-full");
    assert_eq!(d.schedules.as_ref().map(Vec::len), Some(1));
}

#[test]
fn automation_for_a_deployment_trigger() {
    let body = json!({"name":"my-deploy__automation_1","description":"","enabled":true,"tags":[],
     "trigger":{"type":"event","match":{},"match_related":{},"after":[],"expect":["external.thing"],"for_each":[],
                "posture":"Reactive","threshold":1,"within":0.0},
     "actions":[{"type":"run-deployment","source":"selected","deployment_id":"11111111-8d1c-4a53-9d0e-4c5b8a1f2e3d","parameters":{"name":"evt"},
                 "job_variables":null,"schedule_after":0.0}],
     "actions_on_trigger":[],"actions_on_resolve":[],"owner_resource":"prefect.deployment.11111111-8d1c-4a53-9d0e-4c5b8a1f2e3d"});
    assert_eq!(round_trip::<AutomationCreate>(&body), body);
    let created: AutomationCreate = serde_json::from_value(body).unwrap();
    assert!(matches!(created.trigger, Trigger::Event(_)));
    assert!(matches!(
        created.actions.first(),
        Some(Action::RunDeployment(_))
    ));
}

#[test]
fn compound_and_metric_triggers_and_duration_strings() {
    let compound = json!({"type":"compound","triggers":[
        {"type":"event","posture":"Reactive","within":"PT0S"},
        {"type":"metric","metric":{"name":"lateness","threshold":60.0,"operator":">=","range":300.0,"firing_for":300.0}}],
        "within":60.0,"require":"all"});
    let t: Trigger = serde_json::from_value(compound).expect("compound trigger");
    let Trigger::Compound(c) = &t else {
        panic!("not compound: {t:?}")
    };
    assert_eq!(c.within, Some(Seconds(60.0)));
    assert_eq!(
        serde_json::to_value(&c.triggers[0]).unwrap()["within"],
        json!(0.0)
    );
}

#[test]
fn flow_and_automation_responses() {
    let _: Flow = serde_json::from_value(
        json!({"id":"5e94a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","created":"2026-11-26T14:51:20.905285Z",
        "updated":"2026-11-26T14:51:20.905285Z","name":"my-flow","tags":["a"],"labels":{}}),
    )
    .unwrap();
    let _: Automation = serde_json::from_value(json!({"name":"a","description":"","enabled":true,"tags":[],
        "trigger":{"type":"event","id":"1048a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","match":{"prefect.resource.id":"x"},"match_related":{},"after":[],"expect":["e"],"for_each":[],"posture":"Reactive","threshold":1,"within":0.0},
        "actions":[{"type":"run-deployment","source":"selected","deployment_id":"91f9a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","parameters":{"x":3},"job_variables":null,"schedule_after":0.0}],
        "actions_on_trigger":[],"actions_on_resolve":[],"id":"a1d3a6f2-8d1c-4a53-9d0e-4c5b8a1f2e3d","created":"2026-11-26T14:51:20.905285Z","updated":"2026-11-26T14:51:20.905285Z"})).unwrap();
}

#[test]
fn models_and_schedules_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<prefab_schemas::schedules::Schedule>();
    check::<prefab_schemas::schedules::Zone>();
    check::<Deployment>();
    check::<AutomationCreate>();
}
