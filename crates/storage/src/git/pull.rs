//! Pulling a git repository with libgit2 (and the `git` executable for sparse checkouts).
//! (Filled in by the git work.)

use super::GitRepository;
use crate::StorageError;
use crate::storage::{PullOptions, PullReport};

pub(crate) async fn pull(
    repo: &GitRepository,
    _options: &PullOptions,
) -> Result<PullReport, StorageError> {
    Err(StorageError::Unsupported {
        message: format!("pulling {} is not implemented yet", repo.url()),
    })
}
