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
        // Prefect does not lock block pulls; prefab takes the same lock as git pulls so two
        // pulls of one destination cannot interleave their file replacements.
        let _lock = crate::lock::FileLock::for_destination(&destination)
            .acquire()
            .await?;
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
/// copies the block's directory into it: the destination ends as an exact copy. prefab reaches
/// the same state by syncing — unchanged files are left alone, so the report says what changed —
/// and checks the source before touching anything, so a failing pull leaves the old copy.
fn copy_block_directory(source: &Path, destination: &Path) -> Result<PullReport, StorageError> {
    if !source.is_dir() {
        return Err(StorageError::io(
            "reading",
            source,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the local-file-system block's basepath is not a directory",
            ),
        ));
    }
    let wanted = list_files(source)?;
    let fresh = !destination.exists();
    std::fs::create_dir_all(destination)
        .map_err(|e| StorageError::io("creating", destination, e))?;
    let existing = list_files(destination)?;
    let mut report = PullReport::new(destination.to_path_buf());
    report.fresh = fresh;
    for rel in existing.keys() {
        if !wanted.contains_key(rel) {
            let path = destination.join(rel);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("removing", &path, e)),
            }
            report.removed.push(rel.clone());
        }
    }
    for rel in wanted.keys() {
        let src = source.join(rel);
        let dst = destination.join(rel);
        // Contents are compared only when the sizes agree.
        let same = existing.get(rel) == wanted.get(rel)
            && std::fs::read(&src).map_err(|e| StorageError::io("reading", &src, e))?
                == std::fs::read(&dst).map_err(|e| StorageError::io("reading", &dst, e))?;
        if same {
            report.unchanged += 1;
            continue;
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StorageError::io("creating", parent, e))?;
        }
        // Replace, never write through: a read-only file (git packs) or a symlink is unlinked,
        // and a concurrent pull never sees a half-written file.
        let parent = dst.parent().unwrap_or(destination);
        let mut tmp = tempfile::Builder::new()
            .prefix(".prefab-tmp")
            .tempfile_in(parent)
            .map_err(|e| StorageError::io("creating a temporary file in", parent, e))?;
        let mut input =
            std::fs::File::open(&src).map_err(|e| StorageError::io("reading", &src, e))?;
        let bytes = std::io::copy(&mut input, tmp.as_file_mut())
            .map_err(|e| StorageError::io("copying", &src, e))?;
        tmp.persist(&dst)
            .map_err(|e| StorageError::io("renaming into", &dst, e.error))?;
        report.bytes_downloaded += bytes;
        if existing.contains_key(rel) {
            report.updated.push(rel.clone());
        } else {
            report.added.push(rel.clone());
        }
    }
    Ok(report)
}

/// Regular files under `root` (symlinks to directories are not followed), relative `/` paths
/// in sorted order.
fn list_files(root: &Path) -> Result<std::collections::BTreeMap<String, u64>, StorageError> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StorageError> {
        for entry in std::fs::read_dir(dir).map_err(|e| StorageError::io("reading", dir, e))? {
            let entry = entry.map_err(|e| StorageError::io("reading", dir, e))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|e| StorageError::io("reading", &path, e))?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(".prefab-tmp")
            {
                continue;
            }
            if file_type.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.insert(rel, len);
            }
        }
        Ok(())
    }
    let mut out = std::collections::BTreeMap::new();
    if root.is_dir() {
        walk(root, root, &mut out)?;
    }
    Ok(out)
}
