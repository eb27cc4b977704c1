//! RRULE schedules (RFC 5545 as python-dateutil reads it), with Prefect's time-zone relabelling.
//!
//! The engine reproduces Prefect 3.9.1's `RRuleSchedule` date for date:
//!
//! * **Parsing** ([`RRuleSet::parse`]) follows `dateutil.rrule.rrulestr` (python-dateutil
//!   2.9.0): `RRULE:`-prefixed or bare rules, DTSTART/RDATE/EXDATE/EXRULE lines, case-insensitive
//!   names, `dateutil.parser` date values, and the checks `rrule(...)` makes when it is built.
//!   Parsing is zone-free: every date value keeps its wall clock, and whether it had a TZID or
//!   `Z` only matters for dateutil's "UNTIL must be UTC when DTSTART is aware" rule.
//! * **Expansion** (`rrule_dates`) follows `rrule._iter` period by period, merges rules, RDATEs,
//!   EXRULEs and EXDATEs like `rruleset`, and applies Prefect's `_get_dates_generator`: every
//!   value is relabelled to the schedule's zone keeping its wall clock (TZID and `Z` are
//!   effectively ignored, spec §6.2), a missing DTSTART means 2020-01-01T00:00 in that zone,
//!   dates are kept from `start` on (inclusive), stop after `end`, are de-duplicated, and at most
//!   1002 candidates are examined.
//!
//! Prefect walks every period from DTSTART; this engine jumps straight to the period around
//! `start` when that cannot change the result (no COUNT, no failure that depends on the year),
//! and counts the occurrences of skipped days arithmetically for sub-daily COUNT rules, so a
//! `FREQ=MINUTELY` rule anchored in 2020 costs about a microsecond instead of seconds. Rules that
//! provably never match end at once (dateutil iterates until year 9999).
//!
//! Differences from Prefect, on purpose (each one where Prefect itself is broken):
//!
//! * dateutil's time-zone reader knows no daylight-saving rules after 2037 (it assumes standard
//!   time), so Prefect's dates after 2037 in DST zones are off by the DST offset; this engine uses
//!   the real rules (spec §6, conformance README).
//! * A negative `INTERVAL` is reproduced for YEARLY…DAILY (dateutil walks backwards and fails,
//!   within its ten-candidate look-ahead); for HOURLY and finer, where dateutil can also loop
//!   forever, it is an error when dates are computed.
//!   `INTERVAL=0` is reproduced (the period repeats; Prefect de-duplicates), except that where
//!   Prefect would loop forever this engine reports an error.
//! * Where dateutil fills missing date parts from "today" or checks a rule without DTSTART against
//!   the current hour, "now" is taken when [`RRuleSet::parse`] runs (Prefect re-parses on every
//!   call). Non-ASCII digits, which Python's `int()` accepts, are refused.
//!
//! DST resolution is dateutil's (module `duzone`), which differs from the interval/cron engines in gaps:
//! a wall time in a fold takes the first (daylight) instant, a wall time in a gap takes the offset
//! after the transition, i.e. it moves *back* by the gap (02:30 on a New York spring-forward day
//! becomes 01:30 EST — and then coincides with the real 01:30 and is de-duplicated).

mod duzone;
mod expand;
mod parse;
mod pyparse;
mod rule;
mod tzstr;

use crate::schedules::ScheduleError;
use crate::schedules::zone::{DAY_MICROS, LAST_INSTANT, Zone};

use expand::{IterError, RuleIter};
use pyparse::{PyDateTime, Today};
use rule::{Now, Rule};

/// Prefect's `MAX_RRULE_LENGTH`.
const MAX_LEN: usize = 6500;

/// Prefect's `MAX_ITERATIONS`: its loop stops once the counter exceeds it, so at most 1002
/// candidates at or after `start` are examined.
const MAX_ITERATIONS: usize = 1000;

/// Prefect's anchor for rules without DTSTART: 2020-01-01T00:00 (floating, i.e. in the
/// schedule's zone).
const DEFAULT_DTSTART: i64 = crate::schedules::zone::wall_from_fields(2020, 1, 1, 0, 0, 0);

/// A parsed rrule string (RRULE/EXRULE/RDATE/EXDATE lines and an optional DTSTART).
///
/// Two sets are equal when their source strings are equal.
#[derive(Debug, Clone)]
pub struct RRuleSet {
    source: String,
    /// The rules as Prefect's `to_rrule` builds them (DTSTART defaulting to 2020-01-01), or why
    /// building them fails (Prefect then fails in `get_dates`, not at validation).
    plan: Result<Plan, String>,
}

impl PartialEq for RRuleSet {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for RRuleSet {}

/// The rule set ready for expansion (zone-free).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    rrules: Vec<Planned>,
    exrules: Vec<Planned>,
    /// Wall clocks, sorted.
    rdates: Vec<i64>,
    /// Wall clocks, sorted.
    exdates: Vec<i64>,
}

/// One rule with what the expansion may assume about it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    rule: Rule,
    /// Whether the iterator may jump past periods (see [`RuleIter::starting_near`]).
    skip_ok: bool,
    /// The rule provably yields nothing (dateutil would iterate until year 9999).
    never: bool,
}

impl RRuleSet {
    /// Parses a string with Prefect's validation rules (`validate_rrule_string`): what
    /// `dateutil.rrule.rrulestr(v, cache=True)` accepts, at most 6500 characters.
    ///
    /// Like dateutil, date values with missing parts take them from today's date, and a rule
    /// without DTSTART is checked against the current time (a few `FREQ=HOURLY;INTERVAL=…;BYHOUR=…`
    /// combinations are only valid at some hours — dateutil's behaviour, spec §6).
    pub fn parse(rrule: &str) -> Result<RRuleSet, ScheduleError> {
        let now = jiff::ZonedDateTime::now();
        let utc = now.timestamp().to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let wall = |z: &jiff::ZonedDateTime| {
            crate::schedules::zone::wall_from_fields(
                i32::from(z.year()),
                z.month() as u8,
                z.day() as u8,
                z.hour() as u8,
                z.minute() as u8,
                z.second() as u8,
            )
        };
        let today = Today {
            year: i32::from(now.year()),
            month: now.month() as u8,
            day: now.day() as u8,
        };
        RRuleSet::parse_at(
            rrule,
            today,
            Now {
                local: wall(&now),
                utc: wall(&utc),
            },
        )
    }

    /// [`RRuleSet::parse`] with an explicit "now".
    fn parse_at(rrule: &str, today: Today, now: Now) -> Result<RRuleSet, ScheduleError> {
        let invalid = |reason: String| ScheduleError::InvalidRRule {
            rrule: rrule.to_owned(),
            reason,
        };
        let len = rrule.chars().count();
        if len > MAX_LEN {
            return Err(ScheduleError::RRuleTooLong { len });
        }
        let src = parse::rrulestr(rrule, today).map_err(invalid)?;
        // Validation builds the rules with DTSTART = now when the string has none.
        for args in src.rrules.iter().chain(&src.exrules) {
            Rule::construct(args, src.dtstart, now).map_err(invalid)?;
        }
        let dtstart = src.dtstart.unwrap_or(PyDateTime {
            wall: DEFAULT_DTSTART,
            aware: false,
        });
        let build = |list: &[parse::RuleArgs]| -> Result<Vec<Planned>, String> {
            list.iter()
                .map(|args| {
                    let rule = Rule::construct(args, Some(dtstart), now)?;
                    let skip_ok = expand::skip_safe(&rule);
                    let never = skip_ok && expand::never_matches(&rule);
                    Ok(Planned {
                        rule,
                        skip_ok,
                        never,
                    })
                })
                .collect()
        };
        let plan = (|| {
            let mut rdates: Vec<i64> = src.rdates.iter().map(|d| d.wall).collect();
            let mut exdates: Vec<i64> = src.exdates.iter().map(|d| d.wall).collect();
            rdates.sort_unstable();
            exdates.sort_unstable();
            Ok(Plan {
                rrules: build(&src.rrules)?,
                exrules: build(&src.exrules)?,
                rdates,
                exdates,
            })
        })();
        Ok(RRuleSet {
            source: rrule.to_owned(),
            plan,
        })
    }

    /// The string as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A source of wall-clock candidates in dateutil's order.
enum Gen<'a> {
    Rule(Box<RuleIter<'a>>),
    Dates(&'a [i64]),
}

impl Gen<'_> {
    #[inline]
    fn next(&mut self) -> Result<Option<i64>, IterError> {
        match self {
            Gen::Rule(it) => it.next_wall(),
            Gen::Dates(rest) => Ok(rest.split_first().map(|(first, tail)| {
                *rest = tail;
                *first
            })),
        }
    }
}

/// `rruleset._iter`: the merge of rules and RDATEs minus EXRULEs and EXDATEs, with equal wall
/// clocks yielded once. Sources advance lazily, exactly when dateutil's heap would advance
/// them, so failures surface at the same point.
struct Merge<'a> {
    incl: Vec<(Gen<'a>, Option<i64>)>,
    excl: Vec<(Gen<'a>, Option<i64>)>,
    last: Option<i64>,
    pending: Option<usize>,
}

impl<'a> Merge<'a> {
    fn new(incl: Vec<Gen<'a>>, excl: Vec<Gen<'a>>) -> Result<Merge<'a>, IterError> {
        let prime = |gens: Vec<Gen<'a>>| -> Result<Vec<(Gen<'a>, Option<i64>)>, IterError> {
            gens.into_iter()
                .map(|mut g| {
                    let cur = g.next()?;
                    Ok((g, cur))
                })
                .collect()
        };
        Ok(Merge {
            incl: prime(incl)?,
            excl: prime(excl)?,
            last: None,
            pending: None,
        })
    }

    fn min_of(list: &[(Gen<'a>, Option<i64>)]) -> Option<(usize, i64)> {
        list.iter()
            .enumerate()
            .filter_map(|(i, (_, c))| c.map(|c| (i, c)))
            .min_by_key(|&(_, c)| c)
    }

    fn next(&mut self) -> Result<Option<i64>, IterError> {
        loop {
            if let Some(i) = self.pending.take() {
                let (g, cur) = &mut self.incl[i];
                *cur = g.next()?;
            }
            let Some((i, dt)) = Self::min_of(&self.incl) else {
                return Ok(None);
            };
            self.pending = Some(i);
            if self.last == Some(dt) {
                continue;
            }
            while let Some((j, ex)) = Self::min_of(&self.excl) {
                if ex >= dt {
                    break;
                }
                let (g, cur) = &mut self.excl[j];
                *cur = g.next()?;
            }
            self.last = Some(dt);
            if Self::min_of(&self.excl).is_none_or(|(_, ex)| ex != dt) {
                return Ok(Some(dt));
            }
        }
    }
}

/// The candidates of the whole set: one rule alone (the common case, no merging), or a merge.
enum Stream<'a> {
    Single(Box<RuleIter<'a>>),
    Set(Merge<'a>),
    Empty,
}

impl Stream<'_> {
    #[inline]
    fn next(&mut self) -> Result<Option<i64>, IterError> {
        match self {
            Stream::Single(it) => it.next_wall(),
            Stream::Set(m) => m.next(),
            Stream::Empty => Ok(None),
        }
    }
}

/// The earliest wall clock whose instant can be ≥ `start`: `start` plus the smallest offset in
/// force around it (offsets never change by more than a day).
fn window_start(zone: &Zone, start: i64) -> i64 {
    let lo = start.saturating_sub(3 * DAY_MICROS);
    let hi = start.saturating_add(DAY_MICROS);
    let mut min_off = zone.offset_at(start);
    let mut t = lo;
    min_off = min_off.min(zone.offset_at(lo));
    while let Some(tr) = zone.transition_after(t) {
        if tr.at > hi {
            break;
        }
        min_off = min_off.min(tr.before).min(tr.after);
        t = tr.at;
    }
    start.saturating_add(min_off)
}

/// The iterator of one planned rule, started near the `from` wall clock.
fn planned_iter(p: &Planned, from: i64) -> Result<RuleIter<'_>, IterError> {
    let mut it = RuleIter::starting_near(&p.rule, from, p.skip_ok)?;
    if p.never && expand::shortcuts() {
        it.finish();
    }
    Ok(it)
}

/// Run dates (instants, µs since the epoch) per Prefect's `RRuleSchedule._get_dates_generator`,
/// in the order the generator yields them: wall-clock order, which is instant order except next to
/// a DST gap (dateutil reads a gap time as the hour before it). `get_dates` returns them sorted.
///
/// Fails with [`ScheduleError::InvalidRRule`] where Prefect's `get_dates` raises for a rule it
/// accepted (e.g. `UNTIL=…Z` without DTSTART: the default DTSTART is floating).
pub(crate) fn rrule_dates(
    set: &RRuleSet,
    zone: &Zone,
    start: i64,
    end: Option<i64>,
    n: usize,
) -> Result<Vec<i64>, ScheduleError> {
    let failed = |reason: String| ScheduleError::InvalidRRule {
        rrule: set.source.clone(),
        reason: format!("Prefect accepts this rule but fails to compute its dates: {reason}"),
    };
    let plan = set.plan.as_ref().map_err(|e| failed(e.clone()))?;
    // A rule whose iteration can fail part-way (a negative or zero INTERVAL, BY parts that
    // fail in some years only) is walked exactly as dateutil walks it, from DTSTART, including
    // the cached iterator's look-ahead: `rrulestr(..., cache=True)` fetches candidates ten at a
    // time, so a failure within the next ten candidates surfaces before Prefect stops.
    let exact = plan.rrules.iter().chain(&plan.exrules).any(|p| !p.skip_ok);
    let from = if exact {
        i64::MIN
    } else {
        window_start(zone, start)
    };
    let iter = |p| planned_iter(p, from);
    let after = |dates: &[i64]| dates.partition_point(|&d| d < from);
    let simple = plan.rdates.is_empty() && plan.exdates.is_empty() && plan.exrules.is_empty();
    let stream = (|| -> Result<Stream<'_>, IterError> {
        Ok(match (simple, plan.rrules.as_slice()) {
            (true, [only]) => Stream::Single(Box::new(iter(only)?)),
            (true, []) => Stream::Empty,
            _ => {
                let mut incl = vec![Gen::Dates(&plan.rdates[after(&plan.rdates)..])];
                for p in &plan.rrules {
                    incl.push(Gen::Rule(Box::new(iter(p)?)));
                }
                let mut excl = vec![Gen::Dates(&plan.exdates[after(&plan.exdates)..])];
                for p in &plan.exrules {
                    excl.push(Gen::Rule(Box::new(iter(p)?)));
                }
                Stream::Set(Merge::new(incl, excl)?)
            }
        })
    })();
    let mut stream = stream.map_err(|IterError::Failed(e)| failed(e))?;

    let reader = duzone::DuZone::new(zone);
    let mut out: Vec<i64> = Vec::with_capacity(n.clamp(1, MAX_ITERATIONS + 2));
    let mut keys: Vec<i64> = Vec::with_capacity(out.capacity());
    let mut max_key = i64::MIN;
    let mut counter = 0usize;
    let mut ahead: std::collections::VecDeque<i64> = std::collections::VecDeque::new();
    loop {
        let next = if exact {
            if ahead.is_empty() {
                for _ in 0..10 {
                    match stream.next() {
                        Ok(Some(w)) => ahead.push_back(w),
                        Ok(None) => break,
                        Err(IterError::Failed(e)) => return Err(failed(e)),
                    }
                }
            }
            Ok(ahead.pop_front())
        } else {
            stream.next()
        };
        let wall = match next {
            Ok(Some(w)) => w,
            Ok(None) => break,
            Err(IterError::Failed(e)) => return Err(failed(e)),
        };
        let instant = reader.localize(wall);
        if instant < start {
            continue;
        }
        // Past the end of representable time (9999-12-30T22:00Z) the dates end: a later wall
        // clock has a later instant, except a gap's, which moves back by at most a day.
        if end.is_some_and(|e| instant > e) || instant > LAST_INSTANT {
            break;
        }
        // Prefect keeps a set of datetimes in the schedule's zone, and Python compares those by
        // wall clock, ignoring `fold`: two instants with the same local time (the two passes of
        // a fold) count as one (spec §6.3). Keys follow generation order except around
        // transitions (never by more than a day), so a duplicate is among the last few dates.
        let key = zone.to_wall(instant);
        let dup = key <= max_key
            && keys
                .iter()
                .rev()
                .take_while(|&&k| k > key - 2 * DAY_MICROS)
                .any(|&k| k == key);
        if !dup {
            out.push(instant);
            keys.push(key);
            max_key = max_key.max(key);
        }
        if out.len() >= n || counter > MAX_ITERATIONS {
            break;
        }
        counter += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
