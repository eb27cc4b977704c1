//! An async client for the Prefect 3 REST API.
//!
//! * Configuration from the environment as Prefect reads it (`PREFECT_API_URL`,
//!   `PREFECT_API_KEY`, `PREFECT_API_AUTH_STRING`) or built by hand ([`ClientConfig`]).
//! * Typed models ([`prefab_schemas::api`]) in and out; every request is built by a pure
//!   function in [`request`] and can be inspected without a network.
//! * Retries with exponential backoff and jitter ([`RetryConfig`]): 408/429/503 always,
//!   502/504/timeouts/dropped connections only for requests safe to repeat, `Retry-After`
//!   honoured.
//! * Typed errors ([`ClientError`]) that say whether the request may have reached the server,
//!   keep Prefect's validation detail, and never contain credentials.
//! * A `tracing` span per request attempt (method, path, attempt, status, elapsed); the
//!   `Authorization` header is never logged.
//! * The `blocking` feature: a synchronous client over one owned runtime.
//! * [`local_server`] (feature `local-server`, on by default; Unix): provision a real Prefect
//!   3.9.1 server on loopback — pinned virtualenv, start or reuse, health check, stop — for
//!   integration tests, CI and local development.
//!
//! ```no_run
//! use prefab_client::{PrefectClient, api::FlowCreate};
//!
//! # async fn run() -> Result<(), prefab_client::ClientError> {
//! let client = PrefectClient::from_env()?;
//! let flow = client.create_flow(&FlowCreate::new("etl".into())).await?;
//! println!("{} (created: {})", flow.value.id, flow.created);
//! # Ok(()) }
//! ```

#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod config;
mod error;
#[cfg(all(feature = "local-server", unix))]
pub mod local_server;
pub mod request;
mod retry;

pub use client::{
    ApiResponse, ClientStats, MAX_PAGE, PrefectClient, RETRY_EVENT_TARGET, SlaApplyResult,
    StatsSnapshot, Upserted,
};
pub use config::{API_VERSION, Auth, ClientConfig, DEFAULT_API_URL};
pub use error::{BODY_START_CHARS, ClientError, TransportErrorKind, ValidationIssue};
pub use prefab_schemas::Secret;
pub use prefab_schemas::api;
pub use retry::{BackoffConfig, RetryConfig};
