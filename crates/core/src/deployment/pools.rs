//! Work pools a set of deployments needs: created when missing, never modified.
//!
//! Prefect sends a deployment's pull steps (its storage) only when the deployment has a work
//! pool, and the server refuses a deployment whose pool does not exist. `prefect deploy` asks
//! interactively whether to create a missing pool; a deployment file says so up front with a
//! `work_pools` list, and [`ensure_work_pools`] does it before anything is applied.

use prefab_client::{ClientError, PrefectClient};
use prefab_schemas::api::WorkPoolCreate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A work pool a deployment file declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkPoolSpec {
    /// The pool's name.
    pub name: String,
    /// The worker type (`process`, `docker`, `kubernetes`, …).
    #[serde(rename = "type")]
    pub pool_type: String,
    /// A description for a pool that is created.
    #[serde(default)]
    pub description: Option<String>,
    /// The base job template for a pool that is created (default: the server's for the type).
    #[serde(default)]
    pub base_job_template: Option<Map<String, Value>>,
}

/// What [`ensure_work_pools`] found or did for one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolOutcome {
    /// The pool exists with the declared type; it was left as it is.
    Exists,
    /// The pool exists with another type; it was left as it is.
    ExistsWithOtherType {
        /// The type the server has.
        actual: String,
    },
    /// The pool did not exist and was created.
    Created,
    /// The pool does not exist ([`plan_work_pools`]: `ensure_work_pools` would create it).
    Missing,
}

impl PoolOutcome {
    /// A short word for tables and JSON: `exists`, `exists with type X`, `created`, `create`.
    pub fn describe(&self) -> String {
        match self {
            PoolOutcome::Exists => "exists".into(),
            PoolOutcome::ExistsWithOtherType { actual } => {
                format!("exists with type {actual:?} (left as it is)")
            }
            PoolOutcome::Created => "created".into(),
            PoolOutcome::Missing => "create".into(),
        }
    }
}

/// A pool that could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("work pool {name:?}: {message}")]
pub struct PoolError {
    /// The pool's name.
    pub name: String,
    /// What went wrong, with the server's detail.
    pub message: String,
    /// The client error.
    #[source]
    pub source: ClientError,
}

/// Makes sure every pool in `pools` exists: reads each by name and creates the missing ones
/// with the declared type (and description / base job template). Existing pools are never
/// modified. Stops at the first error; the pools handled before it are in `done`.
pub async fn ensure_work_pools(
    client: &PrefectClient,
    pools: &[WorkPoolSpec],
) -> Result<Vec<(String, PoolOutcome)>, (Vec<(String, PoolOutcome)>, PoolError)> {
    let mut done = Vec::new();
    for spec in pools {
        let outcome = match read_outcome(client, spec).await {
            Ok(PoolOutcome::Missing) => {
                let mut create = WorkPoolCreate::new(spec.name.clone());
                create.r#type = Some(spec.pool_type.clone());
                create.description = spec.description.clone().map(Some);
                create.base_job_template = spec.base_job_template.clone();
                match client.create_work_pool(&create).await {
                    Ok(_) => PoolOutcome::Created,
                    // Created by someone else in the meantime: it exists now.
                    Err(ClientError::Conflict { .. }) => PoolOutcome::Exists,
                    Err(e) => return Err((done, pool_error(spec, "could not create it", e))),
                }
            }
            Ok(outcome) => outcome,
            Err(e) => return Err((done, e)),
        };
        done.push((spec.name.clone(), outcome));
    }
    Ok(done)
}

/// What [`ensure_work_pools`] would do, without writing: each pool read by name —
/// [`PoolOutcome::Exists`], [`PoolOutcome::ExistsWithOtherType`] or [`PoolOutcome::Missing`].
pub async fn plan_work_pools(
    client: &PrefectClient,
    pools: &[WorkPoolSpec],
) -> Result<Vec<(String, PoolOutcome)>, PoolError> {
    let mut out = Vec::new();
    for spec in pools {
        out.push((spec.name.clone(), read_outcome(client, spec).await?));
    }
    Ok(out)
}

/// Reads `spec`'s pool: exists (with the declared type or another), or missing.
async fn read_outcome(
    client: &PrefectClient,
    spec: &WorkPoolSpec,
) -> Result<PoolOutcome, PoolError> {
    match client.read_work_pool(&spec.name).await {
        Ok(pool) if pool.r#type == spec.pool_type => Ok(PoolOutcome::Exists),
        Ok(pool) => Ok(PoolOutcome::ExistsWithOtherType {
            actual: pool.r#type,
        }),
        Err(ClientError::NotFound { .. }) => Ok(PoolOutcome::Missing),
        Err(e) => Err(pool_error(spec, "could not read it", e)),
    }
}

fn pool_error(spec: &WorkPoolSpec, what: &str, source: ClientError) -> PoolError {
    PoolError {
        name: spec.name.clone(),
        message: format!("{what}: {source}"),
        source,
    }
}
