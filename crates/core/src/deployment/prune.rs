//! Prune (opt-in; Prefect issue #15332): the deployments on the server that belong to the flows
//! of the local definitions but are not among them, and their deletion.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt as _, TryStreamExt as _};
use prefab_client::{ClientError, PrefectClient};
use prefab_schemas::api::DeploymentFilterRequest;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::RunnerDeployment;

/// A deployment on the server that the local definitions no longer contain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct PruneCandidate {
    /// The flow's name.
    pub flow_name: String,
    /// The deployment's name.
    pub name: String,
    /// The deployment's id.
    pub id: Uuid,
}

impl PruneCandidate {
    /// `flow/deployment`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.flow_name, self.name)
    }
}

/// The deployments of the flows of `deployments` that `deployments` do not name, sorted by
/// flow and name: `POST /deployments/filter` per flow name (every page). Deployments of other
/// flows are never candidates.
pub async fn prune_candidates(
    client: &PrefectClient,
    deployments: &[RunnerDeployment],
) -> Result<Vec<PruneCandidate>, ClientError> {
    let mut keep: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for d in deployments {
        let flow = d.flow_name.clone().unwrap_or_else(|| "None".into());
        keep.entry(flow).or_default().insert(d.name.as_str());
    }
    let mut candidates = Vec::new();
    for (flow, names) in &keep {
        let filter: DeploymentFilterRequest =
            serde_json::from_value(json!({"flows": {"name": {"any_": [flow]}}}))
                .expect("a flow-name filter is a valid DeploymentFilterRequest");
        let on_server: Vec<_> = client.deployments(filter).try_collect().await?;
        candidates.extend(
            on_server
                .into_iter()
                .filter(|d| !names.contains(d.name.as_str()))
                .map(|d| PruneCandidate {
                    flow_name: flow.clone(),
                    name: d.name,
                    id: d.id,
                }),
        );
    }
    candidates.sort();
    Ok(candidates)
}

/// Deletes `candidates` (`DELETE /deployments/{id}`, one at a time: deletes are writes, which a
/// SQLite-backed server serialises); one result per candidate, in order. A deployment already gone counts as deleted.
pub async fn delete_deployments(
    client: &PrefectClient,
    candidates: &[PruneCandidate],
) -> Vec<Result<(), ClientError>> {
    futures::stream::iter(candidates.iter().map(|c| async move {
        match client.delete_deployment(c.id).await {
            Err(ClientError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }))
    .buffered(1)
    .collect()
    .await
}
