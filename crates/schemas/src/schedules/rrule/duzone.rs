//! Wall clock → instant exactly as `dateutil.tz.tzfile.utcoffset` reads a wall time (fold=0).
//!
//! dateutil does not ask "which instants have this wall time"; it converts each transition to a
//! local "standard time" moment (the UTC instant plus the *base* offset, i.e. the offset minus
//! the transition's DST amount), finds the last such moment at or before the wall time, and
//! takes the previous offset while the wall time is within "previous offset − new offset" of it.
//! For ordinary zones that means: a fold takes the first (daylight) instant, a gap takes the
//! offset after the transition (02:30 on a New York spring-forward day is 01:30 EST). For zones
//! whose tz data marks *winter* as DST (Europe/Dublin's negative DST) the hour after the fall-back
//! is still read at summer time. Spec §6 DST.
//!
//! Transitions come from the real tz rules, including after 2037 where dateutil's own reader has
//! none (a deliberate difference, see the module docs).

use std::cell::Cell;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::schedules::zone::{MICROS, Zone};

/// A wall-clock range `[lo, hi)` read with one offset.
#[derive(Clone, Copy)]
struct Run {
    lo: i64,
    hi: i64,
    offset: i64,
}

/// One offset change: the UTC instant, and the offset and DST flag from then on (µs).
#[derive(Clone, Copy, Default)]
struct Entry {
    at: i64,
    offset: i64,
    dst: bool,
}

/// dateutil's reading of wall clocks in one zone, with a one-run cache.
pub(super) struct DuZone<'z> {
    tz: &'z TimeZone,
    run: Cell<Run>,
}

fn ts(micros: i64) -> Timestamp {
    crate::schedules::zone::to_timestamp(micros)
}

impl<'z> DuZone<'z> {
    pub fn new(zone: &'z Zone) -> DuZone<'z> {
        DuZone {
            tz: zone.time_zone(),
            run: Cell::new(Run {
                lo: 0,
                hi: 0,
                offset: 0,
            }),
        }
    }

    /// The instant (µs) dateutil gives the wall time (µs).
    #[inline]
    pub fn localize(&self, wall: i64) -> i64 {
        let run = self.run.get();
        if wall >= run.lo && wall < run.hi {
            return wall - run.offset;
        }
        self.localize_slow(wall)
    }

    #[cold]
    fn localize_slow(&self, wall: i64) -> i64 {
        // Transitions around the wall time read as UTC: three before (context for dateutil's
        // running DST bookkeeping) and two after.
        let probe = ts(wall);
        let mut list = [Entry::default(); 6];
        let mut n = 0;
        let mut before: [Entry; 3] = [Entry::default(); 3];
        let mut nb = 0;
        // `preceding` and `following` both exclude a transition exactly at the probe.
        for t in self.tz.preceding(ts(wall.saturating_add(1))).take(3) {
            before[nb] = Entry {
                at: t.timestamp().as_microsecond(),
                offset: i64::from(t.offset().seconds()) * MICROS,
                dst: t.dst().is_dst(),
            };
            nb += 1;
        }
        for e in before[..nb].iter().rev() {
            list[n] = *e;
            n += 1;
        }
        let mut nf = 0;
        for t in self.tz.following(probe).take(2) {
            nf += 1;
            list[n] = Entry {
                at: t.timestamp().as_microsecond(),
                offset: i64::from(t.offset().seconds()) * MICROS,
                dst: t.dst().is_dst(),
            };
            n += 1;
        }
        let list = &list[..n];
        // The state before the first listed transition.
        let first_at = list.first().map_or(wall, |e| e.at);
        let info = self.tz.to_offset_info(ts(first_at.saturating_sub(1)));
        let (mut lastdst, mut lastoffset) = (
            info.dst().is_dst(),
            i64::from(info.offset().seconds()) * MICROS,
        );
        let mut lastdstoffset = 0;
        let mut lastbaseoffset = lastoffset;
        let initial = lastoffset;
        // dateutil's "transition times relative to wall time".
        let mut local = [0i64; 6];
        for (i, e) in list.iter().enumerate() {
            let mut dstoffset = 0;
            if e.dst {
                if !lastdst {
                    dstoffset = e.offset - lastoffset;
                }
                if dstoffset == 0 && lastdstoffset != 0 {
                    dstoffset = lastdstoffset;
                }
                lastdstoffset = dstoffset;
            }
            let baseoffset = e.offset - dstoffset;
            let adjustment = if baseoffset != lastbaseoffset && e.dst != lastdst {
                lastbaseoffset
            } else {
                baseoffset
            };
            lastdst = e.dst;
            lastoffset = e.offset;
            lastbaseoffset = baseoffset;
            local[i] = e.at + adjustment;
        }
        let local = &local[..n];

        let offset_of = |idx: Option<usize>| idx.map_or(initial, |i| list[i].offset);
        // The last transition at or before the wall time (bisect_right - 1).
        let found = local.iter().rposition(|&t| t <= wall);
        let mut idx = found;
        let mut ambiguous = false;
        if let Some(i) = found {
            let od = offset_of(i.checked_sub(1)) - list[i].offset;
            if wall < local[i] + od {
                idx = i.checked_sub(1);
                ambiguous = true;
            }
        }
        let offset = offset_of(idx);
        if !ambiguous {
            // Wall times from here to the next transition (past any ambiguity window) read alike.
            let lo = match found {
                Some(i) => local[i] + (offset_of(i.checked_sub(1)) - list[i].offset).max(0),
                None if nb == 0 => i64::MIN,
                None => wall,
            };
            let next = found.map_or(0, |i| i + 1);
            let hi = if next < n {
                local[next]
            } else if nf < 2 {
                // No later transitions at all.
                i64::MAX
            } else {
                wall + 1
            };
            if lo <= wall && wall < hi {
                self.run.set(Run { lo, hi, offset });
            }
        }
        wall - offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedules::zone::wall_from_fields;

    fn at(zone: &str, wall: i64) -> String {
        let z = Zone::get(zone).unwrap();
        let i = DuZone::new(&z).localize(wall);
        jiff::Timestamp::from_microsecond(i).unwrap().to_string()
    }

    #[test]
    fn cached_runs_end_at_transitions() {
        let z = Zone::get("Europe/London").unwrap();
        let reader = DuZone::new(&z);
        let mut w = wall_from_fields(2026, 10, 24, 20, 0, 0);
        let mut got = Vec::new();
        for _ in 0..9 {
            got.push(
                jiff::Timestamp::from_microsecond(reader.localize(w))
                    .unwrap()
                    .to_string(),
            );
            w += 3600 * MICROS;
        }
        assert_eq!(
            got[4..],
            [
                "2026-10-24T23:00:00Z",
                "2026-10-25T00:00:00Z",
                "2026-10-25T02:00:00Z",
                "2026-10-25T03:00:00Z",
                "2026-10-25T04:00:00Z"
            ]
        );
    }

    #[test]
    fn dateutil_readings() {
        // Values from python-dateutil 2.9.0 (`datetime(...).replace(tzinfo=gettz(zone))`).
        let w = |y, mo, d, h, mi| wall_from_fields(y, mo, d, h, mi, 0);
        assert_eq!(
            at("America/New_York", w(2026, 3, 8, 2, 30)),
            "2026-03-08T06:30:00Z"
        );
        assert_eq!(
            at("America/New_York", w(2026, 11, 1, 1, 30)),
            "2026-11-01T05:30:00Z"
        );
        assert_eq!(
            at("America/New_York", w(2026, 11, 1, 2, 0)),
            "2026-11-01T07:00:00Z"
        );
        assert_eq!(
            at("Europe/Dublin", w(2026, 10, 25, 2, 30)),
            "2026-10-25T01:30:00Z"
        );
        assert_eq!(
            at("Europe/Dublin", w(2026, 10, 25, 1, 30)),
            "2026-10-25T00:30:00Z"
        );
        assert_eq!(
            at("Europe/Dublin", w(2026, 10, 25, 3, 0)),
            "2026-10-25T03:00:00Z"
        );
        assert_eq!(
            at("Europe/Dublin", w(2026, 3, 29, 1, 30)),
            "2026-03-29T01:30:00Z"
        );
        assert_eq!(
            at("Australia/Lord_Howe", w(2026, 10, 4, 2, 15)),
            "2026-10-03T15:15:00Z"
        );
        assert_eq!(
            at("Asia/Kolkata", w(2026, 1, 1, 0, 0)),
            "2025-12-31T18:30:00Z"
        );
        // A wall time whose UTC reading is exactly a transition instant.
        assert_eq!(
            at("Europe/London", w(2026, 10, 25, 1, 0)),
            "2026-10-25T00:00:00Z"
        );
        assert_eq!(
            at("Europe/London", w(2026, 10, 25, 2, 0)),
            "2026-10-25T02:00:00Z"
        );
    }
}
