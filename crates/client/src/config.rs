//! Where the API is and how to talk to it: from the environment (as Prefect's own client reads
//! it) or built by hand.

use std::time::Duration;

use crate::Secret;
use crate::error::ClientError;
use crate::retry::RetryConfig;

/// The API URL when `PREFECT_API_URL` is unset (a local Prefect server's default).
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:4200/api";
/// The API version this client speaks (sent as `X-PREFECT-API-VERSION`, as Prefect 3.9.1 does).
pub const API_VERSION: &str = "0.8.4";

/// How requests authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (a local OSS server).
    #[default]
    None,
    /// `Authorization: Bearer <key>` (Prefect Cloud; `PREFECT_API_KEY`).
    ApiKey(Secret),
    /// `Authorization: Basic base64(user:password)` (an OSS server started with
    /// `PREFECT_SERVER_API_AUTH_STRING`; `PREFECT_API_AUTH_STRING`).
    Basic(Secret),
}

/// The client's configuration. `Debug` never shows credentials.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The API root, e.g. `http://127.0.0.1:4200/api` (no trailing slash).
    pub api_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Time allowed to open a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for one attempt of a request (default 60 s, Prefect's
    /// `PREFECT_API_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// Retries.
    pub retry: RetryConfig,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The most writes in flight at once (default 8). Below it the client adapts to the
    /// server: each 503 halves the writes it lets through, successes raise them again.
    pub max_concurrent_writes: usize,
}

impl ClientConfig {
    /// A configuration for `api_url` with no credentials and default timeouts and retries.
    pub fn new(api_url: impl Into<String>) -> Result<ClientConfig, ClientError> {
        let api_url = normalise_url(&api_url.into())?;
        Ok(ClientConfig {
            api_url,
            auth: Auth::None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryConfig::default(),
            user_agent: format!(
                "prefab/{} (+https://github.com/prefab-rs/prefab)",
                env!("CARGO_PKG_VERSION")
            ),
            max_concurrent_writes: 8,
        })
    }

    /// Reads the configuration from the environment, as Prefect's client does:
    /// `PREFECT_API_URL` (default [`DEFAULT_API_URL`]), `PREFECT_API_AUTH_STRING` (Basic auth;
    /// takes precedence), `PREFECT_API_KEY` (Bearer), `PREFECT_API_REQUEST_TIMEOUT` (seconds).
    pub fn from_env() -> Result<ClientConfig, ClientError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`Self::from_env`], reading variables through `lookup` (for tests and embedding).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ClientError> {
        let non_empty = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let url = non_empty("PREFECT_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let mut config = ClientConfig::new(url).map_err(|e| match e {
            ClientError::Config(msg) => ClientError::Config(format!("PREFECT_API_URL: {msg}")),
            other => other,
        })?;
        if let Some(auth) = non_empty("PREFECT_API_AUTH_STRING") {
            config.auth = Auth::Basic(Secret::new(auth));
        } else if let Some(key) = non_empty("PREFECT_API_KEY") {
            config.auth = Auth::ApiKey(Secret::new(key));
        }
        if let Some(t) = non_empty("PREFECT_API_REQUEST_TIMEOUT") {
            let secs: f64 = t.trim().parse().map_err(|_| {
                ClientError::Config(format!(
                    "PREFECT_API_REQUEST_TIMEOUT={t:?} is not a number of seconds"
                ))
            })?;
            if !(secs.is_finite() && secs > 0.0) {
                return Err(ClientError::Config(format!(
                    "PREFECT_API_REQUEST_TIMEOUT={t:?} must be positive"
                )));
            }
            config.request_timeout = Duration::from_secs_f64(secs);
        }
        Ok(config)
    }

    /// Sets the credentials.
    pub fn with_auth(mut self, auth: Auth) -> ClientConfig {
        self.auth = auth;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> ClientConfig {
        self.retry = retry;
        self
    }

    /// Sets the per-attempt request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.request_timeout = timeout;
        self
    }

    /// Sets the ceiling of concurrent writes (see [`ClientConfig::max_concurrent_writes`]).
    pub fn with_max_concurrent_writes(mut self, n: usize) -> ClientConfig {
        self.max_concurrent_writes = n.max(1);
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Whether the API is Prefect Cloud (SLAs and other Cloud features are available).
    pub fn is_cloud(&self) -> bool {
        self.api_url.starts_with("https://api.prefect.cloud/")
    }
}

fn normalise_url(url: &str) -> Result<String, ClientError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            ClientError::Config(format!(
                "{url:?} is not an http(s) URL (expected e.g. {DEFAULT_API_URL})"
            ))
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ClientError::Config(format!(
            "{url:?} has no host (expected e.g. {DEFAULT_API_URL})"
        )));
    }
    if rest.contains('@') {
        return Err(ClientError::Config(
            "credentials in the API URL are not supported: use PREFECT_API_AUTH_STRING or PREFECT_API_KEY".into(),
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| owned.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_and_precedence() {
        let c = ClientConfig::from_lookup(env(&[])).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.auth, Auth::None);
        let c = ClientConfig::from_lookup(env(&[
            ("PREFECT_API_URL", "http://localhost:4200/api/"),
            ("PREFECT_API_KEY", "pnu_key"),
            ("PREFECT_API_AUTH_STRING", "admin:pass"),
        ]))
        .unwrap();
        assert_eq!(c.api_url, "http://localhost:4200/api");
        assert_eq!(c.auth, Auth::Basic(Secret::new("admin:pass")));
        assert!(!format!("{c:?}").contains("pass"), "{c:?}");
        let c = ClientConfig::from_lookup(env(&[("PREFECT_API_KEY", "pnu_key")])).unwrap();
        assert_eq!(c.auth, Auth::ApiKey(Secret::new("pnu_key")));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e =
            ClientConfig::from_lookup(env(&[("PREFECT_API_URL", "localhost:4200")])).unwrap_err();
        assert!(e.to_string().contains("PREFECT_API_URL"), "{e}");
        let e =
            ClientConfig::from_lookup(env(&[("PREFECT_API_REQUEST_TIMEOUT", "soon")])).unwrap_err();
        assert!(e.to_string().contains("PREFECT_API_REQUEST_TIMEOUT"), "{e}");
        let e = ClientConfig::new("http://u:secret@host/api").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
