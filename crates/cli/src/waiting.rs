//! Visible waiting: the client's "about to retry" events, shown where the user looks — the
//! progress bar's message while one is on screen, a stderr line otherwise — so a dead or
//! overloaded server never looks like a hung `prefab`.

use std::fmt::Write as _;
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// The bar retries are shown on (none: stderr lines).
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Shows retries on `bar` until [`clear_bar`] (a hidden bar: stderr lines).
pub(crate) fn show_on(bar: &ProgressBar) {
    *BAR.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        (!bar.is_hidden()).then(|| bar.clone());
}

/// Back to stderr lines.
pub(crate) fn clear_bar() {
    *BAR.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
}

/// The layer that turns retry events into messages.
pub(crate) struct RetryNotices;

impl<S: tracing::Subscriber> Layer<S> for RetryNotices {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let target = event.metadata().target();
        if !target.starts_with("prefab_client") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(wait_ms) = fields.wait_ms else {
            return;
        };
        let line = fields.describe(wait_ms);
        match &*BAR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(bar) => bar.set_message(line),
            None => eprintln!("{line}"),
        }
    }
}

#[derive(Default)]
struct Fields {
    wait_ms: Option<u64>,
    method: Option<String>,
    path: Option<String>,
    attempt: Option<u64>,
    max_attempts: Option<u64>,
    status: Option<u64>,
    reason: Option<String>,
    error: Option<String>,
    message: Option<String>,
}

impl Fields {
    fn describe(&self, wait_ms: u64) -> String {
        let mut line = String::from("retrying");
        if let (Some(m), Some(p)) = (&self.method, &self.path) {
            let _ = write!(line, " {m} {p}");
        }
        let _ = write!(line, " in {:.1} s", wait_ms as f64 / 1000.0);
        let why = self
            .reason
            .clone()
            .or_else(|| self.status.map(|s| format!("the server answered {s}")))
            .or_else(|| self.error.clone())
            .or_else(|| self.message.clone());
        if let Some(why) = why {
            let _ = write!(line, ": {why}");
        }
        match (self.attempt, self.max_attempts) {
            (Some(a), Some(m)) => {
                let _ = write!(line, " (attempt {a} of {m})");
            }
            (Some(a), None) => {
                let _ = write!(line, " (attempt {a})");
            }
            _ => {}
        }
        line
    }
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "wait_ms" => self.wait_ms = Some(value),
            "attempt" => self.attempt = Some(value),
            "max_attempts" => self.max_attempts = Some(value),
            "status" => self.status = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(v) = u64::try_from(value) {
            self.record_u64(field, v);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_text(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record_text(&mut self, field: &Field, value: String) {
        match field.name() {
            "method" => self.method = Some(value),
            "path" => self.path = Some(value),
            "reason" => self.reason = Some(value),
            "error" => self.error = Some(value),
            "message" => self.message = Some(value),
            "wait_ms" | "attempt" | "max_attempts" | "status" => {
                if let Ok(v) = value.parse() {
                    self.record_u64(field, v);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_line_says_what_why_and_which_attempt() {
        let f = Fields {
            wait_ms: Some(1600),
            method: Some("POST".into()),
            path: Some("/deployments/".into()),
            attempt: Some(2),
            max_attempts: Some(10),
            status: Some(503),
            ..Fields::default()
        };
        assert_eq!(
            f.describe(1600),
            "retrying POST /deployments/ in 1.6 s: the server answered 503 (attempt 2 of 10)"
        );
        let g = Fields {
            error: Some("connection refused".into()),
            ..Fields::default()
        };
        assert_eq!(g.describe(250), "retrying in 0.2 s: connection refused");
    }
}
