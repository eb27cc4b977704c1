//! `RemoteStorage`: flow code under a prefix of an object store (storage.md §4).

mod mirror;
mod settings;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use settings::{Backend, ConfigValue, ObjectStoreConfig};

use crate::pypath::{join, repr_str};
use crate::storage::{PullOptions, PullReport, PullStep, RunnerStorage};
use crate::urls::urlparse;
use crate::value::{SECRET_SETTING_NAMES, SettingValue};
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
///
/// Pulling mirrors every object under `<path>/` into the destination, downloading only what
/// changed since the last pull (see [`RunnerStorage::pull`]). Like Prefect, a pull never deletes
/// local files by default; [`with_delete_stale`](Self::with_delete_stale) (or
/// [`PullOptions::delete_stale`]) removes files prefab wrote whose objects are gone.
///
/// `Debug` shows neither URL credentials nor secret settings.
#[derive(Clone)]
pub struct RemoteStorage {
    url: String,
    settings: IndexMap<String, SettingValue>,
    pull_interval: Option<u64>,
    base_path: PathBuf,
    destination: Option<PathBuf>,
    delete_stale: bool,
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
            delete_stale: false,
        }
    }

    /// Pulls into `dir` itself instead of `<base path>/<netloc>/<path>` (the objects keep their
    /// paths relative to the prefix). The pull step is unaffected.
    #[must_use]
    pub fn with_destination(mut self, dir: impl Into<PathBuf>) -> Self {
        self.destination = Some(dir.into());
        self
    }

    /// Mirror mode for every pull of this storage (storage.md Q11): local files that an
    /// earlier pull wrote and whose objects are gone are deleted (files prefab did not write,
    /// or that were changed locally, are kept). Off by default, as in Prefect. Not part of the
    /// pull step or of equality.
    #[must_use]
    pub fn with_delete_stale(mut self, delete: bool) -> Self {
        self.delete_stale = delete;
        self
    }

    /// Whether pulls of this storage delete stale files (see
    /// [`with_delete_stale`](Self::with_delete_stale)).
    pub fn delete_stale(&self) -> bool {
        self.delete_stale
    }

    /// The process-global in-memory object store behind `memory://` URLs (fsspec's
    /// `memory://` filesystem is process-global too). Objects put at `a/b/c.py` are pulled by
    /// `memory://a/b` into `<base>/a/b/c.py`.
    ///
    /// ```
    /// use object_store::{ObjectStoreExt, path::Path};
    /// use prefab_storage::{RemoteStorage, RunnerStorage};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = RemoteStorage::memory_store();
    /// store.put(&Path::from("docs-example/flows/hello.py"), "print('hi')".into()).await.unwrap();
    /// let base = tempfile::tempdir().unwrap();
    /// let mut storage = RemoteStorage::new("memory://docs-example/flows");
    /// storage.set_base_path(base.path());
    /// let report = storage.pull_code().await.unwrap();
    /// assert_eq!(report.added, ["hello.py"]);
    /// assert!(base.path().join("docs-example/flows/hello.py").exists());
    /// # });
    /// ```
    pub fn memory_store() -> Arc<object_store::memory::InMemory> {
        settings::memory_store()
    }

    /// Prefect's hint for a failed pull, from the error text (storage.md §4): e.g.
    /// `NoSuchBucket` → `Hint: Verify the bucket name and region.`; `None` when no pattern
    /// matches. Also knows object_store's wordings of the same failures.
    pub fn pull_error_hint(error_text: &str) -> Option<&'static str> {
        mirror::error_hint(error_text)
    }

    /// The credential values in the settings (Secret blocks anywhere, plain strings under
    /// credential-like names), for redacting error texts.
    pub(crate) fn secret_texts(&self) -> Vec<String> {
        fn walk(key: Option<&str>, value: &SettingValue, out: &mut Vec<String>) {
            let secret_name = key.is_some_and(|k| SECRET_SETTING_NAMES.contains(&k));
            match value {
                SettingValue::Secret(s) => out.push(s.value.expose().to_owned()),
                SettingValue::Plain(Value::String(s)) if secret_name => out.push(s.clone()),
                SettingValue::Plain(Value::Number(n)) if secret_name => out.push(n.to_string()),
                SettingValue::Map(m) if secret_name => {
                    // e.g. a service-account key given as JSON: every string in it.
                    collect_strings(&SettingValue::Map(m.clone()).resolve(), out)
                }
                SettingValue::Map(m) => m.iter().for_each(|(k, v)| walk(Some(k), v, out)),
                SettingValue::Block(b) => b.fields.iter().for_each(|(k, v)| walk(Some(k), v, out)),
                SettingValue::List(items) => items.iter().for_each(|v| walk(key, v, out)),
                _ => {}
            }
        }
        fn collect_strings(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) if s.len() >= 4 => out.push(s.clone()),
                Value::Object(m) => m.values().for_each(|v| collect_strings(v, out)),
                Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (k, v) in &self.settings {
            walk(Some(k), v, &mut out);
        }
        // URL userinfo: the destination (`<base>/<netloc>/<path>`, Prefect's contract) keeps
        // it, so it is redacted wherever the destination is shown. A lone username is a token.
        if let Some((user, password)) = crate::urls::urlparse(&self.url).userinfo() {
            let secret = password.unwrap_or(user);
            out.push(secret.to_owned());
            out.push(crate::urls::unquote(secret));
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// The settings with every credential replaced by `***` (for `Debug`).
    fn redacted_settings(&self) -> IndexMap<String, SettingValue> {
        fn redact(key: Option<&str>, value: &SettingValue) -> SettingValue {
            let secret_name = key.is_some_and(|k| SECRET_SETTING_NAMES.contains(&k));
            match value {
                SettingValue::Secret(_) => value.clone(), // its Debug shows `***`
                _ if secret_name => SettingValue::Plain(Value::String("***".into())),
                SettingValue::Map(m) => SettingValue::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), redact(Some(k), v)))
                        .collect(),
                ),
                SettingValue::List(items) => {
                    SettingValue::List(items.iter().map(|v| redact(key, v)).collect())
                }
                SettingValue::Block(b) => {
                    let mut b = b.clone();
                    b.fields = b
                        .fields
                        .iter()
                        .map(|(k, v)| (k.clone(), redact(Some(k), v)))
                        .collect();
                    SettingValue::Block(b)
                }
                _ => value.clone(),
            }
        }
        self.settings
            .iter()
            .map(|(k, v)| (k.clone(), redact(Some(k), v)))
            .collect()
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
    pub fn plain_secret_warnings(&self) -> Vec<String> {
        self.plain_secret_settings()
            .into_iter()
            .map(|key| {
                format!(
                    "setting `{key}` of {} holds a secret in plain text: Prefect writes it into the deployment's pull step as is; save it as a Secret block instead",
                    crate::urls::strip_auth(&self.url)
                )
            })
            .collect()
    }

    /// The settings (dotted paths) behind [`plain_secret_warnings`](Self::plain_secret_warnings).
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

impl fmt::Debug for RemoteStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStorage")
            .field("url", &crate::urls::strip_auth(&self.url))
            .field("settings", &self.redacted_settings())
            .field("pull_interval", &self.pull_interval)
            .field("base_path", &self.base_path)
            .field("delete_stale", &self.delete_stale)
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
        for warning in self.plain_secret_warnings() {
            tracing::warn!("{warning}");
        }
        let mut step = Map::new();
        step.insert(PULL_FROM_REMOTE_STEP.into(), Value::Object(inputs));
        Ok(Value::Object(step))
    }
}
