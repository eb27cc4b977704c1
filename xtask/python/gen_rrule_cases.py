#!/usr/bin/env python3
"""Differential test data for prefab's rrule engine, computed by real Prefect 3.9.1.

Generates random rrule schedules (every BY* part, negative values, WKST, INTERVAL, COUNT/UNTIL,
floating / TZID / Z DTSTART, RDATE / EXDATE / EXRULE, with and without the ``RRULE:`` prefix, odd
letter case) in zones with unusual DST, asks Prefect's server-side ``RRuleSchedule`` for its dates
(``sorted(_get_dates_generator(n, start, end))``) and writes one JSON line per case in the
conformance-corpus format (``tests/fixtures/conformance/README.md``), plus an extra ``now`` key:
the local time the case was validated/computed at (dateutil fills missing date parts from today
and checks some rules against the current hour, so the Rust side replays that instant).

It also writes ``{"kind": "rrule_parse", "rrule", "valid", "now"}`` lines for random and mutated
strings: whether Prefect's validation (``dateutil.rrule.rrulestr``) accepts them.

Run with Prefect's interpreter, then feed the file to the Rust test:

    /root/.cache/prefab/prefect-3.9.1/bin/python xtask/python/gen_rrule_cases.py \\
        --cases 3000 --parse 3000 --seed 1 --out /tmp/rrule_diff.jsonl
    RRULE_DIFF_FILE=/tmp/rrule_diff.jsonl cargo test -p prefab-schemas differential_sample

Dates after 2036 are avoided: dateutil has no DST rules past 2037 and prefab computes those
dates correctly instead (a documented difference).
"""

import argparse
import datetime as dt
import json
import os
import random
import signal
import sys
import time
import warnings

os.environ["TZ"] = "UTC"
time.tzset()
warnings.filterwarnings("ignore")

from zoneinfo import ZoneInfo  # noqa: E402

from prefect.server.schemas.schedules import RRuleSchedule  # noqa: E402

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "UTC",
    "Europe/Dublin",
    "Africa/Casablanca",
]
FREQS = ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
LIMIT = dt.datetime(2036, 12, 1, tzinfo=dt.timezone.utc)


class Timeout(Exception):
    pass


def _alarm(_sig, _frame):
    raise Timeout()


signal.signal(signal.SIGALRM, _alarm)


def transitions(zone, year):
    """DST transition instants (UTC) of a zone in a year, found by scanning hourly."""
    z = ZoneInfo(zone)
    out = []
    t = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
    prev = t.astimezone(z).utcoffset()
    while t.year == year:
        t2 = t + dt.timedelta(hours=1)
        off = t2.astimezone(z).utcoffset()
        if off != prev:
            lo, hi = t, t2
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(z).utcoffset() == prev:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
            prev = off
        t = t2
    return out


TRANSITIONS = {z: [t for y in range(2025, 2029) for t in transitions(z, y)] for z in ZONES}


def fmt_wall(d, style=None):
    """A wall clock in one of the forms dateutil's parser reads."""
    style = style if style is not None else random.choices(["basic", "iso", "date", "frac"], weights=[20, 2, 1, 1])[0]
    if style == "iso":
        return d.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "date":
        return d.strftime("%Y%m%d")
    if style == "frac":
        return d.strftime("%Y%m%dT%H%M%S") + random.choice([".5", ".25", ".000001"])
    return d.strftime("%Y%m%dT%H%M%S")


def rand_case(s, word):
    """Random letter case (rrulestr upper-cases everything but TZID names)."""
    if random.random() < 0.85:
        return word
    return "".join(c.lower() if random.random() < 0.5 else c for c in word)


def pick(seq, k):
    return random.sample(seq, k=min(k, len(seq)))


def int_list(values):
    return ",".join(str(v) for v in values)


def random_anchor():
    """A wall clock near DST transitions, 2025..2028."""
    zone = random.choice(ZONES)
    trans = TRANSITIONS[zone]
    if trans and random.random() < 0.6:
        t = random.choice(trans).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        t += dt.timedelta(minutes=random.choice([-90, -60, -30, -15, 0, 15, 30, 45, 60, 120]))
    else:
        t = dt.datetime(2025, 1, 1) + dt.timedelta(minutes=random.randrange(0, 4 * 365 * 24 * 60))
    return t.replace(second=random.choice([0, 0, 0, 0, 30, 59]))


def random_rule(freq, dtstart, allow_count=True):
    parts = [("FREQ", freq)]
    r = random.random
    if r() < 0.4:
        interval = random.choice([1, 2, 3, 4, 5, 6, 7, 10, 12, 13, 15, 24, 25, 30, 45, 60, 90, 0])
        if freq in ("YEARLY",):
            interval = random.choice([1, 2, 3])
        parts.append(("INTERVAL", str(interval)))
    if r() < 0.25:
        parts.append(("WKST", random.choice(DAYS)))
    day_level = freq in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
    if r() < (0.35 if day_level else 0.15):
        parts.append(("BYMONTH", int_list(sorted(pick(list(range(1, 13)), random.randint(1, 4))))))
    if r() < (0.3 if day_level else 0.1):
        vals = pick(list(range(1, 32)) + list(range(-31, 0)), random.randint(1, 3))
        parts.append(("BYMONTHDAY", int_list(vals)))
    if r() < (0.12 if day_level else 0.04):
        vals = pick([1, 2, 32, 59, 60, 100, 200, 365, 366, -1, -2, -100, -365, -366], random.randint(1, 3))
        parts.append(("BYYEARDAY", int_list(vals)))
    if r() < (0.12 if day_level else 0.03):
        vals = pick([1, 2, 3, 10, 20, 26, 27, 52, 53, -1, -2, -53], random.randint(1, 2))
        parts.append(("BYWEEKNO", int_list(vals)))
    if r() < 0.4:
        days = pick(DAYS, random.randint(1, 4))
        if freq in ("YEARLY", "MONTHLY") and r() < 0.5:
            ns = [random.choice([1, 2, 3, 4, -1, -2, 5, -5] + ([10, 20, 52, -52, 53] if freq == "YEARLY" else [])) for _ in days]
            items = [(f"{n:+d}{d}" if r() < 0.7 else f"{d}({n:+d})") if r() < 0.8 else d for n, d in zip(ns, days)]
        else:
            items = days
        parts.append(("BYDAY" if r() < 0.9 else "BYWEEKDAY", ",".join(items)))
    if r() < 0.04:
        parts.append(("BYEASTER", int_list(pick([0, 1, -1, -2, 7, 39, 49, 50, -46], random.randint(1, 2)))))
    if r() < (0.35 if freq != "HOURLY" else 0.3):
        hours = sorted(pick(list(range(24)), random.randint(1, 4)))
        parts.append(("BYHOUR", int_list(hours)))
    if r() < (0.3 if freq not in ("MINUTELY", "SECONDLY") else 0.25):
        mins = sorted(pick([0, 5, 10, 15, 20, 30, 45, 59], random.randint(1, 3)))
        parts.append(("BYMINUTE", int_list(mins)))
    if r() < 0.12:
        secs = sorted(pick([0, 15, 30, 45, 59], random.randint(1, 2)))
        parts.append(("BYSECOND", int_list(secs)))
    if r() < 0.2:
        vals = pick([1, 2, 3, -1, -2, 5, 10, -10], random.randint(1, 2))
        parts.append(("BYSETPOS", int_list(vals)))
    limit = r()
    if allow_count and limit < 0.2:
        parts.append(("COUNT", str(random.choice([1, 2, 3, 5, 10, 30, 100, 500, 5000]))))
    elif limit < 0.4 and dtstart is not None:
        until = dtstart[0] + dt.timedelta(hours=random.randrange(1, 24 * 400))
        until_s = fmt_wall(until, random.choice(["basic", "basic", "basic", "date"])) + ("Z" if dtstart[1] else "")
        parts.append(("UNTIL", until_s))
    random.shuffle(parts)
    body = ";".join(f"{rand_case(None, k)}={rand_case(None, v)}" for k, v in parts)
    return body


def random_schedule():
    r = random.random
    freq = random.choices(FREQS, weights=[10, 14, 14, 14, 8, 4, 2])[0]
    zone = random.choice(ZONES)
    anchor = random_anchor()
    # DTSTART: absent, floating, Z, or TZID (any zone, even one different from the schedule's).
    kind = random.choices(["none", "floating", "z", "tzid"], weights=[2, 4, 2, 3])[0]
    if freq in ("MINUTELY", "SECONDLY") and kind == "none":
        kind = "floating"  # Prefect walks from 2020 otherwise (minutes per case)
    lines = []
    dtstart = None
    if kind != "none":
        aware = kind in ("z", "tzid")
        dtstart = (anchor, aware)
        if kind == "floating":
            lines.append(f"DTSTART:{fmt_wall(anchor)}")
        elif kind == "z":
            lines.append(f"DTSTART:{fmt_wall(anchor, 'basic')}Z")
        else:
            lines.append(f"DTSTART;TZID={random.choice(ZONES + ['Asia/Tokyo', 'Europe/Berlin'])}:{fmt_wall(anchor, 'basic')}")
    prefix = r() < 0.7 or kind != "none"
    rule = random_rule(freq, dtstart)
    lines.append(("RRULE:" if prefix else "") + rule)
    if r() < 0.15:
        lines.append("RRULE:" + random_rule(random.choice(["WEEKLY", "DAILY", "MONTHLY"]), dtstart))
    if r() < 0.15:
        lines.append("EXRULE:" + random_rule(random.choice(["WEEKLY", "DAILY", "MONTHLY", "HOURLY"]), dtstart))
    base = anchor if dtstart else dt.datetime(2025, 6, 1)
    if r() < 0.2:
        vals = [base + dt.timedelta(hours=random.randrange(0, 24 * 60)) for _ in range(random.randint(1, 4))]
        z = "Z" if r() < 0.3 else ""
        if z:
            lines.append("RDATE:" + ",".join(fmt_wall(v, "basic") + z for v in vals))
        else:
            lines.append(random.choice(["RDATE:", "RDATE;VALUE=DATE-TIME:"]) + ",".join(fmt_wall(v) for v in vals))
    if r() < 0.25:
        # Exclusions near the start of the rule, some exactly on occurrences.
        vals = [base + dt.timedelta(days=random.randrange(0, 40), hours=random.choice([0, 0, 1, 3])) for _ in range(random.randint(1, 4))]
        z = "Z" if r() < 0.3 else ""
        if r() < 0.2:
            lines.append("EXDATE;TZID=America/New_York:" + ",".join(fmt_wall(v) for v in vals))
        else:
            lines.append("EXDATE:" + ",".join(fmt_wall(v, "basic") + z for v in vals))
    if len(lines) > 1 and r() < 0.3:
        random.shuffle(lines)
    text = ("\n" if r() < 0.8 else " ").join(lines)
    # start: near the anchor or a DST transition, before or after DTSTART. Prefect walks every
    # period from DTSTART, so sub-daily rules start close to it.
    reach = {"MINUTELY": 2 * 24 * 60, "SECONDLY": 90}.get(freq, 40 * 24 * 60)
    if freq in ("MINUTELY", "SECONDLY") or r() < 0.5:
        start_wall = base + dt.timedelta(minutes=random.randrange(-3 * 24 * 60 if reach > 1000 else -reach, reach))
        start = start_wall.replace(tzinfo=ZoneInfo(zone))
    else:
        trans = TRANSITIONS[zone] or TRANSITIONS["America/New_York"]
        start = random.choice(trans) + dt.timedelta(minutes=random.randrange(-180, 180))
    start = start.astimezone(dt.timezone.utc).replace(second=random.choice([0, 0, 1, 30]))
    end = None
    if r() < 0.35:
        end = start + dt.timedelta(minutes=random.choice([0, 1, 30, 60, 180, 1440, 7 * 1440, 40 * 1440]))
    n = random.choice([None, 1, 2, 3, 5, 10, 24, 50, 0, 1500]) if end is None or r() < 0.3 else None
    if n == 1500 and freq in ("YEARLY", "MONTHLY"):
        n = 24
    tz = zone if r() < 0.9 else None
    return text, tz, start, end, n


def iso(d):
    return d.isoformat()


def now_str():
    return dt.datetime.now().replace(microsecond=0).isoformat()


def compute(text, tz, start, end, n, timeout=2):
    """Prefect's answer: ("ok", dates) | ("validate", msg) | ("get_dates", msg) | ("timeout", None)."""
    body = {"rrule": text} if tz is None else {"rrule": text, "timezone": tz}
    try:
        sched = RRuleSchedule(**body)
    except Exception as e:  # pydantic ValidationError and whatever dateutil raised
        return "validate", f"{type(e).__name__}: {str(e)[:120]}"
    signal.alarm(timeout)
    try:
        dates = sorted(sched._get_dates_generator(n=n, start=start, end=end))
    except Timeout:
        return "timeout", None
    except Exception as e:
        return "get_dates", f"{type(e).__name__}: {str(e)[:120]}"
    finally:
        signal.alarm(0)
    return "ok", dates


def date_case(i, text, tz, start, end, n, prefix="diff"):
    now = now_str()
    status, result = compute(text, tz, start, end, n)
    if status == "timeout":
        return None
    schedule = {"rrule": text} if tz is None else {"rrule": text, "timezone": tz}
    case = {"id": f"{prefix}-{i:05d}", "kind": "rrule", "schedule": schedule, "now": now}
    if status == "validate":
        case.update({"error": result, "phase": "validate"})
        return case
    case.update({"start": iso(start), "end": iso(end) if end else None, "n": n})
    if status == "get_dates":
        case.update({"error": result, "phase": "get_dates"})
        return case
    if any(d >= LIMIT for d in result) or (end is None and len(result) == 0 and n is not None):
        # Post-2036 dates (dateutil lacks DST rules there) or a possibly far-future empty search.
        if any(d >= LIMIT for d in result):
            return None
    case["expected"] = [iso(d) for d in result]
    return case


ALPHABET = "=;:,-+TZ0123456789 \nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefz()/._#"


def mutate_part(s):
    """Structural edits that usually keep the string valid."""
    lines = s.split("\n")
    k = random.randrange(len(lines))
    line = lines[k]
    head, sep, body = line.rpartition(":") if ":" in line and not line.startswith("DTSTART") else ("", "", line)
    parts = body.split(";")
    op = random.random()
    if op < 0.25 and len(parts) > 1:
        del parts[random.randrange(len(parts))]
    elif op < 0.45:
        parts.append(random.choice([
            "BYSETPOS=1", "BYSETPOS=-1", "WKST=SU", "INTERVAL=2", "COUNT=3", "BYMONTHDAY=-1", "BYMONTHDAY=0",
            "BYDAY=+1MO", "BYDAY=-1SU", "BYDAY=MO(+2)", "BYMONTH=2", "BYYEARDAY=-1", "BYWEEKNO=1", "BYEASTER=0",
            "BYHOUR=0", "BYMINUTE=30", "BYSECOND=0", "UNTIL=20270101", "BYMONTH=13", "BYHOUR=24", "COUNT=0",
            "INTERVAL=0", "BYSETPOS=400", "BYDAY=0MO", "BYWEEKNO=0", "BYYEARDAY=0", "BYMONTHDAY=32",
        ]))
    elif op < 0.6:
        random.shuffle(parts)
    elif op < 0.75:
        lines.insert(k + 1, random.choice(["EXDATE:20260304T090000", "RDATE:20260305T120000", "EXRULE:FREQ=DAILY;INTERVAL=3",
                                           "RRULE:FREQ=WEEKLY", "DTSTART:20260101T000000", "EXDATE;VALUE=DATE:20260305"]))
    elif op < 0.85:
        line = line.lower()
        lines[k] = line
        return "\n".join(lines)
    else:
        return random.choice([" ", "  ", "\n", "\t"]).join(lines)
    lines[k] = head + sep + ";".join(parts)
    return "\n".join(lines)


def mutate(s):
    if random.random() < 0.5:
        return mutate_part(s)
    s = list(s)
    for _ in range(1 if random.random() < 0.7 else random.randint(2, 3)):
        op = random.random()
        pos = random.randrange(len(s) + 1)
        if op < 0.1 and s:
            # Change a digit: keeps most strings valid but moves values around.
            digits = [k for k, c in enumerate(s) if c.isdigit()]
            if digits:
                k = random.choice(digits)
                s[k] = random.choice("0123456789")
        elif op < 0.15 and s:
            k = random.randrange(len(s))
            s[k] = s[k].swapcase()
        elif op < 0.35 and s:
            del s[min(pos, len(s) - 1)]
        elif op < 0.7:
            s.insert(pos, random.choice(ALPHABET))
        elif s:
            s[min(pos, len(s) - 1)] = random.choice(ALPHABET)
    return "".join(s)


SNIPPETS = [
    "FREQ=DAILY", "RRULE:", "DTSTART:", "20260101T090000", "20260101", "Z", ";", "\n", "EXDATE:",
    "RDATE:", "EXRULE:", "TZID=America/New_York", "UNTIL=", "COUNT=", "INTERVAL=", "BYDAY=", "+1MO",
    "-1FR", "MO(+2)", "BYMONTHDAY=-1", "BYSETPOS=", "VALUE=DATE", "2026-03-08T02:30", "JAN", "5PM",
    "BYHOUR=25", "BYMINUTE=61", "BYSECOND=60", "WKST=SU", "1_0", "+3", "0", "-0", ",", "=", ":",
]


DATE_ATOMS = [
    "2026", "20260308", "202603081230", "20260308123045", "26", "03", "08", "8", "12", "31", "30", "29", "0930",
    "093000", "093000.5", "1999", "T", "-", "/", ".", ":", ",", "Z", "UTC", "GMT", "EST", "CET", "+", "+05:30",
    "-0800", "+3", "AM", "PM", "A", "P", "JAN", "JANUARY", "FEB", "SEPT", "MON", "MONDAY", "SUN", "H", "M", "S",
    "1.5", "12.25", "ST", "ND", "TH", "OF", "AT", "(", ")", "X", "NAN", "INF", "00", "60", "24", "9999", "10000",
]


def random_date_text():
    """A rule whose DTSTART / UNTIL / EXDATE value is a random date-like token soup."""
    value = "".join(random.choice(DATE_ATOMS) for _ in range(random.randint(1, 6)))
    return random.choice([
        f"DTSTART:{value}\nRRULE:FREQ=DAILY",
        f"RRULE:FREQ=DAILY;UNTIL={value}",
        f"DTSTART:20260101T000000\nRRULE:FREQ=DAILY;UNTIL={value}",
        f"RRULE:FREQ=DAILY\nEXDATE:{value}",
        f"RRULE:FREQ=DAILY\nRDATE:{value}",
        f"DTSTART;TZID=America/New_York:{value}\nRRULE:FREQ=DAILY",
    ])


def random_text():
    return "".join(random.choice(SNIPPETS) for _ in range(random.randint(1, 8)))


def validity(text):
    try:
        RRuleSchedule(rrule=text)
        return True
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=2000, help="random schedules with Prefect's dates")
    ap.add_argument("--parse", type=int, default=2000, help="random/mutated strings for parse validity")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    random.seed(args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w")
    stats = {"dates": 0, "errors": 0, "skipped": 0, "parse": 0, "valid": 0}
    corpus = []
    i = 0
    while stats["dates"] + stats["errors"] < args.cases:
        i += 1
        text, tz, start, end, n = random_schedule()
        case = date_case(i, text, tz, start, end, n)
        if case is None:
            stats["skipped"] += 1
            continue
        corpus.append(text)
        stats["errors" if "error" in case else "dates"] += 1
        out.write(json.dumps(case) + "\n")
    if not corpus:
        # Parse-only run: mutate freshly generated rules.
        corpus = [random_schedule()[0] for _ in range(500)]
    for j in range(args.parse):
        roll = random.random()
        if roll < 0.55:
            text = mutate(random.choice(corpus))
        elif roll < 0.85:
            text = random_date_text()
        else:
            text = random_text()
        now = now_str()
        ok = validity(text)
        stats["parse"] += 1
        stats["valid"] += ok
        out.write(json.dumps({"id": f"parse-{j:05d}", "kind": "rrule_parse", "rrule": text, "valid": ok, "now": now}) + "\n")
        if ok and random.random() < 0.5:
            # Exercise odd accepted forms through get_dates too.
            tz = random.choice(ZONES)
            start = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=random.randrange(0, 24 * 300))
            case = date_case(j, text, tz, start, None, random.choice([1, 3, 10]), prefix="mut")
            if case is not None:
                out.write(json.dumps(case) + "\n")
    print(json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
