//! prefab-core
