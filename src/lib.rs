//! prefab: Prefect deployments from Rust, exactly as Prefect 3.9.1 would make them.
//!
//! This facade re-exports the workspace's crates; features select the layers, so a program that
//! only computes schedules compiles no HTTP client and no git:
//!
//! | feature | default | module | crate |
//! |---|---|---|---|
//! | `schemas` | on | [`schemas`] | `prefab-schemas`: wire models, interval / cron / rrule schedules |
//! | `client` | off | `client` | `prefab-client`: async Prefect REST client |
//! | `storage` | off | `storage` | `prefab-storage`: git, object-store and local flow storage, pull steps |
//! | `core` | off | `core` | `prefab-core`: flow loading, `RunnerDeployment`, `apply` |
//! | `blocking` | off | — | synchronous wrappers in `client::blocking` and `core::deployment::blocking` |

#[cfg(feature = "schemas")]
pub use prefab_schemas as schemas;

#[cfg(feature = "client")]
pub use prefab_client as client;

#[cfg(feature = "storage")]
pub use prefab_storage as storage;

#[cfg(feature = "core")]
pub use prefab_core as core;

/// The README's Rust examples, compiled (and run unless marked `no_run`) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
