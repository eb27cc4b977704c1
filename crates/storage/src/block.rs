//! `BlockStorageAdapter`: code in a storage block (storage.md §6).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::storage::{PullOptions, PullReport, PullStep, RunnerStorage};
use crate::value::{BlockDocument, SettingValue};
use crate::{DEFAULT_PULL_INTERVAL, StorageError};

pub(crate) const PULL_WITH_BLOCK_STEP: &str = "prefect.deployments.steps.pull_with_block";

/// A storage block (`local-file-system`, `remote-file-system`, …) used as deployment storage.
/// Its pull step names the block; workers load it from the API.
///
/// prefab pulls `local-file-system` blocks itself (their `basepath` is copied into the
/// destination); other block types can be described and written into pull steps but not pulled.
#[derive(Debug, Clone)]
pub struct BlockStorage {
    block: BlockDocument,
    pull_interval: Option<u64>,
    base_path: PathBuf,
}

impl BlockStorage {
    /// Wraps a block document.
    pub fn new(block: BlockDocument) -> Self {
        BlockStorage {
            block,
            pull_interval: Some(DEFAULT_PULL_INTERVAL),
            base_path: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// Sets the pull interval.
    #[must_use]
    pub fn with_pull_interval(mut self, seconds: Option<u64>) -> Self {
        self.pull_interval = seconds;
        self
    }

    /// The pull interval as configured.
    pub fn pull_interval_raw(&self) -> Option<u64> {
        self.pull_interval
    }

    /// The block.
    pub fn block(&self) -> &BlockDocument {
        &self.block
    }

    /// `<slug>-<document name>`; an unsaved block gives `<slug>-None`, as in Prefect (Q14).
    pub fn name(&self) -> String {
        format!(
            "{}-{}",
            self.block.slug,
            self.block.name.as_deref().unwrap_or("None")
        )
    }
}

impl PartialEq for BlockStorage {
    fn eq(&self, other: &Self) -> bool {
        self.block == other.block
    }
}

#[async_trait]
impl RunnerStorage for BlockStorage {
    fn set_base_path(&mut self, path: &Path) {
        self.base_path = path.to_path_buf();
    }

    fn destination(&self) -> PathBuf {
        self.base_path.join(self.name())
    }

    fn pull_interval(&self) -> Option<u64> {
        self.pull_interval.filter(|s| *s > 0)
    }

    async fn pull(&self, _options: &PullOptions) -> Result<PullReport, StorageError> {
        let basepath = match (self.block.slug.as_str(), self.block.fields.get("basepath")) {
            ("local-file-system", Some(SettingValue::Plain(Value::String(p)))) => PathBuf::from(p),
            _ => {
                return Err(StorageError::Unsupported {
                    message: format!(
                        "prefab cannot pull a `{}` block; only `local-file-system` blocks are pulled locally (workers pull the others with Prefect)",
                        self.block.slug
                    ),
                });
            }
        };
        let destination = self.destination();
        tokio::task::spawn_blocking(move || copy_block_directory(&basepath, &destination))
            .await
            .map_err(|e| {
                StorageError::io("copying", self.destination(), std::io::Error::other(e))
            })?
    }

    fn to_pull_step(&self) -> Result<PullStep, StorageError> {
        let Some(name) = &self.block.name else {
            return Err(StorageError::BlockNotSaved {
                message:
                    "Block must be saved with `.save()` before it can be converted to a pull step."
                        .into(),
            });
        };
        let mut inputs = Map::new();
        inputs.insert(
            "block_type_slug".into(),
            Value::String(self.block.slug.clone()),
        );
        inputs.insert("block_document_name".into(), Value::String(name.clone()));
        let mut step = Map::new();
        step.insert(PULL_WITH_BLOCK_STEP.into(), Value::Object(inputs));
        Ok(Value::Object(step))
    }
}

/// Prefect's adapter empties the destination (unlinking symlinks without following them) and
/// then copies the block's directory into it.
fn copy_block_directory(source: &Path, destination: &Path) -> Result<PullReport, StorageError> {
    if !source.is_dir() {
        return Err(StorageError::io(
            "reading",
            source,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the block's basepath is not a directory",
            ),
        ));
    }
    let fresh = !destination.exists();
    if fresh {
        std::fs::create_dir_all(destination)
            .map_err(|e| StorageError::io("creating", destination, e))?;
    } else {
        for entry in std::fs::read_dir(destination)
            .map_err(|e| StorageError::io("reading", destination, e))?
        {
            let entry = entry.map_err(|e| StorageError::io("reading", destination, e))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|e| StorageError::io("reading", &path, e))?;
            let result = if file_type.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            result.map_err(|e| StorageError::io("removing", &path, e))?;
        }
    }
    let mut report = PullReport::new(destination.to_path_buf());
    report.fresh = fresh;
    copy_tree(source, destination, "", &mut report)?;
    Ok(report)
}

fn copy_tree(
    from: &Path,
    to: &Path,
    rel: &str,
    report: &mut PullReport,
) -> Result<(), StorageError> {
    for entry in std::fs::read_dir(from).map_err(|e| StorageError::io("reading", from, e))? {
        let entry = entry.map_err(|e| StorageError::io("reading", from, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let src = entry.path();
        let dst = to.join(&name);
        if src.is_dir() {
            std::fs::create_dir_all(&dst).map_err(|e| StorageError::io("creating", &dst, e))?;
            copy_tree(&src, &dst, &rel_path, report)?;
        } else {
            let bytes =
                std::fs::copy(&src, &dst).map_err(|e| StorageError::io("copying", &src, e))?;
            report.bytes_downloaded += bytes;
            report.added.push(rel_path);
        }
    }
    Ok(())
}
