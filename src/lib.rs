//! prefab facade
#[cfg(feature = "schemas")]
pub use prefab_schemas as schemas;
