//! The client's error type: what went wrong, and whether the request may have reached the server.

use serde_json::Value;
use thiserror::Error;

/// One entry of Prefect's validation detail (pydantic's `exception_detail`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[non_exhaustive]
pub struct ValidationIssue {
    /// pydantic's error type, e.g. `value_error`, `extra_forbidden`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Where in the request: e.g. `["body", "schedules", 0, "schedule", "cron"]`.
    #[serde(default)]
    pub loc: Vec<Value>,
    /// The message.
    #[serde(default)]
    pub msg: String,
    /// The offending input, when the server echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

impl std::fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loc: Vec<String> = self
            .loc
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        write!(f, "{}: {}", loc.join("."), self.msg)
    }
}

/// An error from the Prefect API client.
///
/// Each variant documents whether the request may have reached the server
/// ([`ClientError::may_have_reached_server`]): a request that did not is always safe to send
/// again; one that may have is safe only if it is idempotent.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The object does not exist (404). The server received the request.
    #[error("{what} not found ({method} {path}){}", detail_suffix(.detail))]
    NotFound {
        /// What was looked for, e.g. "deployment".
        what: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The server's detail.
        detail: Option<String>,
    },
    /// The request conflicts with the server's state (409): a unique or foreign-key violation, or a
    /// parameter-schema violation on update. The server received the request and changed nothing.
    #[error("conflict on {method} {path}: {detail}")]
    Conflict {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The server's detail.
        detail: String,
    },
    /// The server refused the request body (400/422), with pydantic's structured detail. The
    /// server received the request and changed nothing.
    #[error("the server refused {method} {path}: {message}{}", issues_suffix(.issues))]
    Validation {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The server's message.
        message: String,
        /// Each problem, with its location in the body.
        issues: Vec<ValidationIssue>,
    },
    /// Missing or wrong credentials (401/403). The server received the request and did nothing.
    #[error(
        "unauthorized ({status}) on {method} {path}: set PREFECT_API_KEY (Prefect Cloud) or \
         PREFECT_API_AUTH_STRING (user:password, a server with basic auth) to valid credentials"
    )]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
    },
    /// The server does not offer this feature (e.g. SLAs on a Prefect OSS server). The server
    /// received the request and did nothing.
    #[error("{feature} is not supported by this Prefect server: {detail}")]
    NotSupported {
        /// The feature.
        feature: String,
        /// Why, or what to use instead.
        detail: String,
    },
    /// Any other error status (5xx, or a retryable status after the retries ran out). The
    /// request reached the server; whether it took effect is unknown for 500/502/504.
    #[error("server error {status} on {method} {path} after {attempts} attempt(s): {body}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The response body (truncated to 2 KiB).
        body: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The connection failed. `reached` tells whether the request may have reached the server
    /// (false when the connection could not be made at all).
    #[error("cannot reach the Prefect API at {url} ({method} {path}): {source}{}", reach_hint(*.reached))]
    Transport {
        /// The API URL.
        url: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// Whether the request may have reached the server.
        reached: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// No answer in time. The request may have reached the server.
    #[error(
        "no answer from the Prefect API within {seconds:.1}s ({method} {path}); raise the request timeout or check the server"
    )]
    Timeout {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The timeout in seconds.
        seconds: f64,
    },
    /// A client-side guard refused the input before sending anything.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidInput {
        /// Which input.
        field: String,
        /// The value given.
        value: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The configuration (environment or builder) is wrong.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The server answered with a body this client cannot read. The request reached the server.
    #[error("unexpected response to {method} {path}: {reason}; body: {body}")]
    Decode {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// What could not be read.
        reason: String,
        /// The body (truncated to 2 KiB).
        body: String,
    },
}

impl ClientError {
    /// Whether the request may have reached the server (and so may have taken effect).
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            ClientError::Transport { reached, .. } => *reached,
            ClientError::InvalidInput { .. } | ClientError::Config(_) => false,
            _ => true,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::NotFound { .. } => Some(404),
            ClientError::Conflict { .. } => Some(409),
            ClientError::Validation { .. } => Some(422),
            ClientError::Unauthorized { status, .. } | ClientError::Server { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True for [`ClientError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::NotFound { .. })
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

fn issues_suffix(issues: &[ValidationIssue]) -> String {
    issues.iter().map(|i| format!("\n  - {i}")).collect()
}

fn reach_hint(reached: bool) -> &'static str {
    if reached {
        ""
    } else {
        "; is the server running and PREFECT_API_URL right?"
    }
}

/// Truncates a body for an error message.
pub(crate) fn truncate(body: &str) -> String {
    const LIMIT: usize = 2048;
    if body.len() <= LIMIT {
        return body.to_owned();
    }
    let mut end = LIMIT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &body[..end], body.len())
}
