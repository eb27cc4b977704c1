//! Tests: the conformance corpus, differential-test files produced by real Prefect
//! (`xtask/python/gen_rrule_cases.py`), behaviour unit tests, and robustness properties.

use super::*;

fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("bad timestamp {s:?}: {e}"))
        .as_microsecond()
}

fn rfc(zone: &Zone, instant: i64) -> String {
    let ts = jiff::Timestamp::from_microsecond(instant).unwrap();
    ts.to_zoned_datetime(zone.time_zone().clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Dates of `rule` in `tz` from `start` (RFC 3339), sorted as `get_dates` returns them.
fn dates(rule: &str, tz: &str, start: &str, end: Option<&str>, n: usize) -> Vec<String> {
    let set = RRuleSet::parse(rule).unwrap_or_else(|e| panic!("{rule:?}: {e}"));
    let zone = Zone::get(tz).unwrap();
    let mut out = rrule_dates(&set, &zone, ts(start), end.map(ts), n)
        .unwrap_or_else(|e| panic!("{rule:?}: {e}"));
    out.sort_unstable();
    out.into_iter().map(|i| rfc(&zone, i)).collect()
}

/// Parses as of the case's `now` (the local time Prefect validated it at), if recorded.
fn parse_case(rule: &str, case: &serde_json::Value) -> Result<RRuleSet, ScheduleError> {
    let Some(now) = case.get("now").and_then(|v| v.as_str()) else {
        return RRuleSet::parse(rule);
    };
    let dt: jiff::civil::DateTime = now.parse().expect("now is a civil date-time");
    let wall = crate::schedules::zone::wall_from_fields(
        i32::from(dt.year()),
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
    );
    let today = Today {
        year: i32::from(dt.year()),
        month: dt.month() as u8,
        day: dt.day() as u8,
    };
    // The generator runs with TZ=UTC, so local and UTC clocks agree.
    RRuleSet::parse_at(
        rule,
        today,
        Now {
            local: wall,
            utc: wall,
        },
    )
}

/// One line of a corpus-format file, checked. Returns `Err(description)` on a mismatch.
fn check_case(case: &serde_json::Value, post_2037: &[&str]) -> Result<(), String> {
    let id = case["id"].as_str().unwrap_or("?");
    if case["kind"] == "rrule_parse" {
        let rule = case["rrule"].as_str().ok_or("no rrule")?;
        let valid = case["valid"].as_bool().ok_or("no valid")?;
        return match (parse_case(rule, case), valid) {
            (Ok(_), true) | (Err(_), false) => Ok(()),
            (Ok(_), false) => Err(format!("{id}: {rule:?} accepted, Prefect refuses it")),
            (Err(e), true) => Err(format!("{id}: {rule:?} refused ({e}), Prefect accepts it")),
        };
    }
    let schedule = &case["schedule"];
    let rule = schedule["rrule"].as_str().ok_or("no rrule")?;
    let tz = schedule
        .get("timezone")
        .and_then(|t| t.as_str())
        .unwrap_or("UTC");
    if case.get("error").is_some() {
        if case["phase"] == "validate" {
            if Zone::get(tz).is_err() {
                // A bad timezone is the caller's to refuse (Zone::get), not the rule parser's.
                return Ok(());
            }
            return match parse_case(rule, case) {
                Err(_) => Ok(()),
                Ok(_) => Err(format!(
                    "{id}: {rule:?} was accepted but Prefect refuses it"
                )),
            };
        }
        let set = parse_case(rule, case).map_err(|e| format!("{id}: refused at parse: {e}"))?;
        let zone = Zone::get(tz).map_err(|e| format!("{id}: {e}"))?;
        let start = ts(case["start"].as_str().ok_or("no start")?);
        let end = case["end"].as_str().map(ts);
        let n = case["n"]
            .as_u64()
            .map(|n| n as usize)
            .unwrap_or(if end.is_some() { 1000 } else { 1 });
        return match rrule_dates(&set, &zone, start, end, n) {
            Err(_) => Ok(()),
            Ok(d) => Err(format!(
                "{id}: expected a get_dates failure, got {} dates",
                d.len()
            )),
        };
    }
    let set = parse_case(rule, case).map_err(|e| format!("{id}: refused: {e}"))?;
    let zone = Zone::get(tz).map_err(|e| format!("{id}: {e}"))?;
    let start = ts(case["start"].as_str().ok_or("no start")?);
    let end = case["end"].as_str().map(ts);
    let n = case["n"]
        .as_u64()
        .map(|n| n as usize)
        .unwrap_or(if end.is_some() { 1000 } else { 1 });
    let mut got = rrule_dates(&set, &zone, start, end, n).map_err(|e| format!("{id}: {e}"))?;
    got.sort_unstable();
    let expected: Vec<i64> = case["expected"]
        .as_array()
        .ok_or("no expected")?
        .iter()
        .map(|v| ts(v.as_str().unwrap_or_default()))
        .collect();
    // Prefect sorts by local wall clock; compare as sets of instants.
    let mut expected = expected;
    expected.sort_unstable();
    if post_2037.contains(&id) {
        // Prefect (dateutil) reads wall clocks after 2037 as standard time; we use the real
        // rules. Our dates are Prefect's wall clocks (standard-time reading) with the real
        // offset, and at least one date differs.
        if got.len() != expected.len() {
            return Err(format!(
                "{id}: {} dates, Prefect has {}",
                got.len(),
                expected.len()
            ));
        }
        let mut differs = false;
        for (&g, &e) in got.iter().zip(&expected) {
            if g == e {
                continue;
            }
            let year = crate::schedules::zone::civil_from_days(e.div_euclid(DAY_MICROS)).0;
            let jan = zone.offset_at(crate::schedules::zone::wall_from_fields(
                year, 1, 15, 0, 0, 0,
            ));
            let jul = zone.offset_at(crate::schedules::zone::wall_from_fields(
                year, 7, 15, 0, 0, 0,
            ));
            let standard = jan.min(jul);
            // Prefect's wall clock is its instant read at standard time; we read it with DST.
            let fixed = duzone::DuZone::new(&zone).localize(e + standard);
            if year < 2038 || g != fixed || (e - g).abs() != jan.max(jul) - standard {
                return Err(format!(
                    "{id}: {} is not {}'s wall clock with real DST",
                    rfc(&zone, g),
                    rfc(&zone, e)
                ));
            }
            differs = true;
        }
        return if differs {
            Ok(())
        } else {
            Err(format!("{id}: listed as post-2037 but matches Prefect"))
        };
    }
    if got != expected {
        let show = |v: &[i64]| v.iter().map(|&i| rfc(&zone, i)).collect::<Vec<_>>();
        return Err(format!(
            "{id}: {rule:?} tz={tz} start={} end={:?} n={n}\n  got      {:?}\n  expected {:?}",
            case["start"],
            case["end"],
            show(&got),
            show(&expected)
        ));
    }
    Ok(())
}

fn run_file(text: &str, kind_filter: bool, post_2037: &[&str]) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        if kind_filter && case["kind"] != "rrule" {
            continue;
        }
        checked += 1;
        if let Err(e) = check_case(&case, post_2037) {
            failures.push(e);
        }
    }
    (checked, failures)
}

/// Corpus cases whose Prefect answer reflects dateutil's missing DST rules after 2037 (spec §6):
/// yearly 23:30 rules in Australia/Lord_Howe (rrule-0038) and America/New_York (rrule-0047)
/// whose dates from 2038 on come out 30 min / 1 h late in Prefect.
const CORPUS_POST_2037: &[&str] = &["rrule-0038", "rrule-0047"];

#[test]
fn conformance_corpus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/conformance/schedules.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("conformance corpus");
    let (checked, failures) = run_file(&text, true, CORPUS_POST_2037);
    assert_eq!(checked, 72);
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A committed sample of real Prefect answers from `xtask/python/gen_rrule_cases.py` (random rules in
/// zones with odd DST, mutated and date-fuzzed strings for parse validity), plus the file named by
/// `RRULE_DIFF_FILE` when it is set (a larger run of the same generator).
#[test]
fn differential_sample() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rrule_diff.jsonl");
    let text = std::fs::read_to_string(path).expect("committed differential sample");
    let (checked, failures) = run_file(&text, false, &[]);
    assert!(checked > 900, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if let Ok(extra) = std::env::var("RRULE_DIFF_FILE") {
        let text = std::fs::read_to_string(&extra).expect("RRULE_DIFF_FILE readable");
        let (checked, failures) = run_file(&text, false, &[]);
        let shown: Vec<String> = failures.iter().take(40).cloned().collect();
        assert!(
            failures.is_empty(),
            "{} of {checked} failed:\n{}",
            failures.len(),
            shown.join("\n")
        );
    }
}

// Expected values below are Prefect 3.9.1's answers (`sorted(_get_dates_generator(...))`).

#[test]
fn hourly_over_spring_forward_skips_the_missing_hour() {
    assert_eq!(
        dates(
            "DTSTART:20260307T230000\nRRULE:FREQ=HOURLY",
            "America/New_York",
            "2026-03-08T04:00:00Z",
            None,
            6
        ),
        [
            "2026-03-07T23:00:00-05:00",
            "2026-03-08T00:00:00-05:00",
            "2026-03-08T01:00:00-05:00",
            // Wall 02:00 does not exist: dateutil reads it as 01:00 EST again, a duplicate.
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T04:00:00-04:00",
            "2026-03-08T05:00:00-04:00",
        ]
    );
}

#[test]
fn hourly_over_fall_back_fires_once_in_the_repeated_hour() {
    assert_eq!(
        dates(
            "DTSTART:20261031T230000\nRRULE:FREQ=HOURLY",
            "America/New_York",
            "2026-11-01T03:00:00Z",
            None,
            6
        ),
        [
            "2026-10-31T23:00:00-04:00",
            "2026-11-01T00:00:00-04:00",
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T03:00:00-05:00",
            "2026-11-01T04:00:00-05:00",
        ]
    );
}

#[test]
fn daily_at_a_gap_time_moves_back_by_the_gap() {
    // dateutil gives a nonexistent wall time the offset after the transition (spec §6 DST).
    assert_eq!(
        dates(
            "DTSTART:20260301T023000\nRRULE:FREQ=DAILY",
            "America/New_York",
            "2026-03-06T12:00:00Z",
            None,
            4
        ),
        [
            "2026-03-07T02:30:00-05:00",
            "2026-03-08T01:30:00-05:00",
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00"
        ]
    );
    assert_eq!(
        dates(
            "DTSTART:20261001T021500\nRRULE:FREQ=DAILY",
            "Australia/Lord_Howe",
            "2026-10-02T12:00:00Z",
            None,
            4
        ),
        [
            "2026-10-03T02:15:00+10:30",
            "2026-10-04T01:45:00+10:30",
            "2026-10-05T02:15:00+11:00",
            "2026-10-06T02:15:00+11:00"
        ]
    );
}

#[test]
fn dublin_fall_back_reads_and_dedupes_like_prefect() {
    // dateutil reads 02:00-02:59 after Dublin's fall-back at summer time (01:xx GMT, the fold's
    // second pass), and Prefect's set treats those as the 01:xx it already has.
    assert_eq!(
        dates(
            "DTSTART:20261024T230000\nRRULE:FREQ=MINUTELY;INTERVAL=30",
            "Europe/Dublin",
            "2026-10-24T22:00:00Z",
            None,
            8
        ),
        [
            "2026-10-24T23:00:00+01:00",
            "2026-10-24T23:30:00+01:00",
            "2026-10-25T00:00:00+01:00",
            "2026-10-25T00:30:00+01:00",
            "2026-10-25T01:00:00+01:00",
            "2026-10-25T01:30:00+01:00",
            "2026-10-25T03:00:00+00:00",
            "2026-10-25T03:30:00+00:00",
        ]
    );
}

#[test]
fn count_is_counted_from_dtstart() {
    let none: [&str; 0] = [];
    assert_eq!(
        dates(
            "DTSTART:20200101T000000\nRRULE:FREQ=DAILY;COUNT=10",
            "UTC",
            "2026-01-01T00:00:00Z",
            None,
            5
        ),
        none
    );
    assert_eq!(
        dates(
            "DTSTART:20260101T090000\nRRULE:FREQ=WEEKLY;COUNT=10",
            "Europe/London",
            "2026-02-01T00:00:00Z",
            None,
            100
        ),
        [
            "2026-02-05T09:00:00+00:00",
            "2026-02-12T09:00:00+00:00",
            "2026-02-19T09:00:00+00:00",
            "2026-02-26T09:00:00+00:00",
            "2026-03-05T09:00:00+00:00",
        ]
    );
}

#[test]
fn exdate_and_exrule_remove_occurrences() {
    assert_eq!(
        dates(
            "DTSTART:20260302T090000\nRRULE:FREQ=DAILY\nEXDATE:20260303T090000,20260305T090000",
            "Europe/London",
            "2026-03-02T00:00:00Z",
            None,
            4
        ),
        [
            "2026-03-02T09:00:00+00:00",
            "2026-03-04T09:00:00+00:00",
            "2026-03-06T09:00:00+00:00",
            "2026-03-07T09:00:00+00:00"
        ]
    );
    assert_eq!(
        dates(
            "DTSTART:20260302T090000\nRRULE:FREQ=DAILY\nEXRULE:FREQ=WEEKLY;BYDAY=SA,SU",
            "Europe/London",
            "2026-03-05T00:00:00Z",
            None,
            4
        ),
        [
            "2026-03-05T09:00:00+00:00",
            "2026-03-06T09:00:00+00:00",
            "2026-03-09T09:00:00+00:00",
            "2026-03-10T09:00:00+00:00"
        ]
    );
    assert_eq!(
        dates(
            "RDATE:20260105T090000,20260101T090000\nRDATE:20260103T090000",
            "UTC",
            "2026-01-02T00:00:00Z",
            None,
            5
        ),
        ["2026-01-03T09:00:00+00:00", "2026-01-05T09:00:00+00:00"]
    );
}

#[test]
fn bysetpos_picks_the_last_weekday() {
    assert_eq!(
        dates(
            "DTSTART:20260101T170000\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "America/New_York",
            "2026-01-01T00:00:00Z",
            None,
            4
        ),
        [
            "2026-01-30T17:00:00-05:00",
            "2026-02-27T17:00:00-05:00",
            "2026-03-31T17:00:00-04:00",
            "2026-04-30T17:00:00-04:00"
        ]
    );
}

#[test]
fn byweekno_follows_wkst() {
    assert_eq!(
        dates(
            "DTSTART:20260101T080000\nRRULE:FREQ=YEARLY;BYWEEKNO=1;BYDAY=SU,MO;WKST=SU",
            "UTC",
            "2026-01-01T00:00:00Z",
            None,
            6
        ),
        [
            "2026-01-04T08:00:00+00:00",
            "2026-01-05T08:00:00+00:00",
            "2027-01-03T08:00:00+00:00",
            "2027-01-04T08:00:00+00:00",
            "2028-01-02T08:00:00+00:00",
            "2028-01-03T08:00:00+00:00",
        ]
    );
    assert_eq!(
        dates(
            "DTSTART:20260101T080000\nRRULE:FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH",
            "UTC",
            "2026-01-01T00:00:00Z",
            None,
            2
        ),
        ["2026-12-31T08:00:00+00:00", "2032-12-30T08:00:00+00:00"]
    );
}

#[test]
fn tzid_and_z_are_relabelled_to_the_schedule_zone() {
    let want = ["2026-01-05T09:00:00-05:00", "2026-01-06T09:00:00-05:00"];
    assert_eq!(
        dates(
            "DTSTART;TZID=Asia/Tokyo:20260105T090000\nRRULE:FREQ=DAILY",
            "America/New_York",
            "2026-01-05T00:00:00Z",
            None,
            2
        ),
        want
    );
    assert_eq!(
        dates(
            "DTSTART:20260105T090000Z\nRRULE:FREQ=DAILY;UNTIL=20260106T090000Z",
            "America/New_York",
            "2026-01-05T00:00:00Z",
            None,
            5
        ),
        want
    );
}

#[test]
fn start_end_n_and_the_candidate_cap() {
    // No DTSTART: anchored at 2020-01-01T00:00 in the schedule's zone.
    assert_eq!(
        dates(
            "FREQ=MINUTELY;INTERVAL=5",
            "America/New_York",
            "2026-11-26T00:00:03Z",
            None,
            3
        ),
        [
            "2026-11-25T19:05:00-05:00",
            "2026-11-25T19:10:00-05:00",
            "2026-11-25T19:15:00-05:00"
        ]
    );
    assert_eq!(
        dates(
            "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-03T00:00:00Z"),
            1000
        ),
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-02T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00"
        ]
    );
    // n = 0 still yields the first date (Prefect checks n after adding it).
    assert_eq!(
        dates(
            "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
            "UTC",
            "2026-01-01T00:00:00Z",
            None,
            0
        ),
        ["2026-01-01T00:00:00+00:00"]
    );
    let many = dates(
        "DTSTART:20260101T000000\nRRULE:FREQ=MINUTELY",
        "UTC",
        "2026-01-01T00:00:00Z",
        None,
        5000,
    );
    assert_eq!(
        (many.len(), many[0].as_str(), many[1001].as_str()),
        (
            1002,
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T16:41:00+00:00"
        )
    );
}

/// dateutil ends at 9999-12-31, and Prefect returns wall clocks up to that day in the zone (in
/// New York, 9999-12-31T00:00-05:00 is 10000-01-01T05:00Z). The dates here end with the last one
/// at or before 9999-12-30T22:00:00.999999Z, and none is clamped (it used to come out as
/// 9999-12-30T22:00:00Z; docs/deviations.md S8).
#[test]
fn dates_end_at_the_last_instant() {
    assert_eq!(
        dates(
            "FREQ=DAILY",
            "America/New_York",
            "9999-12-28T00:00:00Z",
            None,
            10
        ),
        [
            "9999-12-28T00:00:00-05:00",
            "9999-12-29T00:00:00-05:00",
            "9999-12-30T00:00:00-05:00"
        ]
    );
    assert_eq!(
        dates("FREQ=HOURLY", "UTC", "9999-12-30T20:30:00Z", None, 10),
        ["9999-12-30T21:00:00+00:00", "9999-12-30T22:00:00+00:00"]
    );
    // The last instant itself as the start: only a date at 22:00:00 exactly is left.
    assert_eq!(
        dates(
            "FREQ=HOURLY",
            "UTC",
            "9999-12-30T22:00:00.999999Z",
            None,
            10
        ),
        Vec::<String>::new()
    );
}

/// How long one expansion may take before a test calls it hung. Generous on purpose (a loaded
/// 2-core machine running unoptimised code); timings are measured by the criterion benches
/// (`cargo bench -p prefab-benches --bench schedules`), not by tests.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

#[test]
fn rules_that_never_match_end_quickly() {
    let none: [&str; 0] = [];
    for rule in [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=DAILY;BYSETPOS=2",
        "FREQ=WEEKLY;BYMONTH=13",
        "FREQ=HOURLY;BYYEARDAY=367",
    ] {
        let t = std::time::Instant::now();
        assert_eq!(
            dates(rule, "UTC", "2026-01-01T00:00:00Z", None, 5),
            none,
            "{rule}"
        );
        // A hang guard, not a timing: dateutil would walk to the year 9999 (minutes, here);
        // the speed of the never-matches shortcut is measured by the `rrule_never_matches`
        // bench (benches/benches/schedules.rs).
        assert!(t.elapsed() < HANG_GUARD, "{rule} took {:?}", t.elapsed());
    }
}

#[test]
fn interval_zero_repeats_the_first_period() {
    // dateutil never advances; Prefect de-duplicates the repeats and stops after 1002 candidates.
    let from = "2026-11-07T12:00:00Z";
    assert_eq!(
        dates(
            "DTSTART:20280223T181400\nRRULE:FREQ=MONTHLY;BYDAY=SU(-5),-1FR,+4TH,MO(+5);BYMINUTE=15,30;COUNT=30;INTERVAL=0",
            "Australia/Sydney",
            from,
            None,
            5
        ),
        [
            "2028-02-24T18:15:00+11:00",
            "2028-02-24T18:30:00+11:00",
            "2028-02-25T18:15:00+11:00",
            "2028-02-25T18:30:00+11:00"
        ]
    );
    assert_eq!(
        dates(
            "DTSTART:20270101T090000\nRRULE:FREQ=DAILY;INTERVAL=0",
            "UTC",
            from,
            None,
            5
        ),
        ["2027-01-01T09:00:00+00:00"]
    );
    assert_eq!(
        dates(
            "DTSTART:20270106T090000\nRRULE:FREQ=WEEKLY;INTERVAL=0;BYDAY=MO,WE,FR",
            "UTC",
            from,
            None,
            5
        ),
        ["2027-01-06T09:00:00+00:00", "2027-01-08T09:00:00+00:00"]
    );
    assert_eq!(
        dates(
            "DTSTART:20270106T090000\nRRULE:FREQ=HOURLY;INTERVAL=0;BYMINUTE=5,10",
            "UTC",
            from,
            None,
            5
        ),
        ["2027-01-06T09:05:00+00:00", "2027-01-06T09:10:00+00:00"]
    );
    let none: [&str; 0] = [];
    assert_eq!(
        dates(
            "DTSTART:20200106T090000\nRRULE:FREQ=DAILY;INTERVAL=0;COUNT=4",
            "UTC",
            from,
            None,
            5
        ),
        none
    );
    assert_eq!(
        dates(
            "DTSTART:20270106T090000\nRRULE:FREQ=YEARLY;INTERVAL=0;BYMONTH=1,2\nEXDATE:20270206T090000",
            "UTC",
            from,
            Some("2027-03-01T00:00:00Z"),
            1000
        ),
        ["2027-01-06T09:00:00+00:00"]
    );
    // Where Prefect would loop forever (every repeat is before the start), we fail instead.
    let set = RRuleSet::parse("DTSTART:20200106T090000\nRRULE:FREQ=DAILY;INTERVAL=0").unwrap();
    assert!(rrule_dates(&set, &Zone::utc(), ts(from), None, 1).is_err());
}

#[test]
fn negative_interval_fails_within_dateutils_look_ahead() {
    // dateutil walks backwards and fails; its cached iterator fetches ten candidates at a time,
    // so even n=1 fails (Prefect 3.9.1 raises for all of these).
    for (rule, n) in [
        ("DTSTART:20270415T090000\nRRULE:FREQ=MONTHLY;INTERVAL=-3", 1),
        (
            "DTSTART:20270115T090000\nRRULE:FREQ=DAILY;INTERVAL=-1;BYHOUR=9,10",
            2,
        ),
        (
            "DTSTART:20270115T090000\nRRULE:FREQ=YEARLY;INTERVAL=-1;BYMONTH=1,6",
            2,
        ),
        (
            "DTSTART:20270120T090000\nRRULE:FREQ=WEEKLY;INTERVAL=-1;BYDAY=MO,FR",
            1,
        ),
    ] {
        let set = RRuleSet::parse(rule).unwrap();
        assert!(
            rrule_dates(&set, &Zone::utc(), ts("2026-01-01T00:00:00Z"), None, n).is_err(),
            "{rule}"
        );
    }
}

#[test]
fn errors_say_what_to_fix() {
    let err = RRuleSet::parse("FREQ=FOO").unwrap_err().to_string();
    assert!(
        err.contains("invalid FREQ \"FOO\": expected one of YEARLY"),
        "{err}"
    );
    assert!(matches!(
        RRuleSet::parse(&"FREQ=DAILY;".repeat(700)),
        Err(ScheduleError::RRuleTooLong { len: 7700 })
    ));
    for bad in [
        "",
        "RRULE:FREQ=DAILY\nEXDATE:notadate",
        "FREQ=DAILY;BYHOUR=24",
        "FREQ=DAILY;BYSETPOS=0",
        "FREQ=DAILY;COUNT=x",
    ] {
        assert!(
            matches!(
                RRuleSet::parse(bad),
                Err(ScheduleError::InvalidRRule { .. })
            ),
            "{bad:?}"
        );
    }
    // A TZID-aware DTSTART needs a UTC UNTIL (dateutil's rule).
    assert!(
        RRuleSet::parse(
            "DTSTART;TZID=America/New_York:20260101T000000\nRRULE:FREQ=DAILY;UNTIL=20260201T000000"
        )
        .is_err()
    );
    // Valid for Prefect, but its get_dates fails: UNTIL in UTC while the default DTSTART is floating.
    let set = RRuleSet::parse("FREQ=DAILY;UNTIL=20260201T000000Z").unwrap();
    let err = rrule_dates(&set, &Zone::utc(), ts("2026-01-01T00:00:00Z"), None, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("UNTIL"), "{err}");
    assert_eq!(set.as_str(), "FREQ=DAILY;UNTIL=20260201T000000Z");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Rule-shaped text: property names, parts, numbers and separators in any order.
    fn rule_like() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "DTSTART:",
            "DTSTART;TZID=America/New_York:",
            "RRULE:",
            "EXRULE:",
            "RDATE:",
            "EXDATE:",
            "FREQ=",
            "YEARLY",
            "MONTHLY",
            "WEEKLY",
            "DAILY",
            "HOURLY",
            "MINUTELY",
            "SECONDLY",
            "INTERVAL=",
            "COUNT=",
            "UNTIL=",
            "WKST=",
            "BYDAY=",
            "BYMONTH=",
            "BYMONTHDAY=",
            "BYYEARDAY=",
            "BYWEEKNO=",
            "BYHOUR=",
            "BYMINUTE=",
            "BYSECOND=",
            "BYSETPOS=",
            "BYEASTER=",
            "MO",
            "+2TU",
            "-1FR",
            "SU(+3)",
            "20260308T023000",
            "20260101",
            "Z",
            "T",
            "2026-03-08",
            "09:30",
            "JAN",
            "PM",
            "0",
            "1",
            "-1",
            "7",
            "13",
            "53",
            "366",
            "400",
            "99999999999",
            ";",
            ",",
            "=",
            ":",
            "\n",
            " ",
            "+",
            "-",
            ".",
            "(",
            ")",
        ]);
        prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
    }

    /// Valid-looking rules with extreme values in every part.
    pub(super) fn structured_rule() -> impl Strategy<Value = String> {
        let freq = prop::sample::select(vec![
            "YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY",
        ]);
        let num = prop::sample::select(vec![
            -400i64, -366, -53, -31, -5, -1, 0, 1, 2, 3, 5, 12, 13, 23, 24, 29, 30, 31, 52, 53, 59,
            60, 100, 366, 1000,
        ]);
        let part = prop::sample::select(vec![
            "INTERVAL",
            "COUNT",
            "BYMONTH",
            "BYMONTHDAY",
            "BYYEARDAY",
            "BYWEEKNO",
            "BYHOUR",
            "BYMINUTE",
            "BYSECOND",
            "BYSETPOS",
            "BYEASTER",
            "BYDAY",
            "WKST",
            "UNTIL",
        ]);
        let dtstart = prop::sample::select(vec![
            "",
            "DTSTART:20200101T000000\n",
            "DTSTART:20260307T023000\n",
            "DTSTART:20261231T235959\n",
        ]);
        (
            dtstart,
            freq,
            prop::collection::vec((part, prop::collection::vec(num, 1..4)), 0..5),
        )
            .prop_map(|(d, f, parts)| {
                let mut s = format!("{d}RRULE:FREQ={f}");
                for (p, vals) in parts {
                    let v: Vec<String> = match p {
                        "INTERVAL" => vec![vals[0].abs().max(1).to_string()],
                        // Large counts too, so COUNT rules reach far past DTSTART.
                        "COUNT" => vec![
                            (vals[0].abs().max(1) * if vals.len() > 1 { 997 } else { 1 })
                                .to_string(),
                        ],
                        "BYDAY" => vals
                            .iter()
                            .map(|v| {
                                if *v == 0 {
                                    "MO".to_owned()
                                } else {
                                    format!("{v}TU")
                                }
                            })
                            .collect(),
                        "WKST" => vec!["SU".to_owned()],
                        "UNTIL" => vec!["20270101T000000".to_owned()],
                        _ => vals.iter().map(i64::to_string).collect(),
                    };
                    s.push_str(&format!(";{p}={}", v.join(",")));
                }
                s
            })
    }

    /// A hang guard per property case (see [`HANG_GUARD`]); the expansion speed of such rules
    /// is measured by the `rrule_structured_mix` bench.
    const LIMIT: std::time::Duration = super::HANG_GUARD;

    proptest! {
        // Thorough in release builds, a quick pass in debug ones.
        // (No failure-persistence files: failures print the minimal input instead.)
        #![proptest_config(ProptestConfig {
            cases: if cfg!(debug_assertions) { 250 } else { 2000 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Fast-forwarding, COUNT skipping and the never-matches check change nothing.
        #[test]
        fn shortcuts_match_the_plain_walk(
            s in structured_rule(),
            zone in 0usize..4,
            offset in -3000i64..30_000,
            end_days in prop::option::of(0i64..40),
            n in 1usize..40,
        ) {
            let Ok(set) = RRuleSet::parse(&s) else { return Ok(()) };
            let Ok(plan) = &set.plan else { return Ok(()) };
            let fine = plan.rrules.iter().any(|p| p.rule.freq >= parse::Freq::Hourly);
            // The plain walk of a sub-daily rule that never matches runs to year 9999; skip it.
            if !s.starts_with("DTSTART:2026") || (fine && plan.rrules.iter().any(|p| p.never)) {
                return Ok(());
            }
            let zone = Zone::get(["UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"][zone]).unwrap();
            let dtstart = if s.starts_with("DTSTART:20260307") { "2026-03-07T07:30:00Z" } else { "2027-01-01T05:00:00Z" };
            // Keep the plain walk short: at most ~200 000 periods.
            let unit = match plan.rrules.first().map(|p| p.rule.freq) {
                Some(parse::Freq::Secondly) => 6,
                Some(parse::Freq::Minutely) => 60,
                Some(parse::Freq::Hourly) => 600,
                _ => 36_000,
            };
            let start = ts(dtstart) + offset * unit * crate::schedules::zone::MICROS;
            let end = end_days.map(|d| start + d * DAY_MICROS / if fine { 30 } else { 1 });
            let fast = rrule_dates(&set, &zone, start, end, n);
            expand::NO_SHORTCUTS.with(|c| c.set(true));
            let plain = rrule_dates(&set, &zone, start, end, n);
            expand::NO_SHORTCUTS.with(|c| c.set(false));
            prop_assert_eq!(fast, plain, "{:?}", s);
        }

        #[test]
        fn structured_rules_expand_quickly(s in structured_rule(), zone in 0usize..4, start in 0i64..400) {
            if let Ok(set) = RRuleSet::parse(&s) {
                let zone = Zone::get(["UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"][zone]).unwrap();
                let start = ts("2025-01-01T00:00:00Z") + start * 5 * DAY_MICROS;
                let t = std::time::Instant::now();
                let _ = rrule_dates(&set, &zone, start, None, 5);
                let _ = rrule_dates(&set, &zone, start, Some(start + 30 * DAY_MICROS), 1000);
                prop_assert!(t.elapsed() < LIMIT, "{s:?} took {:?}", t.elapsed());
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
            let _ = RRuleSet::parse(&s);
        }

        #[test]
        fn rule_like_text_parses_and_expands_without_panicking(s in rule_like(), zone in 0usize..4, start in 0i64..400) {
            if let Ok(set) = RRuleSet::parse(&s) {
                let zone = Zone::get(["UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"][zone]).unwrap();
                let start = ts("2025-01-01T00:00:00Z") + start * 5 * DAY_MICROS;
                let t = std::time::Instant::now();
                let _ = rrule_dates(&set, &zone, start, None, 5);
                let _ = rrule_dates(&set, &zone, start, Some(start + 30 * DAY_MICROS), 1000);
                prop_assert!(t.elapsed() < LIMIT, "{s:?} took {:?}", t.elapsed());
            }
        }
    }
}
