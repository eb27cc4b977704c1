//! The crate's error type.

use thiserror::Error;

/// What went wrong while validating a schedule or computing its dates.
///
/// Every message names the field and the value that was refused, and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A cron expression that croniter (Prefect's cron dialect) does not accept.
    #[error(
        "invalid cron string {expr:?}: {reason}; expected 5 fields (minute hour day-of-month \
         month day-of-week), optionally a 6th (second) and 7th (year), or a macro such as @daily"
    )]
    InvalidCron {
        /// The expression as given.
        expr: String,
        /// Which part was wrong.
        reason: String,
    },
    /// A random (`R`, `R/5`, `R(0-30)`) or hashed (`H…`) cron field. Prefect refuses a bare
    /// `R` and every `H` form, but accepts the other random forms, whose dates croniter draws
    /// anew on every computation (docs/deviations.md S9).
    #[error("invalid cron string {expr:?}: the {field} field {value:?} {reason}")]
    UnsupportedCron {
        /// The expression as given.
        expr: String,
        /// The field's name (`minute`, `hour`, …).
        field: String,
        /// The field as given.
        value: String,
        /// Why it is refused and what to write instead.
        reason: String,
    },
    /// A cron expression that is valid but can never fire (e.g. `0 0 31 2 *`).
    #[error(
        "cron string {expr:?} never fires: no matching date within 50 years of {after} \
         (check the day-of-month against the month)"
    )]
    CronNeverFires {
        /// The expression as given.
        expr: String,
        /// The wall-clock time the search started from.
        after: String,
    },
    /// A time zone name that is not in the IANA tz database (names are case-sensitive).
    #[error(
        "invalid timezone {value:?}: specify an IANA tz database name, for example \
         America/New_York or UTC (names are case-sensitive)"
    )]
    InvalidTimezone {
        /// The name as given.
        value: String,
    },
    /// An interval that is not a positive duration.
    #[error("invalid interval {value}: {reason}")]
    InvalidInterval {
        /// The value as given.
        value: String,
        /// Why it was refused and what to give instead.
        reason: String,
    },
    /// An anchor date that is not an RFC 3339 / ISO 8601 date-time.
    #[error(
        "invalid anchor_date {value:?}: {reason}; expected an RFC 3339 date-time such as \
         2026-01-01T09:00:00-05:00 (a date-time without an offset is read as UTC, as Prefect does)"
    )]
    InvalidAnchorDate {
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A date-time (a start, an end) that is not ISO 8601.
    #[error(
        "invalid date-time {value:?}: {reason}; expected RFC 3339 such as \
         2026-03-08T09:00:00-05:00 (without an offset the time is read as UTC, as Prefect does)"
    )]
    InvalidDateTime {
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An RRULE string that the RFC 5545 / dateutil grammar does not accept.
    #[error("invalid rrule string {rrule:?}: {reason}")]
    InvalidRRule {
        /// The string as given.
        rrule: String,
        /// Which part was wrong and how to fix it.
        reason: String,
    },
    /// An RRULE string longer than Prefect's limit of 6500 characters.
    #[error(
        "rrule string is {len} characters long; Prefect's maximum is 6500 \
         (split the rule, or use fewer RDATE/EXDATE values)"
    )]
    RRuleTooLong {
        /// The string's length in characters.
        len: usize,
    },
    /// A schedule body that is not one of Prefect's three kinds, or has unknown keys.
    #[error("invalid schedule: {reason}")]
    InvalidSchedule {
        /// What was wrong with the body.
        reason: String,
    },
}
