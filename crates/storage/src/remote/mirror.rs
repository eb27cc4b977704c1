//! Mirroring an object-store prefix into the destination.
//! (Filled in by the remote-storage work.)

use super::RemoteStorage;
use crate::StorageError;
use crate::storage::{PullOptions, PullReport};

pub(crate) async fn pull(
    storage: &RemoteStorage,
    _options: &PullOptions,
) -> Result<PullReport, StorageError> {
    Err(StorageError::Unsupported {
        message: format!("pulling {} is not implemented yet", storage.url()),
    })
}
