//! Schedule computation benchmarks (group `schedules`).
//!
//! The inputs are the ones `cargo xtask bench-compare` runs through Prefect 3.9.1's own
//! server-side schedule classes, so the two can be compared side by side.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prefab_schemas::schedules::{CronSchedule, IntervalSchedule, RRuleSchedule, parse_timestamp};

fn schedules(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedules");
    let start = parse_timestamp("2026-03-06T00:00:00-05:00").expect("valid start");

    group.throughput(Throughput::Elements(1));
    group.bench_function("cron_parse", |b| {
        b.iter(|| CronSchedule::new(black_box("*/15 9-17 * * mon-fri")).expect("valid cron"))
    });

    let cron = CronSchedule::new("*/5 * * * *")
        .and_then(|s| s.with_timezone("America/New_York"))
        .expect("valid cron");
    // Per-date figures divide by the dates returned (Prefect's candidate cap can return fewer).
    let count = cron
        .dates(Some(1000), Some(start), None)
        .expect("dates")
        .len();
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("cron_ny_1000", |b| {
        b.iter(|| {
            cron.dates(Some(1000), Some(black_box(start)), None)
                .expect("dates")
        })
    });

    let anchor = start.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(-5)));
    let interval = IntervalSchedule::new(
        jiff::SignedDuration::from_secs(900),
        &anchor,
        Some("America/New_York"),
    )
    .expect("valid interval");
    // Per-date figures divide by the dates returned (Prefect's candidate cap can return fewer).
    let count = interval
        .dates(Some(1000), Some(start), None)
        .expect("dates")
        .len();
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("interval_ny_1000", |b| {
        b.iter(|| {
            interval
                .dates(Some(1000), Some(black_box(start)), None)
                .expect("dates")
        })
    });

    let rrule = RRuleSchedule::new("DTSTART:20260101T000000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR")
        .and_then(|s| s.with_timezone("America/New_York"))
        .expect("valid rrule");
    // Per-date figures divide by the dates returned (Prefect's candidate cap can return fewer).
    let count = rrule
        .dates(Some(1000), Some(start), None)
        .expect("dates")
        .len();
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("rrule_ny_1000", |b| {
        b.iter(|| {
            rrule
                .dates(Some(1000), Some(black_box(start)), None)
                .expect("dates")
        })
    });

    let undated = RRuleSchedule::new("FREQ=MINUTELY;INTERVAL=5")
        .and_then(|s| s.with_timezone("America/New_York"))
        .expect("valid rrule");
    let first_after = parse_timestamp("2026-11-26T00:00:00Z").expect("valid start");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rrule_undated_first", |b| {
        b.iter(|| {
            let dates = undated
                .dates(Some(1), Some(black_box(first_after)), None)
                .expect("dates");
            assert_eq!(dates.len(), 1);
            dates
        })
    });

    // Rules that never match: dateutil walks to the year 9999; prefab proves it at parse time.
    // (The unit test `rules_that_never_match_end_quickly` only guards against a hang.)
    let never: Vec<RRuleSchedule> = [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=DAILY;BYSETPOS=2",
        "FREQ=WEEKLY;BYMONTH=13",
        "FREQ=HOURLY;BYYEARDAY=367",
    ]
    .iter()
    .map(|r| RRuleSchedule::new(r).expect("valid rrule"))
    .collect();
    let from = parse_timestamp("2026-01-01T00:00:00Z").expect("valid start");
    group.throughput(Throughput::Elements(never.len() as u64));
    group.bench_function("rrule_never_matches", |b| {
        b.iter(|| {
            for rule in &never {
                let dates = rule
                    .dates(Some(5), Some(black_box(from)), None)
                    .expect("dates");
                assert!(dates.is_empty());
            }
        })
    });

    // A mix like the property test `structured_rules_expand_quickly` draws (BYSETPOS, COUNT
    // counted from 2020 at sub-daily frequencies, BYWEEKNO, BYEASTER, negative BY values), each
    // asked for 5 dates and for a 30-day window; the test only guards against a hang.
    let mix: Vec<RRuleSchedule> = [
        "DTSTART:20200101T000000\nRRULE:FREQ=MINUTELY;COUNT=5000000;BYSECOND=0,30",
        "DTSTART:20200101T000000\nRRULE:FREQ=SECONDLY;INTERVAL=13;BYMINUTE=5,59",
        "DTSTART:20260307T023000\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "DTSTART:20261231T235959\nRRULE:FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU",
        "DTSTART:20200101T000000\nRRULE:FREQ=YEARLY;BYEASTER=-2",
        "DTSTART:20200101T000000\nRRULE:FREQ=HOURLY;INTERVAL=5;BYMONTHDAY=-1,13;COUNT=1000",
        "FREQ=DAILY;BYYEARDAY=-366,100;BYHOUR=23",
    ]
    .iter()
    .map(|r| {
        RRuleSchedule::new(r)
            .and_then(|s| s.with_timezone("America/New_York"))
            .expect("valid rrule")
    })
    .collect();
    let until = parse_timestamp("2026-01-31T00:00:00Z").expect("valid end");
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.bench_function("rrule_structured_mix", |b| {
        b.iter(|| {
            for rule in &mix {
                black_box(
                    rule.dates(Some(5), Some(black_box(from)), None)
                        .expect("dates"),
                );
                black_box(
                    rule.dates(Some(1000), Some(black_box(from)), Some(until))
                        .expect("dates"),
                );
            }
        })
    });

    group.finish();
}

criterion_group!(benches, schedules);
criterion_main!(benches);
