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

    group.finish();
}

criterion_group!(benches, schedules);
criterion_main!(benches);
