//! # prefab-core
//!
//! Prefect's `RunnerDeployment` and what it leans on, as Prefect 3.9.1 does them:
//!
//! - [`deployment`]: `RunnerDeployment` with Prefect's validators, `apply` with Prefect's
//!   request sequence, `apply_all` for many (bounded concurrency, a circuit breaker, a stop
//!   signal), `plan` and prune;
//! - [`version`]: version inference from CI variables and git;
//! - [`yaml`]: the bounded, position-keeping YAML loader deployment files go through;
//! - [`flow`]: the `prefab-flows` crate, re-exported — what a flow entrypoint
//!   (`flows/etl.py:etl_pipeline`, `pkg.module.func`) means to Prefect (name, description,
//!   version, parameter schema), read statically. A tool that only needs a flow's parameter
//!   schema can depend on `prefab-flows` alone.
//!
//! A deployment is built from a flow read from its entrypoint, or from a Rust flow whose
//! parameters are a type deriving `schemars::JsonSchema` ([`flow::Flow::from_parameters`]);
//! see [`deployment::RunnerDeployment`].
//!
//! ```
//! use prefab_core::deployment::{FromEntrypointOptions, RunnerDeployment};
//!
//! let dir = std::env::temp_dir().join(format!("prefab-core-lib-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("flows")).unwrap();
//! std::fs::write(
//!     dir.join("flows/etl.py"),
//!     "from prefect import flow\n\n@flow(name=\"ETL Pipeline\")\ndef etl(source: str, batch_size: int = 500):\n    pass\n",
//! )
//! .unwrap();
//!
//! let options = FromEntrypointOptions {
//!     cron: Some(serde_json::json!("0 3 * * *")),
//!     ..FromEntrypointOptions::default()
//! };
//! let d = RunnerDeployment::from_entrypoint("flows/etl.py:etl", "nightly", &dir, options)?;
//! assert_eq!(d.full_name(), "ETL Pipeline/nightly");
//! assert_eq!(d.parameter_openapi_schema.required, Some(vec!["source".to_owned()]));
//!
//! // The `POST /deployments/` body Prefect's `RunnerDeployment.apply()` would send.
//! let body = d.create_body(uuid::Uuid::nil(), None, None, None, None).unwrap();
//! assert_eq!(body["entrypoint"], "flows/etl.py:etl");
//! assert_eq!(body["schedules"][0]["schedule"]["cron"], "0 3 * * *");
//! # Ok::<(), prefab_core::deployment::DeploymentError>(())
//! ```

pub mod deployment;
pub use prefab_flows as flow;
pub mod version;
pub mod yaml;

pub use version::{VersionInfo, get_inferred_version_info};
