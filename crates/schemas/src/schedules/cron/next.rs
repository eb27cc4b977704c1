//! croniter's forward search (`croniter._calc`), on naive wall-clock seconds.
//!
//! croniter does not enumerate candidate times: it repeatedly runs a fixed sequence of
//! per-field steps (year, month, day of month, day of week, hour, minute, second), each of which
//! either accepts the current candidate or jumps it to the nearest value of its field (resetting
//! the smaller fields), and restarts the sequence after every jump. Most of the time that finds
//! the next matching time, but not always — a day-of-month jump past the end of a short month
//! can step over early days of the next month (`1,30` from 3 February yields 30 March) — so this
//! module follows the same steps, in the same order, with bitmasks instead of lists
//! (schedules.md §5). It gives up, as croniter does, once the candidate's year is more than 50
//! years past the year it started in.

use super::parse::{Bits, Field, NTH_LAST, Spec};
use crate::schedules::zone::{civil_from_days, days_from_civil, weekday_sun0};

/// croniter's default `max_years_between_matches`.
const MAX_YEARS: i32 = 50;
/// Python's `datetime` ends with year 9999; croniter fails beyond it.
const MAX_YEAR: i32 = 9999;

/// Why a search found no next match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// No match within 50 years of the search's start (croniter's `CroniterBadDateError`).
    NeverFires,
    /// The search passed the end of year 9999 first: no match is left before the end of
    /// representable time (croniter fails with an overflow there; docs/deviations.md S8).
    EndOfTime,
}

/// A candidate date-time, broken down as croniter's `datetime` is.
#[derive(Clone, Copy, Debug)]
struct Civil {
    /// Days since 1970-01-01.
    days: i64,
    year: i32,
    // Word-sized fields: a candidate is copied whole on every step, and byte-sized fields made
    // those copies stall on store forwarding.
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    fn from_secs(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            days,
            year,
            month: month.into(),
            day: day.into(),
            hour: tod / 3600,
            minute: tod / 60 % 60,
            second: tod % 60,
        }
    }

    #[inline]
    fn to_secs(self) -> i64 {
        self.days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }

    fn set_days(&mut self, days: i64) {
        let (year, month, day) = civil_from_days(days);
        (self.days, self.year, self.month, self.day) = (days, year, month.into(), day.into());
    }

    fn set_date(&mut self, year: i32, month: u32) {
        self.year = year;
        self.month = month;
        self.day = 1;
        self.days = days_from_civil(year, month as u8, 1);
        self.midnight();
    }

    #[inline]
    fn midnight(&mut self) {
        (self.hour, self.minute, self.second) = (0, 0, 0);
    }

    /// `d += relativedelta(days=n, hour=0, minute=0, second=0)`.
    fn add_days(&mut self, n: u32) {
        self.set_days(self.days + i64::from(n));
        self.midnight();
    }

    /// The next day, same time.
    #[inline]
    fn next_day(&mut self) {
        self.days += 1;
        if self.day < days_in_month(self.year, self.month) {
            self.day += 1;
        } else if self.month < 12 {
            (self.month, self.day) = (self.month + 1, 1);
        } else {
            (self.year, self.month, self.day) = (self.year + 1, 1, 1);
        }
    }

    /// Adds `n` < 24 hours.
    #[inline]
    fn add_hours(&mut self, n: u32) {
        let h = self.hour + n;
        if h >= 24 {
            self.hour = h - 24;
            self.next_day();
        } else {
            self.hour = h;
        }
    }

    /// Adds `n` < 60 minutes.
    #[inline]
    fn add_minutes(&mut self, n: u32) {
        let m = self.minute + n;
        if m >= 60 {
            self.minute = m - 60;
            self.add_hours(1);
        } else {
            self.minute = m;
        }
    }

    /// Adds `n` < 60 seconds.
    #[inline]
    fn add_seconds(&mut self, n: u32) {
        let s = self.second + n;
        if s >= 60 {
            self.second = s - 60;
            self.add_minutes(1);
        } else {
            self.second = s;
        }
    }
}

/// croniter's `_get_next_nearest_diff`: the distance from `x` to the first value of `mask` at or
/// after `x`, wrapping around a field of `range` values.
#[inline]
fn nearest(mask: u64, x: u32, range: u32) -> u32 {
    let above = mask & (u64::MAX << x);
    if above != 0 {
        above.trailing_zeros() - x
    } else {
        mask.trailing_zeros() + range - x
    }
}

#[inline]
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The smallest `#k` / `L<d>` day of the candidate's month at or after its day (croniter's
/// `proc_day_of_week_nth`).
fn nth_candidate(spec: &Spec, d: &Civil, dim: u32) -> Option<u32> {
    let first_wd = weekday_sun0(d.days - i64::from(d.day) + 1);
    let mut best: Option<u32> = None;
    for (wd, &bits) in spec.nth.iter().enumerate() {
        if bits == 0 {
            continue;
        }
        let first = 1 + (wd as u32 + 7 - u32::from(first_wd)) % 7;
        let count = (dim - first) / 7 + 1;
        let mut consider = |day: u32| {
            if d.day <= day && best.is_none_or(|b| day < b) {
                best = Some(day);
            }
        };
        for k in 1..=count.min(5) {
            if bits & (1 << k) != 0 {
                consider(first + 7 * (k - 1));
            }
        }
        if bits & NTH_LAST != 0 {
            consider(first + 7 * (count - 1));
        }
    }
    best
}

/// Which day fields a search uses (croniter's day_or split runs two searches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Both day fields must match.
    Both = 0,
    /// The day-of-week field is ignored (croniter sets it to `*`).
    DayOfMonth = 1,
    /// The day-of-month field is ignored.
    DayOfWeek = 2,
}

/// The fields a search restricts, resolved once per search.
#[derive(Clone, Copy, Debug)]
struct Steps {
    years: bool,
    months: bool,
    dom: bool,
    nth: bool,
    dow: bool,
    hours: bool,
    minutes: bool,
    seconds: bool,
}

impl Steps {
    fn new(spec: &Spec, mode: Mode) -> Steps {
        let nth = spec.has_nth();
        Steps {
            years: !spec.is_star(Field::Year),
            months: !spec.is_star(Field::Month),
            dom: mode != Mode::DayOfWeek && !spec.is_star(Field::Day),
            // croniter runs its nth-weekday step whenever `#`/`L<d>` entries exist, even in the
            // search that sets the day-of-week field to `*`.
            nth,
            dow: !nth && mode != Mode::DayOfMonth && !spec.is_star(Field::Dow),
            hours: !spec.is_star(Field::Hour),
            minutes: !spec.is_star(Field::Minute),
            seconds: spec.nfields > 5 && !spec.is_star(Field::Second),
        }
    }
}

/// The date steps (year, month, day of month, day of week) on `d`: `Some(true)` when all of
/// them accept it, `Some(false)` after a jump, `None` when the year list is exhausted (croniter
/// fails then: no match within its search).
// Out of line: runs about once per day of matches, and keeps `calc` small enough to inline.
#[inline(never)]
fn date_steps(spec: &Spec, s: Steps, d: &mut Civil) -> Option<bool> {
    if s.years {
        let y = next_year(&spec.years, d.year)?;
        if y != d.year {
            d.set_date(y, 1);
            return Some(false);
        }
    }
    if s.months {
        let diff = nearest(u64::from(spec.months), d.month, 12);
        if diff != 0 {
            let index = d.year * 12 + (d.month + diff) as i32 - 1;
            d.set_date(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32);
            return Some(false);
        }
    }
    if s.dom {
        let dim = days_in_month(d.year, d.month);
        if !(spec.last_day && d.day == dim) {
            let x = d.day;
            let above = spec.days & (u32::MAX << x);
            // The numbers come first (in order), `L` (= the month's length) last — even when a
            // number beyond the month's end is then chosen over `L` (schedules.md §5).
            let diff = if above != 0 {
                above.trailing_zeros() - x
            } else if spec.last_day {
                dim - x
            } else {
                spec.days.trailing_zeros() + dim - x
            };
            if diff != 0 {
                d.add_days(diff);
                return Some(false);
            }
        }
    }
    if s.nth {
        let dim = days_in_month(d.year, d.month);
        match nth_candidate(spec, d, dim) {
            None => {
                d.add_days(dim - d.day + 1);
                return Some(false);
            }
            Some(day) if day != d.day => {
                d.add_days(day - d.day);
                return Some(false);
            }
            Some(_) => {}
        }
    } else if s.dow {
        let diff = nearest(u64::from(spec.dows), u32::from(weekday_sun0(d.days)), 7);
        if diff != 0 {
            d.add_days(diff);
            return Some(false);
        }
    }
    Some(true)
}

/// The time steps (hour, minute, second) on `d`: `true` when all accept it, `false` after a jump.
#[inline(always)]
fn time_steps(spec: &Spec, s: Steps, d: &mut Civil) -> bool {
    if s.hours {
        let diff = nearest(u64::from(spec.hours), d.hour, 24);
        if diff != 0 {
            (d.minute, d.second) = (0, 0);
            d.add_hours(diff);
            return false;
        }
    }
    if s.minutes {
        let diff = nearest(spec.minutes, d.minute, 60);
        if diff != 0 {
            d.second = 0;
            d.add_minutes(diff);
            return false;
        }
    }
    if s.seconds {
        let diff = nearest(spec.seconds, d.second, 60);
        if diff != 0 {
            d.add_seconds(diff);
            return false;
        }
    } else if spec.nfields == 5 {
        d.second = 0;
    }
    true
}

/// One run of croniter's `_calc` from `start` (already advanced past the current time), with the
/// steps of one search.
///
/// croniter restarts its steps from the year after every jump. The date steps look at the date
/// alone, so they are re-run only when the date changed; and `passed` remembers a day on which
/// they all passed in an earlier run of the same search, so that day is not examined again.
// Inlined into `Cursor::next`, so that the candidate lives in registers on the hot path.
///
/// Candidates before year 1 are searched like any other (the calendar is proleptic): a start
/// just after 0001-01-01T00:00Z has a year-0 wall clock in zones west of Greenwich.
#[inline(always)]
fn calc(spec: &Spec, steps: Steps, start: Civil, passed: &mut i64) -> Result<Civil, Stop> {
    let mut d = start;
    let first_year = d.year;
    loop {
        // Past year 9999 first: the end of time, not a schedule that never fires.
        if d.year > MAX_YEAR {
            return Err(Stop::EndOfTime);
        }
        if d.year - first_year > MAX_YEARS {
            return Err(Stop::NeverFires);
        }
        if d.days != *passed {
            if !date_steps(spec, steps, &mut d).ok_or(Stop::NeverFires)? {
                continue;
            }
            *passed = d.days;
        }
        let day = d.days;
        loop {
            if time_steps(spec, steps, &mut d) {
                return Ok(d);
            }
            if d.days != day {
                break;
            }
        }
    }
}

/// The first listed year at or after `year`, if any.
#[inline]
fn next_year(years: &Bits, year: i32) -> Option<i32> {
    let from = u32::try_from(year - 1970).unwrap_or(0);
    years.first_from(from).map(|i| 1970 + i as i32)
}

/// A croniter instance moving forward from a start time, one match per [`Cursor::next`].
#[derive(Clone, Debug)]
pub(super) struct Cursor<'a> {
    spec: &'a Spec,
    /// croniter's day_or rule applies: both day fields are restricted and `day_or` is set.
    split: bool,
    /// croniter's `cur`: the start, then the last match.
    cur: Civil,
    /// Per [`Mode`], the steps of that search.
    steps: [Steps; 3],
    /// Per [`Mode`], a day on which that search's date steps pass (see [`calc`]).
    passed: [i64; 3],
}

impl<'a> Cursor<'a> {
    /// A cursor at `wall` (µs since 1970-01-01T00:00 on the local clock), as croniter keeps it:
    /// a float of seconds (`micros / 10**6`, correctly rounded), floored at each step.
    pub fn new(spec: &'a Spec, day_or: bool, wall: i64) -> Cursor<'a> {
        let split = day_or && !spec.is_star(Field::Day) && !spec.is_star(Field::Dow);
        Cursor {
            spec,
            split,
            cur: Civil::from_secs((wall as f64 / 1e6).floor() as i64),
            steps: [Mode::Both, Mode::DayOfMonth, Mode::DayOfWeek].map(|m| Steps::new(spec, m)),
            passed: [i64::MIN; 3],
        }
    }

    /// Where the cursor stands (wall seconds): the start, then the last match.
    pub fn position(&self) -> i64 {
        self.cur.to_secs()
    }

    /// The next match strictly after the cursor (wall seconds), or why there is none.
    #[inline]
    pub fn next(&mut self) -> Result<i64, Stop> {
        let mut start = self.cur;
        // Five fields have minute resolution: croniter steps a whole minute, then zeroes seconds.
        if self.spec.nfields > 5 {
            start.add_seconds(1);
        } else {
            start.add_minutes(1);
        }
        let found = if self.split {
            // croniter's day_or: the earlier of "day of month" and "day of week" searches; either
            // failing fails the whole step (schedules.md §5).
            let [_, dom_steps, dow_steps] = self.steps;
            let [_, dom_passed, dow_passed] = &mut self.passed;
            match (
                calc(self.spec, dom_steps, start, dom_passed),
                calc(self.spec, dow_steps, start, dow_passed),
            ) {
                (Err(Stop::NeverFires), _) | (_, Err(Stop::NeverFires)) => {
                    return Err(Stop::NeverFires);
                }
                (Ok(by_dom), Ok(by_dow)) => {
                    if by_dom.to_secs() <= by_dow.to_secs() {
                        by_dom
                    } else {
                        by_dow
                    }
                }
                // One search ran to the end of time: the other one's match is the next.
                (Ok(found), Err(Stop::EndOfTime)) | (Err(Stop::EndOfTime), Ok(found)) => found,
                (Err(Stop::EndOfTime), Err(Stop::EndOfTime)) => return Err(Stop::EndOfTime),
            }
        } else {
            let both = Mode::Both as usize;
            calc(self.spec, self.steps[both], start, &mut self.passed[both])?
        };
        self.cur = found;
        Ok(found.to_secs())
    }
}
