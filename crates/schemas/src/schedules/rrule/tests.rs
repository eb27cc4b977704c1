//! Tests: the conformance corpus, differential-test files produced by real Prefect
//! (`xtask/python/diff_rrule.py`), behaviour unit tests, and robustness properties.

use super::*;
use crate::schedules::zone::MICROS;

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

/// One line of a corpus-format file, checked. Returns `Err(description)` on a mismatch.
fn check_case(case: &serde_json::Value, post_2037: &[&str]) -> Result<(), String> {
    let id = case["id"].as_str().unwrap_or("?");
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
            return match RRuleSet::parse(rule) {
                Err(_) => Ok(()),
                Ok(_) => Err(format!(
                    "{id}: {rule:?} was accepted but Prefect refuses it"
                )),
            };
        }
        let set = RRuleSet::parse(rule).map_err(|e| format!("{id}: refused at parse: {e}"))?;
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
    let set = RRuleSet::parse(rule).map_err(|e| format!("{id}: refused: {e}"))?;
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
            let fixed = localize_dateutil(&zone, e + standard);
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

#[test]
fn differential_sample() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rrule_diff.jsonl");
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let (checked, failures) = run_file(&text, false, &[]);
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs a differential file produced by `xtask/python/diff_rrule.py`:
/// `RRULE_DIFF_FILE=/path/cases.jsonl cargo test -p prefab-schemas rrule_diff_file`.
#[test]
fn rrule_diff_file() {
    let Ok(path) = std::env::var("RRULE_DIFF_FILE") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("RRULE_DIFF_FILE readable");
    let (checked, failures) = run_file(&text, false, &[]);
    eprintln!("{checked} cases, {} failures", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn smoke() {
    assert_eq!(
        dates(
            "DTSTART:20260101T090000\nRRULE:FREQ=DAILY",
            "America/New_York",
            "2026-03-07T00:00:00Z",
            None,
            3
        ),
        [
            "2026-03-07T09:00:00-05:00",
            "2026-03-08T09:00:00-04:00",
            "2026-03-09T09:00:00-04:00"
        ]
    );
    let _ = MICROS;
}
