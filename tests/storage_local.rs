//! The storage conformance suite over the local backend: a `local-file-system` block whose
//! basepath is a directory on this machine (Prefect's `BlockStorageAdapter`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use prefab_storage::{BlockDocument, BlockStorage, RunnerStorage, Storage};
use support::storage_suite::{Upstream, run_suite};

struct LocalBlock {
    root: tempfile::TempDir,
}

impl LocalBlock {
    fn basepath(&self) -> PathBuf {
        self.root.path().join("flows")
    }

    fn block(&self, basepath: &Path) -> Storage {
        let block = BlockDocument::new("local-file-system", Some("shared-flows".into()))
            .field("basepath", basepath.to_string_lossy().into_owned());
        Storage::Block(BlockStorage::new(block))
    }
}

#[async_trait]
impl Upstream for LocalBlock {
    fn name(&self) -> String {
        "local-file-system block".into()
    }

    async fn publish(&self, files: &BTreeMap<String, Vec<u8>>) {
        let base = self.basepath();
        let _ = std::fs::remove_dir_all(&base);
        for (rel, content) in files {
            let path = base.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    fn storage(&self, base: &Path) -> Storage {
        let mut s = self.block(&self.basepath());
        s.set_base_path(base);
        s
    }

    fn failing_storage(&self, base: &Path) -> Storage {
        let mut s = self.block(&self.root.path().join("missing"));
        s.set_base_path(base);
        s
    }

    fn removes_deleted_files(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn local_block_passes_the_storage_suite() {
    run_suite(&LocalBlock {
        root: tempfile::tempdir().unwrap(),
    })
    .await;
}

#[tokio::test]
async fn block_pull_replaces_symlinks_without_touching_their_targets() {
    let upstream = LocalBlock {
        root: tempfile::tempdir().unwrap(),
    };
    let mut files = BTreeMap::new();
    files.insert("flows/a.py".to_owned(), b"print(1)\n".to_vec());
    upstream.publish(&files).await;
    let base = tempfile::tempdir().unwrap();
    let storage = upstream.storage(base.path());
    std::fs::create_dir_all(storage.destination().join("flows")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("keep.py");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, storage.destination().join("flows/a.py")).unwrap();
    storage.pull_code().await.unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert_eq!(
        std::fs::read_to_string(storage.destination().join("flows/a.py")).unwrap(),
        "print(1)\n"
    );
    assert_eq!(
        storage.destination(),
        base.path().join("local-file-system-shared-flows")
    );
}

#[tokio::test]
async fn other_block_types_are_described_but_not_pulled() {
    let storage = Storage::Block(BlockStorage::new(BlockDocument::new(
        "smb",
        Some("share".into()),
    )));
    let err = storage.pull_code().await.unwrap_err().to_string();
    assert!(err.contains("cannot pull a `smb` block"), "{err}");
}
