//! Applying deployments from synchronous code (feature `blocking`): the async functions of
//! [`super`] driven by the runtime of a [`prefab_client::blocking::PrefectClient`] — Prefect's
//! `apply()` called outside an event loop.
//!
//! ```no_run
//! use prefab_core::deployment::{ApplyOptions, RunnerDeployment, blocking};
//!
//! let client = prefab_client::blocking::PrefectClient::from_env()?;
//! let d = RunnerDeployment::builder("nightly").flow_name("etl").build()?;
//! let id = blocking::apply(&client, &d, &ApplyOptions::default())?;
//! println!("{id}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use prefab_client::blocking::PrefectClient;
use uuid::Uuid;

use super::{ApplyOptions, DeploymentApplyError, RunnerDeployment};

/// [`super::apply`], blocking until the deployment is applied. Do not call it from inside an
/// async runtime (use [`super::apply`] there).
pub fn apply(
    client: &PrefectClient,
    deployment: &RunnerDeployment,
    options: &ApplyOptions,
) -> Result<Uuid, DeploymentApplyError> {
    client.block_on(super::apply(client.as_async(), deployment, options))
}
