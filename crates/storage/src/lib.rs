//! prefab-storage
