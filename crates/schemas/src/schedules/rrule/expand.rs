//! RFC 5545 expansion exactly as `dateutil.rrule.rrule._iter` performs it, one period
//! (year, month, week, day, hour, minute or second) at a time into a reusable buffer.
//!
//! The iterator keeps dateutil's state variables (year, month, day, hour, minute, second and
//! the week-day of the last WEEKLY jump) and advances them with the same arithmetic, so the
//! sequence of periods, the filters (including dateutil's cross-year week handling) and the
//! errors dateutil raises while iterating are reproduced. On top of that it can start at a
//! later period than DTSTART ([`RuleIter::starting_near`]) when that provably changes nothing.

use super::parse::Freq;
use super::rule::{Rule, split_wall};
use crate::schedules::zone::{MICROS, civil_from_days, days_from_civil, weekday_sun0};

#[cfg(test)]
thread_local! {
    /// Tests set this to expand exactly like dateutil, without skipping periods, so the
    /// shortcuts can be checked against the plain walk.
    pub(super) static NO_SHORTCUTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the period-skipping shortcuts are enabled (always, outside tests).
#[inline]
pub(super) fn shortcuts() -> bool {
    #[cfg(test)]
    {
        !NO_SHORTCUTS.with(std::cell::Cell::get)
    }
    #[cfg(not(test))]
    {
        true
    }
}

/// Last day dateutil can represent (9999-12-31), in days since 1970-01-01.
const MAX_DAY: i64 = days_from_civil(9999, 12, 31);

/// Per-day tables for a 365- and a 366-day year, extended by 7 days of January of the next
/// year (dateutil's masks are 7 days longer to handle weeks crossing the year end).
struct YearTables {
    /// Month (1..=12) of each day index.
    month: [u8; 373],
    /// Day of month (1..=31).
    mday: [u8; 373],
    /// Day of month counted from the month's end (-1 = last day), as a positive number.
    nmday: [u8; 373],
    /// First day index of each month, plus the year length.
    mrange: [u16; 13],
}

const fn build_tables(leap: bool) -> YearTables {
    let lens = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut t = YearTables {
        month: [0; 373],
        mday: [0; 373],
        nmday: [0; 373],
        mrange: [0; 13],
    };
    let mut i = 0;
    let mut m = 0;
    while m < 12 {
        t.mrange[m] = i as u16;
        let mut d = 1;
        while d <= lens[m] {
            t.month[i] = m as u8 + 1;
            t.mday[i] = d as u8;
            t.nmday[i] = (lens[m] - d + 1) as u8;
            i += 1;
            d += 1;
        }
        m += 1;
    }
    t.mrange[12] = i as u16;
    // The next January's first 7 days (dateutil uses a 31-day January for them).
    let mut d = 1;
    while d <= 7 {
        t.month[i] = 1;
        t.mday[i] = d;
        t.nmday[i] = 32 - d;
        i += 1;
        d += 1;
    }
    t
}

static TABLES: [YearTables; 2] = [build_tables(false), build_tables(true)];

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// A 384-bit set of day indices.
#[derive(Clone, Copy, Default, Debug)]
struct Bits([u64; 6]);

impl Bits {
    #[inline]
    fn get(&self, i: usize) -> bool {
        self.0[i >> 6] >> (i & 63) & 1 != 0
    }
    #[inline]
    fn set(&mut self, i: usize) {
        self.0[i >> 6] |= 1 << (i & 63);
    }
}

/// Western Easter Sunday (Gregorian computus), as days since 1970-01-01.
pub(super) fn easter_days(year: i64) -> i64 {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    days_from_civil(year as i32, month as u8, day as u8)
}

/// Python's `seq[idx]` bounds rule for a sequence of length `len` (negative indices count
/// from the end).
fn py_index(idx: i64, len: i64) -> Option<i64> {
    let i = if idx < 0 { idx + len } else { idx };
    (0..len).contains(&i).then_some(i)
}

/// Python's `mrange[month-1:month+1]` unpacked into `(first, last)`: months outside 1..=12
/// either alias another month through negative indexing or fail to unpack.
fn mrange_slice(mrange: &[u16; 13], month: i64) -> Option<(i64, i64)> {
    let norm = |i: i64| -> i64 { if i < 0 { (i + 13).max(0) } else { i.min(13) } };
    let (a, b) = (norm(month - 1), norm(month + 1));
    (b - a == 2).then(|| {
        (
            i64::from(mrange[a as usize]),
            i64::from(mrange[a as usize + 1]),
        )
    })
}

/// dateutil's `_iterinfo`: the masks of the year being expanded.
#[derive(Clone, Debug, Default)]
struct YearInfo {
    lastyear: Option<i64>,
    lastmonth: Option<i64>,
    yearlen: i64,
    nextyearlen: i64,
    /// Days since 1970-01-01 of January 1st.
    yearordinal: i64,
    /// Weekday of January 1st, 0 = Monday.
    yearweekday: i64,
    leap: bool,
    wnomask: Bits,
    nwdaymask: Option<Bits>,
    eastermask: Bits,
}

impl YearInfo {
    #[inline]
    fn tables(&self) -> &'static YearTables {
        &TABLES[usize::from(self.leap)]
    }

    #[inline]
    fn wday(&self, i: i64) -> i64 {
        (self.yearweekday + i) % 7
    }

    /// `_iterinfo.rebuild(year, month)`.
    fn rebuild(&mut self, r: &Rule, year: i64, month: i64) -> Result<(), String> {
        if self.lastyear != Some(year) {
            self.leap = is_leap(year);
            self.yearlen = 365 + i64::from(self.leap);
            self.nextyearlen = 365 + i64::from(is_leap(year + 1));
            self.yearordinal = days_from_civil(year as i32, 1, 1);
            self.yearweekday = i64::from((weekday_sun0(self.yearordinal) + 6) % 7);
            if !r.byweekno.is_empty() {
                self.build_wnomask(r, year);
            }
        }
        if !r.bynweekday.is_empty()
            && (self.lastmonth != Some(month) || self.lastyear != Some(year))
        {
            let mrange = &self.tables().mrange;
            let bad_month = |m: i64| {
                format!("BYMONTH={m} cannot be combined with BYDAY=+n/-n (dateutil fails on it)")
            };
            let ranges: Vec<(i64, i64)> = match r.freq {
                Freq::Yearly => match &r.bymonth {
                    Some(months) => months
                        .iter()
                        .map(|&m| mrange_slice(mrange, m).ok_or_else(|| bad_month(m)))
                        .collect::<Result<_, _>>()?,
                    None => vec![(0, self.yearlen)],
                },
                Freq::Monthly => vec![mrange_slice(mrange, month).ok_or_else(|| bad_month(month))?],
                _ => Vec::new(),
            };
            if !ranges.is_empty() {
                let mut mask = Bits::default();
                let wlen = 385 - self.yearweekday;
                for &(first, last) in &ranges {
                    let last = last - 1;
                    for &(wday, n) in &r.bynweekday {
                        let wday = i64::from(wday);
                        let out_of_range = || {
                            format!(
                                "BYDAY={n}{} reaches past the year's end (dateutil fails on it)",
                                ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][wday as usize]
                            )
                        };
                        let i = if n < 0 {
                            let i = last + (n + 1) * 7;
                            let at = py_index(i, wlen).ok_or_else(out_of_range)?;
                            i - (self.wday(at) - wday).rem_euclid(7)
                        } else {
                            let i = first + (n - 1) * 7;
                            let at = py_index(i, wlen).ok_or_else(out_of_range)?;
                            i + (7 - self.wday(at) + wday).rem_euclid(7)
                        };
                        if first <= i && i <= last {
                            mask.set(i as usize);
                        }
                    }
                }
                self.nwdaymask = Some(mask);
            }
        }
        if !r.byeaster.is_empty() {
            let mut mask = Bits::default();
            let eyday = easter_days(year) - self.yearordinal;
            let len = self.yearlen + 7;
            for &offset in &r.byeaster {
                let i = py_index(eyday + offset, len).ok_or_else(|| {
                    format!(
                        "BYEASTER={offset} falls outside the year {year} (dateutil fails on it)"
                    )
                })?;
                mask.set(i as usize);
            }
            self.eastermask = mask;
        }
        self.lastyear = Some(year);
        self.lastmonth = Some(month);
        Ok(())
    }

    /// The ISO-8601-style week numbering of dateutil (with its quirks), for BYWEEKNO.
    fn build_wnomask(&mut self, r: &Rule, year: i64) {
        let wkst = i64::from(r.wkst);
        let mut mask = Bits::default();
        let yearlen = self.yearlen;
        let firstwkst = (7 - self.yearweekday + wkst).rem_euclid(7);
        let mut no1wkst = firstwkst;
        let wyearlen = if no1wkst >= 4 {
            no1wkst = 0;
            yearlen + (self.yearweekday - wkst).rem_euclid(7)
        } else {
            yearlen - no1wkst
        };
        let numweeks = wyearlen / 7 + (wyearlen % 7) / 4;
        let mark_week = |mask: &mut Bits, mut i: i64| {
            for _ in 0..7 {
                if (0..384).contains(&i) {
                    mask.set(i as usize);
                }
                i += 1;
                if self.wday(i) == wkst {
                    break;
                }
            }
        };
        for &n0 in &r.byweekno {
            let n = if n0 < 0 { n0 + numweeks + 1 } else { n0 };
            if !(0 < n && n <= numweeks) {
                continue;
            }
            let i = if n > 1 {
                let mut i = no1wkst + (n - 1) * 7;
                if no1wkst != firstwkst {
                    i -= 7 - firstwkst;
                }
                i
            } else {
                no1wkst
            };
            mark_week(&mut mask, i);
        }
        if r.byweekno.contains(&1) {
            // Week 1 of the next year may start in this year.
            let mut i = no1wkst + numweeks * 7;
            if no1wkst != firstwkst {
                i -= 7 - firstwkst;
            }
            if i < yearlen {
                mark_week(&mut mask, i);
            }
        }
        if no1wkst != 0 {
            // Days before this year's week 1 belong to last year's last week.
            let lnumweeks = if !r.byweekno.contains(&-1) {
                let lyearweekday =
                    i64::from((weekday_sun0(days_from_civil(year as i32 - 1, 1, 1)) + 6) % 7);
                let lno1wkst = (7 - lyearweekday + wkst).rem_euclid(7);
                let lyearlen = 365 + i64::from(is_leap(year - 1));
                if lno1wkst >= 4 {
                    52 + (lyearlen + (lyearweekday - wkst).rem_euclid(7)) % 7 / 4
                } else {
                    // dateutil uses this year's length here.
                    52 + (yearlen - no1wkst) % 7 / 4
                }
            } else {
                -1
            };
            if r.byweekno.contains(&lnumweeks) {
                for i in 0..no1wkst {
                    mask.set(i as usize);
                }
            }
        }
        self.wnomask = mask;
    }

    /// Whether day index `i` survives the BY* day filters.
    #[inline]
    fn day_ok(&self, r: &Rule, i: i64) -> bool {
        let t = self.tables();
        let iu = i as usize;
        if r.bymonth.is_some() && r.bymonth_mask >> t.month[iu] & 1 == 0 {
            return false;
        }
        if !r.byweekno.is_empty() && !self.wnomask.get(iu) {
            return false;
        }
        if let Some(wd) = r.byweekday
            && wd >> self.wday(i) & 1 == 0
        {
            return false;
        }
        if let Some(nw) = &self.nwdaymask
            && !nw.get(iu)
        {
            return false;
        }
        if !r.byeaster.is_empty() && !self.eastermask.get(iu) {
            return false;
        }
        if let Some((pos, neg)) = r.bymonthday
            && pos >> t.mday[iu] & 1 == 0
            && neg >> t.nmday[iu] & 1 == 0
        {
            return false;
        }
        if let Some((pos, neg)) = &r.byyearday {
            let (p, n) = if i < self.yearlen {
                (i, self.yearlen - i)
            } else {
                (i - self.yearlen, self.nextyearlen - (i - self.yearlen))
            };
            let pb = |b: &[u64; 6], k: i64| {
                (1..=366).contains(&k) && b[(k - 1) as usize / 64] >> ((k - 1) % 64) & 1 != 0
            };
            if !pb(pos, p + 1) && !pb(neg, n) {
                return false;
            }
        }
        true
    }
}

/// Why an iterator stopped producing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IterError {
    /// dateutil raises while iterating (the message says why); Prefect's get_dates fails.
    Failed(String),
}

/// One rule's occurrences, period by period.
pub(super) struct RuleIter<'r> {
    r: &'r Rule,
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    weekday: i64,
    info: YearInfo,
    /// Sub-daily rules: the current period's time set is empty (dateutil's `timeset = ()`).
    ts_empty: bool,
    count_left: Option<i64>,
    done: bool,
    /// Occurrences below this wall time are dropped (after counting them toward COUNT).
    min_wall: i64,
    buf: Vec<i64>,
    pos: usize,
    days: Vec<i64>,
    /// Whether the first (DTSTART) period has been expanded.
    started: bool,
    /// A day (days since 1970-01-01) known not to be skippable (COUNT runs out in it).
    no_skip_day: i64,
    /// INTERVAL=0: the occurrences (≥ DTSTART) of the last period, and whether advancing left
    /// the state unchanged, in which case dateutil repeats that period forever.
    repeat: Option<Vec<i64>>,
    period_items: Vec<i64>,
    replays: usize,
}

/// A repeating (INTERVAL=0) period is replayed at most this often: Prefect examines at most
/// 1002 candidates at or after its start (dateutil's cache looks ten further), so needing more
/// replays means every candidate is before the start, and Prefect would loop forever.
const MAX_REPLAYS: usize = 1002 + 10 + 1;

fn contains(set: &Option<Vec<i64>>, v: i64) -> bool {
    set.as_ref().is_none_or(|s| s.contains(&v))
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a as i64
}

impl<'r> RuleIter<'r> {
    /// An iterator at DTSTART, like `rrule._iter`.
    pub fn new(r: &'r Rule, min_wall: i64) -> Result<RuleIter<'r>, IterError> {
        let (days, hour, minute, second) = split_wall(r.dtstart);
        let mut it = RuleIter {
            r,
            year: 0,
            month: 0,
            day: 0,
            hour,
            minute,
            second,
            weekday: i64::from((weekday_sun0(days) + 6) % 7),
            info: YearInfo::default(),
            ts_empty: false,
            count_left: r.count,
            done: false,
            min_wall,
            buf: Vec::new(),
            pos: 0,
            days: Vec::new(),
            started: false,
            no_skip_day: i64::MIN,
            repeat: None,
            period_items: Vec::new(),
            replays: 0,
        };
        it.preflight()?;
        it.set_date(days)?;
        it.init_timeset();
        Ok(it)
    }

    /// An iterator that skips straight to the period holding `target` (a wall time), or
    /// starts at DTSTART when skipping could change the result: COUNT (occurrences count from
    /// DTSTART), a target inside the first period, or a rule whose iteration can fail in some
    /// periods only. Occurrences before `target` are dropped.
    pub fn starting_near(
        r: &'r Rule,
        target: i64,
        skip_ok: bool,
    ) -> Result<RuleIter<'r>, IterError> {
        let mut it = RuleIter::new(r, target)?;
        if !skip_ok || r.count.is_some() || target <= r.dtstart || !shortcuts() {
            return Ok(it);
        }
        let interval = r.interval;
        let (d0, ..) = split_wall(r.dtstart);
        let (tdays, ..) = split_wall(target);
        let (ty, tm, _) = civil_from_days(tdays);
        let (y0, mo0, _) = civil_from_days(d0);
        match r.freq {
            Freq::Yearly => {
                let k = (i64::from(ty) - i64::from(y0)).div_euclid(interval);
                if k >= 1 {
                    it.year = i64::from(y0) + k * interval;
                    if it.year > 9999 {
                        it.done = true;
                    } else {
                        it.rebuild_now()?;
                    }
                }
            }
            Freq::Monthly => {
                let idx0 = i64::from(y0) * 12 + i64::from(mo0) - 1;
                let tidx = i64::from(ty) * 12 + i64::from(tm) - 1;
                let k = (tidx - idx0).div_euclid(interval);
                if k >= 1 {
                    let idx = idx0 + k * interval;
                    it.year = idx.div_euclid(12);
                    it.month = idx.rem_euclid(12) + 1;
                    if it.year > 9999 {
                        it.done = true;
                    } else {
                        it.rebuild_now()?;
                    }
                }
            }
            Freq::Weekly => {
                let wkst = i64::from(r.wkst);
                let w0 = d0 - (it.weekday - wkst).rem_euclid(7);
                let k = (tdays - w0).div_euclid(7 * interval);
                if k >= 1 {
                    it.weekday = wkst;
                    it.set_date(w0 + k * 7 * interval)?;
                }
            }
            Freq::Daily => {
                let k = (tdays - d0).div_euclid(interval);
                if k >= 1 {
                    it.set_date(d0 + k * interval)?;
                }
            }
            Freq::Hourly | Freq::Minutely | Freq::Secondly => {
                // Periods sit on the lattice DTSTART + k·INTERVAL·unit (wall seconds). Start two
                // units before the target so the whole start period lies before it; advancing
                // from a lattice point reaches the next period dateutil would visit.
                let step = interval * r.unit_secs();
                let t0 = r.dtstart.div_euclid(MICROS);
                let k = (target.div_euclid(MICROS) - 2 * r.unit_secs() - t0).div_euclid(step);
                if k >= 1 {
                    let t = t0 + k * step;
                    it.hour = t.rem_euclid(86_400) / 3600;
                    it.minute = t.rem_euclid(3600) / 60;
                    it.second = t.rem_euclid(60);
                    it.set_date(t.div_euclid(86_400))?;
                    it.init_timeset();
                }
            }
        }
        Ok(it)
    }

    /// Errors dateutil raises on the first advance whatever the period (before yielding
    /// anything): out-of-range BYMINUTE/BYSECOND in a time set, BY values at the rule's own
    /// level that never occur.
    fn preflight(&self) -> Result<(), IterError> {
        let r = self.r;
        if let Err(e) = &r.subset {
            return Err(IterError::Failed(e.clone()));
        }
        if r.interval < 0 && r.freq >= Freq::Hourly {
            // dateutil walks backwards and fails, or (on filtered days) loops forever.
            return Err(IterError::Failed(format!(
                "INTERVAL={} runs backwards: dateutil accepts it but then fails or never ends; use a positive INTERVAL",
                r.interval
            )));
        }
        if r.freq >= Freq::Hourly {
            // dateutil searches the lattice DTSTART + k·INTERVAL for a time allowed by
            // BYHOUR/BYMINUTE/BYSECOND and fails (on its first advance, before yielding
            // anything) when none exists.
            let clock = Clock::of(r);
            let step = r.interval * r.unit_secs();
            let g = gcd(step, 86_400);
            let t0 = r.dtstart.div_euclid(MICROS);
            if !clock.reachable(t0.rem_euclid(g), g) {
                return Err(IterError::Failed(
                    "BYHOUR/BYMINUTE/BYSECOND values never occur with this INTERVAL and DTSTART, so the rule is empty"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    fn set_date(&mut self, days: i64) -> Result<(), IterError> {
        if days > MAX_DAY {
            self.done = true;
            return Ok(());
        }
        let (y, m, d) = civil_from_days(days);
        self.year = i64::from(y);
        self.month = i64::from(m);
        self.day = i64::from(d);
        self.rebuild_now()
    }

    fn rebuild_now(&mut self) -> Result<(), IterError> {
        self.info
            .rebuild(self.r, self.year, self.month)
            .map_err(IterError::Failed)
    }

    /// dateutil's initial time set for sub-daily rules: empty when DTSTART's own hour/minute/
    /// second is excluded by the BY part at the rule's level.
    fn init_timeset(&mut self) {
        let r = self.r;
        self.ts_empty = match r.freq {
            Freq::Hourly => !contains(&r.byhour, self.hour),
            Freq::Minutely => {
                !contains(&r.byhour, self.hour) || !contains(&r.byminute, self.minute)
            }
            Freq::Secondly => {
                !contains(&r.byhour, self.hour)
                    || !contains(&r.byminute, self.minute)
                    || !contains(&r.bysecond, self.second)
            }
            _ => false,
        };
    }

    /// Ends the iteration (for rules known to yield nothing).
    pub fn finish(&mut self) {
        self.done = true;
    }

    /// The next occurrence (wall µs), or `None` when the rule is exhausted.
    #[inline]
    pub fn next_wall(&mut self) -> Result<Option<i64>, IterError> {
        loop {
            if self.pos < self.buf.len() {
                let v = self.buf[self.pos];
                self.pos += 1;
                return Ok(Some(v));
            }
            if self.done {
                return Ok(None);
            }
            self.buf.clear();
            self.pos = 0;
            if let Some(items) = self.repeat.take() {
                self.replay(&items)?;
                self.repeat = Some(items);
                continue;
            }
            if self.started
                && self.count_left.is_some()
                && self.r.freq >= Freq::Hourly
                && shortcuts()
            {
                while self.skip_counted_day()? {}
                if self.done {
                    return Ok(None);
                }
            }
            self.period()?;
            self.started = true;
        }
    }

    /// COUNT rules count every occurrence from DTSTART, so a sub-daily rule far from its
    /// DTSTART would expand millions of periods only to count them. Skips, in one step, the
    /// periods of the current day whose occurrences all lie before `min_wall` (counting them
    /// arithmetically), or the whole day when the day filters exclude it, provided UNTIL and
    /// COUNT cannot end the rule in between; the state becomes the one dateutil reaches.
    /// Returns whether anything was skipped.
    fn skip_counted_day(&mut self) -> Result<bool, IterError> {
        let r = self.r;
        let Some(left) = self.count_left.filter(|_| r.interval > 0) else {
            return Ok(false);
        };
        let days = days_from_civil(self.year as i32, self.month as u8, self.day as u8);
        if days == self.no_skip_day {
            return Ok(false);
        }
        let day_end = (days + 1) * 86_400;
        let step = r.interval * r.unit_secs();
        let t = days * 86_400 + self.hour * 3600 + self.minute * 60 + self.second;
        let clock = Clock::of(r);
        let lim = if self.info.day_ok(r, days - self.info.yearordinal) {
            // A period's occurrences stay within its hour/minute/second.
            let unit = r.unit_secs();
            let lim = day_end.min(self.min_wall.div_euclid(MICROS).div_euclid(unit) * unit);
            if lim <= t || r.until.is_some_and(|u| u < lim.saturating_mul(MICROS)) {
                return Ok(false);
            }
            let items = clock.count_in(t, lim, step) * per_period(r);
            if items >= left {
                self.no_skip_day = days;
                return Ok(false);
            }
            self.count_left = Some(left - items);
            lim
        } else {
            // dateutil jumps over a filtered day, which yields nothing.
            day_end
        };
        let last = t + (lim - 1 - t).div_euclid(step) * step;
        let next = clock.next_valid(last, step);
        self.hour = next.rem_euclid(86_400) / 3600;
        self.minute = next.rem_euclid(3600) / 60;
        self.second = next.rem_euclid(60);
        self.ts_empty = false;
        self.set_date(next.div_euclid(86_400))?;
        Ok(!self.done)
    }

    /// INTERVAL=0: dateutil yields the same period again (counting it toward COUNT).
    fn replay(&mut self, items: &[i64]) -> Result<(), IterError> {
        self.replays += 1;
        if self.replays > MAX_REPLAYS && self.count_left.is_some() {
            // Prefect has seen nothing at or after its start in a thousand repeats, so none of
            // the remaining repeats (COUNT makes them finite) yields anything either.
            self.done = true;
            return Ok(());
        }
        if items.is_empty() || self.replays > MAX_REPLAYS {
            return Err(IterError::Failed(
                "INTERVAL=0 repeats the same period forever and it never reaches the requested start \
                 (Prefect would loop forever); use a positive INTERVAL"
                    .into(),
            ));
        }
        for &res in items {
            if !self.emit(res) {
                break;
            }
        }
        Ok(())
    }

    /// `until` / DTSTART / COUNT handling of one candidate; `false` ends the rule.
    #[inline]
    fn emit(&mut self, res: i64) -> bool {
        if self.r.until.is_some_and(|u| res > u) {
            self.done = true;
            return false;
        }
        if res >= self.r.dtstart {
            if self.r.interval == 0 {
                self.period_items.push(res);
            }
            if let Some(c) = &mut self.count_left {
                *c -= 1;
                if *c < 0 {
                    self.done = true;
                    return false;
                }
            }
            if res >= self.min_wall {
                self.buf.push(res);
            }
        }
        true
    }

    /// Expands the current period into the buffer, then advances to the next period.
    fn period(&mut self) -> Result<(), IterError> {
        let r = self.r;
        if self.day < 1 {
            // Only INTERVAL=0 WEEKLY can step back before the 1st; dateutil's date() fails.
            return Err(IterError::Failed(
                "INTERVAL=0 steps before the first of the month (dateutil fails)".into(),
            ));
        }
        self.period_items.clear();
        let (start, end) = match r.freq {
            Freq::Yearly => (0, self.info.yearlen),
            // A negative INTERVAL leaves months ≤ 0, which Python's slicing aliases to other
            // months or fails on.
            Freq::Monthly => {
                mrange_slice(&self.info.tables().mrange, self.month).ok_or_else(|| {
                    IterError::Failed(
                        "a negative INTERVAL runs past January (dateutil fails)".into(),
                    )
                })?
            }
            Freq::Weekly => {
                let mut i = days_from_civil(self.year as i32, self.month as u8, self.day as u8)
                    - self.info.yearordinal;
                let start = i;
                for _ in 0..7 {
                    i += 1;
                    if self.info.wday(i) == i64::from(r.wkst) {
                        break;
                    }
                }
                (start, i)
            }
            _ => {
                let i = days_from_civil(self.year as i32, self.month as u8, self.day as u8)
                    - self.info.yearordinal;
                (i, i + 1)
            }
        };
        // (base seconds of day, offsets)
        let (base, offsets): (i64, &[i64]) = match r.freq {
            Freq::Hourly | Freq::Minutely if self.ts_empty => (0, &[]),
            Freq::Hourly => (self.hour * 3600, r.subset.as_deref().unwrap_or(&[])),
            Freq::Minutely => (
                self.hour * 3600 + self.minute * 60,
                r.subset.as_deref().unwrap_or(&[]),
            ),
            Freq::Secondly if self.ts_empty => (0, &[]),
            Freq::Secondly => (self.hour * 3600 + self.minute * 60 + self.second, &[0]),
            _ => (0, &r.timeset),
        };
        let yo = self.info.yearordinal;
        let mut filtered = false;
        if !r.bysetpos.is_empty() && !offsets.is_empty() {
            let mut days = std::mem::take(&mut self.days);
            days.clear();
            for i in start..end {
                if self.info.day_ok(r, i) {
                    days.push(i);
                } else {
                    filtered = true;
                }
            }
            let len = offsets.len() as i64;
            let mut poslist: Vec<i64> = Vec::with_capacity(r.bysetpos.len());
            for &pos in &r.bysetpos {
                let pos = i64::from(pos);
                let p = if pos < 0 { pos } else { pos - 1 };
                let (daypos, timepos) = (p.div_euclid(len), p.rem_euclid(len));
                if let Some(di) = py_index(daypos, days.len() as i64) {
                    let res =
                        ((yo + days[di as usize]) * 86_400 + base + offsets[timepos as usize])
                            * MICROS;
                    if !poslist.contains(&res) {
                        poslist.push(res);
                    }
                }
            }
            poslist.sort_unstable();
            self.days = days;
            for res in poslist {
                if !self.emit(res) {
                    return Ok(());
                }
            }
        } else {
            for i in start..end {
                if !self.info.day_ok(r, i) {
                    filtered = true;
                    continue;
                }
                let day_base = ((yo + i) * 86_400 + base) * MICROS;
                for &off in offsets {
                    if !self.emit(day_base + off * MICROS) {
                        return Ok(());
                    }
                }
            }
        }
        if r.interval != 0 {
            return self.advance(filtered);
        }
        let before = (
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        );
        self.advance(filtered)?;
        if !self.done
            && before
                == (
                    self.year,
                    self.month,
                    self.day,
                    self.hour,
                    self.minute,
                    self.second,
                )
        {
            self.repeat = Some(std::mem::take(&mut self.period_items));
        }
        Ok(())
    }

    /// dateutil's "Handle frequency and interval" step.
    fn advance(&mut self, filtered: bool) -> Result<(), IterError> {
        let r = self.r;
        let interval = r.interval;
        let mut fixday = false;
        match r.freq {
            Freq::Yearly => {
                self.year += interval;
                if self.year > 9999 {
                    self.done = true;
                    return Ok(());
                }
                if self.year < 1 {
                    return Err(IterError::Failed(
                        "a negative INTERVAL runs past year 1 (dateutil fails)".into(),
                    ));
                }
                self.rebuild_now()?;
            }
            Freq::Monthly => {
                self.month += interval;
                if self.month > 12 {
                    let (div, m) = (self.month.div_euclid(12), self.month.rem_euclid(12));
                    self.month = m;
                    self.year += div;
                    if self.month == 0 {
                        self.month = 12;
                        self.year -= 1;
                    }
                    if self.year > 9999 {
                        self.done = true;
                        return Ok(());
                    }
                }
                self.rebuild_now()?;
            }
            Freq::Weekly => {
                let wkst = i64::from(r.wkst);
                self.day += -(self.weekday - wkst).rem_euclid(7) + interval * 7;
                self.weekday = wkst;
                fixday = true;
            }
            Freq::Daily => {
                self.day += interval;
                fixday = true;
            }
            Freq::Hourly | Freq::Minutely | Freq::Secondly => {
                self.advance_subdaily(filtered)?;
                self.ts_empty = false;
            }
        }
        if fixday && self.day > 28 {
            let dim = i64::from(days_in_month(self.year, self.month));
            if self.day > dim {
                let first = days_from_civil(self.year as i32, self.month as u8, 1);
                let target = first.saturating_add(self.day - 1);
                return self.set_date(target);
            }
        }
        Ok(())
    }

    /// HOURLY/MINUTELY/SECONDLY advance: dateutil's "jump to the day's last iteration when the
    /// day is filtered", then its search for the next lattice point whose hour/minute/second are
    /// allowed (done here by jumping from one allowed window to the next instead of stepping).
    fn advance_subdaily(&mut self, filtered: bool) -> Result<(), IterError> {
        let r = self.r;
        let step = r.interval * r.unit_secs();
        let days = days_from_civil(self.year as i32, self.month as u8, self.day as u8);
        let sod = self.hour * 3600 + self.minute * 60 + self.second;
        let mut t = days * 86_400 + sod;
        if step == 0 {
            // INTERVAL=0: dateutil divides by the interval on a filtered day and otherwise stays
            // put (its search only succeeds if the current time is allowed).
            return if !filtered && Clock::of(r).allowed(sod) {
                Ok(())
            } else {
                Err(IterError::Failed(
                    "INTERVAL=0 cannot move to another time (dateutil fails)".into(),
                ))
            };
        }
        if filtered {
            t += (86_399 - sod).div_euclid(step) * step;
        }
        let t = Clock::of(r).next_valid(t, step);
        self.hour = t.rem_euclid(86_400) / 3600;
        self.minute = t.rem_euclid(3600) / 60;
        self.second = t.rem_euclid(60);
        let new_days = t.div_euclid(86_400);
        if new_days != days {
            let first_of_month = days - (self.day - 1);
            let dim = i64::from(days_in_month(self.year, self.month));
            if new_days - first_of_month < dim {
                self.day += new_days - days;
            } else {
                self.set_date(new_days)?;
            }
        }
        Ok(())
    }
}

/// How many occurrences one period of a sub-daily rule yields (its time set, or the distinct
/// BYSETPOS picks from it).
fn per_period(r: &Rule) -> i64 {
    let times = match r.freq {
        Freq::Secondly => 1,
        _ => r.subset.as_ref().map_or(0, Vec::len) as i64,
    };
    if r.bysetpos.is_empty() || times == 0 {
        return times;
    }
    let mut picked: Vec<i64> = Vec::new();
    for &pos in &r.bysetpos {
        let pos = i64::from(pos);
        let p = if pos < 0 { pos } else { pos - 1 };
        if py_index(p.div_euclid(times), 1).is_some() && !picked.contains(&p.rem_euclid(times)) {
            picked.push(p.rem_euclid(times));
        }
    }
    picked.len() as i64
}

/// The times of day a sub-daily rule may stop at: BYHOUR (HOURLY and finer), BYMINUTE
/// (MINUTELY and finer), BYSECOND (SECONDLY), values outside the clock ignored.
struct Clock<'r> {
    hours: Option<&'r [i64]>,
    minutes: Option<&'r [i64]>,
    seconds: Option<&'r [i64]>,
}

/// The smallest allowed value ≥ `v` below `max` (`None` set: every value).
fn next_in(set: Option<&[i64]>, v: i64, max: i64) -> Option<i64> {
    match set {
        None => (v < max).then_some(v),
        Some(s) => s.iter().copied().find(|&x| x >= v && x < max),
    }
}

impl<'r> Clock<'r> {
    fn of(r: &'r Rule) -> Clock<'r> {
        Clock {
            hours: r.byhour.as_deref(),
            minutes: if r.freq >= Freq::Minutely {
                r.byminute.as_deref()
            } else {
                None
            },
            seconds: if r.freq >= Freq::Secondly {
                r.bysecond.as_deref()
            } else {
                None
            },
        }
    }

    #[inline]
    fn allowed(&self, sod: i64) -> bool {
        let ok = |set: Option<&[i64]>, v: i64| set.is_none_or(|s| s.contains(&v));
        ok(self.hours, sod / 3600) && ok(self.minutes, sod / 60 % 60) && ok(self.seconds, sod % 60)
    }

    /// The first allowed second of day at or after `sod`.
    fn next_allowed(&self, sod: i64) -> Option<i64> {
        let (h, m, s) = (sod / 3600, sod / 60 % 60, sod % 60);
        let first_m = next_in(self.minutes, 0, 60)?;
        let first_s = next_in(self.seconds, 0, 60)?;
        let h2 = next_in(self.hours, h, 24)?;
        if h2 > h {
            return Some(h2 * 3600 + first_m * 60 + first_s);
        }
        if let Some(m2) = next_in(self.minutes, m, 60) {
            if m2 > m {
                return Some(h * 3600 + m2 * 60 + first_s);
            }
            if let Some(s2) = next_in(self.seconds, s, 60) {
                return Some(h * 3600 + m * 60 + s2);
            }
            if let Some(m3) = next_in(self.minutes, m + 1, 60) {
                return Some(h * 3600 + m3 * 60 + first_s);
            }
        }
        let h3 = next_in(self.hours, h + 1, 24)?;
        Some(h3 * 3600 + first_m * 60 + first_s)
    }

    /// Whether some allowed second of day is congruent to `r0` modulo `g` (the lattice's
    /// positions within a day).
    fn reachable(&self, r0: i64, g: i64) -> bool {
        let mut x = match self.next_allowed(0) {
            Some(x) => x,
            None => return false,
        };
        loop {
            if x.rem_euclid(g) == r0 {
                return true;
            }
            let y = x + 1 + (r0 - (x + 1)).rem_euclid(g);
            if y >= 86_400 {
                return false;
            }
            x = if self.allowed(y) {
                y
            } else {
                match self.next_allowed(y) {
                    Some(x) => x,
                    None => return false,
                }
            };
        }
    }

    /// An end `e > sod` such that every second of day in `[sod, e)` is allowed (`sod` must be).
    fn allowed_until(&self, sod: i64) -> i64 {
        let run = |set: &[i64], from: i64| {
            let mut v = from;
            while set.contains(&(v + 1)) {
                v += 1;
            }
            v + 1
        };
        let (h, m, s) = (sod / 3600, sod / 60 % 60, sod % 60);
        match (self.hours, self.minutes, self.seconds) {
            (_, _, Some(secs)) => sod - s + run(secs, s).min(60),
            (_, Some(mins), None) => h * 3600 + run(mins, m).min(60) * 60,
            (Some(hours), None, None) => run(hours, h).min(24) * 3600,
            (None, None, None) => 86_400,
        }
    }

    /// How many lattice points `t + k·step` (k ≥ 0) before `end` fall on allowed times of day
    /// (`t` and `end` in the same day, `end` at most its end).
    fn count_in(&self, t: i64, end: i64, step: i64) -> i64 {
        let day0 = t - t.rem_euclid(86_400);
        let mut c = t;
        let mut n = 0;
        while c < end {
            let sod = c - day0;
            if self.allowed(sod) {
                let lim = (day0 + self.allowed_until(sod)).min(end);
                let k = (lim - 1 - c).div_euclid(step) + 1;
                n += k;
                c += k * step;
            } else {
                let Some(next) = self.next_allowed(sod) else {
                    break;
                };
                c += (day0 + next - c + step - 1).div_euclid(step) * step;
            }
        }
        n
    }

    /// The first lattice point `t + k·step` (k ≥ 1, wall seconds) at an allowed time of day.
    /// The lattice must reach an allowed time ([`Clock::reachable`]).
    fn next_valid(&self, t: i64, step: i64) -> i64 {
        let mut c = t + step;
        loop {
            let sod = c.rem_euclid(86_400);
            if self.allowed(sod) {
                return c;
            }
            let day0 = c - sod;
            let target = match self.next_allowed(sod) {
                Some(x) => day0 + x,
                None => day0 + 86_400 + self.next_allowed(0).unwrap_or(0),
            };
            c += (target - c + step - 1).div_euclid(step) * step;
        }
    }
}

/// Whether skipping periods can change what the rule yields: only dateutil's failures that
/// depend on the year or month (BYDAY=+n/-n reaching past its index tables, BYEASTER offsets
/// leaving the year) can, and INTERVAL ≤ 0 never advances.
pub(super) fn skip_safe(r: &Rule) -> bool {
    if r.interval <= 0 {
        return false;
    }
    for leap in [false, true] {
        let t = &TABLES[usize::from(leap)];
        let yearlen = 365 + i64::from(leap);
        for &offset in &r.byeaster {
            let eydays = if leap { 81..=115 } else { 80..=114 };
            for eyday in eydays {
                if py_index(eyday + offset, yearlen + 7).is_none() {
                    return false;
                }
            }
        }
        if r.bynweekday.is_empty() {
            continue;
        }
        let ranges: Vec<(i64, i64)> = match r.freq {
            Freq::Yearly => match &r.bymonth {
                // Bad months fail at the first period already; nothing to skip past.
                Some(months) => months
                    .iter()
                    .filter_map(|&m| mrange_slice(&t.mrange, m))
                    .collect(),
                None => vec![(0, yearlen)],
            },
            Freq::Monthly => (1..=12)
                .filter_map(|m| mrange_slice(&t.mrange, m))
                .collect(),
            _ => Vec::new(),
        };
        for jan1 in 0..7 {
            let wlen = 385 - jan1;
            for &(first, last) in &ranges {
                for &(_, n) in &r.bynweekday {
                    let i = if n < 0 {
                        last - 1 + (n + 1) * 7
                    } else {
                        first + (n - 1) * 7
                    };
                    if py_index(i, wlen).is_none() {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Whether the rule provably yields nothing, so that dateutil would iterate (silently) until
/// year 9999: no day of any kind of year passes the BY filters, or BYSETPOS selects positions
/// no period can have. Only meaningful for [`skip_safe`] rules.
pub(super) fn never_matches(r: &Rule) -> bool {
    let per_day = match r.freq {
        Freq::Hourly | Freq::Minutely => r.subset.as_ref().map_or(0, Vec::len),
        Freq::Secondly => 1,
        _ => r.timeset.len(),
    } as i64;
    // With BYSETPOS, how many days a period can hold matters; otherwise any day will do.
    let want_max = !r.bysetpos.is_empty() && per_day > 0;
    let mut max_days = 0i64;
    // Every combination of leap year, weekday of January 1st and (for week numbers) leapness
    // of the previous year occurs in any 400-year window; Easter dates are enumerated.
    let mut seen: Vec<(bool, i64, bool)> = Vec::new();
    let per_month = r.freq == Freq::Monthly && !r.bynweekday.is_empty();
    let months: &[i64] = if per_month {
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    } else {
        &[1]
    };
    let mut pass = [false; 373];
    for year in 2001..2401 {
        let key = (
            is_leap(year),
            (weekday_sun0(days_from_civil(year as i32, 1, 1)) as i64 + 6) % 7,
            !r.byweekno.is_empty() && is_leap(year - 1),
        );
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        for &month in months {
            let mut info = YearInfo::default();
            if info.rebuild(r, year, month).is_err() {
                return false;
            }
            let mr = info.tables().mrange;
            let (lo, hi) = if per_month {
                (
                    i64::from(mr[month as usize - 1]),
                    i64::from(mr[month as usize]),
                )
            } else if r.freq == Freq::Weekly {
                (0, info.yearlen + 7)
            } else {
                (0, info.yearlen)
            };
            // Easter falls on a Sunday between March 22 and April 25.
            let eydays: Vec<i64> = if r.byeaster.is_empty() {
                vec![0]
            } else {
                let range = if info.leap { 81..=115 } else { 80..=114 };
                range.filter(|&e| info.wday(e) == 6).collect()
            };
            for eyday in eydays {
                if !r.byeaster.is_empty() {
                    let mut mask = Bits::default();
                    for &offset in &r.byeaster {
                        match py_index(eyday + offset, info.yearlen + 7) {
                            Some(i) => mask.set(i as usize),
                            None => return false,
                        }
                    }
                    info.eastermask = mask;
                }
                pass.fill(false);
                let mut any = false;
                for i in lo..hi {
                    pass[i as usize] = info.day_ok(r, i);
                    any |= pass[i as usize];
                }
                if !any {
                    continue;
                }
                if !want_max {
                    return false;
                }
                let count = |a: i64, b: i64| {
                    pass[a as usize..b as usize].iter().filter(|&&p| p).count() as i64
                };
                let most = match r.freq {
                    Freq::Yearly => count(0, info.yearlen),
                    Freq::Monthly if per_month => count(lo, hi),
                    Freq::Monthly => (0..12)
                        .map(|m| count(i64::from(mr[m]), i64::from(mr[m + 1])))
                        .max()
                        .unwrap_or(0),
                    Freq::Weekly => (0..info.yearlen)
                        .map(|a| count(a, a + 7))
                        .max()
                        .unwrap_or(0),
                    _ => 1,
                };
                max_days = max_days.max(most);
            }
        }
    }
    if max_days == 0 {
        return true;
    }
    let reachable = r.bysetpos.iter().any(|&pos| {
        let pos = i64::from(pos);
        let daypos = if pos < 0 { pos } else { pos - 1 }.div_euclid(per_day);
        (0..max_days).contains(&daypos) || (-max_days..0).contains(&daypos)
    });
    !reachable
}

fn days_in_month(y: i64, m: i64) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_known_dates() {
        for (y, m, d) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_days(y), days_from_civil(y as i32, m, d), "{y}");
        }
    }

    #[test]
    fn python_month_slices() {
        let mr = &TABLES[0].mrange;
        assert_eq!(mrange_slice(mr, 1), Some((0, 31)));
        assert_eq!(mrange_slice(mr, 12), Some((334, 365)));
        assert_eq!(mrange_slice(mr, 13), None);
        assert_eq!(mrange_slice(mr, 0), None);
        assert_eq!(mrange_slice(mr, -1), None);
        assert_eq!(mrange_slice(mr, -2), Some((304, 334)));
        assert_eq!(mrange_slice(mr, -12), Some((0, 31)));
        assert_eq!(mrange_slice(mr, -13), None);
    }
}
