//! `RemoteStorage`: flow code under a prefix of an object store (storage.md §4).

mod mirror;
mod settings;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use settings::ObjectStoreConfig;

use crate::pypath::{join, repr_str};
use crate::storage::{PullOptions, PullReport, PullStep, RunnerStorage};
use crate::urls::urlparse;
use crate::value::SettingValue;
use crate::{DEFAULT_PULL_INTERVAL, StorageError};

pub(crate) const PULL_FROM_REMOTE_STEP: &str = "prefect.deployments.steps.pull_from_remote_storage";

/// Flow code under a URL of an object store (`s3://bucket/prefix`, `gs://…`, `az://…`,
/// `file://…`, `memory://…`), pulled into `<base path>/<netloc>/<path>` as Prefect's
/// `RemoteStorage` does.
///
/// `settings` are Prefect's fsspec keyword arguments (`key`, `secret`, `client_kwargs`, …):
/// they go into the pull step exactly as given and map onto object_store's configuration when
/// prefab pulls.
///
/// ```
/// use prefab_storage::{RemoteStorage, RunnerStorage};
///
/// let s3 = RemoteStorage::new("s3://bucket/flows/prod");
/// assert_eq!(s3.remote_path(), "bucket/flows/prod");
/// assert_eq!(
///     s3.to_pull_step()?.to_string(),
///     r#"{"prefect.deployments.steps.pull_from_remote_storage":{"url":"s3://bucket/flows/prod","requires":"s3fs"}}"#
/// );
/// # Ok::<(), prefab_storage::StorageError>(())
/// ```
#[derive(Clone)]
pub struct RemoteStorage {
    url: String,
    settings: IndexMap<String, SettingValue>,
    pull_interval: Option<u64>,
    base_path: PathBuf,
    destination: Option<PathBuf>,
}

impl RemoteStorage {
    /// Remote storage at `url`, no settings, pulled every 60 s by a runner, based in the
    /// current directory.
    pub fn new(url: impl Into<String>) -> Self {
        RemoteStorage {
            url: url.into(),
            settings: IndexMap::new(),
            pull_interval: Some(DEFAULT_PULL_INTERVAL),
            base_path: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            destination: None,
        }
    }

    /// Pulls into `dir` itself instead of `<base path>/<netloc>/<path>` (the objects keep their
    /// paths relative to the prefix). The pull step is unaffected.
    #[must_use]
    pub fn with_destination(mut self, dir: impl Into<PathBuf>) -> Self {
        self.destination = Some(dir.into());
        self
    }

    /// Adds an fsspec-style setting (`key`, `secret`, `client_kwargs`, …).
    #[must_use]
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<SettingValue>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Replaces all settings.
    #[must_use]
    pub fn with_settings(mut self, settings: IndexMap<String, SettingValue>) -> Self {
        self.settings = settings;
        self
    }

    /// Sets the pull interval (seconds; `None` = once).
    #[must_use]
    pub fn with_pull_interval(mut self, seconds: Option<u64>) -> Self {
        self.pull_interval = seconds;
        self
    }

    /// The pull interval as configured.
    pub fn pull_interval_raw(&self) -> Option<u64> {
        self.pull_interval
    }

    /// The URL exactly as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The settings.
    pub fn settings(&self) -> &IndexMap<String, SettingValue> {
        &self.settings
    }

    /// `<netloc>/<path>` as Python's `Path(netloc) / Path(path.lstrip("/"))` renders it:
    /// the directory under the base path the code lands in.
    pub fn remote_path(&self) -> String {
        let split = urlparse(&self.url);
        join(&[split.netloc, split.path.trim_start_matches('/')])
    }

    /// The Python package Prefect's `requires` key names for this scheme (static table).
    pub fn required_package(&self) -> Option<&'static str> {
        match urlparse(&self.url).scheme.as_str() {
            "s3" => Some("s3fs"),
            "gs" | "gcs" => Some("gcsfs"),
            "abfs" | "az" => Some("adlfs"),
            _ => None,
        }
    }

    /// Prefect's `repr()`: `RemoteStorage(url='s3://bucket/path')`.
    pub fn repr(&self) -> String {
        format!("RemoteStorage(url={})", repr_str(&self.url))
    }

    /// Settings holding a plain-text secret that Prefect would write into the deployment as
    /// is (Q7); prefab warns about each when building a pull step.
    pub fn plain_secret_settings(&self) -> Vec<String> {
        let gcs = matches!(urlparse(&self.url).scheme.as_str(), "gs" | "gcs");
        SettingValue::plain_secret_keys(&self.settings)
            .into_iter()
            // A GCS `token` is usually a key file's path (or `anon`, `google_default`), not a secret.
            .filter(|key| {
                !(gcs
                    && key == "token"
                    && matches!(self.settings.get("token"), Some(SettingValue::Plain(serde_json::Value::String(t))) if !t.trim_start().starts_with('{')))
            })
            .collect()
    }

    /// The object-store configuration a pull uses: the settings mapped to object_store keys
    /// (unknown ones reported), then the standard environment variables.
    pub fn object_store_config(&self) -> Result<ObjectStoreConfig, StorageError> {
        ObjectStoreConfig::from_storage(&self.url, &self.settings)
    }
}

impl std::fmt::Debug for RemoteStorage {
    /// Settings are shown by key only: their values may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStorage")
            .field("url", &crate::urls::strip_auth(&self.url))
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("pull_interval", &self.pull_interval)
            .field("base_path", &self.base_path)
            .finish()
    }
}

impl PartialEq for RemoteStorage {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url && self.settings == other.settings
    }
}

#[async_trait]
impl RunnerStorage for RemoteStorage {
    fn set_base_path(&mut self, path: &Path) {
        self.base_path = path.to_path_buf();
    }

    fn destination(&self) -> PathBuf {
        if let Some(dir) = &self.destination {
            return dir.clone();
        }
        let remote = self.remote_path();
        if remote == "." {
            self.base_path.clone()
        } else {
            self.base_path.join(remote)
        }
    }

    fn pull_interval(&self) -> Option<u64> {
        self.pull_interval.filter(|s| *s > 0)
    }

    async fn pull(&self, options: &PullOptions) -> Result<PullReport, StorageError> {
        mirror::pull(self, options).await
    }

    fn to_pull_step(&self) -> Result<PullStep, StorageError> {
        let mut inputs = Map::new();
        inputs.insert("url".into(), Value::String(self.url.clone()));
        for (k, v) in &self.settings {
            inputs.insert(k.clone(), v.to_pull_step_json()?);
        }
        if let Some(package) = self.required_package() {
            inputs.insert("requires".into(), Value::String(package.into()));
        }
        for key in self.plain_secret_settings() {
            tracing::warn!(
                "setting `{key}` of {} holds a secret in plain text: Prefect writes it into the deployment's pull step as is; save it as a Secret block instead",
                crate::urls::strip_auth(&self.url)
            );
        }
        let mut step = Map::new();
        step.insert(PULL_FROM_REMOTE_STEP.into(), Value::Object(inputs));
        Ok(Value::Object(step))
    }
}
