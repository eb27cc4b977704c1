//! prefab-client against a real Prefect 3.9.1 server (provisioned by the tests themselves):
//! every endpoint, the 404/409/422 mapping, pagination past 200, concurrency against SQLite, and
//! authentication.

mod support;

use std::collections::BTreeSet;

use futures::{StreamExt as _, TryStreamExt as _};
use prefab_client::api::{
    AutomationCreate, AutomationFilterRequest, DeploymentCountRequest, DeploymentCreate,
    DeploymentFilter, DeploymentFilterName, DeploymentFilterRequest, DeploymentFlowRunCreate,
    DeploymentUpdate, FlowCreate, FlowRunFilter, FlowRunFilterDeploymentId, FlowRunFilterRequest,
    ScheduleDeploymentRequest, WorkPoolCreate,
};
use prefab_client::local_server::ServerOptions;
use prefab_client::{Auth, ClientConfig, ClientError, PrefectClient, Secret};
use prefab_schemas::schedules::{
    CronSchedule, DeploymentScheduleCreate, DeploymentScheduleUpdate, Schedule, parse_timestamp,
};
use serde_json::json;
use uuid::Uuid;

fn client() -> PrefectClient {
    let server = support::prefect::server();
    PrefectClient::new(ClientConfig::new(server.api_url()).unwrap()).unwrap()
}

/// A name no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

async fn flow_id(c: &PrefectClient, name: &str) -> Uuid {
    c.create_flow(&FlowCreate::new(name.into()))
        .await
        .unwrap()
        .value
        .id
}

#[tokio::test]
async fn health_version_and_flows() {
    let c = client();
    assert!(c.health().await.unwrap());
    assert_eq!(c.server_version().await.unwrap(), "3.9.1");
    let name = unique("flow");
    let mut create = FlowCreate::new(name.clone());
    create.tags = Some(vec!["a".into()]);
    let first = c.create_flow(&create).await.unwrap();
    assert!(first.created);
    create.tags = Some(vec!["b".into()]);
    let again = c.create_flow(&create).await.unwrap();
    assert!(
        !again.created,
        "the second create of a name finds the flow (200)"
    );
    assert_eq!(again.value.id, first.value.id);
    assert_eq!(
        again.value.tags,
        Some(vec!["a".into()]),
        "Prefect keeps the existing row unchanged"
    );
    assert_eq!(c.read_flow(first.value.id).await.unwrap().name, name);
    assert_eq!(c.read_flow_by_name(&name).await.unwrap().id, first.value.id);
    let err = c.read_flow_by_name(&unique("missing")).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn deployments_round_trip_update_and_delete() {
    let c = client();
    let flow = unique("flow");
    let fid = flow_id(&c, &flow).await;
    let name = unique("dep");
    let mut create = DeploymentCreate::new(name.clone(), fid);
    let cron = CronSchedule::new("15 9 * * 1-5")
        .unwrap()
        .with_timezone("America/New_York")
        .unwrap();
    let mut schedule = DeploymentScheduleCreate::new(cron);
    schedule.slug = Some("weekday".into());
    create.schedules = Some(vec![schedule]);
    create.parameters = Some(serde_json::from_value(json!({"x": 1})).unwrap());
    create.parameter_openapi_schema = Some(Some(
        serde_json::from_value(json!({
            "title": "Parameters", "type": "object",
            "properties": {"x": {"title": "x", "type": "integer", "position": 0}}, "required": ["x"]
        }))
        .unwrap(),
    ));
    create.enforce_parameter_schema = Some(true);
    create.tags = Some(vec!["t1".into()]);
    create.version = Some(Some("v1".into()));
    create.entrypoint = Some(Some("flows.py:my_flow".into()));
    let created = c.create_deployment(&create).await.unwrap();
    assert!(created.created);
    let id = created.value.id;
    let again = c.create_deployment(&create).await.unwrap();
    assert!(
        !again.created,
        "an upsert of the same flow and name answers 200"
    );
    assert_eq!(again.value.id, id);

    let read = c.read_deployment_by_name(&flow, &name).await.unwrap();
    assert_eq!(read.id, id);
    assert_eq!(read.version.as_deref(), Some("v1"));
    assert_eq!(read.tags, Some(vec!["t1".into()]));
    let schedules = read.schedules.unwrap();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0].slug.as_deref(), Some("weekday"));
    assert!(matches!(schedules[0].schedule, Schedule::Cron(_)));

    let mut update = DeploymentUpdate::default();
    update.description = Some(Some("patched".into()));
    update.paused = Some(true);
    c.update_deployment(id, &update).await.unwrap();
    let read = c.read_deployment(id).await.unwrap();
    assert_eq!(read.description.as_deref(), Some("patched"));
    assert_eq!(read.paused, Some(true));

    // 409: a parameter the enforced schema refuses.
    let mut bad = DeploymentUpdate::default();
    bad.parameters = Some(serde_json::from_value(json!({"x": "not-int"})).unwrap());
    let err = c.update_deployment(id, &bad).await.unwrap_err();
    assert!(matches!(err, ClientError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("not-int"), "{err}");

    c.delete_deployment(id).await.unwrap();
    assert!(c.read_deployment(id).await.unwrap_err().is_not_found());
    assert!(c.delete_deployment(id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn validation_errors_keep_prefects_detail() {
    let c = client();
    let fid = flow_id(&c, &unique("flow")).await;
    let body = json!({"name": unique("dep"), "flow_id": fid, "concurrency_limit": 0});
    let req =
        prefab_client::request::create_deployment(&serde_json::from_value(body).unwrap()).unwrap();
    let err = c.send(&req).await.unwrap_err();
    let ClientError::Validation { issues, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        issues
            .iter()
            .any(|i| i.loc.iter().any(|l| l == "concurrency_limit")),
        "{err}"
    );
    // A name the server would crash on (500) is refused before sending.
    let err = c
        .create_deployment(&DeploymentCreate::new("bad/9".into(), fid))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidInput { .. }) && !err.may_have_reached_server());
    // An unknown flow id is a conflict (foreign key).
    let err = c
        .create_deployment(&DeploymentCreate::new(unique("dep"), Uuid::new_v4()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn schedules_runs_and_the_schedule_window() {
    let c = client();
    let fid = flow_id(&c, &unique("flow")).await;
    let id = c
        .create_deployment(&DeploymentCreate::new(unique("dep"), fid))
        .await
        .unwrap()
        .value
        .id;
    let cron = CronSchedule::new("30 1 * * *")
        .unwrap()
        .with_timezone("America/New_York")
        .unwrap();
    let mut s = DeploymentScheduleCreate::new(cron);
    s.slug = Some("nightly".into());
    let created = c.create_deployment_schedules(id, &[s]).await.unwrap();
    assert_eq!(created.len(), 1);
    let sid = created[0].id;
    let mut change = DeploymentScheduleUpdate::default();
    change.active = Some(false);
    c.update_deployment_schedule(id, sid, &change)
        .await
        .unwrap();
    let listed = c.read_deployment_schedules(id).await.unwrap();
    assert_eq!(listed[0].active, Some(false));
    change.active = Some(true);
    c.update_deployment_schedule(id, sid, &change)
        .await
        .unwrap();

    // The server's scheduler, asked for a window across the US change, creates runs at exactly
    // the dates prefab computes.
    let start = parse_timestamp("2026-03-06T00:00:00Z").unwrap();
    let end = parse_timestamp("2026-03-12T00:00:00Z").unwrap();
    let mut window = ScheduleDeploymentRequest::default();
    window.start_time = Some(start);
    window.end_time = Some(end);
    window.min_runs = Some(100);
    window.max_runs = Some(100);
    window.min_time = Some(prefab_client::api::Seconds(864_000.0));
    c.schedule_deployment(id, &window).await.unwrap();
    let mut filter = FlowRunFilterRequest::default();
    let mut runs_filter = FlowRunFilter::default();
    let mut by_dep = FlowRunFilterDeploymentId::default();
    by_dep.any_ = Some(Some(vec![id]));
    runs_filter.deployment_id = Some(Some(by_dep));
    filter.flow_runs = Some(Some(runs_filter));
    let runs = c.filter_flow_runs(&filter).await.unwrap();
    let server_dates: BTreeSet<i64> = runs
        .iter()
        .filter_map(|r| r.expected_start_time.map(|t| t.as_second()))
        .collect();
    let expected: BTreeSet<i64> = created[0]
        .schedule
        .dates(None, Some(start), Some(end))
        .unwrap()
        .iter()
        .map(|d| d.timestamp().as_second())
        .collect();
    assert_eq!(server_dates, expected);
    assert_eq!(expected.len(), 6);

    let run = c
        .create_flow_run(id, &DeploymentFlowRunCreate::default())
        .await
        .unwrap();
    assert_eq!(run.deployment_id, Some(id));
    c.delete_deployment_schedule(id, sid).await.unwrap();
    assert!(
        c.delete_deployment_schedule(id, sid)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn automations_owned_by_a_deployment() {
    let c = client();
    let fid = flow_id(&c, &unique("flow")).await;
    let id = c
        .create_deployment(&DeploymentCreate::new(unique("dep"), fid))
        .await
        .unwrap()
        .value
        .id;
    let owner = format!("prefect.deployment.{id}");
    let name = unique("automation");
    let automation: AutomationCreate = serde_json::from_value(json!({
        "name": name, "description": "", "enabled": true, "tags": [],
        "trigger": {"type": "event", "match": {}, "match_related": {}, "after": [],
                    "expect": ["external.thing"], "for_each": [], "posture": "Reactive",
                    "threshold": 1, "within": 0.0},
        "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": id,
                     "parameters": {"name": "evt"}, "job_variables": null, "schedule_after": 0.0}],
        "actions_on_trigger": [], "actions_on_resolve": [], "owner_resource": owner
    }))
    .unwrap();
    let created = c.create_automation(&automation).await.unwrap();
    assert_eq!(c.read_automation(created.id).await.unwrap().name, name);
    let all = c
        .filter_automations(&AutomationFilterRequest::default())
        .await
        .unwrap();
    assert!(all.iter().any(|a| a.id == created.id));
    let related = c.read_automations_related_to(&owner).await.unwrap();
    assert!(related.iter().any(|a| a.id == created.id));
    c.delete_automations_owned_by(&owner).await.unwrap();
    assert!(
        c.read_automation(created.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Nothing left to delete is still fine (Prefect answers 202).
    c.delete_automations_owned_by(&owner).await.unwrap();
}

#[tokio::test]
async fn work_pools_queues_and_slas() {
    let c = client();
    let pool = unique("pool");
    let mut create = WorkPoolCreate::new(pool.clone());
    create.r#type = Some("process".into());
    let created = c.create_work_pool(&create).await.unwrap();
    assert_eq!(c.read_work_pool(&pool).await.unwrap().id, created.id);
    let queue = c.read_work_queue_by_name(&pool, "default").await.unwrap();
    assert_eq!(c.read_work_queue(queue.id).await.unwrap().name, "default");
    assert!(matches!(
        c.create_work_pool(&create).await.unwrap_err(),
        ClientError::Conflict { .. }
    ));
    assert!(
        c.read_work_pool(&unique("nope"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let err = c
        .apply_deployment_slas(Uuid::new_v4(), &[json!({"name": "ttc", "duration": 600})])
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotSupported { .. }), "{err:?}");
}

#[tokio::test]
async fn pagination_streams_past_two_hundred() {
    let c = client();
    let fid = flow_id(&c, &unique("flow")).await;
    let prefix = unique("page");
    let names: Vec<String> = (0..230).map(|i| format!("{prefix}-{i:03}")).collect();
    futures::stream::iter(names.iter().cloned())
        .map(|name| {
            let c = c.clone();
            async move {
                c.create_deployment(&DeploymentCreate::new(name, fid))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(2)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    let mut filter = DeploymentFilterRequest::default();
    let mut deployments = DeploymentFilter::default();
    let mut by_name = DeploymentFilterName::default();
    by_name.any_ = Some(Some(names.clone()));
    deployments.name = Some(Some(by_name));
    filter.deployments = Some(Some(deployments.clone()));
    let streamed: Vec<String> = c
        .deployments(filter)
        .map_ok(|d| d.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 230);
    assert_eq!(
        streamed.iter().collect::<BTreeSet<_>>(),
        names.iter().collect::<BTreeSet<_>>()
    );
    let mut count = DeploymentCountRequest::default();
    count.deployments = Some(Some(deployments));
    assert_eq!(c.count_deployments(&count).await.unwrap(), 230);
}

#[tokio::test]
async fn eight_concurrent_writers_lose_nothing() {
    let c = client();
    let fid = flow_id(&c, &unique("flow")).await;
    let prefix = unique("burst");
    let results: Vec<Result<(), ClientError>> = futures::stream::iter(0..120)
        .map(|i| {
            let c = c.clone();
            let name = format!("{prefix}-{i:03}");
            async move {
                c.create_deployment(&DeploymentCreate::new(name, fid))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} creates failed: {failures:?}",
        failures.len()
    );
    let mut count = DeploymentCountRequest::default();
    let mut deployments = DeploymentFilter::default();
    let mut by_name = DeploymentFilterName::default();
    by_name.like_ = Some(Some(prefix.clone()));
    deployments.name = Some(Some(by_name));
    count.deployments = Some(Some(deployments));
    assert_eq!(c.count_deployments(&count).await.unwrap(), 120);
}

#[tokio::test]
async fn basic_auth_right_wrong_and_missing() {
    let server = ServerOptions::new()
        .state_dir(support::prefect::state_root().join("auth"))
        .auth_string("admin:s3cret-pass")
        .stop_when_unused(support::prefect::SHARED_SERVER_GRACE)
        .start()
        .unwrap_or_else(|e| panic!("could not provision the auth test server: {e}"));
    let with = |auth: Auth| {
        PrefectClient::new(ClientConfig::new(server.api_url()).unwrap().with_auth(auth)).unwrap()
    };
    let right = with(Auth::Basic(Secret::new("admin:s3cret-pass")));
    assert!(
        right
            .create_flow(&FlowCreate::new(unique("flow")))
            .await
            .unwrap()
            .created
    );
    for auth in [
        Auth::Basic(Secret::new("admin:wrong-pass")),
        Auth::None,
        Auth::ApiKey(Secret::new("pnu_x")),
    ] {
        let err = with(auth)
            .create_flow(&FlowCreate::new(unique("flow")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::Unauthorized { status: 401, .. }),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("wrong-pass") && !text.contains("pnu_x"),
            "{text}"
        );
        assert!(text.contains("PREFECT_API_AUTH_STRING"), "{text}");
    }
    // Health stays open without credentials, as on Prefect's server.
    assert!(with(Auth::None).health().await.unwrap());
}

#[test]
fn the_blocking_client_works_outside_async() {
    let server = support::prefect::server();
    let c =
        prefab_client::blocking::PrefectClient::new(ClientConfig::new(server.api_url()).unwrap())
            .unwrap();
    assert!(c.health().unwrap());
    let flow = c.create_flow(&FlowCreate::new(unique("flow"))).unwrap();
    assert_eq!(c.read_flow(flow.value.id).unwrap().id, flow.value.id);
}
