"""Random interval-schedule cases answered by Prefect 3.9.1's own IntervalSchedule.

Writes JSON lines in the conformance corpus format (tests/fixtures/conformance/README.md) to
stdout. Run with the Prefect venv's python:  gen_interval_cases.py --cases N --seed S > cases.jsonl

Families (--family):
  random            anchors and starts within weeks of the DST changes of 2026-2027 (the default;
                    tests/fixtures/differential/interval.jsonl).
  future-anchor-dst anchors *after* the start, in windows that cross a spring-forward gap or a
                    fall-back fold; anchors often on a wall time inside the gap or the repeated
                    hour, intervals that make the grid land there (issue 12;
                    crates/schemas/tests/data/interval_dst_diff.jsonl).
"""

import datetime
import json
import random
import sys
from zoneinfo import ZoneInfo

from prefect.server.schemas.schedules import IntervalSchedule

ZONES = [
    "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham",
    "America/Sao_Paulo", "Asia/Kolkata", "UTC", "America/Santiago", "Europe/Berlin",
]
INTERVALS = [1, 2, 45, 60, 300, 900, 1800, 2700, 3600, 5400, 7200, 10800, 43200, 86400,
             90000, 97200, 172800, 259200, 604800, 1209600, 86400 * 30, 3 * 86400 + 1800,
             0.5, 1.25, 86399, 86401]


def transitions(zone, year):
    """Approximate DST transition instants of a zone in a year (hour resolution)."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc)
    prev = t.astimezone(tz).utcoffset()
    for h in range(0, 366 * 24):
        u = t + datetime.timedelta(hours=h)
        off = u.astimezone(tz).utcoffset()
        if off != prev:
            out.append(u)
            prev = off
    return out


def around(rng, points, spread_hours):
    base = rng.choice(points)
    return base + datetime.timedelta(seconds=rng.randint(-spread_hours * 3600, spread_hours * 3600))


# Zones for the future-anchor family: one-hour and 30-minute changes, changes at midnight
# (Havana, Cairo, Santiago), negative DST (Dublin), southern hemisphere, and Pacific/Apia's
# historical day skip is out of range (2026-2027 only).
DST_ZONES = [
    "America/New_York", "Europe/London", "Europe/Dublin", "Australia/Lord_Howe",
    "Pacific/Chatham", "America/Santiago", "Europe/Berlin", "America/Havana", "Africa/Cairo",
    "Australia/Sydney", "America/Nuuk", "Asia/Gaza", "America/St_Johns", "Pacific/Auckland",
]
DST_INTERVALS = [1, 59, 60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 21600,
                 43200, 86400, 86400 * 2, 86400 * 7, 90000, 82800, 86400 + 1800, 86399, 86401,
                 3 * 86400 + 3600, 1.5, 1800.25,
                 # Not binary fractions: Prefect's offset estimate (a float division of
                 # seconds) can then miss an exact multiple by one.
                 0.1, 1.1, 0.3, 3600.7, 86400.1, 90000.3, 2 * 86400 + 0.7]


def case_from(i, prefix, body, start, end, n):
    case = {"id": f"{prefix}-{i:05d}", "kind": "interval", "schedule": body,
            "start": start.isoformat(), "end": end.isoformat() if end else None, "n": n}
    try:
        s = IntervalSchedule(**body)
        case["prefect_json"] = json.loads(s.model_dump_json())
        dates = sorted(s._get_dates_generator(n=n, start=start, end=end))
        case["expected"] = [d.isoformat() for d in dates]
    except Exception as exc:  # noqa: BLE001 - the corpus records Prefect's refusals
        case["error"] = f"{type(exc).__name__}: {exc}"
        case["phase"] = "get_dates" if "prefect_json" in case else "validate"
    return case


def future_anchor_dst(n_cases, rng):
    """Anchors after the start; windows crossing a gap or a fold."""
    trans = {z: transitions(z, 2026) + transitions(z, 2027) for z in DST_ZONES}
    utc = datetime.timezone.utc
    for i in range(n_cases):
        zone = rng.choice(DST_ZONES)
        tz = ZoneInfo(zone)
        t = rng.choice(trans[zone])
        before = (t - datetime.timedelta(seconds=1)).astimezone(tz).utcoffset()
        after = t.astimezone(tz).utcoffset()
        change = after - before  # > 0: a gap (spring forward); < 0: a fold
        interval = rng.choice(DST_INTERVALS)
        # A start before the change, so that the window crosses it.
        start = t - datetime.timedelta(seconds=rng.randint(0, rng.choice([3 * 86400, 6 * 3600])))
        if rng.random() < 0.2:
            start = start.replace(microsecond=rng.randint(1, 999999))
        # An anchor after the start: often on a wall time inside the gap / the repeated hour
        # (written with an offset, as JSON must), on the change itself, or days later.
        shape = rng.random()
        wall_change = t.astimezone(tz).replace(tzinfo=None) - (change if change > datetime.timedelta(0) else datetime.timedelta(0))
        if shape < 0.35:
            inside = datetime.timedelta(seconds=rng.randint(0, int(abs(change).total_seconds())))
            wall = wall_change + inside
            anchor = wall.replace(tzinfo=datetime.timezone(rng.choice([before, after])))
            anchor += datetime.timedelta(days=rng.choice([0, 0, 0, 1, 2, 7, 30]))
        elif shape < 0.5:
            anchor = t + datetime.timedelta(seconds=rng.choice([0, 1, -1, 1800, 3600]))
        elif shape < 0.75:
            # Exactly k intervals after the start (or a microsecond off): the start is on the
            # anchor's grid.
            k = rng.randint(1, 60)
            anchor = start + datetime.timedelta(seconds=interval) * k
            anchor += datetime.timedelta(microseconds=rng.choice([0, 0, 0, 1, -1]))
        elif shape < 0.82:
            # The start's own wall clock k days later: on a whole-day grid by the calendar,
            # off it by the DST change in elapsed time.
            local = start.astimezone(tz).replace(tzinfo=None)
            wall = local + datetime.timedelta(days=rng.randint(1, 400))
            anchor = wall.replace(tzinfo=tz, fold=rng.choice([0, 1])).astimezone(utc)
        elif shape < 0.9:
            # Months or years later, with several DST changes between the anchor and the start.
            anchor = start + datetime.timedelta(seconds=rng.randint(40 * 86400, 3 * 366 * 86400))
        else:
            anchor = start + datetime.timedelta(seconds=rng.randint(1, 40 * 86400))
        if shape >= 0.9 and rng.random() < 0.5:
            anchor = anchor.replace(second=0, microsecond=0)
        if anchor <= start:
            anchor = start + datetime.timedelta(seconds=rng.randint(1, 7 * 86400))
        end = None
        if rng.random() < 0.6:
            end = t + datetime.timedelta(seconds=rng.randint(-3600, rng.choice([4 * 86400, 4 * 3600])))
            if end < start:
                end = start + datetime.timedelta(seconds=rng.randint(0, 4 * 86400))
        n = rng.choice([None, 1, 2, 5, 10, 30, 100])
        if end is None and n is None:
            n = 10
        anchor_zone = rng.choice([zone, "UTC", None])
        if anchor_zone is None:
            anchor_s = anchor.isoformat()
        else:
            anchor_s = anchor.astimezone(ZoneInfo(anchor_zone)).isoformat()
        body = {"interval": interval, "anchor_date": anchor_s, "timezone": zone}
        start_s = start.astimezone(rng.choice([utc, tz]))
        yield case_from(i, "interval-future-dst", body, start_s, end, n)


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--family", choices=["random", "future-anchor-dst"], default="random")
    args = parser.parse_args()
    n_cases = args.cases
    rng = random.Random(args.seed)
    if args.family == "future-anchor-dst":
        for case in future_anchor_dst(n_cases, rng):
            print(json.dumps(case))
        return
    trans = {z: transitions(z, 2026) + transitions(z, 2027) for z in ZONES}
    for i in range(n_cases):
        zone = rng.choice(ZONES)
        points = trans[zone] or [datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)]
        interval = rng.choice(INTERVALS)
        anchor = around(rng, points, 24 * 40).replace(microsecond=0)
        if rng.random() < 0.3:
            anchor = anchor.replace(minute=rng.choice([0, 30]), second=0)
        start = around(rng, points, 72)
        if rng.random() < 0.2:
            start = start.replace(microsecond=rng.randint(1, 999999))
        else:
            start = start.replace(microsecond=0)
        end = None
        if rng.random() < 0.3:
            end = start + datetime.timedelta(seconds=rng.randint(0, 10 * 86400))
        n = rng.choice([None, 1, 3, 10, 50])
        if end is None and n is None:
            n = 5
        anchor_s = anchor.astimezone(ZoneInfo(rng.choice([zone, "UTC"]))).isoformat()
        body = {"interval": interval, "anchor_date": anchor_s, "timezone": zone}
        if rng.random() < 0.1:
            del body["timezone"]
        case = {"id": f"interval-rand-{i:05d}", "kind": "interval", "schedule": body,
                "start": start.isoformat(), "end": end.isoformat() if end else None, "n": n}
        try:
            s = IntervalSchedule(**body)
            case["prefect_json"] = json.loads(s.model_dump_json())
            dates = sorted(s._get_dates_generator(n=n, start=start, end=end))
            case["expected"] = [d.isoformat() for d in dates]
        except Exception as exc:  # noqa: BLE001 - the corpus records Prefect's refusals
            case["error"] = f"{type(exc).__name__}: {exc}"
            case["phase"] = "get_dates" if "prefect_json" in case else "validate"
        print(json.dumps(case))


if __name__ == "__main__":
    main()
