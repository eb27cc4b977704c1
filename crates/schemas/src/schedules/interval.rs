//! Interval schedules: `anchor_date + k · interval`, with Prefect 3.9.1's calendar-day rules.
//!
//! Prefect (CPython ≤ 3.12, the pendulum path — the one its corpus and most servers run) splits
//! the interval into whole days `D` and remaining seconds `S`. Sub-day intervals step in exact
//! seconds; intervals with whole days add `D` calendar days (and `S` seconds) to the local wall
//! clock, then resolve the wall time the way pendulum does: a gap time is pushed forward by the
//! gap's length and *stays* normalised for every later occurrence, and a fold time takes the
//! later instant. Candidates are compared and de-duplicated by wall-clock time, because Python
//! compares two datetimes that share a tzinfo by their wall clocks (spec schedules.md §4).

use crate::schedules::zone::{DAY_MICROS, LAST_INSTANT, MAX_WALL, MICROS, Zone};

/// How the whole-day part steps: the number of candidates examined per call is bounded by
/// Prefect's `MAX_ITERATIONS` (1000) plus the two extra checks of its loop.
const MAX_ITERATIONS: usize = crate::schedules::MAX_ITERATIONS;

/// A point in the schedule's zone: its wall-clock time and its instant (both µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    wall: i64,
    instant: i64,
}

/// The interval split as Prefect splits it.
#[derive(Clone, Copy, Debug)]
struct Split {
    /// Whole days (`timedelta.days`).
    days: i64,
    /// The rest, in µs.
    rest: i64,
    /// The whole interval, in µs.
    total: i64,
}

impl Split {
    fn new(total: i64) -> Split {
        let days = total.div_euclid(DAY_MICROS);
        Split {
            days,
            rest: total - days * DAY_MICROS,
            total,
        }
    }
}

fn at_instant(zone: &Zone, instant: i64) -> Point {
    Point {
        wall: zone.to_wall(instant),
        instant,
    }
}

/// Past every date: where [`add`] lands when the sum would leave the representable range.
const BEYOND: Point = Point {
    wall: i64::MAX,
    instant: i64::MAX,
};

/// pendulum's `DateTime.add(days=, seconds=)`: with a day count the wall clock moves and is
/// re-resolved (gap → forward, fold → later); without one the instant moves.
///
/// Saturating: an interval of up to ~270,000 years is valid (Python's `timedelta` takes it) and the sums would overflow; a point past [`LAST_INSTANT`] (or a wall clock past
/// [`MAX_WALL`]) is [`BEYOND`], which ends the dates — never a clamped date, which would not be
/// on the schedule (docs/deviations.md S8).
fn add(zone: &Zone, p: Point, days: i64, micros: i64) -> Point {
    let instant = if days != 0 {
        let wall = p
            .wall
            .saturating_add(days.saturating_mul(DAY_MICROS))
            .saturating_add(micros);
        if wall > MAX_WALL {
            return BEYOND;
        }
        zone.localize_later(wall)
    } else {
        p.instant.saturating_add(micros)
    };
    if instant > LAST_INSTANT {
        return BEYOND;
    }
    at_instant(zone, instant)
}

/// The run dates of an interval schedule, as instants (µs), per Prefect's
/// `IntervalSchedule._get_dates_generator` (pendulum path).
pub(crate) fn interval_dates(
    interval: i64,
    anchor: i64,
    zone: &Zone,
    start: i64,
    end: Option<i64>,
    n: usize,
) -> Vec<i64> {
    let split = Split::new(interval);
    let anchor = at_instant(zone, anchor);
    let start = at_instant(zone, start);
    let end = end.map(|e| at_instant(zone, e));
    let pure_days = split.days != 0 && split.rest == 0;

    // `_jump(k)`: exact for pure seconds and pure days; mixed intervals jump in seconds.
    let jump = |k: i64| -> Point {
        if split.days == 0 || split.rest == 0 {
            add(
                zone,
                anchor,
                split.days.saturating_mul(k),
                split.rest.saturating_mul(k),
            )
        } else {
            add(zone, anchor, 0, split.total.saturating_mul(k))
        }
    };

    let mut offset: i64 = 0;
    let mut next = if start.wall >= anchor.wall && pure_days && zone.name() != "UTC" {
        seek_calendar_days(zone, anchor, start, split.days)
    } else {
        // Python: int((start - anchor).total_seconds() / interval.total_seconds()).
        let ratio = (start.instant - anchor.instant) as f64 / split.total as f64;
        offset = ratio.trunc() as i64;
        let mut p = jump(offset);
        while p.wall > start.wall {
            offset -= 1;
            p = jump(offset);
        }
        p
    };

    let before_anchor_days = start.wall < anchor.wall && pure_days;
    let mut step = |p: Point| -> Point {
        if before_anchor_days && offset < 0 {
            offset += 1;
            jump(offset)
        } else {
            add(zone, p, split.days, split.rest)
        }
    };

    while next.wall < start.wall {
        next = step(next);
    }

    let mut out: Vec<i64> = Vec::with_capacity(n.min(MAX_ITERATIONS + 2));
    let mut walls_max = i64::MIN;
    let mut walls: Vec<i64> = Vec::with_capacity(n.min(MAX_ITERATIONS + 2));
    let mut counter = 0usize;
    loop {
        if next.instant > LAST_INSTANT || end.is_some_and(|end| next.wall > end.wall) {
            break;
        }
        // Prefect de-duplicates with a set of datetimes that share one tzinfo, which Python
        // compares by wall clock: a second "01:30" in a fold is dropped (spec §4).
        if next.wall > walls_max || !walls.contains(&next.wall) {
            walls_max = walls_max.max(next.wall);
            walls.push(next.wall);
            out.push(next.instant);
        }
        if out.len() >= n || counter > MAX_ITERATIONS {
            break;
        }
        counter += 1;
        next = step(next);
    }
    out
}

/// Prefect's `_seek_calendar_interval` for pure whole-day intervals: jump from the anchor in
/// chunks that never cross a time-zone transition, so a wall time normalised at a gap is carried
/// forward exactly as step-by-step addition would carry it, without replaying every occurrence.
fn seek_calendar_days(zone: &Zone, anchor: Point, start: Point, days: i64) -> Point {
    let mut current = anchor;
    while current.instant < start.instant {
        let mut boundary = start;
        if let Some(t) = zone
            .transition_after(current.instant)
            .filter(|t| t.at < start.instant)
        {
            boundary = at_instant(zone, t.at);
        }
        let distance = local_day(boundary.wall) - local_day(current.wall);
        let count = (distance.div_euclid(days) - 1).max(1);
        current = add(zone, current, days * count, 0);
    }
    current
}

fn local_day(wall: i64) -> i64 {
    wall.div_euclid(DAY_MICROS)
}

/// Converts float seconds to µs the way `datetime.timedelta(seconds=x)` does (round half to
/// even at the microsecond).
pub(crate) fn seconds_to_micros(seconds: f64) -> Option<i64> {
    let micros = (seconds * MICROS as f64).round_ties_even();
    if micros.is_finite() && micros.abs() < 8.64e18 {
        Some(micros as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedules::zone::{to_timestamp, wall_from_fields};

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_microsecond()
    }

    /// A step whose sum passes the last instant ends the dates (`BEYOND`), in the instant path
    /// (sub-day) and in the calendar path (whole days); it used to come back as a wall clock
    /// read through a clamped timestamp — 9999-12-30T22:00Z, a date not on the schedule.
    #[test]
    fn a_step_past_the_last_instant_is_beyond() {
        let utc = Zone::utc();
        let p = at_instant(&utc, at("9999-12-30T00:00:00Z"));
        assert_eq!(add(&utc, p, 1, 0), BEYOND);
        assert_eq!(add(&utc, p, 0, DAY_MICROS), BEYOND);
        let last = add(&utc, p, 0, 22 * 3600 * MICROS);
        assert_eq!(
            to_timestamp(last.instant).to_string(),
            "9999-12-30T22:00:00Z"
        );
        // A wall clock past Python's datetime.max.
        let tokyo = Zone::get("Asia/Tokyo").unwrap();
        let p = at_instant(&tokyo, at("9999-12-30T12:00:00Z"));
        assert_eq!(add(&tokyo, p, 1, 0), BEYOND);
        assert_eq!(
            add(&tokyo, p, 0, 10 * 3600 * MICROS).wall,
            wall_from_fields(9999, 12, 31, 7, 0, 0)
        );
    }

    #[test]
    fn daily_dates_stop_at_the_last_day_in_range() {
        let ny = Zone::get("America/New_York").unwrap();
        // 01:00 EDT: the calendar keeps 01:00 local, which is 06:00Z in December.
        let anchor = at("2026-03-09T05:00:00Z");
        let start = at("9999-12-27T12:00:00Z");
        let got: Vec<String> = interval_dates(DAY_MICROS, anchor, &ny, start, None, 10)
            .into_iter()
            .map(|i| to_timestamp(i).to_string())
            .collect();
        assert_eq!(
            got,
            [
                "9999-12-28T06:00:00Z",
                "9999-12-29T06:00:00Z",
                "9999-12-30T06:00:00Z"
            ]
        );
    }
}
