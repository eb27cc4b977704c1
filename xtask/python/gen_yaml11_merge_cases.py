"""Anchors, aliases and merge keys (`<<`) as PyYAML's safe_load reads them (what `prefect deploy`
reads prefect.yaml with): small random documents, one JSON line each, with what PyYAML makes of
them.

Usage (the Prefect 3.9.1 venv's python: PyYAML 6.0.4, pydantic 2):
    python gen_yaml11_merge_cases.py --cases 2500 --seed 1 \\
        > crates/core/tests/data/yaml11_merges.jsonl

Each line: {"doc": TEXT, "value": the value (keys in PyYAML's dict order; null when there is
none), "timestamps": {JSON pointer: "date"|"datetime"}, "error": why there is no value, or null}.
A value with no JSON form (a key that is not a string, .nan, an integer beyond 64 bits) is an
error ("no JSON form: ..."), as is anything PyYAML raises. Dates and datetimes are written as
pydantic's JSON mode writes them (what `prefect deploy` sends) and their pointers recorded.

The documents: base mappings (some merging earlier ones), anchored scalars and lists, then
targets that merge them in many shapes — `<<: *a`, `<<: [*a, *b]` (repeats too), inline
`<<: {..}`, two `<<` keys, `<<` after written keys, keys written beside and twice, merges in
lists of mappings and in nested mappings, aliases as values and as keys — in block and flow
style, with one-character keys (which PyYAML 6.0.4 tells apart by text, not by node), longer
ones, quoted ones and a few that are not strings; now and then a shape PyYAML refuses.
"""

import argparse
import datetime
import json
import math
import random
from typing import Any

import pydantic
import yaml

JSON_MODE = pydantic.TypeAdapter(Any)

# (written, weight): keys as written in the document.
KEYS = [
    ("a", 6), ("b", 6), ("x", 4), ("é", 2), ("'a'", 2), ('"b"', 2), ("''", 1), ("中", 2),
    ("aa", 6), ("ab", 4), ("name", 4), ("tags", 3), ("é1", 1), ("'aa'", 2), ("k1", 2),
    ("'<<'", 1), ("=", 1), ("'1'", 1),
]
# Keys that are not strings (no JSON form): only in "dirty" documents.
BAD_KEYS = [("1", 1), ("yes", 1), ("~", 1), ("2024-05-01", 1)]
VALUES = [
    ("1", 6), ("2", 4), ("two", 6), ("yes", 2), ("~", 2), ("''", 1), ("017", 1), ("1_000", 1),
    ("1:30", 1), ("3.5", 2), ("'q'", 2), ("2024-05-01", 3), ("2024-05-01 10:20:30", 2),
    ("2001-12-14t21:59:43.10-05:00", 1), ("[1, two]", 2), ("{p: 1}", 2), ("[]", 1),
    ("{}", 1), ("!!str 5", 1),
]
# Values PyYAML fails on, or JSON has no form for: only in "dirty" documents.
BAD_VALUES = [(".nan", 1), ("2024-02-30", 1), ("=", 1), ("99999999999999999999", 1)]


def weighted(rng, table):
    items, weights = zip(*table)
    return rng.choices(items, weights=weights)[0]


class Doc:
    """A document being written: top-level entries (block style), anchors known so far."""

    def __init__(self, rng, dirty):
        self.rng = rng
        # A quarter of the documents have now and then a bad key, value or merge.
        self.dirty = dirty
        self.keys = KEYS + BAD_KEYS if dirty else KEYS
        self.values = VALUES + BAD_VALUES if dirty else VALUES
        self.lines = []
        self.maps = []  # anchors of mappings
        self.scalars = []  # anchors of string scalars (usable as keys)
        self.lists = []  # anchors of lists of scalars
        self.map_lists = []  # anchors of lists of mappings
        self.n = 0

    def anchor(self, prefix):
        self.n += 1
        # Now and then the same name twice (PyYAML refuses a redefined anchor).
        if self.dirty and self.rng.random() < 0.02 and self.maps:
            return self.rng.choice(self.maps)
        return f"{prefix}{self.n}"

    def key(self):
        rng = self.rng
        if self.scalars and rng.random() < 0.08:
            return f"*{rng.choice(self.scalars)} "
        return weighted(rng, self.keys)

    def value(self, depth=0):
        rng = self.rng
        r = rng.random()
        if r < 0.12 and self.scalars:
            return f"*{rng.choice(self.scalars)}"
        if r < 0.18 and self.lists:
            return f"*{rng.choice(self.lists)}"
        if r < 0.26 and self.maps:
            return f"*{rng.choice(self.maps)}"
        if r < 0.34 and depth < 3:
            return self.flow_map(depth + 1)
        return weighted(rng, self.values)

    def merge_value(self, depth):
        """What follows `<<:`."""
        rng = self.rng
        r = rng.random()
        if depth < 3 and (not self.maps or r < 0.08):
            return self.flow_map(depth + 1)
        if not self.maps:
            return "{a: 1}"
        if r < 0.45:
            return f"*{rng.choice(self.maps)}"
        if r < 0.8:
            items = [f"*{rng.choice(self.maps)}" for _ in range(rng.randint(1, 4))]
            if depth < 3 and rng.random() < 0.15:
                items.insert(rng.randrange(len(items) + 1), self.flow_map(depth + 1))
            return "[" + ", ".join(items) + "]"
        if r < 0.88 and self.map_lists:
            return f"*{rng.choice(self.map_lists)}"
        if (r < 0.93 or not self.dirty) and depth < 3:
            name = self.anchor("m")
            text = f"&{name} " + self.flow_map(depth + 1)
            if name not in self.maps:
                self.maps.append(name)
            return text
        if not self.dirty:
            return f"*{rng.choice(self.maps)}"
        # Shapes PyYAML refuses.
        bad = ["~", "5", "[]", "[1]"]
        if self.scalars:
            bad.append(f"*{rng.choice(self.scalars)}")
        if self.lists:
            bad.append(f"*{rng.choice(self.lists)}")
        if self.maps and self.scalars:
            bad.append(f"[*{rng.choice(self.maps)}, *{rng.choice(self.scalars)}]")
        return rng.choice(bad)

    def entries(self, depth, allow_merge=True):
        """The `key: value` entries of a mapping, merges among them."""
        rng = self.rng
        out = []
        for _ in range(rng.randint(0, 4)):
            out.append((self.key(), self.value(depth)))
        if allow_merge and rng.random() < (0.85 if depth <= 1 else 0.3):
            for _ in range(2 if rng.random() < 0.15 else 1):
                # `<<` first most of the time, anywhere else now and then.
                at = 0 if rng.random() < 0.6 else rng.randint(0, len(out))
                out.insert(at, ("<<", self.merge_value(depth)))
        written = [k for k, _ in out if k != "<<"]
        if written and rng.random() < 0.2:
            # A key written twice.
            out.append((rng.choice(written), self.value(depth)))
        return out

    def flow_map(self, depth):
        return "{" + ", ".join(f"{k}: {v}" for k, v in self.entries(depth)) + "}"

    def block_map(self, entries, indent):
        pad = " " * indent
        return [f"{pad}{k}: {v}" for k, v in entries] or [pad + "{}"]

    def add_base(self):
        """`bN: &aN` a mapping (merging earlier ones now and then)."""
        rng = self.rng
        name = self.anchor("a")
        allow = rng.random() < 0.4
        entries = self.entries(1, allow_merge=allow)
        if not entries:
            entries = [(self.key(), weighted(rng, self.values))]
        if rng.random() < 0.5:
            self.lines.append(f"b{self.n}: &{name} " + "{" + ", ".join(f"{k}: {v}" for k, v in entries) + "}")
        else:
            self.lines.append(f"b{self.n}: &{name}")
            self.lines.extend(self.block_map(entries, 2))
        if name not in self.maps:
            self.maps.append(name)

    def add_scalar(self):
        rng = self.rng
        name = self.anchor("s")
        text = rng.choice(["a", "b", "aa", "name", "é", "中", "x", "tags", "'a'", "ab"])
        self.lines.append(f"s{self.n}: &{name} {text}")
        self.scalars.append(name)

    def add_list(self):
        rng = self.rng
        name = self.anchor("l")
        if self.maps and rng.random() < 0.5:
            items = [f"*{rng.choice(self.maps)}" for _ in range(rng.randint(1, 3))]
            self.map_lists.append(name)
        else:
            items = [weighted(rng, VALUES[:12]) for _ in range(rng.randint(0, 3))]
            self.lists.append(name)
        self.lines.append(f"l{self.n}: &{name} [" + ", ".join(items) + "]")

    def add_target(self):
        rng = self.rng
        self.n += 1
        shape = rng.random()
        if shape < 0.45:
            # A mapping with merges, block or flow.
            entries = self.entries(1) or [("<<", self.merge_value(1))]
            if rng.random() < 0.6:
                self.lines.append(f"t{self.n}:")
                self.lines.extend(self.block_map(entries, 2))
            else:
                self.lines.append(f"t{self.n}: " + "{" + ", ".join(f"{k}: {v}" for k, v in entries) + "}")
        elif shape < 0.7:
            # A list of mappings with merges.
            self.lines.append(f"t{self.n}:")
            for _ in range(rng.randint(1, 3)):
                entries = self.entries(1) or [("<<", self.merge_value(1))]
                if rng.random() < 0.5:
                    first, *rest = self.block_map(entries, 4)
                    self.lines.append("  - " + first.strip())
                    self.lines.extend(rest)
                else:
                    self.lines.append("  - {" + ", ".join(f"{k}: {v}" for k, v in entries) + "}")
        elif shape < 0.85:
            # Nested: a mapping of mappings with merges.
            self.lines.append(f"t{self.n}:")
            for _ in range(rng.randint(1, 2)):
                self.lines.append(f"  {self.key()}:")
                self.lines.extend(self.block_map(self.entries(2) or [("<<", self.merge_value(2))], 4))
        else:
            # An alias as the value, or a merge of a merge, anchored for later targets.
            name = self.anchor("a")
            entries = [("<<", self.merge_value(1))] + self.entries(1, allow_merge=False)
            self.lines.append(f"t{self.n}: &{name}")
            self.lines.extend(self.block_map(entries, 2))
            if name not in self.maps:
                self.maps.append(name)

    def text(self):
        return "\n".join(self.lines) + "\n"


def document(rng):
    doc = Doc(rng, dirty=rng.random() < 0.25)
    for _ in range(rng.randint(0, 2)):
        doc.add_scalar()
    for _ in range(rng.randint(1, 4)):
        rng.choice([doc.add_base, doc.add_base, doc.add_base, doc.add_list, doc.add_scalar])()
    for _ in range(rng.randint(1, 3)):
        doc.add_target()
    return doc.text()


# Hand-written: the recorded observation on `<<: [*a, *b]`, and neighbours.
FIXED = [
    "a: &a {k: 1}\nb: &b {k: 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {kk: 1}\nb: &b {kk: 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {kk: 1}\nb: &b {kk: 2}\nc: &c {kk: 3}\nt: {<<: [*a, *b, *c]}\n",
    "a: &a {k: 1}\nb: &b {k: 2}\nt:\n  <<: *a\n  <<: *b\n",
    "a: &a {kk: 1}\nb: &b {kk: 2}\nt:\n  <<: *a\n  <<: *b\n",
    "a: &a {k: 1, k: 2}\nt: {<<: *a}\n",
    "a: &a {kk: 1, kk: 2}\nt: {<<: *a}\n",
    "a: &a {k: 1}\nb: &b {<<: *a, k: 2}\nt: {<<: *b}\n",
    "a: &a {kk: 1}\nb: &b {<<: *a, kk: 2}\nt: {<<: *b}\n",
    "a: &a {kk: 1}\nb: &b {kk: 2}\nt: {<<: [*a, *b, *a]}\n",
    "a: &a {'k': 1}\nb: &b {\"k\": 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {é: 1}\nb: &b {é: 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {中: 1}\nb: &b {中: 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {'': 1}\nb: &b {'': 2}\nt: {<<: [*a, *b]}\n",
    "s: &s kk\na: &a {*s : 1}\nb: &b {*s : 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {k: 1, kk: 1}\nt: {kk: 0, <<: *a, k: 0}\n",
    "a: &a {'1': 1}\nb: &b {1: 2}\nt: {<<: [*a, *b]}\n",
    "a: &a {kk: 1}\nb: &b {kk: 2}\nt: {<<: [*a, *b], <<: *a}\n",
    "a: &a {k: 2024-02-30}\nt: {<<: [{k: 1}, *a]}\n",
    "t: {<<: [{k: 1}, {k: 2024-02-30}]}\n",
    "t: {<<: [{kk: 1}, {kk: 2024-02-30}]}\n",
    "t: {k: .nan, k: 1}\n",
    "t: {k: 2024-02-30, k: 1}\n",
    "a: &a {x: 2024-05-01}\nt: {<<: *a}\nu: [*a, {<<: *a, y: 2024-05-01 10:20:30}]\n",
    "t: {<<: [{k: 1}, {k: {<<: 5}}]}\n",
    "a: &a {k: 1}\na2: &a {k: 2}\n",
    "a: &a.b {k: 1}\n",
]


def to_json(value, pointer, stamps, depth=0):
    """`value` as JSON, or ValueError when JSON has no form for it."""
    if depth > 200:
        raise ValueError("nested too deep (a recursive alias?)")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise ValueError(f"no JSON form: the integer {value} is beyond 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no JSON form: {value}")
        return value
    if isinstance(value, datetime.datetime):
        stamps[pointer] = "datetime"
        return JSON_MODE.dump_python(value, mode="json")
    if isinstance(value, datetime.date):
        stamps[pointer] = "date"
        return JSON_MODE.dump_python(value, mode="json")
    if isinstance(value, list):
        return [to_json(v, f"{pointer}/{i}", stamps, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"no JSON form: the key {k!r} is not a string")
            segment = k.replace("~", "~0").replace("/", "~1")
            out[k] = to_json(v, f"{pointer}/{segment}", stamps, depth + 1)
        return out
    raise ValueError(f"no JSON form: {type(value).__name__}")


def case(doc):
    try:
        loaded = yaml.safe_load(doc)
    except Exception as e:  # noqa: BLE001 - whatever PyYAML raises fails prefect deploy
        first = (str(e).splitlines() or [""])[0]
        return {"doc": doc, "value": None, "timestamps": {}, "error": f"{type(e).__name__}: {first}"}
    stamps = {}
    try:
        value = to_json(loaded, "", stamps)
    except ValueError as e:
        return {"doc": doc, "value": None, "timestamps": {}, "error": str(e)}
    return {"doc": doc, "value": value, "timestamps": stamps, "error": None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    docs = list(FIXED)
    seen = set(docs)
    while len(docs) < args.cases:
        doc = document(rng)
        # Small documents: easier to read when one differs, and a smaller corpus.
        if len(doc) <= 400 and doc not in seen:
            seen.add(doc)
            docs.append(doc)
    for doc in docs[: args.cases]:
        print(json.dumps(case(doc), ensure_ascii=False))


if __name__ == "__main__":
    main()
