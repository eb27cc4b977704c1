//! `dateutil.rrule.rrule.__init__`: turning one rule line's arguments plus a DTSTART into the
//! normalised rule the expansion works from (defaults taken from DTSTART, BY* sets, the time
//! set), with dateutil's construction-time errors.

use super::parse::{Freq, RuleArgs};
use super::pyparse::PyDateTime;
use crate::schedules::zone::{DAY_MICROS, MICROS, civil_from_days, weekday_sun0};

/// Intervals beyond this many units already jump past year 9999 in every frequency; larger
/// values are reduced to it while keeping their residue modulo 86 400, so gcd-based rules
/// (BYHOUR/BYMINUTE/BYSECOND reachability) are unchanged.
const INTERVAL_CAP: i128 = 1_000_000_000_000_000;

/// A rule ready to expand. Wall-clock values are µs since 1970-01-01T00:00 local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub freq: Freq,
    /// `INTERVAL` (may be ≤ 0: dateutil accepts it; expansion refuses it).
    pub interval: i64,
    pub count: Option<i64>,
    pub until: Option<i64>,
    /// DTSTART wall clock, whole seconds (dateutil drops the microseconds).
    pub dtstart: i64,
    /// Week start, 0 = Monday.
    pub wkst: u8,
    pub bysetpos: Vec<i32>,
    /// Months as given (sorted, unique); `bymonth_mask` has bit m for each m in 1..=12.
    pub bymonth: Option<Vec<i64>>,
    pub bymonth_mask: u16,
    pub byweekno: Vec<i64>,
    /// Bit d-1 for day-of-year d (positive, 1..=366) and for -d (negative), when given.
    pub byyearday: Option<([u64; 6], [u64; 6])>,
    pub byeaster: Vec<i64>,
    /// Bit d for month day d (1..=31) and bit d for -d; `Some` when either list is non-empty.
    pub bymonthday: Option<(u32, u32)>,
    /// Bit w for weekday w (0 = Monday).
    pub byweekday: Option<u8>,
    /// `(weekday, n)` pairs, YEARLY/MONTHLY only.
    pub bynweekday: Vec<(u8, i64)>,
    pub byhour: Option<Vec<i64>>,
    pub byminute: Option<Vec<i64>>,
    pub bysecond: Option<Vec<i64>>,
    /// Seconds of day of the occurrences in a day (YEARLY … DAILY), sorted.
    pub timeset: Vec<i64>,
    /// HOURLY: `minute*60 + second` offsets within the hour; MINUTELY: seconds within the
    /// minute. `Err` when a BYMINUTE/BYSECOND value is out of range: dateutil fails when it
    /// builds the first time set, i.e. before yielding anything.
    pub subset: Result<Vec<i64>, String>,
}

/// The current time as dateutil's `datetime.now()` would supply a missing DTSTART during
/// validation (only its clock fields can make construction fail).
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    /// Local wall clock (µs).
    pub local: i64,
    /// UTC wall clock (µs), used when UNTIL is time-zone aware.
    pub utc: i64,
}

fn clamp_i64(v: i128, cap: i128) -> i64 {
    v.clamp(-cap, cap) as i64
}

fn clamp_interval(v: i128) -> i64 {
    if v > INTERVAL_CAP {
        (INTERVAL_CAP - INTERVAL_CAP % 86_400 + v % 86_400) as i64
    } else if v < -INTERVAL_CAP {
        (-INTERVAL_CAP + INTERVAL_CAP % 86_400 + v % 86_400) as i64
    } else {
        v as i64
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a as i64
}

/// Wall-clock fields of a wall time: (days since epoch, hour, minute, second).
pub(super) fn split_wall(wall: i64) -> (i64, i64, i64, i64) {
    let secs = wall.div_euclid(MICROS);
    let tod = secs.rem_euclid(86_400);
    (secs.div_euclid(86_400), tod / 3600, tod / 60 % 60, tod % 60)
}

fn sorted_unique(v: &[i128], cap: i128) -> Vec<i64> {
    let mut out: Vec<i64> = v.iter().map(|&x| clamp_i64(x, cap)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `__construct_byset`: the BYxxx values at the rule's own level that the interval can reach
/// from DTSTART.
fn construct_byset(
    start: i64,
    byxxx: &[i64],
    base: i64,
    interval: i64,
    part: &str,
) -> Result<Vec<i64>, String> {
    let g = gcd(interval, base);
    let set: Vec<i64> = byxxx
        .iter()
        .copied()
        .filter(|&n| g == 1 || (n - start).rem_euclid(g) == 0)
        .collect();
    if set.is_empty() {
        return Err(format!(
            "{part} values {byxxx:?} are never reached: with INTERVAL={interval} counted from DTSTART's \
             {start}, only values congruent to {start} modulo {g} occur"
        ));
    }
    Ok(set)
}

impl Rule {
    /// Builds a rule the way `rrule(dtstart=..., **args)` does. `dtstart` `None` means "now"
    /// (validation without a DTSTART line).
    pub fn construct(
        args: &RuleArgs,
        dtstart: Option<PyDateTime>,
        now: Now,
    ) -> Result<Rule, String> {
        let freq = args.freq.ok_or("missing FREQ: every rule needs FREQ=YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY or SECONDLY")?;
        let until = args.until;
        let dtstart = match dtstart {
            Some(d) => d,
            None => {
                let aware = until.is_some_and(|u| u.aware);
                PyDateTime {
                    wall: if aware { now.utc } else { now.local },
                    aware,
                }
            }
        };
        if let Some(u) = until
            && u.aware != dtstart.aware
        {
            return Err(if dtstart.aware {
                "UNTIL must be in UTC (ending in Z) when DTSTART has a time zone (TZID or Z)".into()
            } else {
                "UNTIL has a time zone (Z) but DTSTART is floating (add Z or a TZID to DTSTART, or drop the Z \
                 from UNTIL; without a DTSTART line Prefect anchors the rule at a floating 2020-01-01)"
                    .into()
            });
        }
        let start_wall = dtstart.wall.div_euclid(MICROS) * MICROS;
        let (days, hour, minute, second) = split_wall(start_wall);
        let (_, month, day) = civil_from_days(days);
        let weekday_mon0 = i64::from((weekday_sun0(days) + 6) % 7);
        let interval = clamp_interval(args.interval.unwrap_or(1));

        let bysetpos = match &args.bysetpos {
            None => Vec::new(),
            Some(v) => {
                if let Some(bad) = v.iter().find(|&&p| p == 0 || !(-366..=366).contains(&p)) {
                    return Err(format!(
                        "BYSETPOS={bad} is out of range: use 1..366 or -366..-1"
                    ));
                }
                v.iter().map(|&p| p as i32).collect()
            }
        };

        let no_day_parts = args.byweekno.is_none()
            && args.byyearday.is_none()
            && args.bymonthday.is_none()
            && args.byweekday.is_none()
            && args.byeaster.is_none();
        let mut bymonth = args
            .bymonth
            .as_deref()
            .map(|v| sorted_unique(v, i128::from(i64::MAX)));
        let mut bymonthday = args.bymonthday.clone();
        let mut byweekday = args.byweekday.clone();
        if no_day_parts {
            match freq {
                Freq::Yearly => {
                    if bymonth.is_none() {
                        bymonth = Some(vec![i64::from(month)]);
                    }
                    bymonthday = Some(vec![i128::from(day)]);
                }
                Freq::Monthly => bymonthday = Some(vec![i128::from(day)]),
                Freq::Weekly => byweekday = Some(vec![(weekday_mon0 as u8, None)]),
                _ => {}
            }
        }
        let bymonth_mask = bymonth
            .as_ref()
            .map(|v| {
                v.iter()
                    .filter(|m| (1..=12).contains(*m))
                    .fold(0u16, |acc, &m| acc | 1 << m)
            })
            .unwrap_or(0);

        let byyearday = args.byyearday.as_ref().map(|v| {
            let (mut pos, mut neg) = ([0u64; 6], [0u64; 6]);
            for &d in v {
                if (1..=366).contains(&d) {
                    pos[(d - 1) as usize / 64] |= 1 << ((d - 1) % 64);
                } else if (-366..=-1).contains(&d) {
                    let k = -d - 1;
                    neg[k as usize / 64] |= 1 << (k % 64);
                }
            }
            (pos, neg)
        });
        let byeaster = args
            .byeaster
            .as_deref()
            .map(|v| sorted_unique(v, 1 << 40))
            .unwrap_or_default();

        let bymonthday = bymonthday.map(|v| {
            let (mut pos, mut neg) = (0u32, 0u32);
            for &d in &v {
                if (1..=31).contains(&d) {
                    pos |= 1 << d;
                } else if (-31..=-1).contains(&d) {
                    neg |= 1 << -d;
                }
            }
            // Zero is dropped from both lists (so BYMONTHDAY=0 alone filters nothing); other
            // values out of range still make the part "present" (and match nothing).
            let present = v.iter().any(|&d| d != 0);
            (present, pos, neg)
        });
        let bymonthday = match bymonthday {
            Some((true, pos, neg)) => Some((pos, neg)),
            _ => None,
        };

        let byweekno = args
            .byweekno
            .as_deref()
            .map(|v| sorted_unique(v, 1 << 40))
            .unwrap_or_default();

        let (mut plain, mut nth) = (0u8, Vec::new());
        let mut any_plain = false;
        if let Some(days) = &byweekday {
            for &(wd, n) in days {
                match n {
                    Some(n) if freq <= Freq::Monthly => {
                        let n = clamp_i64(n, 1 << 40);
                        if !nth.contains(&(wd, n)) {
                            nth.push((wd, n));
                        }
                    }
                    _ => {
                        plain |= 1 << wd;
                        any_plain = true;
                    }
                }
            }
        }
        nth.sort_unstable();
        let byweekday = any_plain.then_some(plain);

        let byhour = match &args.byhour {
            None => (freq < Freq::Hourly).then(|| vec![hour]),
            Some(v) => {
                let v = sorted_unique(v, 1 << 40);
                Some(if freq == Freq::Hourly {
                    construct_byset(hour, &v, 24, interval, "BYHOUR")?
                } else {
                    v
                })
            }
        };
        let byminute = match &args.byminute {
            None => (freq < Freq::Minutely).then(|| vec![minute]),
            Some(v) => {
                let v = sorted_unique(v, 1 << 40);
                Some(if freq == Freq::Minutely {
                    construct_byset(minute, &v, 60, interval, "BYMINUTE")?
                } else {
                    v
                })
            }
        };
        let bysecond = match &args.bysecond {
            None => (freq < Freq::Secondly).then(|| vec![second]),
            Some(v) => {
                let v = sorted_unique(v, 1 << 40);
                Some(if freq == Freq::Secondly {
                    construct_byset(second, &v, 60, interval, "BYSECOND")?
                } else {
                    v
                })
            }
        };

        let check = |part: &str, v: &[i64], max: i64| -> Result<(), String> {
            match v.iter().find(|x| !(0..max).contains(*x)) {
                Some(bad) => Err(format!("{part}={bad} is out of range: use 0..{}", max - 1)),
                None => Ok(()),
            }
        };
        let hours = byhour.as_deref().unwrap_or(&[]);
        let minutes = byminute.as_deref().unwrap_or(&[]);
        let seconds = bysecond.as_deref().unwrap_or(&[]);
        let mut timeset = Vec::new();
        if freq < Freq::Hourly {
            check("BYHOUR", hours, 24)?;
            check("BYMINUTE", minutes, 60)?;
            check("BYSECOND", seconds, 60)?;
            for h in hours {
                for m in minutes {
                    for s in seconds {
                        timeset.push(h * 3600 + m * 60 + s);
                    }
                }
            }
            timeset.sort_unstable();
        }
        let subset = match freq {
            Freq::Hourly => check("BYMINUTE", minutes, 60)
                .and(check("BYSECOND", seconds, 60))
                .map(|()| {
                    let mut v: Vec<i64> = minutes
                        .iter()
                        .flat_map(|m| seconds.iter().map(move |s| m * 60 + s))
                        .collect();
                    v.sort_unstable();
                    v
                }),
            Freq::Minutely => check("BYSECOND", seconds, 60).map(|()| seconds.to_vec()),
            _ => Ok(Vec::new()),
        };

        Ok(Rule {
            freq,
            interval,
            count: args.count.map(|c| clamp_i64(c, i128::from(i64::MAX))),
            until: until.map(|u| u.wall),
            dtstart: start_wall,
            wkst: args.wkst.unwrap_or(0),
            bysetpos,
            bymonth,
            bymonth_mask,
            byweekno,
            byyearday,
            byeaster,
            bymonthday,
            byweekday,
            bynweekday: nth,
            byhour,
            byminute,
            bysecond,
            timeset,
            subset,
        })
    }

    /// The period length in wall seconds of a sub-daily rule's lattice step.
    pub fn unit_secs(&self) -> i64 {
        match self.freq {
            Freq::Hourly => 3600,
            Freq::Minutely => 60,
            Freq::Secondly => 1,
            _ => DAY_MICROS / MICROS,
        }
    }
}
