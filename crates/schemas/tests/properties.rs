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
    /// a zone by wall clock), never before `start` nor after `end` on that clock (or, at a
    /// fall-back change's own instant, as an instant), and each is expressed with the zone's
    /// real offset at its instant.
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
            // Inside the window on the wall clock — or, for a date at the very instant a
            // fall-back change happens, inside it as an instant: its wall clock is already the
            // repeated hour's (Prefect 3.9.1 returns 2028-04-02T02:45:00+12:45 for a 93 s
            // Chatham interval from 13:19:43Z, the change's own instant, first).
            let instant = d.as_microsecond();
            let inside_wall = wall(d) >= start_wall && wall(d) <= end_wall;
            let inside_instant =
                instant >= start.as_microsecond() && instant <= end.as_microsecond();
            prop_assert!(inside_wall || inside_instant, "{d} outside [{start}, {end}]");
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

/// A cron expression of plain value lists (no ranges that cover a whole field, which croniter
/// reads as `*`), with an independent matcher.
#[derive(Debug, Clone)]
struct PlainCron {
    minutes: Vec<u8>,
    hours: Vec<u8>,
    days: Option<Vec<u8>>,
    months: Option<Vec<u8>>,
    weekdays: Option<Vec<u8>>,
}

impl PlainCron {
    fn text(&self) -> String {
        let list = |v: &Option<Vec<u8>>| match v {
            None => "*".to_owned(),
            Some(v) => v.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
        };
        format!(
            "{} {} {} {} {}",
            list(&Some(self.minutes.clone())),
            list(&Some(self.hours.clone())),
            list(&self.days),
            list(&self.months),
            list(&self.weekdays)
        )
    }

    fn matches(&self, dt: jiff::civil::DateTime, day_or: bool) -> bool {
        let has = |v: &Option<Vec<u8>>, x: u8| v.as_ref().is_none_or(|v| v.contains(&x));
        let dom = has(&self.days, dt.day() as u8);
        let dow = has(&self.weekdays, dt.weekday().to_sunday_zero_offset() as u8);
        let day = if day_or && self.days.is_some() && self.weekdays.is_some() {
            dom || dow
        } else {
            dom && dow
        };
        dt.second() == 0
            && self.minutes.contains(&(dt.minute() as u8))
            && self.hours.contains(&(dt.hour() as u8))
            && has(&self.months, dt.month() as u8)
            && day
    }
}

fn plain_cron() -> impl Strategy<Value = PlainCron> {
    let some = |lo: u8, hi: u8, max: usize| {
        prop::collection::btree_set(lo..=hi, 1..=max)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>())
    };
    (
        some(0, 59, 4),
        some(0, 23, 4),
        prop::option::of(some(1, 28, 3)),
        prop::option::weighted(0.3, some(1, 12, 4)),
        prop::option::of(some(0, 6, 3)),
    )
        .prop_map(|(minutes, hours, days, months, weekdays)| PlainCron {
            minutes,
            hours,
            days,
            months,
            weekdays,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Cron dates are strictly increasing instants inside `[start, end]`, and each matches the
    /// expression on the zone's wall clock — or is the forward-shifted image of a wall time that a
    /// spring-forward gap skipped.
    #[test]
    fn cron_dates_match_their_expression(cron in plain_cron(), zone in prop::sample::select(ZONES), day_or in any::<bool>(), start in instant(), span_d in 1i64..120) {
        let text = cron.text();
        let schedule = prefab_schemas::schedules::CronSchedule::new(&text).unwrap()
            .with_timezone(zone).unwrap().with_day_or(day_or);
        let end = start + SignedDuration::from_hours(24 * span_d);
        let dates = schedule.dates(Some(50), Some(start), Some(end)).unwrap();
        let tz = TimeZone::get(zone).unwrap();
        for pair in dates.windows(2) {
            prop_assert!(pair[0].timestamp() < pair[1].timestamp());
        }
        for d in &dates {
            prop_assert!(d.timestamp() >= start && d.timestamp() <= end, "{d} outside the bounds");
            let wall = d.datetime();
            let shifted = tz.preceding(d.timestamp() + SignedDuration::from_secs(1)).next().and_then(|t| {
                let before = tz.to_offset(t.timestamp() - SignedDuration::from_secs(1)).seconds();
                let gap = t.offset().seconds() - before;
                let since = (d.timestamp() - t.timestamp()).as_secs();
                (gap > 0 && since < i64::from(gap)).then(|| wall - SignedDuration::from_secs(i64::from(gap)))
            });
            prop_assert!(
                cron.matches(wall, day_or) || shifted.is_some_and(|w| cron.matches(w, day_or)),
                "{d} does not match {text:?} (day_or {day_or}) in {zone}"
            );
        }
    }

    /// parse → normalise → parse is stable for cron schedules.
    #[test]
    fn cron_json_round_trip(cron in plain_cron(), zone in prop::option::of(prop::sample::select(ZONES)), day_or in any::<bool>()) {
        let json = serde_json::json!({"cron": cron.text(), "timezone": zone, "day_or": day_or});
        let once = serde_json::to_value(Schedule::from_json(&json).unwrap()).unwrap();
        prop_assert_eq!(&once, &json);
        let twice = serde_json::to_value(Schedule::from_json(&once).unwrap()).unwrap();
        prop_assert_eq!(once, twice);
    }
}

/// An interval whose next date would pass Python's `datetime.max` is valid (Prefect's
/// `get_dates` then raises `OverflowError`): the dates end at the last one at or before the last
/// instant, without overflowing and without a clamped date (deviation S8; found by the fuzzer).
#[test]
fn dates_end_at_the_year_9999() {
    for (interval, zone) in [
        (8_300_147_285_498.461, "America/New_York"),
        (8_300_147_285_498.0, "UTC"),
        (8_639_999_999_999.0, "Europe/London"),
        (100.0 * 365.25 * 86_400.0, "America/New_York"),
    ] {
        let body = serde_json::json!({
            "interval": interval,
            "anchor_date": "2026-03-08T02:30:00-05:00",
            "timezone": zone,
        });
        let schedule = Schedule::from_json(&body).unwrap();
        let start = Timestamp::from_second(0).unwrap();
        let dates = schedule.dates(Some(200), Some(start), None).unwrap();
        assert!(!dates.is_empty(), "{body}: the anchor itself is in range");
        // 9999-12-31 23:59:59.999999, wall clock.
        const MAX_WALL: i64 = 253_402_300_800_000_000 - 1;
        assert!(
            dates.iter().all(|d| wall(d) <= MAX_WALL
                && d.as_microsecond() <= LAST_INSTANT
                && d.timestamp().as_microsecond() == d.as_microsecond()),
            "{body}: {dates:?}"
        );
        // A century interval: every date up to the year 9999, none after.
        if interval < 1e10 {
            assert_eq!(dates.len(), 80, "{body}: {dates:?}");
        }
    }
}

/// The last instant a date can have: 9999-12-30T22:00:00.999999Z (`jiff::Timestamp::MAX`).
const LAST_INSTANT: i64 = 253_402_207_200_999_999;

/// Zones for the end of time: fixed offsets far east and west (so the independent checks
/// below can compute wall clocks), and two with daylight saving.
const END_ZONES: &[&str] = &[
    "UTC",
    "Asia/Tokyo",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kolkata",
    "America/New_York",
    "Australia/Sydney",
];

/// The zone's offset (µs) if it is fixed in the year 9999.
fn fixed_offset(zone: &str) -> Option<i64> {
    match zone {
        "UTC" => Some(0),
        "Asia/Tokyo" => Some(9 * 3_600_000_000),
        "Pacific/Kiritimati" => Some(14 * 3_600_000_000),
        "Pacific/Pago_Pago" => Some(-11 * 3_600_000_000),
        "Asia/Kolkata" => Some(19_800_000_000),
        _ => None,
    }
}

/// Instants from 9999-11-01 to the last one.
fn late_instant() -> impl Strategy<Value = i64> {
    (253_399_622_400_000_000i64..=LAST_INSTANT).prop_map(|us| us - us % 1_000_000)
}

/// What every schedule's dates keep at the end of time: no error, no more than `n`, none
/// before `start`, strictly increasing, and none clamped (a date past the last instant would
/// come back from `timestamp()` as another instant — a date not on the schedule).
fn check_end_of_time(
    dates: &Result<Vec<ScheduledTime>, prefab_schemas::ScheduleError>,
    start: i64,
    n: usize,
) -> Result<(), TestCaseError> {
    let dates = dates
        .as_ref()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(dates.len() <= n);
    for d in dates {
        prop_assert!(d.as_microsecond() >= start, "{d} before the start");
        prop_assert!(
            d.as_microsecond() <= LAST_INSTANT,
            "{d} past the last instant"
        );
        prop_assert_eq!(
            d.timestamp().as_microsecond(),
            d.as_microsecond(),
            "{} clamped",
            d
        );
    }
    for pair in dates.windows(2) {
        prop_assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Interval dates near the year 9999 are on the schedule's grid, and stop at the last one:
    /// fewer than `n` only when the next grid point is past the last instant.
    #[test]
    fn interval_dates_at_the_end_of_time(
        secs in prop_oneof![1i64..7200, (1i64..72).prop_map(|h| h * 3600), (1i64..10).prop_map(|d| d * 86_400)],
        anchor_back in -(40 * 86_400i64)..(200 * 86_400),
        start in late_instant(),
        zone in prop::sample::select(END_ZONES),
        n in 1usize..400,
    ) {
        let anchor_us = (start - anchor_back * 1_000_000).min(LAST_INSTANT - LAST_INSTANT % 1_000_000);
        let anchor = Timestamp::from_microsecond(anchor_us).unwrap().to_zoned_datetime(TimeZone::UTC);
        let s = IntervalSchedule::new(SignedDuration::from_secs(secs), &anchor, Some(zone)).unwrap();
        let dates = s.dates(Some(n), Some(Timestamp::from_microsecond(start).unwrap()), None);
        check_end_of_time(&dates, start, n)?;
        let dates = dates.unwrap();
        let every = secs * 1_000_000;
        // In a fixed-offset zone every interval is exact, so the grid is known independently.
        if fixed_offset(zone).is_some() || every < 86_400_000_000 {
            for d in &dates {
                prop_assert_eq!((d.as_microsecond() - anchor_us).rem_euclid(every), 0, "{} off the grid", d);
            }
            if fixed_offset(zone).is_some() && dates.len() < n {
                let next = match dates.last() {
                    Some(last) => last.as_microsecond() + every,
                    None if start <= anchor_us => anchor_us,
                    None => start + (anchor_us - start).rem_euclid(every),
                };
                prop_assert!(next > LAST_INSTANT, "{} dates, but {next} µs is on the grid and in range", dates.len());
            }
        }
    }

    /// Cron dates near the year 9999 match the expression, and end with the last match before
    /// the last instant (croniter fails with an overflow there; prefab returns the dates).
    #[test]
    fn cron_dates_at_the_end_of_time(
        cron in plain_cron(),
        start in late_instant(),
        zone in prop::sample::select(END_ZONES),
        day_or in any::<bool>(),
        n in 1usize..200,
    ) {
        let text = cron.text();
        let schedule = prefab_schemas::schedules::CronSchedule::new(&text).unwrap()
            .with_timezone(zone).unwrap().with_day_or(day_or);
        let dates = schedule.dates(Some(n), Some(Timestamp::from_microsecond(start).unwrap()), None);
        check_end_of_time(&dates, start, n)?;
        let dates = dates.unwrap();
        let Some(offset) = fixed_offset(zone) else { return Ok(()) };
        let civil = |instant: i64| jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0)
            .checked_add(SignedDuration::from_micros(instant + offset)).unwrap();
        for d in &dates {
            prop_assert!(cron.matches(civil(d.as_microsecond()), day_or), "{d} does not match {text:?}");
        }
        if dates.len() < n {
            // No minute between the last date (or the start) and the last instant matches.
            let from = dates.last().map_or(start - 1, |d| d.as_microsecond());
            let mut minute = (from.div_euclid(60_000_000) + 1) * 60_000_000;
            while minute <= LAST_INSTANT {
                prop_assert!(!cron.matches(civil(minute), day_or), "{} dates, but {} matches {text:?}", dates.len(), civil(minute));
                minute += 60_000_000;
            }
        }
    }

    /// RRule dates near the year 9999 are on the rule's grid and stop at the last instant.
    #[test]
    fn rrule_dates_at_the_end_of_time(
        hours in 1i64..30,
        start in late_instant(),
        zone in prop::sample::select(END_ZONES),
        n in 1usize..300,
    ) {
        let rule = format!("DTSTART:99990101T000000\nRRULE:FREQ=HOURLY;INTERVAL={hours}");
        let schedule = prefab_schemas::schedules::RRuleSchedule::new(&rule).unwrap()
            .with_timezone(zone).unwrap();
        let dates = schedule.dates(Some(n), Some(Timestamp::from_microsecond(start).unwrap()), None);
        check_end_of_time(&dates, start, n)?;
        let dates = dates.unwrap();
        let Some(offset) = fixed_offset(zone) else { return Ok(()) };
        // DTSTART is a wall clock in the zone.
        let dtstart = 253_370_764_800_000_000 - offset;
        let every = hours * 3_600_000_000;
        for d in &dates {
            prop_assert_eq!((d.as_microsecond() - dtstart).rem_euclid(every), 0, "{} off the grid", d);
        }
        if dates.len() < n {
            let next = match dates.last() {
                Some(last) => last.as_microsecond() + every,
                None => start + (dtstart - start).rem_euclid(every),
            };
            prop_assert!(next > LAST_INSTANT, "{} dates, but {next} µs is on the grid and in range", dates.len());
        }
    }
}

/// `prefab schedule preview --interval 86400 --start 9999-12-25T00:00:00Z -n 10` (issue 12):
/// six dates, the last on 9999-12-30 — not a clamped "9999-12-30T22:00:00Z". The same for a
/// daily cron (which reported "never fires") and a daily rrule.
#[test]
fn daily_schedules_end_on_the_last_day_in_range() {
    let start: Timestamp = "9999-12-25T00:00:00Z".parse().unwrap();
    for body in [
        serde_json::json!({"interval": 86400, "anchor_date": "9999-12-25T00:00:00Z", "timezone": "UTC"}),
        serde_json::json!({"cron": "0 0 * * *", "timezone": "UTC"}),
        serde_json::json!({"rrule": "FREQ=DAILY", "timezone": "UTC"}),
    ] {
        let schedule = Schedule::from_json(&body).unwrap();
        let dates = schedule
            .dates(Some(10), Some(start), None)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
        let want: Vec<String> = (25..=30)
            .map(|d| format!("9999-12-{d}T00:00:00+00:00"))
            .collect();
        assert_eq!(shown, want, "{body}");
    }
    // An hourly interval in Tokyo (+09:00): the last instant is 07:00 on the 31st, local.
    let body = serde_json::json!({"interval": 3600, "anchor_date": "9999-12-30T20:00:00Z", "timezone": "Asia/Tokyo"});
    let dates = Schedule::from_json(&body)
        .unwrap()
        .dates(
            Some(10),
            Some("9999-12-30T20:00:00Z".parse().unwrap()),
            None,
        )
        .unwrap();
    let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "9999-12-31T05:00:00+09:00",
            "9999-12-31T06:00:00+09:00",
            "9999-12-31T07:00:00+09:00"
        ]
    );
}

/// The first year: a cron search that starts at 0001-01-01T00:00Z west of Greenwich starts on a
/// year-0 wall clock; it used to report "never fires". A start before year 1 is raised to it.
#[test]
fn dates_begin_in_the_year_1() {
    let start: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
    let cron = Schedule::from_json(
        &serde_json::json!({"cron": "0 0 * * *", "timezone": "America/New_York"}),
    )
    .unwrap();
    let dates = cron.dates(Some(2), Some(start), None).unwrap();
    let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
    // New York's local mean time: −04:56:02.
    assert_eq!(
        shown,
        [
            "0001-01-01T00:00:00-04:56:02",
            "0001-01-02T00:00:00-04:56:02"
        ]
    );
    let early: Timestamp = "-000005-06-01T00:00:00Z".parse().unwrap();
    for body in [
        serde_json::json!({"interval": 86400, "anchor_date": "0001-01-01T00:00:00Z", "timezone": "UTC"}),
        serde_json::json!({"cron": "0 0 * * *", "timezone": "UTC"}),
        serde_json::json!({"rrule": "DTSTART:00010101T000000\nRRULE:FREQ=DAILY", "timezone": "UTC"}),
    ] {
        let dates = Schedule::from_json(&body)
            .unwrap()
            .dates(Some(1), Some(early), None)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0001-01-01T00:00:00+00:00"], "{body}");
    }
}

/// A date-time past the last instant is refused with an error naming it and the limit.
#[test]
fn a_date_time_past_the_last_instant_names_the_limit() {
    let err = prefab_schemas::schedules::parse_timestamp("9999-12-31T00:00:00Z").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"9999-12-31T00:00:00Z\""), "{msg}");
    assert!(msg.contains("after 9999-12-30T22:00:00Z"), "{msg}");
    let body = serde_json::json!({"interval": 60, "anchor_date": "9999-12-31T12:00:00+00:00"});
    let msg = Schedule::from_json(&body).unwrap_err().to_string();
    assert!(
        msg.contains("anchor_date") && msg.contains("after 9999-12-30T22:00:00Z"),
        "{msg}"
    );
}

/// The last second of representable time, microsecond by microsecond: every date converts to
/// its own `Timestamp` (jiff's `from_microsecond` refuses that second; it came back as
/// `Timestamp::MAX`, a microsecond late).
#[test]
fn the_last_second_is_exact_to_the_microsecond() {
    let body = serde_json::json!({"interval": 0.000001, "anchor_date": "9999-12-30T00:00:00Z"});
    let start: Timestamp = "9999-12-30T22:00:00.999997Z".parse().unwrap();
    let dates = Schedule::from_json(&body)
        .unwrap()
        .dates(Some(10), Some(start), None)
        .unwrap();
    let shown: Vec<String> = dates.iter().map(|d| d.timestamp().to_string()).collect();
    assert_eq!(
        shown,
        [
            "9999-12-30T22:00:00.999997Z",
            "9999-12-30T22:00:00.999998Z",
            "9999-12-30T22:00:00.999999Z"
        ]
    );
    assert_eq!(
        prefab_schemas::schedules::parse_timestamp("9999-12-30T22:00:00.999998Z")
            .unwrap()
            .to_string(),
        "9999-12-30T22:00:00.999998Z"
    );
}

/// The case the property above found (seeded run of CI): a 93 s interval in Pacific/Chatham whose
/// grid hits the fall-back change's own instant. Prefect 3.9.1 returns these same first and
/// last dates (checked in its venv): the change's instant, with the repeated hour's wall clock,
/// sorts first.
#[test]
fn an_interval_date_at_a_fall_back_instant_comes_first_as_in_prefect() {
    let anchor = Timestamp::from_second(1_618_946_067)
        .unwrap()
        .to_zoned_datetime(TimeZone::UTC);
    let s = IntervalSchedule::new(
        SignedDuration::from_secs(93),
        &anchor,
        Some("Pacific/Chatham"),
    )
    .unwrap();
    let start: Timestamp = "2028-04-01T13:19:43Z".parse().unwrap();
    let end: Timestamp = "2028-04-01T15:19:43Z".parse().unwrap();
    let dates: Vec<String> = s
        .dates(Some(26), Some(start), Some(end))
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(dates.len(), 26);
    assert_eq!(dates[0], "2028-04-02T02:45:00+12:45");
    assert_eq!(dates[1], "2028-04-02T03:06:15+13:45");
    assert_eq!(dates[25], "2028-04-02T03:43:27+13:45");
}
