//! fsspec settings → object_store configuration (storage.md §4.1).
//! (Filled in by the remote-storage work.)

use indexmap::IndexMap;

use crate::StorageError;
use crate::value::SettingValue;

/// The object_store configuration of a [`RemoteStorage`](super::RemoteStorage) pull.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ObjectStoreConfig {
    /// Settings that have no object_store meaning and are ignored (a warning names each).
    pub ignored: Vec<String>,
}

impl ObjectStoreConfig {
    pub(crate) fn from_storage(
        _url: &str,
        _settings: &IndexMap<String, SettingValue>,
    ) -> Result<ObjectStoreConfig, StorageError> {
        Ok(ObjectStoreConfig::default())
    }
}
