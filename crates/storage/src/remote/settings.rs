//! fsspec settings → object_store configuration (storage.md §4.1).
//!
//! Prefect passes a `RemoteStorage`'s settings to the fsspec filesystem of the URL's scheme as
//! keyword arguments (`s3fs.S3FileSystem(key=…, secret=…, client_kwargs={…})`). prefab maps the
//! ones that have an object_store meaning onto the object_store builder of the scheme, after the
//! builder has read the standard environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`), so
//! settings win over the environment as fsspec's keyword arguments win over boto's. A setting
//! without an object_store meaning is ignored with a warning naming it.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indexmap::IndexMap;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};
use prefab_schemas::Secret;
use serde_json::Value;

use crate::StorageError;
use crate::urls::{strip_auth, urlparse};
use crate::value::SettingValue;

/// The schemes prefab can pull from, for error messages.
const SUPPORTED: &str = "s3://, s3a://, gs://, gcs://, az://, abfs://, abfss://, file://, \
                         local://, memory://, http:// and https://";

/// Environment variables whose values are credentials: redacted from error texts like the
/// secret settings are.
const SECRET_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_BEARER_TOKEN",
];

/// The process-global in-memory store behind `memory://` URLs.
pub(crate) fn memory_store() -> Arc<InMemory> {
    static STORE: OnceLock<Arc<InMemory>> = OnceLock::new();
    Arc::clone(STORE.get_or_init(|| Arc::new(InMemory::new())))
}

/// Which object_store implementation serves a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// Amazon S3 or an S3-compatible server (`s3://`, `s3a://`).
    S3,
    /// Google Cloud Storage (`gs://`, `gcs://`).
    Gcs,
    /// Azure Blob Storage / ADLS Gen2 (`az://`, `abfs://`, `abfss://`).
    Azure,
    /// A plain HTTP(S) server (WebDAV listing; `http://`, `https://`).
    Http,
    /// The local filesystem (`file://`, `local://`).
    Local,
    /// The process-global in-memory store (`memory://`).
    Memory,
}

/// One object_store configuration value; secrets never show in `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigValue {
    /// A value that may be shown (an endpoint, a region, a flag).
    Plain(String),
    /// A credential.
    Secret(Secret),
}

impl ConfigValue {
    /// The value itself (a secret revealed: use it only to configure the store).
    pub fn expose(&self) -> &str {
        match self {
            ConfigValue::Plain(s) => s,
            ConfigValue::Secret(s) => s.expose(),
        }
    }

    /// Whether the value is a credential.
    pub fn is_secret(&self) -> bool {
        matches!(self, ConfigValue::Secret(_))
    }
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Plain(s) => fmt::Debug::fmt(s, f),
            ConfigValue::Secret(_) => f.write_str("***"),
        }
    }
}

/// The object_store configuration of a [`RemoteStorage`](super::RemoteStorage) pull: which
/// backend, which bucket and prefix, and the settings translated to object_store configuration
/// keys (`aws_access_key_id`, `aws_endpoint`, `google_service_account_key`, …). The standard
/// environment variables are read when the store is [built](Self::build), under these options.
///
/// `Debug` never shows a credential.
///
/// ```
/// use prefab_storage::{RemoteStorage, SecretBlock};
/// use serde_json::json;
///
/// let storage = RemoteStorage::new("s3://bucket/flows")
///     .setting("key", SecretBlock::saved("aws-key", "AKIA-EXAMPLE"))
///     .setting("secret", SecretBlock::saved("aws-secret", "very-secret"))
///     .setting("client_kwargs", prefab_storage::SettingValue::from_json(
///         &json!({"endpoint_url": "http://127.0.0.1:9000"}))?);
/// let config = storage.object_store_config()?;
/// assert_eq!(config.bucket(), Some("bucket"));
/// assert_eq!(config.prefix(), "flows");
/// assert_eq!(config.option("aws_endpoint").unwrap().expose(), "http://127.0.0.1:9000");
/// assert_eq!(config.option("aws_allow_http").unwrap().expose(), "true");
/// assert!(!format!("{config:?}").contains("very-secret"));
/// # Ok::<(), prefab_storage::StorageError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ObjectStoreConfig {
    /// Settings that have no object_store meaning and are ignored (a warning names each);
    /// nested ones as `client_kwargs.verify`.
    pub ignored: Vec<String>,
    url: String,
    scheme: String,
    backend: Backend,
    bucket: Option<String>,
    prefix: String,
    options: Vec<(String, ConfigValue)>,
}

impl ObjectStoreConfig {
    /// Translates `url` and `settings` (warning about each ignored setting).
    pub(crate) fn from_storage(
        url: &str,
        settings: &IndexMap<String, SettingValue>,
    ) -> Result<ObjectStoreConfig, StorageError> {
        let parsed = urlparse(url);
        let scheme = parsed.scheme.clone();
        let backend = match scheme.as_str() {
            "s3" | "s3a" => Backend::S3,
            "gs" | "gcs" => Backend::Gcs,
            "az" | "abfs" | "abfss" => Backend::Azure,
            "http" | "https" => Backend::Http,
            "file" | "local" => Backend::Local,
            "memory" => Backend::Memory,
            "" => {
                return Err(StorageError::Unsupported {
                    message: format!(
                        "remote storage URL '{}' has no scheme: use one of {SUPPORTED}",
                        strip_auth(url)
                    ),
                });
            }
            other => {
                return Err(StorageError::Unsupported {
                    message: format!(
                        "remote storage scheme '{other}://' (in '{}') is not supported by prefab: \
                         object_store has no backend for it. Supported schemes: {SUPPORTED}. \
                         Copy the code to one of those, or use git or a local path instead",
                        strip_auth(url)
                    ),
                });
            }
        };
        let path = parsed.path.split('/').filter(|s| !s.is_empty());
        let host = parsed.host_port();
        let (bucket, prefix) = match backend {
            Backend::Memory => {
                // fsspec's memory filesystem has no buckets: `memory://a/b` is the path `/a/b`.
                let prefix: Vec<&str> = std::iter::once(host)
                    .filter(|s| !s.is_empty())
                    .chain(path)
                    .collect();
                (None, prefix.join("/"))
            }
            Backend::Local => {
                if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                    return Err(StorageError::Unsupported {
                        message: format!(
                            "'{}' names host '{host}': a file URL must name a local absolute \
                             path, as file:///path/to/flows",
                            strip_auth(url)
                        ),
                    });
                }
                (None, path.collect::<Vec<_>>().join("/"))
            }
            Backend::Http => (None, path.collect::<Vec<_>>().join("/")),
            Backend::S3 | Backend::Gcs | Backend::Azure => {
                if host.is_empty() {
                    return Err(StorageError::invalid(format!(
                        "remote storage URL '{}' names no bucket: use {scheme}://<bucket>/<path>",
                        strip_auth(url)
                    )));
                }
                (Some(host.to_owned()), path.collect::<Vec<_>>().join("/"))
            }
        };
        ObjectPath::parse(&prefix).map_err(|e| {
            StorageError::invalid(format!(
                "remote storage URL '{}' has a path object stores cannot address: {e}",
                strip_auth(url)
            ))
        })?;

        let mut config = ObjectStoreConfig {
            ignored: Vec::new(),
            url: strip_auth(url),
            scheme,
            backend,
            bucket,
            prefix,
            options: Vec::new(),
        };
        for (key, value) in settings {
            let resolved = value.resolve();
            match backend {
                Backend::S3 => config.s3_setting(key, &resolved)?,
                Backend::Gcs => config.gcs_setting(key, &resolved)?,
                Backend::Azure => config.azure_setting(key, &resolved)?,
                Backend::Http | Backend::Local | Backend::Memory => config.ignore(key.clone()),
            }
        }
        if backend == Backend::Azure
            && config.option("azure_storage_account_key").is_none()
            && config.option("azure_storage_sas_key").is_none()
            && config.option("azure_storage_account_name").is_none()
            && let Ok(conn) = std::env::var("AZURE_STORAGE_CONNECTION_STRING")
        {
            // adlfs reads it; object_store does not.
            config.connection_string(&conn)?;
        }
        if backend == Backend::Http && config.scheme == "http" {
            config.set("allow_http", ConfigValue::Plain("true".into()));
        }
        for name in &config.ignored {
            tracing::warn!(
                "setting `{name}` of remote storage {} has no object_store equivalent and is ignored",
                config.url
            );
        }
        Ok(config)
    }

    /// The URL scheme (`s3`, `gs`, `memory`, …).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The object_store implementation.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The bucket (S3, GCS) or container (Azure; `container@account.dfs…` kept whole).
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// The prefix inside the bucket (the URL's path without surrounding slashes; empty for a
    /// whole bucket). A pull mirrors every object under `<prefix>/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix as an object_store path.
    pub fn prefix_path(&self) -> ObjectPath {
        ObjectPath::parse(&self.prefix).unwrap_or_default()
    }

    /// The translated options, as object_store configuration keys, in settings order.
    pub fn options(&self) -> impl Iterator<Item = (&str, &ConfigValue)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One translated option by its object_store key.
    pub fn option(&self, key: &str) -> Option<&ConfigValue> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Every credential this pull may send (settings and the standard environment variables),
    /// for redacting error texts.
    pub(crate) fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .options
            .iter()
            .filter(|(_, v)| v.is_secret())
            .map(|(_, v)| v.expose().to_owned())
            .collect();
        out.extend(
            SECRET_ENV
                .iter()
                .filter_map(|k| std::env::var(k).ok())
                .filter(|v| v.len() >= 4),
        );
        out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        out.dedup();
        out
    }

    /// Builds the store: the backend's builder reads the standard environment variables
    /// (`from_env`), then these options are applied on top. Requests are retried a few times
    /// with a short backoff (a refused connection fails within about two seconds).
    pub fn build(&self) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let fail = |what: &str, e: object_store::Error| {
            let text = crate::urls::strip_auth_in_text(&e.to_string(), &self.secret_values());
            StorageError::invalid(format!(
                "cannot configure the {what} client for remote storage '{}': {text}",
                self.url
            ))
        };
        let bad_key = |key: &str| {
            StorageError::invalid(format!(
                "internal: `{key}` is not an object_store configuration key"
            ))
        };
        Ok(match self.backend {
            Backend::S3 => {
                let b = self.s3_builder()?;
                if !s3_has_credentials(&b) && metadata_disabled() {
                    return Err(StorageError::Remote {
                        message: format!(
                            "Failed to pull contents from remote storage '{}': {} \
                             (AWS_EC2_METADATA_DISABLED is set, so the EC2 instance metadata \
                             endpoint was not asked)",
                            crate::urls::strip_auth(&self.url),
                            NO_AWS_CREDENTIALS
                        ),
                    });
                }
                Arc::new(b.build().map_err(|e| fail("S3", e))?)
            }
            Backend::Gcs => {
                let mut b = GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(self.bucket.clone().unwrap_or_default())
                    .with_retry(retry_config());
                for (key, value) in &self.options {
                    let k: GoogleConfigKey = key.parse().map_err(|_| bad_key(key))?;
                    b = b.with_config(k, value.expose());
                }
                Arc::new(b.build().map_err(|e| fail("Google Cloud Storage", e))?)
            }
            Backend::Azure => {
                let mut b = MicrosoftAzureBuilder::from_env()
                    .with_url(format!(
                        "{}://{}",
                        self.scheme,
                        self.bucket.as_deref().unwrap_or_default()
                    ))
                    .with_retry(retry_config());
                for (key, value) in &self.options {
                    let k: AzureConfigKey = key.parse().map_err(|_| bad_key(key))?;
                    b = b.with_config(k, value.expose());
                }
                Arc::new(b.build().map_err(|e| fail("Azure Blob Storage", e))?)
            }
            Backend::Http => {
                let parsed = urlparse(&self.url);
                let mut b = HttpBuilder::new()
                    .with_url(format!("{}://{}", self.scheme, parsed.netloc))
                    .with_retry(retry_config());
                for (key, value) in &self.options {
                    let k: ClientConfigKey = key.parse().map_err(|_| bad_key(key))?;
                    b = b.with_config(k, value.expose());
                }
                Arc::new(b.build().map_err(|e| fail("HTTP", e))?)
            }
            Backend::Local => Arc::new(LocalFileSystem::new()),
            Backend::Memory => memory_store(),
        })
    }

    /// The S3 builder: the standard environment variables, then these options on top.
    fn s3_builder(&self) -> Result<AmazonS3Builder, StorageError> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(self.bucket.clone().unwrap_or_default())
            .with_retry(retry_config());
        // boto reaches an `http://` endpoint without further ado; object_store wants
        // allow_http, so an http endpoint from AWS_ENDPOINT_URL implies it.
        if b.get_config_value(&AmazonS3ConfigKey::Endpoint)
            .is_some_and(|e| e.starts_with("http://"))
        {
            b = b.with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp),
                "true",
            );
        }
        for (key, value) in &self.options {
            let k: AmazonS3ConfigKey = key.parse().map_err(|_| {
                StorageError::invalid(format!(
                    "internal: `{key}` is not an object_store configuration key"
                ))
            })?;
            b = b.with_config(k, value.expose());
        }
        Ok(b)
    }

    /// The cloud's instance metadata endpoint, when object_store may end its credential chain
    /// there: for S3 only when no credentials are configured (no key pair, web identity,
    /// container credentials or `anon`); for Google Cloud Storage and Azure whenever (they go
    /// there after their own sources). A pull whose failure names this endpoint failed for
    /// want of credentials.
    pub(crate) fn metadata_fallback(&self) -> Option<MetadataFallback> {
        let env_or = |key: &str, default: &str| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        match self.backend {
            Backend::S3 => {
                let b = self.s3_builder().ok()?;
                if s3_has_credentials(&b) {
                    return None;
                }
                let endpoint = b
                    .get_config_value(&AmazonS3ConfigKey::MetadataEndpoint)
                    .unwrap_or_else(|| "http://169.254.169.254".to_owned());
                Some(MetadataFallback {
                    hosts: vec![host_of(&endpoint)],
                    endpoint,
                    no_credentials: NO_AWS_CREDENTIALS,
                    skip: " (off EC2, set AWS_EC2_METADATA_DISABLED=true to skip it)",
                })
            }
            Backend::Gcs => {
                let host = env_or("GCE_METADATA_HOST", "metadata.google.internal");
                let ip = env_or("GCE_METADATA_IP", "169.254.169.254");
                Some(MetadataFallback {
                    endpoint: format!("{host} / {ip}"),
                    hosts: vec![host_of(&host), host_of(&ip)],
                    no_credentials: NO_GCP_CREDENTIALS,
                    skip: "",
                })
            }
            Backend::Azure => {
                let endpoint = self
                    .options
                    .iter()
                    .find(|(k, _)| k == "azure_msi_endpoint")
                    .map(|(_, v)| v.expose().to_owned())
                    .or_else(|| std::env::var("AZURE_MSI_ENDPOINT").ok())
                    .unwrap_or_else(|| "http://169.254.169.254".to_owned());
                Some(MetadataFallback {
                    hosts: vec![host_of(&endpoint)],
                    endpoint,
                    no_credentials: NO_AZURE_CREDENTIALS,
                    skip: "",
                })
            }
            _ => None,
        }
    }

    fn set(&mut self, key: &str, value: ConfigValue) {
        self.options.retain(|(k, _)| k != key);
        self.options.push((key.to_owned(), value));
    }

    fn ignore(&mut self, name: String) {
        if !self.ignored.contains(&name) {
            self.ignored.push(name);
        }
    }

    fn endpoint(&mut self, key: &str, allow_http_key: &str, name: &str, value: &Value) {
        let Some(endpoint) = text(value) else {
            self.ignore(name.to_owned());
            return;
        };
        if endpoint.starts_with("http://") {
            self.set(allow_http_key, ConfigValue::Plain("true".into()));
        }
        self.set(key, ConfigValue::Plain(endpoint));
    }

    fn flag(&mut self, key: &str, name: &str, value: &Value) -> Result<(), StorageError> {
        match truthy(value) {
            Some(b) => {
                self.set(key, ConfigValue::Plain(b.to_string()));
                Ok(())
            }
            None => Err(StorageError::invalid(format!(
                "setting `{name}` of remote storage {} must be true or false, got {value}",
                self.url
            ))),
        }
    }

    fn secret(&mut self, key: &str, name: &str, value: &Value) {
        match text(value) {
            Some(s) => self.set(key, ConfigValue::Secret(Secret::new(s))),
            None if value.is_null() => {}
            None => self.ignore(name.to_owned()),
        }
    }

    fn plain(&mut self, key: &str, name: &str, value: &Value) {
        match text(value) {
            Some(s) => self.set(key, ConfigValue::Plain(s)),
            None if value.is_null() => {}
            None => self.ignore(name.to_owned()),
        }
    }

    /// s3fs's `S3FileSystem(**settings)`.
    fn s3_setting(&mut self, key: &str, value: &Value) -> Result<(), StorageError> {
        match key {
            "key" | "aws_access_key_id" => self.secret("aws_access_key_id", key, value),
            "secret" | "aws_secret_access_key" => self.secret("aws_secret_access_key", key, value),
            "token" | "aws_session_token" => self.secret("aws_session_token", key, value),
            "anon" => self.flag("aws_skip_signature", key, value)?,
            "endpoint_url" => self.endpoint("aws_endpoint", "aws_allow_http", key, value),
            "requester_pays" => self.flag("aws_request_payer", key, value)?,
            "client_kwargs" => self.nested(key, value, |c, k, name, v| match k {
                "endpoint_url" => {
                    c.endpoint("aws_endpoint", "aws_allow_http", name, v);
                    Ok(())
                }
                "region_name" => {
                    c.plain("aws_region", name, v);
                    Ok(())
                }
                "aws_access_key_id" => {
                    c.secret("aws_access_key_id", name, v);
                    Ok(())
                }
                "aws_secret_access_key" => {
                    c.secret("aws_secret_access_key", name, v);
                    Ok(())
                }
                "aws_session_token" => {
                    c.secret("aws_session_token", name, v);
                    Ok(())
                }
                "verify" => match truthy(v) {
                    Some(verify) => {
                        c.set(
                            "aws_allow_invalid_certificates",
                            ConfigValue::Plain((!verify).to_string()),
                        );
                        Ok(())
                    }
                    // A CA bundle path: object_store uses the system roots.
                    None => {
                        c.ignore(name.to_owned());
                        Ok(())
                    }
                },
                _ => {
                    c.ignore(name.to_owned());
                    Ok(())
                }
            })?,
            "config_kwargs" => self.nested(key, value, |c, k, name, v| {
                match (k, v) {
                    ("region_name", _) => c.plain("aws_region", name, v),
                    ("s3", Value::Object(s3)) => {
                        for (k2, v2) in s3 {
                            let name2 = format!("{name}.{k2}");
                            match (k2.as_str(), v2.as_str()) {
                                ("addressing_style", Some("virtual")) => c.set(
                                    "aws_virtual_hosted_style_request",
                                    ConfigValue::Plain("true".into()),
                                ),
                                ("addressing_style", Some("path")) => c.set(
                                    "aws_virtual_hosted_style_request",
                                    ConfigValue::Plain("false".into()),
                                ),
                                ("addressing_style", Some("auto")) => {}
                                _ => c.ignore(name2),
                            }
                        }
                    }
                    _ => c.ignore(name.to_owned()),
                }
                Ok(())
            })?,
            _ => self.ignore(key.to_owned()),
        }
        Ok(())
    }

    /// gcsfs's `GCSFileSystem(**settings)`.
    fn gcs_setting(&mut self, key: &str, value: &Value) -> Result<(), StorageError> {
        match (key, value) {
            ("token", Value::Null) => {}
            ("token", Value::String(s)) => match s.as_str() {
                "anon" => self.set("google_skip_signature", ConfigValue::Plain("true".into())),
                // The default credential chain: GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata.
                "google_default" | "cache" | "cloud" | "metadata" => {}
                // A path to a JSON key (service account or authorized user).
                path if !path.trim_start().starts_with('{') => self.set(
                    "google_application_credentials",
                    ConfigValue::Plain(path.to_owned()),
                ),
                // A JSON document passed as text.
                json => self.set(
                    "google_service_account_key",
                    ConfigValue::Secret(Secret::new(json)),
                ),
            },
            ("token", Value::Object(_)) => self.set(
                "google_service_account_key",
                ConfigValue::Secret(Secret::new(value.to_string())),
            ),
            ("anon", _) => self.flag("google_skip_signature", key, value)?,
            ("endpoint_url", _) => self.plain("google_base_url", key, value),
            _ => self.ignore(key.to_owned()),
        }
        Ok(())
    }

    /// adlfs's `AzureBlobFileSystem(**settings)`.
    fn azure_setting(&mut self, key: &str, value: &Value) -> Result<(), StorageError> {
        match key {
            "account_name" => self.plain("azure_storage_account_name", key, value),
            "account_key" => self.secret("azure_storage_account_key", key, value),
            "sas_token" => self.secret("azure_storage_sas_key", key, value),
            "tenant_id" => self.plain("azure_storage_tenant_id", key, value),
            "client_id" => self.plain("azure_storage_client_id", key, value),
            "client_secret" => self.secret("azure_storage_client_secret", key, value),
            "anon" => self.flag("azure_skip_signature", key, value)?,
            "account_host" => match text(value) {
                Some(host) if host.contains("://") => {
                    self.endpoint("azure_storage_endpoint", "azure_allow_http", key, value)
                }
                Some(host) => self.set(
                    "azure_storage_endpoint",
                    ConfigValue::Plain(format!("https://{host}")),
                ),
                None => self.ignore(key.to_owned()),
            },
            "connection_string" => match text(value) {
                Some(conn) => self.connection_string(&conn)?,
                None => self.ignore(key.to_owned()),
            },
            _ => self.ignore(key.to_owned()),
        }
        Ok(())
    }

    /// An Azure storage connection string:
    /// `DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=…`,
    /// `BlobEndpoint=…;SharedAccessSignature=…` or `UseDevelopmentStorage=true`.
    fn connection_string(&mut self, conn: &str) -> Result<(), StorageError> {
        let mut account = None;
        let mut protocol = None;
        let mut suffix = None;
        let mut blob_endpoint = None;
        for part in conn.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(StorageError::invalid(format!(
                    "setting `connection_string` of remote storage {} is not a list of \
                     `Name=value` pairs separated by `;`",
                    self.url
                )));
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "accountname" => account = Some(v.to_owned()),
                "accountkey" => self.set(
                    "azure_storage_account_key",
                    ConfigValue::Secret(Secret::new(v)),
                ),
                "sharedaccesssignature" => {
                    self.set("azure_storage_sas_key", ConfigValue::Secret(Secret::new(v)))
                }
                "defaultendpointsprotocol" => protocol = Some(v.to_ascii_lowercase()),
                "endpointsuffix" => suffix = Some(v.to_owned()),
                "blobendpoint" => blob_endpoint = Some(v.to_owned()),
                "usedevelopmentstorage" if v.eq_ignore_ascii_case("true") => {
                    self.set(
                        "azure_storage_use_emulator",
                        ConfigValue::Plain("true".into()),
                    );
                }
                _ => {}
            }
        }
        if let Some(account) = &account {
            self.set(
                "azure_storage_account_name",
                ConfigValue::Plain(account.clone()),
            );
        }
        let endpoint = blob_endpoint.or_else(|| {
            let suffix = suffix.filter(|s| s != "core.windows.net")?;
            let account = account.as_deref()?;
            let protocol = protocol.as_deref().unwrap_or("https");
            Some(format!("{protocol}://{account}.blob.{suffix}"))
        });
        if let Some(endpoint) = endpoint {
            let endpoint = endpoint.trim_end_matches('/').to_owned();
            if endpoint.starts_with("http://") {
                self.set("azure_allow_http", ConfigValue::Plain("true".into()));
            }
            self.set("azure_storage_endpoint", ConfigValue::Plain(endpoint));
        } else if protocol.as_deref() == Some("http") {
            self.set("azure_allow_http", ConfigValue::Plain("true".into()));
        }
        Ok(())
    }

    /// Applies `each` to the entries of a nested map setting (`client_kwargs`); a non-map is
    /// ignored.
    fn nested(
        &mut self,
        key: &str,
        value: &Value,
        mut each: impl FnMut(&mut Self, &str, &str, &Value) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    each(self, k, &format!("{key}.{k}"), v)?;
                }
                Ok(())
            }
            Value::Null => Ok(()),
            _ => {
                self.ignore(key.to_owned());
                Ok(())
            }
        }
    }
}

/// What to do when S3 has no credentials, for error messages: every source object_store reads
/// (its credential chain, docs/deviations.md R9), in its order.
pub(crate) const NO_AWS_CREDENTIALS: &str = "no AWS credentials were found. Set \
     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary ones), \
     or give them in the storage's settings (`key` and `secret`, or an AWS credentials block), \
     or use a web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN) or an ECS task role \
     (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI); for a public bucket set `anon: true`. \
     ~/.aws profiles (AWS_PROFILE) are not read";

/// What to say when Google Cloud Storage has no credentials (object_store's chain, R10).
pub(crate) const NO_GCP_CREDENTIALS: &str = "no Google Cloud credentials were found. Set \
     GOOGLE_APPLICATION_CREDENTIALS to a service-account or authorized-user JSON file (or \
     GOOGLE_SERVICE_ACCOUNT_KEY to a service account's JSON), give `token` in the storage's \
     settings (such a file's path, its JSON, or \"anon\" for a public bucket), or run \
     `gcloud auth application-default login`";

/// What to say when Azure Blob Storage has no credentials.
pub(crate) const NO_AZURE_CREDENTIALS: &str = "no Azure credentials were found. Set \
     AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or a service principal \
     (AZURE_STORAGE_CLIENT_ID, AZURE_STORAGE_CLIENT_SECRET, AZURE_STORAGE_TENANT_ID), or give \
     them in the storage's settings (`account_key`, `sas_token`, `connection_string`, \
     `client_id` / `client_secret` / `tenant_id`); for a public container set `anon: true`";

/// A cloud's instance metadata endpoint, the last link of object_store's credential chain.
#[derive(Debug, Clone)]
pub(crate) struct MetadataFallback {
    /// The endpoint, for messages.
    pub(crate) endpoint: String,
    /// Host names (with port) whose mention in a failure means the endpoint failed.
    pub(crate) hosts: Vec<String>,
    /// The missing credentials and where they come from.
    pub(crate) no_credentials: &'static str,
    /// How to skip the endpoint, when there is a way (with a leading space).
    pub(crate) skip: &'static str,
}

/// `host[:port]` of a URL or a bare host.
fn host_of(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Whether S3 credentials come from somewhere other than the EC2 instance metadata endpoint
/// (object_store's chain: key pair, web identity, ECS task, EKS pod identity, then IMDS), or
/// are not needed (`skip_signature`).
fn s3_has_credentials(b: &AmazonS3Builder) -> bool {
    let set = |k: AmazonS3ConfigKey| b.get_config_value(&k).is_some_and(|v| !v.is_empty());
    let skip = b
        .get_config_value(&AmazonS3ConfigKey::SkipSignature)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    skip || set(AmazonS3ConfigKey::AccessKeyId)
        || set(AmazonS3ConfigKey::SecretAccessKey)
        || (set(AmazonS3ConfigKey::WebIdentityTokenFile) && set(AmazonS3ConfigKey::RoleArn))
        || set(AmazonS3ConfigKey::ContainerCredentialsRelativeUri)
        || (set(AmazonS3ConfigKey::ContainerCredentialsFullUri)
            && set(AmazonS3ConfigKey::ContainerAuthorizationTokenFile))
}

/// `AWS_EC2_METADATA_DISABLED=true`, the AWS SDKs' switch to never ask the instance metadata
/// endpoint for credentials (object_store does not read it; prefab does).
fn metadata_disabled() -> bool {
    std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Retries for a pull: a few, with a short backoff, so that a refused connection or a missing
/// bucket is reported in seconds instead of object_store's default of up to three minutes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(60),
    }
}

/// A scalar setting as text (numbers rendered, booleans as `true`/`false`).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A boolean setting (`true`, `"true"`, `1`, `"yes"`…).
fn truthy(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::settings_from_json;
    use serde_json::json;

    fn config(url: &str, settings: Value) -> ObjectStoreConfig {
        ObjectStoreConfig::from_storage(url, &settings_from_json(&settings).unwrap()).unwrap()
    }

    fn opts(c: &ObjectStoreConfig) -> Vec<(String, String)> {
        c.options()
            .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
            .collect()
    }

    #[test]
    fn s3_settings_map_to_object_store_keys() {
        let c = config(
            "s3://bucket/flows/prod/",
            json!({
                "key": {"$secret": {"name": "k", "value": "AKIAEXAMPLE"}},
                "secret": "plain-secret",
                "token": "tok",
                "anon": false,
                "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1",
                                  "verify": false, "proxies": {}},
                "config_kwargs": {"s3": {"addressing_style": "virtual"}},
                "use_listings_cache": false,
            }),
        );
        assert_eq!(c.backend(), Backend::S3);
        assert_eq!(c.bucket(), Some("bucket"));
        assert_eq!(c.prefix(), "flows/prod");
        assert_eq!(
            opts(&c),
            [
                ("aws_access_key_id", "AKIAEXAMPLE"),
                ("aws_secret_access_key", "plain-secret"),
                ("aws_session_token", "tok"),
                ("aws_skip_signature", "false"),
                ("aws_allow_http", "true"),
                ("aws_endpoint", "http://127.0.0.1:9000"),
                ("aws_region", "eu-west-1"),
                ("aws_allow_invalid_certificates", "true"),
                ("aws_virtual_hosted_style_request", "true"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(c.ignored, ["client_kwargs.proxies", "use_listings_cache"]);
        for (k, _) in c.options() {
            k.parse::<AmazonS3ConfigKey>()
                .unwrap_or_else(|_| panic!("{k}"));
        }
        let debug = format!("{c:?}");
        for secret in ["AKIAEXAMPLE", "plain-secret", "\"tok\""] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("http://127.0.0.1:9000"), "{debug}");
        assert!(c.secret_values().contains(&"plain-secret".to_owned()));
        c.build().unwrap();
    }

    #[test]
    fn top_level_endpoint_and_anon() {
        let c = config(
            "s3a://b",
            json!({"endpoint_url": "https://minio.example", "anon": true}),
        );
        assert_eq!(c.prefix(), "");
        assert_eq!(
            opts(&c),
            [
                ("aws_endpoint", "https://minio.example"),
                ("aws_skip_signature", "true")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let err = ObjectStoreConfig::from_storage(
            "s3://b",
            &settings_from_json(&json!({"anon": "maybe"})).unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`anon`"), "{err}");
    }

    #[test]
    fn gcs_token_forms() {
        let c = config("gs://bkt/deploy/", json!({"token": "/secrets/sa.json"}));
        assert_eq!(c.backend(), Backend::Gcs);
        assert_eq!(c.bucket(), Some("bkt"));
        assert_eq!(
            opts(&c),
            [("google_application_credentials", "/secrets/sa.json")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let c = config(
            "gcs://bkt",
            json!({"token": {"type": "service_account", "private_key": "PRIVATE"}, "project": "p"}),
        );
        let key = c.option("google_service_account_key").unwrap();
        assert!(key.is_secret() && key.expose().contains("PRIVATE"));
        assert!(!format!("{c:?}").contains("PRIVATE"));
        assert_eq!(c.ignored, ["project"]);
        let c = config("gs://bkt", json!({"token": "anon"}));
        assert_eq!(c.option("google_skip_signature").unwrap().expose(), "true");
        for (k, _) in config(
            "gs://b",
            json!({"token": "/p", "anon": true, "endpoint_url": "http://x"}),
        )
        .options()
        {
            k.parse::<GoogleConfigKey>()
                .unwrap_or_else(|_| panic!("{k}"));
        }
    }

    #[test]
    fn azure_settings_and_connection_strings() {
        let c = config(
            "az://container/flows",
            json!({"account_name": "acct", "account_key": "k==", "sas_token": "sv=1&sig=x",
                   "tenant_id": "t", "client_id": "c", "client_secret": "cs", "anon": false}),
        );
        assert_eq!(c.backend(), Backend::Azure);
        assert_eq!(c.bucket(), Some("container"));
        for (k, _) in c.options() {
            k.parse::<AzureConfigKey>()
                .unwrap_or_else(|_| panic!("{k}"));
        }
        assert_eq!(c.options().count(), 7);
        let debug = format!("{c:?}");
        assert!(!debug.contains("k==") && !debug.contains("sig=x") && !debug.contains("\"cs\""));

        let c = config(
            "abfs://container/flows",
            json!({"connection_string":
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"}),
        );
        assert_eq!(
            opts(&c),
            [
                ("azure_storage_account_key", "Eby8=="),
                ("azure_storage_account_name", "devstoreaccount1"),
                ("azure_allow_http", "true"),
                (
                    "azure_storage_endpoint",
                    "http://127.0.0.1:10000/devstoreaccount1"
                ),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let c = config(
            "az://c",
            json!({"connection_string": "UseDevelopmentStorage=true"}),
        );
        assert_eq!(
            c.option("azure_storage_use_emulator").unwrap().expose(),
            "true"
        );
        let c = config(
            "az://c",
            json!({"connection_string": "AccountName=a;AccountKey=b;EndpointSuffix=core.chinacloudapi.cn"}),
        );
        assert_eq!(
            c.option("azure_storage_endpoint").unwrap().expose(),
            "https://a.blob.core.chinacloudapi.cn"
        );
        for (k, _) in c.options() {
            k.parse::<AzureConfigKey>()
                .unwrap_or_else(|_| panic!("{k}"));
        }
    }

    #[test]
    fn memory_file_and_http() {
        let c = config("memory://path/to/directory/", json!({}));
        assert_eq!(c.backend(), Backend::Memory);
        assert_eq!(c.prefix(), "path/to/directory");
        assert!(Arc::ptr_eq(&memory_store(), &memory_store()));
        let c = config("file:///srv/flows/", json!({"auto_mkdir": true}));
        assert_eq!(c.backend(), Backend::Local);
        assert_eq!(c.prefix(), "srv/flows");
        assert_eq!(c.ignored, ["auto_mkdir"]);
        let err =
            ObjectStoreConfig::from_storage("file://server/srv", &IndexMap::new()).unwrap_err();
        assert!(err.to_string().contains("file:///path"), "{err}");
        let c = config("http://127.0.0.1:8000/code", json!({}));
        assert_eq!(c.backend(), Backend::Http);
        assert_eq!(c.prefix(), "code");
        assert_eq!(c.option("allow_http").unwrap().expose(), "true");
        c.build().unwrap();
    }

    #[test]
    fn unsupported_schemes_name_the_scheme_and_the_alternatives() {
        for url in [
            "ftp://example.com/flows",
            "sftp://h/x",
            "hdfs://nn/x",
            "github://org:repo@/",
        ] {
            let err = ObjectStoreConfig::from_storage(url, &IndexMap::new()).unwrap_err();
            assert!(matches!(err, StorageError::Unsupported { .. }), "{url}");
            let msg = err.to_string();
            let scheme = url.split(':').next().unwrap();
            assert!(msg.contains(&format!("'{scheme}://'")), "{msg}");
            assert!(msg.contains("s3://") && msg.contains("memory://"), "{msg}");
        }
    }
}
