//! Retry policy as data: how many attempts, how long to wait, with a seedable jitter so tests are
//! deterministic.

use std::sync::Mutex;
use std::time::Duration;

/// When and how often to retry a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt (default 10: a SQLite-backed server under concurrent
    /// writes answers 503 often, and a 503 means nothing was done, so retrying is safe).
    pub max_retries: u32,
    /// Of those, how many may follow a refused or timed-out connection (default 2, about a
    /// second in all: enough for a server that is restarting, short enough that a wrong
    /// `PREFECT_API_URL` or a stopped server is reported at once — Prefect's own client does
    /// not retry a refused connection at all).
    pub max_connect_retries: u32,
    /// Of those, how many may follow an attempt that got no answer within the request timeout
    /// (default 1, and only for requests safe to repeat). A server that did not answer in
    /// time once is likely to be as slow again: each such retry costs a whole timeout, so a
    /// request with timeout `T` gives up after about `2·T` rather than `11·T` plus backoff
    /// (Prefect's client retries a read timeout up to 5 times; docs/deviations.md C8).
    pub max_timeout_retries: u32,
    /// Waiting between attempts.
    pub backoff: BackoffConfig,
    /// Give up retrying once this much time has passed since the first attempt (default 120 s).
    pub retry_timeout: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 10,
            max_connect_retries: 2,
            max_timeout_retries: 1,
            backoff: BackoffConfig::default(),
            retry_timeout: Duration::from_secs(120),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> RetryConfig {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// Sets the number of retries.
    pub fn with_max_retries(mut self, n: u32) -> RetryConfig {
        self.max_retries = n;
        self
    }

    /// Sets how many retries may follow a connection that could not be made.
    pub fn with_max_connect_retries(mut self, n: u32) -> RetryConfig {
        self.max_connect_retries = n;
        self
    }

    /// Sets how many retries may follow an attempt that timed out.
    pub fn with_max_timeout_retries(mut self, n: u32) -> RetryConfig {
        self.max_timeout_retries = n;
        self
    }

    /// Sets the backoff.
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> RetryConfig {
        self.backoff = backoff;
        self
    }
}

/// Exponential backoff with full jitter: attempt `k` waits a random duration in
/// `[cap/2, cap]` with `cap = min(max, init · base^k)` ("equal jitter": spread out, but never
/// a zero wait). A `Retry-After` from the server takes precedence.
#[derive(Debug)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The first wait's upper bound (default 200 ms).
    pub init: Duration,
    /// The largest wait (default 10 s).
    pub max: Duration,
    /// Growth per attempt (default 2).
    pub base: f64,
    rng: Mutex<u64>,
}

impl Clone for BackoffConfig {
    fn clone(&self) -> Self {
        let state = *self.rng.lock().unwrap_or_else(|e| e.into_inner());
        BackoffConfig {
            init: self.init,
            max: self.max,
            base: self.base,
            rng: Mutex::new(state),
        }
    }
}

impl Default for BackoffConfig {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        BackoffConfig::new(Duration::from_millis(200), Duration::from_secs(10), 2.0).with_seed(seed)
    }
}

impl BackoffConfig {
    /// A backoff with these bounds (jitter seeded from the clock; see [`Self::with_seed`]).
    pub fn new(init: Duration, max: Duration, base: f64) -> BackoffConfig {
        BackoffConfig {
            init,
            max,
            base,
            rng: Mutex::new(0x2545_F491_4F6C_DD1D),
        }
    }

    /// Seeds the jitter, making the sequence of waits reproducible.
    pub fn with_seed(self, seed: u64) -> BackoffConfig {
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) = seed | 1;
        self
    }

    /// The wait before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self.init.as_secs_f64() * self.base.powi(attempt.min(64) as i32);
        let cap = cap.min(self.max.as_secs_f64());
        let fraction = {
            let mut state = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            // xorshift64*: small, fast, and enough for jitter.
            let mut x = *state;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            *state = x;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        };
        Duration::from_secs_f64(cap * (0.5 + 0.5 * fraction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_jitter_is_reproducible_and_bounded() {
        let a = BackoffConfig::new(Duration::from_millis(100), Duration::from_secs(1), 2.0)
            .with_seed(7);
        let b = BackoffConfig::new(Duration::from_millis(100), Duration::from_secs(1), 2.0)
            .with_seed(7);
        for k in 0..10 {
            let (x, y) = (a.delay(k), b.delay(k));
            assert_eq!(x, y);
            assert!(x <= Duration::from_secs(1));
            assert!(x.as_secs_f64() <= 0.1 * 2f64.powi(k as i32) + 1e-9);
        }
    }
}
