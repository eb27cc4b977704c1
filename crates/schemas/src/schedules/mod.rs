//! Deployment schedules — interval, cron and rrule — with Prefect 3.9.1's wire format,
//! validation rules and date generation.
//!
//! The three schedule bodies are plain values: build one with its constructor or deserialize it
//! from Prefect's JSON (which validates it exactly as Prefect's server models do), then ask for
//! its run dates with [`Schedule::dates`], whose contract is Prefect's `get_dates(n, start, end)`:
//!
//! * `start` is inclusive and defaults to now; `end` is inclusive and optional;
//! * `n` defaults to 1 without `end` and to [`MAX_ITERATIONS`] with it;
//! * every engine examines about [`MAX_ITERATIONS`] candidates at most, so a single call never
//!   returns more than about 1000 dates;
//! * dates are expressed in the schedule's time zone (UTC when it has none);
//! * dates lie between 0001-01-01T00:00Z (an earlier `start` is raised to it) and
//!   9999-12-30T22:00:00.999999Z, the last instant a [`jiff::Timestamp`] holds: near it the
//!   dates end early, never with a clamped date (docs/deviations.md S8).

pub mod cron;
mod interval;
pub mod rrule;
mod wire;
mod zone;

use std::fmt;

use jiff::Timestamp;
use jiff::tz::Offset;

pub use crate::ScheduleError;
pub use wire::{
    CronSchedule, DeploymentScheduleCreate, DeploymentScheduleUpdate, IntervalSchedule,
    RRuleSchedule, Schedule,
};
pub use zone::Zone;

use zone::MICROS;

/// The number of candidate dates each engine examines at most in one call (Prefect's
/// `MAX_ITERATIONS`).
pub const MAX_ITERATIONS: usize = 1000;

/// One run date: an instant, with the UTC offset the schedule's time zone has at that instant.
///
/// Ordered by instant. `Display` renders RFC 3339 the way Python's `isoformat()` does
/// (`2026-03-08T03:30:00-04:00`, fractional seconds only when non-zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScheduledTime {
    instant: i64,
    offset: i32,
}

impl ScheduledTime {
    pub(crate) fn from_parts(instant_micros: i64, offset_micros: i64) -> ScheduledTime {
        ScheduledTime {
            instant: instant_micros,
            offset: (offset_micros / MICROS) as i32,
        }
    }

    /// The instant.
    pub fn timestamp(&self) -> Timestamp {
        zone::to_timestamp(self.instant)
    }

    /// The UTC offset of the schedule's time zone at this instant.
    pub fn offset(&self) -> Offset {
        Offset::from_seconds(self.offset).unwrap_or(Offset::UTC)
    }

    /// The wall-clock time in the schedule's time zone.
    pub fn datetime(&self) -> jiff::civil::DateTime {
        self.offset().to_datetime(self.timestamp())
    }

    /// Microseconds since the Unix epoch.
    pub fn as_microsecond(&self) -> i64 {
        self.instant
    }

    /// The UTC offset in seconds.
    pub fn offset_seconds(&self) -> i32 {
        self.offset
    }
}

impl PartialOrd for ScheduledTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ScheduledTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.instant, self.offset).cmp(&(other.instant, other.offset))
    }
}

impl fmt::Display for ScheduledTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rfc3339(f, self.instant, self.offset)
    }
}

impl serde::Serialize for ScheduledTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Writes `instant` (µs) at `offset` (s) as Python's `isoformat()` would.
pub(crate) fn write_rfc3339(out: &mut impl fmt::Write, instant: i64, offset: i32) -> fmt::Result {
    let wall = instant + i64::from(offset) * MICROS;
    let secs = wall.div_euclid(MICROS);
    let micros = wall.rem_euclid(MICROS);
    let (y, mo, d) = zone::civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )?;
    if micros != 0 {
        write!(out, ".{micros:06}")?;
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    write!(out, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60)?;
    if !abs.is_multiple_of(60) {
        write!(out, ":{:02}", abs % 60)?;
    }
    Ok(())
}

/// Parses a date-time the way Prefect reads `start`, `end` and `anchor_date`: ISO 8601 / RFC 3339
/// with `T` or a space, an optional fraction and an optional offset — a date-time without an
/// offset is UTC, and a bare date is midnight UTC.
///
/// ```
/// let t = prefab_schemas::schedules::parse_timestamp("2026-03-08T02:30:00")?;
/// assert_eq!(t.to_string(), "2026-03-08T02:30:00Z");
/// # Ok::<(), prefab_schemas::ScheduleError>(())
/// ```
pub fn parse_timestamp(text: &str) -> Result<Timestamp, ScheduleError> {
    wire::parse_datetime(text)
        .map(|(instant, _)| zone::to_timestamp(instant))
        .map_err(|reason| ScheduleError::InvalidDateTime {
            value: text.to_owned(),
            reason,
        })
}

/// Seconds of an ISO 8601 duration (`PT15M`, `P1DT2H`, `-PT5S`), or of a plain number written as
/// text; `None` when the text is neither.
pub fn parse_duration_seconds(text: &str) -> Option<f64> {
    if let Ok(secs) = text.trim().parse::<f64>() {
        return Some(secs);
    }
    wire::parse_iso_duration(text).map(|micros| micros as f64 / MICROS as f64)
}

/// Resolves Prefect's `n` default: 1 without an end, [`MAX_ITERATIONS`] with one.
pub(crate) fn default_n(n: Option<usize>, end: Option<i64>) -> usize {
    n.unwrap_or(if end.is_some() { MAX_ITERATIONS } else { 1 })
}

/// The current instant in µs.
pub(crate) fn now_micros() -> i64 {
    Timestamp::now().as_microsecond()
}
