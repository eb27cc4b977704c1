"""YAML 1.1 scalar resolution as PyYAML's safe_load does it (what `prefect deploy` reads
prefect.yaml with): one JSON line per plain scalar, with the type and value PyYAML gives.

Usage: python gen_yaml11_cases.py --cases N --seed S > cases.jsonl

Each line: {"text": SCALAR, "type": "null"|"bool"|"int"|"float"|"str"|"date"|"datetime"|"error",
"value": JSON value (ints as decimal strings, floats as repr, dates as isoformat)}.
The scalars mix hand-picked forms (every YAML 1.1 boolean, octal, sexagesimal, underscores,
exponents with and without sign, timestamps, special floats) with random strings over the
characters those forms are made of.
"""

import argparse
import datetime
import json
import random

import yaml

FIXED = [
    "", "~", "null", "Null", "NULL", "nULL", "none", "None",
    "y", "Y", "n", "N", "yes", "Yes", "YES", "yEs", "no", "No", "NO", "true", "True", "TRUE",
    "tRUE", "false", "False", "FALSE", "on", "On", "ON", "oN", "off", "Off", "OFF",
    "0", "-0", "+0", "7", "-7", "+7", "007", "017", "-017", "08", "09", "0o17", "0x1F", "-0x1F",
    "+0x1f", "0x", "0b101", "-0b101", "0b2", "1_000", "1__0", "_1", "1_", "0_7", "0x_1F",
    "190:20:30", "-190:20:30", "1:30", "1:60", "1:5", "0:30", "01:30", "12:30:45",
    "1.5", "-1.5", "+1.5", ".5", "5.", "1.5e3", "1.5e+3", "1.5E-3", "1e3", "1e+3", "1.e+3",
    "6.8523015e+5", "685.230_15e+03", "685_230.15", "190:20:30.15", "-.inf", ".inf", "+.inf",
    ".Inf", ".INF", ".nan", ".NaN", ".NAN", "-.nan", "inf", "nan", "1.5.5", "0.1", "00.1",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
    "2001-12-15T02:59:43.1Z", "2001-12-15 2:59:43.10", "2002-12-14", "2001-1-1", "20011214",
    "1:30:00", "=", "<<", "0 9 * * *", "a b", "12345678901234567890", "-9223372036854775808",
    "18446744073709551615", "18446744073709551616", "0.", "-.5", "+.5e+2", "1_0.5",
]

ALPHABET = "0123456789_.:+-eExXbBoO"


def describe(value):
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        return "float", repr(value)
    if isinstance(value, datetime.datetime):
        return "datetime", value.isoformat()
    if isinstance(value, datetime.date):
        return "date", value.isoformat()
    if isinstance(value, str):
        return "str", value
    return "other", repr(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scalars = list(FIXED)
    while len(scalars) < args.cases:
        n = rng.randint(1, 8)
        scalars.append("".join(rng.choice(ALPHABET) for _ in range(n)))
    for text in scalars:
        try:
            loaded = yaml.safe_load(f"x: {text}\n")
        except yaml.YAMLError as e:
            print(json.dumps({"text": text, "type": "error", "value": str(e).splitlines()[0]}))
            continue
        if not isinstance(loaded, dict) or "x" not in loaded:
            print(json.dumps({"text": text, "type": "error", "value": f"not a mapping: {loaded!r}"}))
            continue
        kind, value = describe(loaded["x"])
        print(json.dumps({"text": text, "type": kind, "value": value}))


if __name__ == "__main__":
    main()
