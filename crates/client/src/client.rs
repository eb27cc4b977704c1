//! The async client: sends [`ApiRequest`]s with retries, maps answers to typed results.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use prefab_schemas::api::{
    Automation, AutomationCreate, AutomationFilterRequest, Deployment, DeploymentCountRequest,
    DeploymentCreate, DeploymentFilterRequest, DeploymentFlowRunCreate, DeploymentSchedule,
    DeploymentUpdate, Flow, FlowCreate, FlowRunFilterRequest, FlowRunResponse,
    ScheduleDeploymentRequest, WorkPool, WorkPoolCreate, WorkQueueResponse,
};
use prefab_schemas::schedules::{DeploymentScheduleCreate, DeploymentScheduleUpdate};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::Secret;
use crate::config::{Auth, ClientConfig};
use crate::error::{
    ClientError, TransportErrorKind, ValidationIssue, body_start, innermost_cause, secs, truncate,
};
use crate::request::{self, ApiRequest};

/// The largest page the server serves (`limit` ≤ 200).
pub const MAX_PAGE: i64 = 200;

/// A raw answer: status and body, and the request it answers (for error messages).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// How many attempts it took.
    pub attempts: u32,
    /// The `Content-Type` header, when there was one.
    pub content_type: Option<String>,
    /// The request method.
    pub method: String,
    /// The full URL requested (never with credentials).
    pub url: String,
    /// The credentials' forms, replaced by `***` in any text of this answer an error shows
    /// (a proxy or echo service may send the request's headers back).
    redact: Arc<Vec<Secret>>,
}

impl ApiResponse {
    /// The body read as `T`; HTML, broken JSON or JSON of another shape is
    /// [`ClientError::UnexpectedResponse`] (the server's fault, not the request's).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let reason = if serde_json::from_slice::<serde::de::IgnoredAny>(&self.body).is_ok() {
                format!("JSON of an unexpected shape ({e})")
            } else if self.body.is_empty() {
                "an empty body where JSON was expected".to_owned()
            } else {
                format!("not JSON ({e})")
            };
            self.unexpected(reason)
        })
    }

    /// A [`ClientError::UnexpectedResponse`] for this answer: `reason` says what was wrong
    /// with it (e.g. "no `id` in the deployment").
    pub fn unexpected(&self, reason: impl Into<String>) -> ClientError {
        ClientError::UnexpectedResponse {
            method: self.method.clone(),
            url: self.url.clone(),
            status: self.status,
            content_type: self.content_type.clone(),
            reason: reason.into(),
            body_start: redact(body_start(&self.body), &self.redact),
        }
    }

    /// The body as text for an error message: truncated, credentials replaced.
    fn text_for_error(&self) -> String {
        redact(truncate(&String::from_utf8_lossy(&self.body)), &self.redact)
    }
}

/// The forms in which the configured credentials travel: the key or `user:password`, its
/// base64 (the `Authorization: Basic` value), and the password alone.
fn secret_forms(auth: &Auth) -> Vec<Secret> {
    use base64::Engine as _;
    let mut forms = Vec::new();
    match auth {
        Auth::ApiKey(key) => forms.push(key.expose().to_owned()),
        Auth::Basic(pair) => {
            forms.push(pair.expose().to_owned());
            forms.push(base64::engine::general_purpose::STANDARD.encode(pair.expose()));
            if let Some((_, password)) = pair.expose().split_once(':') {
                forms.push(password.to_owned());
            }
        }
        _ => {}
    }
    forms.retain(|f| f.len() >= 4);
    // Longest first, so that a form containing another is replaced whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.into_iter().map(Secret::new).collect()
}

/// `text` with every form in `secrets` replaced by `***`.
fn redact(text: String, secrets: &[Secret]) -> String {
    secrets
        .iter()
        .fold(text, |t, s| t.replace(s.expose(), "***"))
}

/// An object returned by an upsert, and whether the call created it (201) or found it (200).
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted<T> {
    /// The object.
    pub value: T,
    /// True when the server created it.
    pub created: bool,
}

/// What the server did with a deployment's SLAs (Prefect Cloud).
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct SlaApplyResult {
    /// SLAs created.
    #[serde(default)]
    pub created: Vec<Value>,
    /// SLAs updated.
    #[serde(default)]
    pub updated: Vec<Value>,
    /// SLAs deleted.
    #[serde(default)]
    pub deleted: Vec<Value>,
}

/// Counters of what a client (and its clones) did, for observability and benchmarks.
#[derive(Debug, Default)]
pub struct ClientStats {
    requests: AtomicU64,
    attempts: AtomicU64,
    retried_statuses: AtomicU64,
    retried_503: AtomicU64,
    retried_transport: AtomicU64,
    server_busy: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`ClientStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Requests sent (each counted once, whatever its retries).
    pub requests: u64,
    /// HTTP attempts made.
    pub attempts: u64,
    /// Retries after a retryable status (408, 429, 502, 503, 504).
    pub retried_statuses: u64,
    /// Of those, retries after a 503.
    pub retried_503: u64,
    /// Retries after a transport error (refused or dropped connection, timeout).
    pub retried_transport: u64,
    /// Attempts the server turned away for being busy, retried or not: a `503` or `429`
    /// answer, or a connection it closed or reset before answering (a SQLite-backed Prefect
    /// server closes the keep-alive connection after each `503`). A caller that paces its own
    /// work (the bulk apply's adaptive concurrency) watches this count rise.
    pub server_busy: u64,
    /// Requests that ended in an error.
    pub failed: u64,
}

impl ClientStats {
    /// The current counts.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            attempts: self.attempts.load(Ordering::Relaxed),
            retried_statuses: self.retried_statuses.load(Ordering::Relaxed),
            retried_503: self.retried_503.load(Ordering::Relaxed),
            retried_transport: self.retried_transport.load(Ordering::Relaxed),
            server_busy: self.server_busy.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Adapts how many writes are in flight to what the server absorbs (additive increase,
/// multiplicative decrease): a 503 — SQLite's "database is locked" on a Prefect server — halves
/// the limit, each success raises it a little, up to the configured ceiling. Concurrent callers
/// then queue in the client instead of multiplying the server's 503s.
///
/// A write whose last attempt was answered busy (503/429, or its connection dropped) retries
/// *alone*: its permit waits until no other write of this client is in flight, and no new
/// write starts while it waits. SQLite takes one writer at a time, so without this a write can
/// lose the lock to this same client's other writes on every one of its retries and fail
/// (seen with `--concurrency 4` and `8`: 1-2 of 1000 deployments per pass).
#[derive(Debug)]
struct WriteLimiter {
    state: std::sync::Mutex<LimiterState>,
    notify: tokio::sync::Notify,
    ceiling: f64,
}

#[derive(Debug)]
struct LimiterState {
    limit: f64,
    in_flight: usize,
    /// Retries of busy writes waiting for the other writes to finish: new writes wait too.
    exclusive_waiting: usize,
    /// A busy write's retry is in flight, alone.
    exclusive_running: bool,
}

impl WriteLimiter {
    fn new(ceiling: usize) -> WriteLimiter {
        let ceiling = ceiling.max(1) as f64;
        WriteLimiter {
            state: std::sync::Mutex::new(LimiterState {
                limit: ceiling,
                in_flight: 0,
                exclusive_waiting: 0,
                exclusive_running: false,
            }),
            notify: tokio::sync::Notify::new(),
            ceiling,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit for one write attempt; `exclusive` (the retry of a write answered busy) waits
    /// until no other write is in flight and holds back new ones meanwhile.
    async fn acquire(&self, exclusive: bool) -> WritePermit<'_> {
        // Counted in `exclusive_waiting` until granted; dropped with the future (a cancelled
        // send) it stops holding the other writes back.
        let waiting = exclusive.then(|| {
            self.lock().exclusive_waiting += 1;
            ExclusiveWait { limiter: self }
        });
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self.lock();
                if exclusive {
                    if state.in_flight == 0 {
                        state.exclusive_waiting -= 1;
                        std::mem::forget(waiting);
                        state.in_flight = 1;
                        state.exclusive_running = true;
                        return WritePermit {
                            limiter: self,
                            exclusive: true,
                        };
                    }
                } else if !state.exclusive_running
                    && state.exclusive_waiting == 0
                    && (state.in_flight as f64) < state.limit.floor().max(1.0)
                {
                    state.in_flight += 1;
                    return WritePermit {
                        limiter: self,
                        exclusive: false,
                    };
                }
            }
            notified.await;
        }
    }

    fn on_overload(&self) {
        let mut state = self.lock();
        state.limit = (state.limit / 2.0).max(1.0);
    }

    fn on_success(&self) {
        let mut state = self.lock();
        state.limit = (state.limit + 1.0 / state.limit).min(self.ceiling);
        drop(state);
        self.notify.notify_waiters();
    }
}

struct WritePermit<'a> {
    limiter: &'a WriteLimiter,
    exclusive: bool,
}

impl Drop for WritePermit<'_> {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        state.in_flight -= 1;
        if self.exclusive {
            state.exclusive_running = false;
        }
        drop(state);
        self.limiter.notify.notify_waiters();
    }
}

/// An exclusive [`WriteLimiter::acquire`] still waiting; forgotten once granted.
struct ExclusiveWait<'a> {
    limiter: &'a WriteLimiter,
}

impl Drop for ExclusiveWait<'_> {
    fn drop(&mut self) {
        self.limiter.lock().exclusive_waiting -= 1;
        self.limiter.notify.notify_waiters();
    }
}

/// An async client for the Prefect REST API. Cheap to clone (connections are pooled and shared).
///
/// ```no_run
/// # async fn run() -> Result<(), prefab_client::ClientError> {
/// let client = prefab_client::PrefectClient::from_env()?;
/// let flow = client.read_flow_by_name("etl").await?;
/// println!("{} {}", flow.id, flow.name);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PrefectClient {
    http: reqwest::Client,
    /// For an `http://` API URL, `http` trusts no certificate authority (loading the system's
    /// bundle costs memory and start-up time, and fails on machines without one); this client,
    /// with the system's roots, is built the first time the server redirects to `https://`.
    tls: Option<Arc<OnceLock<reqwest::Client>>>,
    config: Arc<ClientConfig>,
    stats: Arc<ClientStats>,
    writes: Arc<WriteLimiter>,
    /// [`secret_forms`] of the configured credentials.
    secrets: Arc<Vec<Secret>>,
}

/// How many redirects a request follows (reqwest's and httpx's default limit).
const MAX_REDIRECTS: usize = 10;

impl PrefectClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<PrefectClient, ClientError> {
        // An https:// proxy for http:// URLs needs TLS too.
        let https_proxy = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| v.starts_with("https://")));
        let plain = config.api_url.starts_with("http://") && !https_proxy;
        let http = if plain {
            // Redirects are followed as Prefect's client does, except to https://: there the
            // 3xx comes back and `execute` re-sends the request with the TLS client.
            http_builder(&config)
                .tls_certs_only(std::iter::empty())
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.url().scheme() == "https" {
                        attempt.stop()
                    } else if attempt.previous().len() > MAX_REDIRECTS {
                        attempt.error("too many redirects")
                    } else {
                        attempt.follow()
                    }
                }))
                .build()
        } else {
            http_builder(&config).build()
        }
        .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(PrefectClient {
            http,
            tls: plain.then(Arc::default),
            writes: Arc::new(WriteLimiter::new(config.max_concurrent_writes)),
            secrets: Arc::new(secret_forms(&config.auth)),
            config: Arc::new(config),
            stats: Arc::default(),
        })
    }

    /// Sends one attempt. With an `http://` API URL, a redirect to `https://` is followed by
    /// re-sending the request with a client that trusts the system's certificate authorities.
    async fn execute(
        &self,
        req: &ApiRequest,
        reqwest_req: reqwest::Request,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let resp = self.http.execute(reqwest_req).await?;
        let Some(cell) = &self.tls else {
            return Ok(resp);
        };
        let to_https = resp.status().is_redirection()
            && resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.starts_with("https://"));
        if !to_https {
            return Ok(resp);
        }
        let client = match cell.get() {
            Some(client) => client,
            None => {
                let built = http_builder(&self.config).build()?;
                cell.get_or_init(|| built)
            }
        };
        // `to_http` and the conversion succeeded for this request already.
        match req.to_http(&self.config).map(reqwest::Request::try_from) {
            Ok(Ok(again)) => client.execute(again).await,
            _ => Ok(resp),
        }
    }

    /// A client configured from `PREFECT_API_URL`, `PREFECT_API_KEY`,
    /// `PREFECT_API_AUTH_STRING` (see [`ClientConfig::from_env`]).
    pub fn from_env() -> Result<PrefectClient, ClientError> {
        PrefectClient::new(ClientConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// What this client and its clones have done so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Sends a request with the retry policy: 408, 429 and 503 (the server did not act) are
    /// retried for any request; 502, 504, timeouts and dropped connections only for requests
    /// that are safe to repeat ([`Safety`](crate::request::Safety)); a connection that could
    /// not be opened up to [`RetryConfig::max_connect_retries`](crate::RetryConfig::max_connect_retries)
    /// times; an attempt that timed out (no answer, or no connection, in time) up to
    /// [`RetryConfig::max_timeout_retries`](crate::RetryConfig::max_timeout_retries) times, so a
    /// request with timeout `T` gives up after about `2·T`. `Retry-After` is honoured. Before
    /// each wait an INFO event goes to [`RETRY_EVENT_TARGET`] (fields `attempt`,
    /// `max_attempts`, `wait_ms`, `reason`, `method`, `path`). Non-2xx answers become typed
    /// errors that say how many attempts were made and how long they took in all.
    pub async fn send(&self, req: &ApiRequest) -> Result<ApiResponse, ClientError> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let result = self.send_with_retries(req).await;
        if result.is_err() {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn send_with_retries(&self, req: &ApiRequest) -> Result<ApiResponse, ClientError> {
        let started = Instant::now();
        let retry = &self.config.retry;
        let url = format!("{}{}", self.config.api_url, req.path);
        let mut attempt: u32 = 0;
        // Attempts that could not connect, and attempts that timed out: each kind has its own,
        // smaller budget within `max_retries`.
        let mut connect_failures: u32 = 0;
        let mut timeouts: u32 = 0;
        // The last attempt was answered busy: the next one runs alone among this client's
        // writes (see `WriteLimiter`).
        let mut was_busy = false;
        loop {
            let http_req = req.to_http(&self.config)?;
            let reqwest_req = reqwest::Request::try_from(http_req).map_err(|e| {
                ClientError::Config(format!(
                    "cannot build request {} {}: {e}",
                    req.method, req.path
                ))
            })?;
            let span = tracing::info_span!(
                "prefect_request",
                method = %req.method,
                path = %req.path,
                attempt = attempt + 1,
                status = tracing::field::Empty,
                elapsed_ms = tracing::field::Empty,
            );
            let permit = if req.is_write() {
                Some(self.writes.acquire(was_busy).await)
            } else {
                None
            };
            let attempt_started = Instant::now();
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            let outcome = async {
                let resp = self.execute(req, reqwest_req).await?;
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let content_type = resp
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, retry_after, content_type, body))
            }
            .instrument(span.clone())
            .await;
            span.record("elapsed_ms", attempt_started.elapsed().as_millis() as u64);
            let busy = match &outcome {
                Ok((status, ..)) => matches!(status, 429 | 503),
                Err(e) => {
                    !e.is_connect()
                        && TransportErrorKind::of(e) == TransportErrorKind::ConnectionReset
                }
            };
            if busy {
                self.stats.server_busy.fetch_add(1, Ordering::Relaxed);
            }
            was_busy = busy;
            if permit.is_some() {
                match &outcome {
                    Ok((503, ..)) => self.writes.on_overload(),
                    Ok((status, ..)) if *status < 500 => self.writes.on_success(),
                    _ => {}
                }
            }
            drop(permit);
            let may_retry = attempt < retry.max_retries && started.elapsed() < retry.retry_timeout;
            match outcome {
                Ok((status, retry_after, content_type, body)) => {
                    span.record("status", status);
                    let retryable = match status {
                        408 | 429 | 503 => true,
                        502 | 504 => req.safety.retry_when_maybe_received(),
                        _ => false,
                    };
                    if retryable && may_retry {
                        let wait = retry_after.unwrap_or_else(|| retry.backoff.delay(attempt));
                        let reason = format!("status {status}");
                        announce_retry(&span, req, attempt, retry.max_retries, wait, &reason);
                        self.stats.retried_statuses.fetch_add(1, Ordering::Relaxed);
                        if status == 503 {
                            self.stats.retried_503.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    let answer = ApiResponse {
                        status,
                        body,
                        attempts: attempt + 1,
                        content_type,
                        method: req.method.to_string(),
                        url,
                        redact: self.secrets.clone(),
                    };
                    if (200..300).contains(&status) {
                        return Ok(answer);
                    }
                    return Err(error_for_status(req, &answer, started.elapsed()));
                }
                Err(e) => {
                    let reached = !e.is_connect();
                    let timed_out = e.is_timeout() && reached;
                    // A connection that timed out (a host that drops packets) costs a whole
                    // connect timeout per attempt: it also draws on the timeout budget.
                    let connect_timed_out = e.is_timeout() && !reached;
                    let (retry_this, budget) = if !reached {
                        let budget = if connect_timed_out {
                            retry.max_connect_retries.min(retry.max_timeout_retries)
                        } else {
                            retry.max_connect_retries
                        };
                        (connect_failures < budget, budget)
                    } else if timed_out {
                        (
                            req.safety.retry_when_maybe_received()
                                && timeouts < retry.max_timeout_retries,
                            retry.max_timeout_retries,
                        )
                    } else {
                        // A reused keep-alive connection the server had closed before the
                        // request was written (uvicorn closes it after each 503) never gets
                        // here: hyper re-sends such a request itself, whatever its method. A
                        // connection closed after the request was written, with no answer, is
                        // ambiguous: repeated only when that is safe (upserts by name, reads;
                        // not an automation create).
                        (req.safety.retry_when_maybe_received(), retry.max_retries)
                    };
                    if !reached {
                        connect_failures += 1;
                    }
                    if timed_out {
                        timeouts += 1;
                    }
                    let kind = TransportErrorKind::of(&e);
                    // A failed TLS handshake (e.g. https:// at a plain-HTTP server) fails the
                    // same way every time.
                    let retry_this = retry_this && kind != TransportErrorKind::Tls;
                    if may_retry && retry_this {
                        let wait = retry.backoff.delay(attempt);
                        let reason = if timed_out {
                            format!("no answer within {}", secs(self.config.request_timeout))
                        } else {
                            format!("{}: {}", kind.label(), innermost_cause(&e))
                        };
                        announce_retry(
                            &span,
                            req,
                            attempt,
                            budget.min(retry.max_retries),
                            wait,
                            &reason,
                        );
                        self.stats.retried_transport.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    if timed_out {
                        return Err(ClientError::Timeout {
                            method: req.method.to_string(),
                            path: req.path.clone(),
                            seconds: self.config.request_timeout.as_secs_f64(),
                            attempts: attempt + 1,
                            timeouts,
                            elapsed: started.elapsed(),
                        });
                    }
                    return Err(ClientError::Transport {
                        url: self.config.api_url.clone(),
                        method: req.method.to_string(),
                        path: req.path.clone(),
                        reached,
                        kind,
                        cause: innermost_cause(&e),
                        attempts: attempt + 1,
                        elapsed: started.elapsed(),
                        source: e,
                    });
                }
            }
        }
    }

    async fn send_json<T: DeserializeOwned>(&self, req: &ApiRequest) -> Result<T, ClientError> {
        self.send(req).await?.json()
    }

    async fn send_upsert<T: DeserializeOwned>(
        &self,
        req: &ApiRequest,
    ) -> Result<Upserted<T>, ClientError> {
        let resp = self.send(req).await?;
        Ok(Upserted {
            value: resp.json()?,
            created: resp.status == 201,
        })
    }

    async fn send_empty(&self, req: &ApiRequest) -> Result<(), ClientError> {
        self.send(req).await.map(|_| ())
    }

    /// `GET /health`: whether the server answers `true`.
    pub async fn health(&self) -> Result<bool, ClientError> {
        self.send_json(&request::health()).await
    }

    /// The server's Prefect version (`GET /admin/version`), e.g. `"3.9.1"`.
    pub async fn server_version(&self) -> Result<String, ClientError> {
        self.send_json(&request::server_version()).await
    }

    /// Creates a flow, or returns the existing one with that name (unchanged).
    pub async fn create_flow(&self, flow: &FlowCreate) -> Result<Upserted<Flow>, ClientError> {
        self.send_upsert(&request::create_flow(flow)?).await
    }

    /// Reads a flow.
    pub async fn read_flow(&self, id: Uuid) -> Result<Flow, ClientError> {
        self.send_json(&request::read_flow(id)).await
    }

    /// Reads a flow by name.
    pub async fn read_flow_by_name(&self, name: &str) -> Result<Flow, ClientError> {
        self.send_json(&request::read_flow_by_name(name)).await
    }

    /// Creates a deployment, or updates the one with the same flow and name (the server's
    /// upsert; fields not sent keep their values, schedules are replaced).
    pub async fn create_deployment(
        &self,
        deployment: &DeploymentCreate,
    ) -> Result<Upserted<Deployment>, ClientError> {
        self.send_upsert(&request::create_deployment(deployment)?)
            .await
    }

    /// Reads a deployment.
    pub async fn read_deployment(&self, id: Uuid) -> Result<Deployment, ClientError> {
        self.send_json(&request::read_deployment(id)).await
    }

    /// Reads a deployment by flow name and deployment name.
    pub async fn read_deployment_by_name(
        &self,
        flow_name: &str,
        deployment_name: &str,
    ) -> Result<Deployment, ClientError> {
        self.send_json(&request::read_deployment_by_name(
            flow_name,
            deployment_name,
        ))
        .await
    }

    /// Updates the fields set in `update`.
    pub async fn update_deployment(
        &self,
        id: Uuid,
        update: &DeploymentUpdate,
    ) -> Result<(), ClientError> {
        self.send_empty(&request::update_deployment(id, update)?)
            .await
    }

    /// Deletes a deployment (and its scheduled runs).
    pub async fn delete_deployment(&self, id: Uuid) -> Result<(), ClientError> {
        self.send_empty(&request::delete_deployment(id)).await
    }

    /// One page of deployments matching `filter` (its `limit` is at most [`MAX_PAGE`]).
    pub async fn filter_deployments(
        &self,
        filter: &DeploymentFilterRequest,
    ) -> Result<Vec<Deployment>, ClientError> {
        self.send_json(&request::filter_deployments(filter)?).await
    }

    /// Every deployment matching `filter`, fetched page by page ([`MAX_PAGE`] at a time) as the
    /// stream is read. `filter.limit` and `filter.offset` are managed by the stream.
    pub fn deployments(
        &self,
        filter: DeploymentFilterRequest,
    ) -> impl Stream<Item = Result<Deployment, ClientError>> + '_ {
        paginate(move |offset| {
            let mut page = filter.clone();
            page.offset = Some(offset);
            page.limit = Some(MAX_PAGE);
            async move { self.filter_deployments(&page).await }
        })
    }

    /// How many deployments match.
    pub async fn count_deployments(
        &self,
        filter: &DeploymentCountRequest,
    ) -> Result<u64, ClientError> {
        self.send_json(&request::count_deployments(filter)?).await
    }

    /// A deployment's schedules.
    pub async fn read_deployment_schedules(
        &self,
        id: Uuid,
    ) -> Result<Vec<DeploymentSchedule>, ClientError> {
        self.send_json(&request::read_deployment_schedules(id))
            .await
    }

    /// Adds schedules to a deployment.
    pub async fn create_deployment_schedules(
        &self,
        id: Uuid,
        schedules: &[DeploymentScheduleCreate],
    ) -> Result<Vec<DeploymentSchedule>, ClientError> {
        self.send_json(&request::create_deployment_schedules(id, schedules)?)
            .await
    }

    /// Changes one schedule of a deployment.
    pub async fn update_deployment_schedule(
        &self,
        id: Uuid,
        schedule_id: Uuid,
        update: &DeploymentScheduleUpdate,
    ) -> Result<(), ClientError> {
        self.send_empty(&request::update_deployment_schedule(
            id,
            schedule_id,
            update,
        )?)
        .await
    }

    /// Removes one schedule of a deployment.
    pub async fn delete_deployment_schedule(
        &self,
        id: Uuid,
        schedule_id: Uuid,
    ) -> Result<(), ClientError> {
        self.send_empty(&request::delete_deployment_schedule(id, schedule_id))
            .await
    }

    /// Creates a flow run of a deployment.
    pub async fn create_flow_run(
        &self,
        id: Uuid,
        run: &DeploymentFlowRunCreate,
    ) -> Result<FlowRunResponse, ClientError> {
        self.send_json(&request::create_flow_run(id, run)?).await
    }

    /// Has the server create a deployment's scheduled runs in a window (what its scheduler
    /// service does).
    pub async fn schedule_deployment(
        &self,
        id: Uuid,
        window: &ScheduleDeploymentRequest,
    ) -> Result<(), ClientError> {
        self.send_empty(&request::schedule_deployment(id, window)?)
            .await
    }

    /// Flow runs matching `filter` (one page).
    pub async fn filter_flow_runs(
        &self,
        filter: &FlowRunFilterRequest,
    ) -> Result<Vec<FlowRunResponse>, ClientError> {
        self.send_json(&request::filter_flow_runs(filter)?).await
    }

    /// Creates an automation.
    pub async fn create_automation(
        &self,
        automation: &AutomationCreate,
    ) -> Result<Automation, ClientError> {
        self.send_json(&request::create_automation(automation)?)
            .await
    }

    /// Reads an automation.
    pub async fn read_automation(&self, id: Uuid) -> Result<Automation, ClientError> {
        self.send_json(&request::read_automation(id)).await
    }

    /// Automations matching `filter`.
    pub async fn filter_automations(
        &self,
        filter: &AutomationFilterRequest,
    ) -> Result<Vec<Automation>, ClientError> {
        self.send_json(&request::filter_automations(filter)?).await
    }

    /// Automations related to a resource, e.g. `prefect.deployment.<id>`.
    pub async fn read_automations_related_to(
        &self,
        resource_id: &str,
    ) -> Result<Vec<Automation>, ClientError> {
        self.send_json(&request::read_automations_related_to(resource_id))
            .await
    }

    /// Deletes the automations a resource owns (e.g. a deployment's triggers:
    /// `prefect.deployment.<id>`). A server without automations (404) counts as done, as in
    /// Prefect's client.
    pub async fn delete_automations_owned_by(&self, resource_id: &str) -> Result<(), ClientError> {
        match self
            .send_empty(&request::delete_automations_owned_by(resource_id))
            .await
        {
            Err(ClientError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    /// Applies a deployment's SLAs (Prefect Cloud only). Against a Prefect OSS server this is
    /// [`ClientError::NotSupported`], without a request.
    pub async fn apply_deployment_slas(
        &self,
        id: Uuid,
        slas: &[Value],
    ) -> Result<SlaApplyResult, ClientError> {
        if !self.config.is_cloud() {
            return Err(ClientError::NotSupported {
                feature: "SLAs".into(),
                detail: format!(
                    "SLAs are a Prefect Cloud feature; {} is not Prefect Cloud (remove the SLAs or deploy to Cloud)",
                    self.config.api_url
                ),
            });
        }
        match self
            .send_json(&request::apply_deployment_slas(id, slas)?)
            .await
        {
            Err(ClientError::NotFound { .. }) => Err(ClientError::NotSupported {
                feature: "SLAs".into(),
                detail: "the server has no SLA endpoint".into(),
            }),
            other => other,
        }
    }

    /// `GET /variables/name/{name}`: the variable's JSON (`value` holds its value), `None`
    /// when there is no such variable.
    pub async fn read_variable_by_name(&self, name: &str) -> Result<Option<Value>, ClientError> {
        match self.send_json(&request::read_variable_by_name(name)).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A block document by its type's slug and its name, secrets included (`data` holds its
    /// fields); [`ClientError::NotFound`] when there is none.
    pub async fn read_block_document_by_name(
        &self,
        block_type_slug: &str,
        name: &str,
    ) -> Result<Value, ClientError> {
        self.send_json(&request::read_block_document_by_name(block_type_slug, name))
            .await
    }

    /// Reads a work pool.
    pub async fn read_work_pool(&self, name: &str) -> Result<WorkPool, ClientError> {
        self.send_json(&request::read_work_pool(name)).await
    }

    /// Creates a work pool.
    pub async fn create_work_pool(&self, pool: &WorkPoolCreate) -> Result<WorkPool, ClientError> {
        self.send_json(&request::create_work_pool(pool)?).await
    }

    /// Reads a work queue.
    pub async fn read_work_queue(&self, id: Uuid) -> Result<WorkQueueResponse, ClientError> {
        self.send_json(&request::read_work_queue(id)).await
    }

    /// Reads a work queue of a pool by name.
    pub async fn read_work_queue_by_name(
        &self,
        pool: &str,
        name: &str,
    ) -> Result<WorkQueueResponse, ClientError> {
        self.send_json(&request::read_work_queue_by_name(pool, name))
            .await
    }
}

/// The settings both transports share: timeouts and connection reuse.
fn http_builder(config: &ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
}

/// Offset pagination as a stream: asks for pages until one comes back short.
fn paginate<'a, T, F, Fut>(mut fetch: F) -> impl Stream<Item = Result<T, ClientError>> + 'a
where
    T: 'a,
    F: FnMut(i64) -> Fut + 'a,
    Fut: std::future::Future<Output = Result<Vec<T>, ClientError>> + 'a,
{
    use futures::StreamExt as _;
    futures::stream::unfold(Some(0i64), move |offset| {
        let next = offset.map(&mut fetch);
        async move {
            let (offset, fut) = (offset?, next?);
            match fut.await {
                Ok(page) => {
                    let n = page.len() as i64;
                    let following = (n == MAX_PAGE).then_some(offset + n);
                    Some((
                        futures::stream::iter(page.into_iter().map(Ok)).left_stream(),
                        following,
                    ))
                }
                Err(e) => Some((futures::stream::iter(vec![Err(e)]).right_stream(), None)),
            }
        }
    })
    .flatten()
}

/// `Retry-After` as seconds (the HTTP-date form is read as "soon": 1 s).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(300.0)));
    }
    (!value.is_empty()).then(|| Duration::from_secs(1))
}

/// The `tracing` target of the event sent before each wait for a retry.
pub const RETRY_EVENT_TARGET: &str = "prefab_client::retry";

/// Tells subscribers (the CLI's progress bar, `-v` logs) that the client is about to wait
/// before retrying: which attempt failed, how many attempts the failure allows, how long the
/// wait is, why, and the request.
fn announce_retry(
    span: &tracing::Span,
    req: &ApiRequest,
    attempt: u32,
    max_retries: u32,
    wait: Duration,
    reason: &str,
) {
    tracing::info!(
        target: "prefab_client::retry",
        parent: span,
        attempt = attempt + 1,
        max_attempts = max_retries + 1,
        wait_ms = wait.as_millis() as u64,
        reason,
        method = %req.method,
        path = %req.path,
        "attempt {} of at most {} failed ({reason}); retrying in {}",
        attempt + 1,
        max_retries + 1,
        secs(wait),
    );
}

/// Maps a non-2xx answer to a typed error, keeping Prefect's detail. `elapsed` is the time
/// since the first attempt.
pub(crate) fn error_for_status(
    req: &ApiRequest,
    answer: &ApiResponse,
    elapsed: Duration,
) -> ClientError {
    let (status, body) = (answer.status, &answer.body[..]);
    let text = answer.text_for_error();
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let detail_text = json.as_ref().and_then(|j| {
        j.get("detail")
            .and_then(Value::as_str)
            .or_else(|| j.get("exception_message").and_then(Value::as_str))
            .map(|d| redact(d.to_owned(), &answer.redact))
    });
    let method = req.method.to_string();
    let path = req.path.clone();
    match status {
        401 | 403 => ClientError::Unauthorized {
            status,
            method,
            path,
        },
        // Prefect answers every 404 (an unknown route too) with JSON; anything else is a
        // web server or proxy that is not the Prefect API, and reading it as "does not exist"
        // would send creates to it.
        404 if json.is_none() => answer.unexpected(
            "a 404 that is not a Prefect API's JSON (is the URL the Prefect API, ending in /api?)",
        ),
        404 => ClientError::NotFound {
            what: req.subject.to_owned(),
            method,
            path,
            detail: detail_text,
        },
        409 => ClientError::Conflict {
            method,
            path,
            detail: detail_text.unwrap_or_else(|| text.clone()),
        },
        400 | 422 => {
            let issues_json = json
                .as_ref()
                .and_then(|j| j.get("exception_detail").or_else(|| j.get("detail")))
                .filter(|d| d.is_array())
                .cloned();
            let issues: Vec<ValidationIssue> = issues_json
                .and_then(|d| serde_json::from_value(d).ok())
                .unwrap_or_default();
            let message = detail_text.unwrap_or_else(|| {
                if issues.is_empty() {
                    text.clone()
                } else {
                    "invalid request".to_owned()
                }
            });
            ClientError::Validation {
                method,
                path,
                message,
                issues,
            }
        }
        _ => ClientError::Server {
            status,
            method,
            path,
            // Prefect's JSON whole (it is short); anything else — a proxy's HTML error page —
            // only its start, with its content type.
            body: if json.is_some() || body.is_empty() {
                text
            } else {
                format!(
                    "{} body starting: {}",
                    answer.content_type.as_deref().unwrap_or("untyped"),
                    redact(body_start(body), &answer.redact)
                )
            },
            attempts: answer.attempts,
            elapsed,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Safety;

    fn error_for(req: &ApiRequest, status: u16, body: &[u8]) -> ClientError {
        let answer = ApiResponse {
            status,
            body: Bytes::copy_from_slice(body),
            attempts: 1,
            content_type: Some("application/json".into()),
            method: req.method.to_string(),
            url: format!("http://127.0.0.1:4200/api{}", req.path),
            redact: Arc::default(),
        };
        error_for_status(req, &answer, Duration::ZERO)
    }

    /// Whether `fut` is still pending after the runtime had a chance to run everything else.
    async fn pending<F: std::future::Future + Unpin>(fut: &mut F) -> bool {
        tokio::task::yield_now().await;
        futures_poll_once(fut).await.is_none()
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut *fut).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }

    #[tokio::test]
    async fn a_busy_write_retries_alone() {
        let limiter = WriteLimiter::new(4);
        let first = limiter.acquire(false).await;
        let second = limiter.acquire(false).await;
        // The retry of a busy write waits for both writes in flight…
        let mut retry = Box::pin(limiter.acquire(true));
        assert!(pending(&mut retry).await);
        // …and holds back a new write meanwhile, though the limit would allow it.
        let mut newcomer = Box::pin(limiter.acquire(false));
        assert!(pending(&mut newcomer).await);
        drop(first);
        assert!(pending(&mut retry).await, "one write is still in flight");
        drop(second);
        let alone = futures_poll_once(&mut retry)
            .await
            .expect("granted once none is in flight");
        assert!(
            pending(&mut newcomer).await,
            "nothing starts beside the retry"
        );
        drop(alone);
        let _next = futures_poll_once(&mut newcomer)
            .await
            .expect("new writes go on after the retry");
    }

    #[tokio::test]
    async fn a_cancelled_busy_retry_stops_holding_writes_back() {
        let limiter = WriteLimiter::new(4);
        let first = limiter.acquire(false).await;
        let mut retry = Box::pin(limiter.acquire(true));
        assert!(pending(&mut retry).await);
        drop(retry);
        let _second = limiter.acquire(false).await;
        drop(first);
        let state = limiter.lock();
        assert_eq!(
            (state.exclusive_waiting, state.exclusive_running),
            (0, false)
        );
    }

    #[test]
    fn validation_detail_is_structured() {
        let body = br#"{"exception_message":"Invalid request received.","exception_detail":[{"type":"value_error","loc":["body","schedules",0,"schedule","cron"],"msg":"Value error, Invalid cron string: \"61 * * * *\"","input":"61 * * * *"}],"request_body":{}}"#;
        let req = request::health();
        let e = error_for(&req, 422, body);
        let ClientError::Validation {
            issues, message, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(message, "Invalid request received.");
        assert_eq!(issues[0].kind, "value_error");
        assert!(
            e.to_string().contains("body.schedules.0.schedule.cron"),
            "{e}"
        );
    }

    #[test]
    fn statuses_map_to_kinds() {
        let req = request::read_deployment(Uuid::nil());
        assert!(error_for(&req, 404, br#"{"detail":"Deployment not found"}"#).is_not_found());
        assert!(matches!(
            error_for(&req, 409, b"{}"),
            ClientError::Conflict { .. }
        ));
        assert!(matches!(
            error_for(&req, 401, b""),
            ClientError::Unauthorized { .. }
        ));
        let e = error_for(
            &req,
            500,
            br#"{"exception_message":"Internal Server Error"}"#,
        );
        assert!(matches!(e, ClientError::Server { status: 500, .. }));
        assert!(e.to_string().contains("Internal Server Error"));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn safety_decides_retries() {
        assert!(Safety::Upsert.retry_when_maybe_received());
        assert!(!Safety::NotIdempotent.retry_when_maybe_received());
    }
}
