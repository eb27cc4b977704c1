//! `create_storage_from_source`: which storage a source string means (storage.md §2).

use std::path::Path;

use crate::urls::urlparse;
use crate::{GitRepository, LocalStorage, RemoteStorage, Storage, StorageError};

/// fsspec 2026.9.0's `available_protocols()`, frozen so classification does not depend on an
/// installed Python package (storage.md §2).
pub const FSSPEC_PROTOCOLS: &[&str] = &[
    "abfs",
    "adl",
    "arrow_hdfs",
    "async_wrapper",
    "asynclocal",
    "asyncwrapper",
    "az",
    "blockcache",
    "box",
    "cached",
    "dask",
    "data",
    "dbfs",
    "dir",
    "dropbox",
    "dvc",
    "file",
    "filecache",
    "ftp",
    "gcs",
    "gdrive",
    "generic",
    "gist",
    "git",
    "github",
    "gs",
    "hdfs",
    "hf",
    "http",
    "https",
    "jlab",
    "jupyter",
    "lakefs",
    "libarchive",
    "local",
    "memory",
    "oci",
    "ocilake",
    "oss",
    "pyscript",
    "reference",
    "root",
    "s3",
    "s3a",
    "sftp",
    "simplecache",
    "smb",
    "ssh",
    "tar",
    "tos",
    "tosfs",
    "wandb",
    "webdav",
    "webhdfs",
    "zip",
];

/// What a source string is, as `create_storage_from_source` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Classification {
    /// A git repository.
    Git,
    /// An object store / fsspec URL.
    Remote,
    /// A local directory.
    Local,
    /// A storage block.
    Block,
    /// Pull steps given as they are.
    Steps,
}

impl Classification {
    /// `git`, `remote`, `local` or `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Git => "git",
            Classification::Remote => "remote",
            Classification::Local => "local",
            Classification::Block => "block",
            Classification::Steps => "steps",
        }
    }
}

/// Classifies `source` exactly as Prefect does, first match wins: scheme `git` or a parsed
/// path ending in `.git` → git; `file`/`local` → local; an fsspec protocol → remote; anything
/// else → local. A repository URL without `.git` is therefore *remote* (Q1, replicated):
/// use [`GitRepository::builder`] to say it is git.
pub fn classify(source: &str) -> Classification {
    let parsed = urlparse(source);
    if parsed.scheme == "git" || parsed.path.ends_with(".git") {
        Classification::Git
    } else if parsed.scheme == "file" || parsed.scheme == "local" {
        Classification::Local
    } else if FSSPEC_PROTOCOLS.contains(&parsed.scheme.as_str()) {
        Classification::Remote
    } else {
        Classification::Local
    }
}

/// Prefect's `create_storage_from_source(source, pull_interval)`, relative local paths resolved
/// against the current directory.
pub fn create_storage_from_source(
    source: &str,
    pull_interval: Option<u64>,
) -> Result<Storage, StorageError> {
    let cwd = std::env::current_dir().map_err(|e| StorageError::io("reading", ".", e))?;
    create_storage_from_source_in(source, pull_interval, &cwd)
}

/// [`create_storage_from_source`] with an explicit working directory (the base path of git and
/// remote storage, and what relative local paths resolve against).
pub fn create_storage_from_source_in(
    source: &str,
    pull_interval: Option<u64>,
    cwd: &Path,
) -> Result<Storage, StorageError> {
    Ok(match classify(source) {
        Classification::Git => Storage::Git(
            GitRepository::builder(source)
                .pull_interval(pull_interval)
                .base_path(cwd)
                .build()?,
        ),
        Classification::Local => {
            let path = match source.find("://") {
                Some(i) if matches!(urlparse(source).scheme.as_str(), "file" | "local") => {
                    &source[i + 3..]
                }
                _ => {
                    tracing::debug!(
                        "No valid fsspec protocol found for URL, assuming local storage."
                    );
                    source
                }
            };
            Storage::Local(LocalStorage::new_in(path, cwd).with_pull_interval(pull_interval))
        }
        Classification::Remote => {
            let mut remote = RemoteStorage::new(source).with_pull_interval(pull_interval);
            crate::RunnerStorage::set_base_path(&mut remote, cwd);
            Storage::Remote(remote)
        }
        Classification::Block | Classification::Steps => {
            unreachable!("a source string is never a block or a list of steps")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use Classification::*;
        for (source, expected) in [
            ("https://github.com/user/repo.git", Git),
            ("git://github.com/user/repo.git", Git),
            ("git@github.com:org/repo.git", Git),
            ("github.com/org/repo.git", Git),
            ("https://github.com/org/repo.git?x=1", Git),
            ("s3://bucket/x.git", Git),
            ("https://github.com/org/repo", Remote),
            ("https://github.com/org/repo.git/", Remote),
            ("https://dev.azure.com/o/p/_git/repo", Remote),
            ("ssh://git@host/org/repo", Remote),
            ("s3://my-bucket/path/to/folder", Remote),
            ("ftp://example.com/path/to/folder", Remote),
            ("file:///path/to/local/flows", Local),
            ("file://host/abs", Local),
            ("local://rel/dir", Local),
            ("/path/to/local/flows", Local),
            ("C:\\path\\to\\local\\flows", Local),
            ("flows", Local),
            ("abfss://c@acct.dfs.core.windows.net/p", Local),
        ] {
            assert_eq!(classify(source), expected, "{source}");
        }
    }
}
