//! A synchronous client for callers without async: the async [`crate::PrefectClient`] driven by
//! one runtime that the client owns (not one runtime per call).
//!
//! ```no_run
//! let client = prefab_client::blocking::PrefectClient::from_env()?;
//! assert!(client.health()?);
//! # Ok::<(), prefab_client::ClientError>(())
//! ```

use std::future::Future;
use std::sync::Arc;

use prefab_schemas::api::{
    Automation, AutomationCreate, AutomationFilterRequest, Deployment, DeploymentCountRequest,
    DeploymentCreate, DeploymentFilterRequest, DeploymentFlowRunCreate, DeploymentSchedule,
    DeploymentUpdate, Flow, FlowCreate, FlowRunFilterRequest, FlowRunResponse,
    ScheduleDeploymentRequest, WorkPool, WorkPoolCreate, WorkQueueResponse,
};
use prefab_schemas::schedules::{DeploymentScheduleCreate, DeploymentScheduleUpdate};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    ApiResponse, ClientConfig, ClientError, SlaApplyResult, Upserted, request::ApiRequest,
};

/// A synchronous Prefect API client. Cheap to clone; clones share the runtime and connections.
/// Do not call it from inside an async runtime (use [`crate::PrefectClient`] there).
#[derive(Clone, Debug)]
pub struct PrefectClient {
    inner: crate::PrefectClient,
    runtime: Arc<tokio::runtime::Runtime>,
}

macro_rules! blocking_methods {
    ($( $(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret, ClientError> {
                self.block_on(self.inner.$name($($arg),*))
            }
        )*
    };
}

impl PrefectClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<PrefectClient, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Config(format!("cannot start the client's runtime: {e}")))?;
        let inner = runtime.block_on(async { crate::PrefectClient::new(config) })?;
        Ok(PrefectClient {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// A client configured from the environment (see [`ClientConfig::from_env`]).
    pub fn from_env() -> Result<PrefectClient, ClientError> {
        PrefectClient::new(ClientConfig::from_env()?)
    }

    /// The async client underneath.
    pub fn as_async(&self) -> &crate::PrefectClient {
        &self.inner
    }

    /// Runs `future` to completion on this client's runtime. For async operations built on
    /// [`Self::as_async`] (e.g. prefab-core's `apply`), so a synchronous caller drives them
    /// without a runtime of its own.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Sends a request (see [`crate::PrefectClient::send`]).
    pub fn send(&self, req: &ApiRequest) -> Result<ApiResponse, ClientError> {
        self.block_on(self.inner.send(req))
    }

    /// Every deployment matching `filter`, all pages.
    pub fn deployments(
        &self,
        filter: DeploymentFilterRequest,
    ) -> Result<Vec<Deployment>, ClientError> {
        use futures::TryStreamExt as _;
        self.block_on(self.inner.deployments(filter).try_collect())
    }

    blocking_methods! {
        /// See [`crate::PrefectClient::health`].
        fn health(&self) -> bool;
        /// See [`crate::PrefectClient::server_version`].
        fn server_version(&self) -> String;
        /// See [`crate::PrefectClient::create_flow`].
        fn create_flow(&self, flow: &FlowCreate) -> Upserted<Flow>;
        /// See [`crate::PrefectClient::read_flow`].
        fn read_flow(&self, id: Uuid) -> Flow;
        /// See [`crate::PrefectClient::read_flow_by_name`].
        fn read_flow_by_name(&self, name: &str) -> Flow;
        /// See [`crate::PrefectClient::create_deployment`].
        fn create_deployment(&self, deployment: &DeploymentCreate) -> Upserted<Deployment>;
        /// See [`crate::PrefectClient::read_deployment`].
        fn read_deployment(&self, id: Uuid) -> Deployment;
        /// See [`crate::PrefectClient::read_deployment_by_name`].
        fn read_deployment_by_name(&self, flow_name: &str, deployment_name: &str) -> Deployment;
        /// See [`crate::PrefectClient::update_deployment`].
        fn update_deployment(&self, id: Uuid, update: &DeploymentUpdate) -> ();
        /// See [`crate::PrefectClient::delete_deployment`].
        fn delete_deployment(&self, id: Uuid) -> ();
        /// See [`crate::PrefectClient::filter_deployments`].
        fn filter_deployments(&self, filter: &DeploymentFilterRequest) -> Vec<Deployment>;
        /// See [`crate::PrefectClient::count_deployments`].
        fn count_deployments(&self, filter: &DeploymentCountRequest) -> u64;
        /// See [`crate::PrefectClient::read_deployment_schedules`].
        fn read_deployment_schedules(&self, id: Uuid) -> Vec<DeploymentSchedule>;
        /// See [`crate::PrefectClient::create_deployment_schedules`].
        fn create_deployment_schedules(&self, id: Uuid, schedules: &[DeploymentScheduleCreate]) -> Vec<DeploymentSchedule>;
        /// See [`crate::PrefectClient::update_deployment_schedule`].
        fn update_deployment_schedule(&self, id: Uuid, schedule_id: Uuid, update: &DeploymentScheduleUpdate) -> ();
        /// See [`crate::PrefectClient::delete_deployment_schedule`].
        fn delete_deployment_schedule(&self, id: Uuid, schedule_id: Uuid) -> ();
        /// See [`crate::PrefectClient::create_flow_run`].
        fn create_flow_run(&self, id: Uuid, run: &DeploymentFlowRunCreate) -> FlowRunResponse;
        /// See [`crate::PrefectClient::schedule_deployment`].
        fn schedule_deployment(&self, id: Uuid, window: &ScheduleDeploymentRequest) -> ();
        /// See [`crate::PrefectClient::filter_flow_runs`].
        fn filter_flow_runs(&self, filter: &FlowRunFilterRequest) -> Vec<FlowRunResponse>;
        /// See [`crate::PrefectClient::create_automation`].
        fn create_automation(&self, automation: &AutomationCreate) -> Automation;
        /// See [`crate::PrefectClient::read_automation`].
        fn read_automation(&self, id: Uuid) -> Automation;
        /// See [`crate::PrefectClient::filter_automations`].
        fn filter_automations(&self, filter: &AutomationFilterRequest) -> Vec<Automation>;
        /// See [`crate::PrefectClient::read_automations_related_to`].
        fn read_automations_related_to(&self, resource_id: &str) -> Vec<Automation>;
        /// See [`crate::PrefectClient::delete_automations_owned_by`].
        fn delete_automations_owned_by(&self, resource_id: &str) -> ();
        /// See [`crate::PrefectClient::apply_deployment_slas`].
        fn apply_deployment_slas(&self, id: Uuid, slas: &[Value]) -> SlaApplyResult;
        /// See [`crate::PrefectClient::read_work_pool`].
        fn read_work_pool(&self, name: &str) -> WorkPool;
        /// See [`crate::PrefectClient::create_work_pool`].
        fn create_work_pool(&self, pool: &WorkPoolCreate) -> WorkPool;
        /// See [`crate::PrefectClient::read_work_queue`].
        fn read_work_queue(&self, id: Uuid) -> WorkQueueResponse;
        /// See [`crate::PrefectClient::read_work_queue_by_name`].
        fn read_work_queue_by_name(&self, pool: &str, name: &str) -> WorkQueueResponse;
    }
}
