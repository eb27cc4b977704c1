//! `LocalStorage`: flow code already on this machine (storage.md §5).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::StorageError;
use crate::pypath::repr_str;
use crate::storage::{PullOptions, PullReport, PullStep, RunnerStorage};

pub(crate) const SET_WORKING_DIRECTORY_STEP: &str =
    "prefect.deployments.steps.set_working_directory";

/// A local directory. Pulling does nothing; the pull step makes the worker `cd` into the
/// directory, so it must exist on the worker's machine too.
///
/// ```
/// use prefab_storage::{LocalStorage, RunnerStorage};
///
/// let local = LocalStorage::new("/srv/flows");
/// assert_eq!(
///     local.to_pull_step()?.to_string(),
///     r#"{"prefect.deployments.steps.set_working_directory":{"directory":"/srv/flows"}}"#
/// );
/// # Ok::<(), prefab_storage::StorageError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalStorage {
    path: PathBuf,
    pull_interval: Option<u64>,
    base_path: Option<PathBuf>,
}

impl LocalStorage {
    /// `path` resolved as Python's `Path(path).resolve()`: against the current directory,
    /// symlinks followed; `~` is not expanded (as in Prefect).
    pub fn new(path: impl AsRef<str>) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Self::new_in(path, &cwd)
    }

    /// Like [`LocalStorage::new`], with relative paths resolved against `cwd`.
    pub fn new_in(path: impl AsRef<str>, cwd: &Path) -> Self {
        LocalStorage {
            path: crate::pypath::resolve(path.as_ref(), cwd),
            pull_interval: None,
            base_path: None,
        }
    }

    /// Sets the pull interval (`create_storage_from_source` passes 60).
    #[must_use]
    pub fn with_pull_interval(mut self, seconds: Option<u64>) -> Self {
        self.pull_interval = seconds;
        self
    }

    /// The pull interval as configured.
    pub fn pull_interval_raw(&self) -> Option<u64> {
        self.pull_interval
    }

    /// The resolved path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The base path recorded by `set_base_path` (never used, as in Prefect).
    pub fn base_path(&self) -> Option<&Path> {
        self.base_path.as_deref()
    }

    /// `LocalStorage(path='/srv/flows')`.
    pub fn repr(&self) -> String {
        format!(
            "LocalStorage(path={})",
            repr_str(&self.path.to_string_lossy())
        )
    }
}

impl PartialEq for LocalStorage {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

#[async_trait]
impl RunnerStorage for LocalStorage {
    fn set_base_path(&mut self, path: &Path) {
        self.base_path = Some(path.to_path_buf());
    }

    fn destination(&self) -> PathBuf {
        self.path.clone()
    }

    fn pull_interval(&self) -> Option<u64> {
        self.pull_interval.filter(|s| *s > 0)
    }

    async fn pull(&self, _options: &PullOptions) -> Result<PullReport, StorageError> {
        if !self.path.is_dir() {
            return Err(StorageError::io(
                "reading",
                &self.path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the local storage directory does not exist",
                ),
            ));
        }
        Ok(PullReport::new(self.path.clone()))
    }

    fn to_pull_step(&self) -> Result<PullStep, StorageError> {
        let mut inputs = Map::new();
        inputs.insert(
            "directory".into(),
            Value::String(self.path.to_string_lossy().into_owned()),
        );
        let mut step = Map::new();
        step.insert(SET_WORKING_DIRECTORY_STEP.into(), Value::Object(inputs));
        Ok(Value::Object(step))
    }
}
