"""Random interval-schedule cases answered by Prefect 3.9.1's own IntervalSchedule.

Writes JSON lines in the conformance corpus format (tests/fixtures/conformance/README.md) to
stdout. Run with the Prefect venv's python:  gen_interval_cases.py --cases N --seed S > cases.jsonl
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


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n_cases = args.cases
    rng = random.Random(args.seed)
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
