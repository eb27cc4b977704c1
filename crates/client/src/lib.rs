//! prefab-client
