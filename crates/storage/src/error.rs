//! The storage crate's error type.

use std::path::PathBuf;

/// What went wrong while building, describing or pulling a storage.
///
/// Messages name the input that was wrong and what to do about it. No variant ever carries a
/// credential: URLs are passed through [`crate::urls::strip_auth`] and texts from git or an
/// object store through [`crate::urls::strip_auth_in_text`] before they get here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage definition is invalid; the message is Prefect's own text where Prefect
    /// rejects the same input (Python `ValueError`).
    #[error("{message}")]
    InvalidStorage {
        /// Prefect's message (or ours, for inputs Prefect does not check).
        message: String,
    },
    /// A block (a `Secret` or a credentials block) has no document name, so no
    /// `{{ prefect.blocks.… }}` placeholder can be written (Python `BlockNotSavedError`).
    #[error("{message}")]
    BlockNotSaved {
        /// Prefect's message.
        message: String,
    },
    /// The storage cannot be turned into a pull step (Python `ValueError` from `to_pull_step`).
    #[error("{message}")]
    PullStep {
        /// Prefect's message.
        message: String,
    },
    /// The storage kind or URL scheme cannot be pulled by prefab (for example `ftp://`, or an
    /// ssh-style git URL).
    #[error("{message}")]
    Unsupported {
        /// What is not supported and what to use instead.
        message: String,
    },
    /// The destination already holds a checkout of another repository (Prefect's check, §3.5).
    #[error(
        "The existing repository at {destination} does not match the configured repository {configured}"
    )]
    RemoteMismatch {
        /// The checkout that is in the way.
        destination: PathBuf,
        /// The URL the existing checkout points at (credentials removed).
        existing: String,
        /// The URL that was asked for (credentials removed).
        configured: String,
    },
    /// Cloning or fetching a git repository failed.
    #[error("{message}")]
    Git {
        /// Prefect-style message: `Failed to clone repository '<url>' with exit code <n>.` plus a
        /// hint or the last lines of the sanitized error output.
        message: String,
        /// The repository, without credentials.
        url: String,
        /// True when the failure is an authentication failure (wrong or missing credentials).
        authentication: bool,
    },
    /// Pulling from remote (object) storage failed.
    #[error("{message}")]
    Remote {
        /// Prefect-style message: `Failed to pull contents from remote storage '<url>' to '<dest>'`
        /// plus a hint.
        message: String,
    },
    /// A local file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`creating`, `renaming`, …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The lock protecting a destination could not be taken.
    #[error("could not lock {path}: {reason}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl StorageError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        StorageError::InvalidStorage {
            message: message.into(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StorageError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether the definition is at fault (a wrong URL form, a missing setting, an unsaved
    /// block) rather than the network, a server, credentials that were refused or the local
    /// disk. A failed clone or download is not the definition's fault even when its URL is
    /// wrong: the message names the URL, and the caller reports it as a failure to pull.
    pub fn blames_input(&self) -> bool {
        match self {
            StorageError::InvalidStorage { .. }
            | StorageError::BlockNotSaved { .. }
            | StorageError::PullStep { .. }
            | StorageError::Unsupported { .. } => true,
            StorageError::RemoteMismatch { .. }
            | StorageError::Git { .. }
            | StorageError::Remote { .. }
            | StorageError::Io { .. }
            | StorageError::Lock { .. } => false,
        }
    }

    /// The Python exception class Prefect raises for the same failure, used by the conformance
    /// corpus (`ValueError`, `BlockNotSavedError`, `RuntimeError`, …).
    pub fn python_class(&self) -> &'static str {
        match self {
            StorageError::InvalidStorage { .. }
            | StorageError::PullStep { .. }
            | StorageError::RemoteMismatch { .. } => "ValueError",
            StorageError::BlockNotSaved { .. } => "BlockNotSavedError",
            StorageError::Unsupported { .. } => "ValueError",
            StorageError::Git { .. } | StorageError::Remote { .. } => "RuntimeError",
            StorageError::Io { .. } => "OSError",
            StorageError::Lock { .. } => "OSError",
        }
    }
}
