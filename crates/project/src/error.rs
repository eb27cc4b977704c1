//! What can go wrong with a prefect.yaml project.

use std::path::PathBuf;

use prefab_core::yaml::YamlError;

use crate::model::Problem;

/// Why a project, or one of its deployments, could not be deployed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// The file could not be read.
    #[error("{}: cannot read: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's words.
        reason: String,
    },
    /// The file is not YAML prefab can load (syntax, depth, an alias bomb, a non-string key).
    #[error("{}: {error}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// Where and what.
        error: YamlError,
    },
    /// The file breaks Prefect's model: Prefect would skip the whole file (and then fail);
    /// prefab refuses it, naming every problem.
    #[error(
        "{}: {} — Prefect would skip the whole file; nothing was deployed:\n{}",
        path.display(),
        if problems.len() == 1 { "1 invalid field".to_owned() } else { format!("{} invalid fields", problems.len()) },
        problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problems, in file order.
        problems: Vec<Problem>,
    },
    /// The command line's selection does not work with this file (Prefect's `ValueError`s).
    #[error("{0}")]
    Selection(String),
    /// One deployment's configuration is wrong (no entrypoint, no work pool, a bad schedule,
    /// a block that does not exist, …). Other deployments go on.
    #[error("{0}")]
    Deployment(String),
    /// A build or push step failed.
    #[error("{0}")]
    Step(String),
    /// The Prefect API failed while resolving the file (a variable, block or work pool read).
    #[error("{0}")]
    Server(String),
}

impl ProjectError {
    /// True when the input is at fault (exit 2 territory), false when a server or a step's
    /// own run failed.
    pub fn blames_input(&self) -> bool {
        !matches!(self, ProjectError::Server(_) | ProjectError::Step(_))
    }
}
