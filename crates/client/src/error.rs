//! The client's error type: what went wrong, and whether the request may have reached the server.

use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

/// How much of an unexpected body an error shows.
pub const BODY_START_CHARS: usize = 200;

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
    #[error(
        "server error {status} on {method} {path} after {}: {body}",
        attempts_and_time(*.attempts, *.elapsed)
    )]
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
        /// The time from the first attempt to the last answer, waits between attempts included.
        elapsed: Duration,
    },
    /// The connection failed. `reached` tells whether the request may have reached the server
    /// (false when the connection could not be made at all); `kind` says what failed.
    #[error(
        "cannot reach the Prefect API at {url} ({method} {path}): {}: {cause}{}{}",
        kind.describe(url),
        retry_suffix(*.attempts, *.elapsed),
        reach_hint(*.reached)
    )]
    Transport {
        /// The API URL.
        url: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// Whether the request may have reached the server.
        reached: bool,
        /// What failed: refused, DNS, TLS, timeout, reset.
        kind: TransportErrorKind,
        /// The innermost cause's message (e.g. `Connection refused (os error 111)`).
        cause: String,
        /// How many attempts were made.
        attempts: u32,
        /// The time from the first attempt to the last failure, waits included.
        elapsed: Duration,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// No answer in time. The request may have reached the server.
    #[error(
        "no answer from the Prefect API within {} ({method} {path}) {}; raise \
         PREFECT_API_REQUEST_TIMEOUT or check the server",
        secs(Duration::from_secs_f64(*.seconds)),
        timeout_attempts(*.attempts, *.timeouts, *.elapsed)
    )]
    Timeout {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The per-attempt timeout in seconds.
        seconds: f64,
        /// How many attempts were made.
        attempts: u32,
        /// How many of them timed out.
        timeouts: u32,
        /// The time from the first attempt to the last timeout, waits included.
        elapsed: Duration,
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
    /// The server answered, but not as a Prefect API does: HTML (a proxy, a web page, a wrong
    /// URL), broken JSON, or JSON of the wrong shape. The request reached the server; the
    /// fault is the server's (or the URL's), not the input's.
    #[error(
        "unexpected response from the Prefect API to {method} {url}: status {status}, \
         content-type {}, {reason}; the body starts: {body_start}. Check that \
         PREFECT_API_URL points at a Prefect server's API (e.g. http://127.0.0.1:4200/api)",
        content_type.as_deref().unwrap_or("(none)")
    )]
    UnexpectedResponse {
        /// The request method.
        method: String,
        /// The full URL requested (the API URL never holds credentials).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header, when there was one.
        content_type: Option<String>,
        /// What was wrong with the body.
        reason: String,
        /// The body's first [`BODY_START_CHARS`] characters, control characters replaced.
        body_start: String,
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
            ClientError::Unauthorized { status, .. }
            | ClientError::Server { status, .. }
            | ClientError::UnexpectedResponse { status, .. } => Some(*status),
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

/// What kind of transport failure a request met, read from the error's source chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Nothing listens at the host and port.
    ConnectionRefused,
    /// The host name could not be resolved.
    Dns,
    /// The TLS handshake failed (e.g. an `https://` URL at a plain-HTTP server).
    Tls,
    /// Opening the connection took longer than the connect timeout.
    ConnectTimeout,
    /// The connection was closed or reset before a complete answer.
    ConnectionReset,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// Classifies `err` by walking its source chain (io error kinds first, then the messages
    /// of hyper and rustls, which have no public kind).
    pub(crate) fn of(err: &reqwest::Error) -> TransportErrorKind {
        use std::io::ErrorKind as Io;
        let mut tls = false;
        let mut dns = false;
        let mut closed = false;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    Io::ConnectionRefused => return TransportErrorKind::ConnectionRefused,
                    Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::BrokenPipe
                    | Io::UnexpectedEof => closed = true,
                    _ => {}
                }
            }
            let text = e.to_string().to_ascii_lowercase();
            tls |= [
                "tls",
                "certificate",
                "handshake",
                "invalidcontenttype",
                "corrupt message",
            ]
            .iter()
            .any(|w| text.contains(w));
            dns |= text.contains("dns error") || text.contains("failed to lookup address");
            closed |= text.contains("connection closed") || text.contains("incomplete message");
            source = e.source();
        }
        if dns {
            TransportErrorKind::Dns
        } else if tls {
            TransportErrorKind::Tls
        } else if err.is_connect() && err.is_timeout() {
            TransportErrorKind::ConnectTimeout
        } else if closed {
            TransportErrorKind::ConnectionReset
        } else {
            TransportErrorKind::Other
        }
    }

    /// A short name for logs: `connection refused`, `DNS`, `TLS`, …
    pub fn label(&self) -> &'static str {
        match self {
            TransportErrorKind::ConnectionRefused => "connection refused",
            TransportErrorKind::Dns => "DNS",
            TransportErrorKind::Tls => "TLS",
            TransportErrorKind::ConnectTimeout => "connect timeout",
            TransportErrorKind::ConnectionReset => "connection closed",
            TransportErrorKind::Other => "transport",
        }
    }

    fn describe(&self, url: &str) -> String {
        match self {
            TransportErrorKind::ConnectionRefused => {
                "connection refused (nothing listens at that host and port)".into()
            }
            TransportErrorKind::Dns => "the host name could not be resolved (DNS)".into(),
            TransportErrorKind::Tls if url.starts_with("https://") => {
                "the TLS handshake failed (the server may speak plain http: try an http:// URL)"
                    .into()
            }
            TransportErrorKind::Tls => "the TLS handshake failed".into(),
            TransportErrorKind::ConnectTimeout => {
                "the connection could not be opened in time".into()
            }
            TransportErrorKind::ConnectionReset => {
                "the connection was closed before a complete answer".into()
            }
            TransportErrorKind::Other => "the request could not be sent".into(),
        }
    }
}

/// The innermost message of an error's source chain (the OS's or the TLS library's words).
pub(crate) fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// A duration for a message: `0.2 s`, `4.1 s`, `67 s`.
pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

fn attempts_and_time(attempts: u32, elapsed: Duration) -> String {
    if attempts == 1 {
        format!("1 attempt ({})", secs(elapsed))
    } else {
        format!("{attempts} attempts ({} in all)", secs(elapsed))
    }
}

fn retry_suffix(attempts: u32, elapsed: Duration) -> String {
    if attempts <= 1 {
        String::new()
    } else {
        format!(" (after {attempts} attempts, {} in all)", secs(elapsed))
    }
}

fn timeout_attempts(attempts: u32, timeouts: u32, elapsed: Duration) -> String {
    match (attempts, timeouts) {
        (1, _) => "on its only attempt".to_owned(),
        (a, t) if a == t => format!("on any of {a} attempts ({} in all)", secs(elapsed)),
        (a, _) => format!("on the last of {a} attempts ({} in all)", secs(elapsed)),
    }
}

/// The start of a body for an error: at most [`BODY_START_CHARS`] characters, control
/// characters (newlines included) as spaces.
pub(crate) fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(BODY_START_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(BODY_START_CHARS).is_some() {
        out.push('…');
    }
    out
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
