//! # prefab-project
//!
//! `prefect deploy` for the projects teams already have: a `prefect.yaml` read exactly as
//! Prefect 3.9.1 reads it, its templates filled, its build and push steps run, and each
//! selected deployment turned into a [`RunnerDeployment`](prefab_core::deployment::RunnerDeployment)
//! ready for prefab's bulk apply (`prefab_core::deployment::apply_all`).
//!
//! - [`model`]: the file (YAML 1.1 as PyYAML reads it, Prefect's model checks with lines);
//! - [`select`]: `--all` / `--name` as Prefect picks deployments;
//! - [`template`], [`resolve`]: `{{ step.output }}`, `{{ $ENV }}`, `{{ prefect.variables.x }}`,
//!   `{{ prefect.blocks.type.name }}`;
//! - [`steps`]: build and push steps, each distinct list once per run;
//! - [`prepare`]: one deployment, in Prefect's order.
//!
//! ```
//! use prefab_project::model::PrefectFile;
//! use prefab_project::select::{Selection, select};
//!
//! let file = PrefectFile::parse(
//!     "prefect.yaml".as_ref(),
//!     "deployments:\n- name: nightly\n  entrypoint: flows.py:etl\n  paused: yes\n  work_pool: {name: pool}\n",
//! )?;
//! // YAML 1.1: `yes` is a boolean.
//! assert_eq!(file.deployments[0]["paused"], true);
//! let picked = select(&file.deployments, &Selection { all: true, names: vec![] })?;
//! assert_eq!(picked.deployments.len(), 1);
//!
//! // A version YAML reads as a number is refused with its line, where Prefect would skip
//! // the whole file.
//! let err = PrefectFile::parse("prefect.yaml".as_ref(), "deployments:\n- name: a\n  version: 1.0\n")
//!     .unwrap_err();
//! assert!(err.to_string().contains("deployments[0].version (line 3, column 12)"));
//! # Ok::<(), prefab_project::ProjectError>(())
//! ```

pub mod error;
pub mod model;
pub mod prepare;
pub mod python;
pub mod resolve;
pub mod select;
pub mod server;
pub mod steps;
pub mod template;

pub use error::ProjectError;
