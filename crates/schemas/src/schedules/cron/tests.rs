//! Unit tests: dialect features, DST rules, the conformance corpus and the differential corpus
//! produced by `xtask/python/gen_cron_cases.py` against the real Prefect.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use super::{CronExpr, cron_dates};
use crate::schedules::zone::{MICROS, Zone};
use crate::schedules::{ScheduleError, write_rfc3339};

fn instant(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .as_microsecond()
}

/// Renders an instant in `zone` the way the corpus does.
fn render(zone: &Zone, at: i64) -> String {
    let mut s = String::new();
    write_rfc3339(&mut s, at, (zone.offset_at(at) / MICROS) as i32).unwrap();
    s
}

/// Dates of `expr` in `tz` from `start`, sorted (as `get_dates` returns them) and rendered.
fn dates(
    expr: &str,
    tz: &str,
    day_or: bool,
    start: &str,
    end: Option<&str>,
    n: usize,
) -> Vec<String> {
    let zone = Zone::get(tz).unwrap();
    let cron = CronExpr::parse(expr).unwrap();
    let mut got = cron_dates(&cron, day_or, &zone, instant(start), end.map(instant), n).unwrap();
    got.sort_unstable();
    got.iter().map(|&at| render(&zone, at)).collect()
}

fn next_n(expr: &str, tz: &str, start: &str, n: usize) -> Vec<String> {
    dates(expr, tz, true, start, None, n)
}

fn valid(expr: &str) -> bool {
    CronExpr::parse(expr).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn field_counts_and_macros() {
    assert!(valid("* * * * *"));
    assert!(valid("* * * * * 30"));
    assert!(valid("* * * * * 30 2030"));
    assert!(!valid("* * * *"));
    assert!(!valid("* * * * * * * *"));
    assert!(!valid(""));
    assert!(!valid("   \t\n "));
    for m in [
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@DAILY",
    ] {
        assert!(valid(m), "{m}");
    }
    assert!(!valid("@reboot"));
    assert!(!valid(" @daily"), "macros match the whole string");
    assert!(!valid("@daily 5"));
}

#[test]
fn ranges_names_steps() {
    for ok in [
        "*/15 9-17 * * mon-fri",
        "0 0 * JAN,JUL *",
        "0 0 * * SAT-SUN",
        "0 0 * * FRI-MON",
        "0 0 1 Apr-Jan/3 *",
        "1/10 * * * *",
        "5-5 * * * *",
        "0 0 * * 0-7",
        "0 0 * * 7",
        "0 0 ? * MON",
        "0 0 1 * ?",
        "0 0 0-0 * *",
        "0005 * * * *",
        "*/99999999999 * * * *",
        "0 0 5-l * *",
        "0 0 * * 1#1,5#5",
        "0 0 * * mon-wed#2",
        "0 0 * * L0",
        "0 0 * * L7",
        "0 0 1,L * *",
        "٣ * * * *",
    ] {
        assert!(valid(ok), "{ok}");
    }
    for bad in [
        "* 24 * * *",
        "60 * * * *",
        "*/0 * * * *",
        "0 0 * FOO *",
        "0 0 LW * *",
        "0 0 L-3 * *",
        "0 0 * * 5L",
        "0 0 * * 1#6",
        "0 0 * * 1#0",
        "0 0 * * 1,2#3",
        "0 0 ? * ?x",
        "? * * * *",
        "0 0 0 * *",
        "0 0 * 0 *",
        "0 0 * * 8",
        "0 0 * * * 0 1969",
        "0 0 * * 1-3#2",
        "0 0 l-5 * *",
        "1,,2 * * * *",
        "-5 * * * *",
        "5- * * * *",
        "H * * * *",
        "0 0 * * 7 0",
        "0 0 0 * * 0 2030",
        "é * * * *",
    ] {
        assert!(!valid(bad), "{bad}");
    }
    // Day 0 is day 1 with six fields, weekday 7 is Sunday only with five (croniter's value_alias).
    assert!(valid("0 0 0 * * 0"));
    assert!(matches!(
        CronExpr::parse("R * * * *"),
        Err(ScheduleError::UnsupportedCron { .. })
    ));
    for unsupported in ["H * * * *", "r/5 * * * *", "0 R(0-5) * * *"] {
        assert!(
            matches!(
                CronExpr::parse(unsupported),
                Err(ScheduleError::UnsupportedCron { .. })
            ),
            "{unsupported}"
        );
    }
    // Another invalid field wins, as croniter refuses the expression before Prefect looks.
    assert!(matches!(
        CronExpr::parse("R 24 * * *"),
        Err(ScheduleError::InvalidCron { .. })
    ));
    assert!(matches!(
        CronExpr::parse("* 24 * * *"),
        Err(ScheduleError::InvalidCron { .. })
    ));
    let Err(ScheduleError::InvalidCron { reason, .. }) = CronExpr::parse("* 24 * * *") else {
        panic!()
    };
    assert_eq!(reason, "hour field: 24 is out of range 0-23");
}

#[test]
fn huge_numbers_follow_pythons_int_limit() {
    let ok = format!("{}5 * * * *", "0".repeat(4299));
    let bad = format!("{}5 * * * *", "0".repeat(4300));
    assert!(valid(&ok));
    assert!(!valid(&bad));
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = CronExpr::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_any_string(s in any::<String>()) {
        let _ = CronExpr::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_cron_like_text(s in "[0-9a-zA-Z*/,#?@ \\-]{0,40}") {
        let _ = CronExpr::parse(&s);
    }
}

// ---------------------------------------------------------------------------------------------
// Dates and DST

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the expression, zone and start: no panic, and the dates keep the contract.
    #[test]
    fn dates_keep_the_contract(
        expr in "([0-9*/,#?L-]{1,6} ){4}[0-9a-zA-Z*/,#?-]{1,6}( [0-9*/,-]{1,4}){0,2}",
        zone in prop::sample::select(vec![
            "UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/London",
        ]),
        start in -2_208_988_800_000_000i64..7_258_118_400_000_000,
        span in prop::option::of(0i64..400_000_000_000),
        n in 0usize..40,
        day_or: bool,
    ) {
        let Ok(cron) = CronExpr::parse(&expr) else { return Ok(()) };
        let zone = Zone::get(zone).unwrap();
        let end = span.map(|s| start + s);
        if let Ok(got) = cron_dates(&cron, day_or, &zone, start, end, n) {
            prop_assert!(got.len() <= n);
            let mut sorted = got.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), got.len(), "duplicates");
            for at in got {
                prop_assert!(at >= start);
                prop_assert!(end.is_none_or(|end| at <= end));
                prop_assert_eq!(at % MICROS, 0);
            }
        }
    }
}

#[test]
fn seconds_are_the_sixth_field() {
    assert_eq!(
        next_n("* * * * * 30", "UTC", "2026-01-01T00:00:00Z", 2),
        ["2026-01-01T00:00:30+00:00", "2026-01-01T00:01:30+00:00"]
    );
}

#[test]
fn year_field_and_never_firing() {
    assert_eq!(
        next_n("0 0 1 1 * 0 2030", "UTC", "2026-01-01T00:00:00Z", 1),
        ["2030-01-01T00:00:00+00:00"]
    );
    let zone = Zone::utc();
    let once = CronExpr::parse("0 0 1 1 * 0 2030").unwrap();
    let err = cron_dates(&once, true, &zone, instant("2026-01-01T00:00:00Z"), None, 2).unwrap_err();
    assert!(matches!(err, ScheduleError::CronNeverFires { .. }), "{err}");
    let feb31 = CronExpr::parse("0 0 31 2 *").unwrap();
    assert!(cron_dates(&feb31, true, &zone, 0, None, 1).is_err());
}

#[test]
fn last_day_and_nth_weekday() {
    assert_eq!(
        next_n("0 0 L * *", "UTC", "2028-01-15T00:00:00Z", 3),
        [
            "2028-01-31T00:00:00+00:00",
            "2028-02-29T00:00:00+00:00",
            "2028-03-31T00:00:00+00:00"
        ]
    );
    // L5 = last Friday.
    assert_eq!(
        next_n("0 0 * * L5", "UTC", "2026-01-01T00:00:00Z", 2),
        ["2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"]
    );
    // 5th Monday: months without one are skipped.
    assert_eq!(
        next_n("0 0 * * 1#5", "UTC", "2026-01-01T00:00:00Z", 2),
        ["2026-03-30T00:00:00+00:00", "2026-06-29T00:00:00+00:00"]
    );
}

#[test]
fn day_or_semantics() {
    // Either the 1st or a Monday.
    assert_eq!(
        dates("0 0 1 * mon", "UTC", true, "2026-05-30T00:00:00Z", None, 3),
        [
            "2026-06-01T00:00:00+00:00",
            "2026-06-08T00:00:00+00:00",
            "2026-06-15T00:00:00+00:00"
        ]
    );
    // Both: a Monday that is the 1st.
    assert_eq!(
        dates("0 0 1 * mon", "UTC", false, "2026-01-01T00:00:00Z", None, 1),
        ["2026-06-01T00:00:00+00:00"]
    );
}

#[test]
fn croniter_quirks() {
    // A day-of-month jump past a short month's end steps over the next month's first days.
    assert_eq!(
        next_n("0 0 1,30 * *", "UTC", "2025-02-03T00:00:00Z", 1),
        ["2025-03-30T00:00:00+00:00"]
    );
    // A number past the month's end wins over L.
    assert_eq!(
        next_n("0 0 31,L * *", "UTC", "2025-04-05T00:00:00Z", 1),
        ["2025-05-31T00:00:00+00:00"]
    );
    // `a-a` is the whole field.
    assert_eq!(
        next_n("5-5 * * * *", "UTC", "2026-01-01T00:00:30Z", 1),
        ["2026-01-01T00:01:00+00:00"]
    );
    // With day_or, a day-of-month that never meets the nth weekday makes croniter fail.
    let zone = Zone::utc();
    let cron = CronExpr::parse("0 0 1 * fri#3").unwrap();
    assert!(cron_dates(&cron, true, &zone, 0, None, 1).is_err());
    let cron = CronExpr::parse("0 0 31 2 mon").unwrap();
    assert!(cron_dates(&cron, true, &zone, 0, None, 1).is_err());
}

#[test]
fn spring_forward_hourly_skips_the_missing_hour() {
    assert_eq!(
        next_n(
            "0 * * * *",
            "America/New_York",
            "2026-03-08T00:30:00-05:00",
            3
        ),
        [
            "2026-03-08T01:00:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T04:00:00-04:00"
        ]
    );
}

#[test]
fn fall_back_hourly_fires_once_in_the_repeated_hour() {
    assert_eq!(
        next_n(
            "0 * * * *",
            "America/New_York",
            "2026-11-01T00:30:00-04:00",
            3
        ),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T03:00:00-05:00"
        ]
    );
}

#[test]
fn gap_time_runs_after_the_gap() {
    assert_eq!(
        next_n(
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00-05:00",
            3
        ),
        [
            "2026-03-08T03:30:00-04:00",
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00"
        ]
    );
}

#[test]
fn start_inside_a_fold_skips_repeated_wall_times() {
    // 01:30 EST is the second 01:30 of the day: the repeated hour is not run again.
    assert_eq!(
        next_n(
            "*/20 * * * *",
            "America/New_York",
            "2026-11-01T01:30:00-05:00",
            2
        ),
        ["2026-11-01T02:00:00-05:00", "2026-11-01T02:20:00-05:00"]
    );
}

#[test]
fn start_just_after_a_gap_sees_the_gap_times() {
    // 03:10 EDT: the 02:xx wall times that fell into the gap resolve to 03:xx EDT.
    assert_eq!(
        next_n(
            "*/20 * * * *",
            "America/New_York",
            "2026-03-08T03:10:00-04:00",
            4
        ),
        [
            "2026-03-08T03:20:00-04:00",
            "2026-03-08T03:40:00-04:00",
            "2026-03-08T04:00:00-04:00",
            "2026-03-08T04:20:00-04:00"
        ]
    );
}

#[test]
fn microseconds_in_the_start() {
    assert_eq!(
        next_n("* * * * * *", "UTC", "2026-01-01T00:00:00.5Z", 1),
        ["2026-01-01T00:00:01+00:00"]
    );
    assert_eq!(
        next_n("* * * * *", "UTC", "2026-01-01T00:00:00.5Z", 1),
        ["2026-01-01T00:01:00+00:00"]
    );
    assert_eq!(
        next_n("* * * * *", "UTC", "2026-01-01T00:00:00Z", 1),
        ["2026-01-01T00:00:00+00:00"]
    );
}

// ---------------------------------------------------------------------------------------------
// Corpora

/// Runs every cron case of a corpus file; returns (cases, failures).
fn run_corpus(path: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cases = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["kind"] != "cron" {
            continue;
        }
        cases += 1;
        if let Err(why) = run_case(&case) {
            failures.push(format!("{}: {why}\n    {line}", case["id"]));
        }
    }
    (cases, failures)
}

fn run_case(case: &Value) -> Result<(), String> {
    let schedule = &case["schedule"];
    let expr = schedule["cron"].as_str().ok_or("no cron")?;
    let day_or = schedule["day_or"].as_bool().unwrap_or(true);
    let zone = match schedule["timezone"].as_str() {
        None => Ok(Zone::utc()),
        Some(tz) => Zone::get(tz),
    };
    let parsed = CronExpr::parse(expr);
    if case.get("error").is_some() && case["phase"] == "validate" {
        return match (&parsed, &zone) {
            (Ok(_), Ok(_)) => Err("accepted a schedule Prefect refuses".into()),
            _ => Ok(()),
        };
    }
    let cron = parsed.map_err(|e| e.to_string())?;
    let zone = zone.map_err(|e| e.to_string())?;
    let start = instant(case["start"].as_str().ok_or("no start")?);
    let end = case["end"].as_str().map(instant);
    let n = case["n"]
        .as_u64()
        .map_or(if end.is_some() { 1000 } else { 1 }, |n| n as usize);
    let result = cron_dates(&cron, day_or, &zone, start, end, n);
    if case.get("error").is_some() {
        return match result {
            Ok(got) => Err(format!("expected an error, got {} dates", got.len())),
            Err(_) => Ok(()),
        };
    }
    let mut got = result.map_err(|e| e.to_string())?;
    got.sort_unstable();
    let got: Vec<String> = got.iter().map(|&at| render(&zone, at)).collect();
    let want: Vec<String> = case["expected"]
        .as_array()
        .ok_or("no expected")?
        .iter()
        .map(|v| v.as_str().unwrap_or("").to_owned())
        .collect();
    if got != want {
        let first = got
            .iter()
            .zip(&want)
            .position(|(g, w)| g != w)
            .unwrap_or(got.len().min(want.len()));
        return Err(format!(
            "{} dates, expected {}; first difference at {first}: got {:?}, expected {:?}",
            got.len(),
            want.len(),
            got.get(first),
            want.get(first)
        ));
    }
    Ok(())
}

fn check_corpus(path: &Path, min_cases: usize) {
    let (cases, failures) = run_corpus(path);
    assert!(
        cases >= min_cases,
        "{}: only {cases} cron cases",
        path.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn conformance_corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/conformance/schedules.jsonl");
    check_corpus(&path, 134);
}

/// Cases produced by `xtask/python/gen_cron_cases.py` against Prefect 3.9.1.
#[test]
fn differential_corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cron_diff.jsonl");
    check_corpus(&path, 1000);
}

// ---------------------------------------------------------------------------------------------
// The end of representable time (docs/deviations.md S8)

/// croniter fails with `OverflowError` once its search passes 9999-12-31; Prefect then returns
/// nothing. prefab returns the dates before the last instant (9999-12-30T22:00:00.999999Z).
#[test]
fn dates_end_before_the_end_of_time() {
    // Prefect returns these ten (n = 10 is reached before the overflow); with n = 20 it raises.
    let yearly = next_n("0 0 1 1 *", "UTC", "9990-01-01T00:00:00Z", 20);
    assert_eq!(yearly.len(), 10);
    assert_eq!(yearly[9], "9999-01-01T00:00:00+00:00");
    // Daily in New York: 9999-12-30T00:00-05:00 is the last instant in range.
    let daily = next_n("0 0 * * *", "America/New_York", "9999-12-28T00:00:00Z", 10);
    assert_eq!(
        daily,
        [
            "9999-12-28T00:00:00-05:00",
            "9999-12-29T00:00:00-05:00",
            "9999-12-30T00:00:00-05:00"
        ]
    );
    // Six fields (seconds last): the last second in range.
    let secs = next_n("* * * * * *", "UTC", "9999-12-30T21:59:58Z", 10);
    assert_eq!(
        secs,
        [
            "9999-12-30T21:59:58+00:00",
            "9999-12-30T21:59:59+00:00",
            "9999-12-30T22:00:00+00:00"
        ]
    );
    // With day_or, the earlier of two searches — one of which runs out of years.
    let either = next_n("0 12 30 * fri", "UTC", "9999-12-01T00:00:00Z", 10);
    assert_eq!(
        either,
        [
            "9999-12-03T12:00:00+00:00",
            "9999-12-10T12:00:00+00:00",
            "9999-12-17T12:00:00+00:00",
            "9999-12-24T12:00:00+00:00",
            "9999-12-30T12:00:00+00:00"
        ]
    );
}

/// A cron that never fires still says so, unless the end of time comes first (then there is
/// no date to return, and no error: nothing after `start` is on the schedule).
#[test]
fn never_firing_near_the_end_of_time() {
    let zone = Zone::utc();
    let feb31 = CronExpr::parse("0 0 31 2 *").unwrap();
    let err = cron_dates(
        &feb31,
        true,
        &zone,
        instant("9000-01-01T00:00:00Z"),
        None,
        1,
    )
    .unwrap_err();
    assert!(matches!(err, ScheduleError::CronNeverFires { .. }), "{err}");
    let late = cron_dates(
        &feb31,
        true,
        &zone,
        instant("9990-01-01T00:00:00Z"),
        None,
        1,
    )
    .unwrap();
    assert_eq!(late, Vec::<i64>::new());
}

// ---------------------------------------------------------------------------------------------
// Random and hashed fields (docs/deviations.md S9)

/// Prefect 3.9.1 accepts `R/5`, `R(0-30)`, `r/5`, `R(0-30)/10` (any field but a bare `R`), and
/// croniter draws their value anew for every croniter it builds — measured: six `get_dates`
/// calls on `R(0-30) * * * *` gave six different minutes. prefab refuses them, naming the field
/// and a fixed value to write instead; that value must make a valid expression.
#[test]
fn random_and_hashed_fields_are_refused_with_a_fixed_value_to_write() {
    for (expr, field, value, instead) in [
        ("R/5 * * * *", "minute", "R/5", "0/5"),
        ("R(0-30) * * * *", "minute", "R(0-30)", "0"),
        ("r/5 * * * *", "minute", "r/5", "0/5"),
        ("R(0-30)/10 * * * *", "minute", "R(0-30)/10", "0-30/10"),
        ("0 R/6 * * *", "hour", "R/6", "0/6"),
        ("0 0 * * * R/10", "second", "R/10", "0/10"),
        ("0 0 r(2-9) * *", "day-of-month", "r(2-9)", "2"),
        ("0 0 * * R", "day-of-week", "R", "0"),
        ("H/5 * * * *", "minute", "H/5", "0/5"),
        ("0 h(3-5) * * *", "hour", "h(3-5)", "3"),
    ] {
        let err = CronExpr::parse(expr).unwrap_err();
        let ScheduleError::UnsupportedCron {
            expr: e,
            field: f,
            value: v,
            reason,
        } = &err
        else {
            panic!("{expr}: {err}");
        };
        assert_eq!((e.as_str(), f.as_str(), v.as_str()), (expr, field, value));
        let msg = err.to_string();
        assert!(msg.contains(&format!("{expr:?}")), "{msg}");
        assert!(msg.contains(&format!("{instead:?}")), "{msg}");
        let kind = if value.starts_with(['h', 'H']) {
            "hashed"
        } else {
            "random"
        };
        assert!(reason.starts_with(&format!("is {kind}")), "{msg}");
        let fixed = expr.replacen(value, instead, 1);
        assert!(
            valid(&fixed),
            "{expr}: the suggestion {fixed:?} is not valid"
        );
    }
}
