//! The concurrency of a bulk apply: fixed, or adapted to what the server absorbs.
//!
//! The adaptive limit is AIMD with a throughput check. It starts at one deployment in flight
//! and measures deployments per second over a window of completions; after each window it tries
//! one slot more, and keeps it only when the next window is at least [`GAIN`] faster (a
//! CPU-bound server stops gaining at 2-4: more only queues). A server that turns requests away
//! for being busy (`503`/`429`, or a connection it dropped — a SQLite-backed Prefect server does
//! both under concurrent writes) in a storm — at least [`STORM`] busy answers and one per two
//! completions of the window — halves the limit at once. Fewer busy answers are left to the
//! throughput check: they are cheap (an immediate answer, retried), and on a SQLite-backed
//! server 2-4 deployments at once were still faster than one despite a 503 per 4-10
//! deployments (the reads and the client's work overlap the writes). Each step back (a storm,
//! or a slot that did not pay) holds the limit for twice as many completions as the last before
//! probing again, so a server that cannot take more is probed a handful of times per run.
//! A window starts only once the deployments in flight at the last change have finished, so
//! it measures the new limit and not the ramp to it.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

/// How many deployments a bulk apply ([`apply_all`](super::apply_all)) runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Concurrency {
    /// Adapted during the run, between 1 and [`MAX_AUTO_CONCURRENCY`]: grows while more at
    /// once raises throughput, halves when the server says it is busy. Close to the best fixed
    /// setting on a SQLite-backed server (which takes one writer at a time) and on a
    /// PostgreSQL-backed one (which gains a little from 2-4) without knowing which it is.
    #[default]
    Auto,
    /// Exactly this many at once (at least 1).
    Fixed(usize),
}

/// The most deployments [`Concurrency::Auto`] runs at once.
pub const MAX_AUTO_CONCURRENCY: usize = 8;

impl Concurrency {
    /// `n` at once (0 counts as 1).
    pub fn fixed(n: usize) -> Concurrency {
        Concurrency::Fixed(n.max(1))
    }

    /// The fixed number, or `None` for [`Concurrency::Auto`].
    pub fn as_fixed(self) -> Option<usize> {
        match self {
            Concurrency::Fixed(n) => Some(n.max(1)),
            Concurrency::Auto => None,
        }
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Auto => f.write_str("auto"),
            Concurrency::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// Why a [`Concurrency`] did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a concurrency: give `auto` or a whole number, 1 or more")]
pub struct ParseConcurrencyError {
    input: String,
}

impl FromStr for Concurrency {
    type Err = ParseConcurrencyError;

    /// `auto`, or a whole number of at least 1.
    fn from_str(s: &str) -> Result<Concurrency, ParseConcurrencyError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Concurrency::Auto);
        }
        match t.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Concurrency::Fixed(n)),
            _ => Err(ParseConcurrencyError {
                input: s.to_owned(),
            }),
        }
    }
}

/// How much faster a window with one slot more must be for the slot to stay (5 %: less is
/// within the noise of a shared machine, and a slot that does not pay only adds queueing and
/// lock contention).
pub(crate) const GAIN: f64 = 0.05;

/// Completions a window measures at least (and at least three times the limit): fewer are
/// too noisy on a shared machine.
const MIN_WINDOW: usize = 12;

/// Busy answers in one window that make a storm, at least (and at least one per two
/// completions).
pub(crate) const STORM: u64 = 3;

/// The first hold after a step back, in completions; each further step back doubles it, up to
/// [`MAX_HOLD`].
const FIRST_HOLD: usize = 16;
const MAX_HOLD: usize = 512;

/// Why the limit changed, for the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// One slot more, to see whether it pays.
    Probe,
    /// The slot tried last did not raise throughput by [`GAIN`]: back to where it was.
    NoGain,
    /// The server turned requests away in a storm: halved.
    Busy,
}

/// The limit of a run: fixed, or AIMD as the module describes. Pure arithmetic: the caller
/// reports each completion with its time, and reads [`Limiter::limit`] before starting more.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    limit: usize,
    max: usize,
    adaptive: bool,
    /// When the current window started, and how many completions it has counted.
    window_started: Option<Instant>,
    window_done: usize,
    /// Busy answers met during the current window.
    window_busy: u64,
    /// Throughput measured at `limit - 1` right before the last probe (deployments/s): the
    /// probe's window must beat it by [`GAIN`].
    rate_below: Option<f64>,
    /// Completions to wait before the next probe.
    hold: usize,
    /// The hold the next step back imposes.
    next_hold: usize,
    /// Completions still to come of deployments started before the last change of limit:
    /// their busy signals and timings belong to the old limit (a probe's window that counted
    /// them would measure the ramp from the old limit, and understate the new one).
    grace: usize,
}

impl Limiter {
    /// The limiter for `concurrency`, at `now`.
    pub(crate) fn new(concurrency: Concurrency, now: Instant) -> Limiter {
        let (limit, max, adaptive) = match concurrency.as_fixed() {
            Some(n) => (n, n, false),
            None => (1, MAX_AUTO_CONCURRENCY, true),
        };
        Limiter {
            limit,
            max,
            adaptive,
            window_started: Some(now),
            window_done: 0,
            window_busy: 0,
            rate_below: None,
            hold: 0,
            next_hold: FIRST_HOLD,
            grace: 0,
        }
    }

    /// How many deployments may be in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Records a deployment that finished at `now`: `busy` busy answers (503, 429, dropped
    /// connections) the client met since the last completion, `in_flight` the deployments
    /// still running. Returns the change of limit it made, if any.
    pub(crate) fn on_complete(
        &mut self,
        now: Instant,
        busy: u64,
        in_flight: usize,
    ) -> Option<Change> {
        if !self.adaptive {
            return None;
        }
        if self.grace > 0 {
            self.grace -= 1;
            if self.grace == 0 {
                self.restart_window(now);
            }
            return None;
        }
        self.window_busy += busy;
        self.window_done += 1;
        if self.window_busy >= STORM && self.window_busy * 2 >= self.window_done as u64 {
            self.limit = (self.limit / 2).max(1);
            self.step_back();
            self.grace = in_flight;
            self.restart_window(now);
            return Some(Change::Busy);
        }
        self.hold = self.hold.saturating_sub(1);
        if self.window_done < MIN_WINDOW.max(3 * self.limit) {
            return None;
        }
        let started = self.window_started.unwrap_or(now);
        let seconds = now.saturating_duration_since(started).as_secs_f64();
        let rate = self.window_done as f64 / seconds.max(1e-6);
        self.restart_window(now);
        if let Some(below) = self.rate_below.take()
            && rate < below * (1.0 + GAIN)
        {
            self.limit -= 1;
            self.step_back();
            self.grace = in_flight;
            return Some(Change::NoGain);
        }
        if self.hold == 0 && self.limit < self.max {
            self.rate_below = Some(rate);
            self.limit += 1;
            self.grace = in_flight;
            return Some(Change::Probe);
        }
        None
    }

    fn step_back(&mut self) {
        self.rate_below = None;
        self.hold = self.next_hold;
        self.next_hold = (self.next_hold * 2).min(MAX_HOLD);
    }

    fn restart_window(&mut self, now: Instant) {
        self.window_started = Some(now);
        self.window_done = 0;
        self.window_busy = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Feeds `n` completions spaced so that the run does `rate` deployments/s.
    fn feed(l: &mut Limiter, now: &mut Instant, n: usize, rate: f64) -> Vec<Change> {
        let mut changes = Vec::new();
        for _ in 0..n {
            *now += Duration::from_secs_f64(1.0 / rate);
            changes.extend(l.on_complete(*now, 0, l.limit() - 1));
        }
        changes
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!("auto".parse(), Ok(Concurrency::Auto));
        assert_eq!(" AUTO ".parse(), Ok(Concurrency::Auto));
        assert_eq!("4".parse(), Ok(Concurrency::Fixed(4)));
        assert!("0".parse::<Concurrency>().is_err());
        assert!("-1".parse::<Concurrency>().is_err());
        let e = "many".parse::<Concurrency>().unwrap_err().to_string();
        assert!(e.contains("\"many\"") && e.contains("auto"), "{e}");
        assert_eq!(Concurrency::Auto.to_string(), "auto");
        assert_eq!(Concurrency::fixed(0), Concurrency::Fixed(1));
        assert_eq!(Concurrency::default(), Concurrency::Auto);
    }

    #[test]
    fn fixed_never_moves() {
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Fixed(4), now);
        assert!(feed(&mut l, &mut now, 100, 50.0).is_empty());
        assert_eq!(l.on_complete(now, 10, 3), None);
        assert_eq!(l.limit(), 4);
    }

    #[test]
    fn grows_while_each_slot_pays_and_stops_at_the_cap() {
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Auto, now);
        assert_eq!(l.limit(), 1);
        // Throughput proportional to the limit: every probe pays.
        for _ in 0..200 {
            let rate = 10.0 * l.limit() as f64;
            feed(&mut l, &mut now, 1, rate);
        }
        assert_eq!(l.limit(), MAX_AUTO_CONCURRENCY);
    }

    #[test]
    fn a_slot_that_does_not_pay_is_given_back_and_held() {
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Auto, now);
        // 1 → 2 pays (+30 %), 2 → 3 does not (+2 %): the limit settles at 2.
        let rate = |k: usize| match k {
            1 => 50.0,
            2 => 65.0,
            _ => 66.0,
        };
        let mut changes = Vec::new();
        // Three windows, and the one completion at the probe to 3 that started at 2 (not
        // counted: it measures the ramp).
        for _ in 0..3 * MIN_WINDOW + 1 {
            let r = rate(l.limit());
            changes.extend(feed(&mut l, &mut now, 1, r));
        }
        assert_eq!(
            changes,
            [Change::Probe, Change::Probe, Change::NoGain],
            "{changes:?}"
        );
        assert_eq!(l.limit(), 2);
        // Held for FIRST_HOLD completions, then one more probe, given back again and held
        // twice as long.
        let mut later = Vec::new();
        for _ in 0..FIRST_HOLD + 2 * MIN_WINDOW {
            let r = rate(l.limit());
            later.extend(feed(&mut l, &mut now, 1, r));
        }
        assert_eq!(later, [Change::Probe, Change::NoGain], "{later:?}");
        assert_eq!(l.limit(), 2);
        assert_eq!(l.next_hold, 4 * FIRST_HOLD);
    }

    #[test]
    fn a_probe_window_leaves_out_what_started_before_it() {
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Auto, now);
        l.limit = 3;
        // A window at 3, then the probe to 4 with two deployments still in flight.
        let changes = feed(&mut l, &mut now, MIN_WINDOW, 30.0);
        assert_eq!(changes, [Change::Probe]);
        assert_eq!((l.limit(), l.grace), (4, 2));
        // Those two finish slowly (the ramp); the window then measures 4 at once, 20 % faster:
        // the slot stays. Counted in, the ramp would have made the window slower than 3's.
        now += Duration::from_secs(1);
        assert_eq!(l.on_complete(now, 0, 3), None);
        now += Duration::from_secs(1);
        assert_eq!(l.on_complete(now, 0, 3), None);
        let changes = feed(&mut l, &mut now, MIN_WINDOW, 36.0);
        assert_eq!(changes, [Change::Probe]);
        assert_eq!(l.limit(), 5);
    }

    #[test]
    fn a_busy_storm_halves_once_per_generation_and_holds() {
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Auto, now);
        l.limit = 6;
        now += Duration::from_millis(10);
        // A storm: STORM busy answers on the window's first completion. Five still in flight:
        // their completions belong to the old limit.
        assert_eq!(l.on_complete(now, STORM, 5), Some(Change::Busy));
        assert_eq!(l.limit(), 3);
        for _ in 0..5 {
            assert_eq!(l.on_complete(now, STORM, 2), None);
        }
        assert_eq!(l.limit(), 3);
        // The next storm halves again, down to 1 and no lower.
        assert_eq!(l.on_complete(now, 1, 2), None);
        assert_eq!(l.on_complete(now, 2, 2), Some(Change::Busy));
        assert_eq!(l.limit(), 1);
        for _ in 0..2 {
            l.on_complete(now, 0, 0);
        }
        assert_eq!(l.on_complete(now, STORM, 0), Some(Change::Busy));
        assert_eq!(l.limit(), 1);
        assert_eq!(l.on_complete(now, STORM, 0), Some(Change::Busy));
        assert_eq!(l.limit(), 1);
        // Each step back held twice as long as the last.
        assert_eq!(l.hold, 8 * FIRST_HOLD);
        // No probe before the hold is over.
        let changes = feed(&mut l, &mut now, 8 * FIRST_HOLD - 1, 50.0);
        assert!(changes.is_empty(), "{changes:?}");
        let changes = feed(&mut l, &mut now, MIN_WINDOW, 50.0);
        assert_eq!(changes, [Change::Probe]);
    }

    #[test]
    fn a_few_busy_answers_are_left_to_the_throughput_check() {
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Auto, now);
        l.limit = 2;
        // One busy answer per four completions, and throughput holds: no step back.
        for i in 0..10 * MIN_WINDOW {
            now += Duration::from_millis(20);
            let busy = u64::from(i % 4 == 0);
            assert_ne!(l.on_complete(now, busy, 1), Some(Change::Busy), "#{i}");
        }
    }

    #[test]
    fn a_server_that_storms_above_one_is_probed_rarely() {
        // Every completion above 1 meets STORM busy answers.
        let mut now = Instant::now();
        let mut l = Limiter::new(Concurrency::Auto, now);
        let mut probes = 0;
        for _ in 0..300 {
            now += Duration::from_millis(20);
            let busy = if l.limit() > 1 { STORM } else { 0 };
            if l.on_complete(now, busy, l.limit() - 1) == Some(Change::Probe) {
                probes += 1;
            }
        }
        assert!((3..=6).contains(&probes), "{probes} probes in 300");
        assert_eq!(l.limit(), 1);
    }
}
