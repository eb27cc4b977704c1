//! Request construction, as pure functions of their inputs: every method, path, header and body
//! the client sends is built here and unit-tested without a network (the kube-core approach).

use base64::Engine as _;
use http::{HeaderValue, Method};
use prefab_schemas::api::{
    AutomationCreate, AutomationFilterRequest, DeploymentCountRequest, DeploymentCreate,
    DeploymentFilterRequest, DeploymentFlowRunCreate, DeploymentUpdate, FlowCreate,
    FlowRunFilterRequest, ScheduleDeploymentRequest, WorkPoolCreate,
};
use prefab_schemas::schedules::{DeploymentScheduleCreate, DeploymentScheduleUpdate};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{API_VERSION, Auth, ClientConfig};
use crate::error::ClientError;

/// Whether sending a request twice is harmless — which decides whether a request that may have
/// reached the server is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    /// Reads, and writes whose repetition leaves the same state (PATCH of fields, DELETE).
    Idempotent,
    /// Creates that the server de-duplicates (`POST /flows/`, `POST /deployments/` upsert on
    /// their names): repeating returns the same object.
    Upsert,
    /// Creates that a repetition would duplicate (automations, flow runs without an idempotency
    /// key). Retried only when the request certainly did not reach the server.
    NotIdempotent,
}

impl Safety {
    /// Whether a request that may have reached the server can be sent again.
    pub fn retry_when_maybe_received(self) -> bool {
        !matches!(self, Safety::NotIdempotent)
    }
}

/// One API request, before it is sent: method, path relative to the API root, JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path relative to the API root (starts with `/`, segments percent-encoded).
    pub path: String,
    /// The JSON body.
    pub body: Option<Vec<u8>>,
    /// Whether a repetition is harmless.
    pub safety: Safety,
    /// What a 404 means ("deployment", "flow", …) for the error message.
    pub subject: &'static str,
}

impl ApiRequest {
    fn new(method: Method, path: String, safety: Safety, subject: &'static str) -> ApiRequest {
        ApiRequest {
            method,
            path,
            body: None,
            safety,
            subject,
        }
    }

    fn json(mut self, body: &impl Serialize) -> Result<ApiRequest, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::InvalidInput {
            field: "request body".into(),
            value: self.path.clone(),
            reason: format!("cannot be written as JSON: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Whether the request writes (everything but GET and the read-only filter/count POSTs):
    /// writes are what a SQLite-backed server serialises.
    pub fn is_write(&self) -> bool {
        if self.method == Method::GET {
            return false;
        }
        let read_only_post = self.method == Method::POST
            && ["/filter", "/count", "/paginate"]
                .iter()
                .any(|suffix| self.path.ends_with(suffix));
        !read_only_post
    }

    /// The full HTTP request: URL under `config.api_url`, JSON headers, API version, user agent
    /// and credentials.
    pub fn to_http(&self, config: &ClientConfig) -> Result<http::Request<Vec<u8>>, ClientError> {
        let url = format!("{}{}", config.api_url, self.path);
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(&url)
            .header(http::header::ACCEPT, "application/json")
            .header("X-PREFECT-API-VERSION", API_VERSION)
            .header(http::header::USER_AGENT, &config.user_agent);
        if self.body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let auth = match &config.auth {
            Auth::None => None,
            Auth::ApiKey(key) => Some(format!("Bearer {}", key.expose())),
            Auth::Basic(pair) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair.expose())
            )),
        };
        if let Some(auth) = auth {
            let mut value = HeaderValue::from_str(&auth).map_err(|_| {
                ClientError::Config(
                    "the API credentials contain characters not allowed in an HTTP header".into(),
                )
            })?;
            value.set_sensitive(true);
            builder = builder.header(http::header::AUTHORIZATION, value);
        }
        builder
            .body(self.body.clone().unwrap_or_default())
            .map_err(|e| ClientError::Config(format!("cannot build a request for {url}: {e}")))
    }
}

/// Percent-encodes one path segment the way Prefect's client (httpx) does: a space becomes
/// `%20`, reserved characters are escaped, unreserved ones kept.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Characters Prefect's database refuses in flow and deployment names (the server answers 500
/// instead of a validation error, spec prefect-api.md §5).
const BANNED_NAME_CHARACTERS: &[char] = &['/', '%', '&', '>', '<'];

/// Checks a flow or deployment name before it is sent.
pub fn check_name(field: &str, name: &str) -> Result<(), ClientError> {
    if name.is_empty() {
        return Err(ClientError::InvalidInput {
            field: field.into(),
            value: name.into(),
            reason: "must not be empty".into(),
        });
    }
    if let Some(c) = name.chars().find(|c| BANNED_NAME_CHARACTERS.contains(c)) {
        return Err(ClientError::InvalidInput {
            field: field.into(),
            value: name.into(),
            reason: format!("contains {c:?}; Prefect does not allow any of / % & > < in names"),
        });
    }
    Ok(())
}

/// `GET /health`.
pub fn health() -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        "/health".into(),
        Safety::Idempotent,
        "health endpoint",
    )
}

/// `GET /admin/version`: the server's Prefect version.
pub fn server_version() -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        "/admin/version".into(),
        Safety::Idempotent,
        "version endpoint",
    )
}

/// `POST /flows/`: create a flow, or return the existing one of that name (200 vs 201).
pub fn create_flow(flow: &FlowCreate) -> Result<ApiRequest, ClientError> {
    check_name("flow name", &flow.name)?;
    ApiRequest::new(Method::POST, "/flows/".into(), Safety::Upsert, "flow").json(flow)
}

/// `GET /flows/{id}`.
pub fn read_flow(id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/flows/{id}"),
        Safety::Idempotent,
        "flow",
    )
}

/// `GET /flows/name/{name}`.
pub fn read_flow_by_name(name: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/flows/name/{}", encode_segment(name)),
        Safety::Idempotent,
        "flow",
    )
}

/// `POST /deployments/`: create a deployment, or update the one with the same flow and name
/// (an upsert: 200 when it existed, 201 when created).
pub fn create_deployment(deployment: &DeploymentCreate) -> Result<ApiRequest, ClientError> {
    check_name("deployment name", &deployment.name)?;
    ApiRequest::new(
        Method::POST,
        "/deployments/".into(),
        Safety::Upsert,
        "deployment",
    )
    .json(deployment)
}

/// `GET /deployments/{id}`.
pub fn read_deployment(id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/deployments/{id}"),
        Safety::Idempotent,
        "deployment",
    )
}

/// `GET /deployments/name/{flow}/{deployment}`.
pub fn read_deployment_by_name(flow_name: &str, deployment_name: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!(
            "/deployments/name/{}/{}",
            encode_segment(flow_name),
            encode_segment(deployment_name)
        ),
        Safety::Idempotent,
        "deployment",
    )
}

/// `PATCH /deployments/{id}` (204): sets the fields present in `update`.
pub fn update_deployment(id: Uuid, update: &DeploymentUpdate) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::PATCH,
        format!("/deployments/{id}"),
        Safety::Idempotent,
        "deployment",
    )
    .json(update)
}

/// `DELETE /deployments/{id}` (204).
pub fn delete_deployment(id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::DELETE,
        format!("/deployments/{id}"),
        Safety::Idempotent,
        "deployment",
    )
}

/// `POST /deployments/filter`.
pub fn filter_deployments(filter: &DeploymentFilterRequest) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        "/deployments/filter".into(),
        Safety::Idempotent,
        "deployments",
    )
    .json(filter)
}

/// `POST /deployments/count`.
pub fn count_deployments(filter: &DeploymentCountRequest) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        "/deployments/count".into(),
        Safety::Idempotent,
        "deployments",
    )
    .json(filter)
}

/// `GET /deployments/{id}/schedules`.
pub fn read_deployment_schedules(id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/deployments/{id}/schedules"),
        Safety::Idempotent,
        "deployment",
    )
}

/// `POST /deployments/{id}/schedules` (a JSON list; 201).
pub fn create_deployment_schedules(
    id: Uuid,
    schedules: &[DeploymentScheduleCreate],
) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        format!("/deployments/{id}/schedules"),
        Safety::NotIdempotent,
        "deployment",
    )
    .json(&schedules)
}

/// `PATCH /deployments/{id}/schedules/{schedule_id}` (204).
pub fn update_deployment_schedule(
    id: Uuid,
    schedule_id: Uuid,
    update: &DeploymentScheduleUpdate,
) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::PATCH,
        format!("/deployments/{id}/schedules/{schedule_id}"),
        Safety::Idempotent,
        "deployment schedule",
    )
    .json(update)
}

/// `DELETE /deployments/{id}/schedules/{schedule_id}` (204).
pub fn delete_deployment_schedule(id: Uuid, schedule_id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::DELETE,
        format!("/deployments/{id}/schedules/{schedule_id}"),
        Safety::Idempotent,
        "deployment schedule",
    )
}

/// `POST /deployments/{id}/create_flow_run` (201; 200 with an existing idempotency key).
pub fn create_flow_run(id: Uuid, run: &DeploymentFlowRunCreate) -> Result<ApiRequest, ClientError> {
    // With an idempotency key the server returns the existing run for a repeat.
    let safety = match &run.idempotency_key {
        Some(Some(_)) => Safety::Upsert,
        _ => Safety::NotIdempotent,
    };
    ApiRequest::new(
        Method::POST,
        format!("/deployments/{id}/create_flow_run"),
        safety,
        "deployment",
    )
    .json(run)
}

/// `POST /deployments/{id}/schedule`: have the server create the scheduled runs of a window
/// (idempotent: runs carry idempotency keys).
pub fn schedule_deployment(
    id: Uuid,
    window: &ScheduleDeploymentRequest,
) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        format!("/deployments/{id}/schedule"),
        Safety::Idempotent,
        "deployment",
    )
    .json(window)
}

/// `POST /flow_runs/filter`.
pub fn filter_flow_runs(filter: &FlowRunFilterRequest) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        "/flow_runs/filter".into(),
        Safety::Idempotent,
        "flow runs",
    )
    .json(filter)
}

/// `POST /automations/` (201).
pub fn create_automation(automation: &AutomationCreate) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        "/automations/".into(),
        Safety::NotIdempotent,
        "automation",
    )
    .json(automation)
}

/// `GET /automations/{id}`.
pub fn read_automation(id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/automations/{id}"),
        Safety::Idempotent,
        "automation",
    )
}

/// `POST /automations/filter`.
pub fn filter_automations(filter: &AutomationFilterRequest) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        "/automations/filter".into(),
        Safety::Idempotent,
        "automations",
    )
    .json(filter)
}

/// `DELETE /automations/owned-by/{resource_id}` (202), e.g. `prefect.deployment.<id>`.
pub fn delete_automations_owned_by(resource_id: &str) -> ApiRequest {
    ApiRequest::new(
        Method::DELETE,
        format!("/automations/owned-by/{}", encode_segment(resource_id)),
        Safety::Idempotent,
        "automations",
    )
}

/// `GET /automations/related-to/{resource_id}`.
pub fn read_automations_related_to(resource_id: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/automations/related-to/{}", encode_segment(resource_id)),
        Safety::Idempotent,
        "automations",
    )
}

/// `POST /slas/apply-resource-slas/prefect.deployment.{id}` (Prefect Cloud only).
pub fn apply_deployment_slas(
    id: Uuid,
    slas: &[serde_json::Value],
) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        format!("/slas/apply-resource-slas/prefect.deployment.{id}"),
        Safety::Idempotent,
        "SLA endpoint",
    )
    .json(&slas)
}

/// `GET /work_pools/{name}`.
pub fn read_work_pool(name: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/work_pools/{}", encode_segment(name)),
        Safety::Idempotent,
        "work pool",
    )
}

/// `GET /variables/name/{name}` (404 when there is no such variable).
pub fn read_variable_by_name(name: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/variables/name/{}", encode_segment(name)),
        Safety::Idempotent,
        "variable",
    )
}

/// `GET /block_types/slug/{slug}/block_documents/name/{name}?include_secrets=true`: a block
/// document with its secret fields in clear, as `prefect deploy` reads the blocks a
/// `{{ prefect.blocks.TYPE.NAME }}` placeholder names.
pub fn read_block_document_by_name(block_type_slug: &str, name: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!(
            "/block_types/slug/{}/block_documents/name/{}?include_secrets=true",
            encode_segment(block_type_slug),
            encode_segment(name)
        ),
        Safety::Idempotent,
        "block document",
    )
}

/// `POST /work_pools/` (201; 409 when the name exists).
pub fn create_work_pool(pool: &WorkPoolCreate) -> Result<ApiRequest, ClientError> {
    ApiRequest::new(
        Method::POST,
        "/work_pools/".into(),
        Safety::NotIdempotent,
        "work pool",
    )
    .json(pool)
}

/// `GET /work_queues/{id}`.
pub fn read_work_queue(id: Uuid) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/work_queues/{id}"),
        Safety::Idempotent,
        "work queue",
    )
}

/// `GET /work_pools/{pool}/queues/{name}`.
pub fn read_work_queue_by_name(pool: &str, name: &str) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!(
            "/work_pools/{}/queues/{}",
            encode_segment(pool),
            encode_segment(name)
        ),
        Safety::Idempotent,
        "work queue",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn config(auth: Auth) -> ClientConfig {
        ClientConfig::new("http://127.0.0.1:4200/api")
            .unwrap()
            .with_auth(auth)
    }

    #[test]
    fn flow_create_is_an_upsert_post_with_json() {
        let req = create_flow(&FlowCreate::new("my-flow".into())).unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/flows/")
        );
        assert_eq!(req.safety, Safety::Upsert);
        let http = req.to_http(&config(Auth::None)).unwrap();
        assert_eq!(http.uri(), "http://127.0.0.1:4200/api/flows/");
        assert_eq!(http.headers()["content-type"], "application/json");
        assert_eq!(http.headers()["x-prefect-api-version"], "0.8.4");
        assert!(
            http.headers()["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("prefab/")
        );
        assert!(http.headers().get("authorization").is_none());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(http.body()).unwrap(),
            serde_json::json!({"name": "my-flow"})
        );
    }

    #[test]
    fn names_are_percent_encoded_like_httpx() {
        let req = read_deployment_by_name("ETL Pipeline", "etl-nightly");
        assert_eq!(req.path, "/deployments/name/ETL%20Pipeline/etl-nightly");
        assert_eq!(encode_segment("a b#c?d\u{e9}"), "a%20b%23c%3Fd%C3%A9");
    }

    #[test]
    fn credentials_become_sensitive_headers() {
        let http = health()
            .to_http(&config(Auth::Basic(Secret::new("admin:pass"))))
            .unwrap();
        let value = &http.headers()["authorization"];
        assert_eq!(value, "Basic YWRtaW46cGFzcw==");
        assert!(value.is_sensitive());
        assert!(!format!("{http:?}").contains("YWRtaW46cGFzcw"));
        let http = health()
            .to_http(&config(Auth::ApiKey(Secret::new("pnu_abc"))))
            .unwrap();
        assert_eq!(http.headers()["authorization"], "Bearer pnu_abc");
        assert!(
            health()
                .to_http(&config(Auth::None))
                .unwrap()
                .body()
                .is_empty()
        );
    }

    #[test]
    fn names_the_server_would_crash_on_are_refused_before_sending() {
        let err =
            create_deployment(&DeploymentCreate::new("bad/9".into(), Uuid::nil())).unwrap_err();
        assert!(matches!(err, ClientError::InvalidInput { .. }));
        assert!(
            err.to_string().contains("bad/9") && err.to_string().contains('/'),
            "{err}"
        );
        assert!(!err.may_have_reached_server());
    }

    #[test]
    fn paths_and_safety_of_every_endpoint() {
        let id = Uuid::nil();
        let cases = [
            (read_deployment(id), "GET", "/deployments/00000000-0000-0000-0000-000000000000", Safety::Idempotent),
            (delete_deployment(id), "DELETE", "/deployments/00000000-0000-0000-0000-000000000000", Safety::Idempotent),
            (read_flow_by_name("f"), "GET", "/flows/name/f", Safety::Idempotent),
            (
                delete_automations_owned_by(&format!("prefect.deployment.{id}")),
                "DELETE",
                "/automations/owned-by/prefect.deployment.00000000-0000-0000-0000-000000000000",
                Safety::Idempotent,
            ),
            (create_automation(&serde_json::from_value(serde_json::json!({
                "name": "a", "trigger": {"type": "event", "posture": "Reactive"}, "actions": []
            })).unwrap()).unwrap(), "POST", "/automations/", Safety::NotIdempotent),
            (read_work_pool("my pool"), "GET", "/work_pools/my%20pool", Safety::Idempotent),
        ];
        for (req, method, path, safety) in cases {
            assert_eq!(
                (req.method.as_str(), req.path.as_str(), req.safety),
                (method, path, safety)
            );
        }
        let update = update_deployment(id, &DeploymentUpdate::default()).unwrap();
        assert_eq!(update.body.as_deref(), Some(&b"{}"[..]));
    }
}
