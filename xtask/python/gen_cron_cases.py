#!/usr/bin/env python
"""Differential cases for prefab's cron engine, computed by the real Prefect 3.9.1.

Generates random cron expressions (every feature of croniter's dialect, plus mutated and
invalid ones), time zones with unusual DST rules, and starts placed around DST transitions
(inside folds and gaps, with and without microseconds), asks Prefect's server-side
``CronSchedule`` for the dates, and writes JSON lines in the format of
``tests/fixtures/conformance/schedules.jsonl``:

    {"id", "kind": "cron", "schedule", "start", "end", "n", "expected"}
    {"id", "kind": "cron", "schedule", "error", "phase": "validate" | "get_dates", ...}

Run it with the Python that has Prefect installed:

    python xtask/python/gen_cron_cases.py --cases 1150 --seed 1 --compact \
        > crates/schemas/tests/data/cron_diff.jsonl
    python xtask/python/gen_cron_cases.py --cases 30000 --seed 7 > /tmp/cron_big.jsonl
    python xtask/python/gen_cron_cases.py --cases 50000 --seed 8 --validity > /tmp/cron_valid.jsonl
    PREFAB_SCHEDULE_CORPUS=/tmp/cron_big.jsonl cargo test -p prefab --test conformance_schedules

Expressions that Prefect accepts with a random (``R``) field are skipped: their dates are random.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
from zoneinfo import ZoneInfo

from prefect.server.schemas.schedules import CronSchedule
from whenever import Instant

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Sao_Paulo",  # DST at midnight (until 2019)
    "Asia/Kolkata",
    "UTC",
    "America/Santiago",  # DST at midnight
    "Africa/Casablanca",  # negative DST around Ramadan
    "Europe/Dublin",  # negative DST in the tz database
    "Antarctica/Troll",  # two-hour DST
    "America/St_Johns",
    None,  # no timezone: UTC
]

# (min, max) per field, croniter's order: minute hour dom month dow second year.
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (0, 59), (1970, 2099)]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MACROS = ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@reboot"]
HASH_RE = re.compile(r"^(h|r)(\((\d+)-(\d+)\))?(/(\d+))?$")


def rcase(s: str, rng: random.Random) -> str:
    """Random letter case (croniter lower-cases everything)."""
    r = rng.random()
    if r < 0.6:
        return s
    if r < 0.8:
        return s.upper()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in s)


def value(f: int, rng: random.Random, edge: float = 0.025) -> str:
    lo, hi = RANGES[f]
    if rng.random() < edge:
        v = rng.choice([lo - 1, hi + 1, hi, lo, 7, 0, 60, 24, 32, 13])
    elif f == 6:
        v = rng.choice([rng.randint(lo, hi), rng.randint(2024, 2040)])
    else:
        v = rng.randint(lo, hi)
    if f == 3 and rng.random() < 0.35 and 1 <= v <= 12:
        return rcase(MONTHS[v - 1], rng)
    if f == 4 and rng.random() < 0.35 and 0 <= v <= 6:
        return rcase(DAYS[v], rng)
    if f == 4 and v == 0 and rng.random() < 0.2:
        return "7"
    if rng.random() < 0.03:
        return "0" + str(v)
    return str(v)


def atom(f: int, rng: random.Random) -> str:
    """One element of a comma-separated list."""
    r = rng.random()
    lo, hi = RANGES[f]
    if f == 2 and r < 0.08:
        return rng.choice(["L", "l", "L", "5-L", "20-l/2", "LW", "L-3", "L/2", "15W"][: rng.choice([5, 9])])
    if f == 4 and r < 0.15:
        k = rng.choice([1, 2, 3, 4, 5, 5, 1, 2, 0, 6][: rng.choice([8, 10])])
        return rng.choice(
            [
                f"{value(f, rng)}#{k}",
                f"L{rng.randint(0, 7)}",
                f"{rcase(DAYS[rng.randint(0, 6)], rng)}-{rcase(DAYS[rng.randint(0, 6)], rng)}#{k}",
                f"{rng.randint(0, 6)}L",
                f"L{rcase(DAYS[rng.randint(0, 6)], rng)}",
                f"*#{k}",
            ][: rng.choice([3, 3, 3, 6])]
        )
    if r < 0.45:
        return value(f, rng)
    if r < 0.65:
        a, b = value(f, rng), value(f, rng)
        if rng.random() < 0.1:
            b = a  # croniter: a-a is the whole field
        s = f"{a}-{b}"
        if rng.random() < 0.3:
            s += f"/{rng.choice([1, 2, 3, 5, 7, 10, 15, 0, 100])}"
        return s
    if r < 0.82:
        step = rng.choice([1, 2, 3, 4, 5, 6, 7, 10, 12, 15, 20, 30, 45, 0, 61])
        return rng.choice([f"*/{step}", f"{value(f, rng)}/{step}"])
    if r < 0.97:
        return "*"
    return rng.choice(["?", "*/", "/5", "1-", "-1", "1--2", "1/2/3", "a", "", "**", "1-2-3", "R", "H", "r/5", "H(0-5)"])


def field(f: int, rng: random.Random, busy: bool) -> str:
    if busy and f in (2, 3, 4, 6) and rng.random() < 0.75:
        return "*"
    if f in (2, 4) and rng.random() < 0.05:
        return "?"
    n = 1 if rng.random() < 0.75 else rng.randint(2, 4)
    return ",".join(atom(f, rng) for _ in range(n))


# Hand-picked expressions for croniter's quirks (schedules.md §5).
QUIRKS = [
    "0 0 1,30 * *", "0 0 31,L * *", "0 0 2-31,L * *", "0 0 1 * fri#3", "0 0 31 2 mon", "0 0 15 * fri#3",
    "0 0 * * *,1#2", "0 0 1 * L5", "5-5 * * * *", "0 0-0/6 * * *", "0 0 * * 0-7/2", "0 0 * * 7",
    "0 0 0 * * 0", "0 0 5-0 * * 0", "0 0 * * 7 0", "0 0 1-31 * mon", "0 0 * * sun-sat#2",
    "0 0 1 * 0,1,2,3,4,5,6#2", "0 0 * 2 5#5", "0 0 * * L5,L6", "0 0 * * 5#1,5#3,L5", "0 0 13 * fri",
    "0 0 * * * 0 1980-5", "0 0 1 1 * 0 2030", "0 12 * * 1#5 30 2030-2040", "0 0 29 2 * 0 2030-2099",
    "0 0 ? * 1#2", "0 0 *,5 * mon", "0 0 */2 * mon", "50-10/7 * * * *", "0 0 28-3 * *",
    "0 0 * nov-feb/2 *", "0 0 * * fri-tue/2", "0 0 1 Apr-Jan/3 *", "0 0 \u0663 * *", "0\u00a00 * * *",
    "0 2 * * *", "30 2 * * *", "*/20 1-3 * * *", "0,30 0-2 * * *", "* 2 * * *", "59 1 * * * 59",
]


def expression(rng: random.Random) -> str:
    if rng.random() < 0.08:
        return rng.choice(QUIRKS)
    if rng.random() < 0.05:
        return rcase(rng.choice(MACROS), rng)
    busy = rng.random() < 0.55  # mostly time-of-day fields: many dates, exercises DST
    nfields = rng.choices([5, 6, 7], [0.7, 0.2, 0.1])[0]
    fields = [field(f, rng, busy) for f in range(nfields)]
    if busy and rng.random() < 0.5:
        fields[0] = rng.choice(["*", "*/5", "*/15", "0", "30", "0,30", "*/20", "10-50/10"])
        fields[1] = rng.choice(["*", "*/2", "0-5", "1-3", "2", "1,2,3", "0", "22-3"])
    if nfields == 7 and rng.random() < 0.6:
        fields[6] = rng.choice(["*", "2025-2035", "2026", "2026,2028", "*/2"])
    sep = " " if rng.random() < 0.9 else rng.choice(["  ", "\t", " \u00a0", "\x1c", "\u3000", "\n"])
    s = sep.join(fields)
    if rng.random() < 0.03:
        s = " " + s + " "
    return s


MUTATION_CHARS = list("-/,#L W?*x0957lLh") + ["\u0663", "\u00a0", "\x1c", "\u212a", "\u0130", "\U0001d7d8", "é"]


def mutate(s: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        i = rng.randint(0, len(s))
        if r < 0.35:
            s = s[:i] + rng.choice(MUTATION_CHARS) + s[i:]
        elif r < 0.6 and s:
            s = s[:i] + s[i + 1 :]
        elif r < 0.8:
            tokens = s.split()
            if tokens:
                j = rng.randrange(len(tokens))
                tokens.insert(j, tokens[j]) if rng.random() < 0.5 else tokens.pop(j)
                s = " ".join(tokens)
        else:
            s = s.upper()
    return s


SOUP = list("0123456789*/,-#?LlWwRrHh @") + ["jan", "MON", "fri", "dec", "\u0663", "\t", "\u00a0", "\x1c", "\u212a"]


def soup(rng: random.Random) -> str:
    """Cron-flavoured character soup, for validity agreement."""
    return "".join(rng.choice(SOUP) for _ in range(rng.randint(0, 24)))


def validity_expression(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return soup(rng)
    if r < 0.45:
        # Five to seven fields of soup: gets past the field count more often.
        return " ".join(
            "".join(rng.choice(SOUP[:26]) for _ in range(rng.randint(1, 5))) for _ in range(rng.choice([5, 5, 6, 7]))
        )
    if r < 0.85:
        return mutate(expression(rng), rng)
    return expression(rng)


def transitions(zone: str | None) -> list[tuple[int, int]]:
    """(instant seconds, offset change seconds) of the zone's transitions, 1950-2100."""
    if zone in (None, "UTC"):
        return []
    out = []
    z = Instant.from_utc(2100, 1, 1).to_tz(zone)
    while True:
        t = z.prev_transition()
        if t is None or t.year < 1950:
            break
        after = t.offset.total("seconds")
        before = t.subtract(seconds=1).offset.total("seconds")
        out.append((int(t.to_instant().timestamp()), int(after - before)))
        z = t
    return out


def start_instant(zone: str | None, rng: random.Random, trans: dict) -> dt.datetime:
    tz = dt.timezone.utc
    ts = trans.get(zone) or []
    if ts and rng.random() < 0.75:
        at, change = rng.choice(ts)
        gap = abs(change) or 3600
        delta = rng.choice(
            [
                0, 1, -1, gap, gap - 1, gap + 1, -gap, -gap - 1, -gap + 1, gap // 2, -gap // 2,
                rng.randint(-2 * gap, 2 * gap), rng.randint(-86400, 86400), rng.randint(-120, 120),
            ]
        )
        secs = at + delta
    else:
        lo, hi = (1950, 2099) if rng.random() < 0.15 else (2016, 2034)
        secs = rng.randint(int(dt.datetime(lo, 1, 1, tzinfo=tz).timestamp()), int(dt.datetime(hi, 1, 1, tzinfo=tz).timestamp()))
        if rng.random() < 0.3:
            secs -= secs % rng.choice([60, 3600, 86400])
    micro = 0
    r = rng.random()
    if r < 0.1:
        micro = rng.randint(1, 999_999)
    elif r < 0.15:
        micro = rng.choice([1, 500_000, 999_999])
    start = dt.datetime.fromtimestamp(secs, tz).replace(microsecond=micro)
    # Render the start in the schedule's zone or in UTC: only the instant matters.
    if zone and rng.random() < 0.6:
        start = start.astimezone(ZoneInfo(zone))
        start = dt.datetime.fromisoformat(start.isoformat())  # fixed offset, as parsed from JSON
    return start


def compute(expr: str, zone: str | None, day_or: bool, start, end, n):
    """Prefect's answer: ("ok", dates) / ("validate", msg) / ("get_dates", msg) / ("skip", why)."""
    try:
        sched = CronSchedule(cron=expr, timezone=zone, day_or=day_or)
    except Exception as exc:  # pydantic ValidationError (or anything the validator raised)
        errors = getattr(exc, "errors", None)
        msg = errors()[0]["msg"] if callable(errors) else f"{type(exc).__name__}: {exc}"
        return "validate", msg[:200]
    if any(HASH_RE.match(tok) for tok in expr.lower().split()):
        return "skip", "random field"
    try:
        dates = sorted(sched._get_dates_generator(n=n, start=start, end=end))
    except Exception as exc:
        return "get_dates", f"{type(exc).__name__}: {exc}"[:200]
    return "ok", [d.isoformat() for d in dates]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--compact", action="store_true", help="small n and short ends (committed corpus)")
    ap.add_argument("--invalid-share", type=float, default=0.25, help="share of mutated expressions")
    ap.add_argument(
        "--validity",
        action="store_true",
        help="mostly malformed expressions (validity agreement); accepted ones get n=1 date cases",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    trans = {z: transitions(z) for z in ZONES}
    stats = {"ok": 0, "validate": 0, "get_dates": 0, "skip": 0}
    written = 0
    while written < args.cases:
        if args.validity:
            expr = validity_expression(rng)
        else:
            expr = expression(rng)
            if rng.random() < args.invalid_share:
                expr = mutate(expr, rng)
        zone = rng.choice(ZONES)
        day_or = rng.random() < 0.6
        start = start_instant(zone, rng, trans)
        end = None
        if rng.random() < 0.35:
            span = rng.choice([0, 1, 59, 60, 3600, 7200, 86400, 3 * 86400] if args.compact else [0, 60, 3600, 86400, 7 * 86400, 60 * 86400])
            end = start + dt.timedelta(seconds=rng.randint(0, span), microseconds=rng.choice([0, 0, 0, 1, 999_999]))
        if args.validity:
            n, end = 1, None
        elif args.compact:
            n = rng.choice([None, None, 0, 1, 1, 2, 3, 5, 8, 12])
            if end is not None and n is None:
                n = rng.choice([None, 5, 20])
        else:
            n = rng.choice([None, 0, 1, 2, 3, 5, 10, 25, 50, 200, 1000, 5000])
        kind, result = compute(expr, zone, day_or, start, end, n)
        stats[kind] += 1
        if kind == "skip":
            continue
        written += 1
        case = {
            "id": f"cron-diff-{args.seed}-{written:05d}",
            "kind": "cron",
            "schedule": {"cron": expr, "timezone": zone, "day_or": day_or},
        }
        if kind == "validate":
            case.update(error=result, phase="validate")
        else:
            case.update(start=start.isoformat(), end=end.isoformat() if end else None, n=n)
            if kind == "get_dates":
                case.update(error=result, phase="get_dates")
            else:
                case["expected"] = result
        sys.stdout.write(json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
