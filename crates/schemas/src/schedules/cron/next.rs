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

/// A candidate date-time, broken down as croniter's `datetime` is.
#[derive(Clone, Copy, Debug)]
struct Civil {
    /// Days since 1970-01-01.
    days: i64,
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Civil {
    fn from_secs(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            days,
            year,
            month,
            day,
            hour: (tod / 3600) as u8,
            minute: (tod / 60 % 60) as u8,
            second: (tod % 60) as u8,
        }
    }

    #[inline]
    fn to_secs(self) -> i64 {
        self.days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    fn set_days(&mut self, days: i64) {
        self.days = days;
        (self.year, self.month, self.day) = civil_from_days(days);
    }

    fn set_date(&mut self, year: i32, month: u8) {
        self.year = year;
        self.month = month;
        self.day = 1;
        self.days = days_from_civil(year, month, 1);
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

    /// Adds seconds to the time of day, carrying into the date. Returns whether the date changed.
    #[inline]
    fn add_secs(&mut self, n: u32) -> bool {
        let tod =
            u32::from(self.hour) * 3600 + u32::from(self.minute) * 60 + u32::from(self.second) + n;
        self.hour = (tod / 3600 % 24) as u8;
        self.minute = (tod / 60 % 60) as u8;
        self.second = (tod % 60) as u8;
        if tod >= 86_400 {
            self.set_days(self.days + i64::from(tod / 86_400));
            true
        } else {
            false
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
fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The smallest `#k` / `L<d>` day of the candidate's month at or after its day (croniter's
/// `proc_day_of_week_nth`).
fn nth_candidate(spec: &Spec, d: &Civil, dim: u8) -> Option<u8> {
    let first_wd = weekday_sun0(d.days - i64::from(d.day) + 1);
    let mut best: Option<u8> = None;
    for (wd, &bits) in spec.nth.iter().enumerate() {
        if bits == 0 {
            continue;
        }
        let first = 1 + (wd as u8 + 7 - first_wd) % 7;
        let count = (dim - first) / 7 + 1;
        let mut consider = |day: u8| {
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

/// One run of croniter's `_calc` from `start` (wall seconds, already advanced past the current
/// time). `use_dom`/`use_dow` select the day fields, as croniter's day_or split does; the
/// nth-weekday step runs whenever the expression has `#`/`L<d>` entries, as in croniter.
fn calc(spec: &Spec, start: i64, use_dom: bool, use_dow: bool) -> Option<i64> {
    let mut d = Civil::from_secs(start);
    let first_year = d.year;
    let years = !spec.is_star(Field::Year);
    let months = !spec.is_star(Field::Month);
    let dom = use_dom && !spec.is_star(Field::Day);
    let nth = spec.has_nth();
    let dow = !nth && use_dow && !spec.is_star(Field::Dow);
    let hours = !spec.is_star(Field::Hour);
    let minutes = !spec.is_star(Field::Minute);
    let seconds = spec.nfields > 5 && !spec.is_star(Field::Second);
    'date: loop {
        if d.year - first_year > MAX_YEARS || d.year > MAX_YEAR || d.year < 1 {
            return None;
        }
        if years {
            let y = next_year(&spec.years, d.year)?;
            if y != d.year {
                d.set_date(y, 1);
                continue;
            }
        }
        if months {
            let diff = nearest(u64::from(spec.months), u32::from(d.month), 12);
            if diff != 0 {
                let index = d.year * 12 + i32::from(d.month) - 1 + diff as i32;
                d.set_date(index.div_euclid(12), (index.rem_euclid(12) + 1) as u8);
                continue;
            }
        }
        if dom {
            let dim = days_in_month(d.year, d.month);
            if !(spec.last_day && d.day == dim) {
                let x = u32::from(d.day);
                let above = spec.days & (u32::MAX << x);
                // The numbers come first (in order), `L` (= the month's length) last — even when
                // a number beyond the month's end is then chosen over `L` (schedules.md §5).
                let diff = if above != 0 {
                    above.trailing_zeros() - x
                } else if spec.last_day {
                    u32::from(dim) - x
                } else {
                    spec.days.trailing_zeros() + u32::from(dim) - x
                };
                if diff != 0 {
                    d.add_days(diff);
                    continue;
                }
            }
        }
        if nth {
            let dim = days_in_month(d.year, d.month);
            match nth_candidate(spec, &d, dim) {
                None => {
                    d.add_days(u32::from(dim - d.day) + 1);
                    continue;
                }
                Some(day) if day != d.day => {
                    d.add_days(u32::from(day - d.day));
                    continue;
                }
                Some(_) => {}
            }
        } else if dow {
            let diff = nearest(u64::from(spec.dows), u32::from(weekday_sun0(d.days)), 7);
            if diff != 0 {
                d.add_days(diff);
                continue;
            }
        }
        // The date fields only look at the date: while a time step stays within the day, croniter's
        // restart would pass them again unchanged, so only the time steps are re-run.
        loop {
            if hours {
                let diff = nearest(u64::from(spec.hours), u32::from(d.hour), 24);
                if diff != 0 {
                    (d.minute, d.second) = (0, 0);
                    if d.add_secs(diff * 3600) {
                        continue 'date;
                    }
                    continue;
                }
            }
            if minutes {
                let diff = nearest(spec.minutes, u32::from(d.minute), 60);
                if diff != 0 {
                    d.second = 0;
                    if d.add_secs(diff * 60) {
                        continue 'date;
                    }
                    continue;
                }
            }
            if seconds {
                let diff = nearest(spec.seconds, u32::from(d.second), 60);
                if diff != 0 {
                    if d.add_secs(diff) {
                        continue 'date;
                    }
                    continue;
                }
            } else if spec.nfields == 5 {
                d.second = 0;
            }
            return Some(d.to_secs());
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
    /// croniter's `cur`: the last match (or the start), in wall seconds.
    cur: i64,
}

impl<'a> Cursor<'a> {
    /// A cursor at `wall` (µs since 1970-01-01T00:00 on the local clock), as croniter keeps it:
    /// a float of seconds (`micros / 10**6`, correctly rounded), floored at each step.
    pub fn new(spec: &'a Spec, day_or: bool, wall: i64) -> Cursor<'a> {
        let split = day_or && !spec.is_star(Field::Day) && !spec.is_star(Field::Dow);
        Cursor {
            spec,
            split,
            cur: (wall as f64 / 1e6).floor() as i64,
        }
    }

    /// Where the cursor stands (wall seconds): the start, then the last match.
    pub fn position(&self) -> i64 {
        self.cur
    }

    /// The next match strictly after the cursor (wall seconds), or `None` where croniter raises
    /// `CroniterBadDateError`.
    #[inline]
    pub fn next(&mut self) -> Option<i64> {
        // Five fields have minute resolution: croniter steps a whole minute, then zeroes seconds.
        let start = self.cur + if self.spec.nfields > 5 { 1 } else { 60 };
        let found = if self.split {
            // croniter's day_or: the earlier of "day of month" and "day of week" searches; either
            // failing fails the whole step (schedules.md §5).
            let by_dom = calc(self.spec, start, true, false)?;
            let by_dow = calc(self.spec, start, false, true)?;
            by_dom.min(by_dow)
        } else {
            calc(self.spec, start, true, true)?
        };
        self.cur = found;
        Some(found)
    }
}
