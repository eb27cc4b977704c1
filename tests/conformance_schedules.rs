//! Every case of Prefect 3.9.1's schedule corpus (`tests/fixtures/conformance/schedules.jsonl`,
//! produced by Prefect's own server-side schedule classes) must come out the same: the same
//! number of dates, each the same instant with the same UTC offset; rejected schedules rejected;
//! the stored (normalised) JSON equal to Prefect's.

use prefab::schemas::schedules::Schedule;
use serde_json::Value;

const CORPUS: &str = include_str!("fixtures/conformance/schedules.jsonl");

/// Cases whose expected dates come from python-dateutil's tz reader, which has no DST rules after
/// 2037: Prefect reads the rule's wall time with the zone's *standard* offset in summer.
/// prefab applies the real rules instead (docs/deviations.md, S1); for these cases the test
/// checks that every date up to 2037 is Prefect's, and every later one is Prefect's shifted by
/// exactly the daylight-saving amount.
const POST_2037_RRULE: &[&str] = &["rrule-0038", "rrule-0047"];

fn ts(v: &Value) -> Option<jiff::Timestamp> {
    v.as_str().map(|s| {
        s.parse()
            .unwrap_or_else(|e| panic!("bad timestamp {s}: {e}"))
    })
}

/// (instant in µs, offset in seconds) of an RFC 3339 string.
fn instant_and_offset(s: &str) -> (i64, i32) {
    let t: jiff::Timestamp = s.parse().unwrap();
    let pieces = jiff::fmt::temporal::Pieces::parse(s).unwrap();
    let offset = match pieces.offset() {
        Some(jiff::fmt::temporal::PiecesOffset::Numeric(n)) => n.offset().seconds(),
        _ => 0,
    };
    (t.as_microsecond(), offset)
}

fn check(case: &Value) -> Result<(), String> {
    let id = case["id"].as_str().unwrap();
    let parsed = Schedule::from_json(&case["schedule"]);
    if case.get("phase").and_then(Value::as_str) == Some("validate") {
        return match parsed {
            Err(e) => {
                let msg = e.to_string();
                if msg.len() < 20 {
                    return Err(format!("{id}: error message too terse: {msg}"));
                }
                Ok(())
            }
            Ok(s) => Err(format!(
                "{id}: accepted {s:?}, Prefect refused: {}",
                case["error"]
            )),
        };
    }
    let schedule = parsed.map_err(|e| format!("{id}: refused: {e}"))?;
    if let Some(expected_json) = case.get("prefect_json") {
        let mine = serde_json::to_value(&schedule).unwrap();
        if &mine != expected_json {
            return Err(format!(
                "{id}: stored JSON {mine} != Prefect's {expected_json}"
            ));
        }
    }
    let n = case["n"].as_u64().map(|n| n as usize);
    let result = schedule.dates(n, ts(&case["start"]), ts(&case["end"]));
    if case.get("phase").and_then(Value::as_str) == Some("get_dates") {
        return match result {
            Err(_) => Ok(()),
            Ok(d) => Err(format!(
                "{id}: computed {} dates, Prefect raised {}",
                d.len(),
                case["error"]
            )),
        };
    }
    let dates = result.map_err(|e| format!("{id}: failed: {e}"))?;
    let got: Vec<(i64, i32)> = dates
        .iter()
        .map(|d| (d.as_microsecond(), d.offset_seconds()))
        .collect();
    let want: Vec<(i64, i32)> = case["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| instant_and_offset(v.as_str().unwrap()))
        .collect();
    if POST_2037_RRULE.contains(&id) && got.len() == want.len() {
        return check_post_2037(id, &dates, &want);
    }
    if got != want {
        let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{id}: got {shown:?}\n      expected {}",
            case["expected"]
        ));
    }
    Ok(())
}

/// See [`POST_2037_RRULE`].
fn check_post_2037(
    id: &str,
    dates: &[prefab::schemas::schedules::ScheduledTime],
    want: &[(i64, i32)],
) -> Result<(), String> {
    let cutoff = "2038-01-01T00:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_microsecond();
    let mut shifted = 0;
    for (ours, &(instant, offset)) in dates.iter().zip(want) {
        if instant < cutoff {
            if (ours.as_microsecond(), ours.offset_seconds()) != (instant, offset) {
                return Err(format!("{id}: {ours} differs from Prefect before 2038"));
            }
            continue;
        }
        // Prefect's instant is ours plus the DST amount: our offset minus the zone's standard
        // offset (the smallest of the year, for these zones).
        let tz = jiff::tz::TimeZone::get(if id == "rrule-0038" {
            "Australia/Lord_Howe"
        } else {
            "America/New_York"
        })
        .unwrap();
        let standard = (1..4)
            .map(|q| {
                tz.to_offset(ours.timestamp() + jiff::SignedDuration::from_hours(24 * 91 * q))
                    .seconds()
            })
            .min()
            .unwrap_or_default();
        let dst = i64::from(ours.offset_seconds() - standard);
        if dst <= 0 || instant - ours.as_microsecond() != dst * 1_000_000 {
            return Err(format!(
                "{id}: {ours} is not Prefect's post-2037 date shifted by the DST amount"
            ));
        }
        shifted += 1;
    }
    if shifted == 0 {
        return Err(format!(
            "{id}: no post-2037 date; drop it from POST_2037_RRULE"
        ));
    }
    Ok(())
}

fn run_corpus(text: &str, min_cases: usize) {
    let mut failures = Vec::new();
    let mut total = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        total += 1;
        if let Err(e) = check(&case) {
            failures.push(e);
        }
    }
    assert!(total >= min_cases, "corpus truncated: {total} cases");
    let shown: Vec<&String> = failures.iter().take(40).collect();
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ:\n{}",
        failures.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_corpus_case_matches_prefect() {
    run_corpus(CORPUS, 290);
}

/// Random cases (DST-heavy) answered by Prefect 3.9.1 itself, generated by
/// `cargo xtask gen-schedule-cases`; `PREFAB_SCHEDULE_CORPUS=a.jsonl:b.jsonl` adds more files.
#[test]
fn differential_cases_match_prefect() {
    run_corpus(include_str!("fixtures/differential/interval.jsonl"), 1000);
    if let Ok(paths) = std::env::var("PREFAB_SCHEDULE_CORPUS") {
        for path in paths.split(':').filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            run_corpus(&text, 1);
        }
    }
}
