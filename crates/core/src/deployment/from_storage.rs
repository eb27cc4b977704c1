//! `RunnerDeployment::from_storage` (spec runner-deployment.md §4.3, storage.md §10.2): pull
//! the code into a temporary directory, load the flow from the pulled tree, keep the storage
//! (its pull step becomes the deployment's `pull_steps`).

use std::path::Path;

use prefab_storage::describe::StorageDefinition;
use prefab_storage::{RunnerStorage as _, Storage};

use super::RunnerDeployment;
use super::error::DeploymentError;
use super::file::{DeploymentFile, FromEntrypointOptions};

/// The placeholder Prefect writes into a storage-based deployment's `path` in place of the
/// temporary directory the code was pulled into; a runner replaces it with its own base path.
pub const STORAGE_BASE_PATH: &str = "$STORAGE_BASE_PATH";

impl RunnerDeployment {
    /// Prefect's `RunnerDeployment.from_storage`: builds the schedules (their errors first),
    /// pulls `storage` into a fresh temporary directory, loads `entrypoint` (relative to the
    /// pulled tree: `path/file.py:func`, or `pkg.module:func` importable from its root)
    /// statically, and keeps `storage`. `entrypoint` is stored as given; `path` is the
    /// storage's destination with the temporary directory replaced by `$STORAGE_BASE_PATH`
    /// (e.g. `$STORAGE_BASE_PATH/repo`; a local directory's absolute path as is). The
    /// temporary directory is removed before this returns.
    ///
    /// A failed pull is [`DeploymentError::Pull`] and a flow that cannot be loaded from the
    /// pulled code [`DeploymentError::PulledFlowLoad`], both naming the source.
    pub async fn from_storage(
        storage: Storage,
        entrypoint: &str,
        name: &str,
        options: FromEntrypointOptions,
    ) -> Result<RunnerDeployment, DeploymentError> {
        // As Prefect: schedule and concurrency errors come before any pull.
        options.schedules_and_concurrency()?;
        let mut storage = storage;
        let tmp = tempfile::Builder::new()
            .prefix("prefab-storage-")
            .tempdir()
            .map_err(|e| DeploymentError::Pull {
                source_name: source_name(&storage),
                reason: format!("cannot create a temporary directory: {e}"),
            })?;
        storage.set_base_path(tmp.path());
        storage
            .pull_code()
            .await
            .map_err(|e| DeploymentError::Pull {
                source_name: source_name(&storage),
                reason: e.to_string(),
            })?;
        let destination = storage.destination();
        let mut d = RunnerDeployment::from_entrypoint(entrypoint, name, &destination, options)
            .map_err(|e| match e {
                DeploymentError::FlowLoad(error) => DeploymentError::PulledFlowLoad {
                    source_name: source_name(&storage),
                    error,
                },
                other => other,
            })?;
        d.path = Some(storage_path(&destination, tmp.path()));
        d.storage = Some(Box::new(storage));
        d.mark_set("storage");
        drop(tmp);
        Ok(d)
    }
}

/// `str(storage.destination).replace(tmpdir, "$STORAGE_BASE_PATH")`.
fn storage_path(destination: &Path, base: &Path) -> String {
    destination
        .to_string_lossy()
        .replace(base.to_string_lossy().as_ref(), STORAGE_BASE_PATH)
}

/// The source named in errors, with any credentials removed.
pub(crate) fn source_name(storage: &Storage) -> String {
    match storage {
        Storage::Git(g) => {
            let url = prefab_storage::urls::strip_auth(g.url());
            match g.branch() {
                Some(b) => format!("git repository {url} (branch {b})"),
                None => format!("git repository {url}"),
            }
        }
        Storage::Remote(r) => format!(
            "remote storage {}",
            prefab_storage::urls::strip_auth(r.url())
        ),
        Storage::Local(l) => format!("local directory {}", l.path().display()),
        Storage::Block(b) => format!("storage block {}", b.name()),
        other => format!("{:?} storage", other.classification()),
    }
}

impl DeploymentFile {
    /// Builds the deployment from its `storage` (`prefab deploy --pull`): the storage is
    /// pulled and the entrypoint loaded from the pulled code
    /// ([`RunnerDeployment::from_storage`]) instead of the local tree. A definition without
    /// `storage` is built as [`build`](Self::build) does. Local storage paths resolve against
    /// `root`. Parameters are then checked as in [`build`](Self::build).
    pub async fn build_pulled(&self, root: &Path) -> Result<RunnerDeployment, DeploymentError> {
        let Some(def) = &self.storage else {
            return self.build(root);
        };
        let storage = StorageDefinition(def.clone()).build(root, root)?;
        let d = RunnerDeployment::from_storage(
            storage,
            &self.entrypoint,
            &self.name,
            self.options.clone(),
        )
        .await?;
        for w in d.validate_parameters()? {
            tracing::warn!(
                deployment = %d.full_name(),
                "schedule parameter the flow's schema refuses (the server stores it anyway; runs scheduled with it may fail): {w}"
            );
        }
        Ok(d)
    }
}
