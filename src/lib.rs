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
//! | `flows` | off | `flows` | `prefab-flows`: a flow entrypoint's name, version and parameter schema, read statically |
//! | `core` | off | `core` | `prefab-core`: `RunnerDeployment`, `apply`, `plan`; re-exports `prefab-flows` as `core::flow` |
//! | `blocking` | off | — | synchronous wrappers in `client::blocking` and `core::deployment::blocking` |

#[cfg(feature = "schemas")]
pub use prefab_schemas as schemas;

#[cfg(feature = "client")]
pub use prefab_client as client;

#[cfg(feature = "storage")]
pub use prefab_storage as storage;

#[cfg(feature = "flows")]
pub use prefab_flows as flows;

#[cfg(feature = "core")]
pub use prefab_core as core;

/// The README's Rust examples, compiled (and run unless marked `no_run`) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
