//! Bounded fuzzing of every parser and engine: random and mutated inputs must give a value or a
//! clear error, never a panic or a hang. Runs for `PREFAB_FUZZ_SECONDS` (default 3; CI runs
//! `cargo xtask test`, which gives it 60 in release mode). A failure prints the seed and the
//! minimal input; `PREFAB_FUZZ_SEED` replays a seed.

use std::time::{Duration, Instant};

use prefab_schemas::schedules::{Schedule, parse_timestamp};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "",
    "Nope/Zone",
];

const CRON_SEEDS: &[&str] = &[
    "*/15 9-17 * * mon-fri",
    "0 0 L * *",
    "0 12 * * L5",
    "0 9 * * FRI#3",
    "30 2 * * *",
    "0 0 29 2 *",
    "@hourly",
    "* * * * * 30",
    "0 0 1 1 * 0 2030",
    "5-5 * * * *",
    "0 0 ? * SAT-SUN",
    "0 0 1,L * *",
];

const RRULE_SEEDS: &[&str] = &[
    "FREQ=DAILY",
    "DTSTART:20260101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "DTSTART;TZID=Asia/Tokyo:20250823T013000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
    "RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=1;COUNT=5",
    "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;UNTIL=20280514T065959",
    "RRULE:FREQ=DAILY\nEXRULE:FREQ=WEEKLY;BYDAY=SA,SU\nEXDATE:20260105T000000",
    "FREQ=MINUTELY;INTERVAL=5",
    "FREQ=HOURLY;BYHOUR=1,2,3;BYMINUTE=0,30;BYSECOND=0",
];

/// A string mutated by random edits (insert, delete, replace, duplicate a span).
fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = String> {
    let alphabet: Vec<char> =
        "0123456789*/,-#?LWHR@ :;=\nTZabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+é\u{0}"
            .chars()
            .collect();
    (
        prop::sample::select(seeds),
        prop::collection::vec(
            (
                0usize..4,
                any::<prop::sample::Index>(),
                prop::sample::select(alphabet),
            ),
            0..6,
        ),
    )
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (op, at, c) in edits {
                let i = if chars.is_empty() {
                    0
                } else {
                    at.index(chars.len())
                };
                match op {
                    0 => chars.insert(i, c),
                    1 if !chars.is_empty() => {
                        chars.remove(i);
                    }
                    2 if !chars.is_empty() => chars[i] = c,
                    _ => {
                        let span: Vec<char> = chars[i..].iter().take(4).copied().collect();
                        for (k, ch) in span.into_iter().enumerate() {
                            chars.insert(i + k, ch);
                        }
                    }
                }
            }
            chars.into_iter().collect()
        })
}

fn schedule_body() -> impl Strategy<Value = serde_json::Value> {
    let text = prop_oneof![
        mutated(CRON_SEEDS),
        mutated(RRULE_SEEDS),
        "\\PC{0,40}",
        "[0-9*/ ,LW#-]{0,30}"
    ];
    let zone = prop::option::of(prop::sample::select(ZONES));
    (0u8..4, text, zone, any::<f64>(), any::<bool>()).prop_map(|(kind, text, zone, num, flag)| {
        match kind {
            0 => json!({"cron": text, "timezone": zone, "day_or": flag}),
            1 => json!({"rrule": text, "timezone": zone.unwrap_or("UTC")}),
            2 => json!({"interval": if flag { json!(num) } else { json!(text) },
                        "anchor_date": "2026-03-08T02:30:00-05:00", "timezone": zone}),
            _ => {
                json!({"interval": (num.abs() % 1e7) + 0.5, "anchor_date": text, "timezone": zone})
            }
        }
    })
}

#[test]
fn parsers_and_engines_never_panic() {
    let seconds: u64 = std::env::var("PREFAB_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("PREFAB_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("fuzzing schedule parsers for {seconds}s with PREFAB_FUZZ_SEED={seed}");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let config = Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let mut master = TestRunner::new_with_rng(config.clone(), rng);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let calls = std::cell::Cell::new(0u64);
    let start_strategy = (
        -2_208_988_800i64..7_258_118_400i64,
        0u32..1_000_000,
        0usize..40,
        any::<bool>(),
    );
    while Instant::now() < deadline {
        let inputs = (schedule_body(), start_strategy.clone(), "\\PC{0,30}");
        // A runner runs `cases` inputs once; each round forks a fresh one from the seeded master.
        TestRunner::new_with_rng(config.clone(), master.new_rng())
            .run(&inputs, |(body, (secs, micros, n, with_end), junk)| {
                calls.set(calls.get() + 1);
                let _ = parse_timestamp(&junk);
                if let Ok(schedule) = Schedule::from_json(&body) {
                    let start = jiff::Timestamp::new(secs, (micros * 1000) as i32).unwrap();
                    let end = with_end.then(|| start + jiff::SignedDuration::from_hours(24 * 9));
                    let _ = schedule.dates(Some(n), Some(start), end);
                    let again = serde_json::to_value(&schedule).unwrap();
                    prop_assert!(
                        Schedule::from_json(&again).is_ok(),
                        "normalised form refused: {again}"
                    );
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("PREFAB_FUZZ_SEED={seed}: {e}"));
    }
    eprintln!("{} inputs, no panic", calls.get());
    assert!(calls.get() > 0, "the fuzzer ran no input");
}
