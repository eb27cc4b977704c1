//! Cron schedules in croniter's dialect (the one Prefect 3.9.1 vendors), with Prefect's DST rules.
//!
//! Parsing follows `croniter.is_valid` plus Prefect's refusal of `R`/`H` fields; date
//! generation follows `CronSchedule._get_dates_whenever` on top of croniter's own search, quirks
//! included (schedules.md §5). Three layers:
//!
//! * `parse` compiles an expression to one bitmask per field;
//! * `next` is croniter's forward search on naive wall-clock seconds;
//! * `cron_dates` (here) turns wall times into instants with Prefect's DST look-around.
//!
//! croniter behaviours kept on purpose, because Prefect's dates depend on them (schedules.md §5):
//!
//! * a range with equal bounds (`5-5`, `SUN-SUN`, `0-7`) is the whole field, step included;
//! * weekday 7 is Sunday only with 5 fields, and day 0 is day 1 only with 6 fields (both are
//!   out of range otherwise); month 0 is always refused;
//! * a field listing every value becomes `*`, except a day field when the other day field's
//!   text has no `*` (so `* * 1-31 * mon` with day_or fires every day);
//! * `#k` / `L<d>` entries decide the day of week on their own: other weekdays in the list
//!   are ignored, and with day_or croniter's day-of-month search applies them too (so
//!   `0 0 1 * fri#3`, whose 1st is never a third Friday, fails);
//! * with day_or, the day-of-month and day-of-week searches run separately and the earlier
//!   wins — but if either finds nothing within 50 years, the whole step fails;
//! * croniter's day-of-month step can jump over the first days of the next month (`1,30`
//!   from 3 February gives 30 March), and prefers a listed day past the month's end over `L`;
//! * numbers follow Python: Unicode decimal digits count, more than 4300 digits do not.

mod next;
mod parse;
#[cfg(test)]
mod tests;
mod unicode;

use std::fmt;
use std::str::FromStr;

use crate::schedules::MAX_ITERATIONS;
use crate::schedules::ScheduleError;
use crate::schedules::zone::{LAST_INSTANT, MICROS, Zone, civil_from_days};

use next::{Cursor, Stop};
use parse::{Field, Refusal, Spec};

/// A cron expression Prefect accepts, compiled for fast date generation.
///
/// The dialect is croniter's: 5 fields (`minute hour day-of-month month day-of-week`), 6 with
/// seconds **last**, 7 with seconds then a year (1970–2099); macros (`@hourly`, `@daily`,
/// `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`); month and weekday names; lists,
/// ranges (wrapping around, like `FRI-MON`), steps; `L` (last day of the month) in the
/// day-of-month field; `L<d>` (last `<d>`-day) and `<d>#<k>` (`k`-th `<d>`-day) in the
/// day-of-week field; `?` for a whole day field.
///
/// ```
/// use prefab_schemas::schedules::cron::CronExpr;
///
/// let expr = CronExpr::parse("*/15 9-17 * * mon-fri")?;
/// assert_eq!(expr.as_str(), "*/15 9-17 * * mon-fri");
/// assert!(CronExpr::parse("* 24 * * *").is_err());
/// # Ok::<(), prefab_schemas::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    spec: Spec,
}

impl CronExpr {
    /// Parses an expression with Prefect's validation rules (`validate_cron_string`): what
    /// `croniter.is_valid` accepts, except random (`R`) fields.
    ///
    /// Prefect accepts random forms other than a bare `R` (`R/5`, `R(0-30)`, `r/5`), but
    /// croniter draws their value anew on every `get_dates` call, so their dates are random;
    /// they are refused here too, with the field named and a fixed value suggested
    /// (docs/deviations.md S9).
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidCron`] naming the offending field and value, or
    /// [`ScheduleError::UnsupportedCron`] for random (`R`) and hashed (`H`) fields.
    pub fn parse(expr: &str) -> Result<CronExpr, ScheduleError> {
        match parse::compile(expr) {
            Ok(spec) => Ok(CronExpr {
                source: expr.to_owned(),
                spec,
            }),
            Err(Refusal::Invalid(reason)) => Err(ScheduleError::InvalidCron {
                expr: expr.to_owned(),
                reason,
            }),
            Err(Refusal::Unsupported { field, hashed }) => Err(unsupported(expr, field, hashed)),
        }
    }

    /// The expression as it was given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// The error for a random (`R…`) or hashed (`H…`) field, naming it and what to write instead.
fn unsupported(expr: &str, field: Field, hashed: bool) -> ScheduleError {
    let index = Field::ALL.iter().position(|&f| f == field).unwrap_or(0);
    let value = expr.split_whitespace().nth(index).unwrap_or_default();
    let lower = value.to_ascii_lowercase();
    let rest = lower.get(1..).unwrap_or_default();
    let (bounds, divisor) = match rest.split_once('/') {
        Some((b, d)) => (b, Some(d)),
        None => (rest, None),
    };
    let bounds = bounds
        .strip_prefix('(')
        .and_then(|b| b.strip_suffix(')'))
        .and_then(|b| b.split_once('-'));
    let lo = field.range().0.to_string();
    let suggestion = match (bounds, divisor) {
        (Some((a, b)), Some(d)) => format!("\"{a}-{b}/{d}\""),
        (Some((a, _)), None) => format!("\"{a}\""),
        (None, Some(d)) => format!("\"{lo}/{d}\""),
        (None, None) => format!("\"{lo}\""),
    };
    let reason = if hashed {
        format!(
            "is hashed: croniter computes it only from a hash id, which Prefect never passes, \
             so Prefect refuses it too; write the value instead, e.g. {suggestion}"
        )
    } else {
        format!(
            "is random: croniter draws a new value each time Prefect computes dates (on every \
             scheduler pass), so the runs would follow no fixed schedule; pick the value \
             yourself, e.g. {suggestion} (docs/deviations.md S9)"
        )
    };
    ScheduleError::UnsupportedCron {
        expr: expr.to_owned(),
        field: field.name().to_owned(),
        value: value.to_owned(),
        reason,
    }
}

impl FromStr for CronExpr {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CronExpr::parse(s)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Prefect reads at most `MAX_ITERATIONS + 2` candidates (`islice(candidates, MAX_ITERATIONS + 2)`).
const MAX_CANDIDATES: usize = MAX_ITERATIONS + 2;

/// Run dates (instants, µs since the epoch) of `expr` per Prefect's `_get_dates_whenever`, in the
/// order Prefect yields them (not always sorted: a wall time in a DST gap lands after the
/// wall times that follow the gap).
///
/// * `start` is inclusive, `end` inclusive; at most `n` dates, from at most 1002 candidates.
/// * Wall times are resolved "compatibly": the earlier instant in a fold, shifted forward by
///   the gap in a gap; an instant is returned once.
/// * A start inside a fold skips the repeated wall times; a start just after a spring-forward
///   also considers the wall times that fell into the gap (schedules.md §5).
///
/// # Errors
///
/// [`ScheduleError::CronNeverFires`] where croniter finds no match within 50 years of the
/// candidate it is looking for (Prefect raises `CroniterBadDateError` then, even after dates
/// were found).
///
/// Near the end of representable time ([`LAST_INSTANT`], 9999-12-30T22:00Z) the dates end with
/// the last one before it — fewer than `n`, possibly none — where croniter fails with an
/// overflow (docs/deviations.md S8).
// `Schedule::dates` calls this once the wire layer lands; until then only the tests do.
pub(crate) fn cron_dates(
    expr: &CronExpr,
    day_or: bool,
    zone: &Zone,
    start: i64,
    end: Option<i64>,
    n: usize,
) -> Result<Vec<i64>, ScheduleError> {
    let spec = &expr.spec;
    let sub_second = start.rem_euclid(MICROS) != 0;
    // croniter yields times strictly after its start, so Prefect starts it a second early —
    // or at the start itself when that has microseconds (croniter floors them away).
    let wall = zone.to_wall(start);
    let mut naive = if sub_second {
        wall
    } else {
        wall.saturating_sub(MICROS)
    };

    // whenever's `(start + 1 s).prev_transition()` searches whole seconds strictly before the
    // ceiling of its argument: the last transition at or before `start` rounded up.
    let ceil = start
        .div_euclid(MICROS)
        .saturating_add(i64::from(sub_second))
        .saturating_mul(MICROS);
    let mut lookback = None;
    if let Some(t) = zone.transition_before(ceil) {
        let gap = t.after - t.before;
        let since = start.saturating_sub(t.at);
        if (0..-gap).contains(&since) {
            // Inside the repeated hour: start croniter after the fold's last wall time.
            naive = t.at + t.before - MICROS;
        } else if (0..gap).contains(&since) {
            // Just after a gap: a second croniter, one gap earlier, contributes the wall times
            // inside the gap (they resolve to instants after the transition).
            lookback = Some((naive - gap, t.at + t.after));
        }
    }

    let never = |cursor: &Cursor<'_>| ScheduleError::CronNeverFires {
        expr: expr.source.clone(),
        after: wall_string(cursor.position()),
    };
    // The next instant of a cursor; `None` once no candidate is left before the end of
    // representable time (a wall clock past year 9999, or an instant past `LAST_INSTANT`).
    let pull = |cursor: &mut Cursor<'_>| -> Result<Option<i64>, ScheduleError> {
        match cursor.next() {
            Ok(w) => {
                let instant = zone.localize(w.saturating_mul(MICROS));
                Ok((instant <= LAST_INSTANT).then_some(instant))
            }
            Err(Stop::EndOfTime) => Ok(None),
            Err(Stop::NeverFires) => Err(never(cursor)),
        }
    };
    let mut main = Cursor::new(spec, day_or, naive);
    // `heapq.merge` takes the lookback's first value, then the main one; after yielding a value
    // it takes the next one from the same source only when asked for another candidate.
    let mut look = lookback.map(|(w, gap_end)| (Cursor::new(spec, day_or, w), gap_end));
    // The lookback ends where its wall time reaches the end of the gap (Prefect's
    // `takewhile(wall < gap_end)`).
    let pull_lookback = |look: &mut Option<(Cursor<'_>, i64)>| match look {
        Some((cursor, gap_end)) => {
            let gap_end = *gap_end;
            match cursor.next() {
                Ok(w) if w.saturating_mul(MICROS) < gap_end => {
                    let instant = zone.localize(w.saturating_mul(MICROS));
                    Ok((instant <= LAST_INSTANT).then_some(instant))
                }
                Ok(_) | Err(Stop::EndOfTime) => Ok(None),
                Err(Stop::NeverFires) => Err(never(cursor)),
            }
        }
        None => Ok(None),
    };
    let mut look_head = pull_lookback(&mut look)?;
    let mut main_head = pull(&mut main)?;

    let mut out = Vec::with_capacity(n.min(MAX_CANDIDATES));
    let mut latest = i64::MIN;
    for taken in 1..=MAX_CANDIDATES {
        let (instant, from_look) = match (look_head, main_head) {
            (Some(l), Some(m)) if l <= m => (l, true),
            (Some(l), None) => (l, true),
            (_, Some(m)) => (m, false),
            (None, None) => break,
        };
        if end.is_some_and(|end| instant > end) {
            break;
        }
        // Candidates are almost always increasing; only wall times in a gap come out of order.
        if instant >= start && (instant > latest || !out.contains(&instant)) {
            out.push(instant);
            latest = latest.max(instant);
        }
        if out.len() >= n || taken == MAX_CANDIDATES {
            break;
        }
        if from_look {
            look_head = pull_lookback(&mut look)?;
        } else {
            main_head = pull(&mut main)?;
        }
    }
    Ok(out)
}

/// A wall-clock time (seconds) as `YYYY-MM-DDTHH:MM:SS`.
fn wall_string(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}
