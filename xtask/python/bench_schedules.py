"""Time Prefect 3.9.1's own server-side schedule classes on the inputs of prefab's `schedules`
criterion bench (benches/benches/schedules.rs), through the scheduler's path
(`_get_dates_generator`). Prints one JSON object: {bench id: median nanoseconds per unit, ..., "counts": {...}}
where the unit is one date for the `*_1000` inputs (divided by the dates actually returned), one parse for `cron_parse`, and one call for
`rrule_undated_first`.

Usage (the Prefect venv's python):  bench_schedules.py [--quick]
"""

import datetime
import json
import statistics
import sys
import time

from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule

QUICK = "--quick" in sys.argv
START = datetime.datetime(2026, 3, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))


def median_ns(fn, units, repeats, inner=1):
    """Median time per unit; `units` may be a callable given the warm-up call's result."""
    samples = []
    warm = fn()  # warm caches (zoneinfo, croniter tables) as a long-running scheduler has them
    if callable(units):
        units = units(warm)
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter_ns() - t0) / inner / units)
    return statistics.median(samples)


def dates(schedule, n, start):
    # Not always n: each call examines at most ~1000 candidates, and the candidates of a
    # spring-forward gap collapse onto one instant (990 dates for `*/5` across 8 March).
    return list(schedule._get_dates_generator(n=n, start=start))


def main():
    reps = 3 if QUICK else 9
    result = {}
    result["cron_parse"] = median_ns(
        lambda: CronSchedule(cron="*/15 9-17 * * mon-fri"), 1, reps, inner=200
    )
    cron = CronSchedule(cron="*/5 * * * *", timezone="America/New_York")
    result["cron_ny_1000"] = median_ns(lambda: dates(cron, 1000, START), len, reps)
    interval = IntervalSchedule(
        interval=datetime.timedelta(seconds=900), anchor_date=START, timezone="America/New_York"
    )
    result["interval_ny_1000"] = median_ns(lambda: dates(interval, 1000, START), len, reps)
    rrule = RRuleSchedule(
        rrule="DTSTART:20260101T000000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
        timezone="America/New_York",
    )
    result["rrule_ny_1000"] = median_ns(lambda: dates(rrule, 1000, START), len, reps)
    undated = RRuleSchedule(rrule="FREQ=MINUTELY;INTERVAL=5", timezone="America/New_York")
    first = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)
    result["rrule_undated_first"] = median_ns(
        lambda: dates(undated, 1, first), 1, 1 if QUICK else 3
    )
    result["counts"] = {
        "cron_ny_1000": len(dates(cron, 1000, START)),
        "interval_ny_1000": len(dates(interval, 1000, START)),
        "rrule_ny_1000": len(dates(rrule, 1000, START)),
    }
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
