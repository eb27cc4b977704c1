//! `PullSteps`: pull steps given as they are, as `prefect deploy` records a prefect.yaml's
//! `pull:` section (Prefect's `_PullStepStorage`, `cli/deploy/_storage.py`).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::Value;

use crate::StorageError;
use crate::storage::{PullOptions, PullReport, PullStep, RunnerStorage};

/// Pull steps recorded verbatim (block and variable placeholders included: workers resolve
/// them when a run starts). Pulling does nothing here, as in Prefect: the steps run on the
/// worker.
///
/// ```
/// use prefab_storage::{PullSteps, RunnerStorage};
/// use serde_json::json;
///
/// let steps = PullSteps::new(vec![json!({
///     "prefect.deployments.steps.git_clone": {
///         "repository": "https://github.com/org/repo.git",
///         "access_token": "{{ prefect.blocks.secret.token }}"
///     }
/// })]);
/// assert_eq!(steps.to_pull_step()?[0]["prefect.deployments.steps.git_clone"]["access_token"],
///            "{{ prefect.blocks.secret.token }}");
/// # Ok::<(), prefab_storage::StorageError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PullSteps {
    steps: Vec<Value>,
    base_path: Option<PathBuf>,
}

impl PullSteps {
    /// The steps, in order.
    pub fn new(steps: Vec<Value>) -> Self {
        PullSteps {
            steps,
            base_path: None,
        }
    }

    /// The steps.
    pub fn steps(&self) -> &[Value] {
        &self.steps
    }
}

#[async_trait]
impl RunnerStorage for PullSteps {
    fn set_base_path(&mut self, path: &Path) {
        self.base_path = Some(path.to_path_buf());
    }

    fn destination(&self) -> PathBuf {
        self.base_path
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Prefect's shim answers 60.
    fn pull_interval(&self) -> Option<u64> {
        Some(crate::DEFAULT_PULL_INTERVAL)
    }

    async fn pull(&self, _options: &PullOptions) -> Result<PullReport, StorageError> {
        Ok(PullReport::new(self.destination()))
    }

    /// The list itself (an empty list stays empty).
    fn to_pull_step(&self) -> Result<PullStep, StorageError> {
        Ok(Value::Array(self.steps.clone()))
    }
}
