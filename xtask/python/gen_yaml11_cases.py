"""YAML 1.1 scalar resolution as PyYAML's safe_load does it (what `prefect deploy` reads
prefect.yaml with): one JSON line per plain scalar, with the type and value PyYAML gives.

Usage (the Prefect 3.9.1 venv's python: PyYAML 6.0.4, pydantic 2):
    python gen_yaml11_cases.py --cases 3000 --timestamps 1500 --seed 1 \
        > crates/core/tests/data/yaml11_scalars.jsonl

Each line: {"text": SCALAR, "type": "null"|"bool"|"int"|"float"|"str"|"date"|"datetime"|"error",
"value": JSON value (ints as decimal strings, floats as repr, dates and datetimes as the text
pydantic's JSON mode gives them: `TypeAdapter(Any).dump_python(v, mode="json")`, which is what
`prefect deploy` sends)}. "error" is any exception PyYAML raises (a ValueError for 2024-02-30).
The first `--cases` scalars mix hand-picked forms (every YAML 1.1 boolean, octal, sexagesimal,
underscores, exponents with and without sign, timestamps, special floats) with random strings
over the characters those forms are made of; then `--timestamps` timestamp-like scalars:
hand-picked ones and random ones built from parts valid and not (month 13, day 30 of February,
hour 24, three-digit zone hours, tabs, a lower-case `z`), some with a character changed.
"""

import argparse
import datetime
import json
import random
from typing import Any

import pydantic
import yaml

JSON_MODE = pydantic.TypeAdapter(Any)

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

TIMESTAMPS = [
    "2024-05-01", "2024-05-01 10:20:30", "2001-12-14t21:59:43.10-05:00", "2024-05-01T10:20:30.5Z",
    "2024-05-01T10:20:30+00:00", "2024-05-01T10:20:30-00:00", "2024-05-01T10:20:30.000+00:00",
    "2024-05-01T10:20:30.0000001", "2024-05-01T10:20:30 -5:30", "2024-05-01T10:20:30+05:99",
    "2024-5-1 1:02:03", "2024-05-01 10:20:30 Z", "2024-05-01  10:20:30", "0005-01-01",
    "2024-05-01T10:20:30.123456789-09", "2024-05-01T10:20:30.", "2024-05-01T10:20:30-0:01",
    "2024-05-01T10:20:30+23:59", "2024-05-01T10:20:30+24", "2024-05-01T10:20:30-23:60",
    "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2024-02-30", "2024-04-31",
    "2024-13-01", "2024-00-10", "2024-01-00", "0000-01-01", "9999-12-31", "2024-05-01T24:00:00",
    "2024-05-01T10:60:00", "2024-05-01T10:20:60", "2001-1-1", "2001-01-1", "20011214",
    "2024-05-01t10:20:30z", "2024-05-01T10:20:30+1:5", "2024-05-01T10:20", "2024-05-01T",
    "2024-05-01T10:20:30+123", "2024-05-01\t10:20:30", "2024-05-01T10:20:30\t+01",
    "2024-05-01 10:20:30.5 +01:30", "2024-5-01T10:20:30", "2024-05-1T10:20:30", "02024-05-01",
    "2024-05-01T10:20:30Z ", "2024-05-01T010:20:30", "2024-05-01T10:20:30.-05",
]

TIMESTAMP_CHARS = "0123456789-:.TtZz +\t"


def timestamp_like(rng):
    """A timestamp from parts valid and not, sometimes with one character changed."""
    p_good = 1.0 if rng.random() < 0.5 else 0.7

    def pick(rng, good, bad):
        return rng.choice(good if rng.random() < p_good else bad)

    year = pick(rng, ["2024", "2023", "2000", "1900", "0001", "9999", "1970"], ["0000", "202", "20245"])
    month = pick(rng, ["01", "1", "02", "2", "04", "12", "10", "9"], ["13", "00", "0", "001"])
    day = pick(rng, ["01", "1", "28", "29", "30", "31", "9", "15"], ["32", "00", "0", "010"])
    text = f"{year}-{month}-{day}"
    if rng.random() > 0.3:
        sep = pick(rng, ["T", "t", " ", "  ", "T"], ["\t", "_", "", "T ", "tt"])
        hour = pick(rng, ["00", "0", "1", "9", "10", "23", "07"], ["24", "99", "123"])
        minute = pick(rng, ["00", "59", "30", "07"], ["60", "5", "000"])
        second = pick(rng, ["00", "59", "45", "07"], ["60", "5", "000"])
        fraction = pick(rng, [
            "", "", "", ".", ".0", ".5", ".10", ".000000", ".123456", ".1234567", ".999999999",
            ".000001", ".0000001",
        ], [".x", ".-1", ".."])
        zone = pick(rng, [
            "", "", "", "Z", " Z", "+00:00", "-00:00", "+0", "-0", "+5", "-5", "+05:30",
            "-05:30", "-5:30", "+23:59", "-23:59", "+05:99", "  +01", "+0:00", "-12:45",
        ], ["z", "+24", "-23:60", "+1:5", "+123", "\t+01", "+01:", "+01:000", "UTC", "+99"])
        text += f"{sep}{hour}:{minute}:{second}{fraction}{zone}"
    if rng.random() < 0.15:
        i = rng.randrange(len(text))
        change = rng.choice(["replace", "delete", "insert"])
        c = rng.choice(TIMESTAMP_CHARS)
        if change == "replace":
            text = text[:i] + c + text[i + 1:]
        elif change == "delete":
            text = text[:i] + text[i + 1:]
        else:
            text = text[:i] + c + text[i:]
    return text


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
        return "datetime", JSON_MODE.dump_python(value, mode="json")
    if isinstance(value, datetime.date):
        return "date", JSON_MODE.dump_python(value, mode="json")
    if isinstance(value, str):
        return "str", value
    return "other", repr(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--timestamps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scalars = list(FIXED)
    while len(scalars) < args.cases:
        n = rng.randint(1, 8)
        scalars.append("".join(rng.choice(ALPHABET) for _ in range(n)))
    # A second stream, so that the first part stays the same whatever --timestamps is.
    stamps = random.Random(args.seed + 1_000_003)
    timestamps = list(TIMESTAMPS)
    while len(timestamps) < args.timestamps:
        text = timestamp_like(stamps)
        if text not in timestamps:
            timestamps.append(text)
    for text in scalars + timestamps[: args.timestamps]:
        try:
            loaded = yaml.safe_load(f"x: {text}\n")
        except Exception as e:  # noqa: BLE001 - a ValueError (2024-02-30) fails prefect deploy too
            print(json.dumps({"text": text, "type": "error", "value": str(e).splitlines()[0]}))
            continue
        if not isinstance(loaded, dict) or "x" not in loaded:
            print(json.dumps({"text": text, "type": "error", "value": f"not a mapping: {loaded!r}"}))
            continue
        kind, value = describe(loaded["x"])
        print(json.dumps({"text": text, "type": kind, "value": value}))


if __name__ == "__main__":
    main()
