//! The storage contract (storage.md §1) and what a pull reports.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::StorageError;

/// A pull step as Prefect stores it on a deployment: one object `{"<step fqn>": {inputs}}` (or,
/// for a block with its own `get_pull_step`, whatever the block returns). Key order is Prefect's.
pub type PullStep = serde_json::Value;

/// Where flow code lives and how to bring it onto this machine (Prefect's `RunnerStorage`).
///
/// `destination` and `to_pull_step` are a wire contract with Python workers: prefab computes
/// both exactly as Prefect 3.9.1 does.
#[async_trait]
pub trait RunnerStorage: Send + Sync + fmt::Debug {
    /// The directory under which the code is materialised (default: the process's working
    /// directory when the storage was built).
    fn set_base_path(&mut self, path: &Path);

    /// Where the code lives after [`pull_code`](RunnerStorage::pull_code).
    fn destination(&self) -> PathBuf;

    /// How often a long-running runner pulls again, in seconds; `None` = once.
    fn pull_interval(&self) -> Option<u64>;

    /// Materialises or refreshes the code at [`destination`](RunnerStorage::destination).
    async fn pull_code(&self) -> Result<PullReport, StorageError> {
        self.pull(&PullOptions::default()).await
    }

    /// [`pull_code`](RunnerStorage::pull_code) with options (progress, mirroring, …).
    async fn pull(&self, options: &PullOptions) -> Result<PullReport, StorageError>;

    /// The deployment pull step that makes a worker fetch the same code.
    fn to_pull_step(&self) -> Result<PullStep, StorageError>;
}

/// Progress of a pull, for progress bars.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullProgress {
    /// The pull found out how much work there is (objects or files; `None` if unknown).
    Started {
        /// Units of work, when known.
        total: Option<u64>,
    },
    /// `done` of `total` units are finished; `bytes` received so far.
    Advanced {
        /// Units finished.
        done: u64,
        /// Units in all, when known.
        total: Option<u64>,
        /// Bytes received so far.
        bytes: u64,
    },
    /// A phase of the pull began (`cloning`, `fetching`, `checking out`, `listing`, …).
    Phase(String),
}

/// A callback receiving [`PullProgress`] events. It must be cheap: it runs on the pulling task.
pub type ProgressSink = Arc<dyn Fn(PullProgress) + Send + Sync>;

/// Options of one pull.
#[derive(Clone)]
#[non_exhaustive]
pub struct PullOptions {
    /// Receives progress events.
    pub progress: Option<ProgressSink>,
    /// Remote storage only: delete local files whose objects no longer exist upstream
    /// (storage.md Q11). Off by default, as in Prefect.
    pub delete_stale: bool,
    /// Remote storage only: how many objects download at once.
    pub concurrency: usize,
    /// Git only: which implementation checks out `directories` (sparse checkout).
    pub sparse: SparseStrategy,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            progress: None,
            delete_stale: false,
            concurrency: 16,
            sparse: SparseStrategy::Auto,
        }
    }
}

impl PullOptions {
    /// Sets the progress callback.
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Turns mirroring (deleting stale local files) on or off.
    pub fn with_delete_stale(mut self, delete: bool) -> Self {
        self.delete_stale = delete;
        self
    }

    /// Sets the download concurrency (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Chooses the sparse-checkout implementation.
    pub fn with_sparse(mut self, sparse: SparseStrategy) -> Self {
        self.sparse = sparse;
        self
    }

    pub(crate) fn emit(&self, event: PullProgress) {
        if let Some(sink) = &self.progress {
            sink(event);
        }
    }
}

impl fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullOptions")
            .field("progress", &self.progress.as_ref().map(|_| "…"))
            .field("delete_stale", &self.delete_stale)
            .field("concurrency", &self.concurrency)
            .field("sparse", &self.sparse)
            .finish()
    }
}

/// How a git checkout limited to `directories` is made. libgit2 has no sparse checkout and no
/// partial clone (`--filter=blob:none`), so prefab either runs the `git` executable (as Prefect
/// does) or checks out only the matching paths with libgit2 after a full shallow fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SparseStrategy {
    /// `git` when it is on `PATH`, else libgit2's path-limited checkout.
    #[default]
    Auto,
    /// Always the `git` executable (`clone --sparse --filter=blob:none`, `sparse-checkout set`).
    GitCli,
    /// Always libgit2 (full shallow fetch, path-limited checkout).
    Libgit2,
}

/// What a pull changed at the destination. Paths are relative to the destination, with `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PullReport {
    /// Where the code is now.
    pub destination: PathBuf,
    /// Files that did not exist before.
    pub added: Vec<String>,
    /// Files whose content changed.
    pub updated: Vec<String>,
    /// Files removed (git: deleted upstream; remote: only with `delete_stale`).
    pub removed: Vec<String>,
    /// Files left as they were.
    pub unchanged: u64,
    /// Bytes downloaded.
    pub bytes_downloaded: u64,
    /// Git: the commit now checked out.
    pub revision: Option<String>,
    /// True when the pull created the destination (a first clone or download).
    pub fresh: bool,
}

impl PullReport {
    pub(crate) fn new(destination: PathBuf) -> Self {
        PullReport {
            destination,
            ..PullReport::default()
        }
    }

    /// True when nothing at the destination changed.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty()
    }
}
