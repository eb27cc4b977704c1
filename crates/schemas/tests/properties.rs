//! Properties every schedule's dates keep, over random schedules, zones and starts.

use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use prefab_schemas::schedules::{IntervalSchedule, Schedule, ScheduledTime};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Kolkata",
];

fn wall(d: &ScheduledTime) -> i64 {
    d.as_microsecond() + i64::from(d.offset_seconds()) * 1_000_000
}

/// Instants from 2020 to 2030 — DST-heavy years for every zone above.
fn instant() -> impl Strategy<Value = Timestamp> {
    (1_577_836_800i64..1_893_456_000).prop_map(|s| Timestamp::from_second(s).unwrap())
}

fn interval_schedule() -> impl Strategy<Value = IntervalSchedule> {
    let seconds = prop_oneof![
        1i64..7200,
        (1i64..40).prop_map(|d| d * 86_400),
        3600i64..400_000
    ];
    (seconds, instant(), prop::sample::select(ZONES)).prop_map(|(secs, anchor, zone)| {
        let anchor = anchor.to_zoned_datetime(TimeZone::UTC);
        IntervalSchedule::new(SignedDuration::from_secs(secs), &anchor, Some(zone)).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Interval dates are sorted and unique by wall clock (Prefect compares datetimes that share
    /// a zone by wall clock), never before `start` nor after `end` on that clock, and each is
    /// expressed with the zone's real offset at its instant.
    #[test]
    fn interval_dates_are_ordered_and_bounded(s in interval_schedule(), start in instant(), n in 1usize..60, span_h in 0i64..2000) {
        let end = start + SignedDuration::from_hours(span_h);
        let tz = TimeZone::get(s.timezone()).unwrap();
        let start_wall = start.as_microsecond() + i64::from(tz.to_offset(start).seconds()) * 1_000_000;
        let end_wall = end.as_microsecond() + i64::from(tz.to_offset(end).seconds()) * 1_000_000;
        let dates = s.dates(Some(n), Some(start), Some(end)).unwrap();
        prop_assert!(dates.len() <= n);
        for pair in dates.windows(2) {
            prop_assert!(wall(&pair[0]) < wall(&pair[1]), "{} !< {}", pair[0], pair[1]);
        }
        for d in &dates {
            prop_assert!(wall(d) >= start_wall && wall(d) <= end_wall, "{d} outside [{start}, {end}]");
            prop_assert_eq!(tz.to_offset(d.timestamp()).seconds(), d.offset_seconds());
        }
    }

    /// Sub-day intervals keep exact spacing from the anchor; whole-day intervals step in whole
    /// calendar days on the wall clock.
    #[test]
    fn interval_spacing(s in interval_schedule(), start in instant()) {
        let dates = s.dates(Some(30), Some(start), None).unwrap();
        let every = s.interval().as_micros() as i64;
        let anchor = s.anchor_date().as_microsecond();
        if every < 86_400_000_000 {
            for d in &dates {
                prop_assert_eq!((d.as_microsecond() - anchor).rem_euclid(every), 0, "{} off the grid", d);
            }
        } else if every % 86_400_000_000 == 0 {
            let days = every / 86_400_000_000;
            for pair in dates.windows(2) {
                let a = pair[0].datetime().date();
                let b = pair[1].datetime().date();
                prop_assert_eq!(a.until(b).unwrap().get_days() as i64, days, "{} → {}", pair[0], pair[1]);
            }
        }
    }

    /// parse → normalise → parse is stable.
    #[test]
    fn interval_json_round_trip(s in interval_schedule()) {
        let json = serde_json::to_value(Schedule::from(s)).unwrap();
        let again = serde_json::to_value(Schedule::from_json(&json).unwrap()).unwrap();
        prop_assert_eq!(json, again);
    }
}
