//! Time zones as Prefect's scheduler sees them: IANA names, Prefect's validation rules, and a
//! fast wall-clock ⇄ instant mapping with Prefect's disambiguation ("compatible": the earlier
//! instant in a fold, a forward shift by the gap's length in a gap).
//!
//! Instants and wall-clock times are plain `i64` counts of microseconds (instants since the Unix
//! epoch in UTC, wall-clock times since 1970-01-01T00:00 on the local clock). Engines work in
//! these units because they are cheap to compare and to step; the public API converts to
//! `jiff` types at the edge.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::schedules::ScheduleError;

/// Microseconds in one second.
pub(crate) const MICROS: i64 = 1_000_000;
/// Microseconds in one day.
pub(crate) const DAY_MICROS: i64 = 86_400 * MICROS;

/// The last instant a run date can have: 9999-12-30T22:00:00.999999Z, `jiff::Timestamp::MAX`
/// at microsecond precision (the last instant whose wall clock exists at every UTC offset up to
/// ±26 h). [`ScheduledTime::timestamp`](crate::schedules::ScheduledTime::timestamp) cannot hold a
/// later one, so every engine stops before it; Python's `datetime.max` (a wall clock) lies up to
/// 26 hours later (docs/deviations.md S8).
pub(crate) const LAST_INSTANT: i64 =
    (days_from_civil(9999, 12, 30) * 86_400 + 22 * 3600) * MICROS + (MICROS - 1);

/// The first instant a run date can have: 0001-01-01T00:00:00Z, Python's `datetime.min` read as
/// UTC (Prefect reads a naive start as UTC). An earlier `start` is raised to it.
pub(crate) const FIRST_INSTANT: i64 = days_from_civil(1, 1, 1) * DAY_MICROS;

/// Python's `datetime.max` (9999-12-31 23:59:59.999999) as a wall-clock time (µs): no wall
/// clock lies beyond it.
pub(crate) const MAX_WALL: i64 = days_from_civil(10000, 1, 1) * DAY_MICROS - 1;

/// A validated time zone of a schedule.
///
/// Cheap to clone (the rules are shared), `Send` and `Sync`. Each thread remembers the last
/// offset span it resolved for a zone, so mapping a run of nearby wall-clock times costs a
/// comparison each, not a search.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
    /// Identifies this zone's rules in the per-thread span cache (clones share it).
    id: u64,
}

/// Ids for the span cache; 0 means "nothing cached".
static NEXT_ZONE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The last span of constant offset resolved on this thread, and the zone it belongs to.
    static SPAN_CACHE: Cell<(u64, Span)> = const { Cell::new((0, EMPTY_SPAN)) };
}

#[derive(Clone, Copy, Debug)]
struct Span {
    /// First instant (µs) of the span.
    start: i64,
    /// First instant (µs) after the span.
    end: i64,
    /// Offset in force inside the span, in µs.
    offset: i64,
    /// Wall-clock (µs) range inside which the span's offset maps wall times one-to-one, with no
    /// fold or gap involved: `[wall_lo, wall_hi)`.
    wall_lo: i64,
    wall_hi: i64,
}

const EMPTY_SPAN: Span = Span {
    start: 0,
    end: 0,
    offset: 0,
    wall_lo: 0,
    wall_hi: 0,
};

/// A change of UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    /// The first instant (µs) with the new offset.
    pub at: i64,
    /// Offset (µs) before the transition.
    pub before: i64,
    /// Offset (µs) from the transition on.
    pub after: i64,
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Zone").field(&self.name).finish()
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Zone {}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone::from_parts("UTC".to_owned(), TimeZone::UTC)
    }

    /// Looks up an IANA zone name the way Prefect's interval and cron schedules validate it:
    /// the exact (case-sensitive) name of a zone in the tz database. `""` means UTC, as Prefect
    /// treats it when computing dates.
    pub fn get(name: &str) -> Result<Zone, ScheduleError> {
        if name.is_empty() {
            return Ok(Zone::from_parts(String::new(), TimeZone::UTC));
        }
        let invalid = || ScheduleError::InvalidTimezone {
            value: name.to_owned(),
        };
        // jiff's lookup is case-insensitive; Prefect (zoneinfo.available_timezones) is not.
        let tz = TimeZone::get(name).map_err(|_| invalid())?;
        match tz.iana_name() {
            Some(found) if found == name => Ok(Zone::from_parts(name.to_owned(), tz)),
            _ => Err(invalid()),
        }
    }

    fn from_parts(name: String, tz: TimeZone) -> Zone {
        Zone {
            name,
            tz,
            id: NEXT_ZONE_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The span cached on this thread for this zone (an empty span if none).
    #[inline]
    fn cached_span(&self) -> Span {
        SPAN_CACHE.with(|c| {
            let (id, span) = c.get();
            if id == self.id { span } else { EMPTY_SPAN }
        })
    }

    /// The zone's name as the schedule gave it (`""` for an empty timezone, treated as UTC).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The underlying `jiff` time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The offset (µs) in force at an instant (µs).
    #[inline]
    pub(crate) fn offset_at(&self, instant: i64) -> i64 {
        let span = self.cached_span();
        if instant >= span.start && instant < span.end {
            return span.offset;
        }
        self.load_span(instant).offset
    }

    /// The wall-clock time (µs) of an instant (µs); saturating, so that the "past the end"
    /// instant `i64::MAX` maps to a wall clock past [`MAX_WALL`].
    #[inline]
    pub(crate) fn to_wall(&self, instant: i64) -> i64 {
        instant.saturating_add(self.offset_at(instant))
    }

    /// Maps a wall-clock time to an instant the way Prefect does: in a fold the earlier instant,
    /// in a gap the wall time shifted forward by the gap's length (02:30 on a New York
    /// spring-forward day becomes 03:30 EDT).
    ///
    /// A wall time whose instant lies after [`LAST_INSTANT`] gives an instant after it (`i64::MAX`
    /// where jiff cannot compute it); one before jiff's first instant gives `i64::MIN`.
    #[inline]
    pub(crate) fn localize(&self, wall: i64) -> i64 {
        let span = self.cached_span();
        if wall >= span.wall_lo && wall < span.wall_hi {
            return wall - span.offset;
        }
        self.localize_slow(wall)
    }

    /// Maps a wall-clock time to an instant the way pendulum's `create(..., fold=1)` does (the
    /// interval schedule's calendar-day arithmetic): in a fold the *later* instant, in a gap
    /// the wall time shifted forward by the gap's length.
    #[inline]
    pub(crate) fn localize_later(&self, wall: i64) -> i64 {
        let span = self.cached_span();
        if wall >= span.wall_lo && wall < span.wall_hi {
            return wall - span.offset;
        }
        self.localize_with(wall, jiff::tz::AmbiguousTimestamp::later)
    }

    #[cold]
    fn localize_slow(&self, wall: i64) -> i64 {
        self.localize_with(wall, jiff::tz::AmbiguousTimestamp::compatible)
    }

    /// Resolves a wall time with jiff and one of its disambiguation rules, caching the span.
    ///
    /// The civil date-time is built from the wall clock's own fields: going through a
    /// `Timestamp` would clamp wall clocks after 9999-12-30T22:00 to that time, giving a date
    /// that is not on the schedule. A wall time outside jiff's range, or whose instant is, is
    /// past the end (`i64::MAX`) or before the beginning (`i64::MIN`) of representable time.
    fn localize_with(
        &self,
        wall: i64,
        rule: fn(jiff::tz::AmbiguousTimestamp) -> Result<Timestamp, jiff::Error>,
    ) -> i64 {
        let out_of_range = if wall < 0 { i64::MIN } else { i64::MAX };
        let Some(civil) = civil_of_wall(wall) else {
            return out_of_range;
        };
        match rule(self.tz.to_ambiguous_timestamp(civil)) {
            Ok(ts) => {
                let instant = micros_of(ts);
                let _ = self.load_span(instant);
                instant
            }
            Err(_) => out_of_range,
        }
    }

    fn load_span(&self, instant: i64) -> Span {
        let ts = to_timestamp(instant);
        let offset = i64::from(self.tz.to_offset(ts).seconds()) * MICROS;
        let prev = self.tz.preceding(add_one(ts)).next();
        let next = self.tz.following(ts).next();
        let (start, prev_off) = match &prev {
            Some(t) => {
                let at = micros_of(t.timestamp());
                let before = i64::from(self.tz.to_offset(to_timestamp(at - 1)).seconds()) * MICROS;
                (at, before)
            }
            None => (i64::MIN / 4, offset),
        };
        let (end, next_off) = match &next {
            Some(t) => (
                micros_of(t.timestamp()),
                i64::from(t.offset().seconds()) * MICROS,
            ),
            None => (i64::MAX / 4, offset),
        };
        let span = Span {
            start,
            end,
            offset,
            wall_lo: start.saturating_add(offset.max(prev_off)),
            wall_hi: end.saturating_add(offset.min(next_off)),
        };
        SPAN_CACHE.with(|c| c.set((self.id, span)));
        span
    }

    /// The last offset change at or before `instant` (µs), if any.
    pub(crate) fn transition_before(&self, instant: i64) -> Option<Transition> {
        let t = self.tz.preceding(add_one(to_timestamp(instant))).next()?;
        let at = micros_of(t.timestamp());
        let before = i64::from(self.tz.to_offset(to_timestamp(at - 1)).seconds()) * MICROS;
        Some(Transition {
            at,
            before,
            after: i64::from(t.offset().seconds()) * MICROS,
        })
    }

    /// The first offset change strictly after `instant` (µs), if any.
    pub(crate) fn transition_after(&self, instant: i64) -> Option<Transition> {
        let t = self.tz.following(to_timestamp(instant)).next()?;
        let at = micros_of(t.timestamp());
        let before = i64::from(self.tz.to_offset(to_timestamp(at - 1)).seconds()) * MICROS;
        Some(Transition {
            at,
            before,
            after: i64::from(t.offset().seconds()) * MICROS,
        })
    }
}

fn add_one(ts: Timestamp) -> Timestamp {
    ts.checked_add(jiff::SignedDuration::from_micros(1))
        .unwrap_or(ts)
}

/// Instant micros → `jiff::Timestamp` (saturating at jiff's range).
///
/// Built from seconds and nanoseconds: `Timestamp::from_microsecond` refuses the last second of
/// jiff's range (it checks whole seconds), which turned 9999-12-30T22:00:00.999998Z into
/// `Timestamp::MAX`.
pub(crate) fn to_timestamp(instant: i64) -> Timestamp {
    let nanos = (instant.rem_euclid(MICROS) * 1000) as i32;
    Timestamp::new(instant.div_euclid(MICROS), nanos).unwrap_or(if instant < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The civil date-time of a wall clock (µs), if jiff can represent it (years −9999 to 9999).
pub(crate) fn civil_of_wall(wall: i64) -> Option<jiff::civil::DateTime> {
    let secs = wall.div_euclid(MICROS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    let nanos = (wall.rem_euclid(MICROS) * 1000) as i32;
    jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        mo as i8,
        d as i8,
        (tod / 3600) as i8,
        (tod / 60 % 60) as i8,
        (tod % 60) as i8,
        nanos,
    )
    .ok()
}

/// `jiff::Timestamp` → instant micros.
pub(crate) fn micros_of(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[inline]
pub(crate) const fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
#[inline]
pub(crate) const fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

/// Day of week of a day count since 1970-01-01: 0 = Sunday … 6 = Saturday (cron's numbering).
#[inline]
pub(crate) const fn weekday_sun0(days: i64) -> u8 {
    // 1970-01-01 was a Thursday (4).
    (days + 4).rem_euclid(7) as u8
}

/// Wall-clock micros from civil fields.
#[inline]
pub(crate) const fn wall_from_fields(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> i64 {
    (days_from_civil(y, mo, d) * 86_400 + h as i64 * 3600 + mi as i64 * 60 + s as i64) * MICROS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        wall_from_fields(
            dt.year().into(),
            dt.month() as u8,
            dt.day() as u8,
            dt.hour() as u8,
            dt.minute() as u8,
            dt.second() as u8,
        )
    }

    fn rfc(zone: &Zone, instant: i64) -> String {
        let ts = to_timestamp(instant);
        ts.to_zoned_datetime(zone.time_zone().clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    #[test]
    fn civil_round_trip() {
        for days in -800_000..800_000i64 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(weekday_sun0(days_from_civil(2026, 11, 26)), 4);
    }

    #[test]
    fn names_are_case_sensitive_and_empty_is_utc() {
        assert!(Zone::get("America/New_York").is_ok());
        assert!(Zone::get("UTC").is_ok());
        assert!(Zone::get("utc").is_err());
        assert!(Zone::get("america/new_york").is_err());
        assert!(Zone::get("Mars/Phobos").is_err());
        assert_eq!(Zone::get("").unwrap().offset_at(0), 0);
    }

    #[test]
    fn localize_gap_shifts_forward_and_fold_takes_earlier() {
        let ny = Zone::get("America/New_York").unwrap();
        assert_eq!(
            rfc(&ny, ny.localize(wall("2026-03-08T02:30:00"))),
            "2026-03-08T03:30:00-04:00"
        );
        assert_eq!(
            rfc(&ny, ny.localize(wall("2026-03-08T01:59:59"))),
            "2026-03-08T01:59:59-05:00"
        );
        assert_eq!(
            rfc(&ny, ny.localize(wall("2026-03-08T03:00:00"))),
            "2026-03-08T03:00:00-04:00"
        );
        assert_eq!(
            rfc(&ny, ny.localize(wall("2026-11-01T01:30:00"))),
            "2026-11-01T01:30:00-04:00"
        );
        assert_eq!(
            rfc(&ny, ny.localize(wall("2026-11-01T02:00:00"))),
            "2026-11-01T02:00:00-05:00"
        );
        // Lord Howe moves by 30 minutes.
        let lh = Zone::get("Australia/Lord_Howe").unwrap();
        assert_eq!(
            rfc(&lh, lh.localize(wall("2026-10-04T02:15:00"))),
            "2026-10-04T02:45:00+11:00"
        );
        assert_eq!(
            rfc(&lh, lh.localize(wall("2026-04-05T01:45:00"))),
            "2026-04-05T01:45:00+11:00"
        );
    }

    #[test]
    fn localize_agrees_with_jiff_compatible_over_a_year() {
        for name in [
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "Europe/London",
        ] {
            let zone = Zone::get(name).unwrap();
            let tz = zone.time_zone().clone();
            let mut w = wall("2026-01-01T00:00:00");
            let end = wall("2027-01-01T00:00:00");
            while w < end {
                let civil = jiff::tz::Offset::UTC.to_datetime(to_timestamp(w));
                let want = tz.to_ambiguous_timestamp(civil).compatible().unwrap();
                assert_eq!(zone.localize(w), micros_of(want), "{name} {civil}");
                w += 15 * 60 * MICROS;
            }
        }
    }

    #[test]
    fn the_representable_range_is_jiffs_and_pythons() {
        assert_eq!(LAST_INSTANT, Timestamp::MAX.as_microsecond());
        // Every microsecond of the last second converts exactly.
        for us in [LAST_INSTANT, LAST_INSTANT - 1, LAST_INSTANT - 999_999] {
            assert_eq!(to_timestamp(us).as_microsecond(), us);
        }
        assert_eq!(
            to_timestamp(LAST_INSTANT - 1).to_string(),
            "9999-12-30T22:00:00.999998Z"
        );
        assert_eq!(
            to_timestamp(FIRST_INSTANT).to_string(),
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            civil_of_wall(MAX_WALL).unwrap().to_string(),
            "9999-12-31T23:59:59.999999"
        );
        assert_eq!(civil_of_wall(MAX_WALL + 1), None);
        assert_eq!(
            civil_of_wall(wall("0001-01-01T00:00:00") - 1)
                .unwrap()
                .to_string(),
            "0000-12-31T23:59:59.999999"
        );
    }

    /// A wall clock after 9999-12-30T22:00 used to be read through a clamped `Timestamp`, so
    /// 9999-12-31T00:00 in UTC came back as 9999-12-30T22:00Z — not a date of the schedule.
    #[test]
    fn localize_at_the_end_of_time_never_clamps() {
        let utc = Zone::utc();
        assert_eq!(utc.localize(wall("9999-12-31T00:00:00")), i64::MAX);
        assert_eq!(utc.localize_later(wall("9999-12-31T00:00:00")), i64::MAX);
        assert_eq!(
            rfc(&utc, utc.localize(wall("9999-12-30T22:00:00"))),
            "9999-12-30T22:00:00+00:00"
        );
        let tokyo = Zone::get("Asia/Tokyo").unwrap();
        assert_eq!(
            rfc(&tokyo, tokyo.localize(wall("9999-12-31T07:00:00"))),
            "9999-12-31T07:00:00+09:00"
        );
        assert!(tokyo.localize(wall("9999-12-31T07:00:01")) > LAST_INSTANT);
        let ny = Zone::get("America/New_York").unwrap();
        assert!(ny.localize(wall("9999-12-31T00:00:00")) > LAST_INSTANT);
        assert!(ny.to_wall(i64::MAX) > MAX_WALL);
        // The first year: New York's local mean time, −04:56:02.
        assert_eq!(
            ny.localize(wall("0000-12-31T19:03:58")),
            FIRST_INSTANT,
            "a year-0 wall clock west of Greenwich"
        );
    }

    /// Offsets of instants past `jiff::Timestamp::MAX` are read at that instant (the engines
    /// never return such dates, but look them up on the way): that is exact only while no zone
    /// changes its offset in the last days of 9999.
    #[test]
    fn no_zone_changes_offset_at_the_end_of_time() {
        let from: Timestamp = "9999-12-20T00:00:00Z".parse().unwrap();
        let mut zones = 0;
        for name in jiff::tz::db().available() {
            let tz = TimeZone::get(name.as_str()).unwrap();
            let next = tz.following(from).next().map(|t| t.timestamp());
            assert_eq!(next, None, "{name}");
            zones += 1;
        }
        assert!(zones > 400, "{zones} zones");
    }
}
