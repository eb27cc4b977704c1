//! # prefab-core
//!
//! Prefect's `RunnerDeployment` and what it leans on, as Prefect 3.9.1 does them:
//!
//! - [`flow`]: given a flow entrypoint (`flows/etl.py:etl_pipeline`, `pkg.module.func`), what
//!   `RunnerDeployment.from_entrypoint` records about the flow — its name, description,
//!   version, parameter schema and whether it is `async` — read from the Python source
//!   statically, without a Python interpreter;
//! - [`deployment`]: `RunnerDeployment` with Prefect's validators, `apply` with Prefect's
//!   request sequence, `apply_all` for many (bounded concurrency, a circuit breaker, a stop
//!   signal), `plan` and prune;
//! - [`version`]: version inference from CI variables and git;
//! - [`yaml`]: the bounded, position-keeping YAML loader deployment files go through.
//!
//! The parameter schema is the one pydantic v2 generates for Prefect (`parameter_schema`):
//! builtins, `typing` constructs, `datetime`/`uuid`/`decimal`/`pathlib` types, enums and
//! pydantic models defined in the flow's module (or modules under the import root),
//! `Annotated[..., Field(...)]` constraints, JSON-encoded defaults, Google-style docstring
//! descriptions, `*args`/`**kwargs`. What only running Python could reveal degrades the way
//! Prefect's own static loader degrades (no type; a `null` default), and is reported in
//! [`flow::LoadedFlow::notes`].
//!
//! Rust flows describe their parameters with a type deriving `schemars::JsonSchema`:
//! [`flow::Flow::from_parameters`] produces the same schema shape.
//!
//! ```
//! use prefab_core::flow::{load_flow_from_entrypoint, FlowLoadError};
//!
//! let dir = std::env::temp_dir().join(format!("prefab-core-lib-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("flows")).unwrap();
//! std::fs::write(
//!     dir.join("flows/etl.py"),
//!     r#"
//! from typing import Optional
//! from prefect import flow
//!
//! @flow(name="ETL Pipeline")
//! async def etl(source: str, batch_size: int = 500, table: Optional[str] = None):
//!     """Extract and load.
//!
//!     Args:
//!         source: Where rows come from.
//!     """
//! "#,
//! )
//! .unwrap();
//!
//! let loaded = load_flow_from_entrypoint("flows/etl.py:etl", &dir).unwrap();
//! let flow = &loaded.flow;
//! assert_eq!(flow.name, "ETL Pipeline");
//! assert!(flow.is_async);
//! let schema = flow.parameter_schema.to_json();
//! assert_eq!(schema["required"], serde_json::json!(["source"]));
//! assert_eq!(schema["properties"]["source"]["description"], "Where rows come from.");
//! assert_eq!(
//!     schema["properties"]["table"]["anyOf"],
//!     serde_json::json!([{"type": "string"}, {"type": "null"}])
//! );
//!
//! // Errors name the problem and map to Prefect's exception classes.
//! let err = load_flow_from_entrypoint("flows/etl.py:missing", &dir).unwrap_err();
//! assert!(matches!(err, FlowLoadError::MissingFlow { .. }));
//! assert_eq!(err.python_class(), "MissingFlowError");
//! ```

pub mod deployment;
pub mod flow;
pub mod version;
pub mod yaml;

pub use version::{VersionInfo, get_inferred_version_info};
