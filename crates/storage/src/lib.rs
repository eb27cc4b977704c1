//! Where Prefect flow code lives, and how to bring it onto a machine: git repositories
//! (libgit2), object stores (object_store: S3, GCS, Azure, local files, memory) and local
//! paths — each with the pull step Prefect 3.9.1's workers expect, byte for byte.
//!
//! The [`RunnerStorage`] trait is Prefect's contract: a `destination` under a base path,
//! `pull_code`, `to_pull_step`. [`create_storage_from_source`] classifies a source string as
//! Prefect does, and [`Storage`] holds any of the kinds.
//!
//! ```
//! use prefab_storage::{create_storage_from_source, Classification, RunnerStorage};
//!
//! let storage = create_storage_from_source("https://github.com/acme/flows.git", Some(60))?;
//! assert_eq!(storage.classification(), Classification::Git);
//! assert!(storage.destination().ends_with("flows"));
//! let step = storage.to_pull_step()?;
//! assert_eq!(step["prefect.deployments.steps.git_clone"]["branch"], serde_json::Value::Null);
//! # Ok::<(), prefab_storage::StorageError>(())
//! ```
//!
//! Pulling is async (tokio). Git work runs libgit2 on blocking threads; a pull of a git
//! repository is atomic (a fresh clone is built beside the destination and renamed into place)
//! and serialised with Prefect's own lock-file protocol, so prefab and Python workers sharing a
//! directory respect each other.

mod block;
pub mod describe;
mod error;
mod git;
mod local;
pub mod lock;
pub mod pypath;
mod remote;
mod source;
mod steps;
mod storage;
pub mod urls;
mod value;

use std::path::{Path, PathBuf};

use async_trait::async_trait;

pub use block::BlockStorage;
pub use error::StorageError;
pub use git::{GitCredentials, GitProvider, GitRepository, GitRepositoryBuilder, default_name};
pub use local::LocalStorage;
/// The object_store crate prefab pulls with, so that embedders can publish to
/// [`RemoteStorage::memory_store`] or build stores with the same version.
pub use object_store;
pub use prefab_schemas::Secret;
pub use remote::{Backend, ConfigValue, ObjectStoreConfig, RemoteStorage};
pub use source::{
    Classification, FSSPEC_PROTOCOLS, classify, create_storage_from_source,
    create_storage_from_source_in,
};
pub use steps::PullSteps;
pub use storage::{
    ProgressSink, PullOptions, PullProgress, PullReport, PullStep, RunnerStorage, SparseStrategy,
};
pub use value::{BlockDocument, SecretBlock, SettingValue, settings_from_json};

/// Prefect's default `pull_interval` (seconds) for git, remote and block storage.
pub const DEFAULT_PULL_INTERVAL: u64 = 60;

/// Any storage kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Storage {
    /// A git repository.
    Git(GitRepository),
    /// An object-store prefix.
    Remote(RemoteStorage),
    /// A local directory.
    Local(LocalStorage),
    /// A storage block.
    Block(BlockStorage),
    /// Pull steps given as they are (a prefect.yaml's `pull:` section).
    Steps(PullSteps),
}

impl Storage {
    /// Which kind this is.
    pub fn classification(&self) -> Classification {
        match self {
            Storage::Git(_) => Classification::Git,
            Storage::Remote(_) => Classification::Remote,
            Storage::Local(_) => Classification::Local,
            Storage::Block(_) => Classification::Block,
            Storage::Steps(_) => Classification::Steps,
        }
    }

    /// The pull interval as configured (`0` kept), as Prefect reports it.
    pub fn pull_interval_raw(&self) -> Option<u64> {
        match self {
            Storage::Git(s) => s.pull_interval_raw(),
            Storage::Remote(s) => s.pull_interval_raw(),
            Storage::Local(s) => s.pull_interval_raw(),
            Storage::Block(s) => s.pull_interval_raw(),
            Storage::Steps(_) => Some(DEFAULT_PULL_INTERVAL),
        }
    }

    fn inner(&self) -> &dyn RunnerStorage {
        match self {
            Storage::Git(s) => s,
            Storage::Remote(s) => s,
            Storage::Local(s) => s,
            Storage::Block(s) => s,
            Storage::Steps(s) => s,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn RunnerStorage {
        match self {
            Storage::Git(s) => s,
            Storage::Remote(s) => s,
            Storage::Local(s) => s,
            Storage::Block(s) => s,
            Storage::Steps(s) => s,
        }
    }
}

#[async_trait]
impl RunnerStorage for Storage {
    fn set_base_path(&mut self, path: &Path) {
        self.inner_mut().set_base_path(path);
    }

    fn destination(&self) -> PathBuf {
        self.inner().destination()
    }

    fn pull_interval(&self) -> Option<u64> {
        self.inner().pull_interval()
    }

    async fn pull(&self, options: &PullOptions) -> Result<PullReport, StorageError> {
        self.inner().pull(options).await
    }

    fn to_pull_step(&self) -> Result<PullStep, StorageError> {
        self.inner().to_pull_step()
    }
}

impl From<GitRepository> for Storage {
    fn from(s: GitRepository) -> Self {
        Storage::Git(s)
    }
}

impl From<RemoteStorage> for Storage {
    fn from(s: RemoteStorage) -> Self {
        Storage::Remote(s)
    }
}

impl From<LocalStorage> for Storage {
    fn from(s: LocalStorage) -> Self {
        Storage::Local(s)
    }
}

impl From<PullSteps> for Storage {
    fn from(s: PullSteps) -> Self {
        Storage::Steps(s)
    }
}

impl From<BlockStorage> for Storage {
    fn from(s: BlockStorage) -> Self {
        Storage::Block(s)
    }
}
