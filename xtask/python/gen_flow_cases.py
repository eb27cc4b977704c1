"""Generate random Prefect flow files and record what Prefect 3.9.1 makes of them, in the
format of the conformance corpus `flows.jsonl` (success lines keep `flow_name`,
`description`, `version`, `version_default`, `is_async`, `parameter_openapi_schema`;
error lines keep `error` and `error_message`).

Usage (the Prefect venv's python):
    gen_flow_cases.py OUT_DIR [--files N] [--seed S]
    gen_flow_cases.py OUT_DIR --record CASES     # hand-written flows already in OUT_DIR

Writes OUT_DIR/flows/gen_diff_NNN.py and OUT_DIR/flows.jsonl; OUT_DIR is the working
directory and import root, as in the corpus. With --record, CASES lists `id entrypoint`
per line, optionally followed by `NAME=value` environment variables (shell quoting), and
only flows.jsonl is written.

Each case runs with exactly its own variables among those any case names (the others are
unset; a line with variables keeps them in an `env` field), and with the project's modules
imported afresh: what one case imported (and the `sys.path` entries Prefect's loader leaves
behind) does not leak into the next.
"""

import argparse
import hashlib
import json
import logging
import os
import random
import shlex
import sys
import warnings

HEADER = '''import datetime as dt
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum, IntEnum
from pathlib import Path
from typing import Annotated, Any, Dict, FrozenSet, List, Literal, Optional, Set, Tuple, Union
from uuid import UUID

import prefect
from pydantic import BaseModel, Field

from prefect import flow, task
from prefect import flow as prefect_flow


class Mode(str, Enum):
    AUTO = "auto"
    MANUAL = "manual"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Color(Enum):
    """Colours we paint with."""

    RED = "red"
    BLUE = "blue"


class Window(BaseModel):
    """A time window."""

    days: int = 1
    label: Optional[str] = None


class Job(BaseModel):
    name: str
    window: Window = Window()
    weights: dict[str, float] = {}
    mode: Mode = Mode.AUTO


class Settings(BaseModel):
    """Settings.

    Several paragraphs.
    """

    retries: Annotated[int, Field(ge=0, le=5, description="How often")] = 1
    ratio: float = Field(0.5, gt=0, lt=1)
    tags: List[str] = Field(default_factory=list)
    when: Optional[datetime] = None
    levels: list[Level] = [Level.LOW]
    kind: Literal["a", "b"] = "a"
    alias_field: int = Field(3, alias="aliasField")
    nested: Optional[Window] = None


class Plain:
    pass


THRESHOLD = 10
NAMES = ["a", "b"]


@task
def helper_task(x: int) -> int:
    return x


def helper(x):
    return x
'''

# (annotation, [defaults]); a default of REQ means "no default".
REQ = object()
TYPES = [
    ("int", [REQ, "0", "5", "-3", "None", "THRESHOLD"]),
    ("float", [REQ, "0.0", "1.5", "1", "-2.25", "1e20", "float('inf')"]),
    ("str", [REQ, '""', '"text"', '"x y"', "None", "'a' + 'b'"]),
    ("bool", [REQ, "True", "False"]),
    ("bytes", ['b"ab"']),
    ("list[str]", [REQ, "[]", '["a", "b"]', "NAMES"]),
    ("list[int]", ["[1, 2]"]),
    ("List[float]", ["[1, 2.5]"]),
    ("list", ["[]", "[1, 'a']"]),
    ("dict[str, int]", [REQ, "{}", '{"a": 1}']),
    ("Dict[str, Any]", ['{"k": [1, {"z": 1, "a": 2}]}', "{}"]),
    ("dict", ["{}"]),
    ("dict[str, list[int]]", ['{"x": [1]}']),
    ("tuple[int, str]", ['(1, "x")']),
    ("Tuple[int, ...]", ["(1, 2, 3)"]),
    ("tuple", ["()"]),
    ("set[str]", ['{"b", "a"}']),
    ("FrozenSet[int]", ["frozenset({3, 1})"]),
    ("Optional[int]", [REQ, "None", "3"]),
    ("Optional[str]", ["None"]),
    ("int | None", ["None"]),
    ("Union[int, str]", [REQ, "1", '"a"']),
    ("Union[str, list[str]]", ['"a"', '["a", "b"]']),
    ("Union[int, float, None]", ["None", "2"]),
    ("Optional[Union[int, str]]", ["None"]),
    ('Literal["dev", "prod"]', ['"dev"', REQ]),
    ("Literal[1, 2, 3]", ["2"]),
    ("Literal[True]", ["True"]),
    ('Literal["only"]', ['"only"']),
    ("Any", [REQ, "None", "1", '"x"']),
    ("datetime", [REQ, "datetime(2024, 1, 2, 3, 4, 5)", "datetime(2024, 1, 1, tzinfo=dt.timezone.utc)",
                  "datetime(2020, 5, 17, 12, 0, 0, 250000)"]),
    ("date", [REQ, "date(2024, 12, 31)"]),
    ("time", ["time(8, 30)"]),
    ("timedelta", [REQ, "timedelta(hours=6)", "timedelta(days=2, minutes=3)", "timedelta(seconds=0.5)",
                   "timedelta(days=-1)", "timedelta(weeks=60)"]),
    ("UUID", [REQ, 'UUID("12345678-1234-5678-1234-567812345678")']),
    ("Decimal", ['Decimal("1.50")']),
    ("Path", ['Path("data/x.csv")']),
    ("Mode", [REQ, "Mode.AUTO", '"manual"']),
    ("Level", ["Level.HIGH"]),
    ("Color", ["Color.RED"]),
    ("Optional[Mode]", ["None"]),
    ("list[Mode]", ["[Mode.MANUAL]", "[]"]),
    ("Window", [REQ, "Window()", 'Window(days=7, label="week")']),
    ("Job", [REQ, 'Job(name="n")', 'Job(name="x", window={"days": 3}, weights={"a": 1})']),
    ("Settings", ["Settings()", 'Settings(retries=2, tags=["t"])']),
    ("Optional[Window]", ["None"]),
    ("list[Window]", [REQ, "[]", "[Window(days=2)]"]),
    ("dict[str, Window]", ["{}"]),
    ("Annotated[int, Field(ge=1, le=10)]", ["5", REQ]),
    ('Annotated[float, Field(gt=0, description="Positive")]', ["0.5"]),
    ('Annotated[str, Field(min_length=1, max_length=5, pattern="^[a-z]+$")]', ['"abc"']),
    ("Annotated[list[int], Field(min_length=1)]", ["[1]"]),
    ("Annotated[Optional[int], Field(ge=0)]", ["None"]),
    ("Plain", ["None"]),
    (None, [REQ, "5", '"text"', "None", "[1, 2]", "lambda: 1"]),
    ("int", ['Field(5, description="From Field")']),
    ("str", ['Field(default="q", json_schema_extra={"ui": "x"})']),
    ("list[int]", ["Field(default_factory=list)"]),
]

WORDS = ["source", "target", "limit", "ratio", "region", "labels", "items", "mode", "when", "owner",
         "depth", "flag", "config", "window", "batch", "until", "weights", "shard", "job", "count"]


def gen_flow(rng, idx, file_idx):
    fname = f"{rng.choice(['train', 'publish', 'audit', 'score', 'refresh', 'sync'])}_{file_idx}_{idx}"
    n = rng.randint(0, 6)
    names = rng.sample(WORDS, n)
    params = []
    for name in names:
        ann, defaults = rng.choice(TYPES)
        params.append((name, ann, rng.choice(defaults)))
    # Python requires defaults after the first default among positional parameters.
    pos, kwonly = [], []
    seen_default = False
    use_star = rng.random() < 0.3
    for p in params:
        if p[2] is REQ and seen_default:
            if use_star:
                kwonly.append(p)
            else:
                kwonly.append(p)
                use_star = True
            continue
        if p[2] is not REQ:
            seen_default = True
        pos.append(p)
    varargs = rng.random() < 0.2
    varkw = rng.random() < 0.2

    def fmt(p):
        name, ann, default = p
        s = name if ann is None else f"{name}: {ann}"
        if default is not REQ:
            s += f" = {default}"
        return s

    parts = [fmt(p) for p in pos]
    if varargs:
        parts.append(rng.choice(["*args", "*args: int"]))
    elif kwonly:
        parts.append("*")
    parts += [fmt(p) for p in kwonly]
    if varkw:
        parts.append(rng.choice(["**kwargs", "**kwargs: str"]))
    sig = ", ".join(parts)

    deco_kind = rng.randrange(8)
    title = " ".join(w.capitalize() for w in fname.split("_"))
    if deco_kind == 0:
        deco = "@flow"
    elif deco_kind == 1:
        deco = "@flow()"
    elif deco_kind == 2:
        deco = f'@flow(name="{title}")'
    elif deco_kind == 3:
        deco = f'@flow(name="{title}", version="{rng.randint(1, 9)}.{rng.randint(0, 20)}", retries=2)'
    elif deco_kind == 4:
        deco = f'@flow(description="Explicit: {fname}.")'
    elif deco_kind == 5:
        deco = "@prefect.flow"
    elif deco_kind == 6:
        deco = f'@prefect_flow(name=f"{fname}-{{THRESHOLD}}")'
    else:
        deco = f'@prefect.flow(name="pre" + "-{fname}", version=str({rng.randint(1, 99)}))'

    doc_kind = rng.randrange(6)
    documented = [p[0] for p in params if rng.random() < 0.6]
    if doc_kind == 0:
        doc = None
    elif doc_kind == 1:
        doc = f'"""Run the {fname} job."""'
    elif doc_kind == 2:
        lines = [f'"""Run the {fname} job.', "", "    Args:"]
        for d in documented:
            lines.append(f"        {d}: The {d} to use.")
        lines.append('    """')
        doc = "\n".join(lines)
    elif doc_kind == 3:
        lines = [f'"""Run the {fname} job.', "", "    Longer text here.", "", "    Args:"]
        for d in documented:
            lines.append(f"        {d} (object): The {d}, which")
            lines.append("            spans two lines.")
        lines += ["", "    Returns:", "        Nothing.", '    """']
        doc = "\n".join(lines)
    elif doc_kind == 4:
        lines = ['"""', f"    Run the {fname} job.", "", "    Raises:", "        ValueError: when bad.", "",
                 "    Parameters:"]
        for d in documented:
            lines.append(f"        {d}: About {d}.")
        lines.append('    """')
        doc = "\n".join(lines)
    else:
        doc = f'"""Summary line.\n    Args:\n        x: not a section (no blank line above)\n    """'

    is_async = rng.random() < 0.25
    body = f"    {doc}\n    return None\n" if doc else "    return None\n"
    src = f"{deco}\n{'async ' if is_async else ''}def {fname}({sig}):\n{body}"
    return fname, src


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--record")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = os.path.abspath(args.out)
    if args.record:
        with open(args.record) as f:
            cases = []
            for line in f:
                if not line.strip():
                    continue
                case_id, ep, *assignments = shlex.split(line)
                env = dict(a.split("=", 1) for a in assignments)
                cases.append((case_id, ep, env))
        record(out, cases)
        return
    os.makedirs(os.path.join(out, "flows"), exist_ok=True)
    entrypoints = []
    for fi in range(args.files):
        rel = f"flows/gen_diff_{fi:03d}.py"
        chunks = [HEADER]
        for k in range(rng.randint(1, 4)):
            fname, src = gen_flow(rng, k, fi)
            chunks.append("\n\n" + src)
            entrypoints.append((f"diff-{fi:03d}-{fname}", f"{rel}:{fname}", {}))
        if fi % 5 == 0:
            entrypoints.append((f"diff-{fi:03d}-task", f"{rel}:helper_task", {}))
            entrypoints.append((f"diff-{fi:03d}-helper", f"{rel}:helper", {}))
            entrypoints.append((f"diff-{fi:03d}-missing", f"{rel}:nope", {}))
        with open(os.path.join(out, rel), "w") as f:
            f.write("".join(chunks))
    record(out, entrypoints)


def forget_project_modules(out):
    """Drops the modules imported from OUT (a later case imports them afresh)."""
    root = os.path.realpath(out) + os.sep
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path).startswith(root):
            del sys.modules[name]


def record(out, entrypoints):
    """Runs `RunnerDeployment.from_entrypoint` on each `(id, entrypoint, env)` and writes
    flows.jsonl."""
    import importlib

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    os.chdir(out)
    sys.path.insert(0, out)
    from prefect.deployments.runner import RunnerDeployment

    named = {name for _, _, env in entrypoints for name in env}
    with open(os.path.join(out, "flows.jsonl"), "w") as f:
        for case_id, ep, env in entrypoints:
            kind = "file" if ".py:" in ep else "module"
            line = {"id": case_id, "entrypoint": ep, "entrypoint_kind": kind}
            if env:
                line["env"] = env
            for name in named:
                os.environ.pop(name, None)
            os.environ.update(env)
            saved_path = list(sys.path)
            forget_project_modules(out)
            importlib.invalidate_caches()
            try:
                d = RunnerDeployment.from_entrypoint(ep, name="x")
                from prefect.flows import load_flow_from_entrypoint

                flow = load_flow_from_entrypoint(ep)
                import inspect

                source = inspect.getsourcefile(flow.fn)
                path = os.path.relpath(source, out) if source else None
                md5 = None
                if path and os.path.isfile(path):
                    md5 = hashlib.md5(open(path, "rb").read()).hexdigest()
                exp = {"flow_name": d.flow_name, "description": d.description,
                       "version": None if d.version == md5 else d.version}
                if md5 is not None and d.version == md5:
                    exp["version_default"] = {"kind": "file_md5", "file": path, "value": md5}
                exp["is_async"] = flow.isasync
                exp["parameter_openapi_schema"] = d._parameter_openapi_schema.model_dump(
                    mode="json", exclude_unset=True)
                line["expected"] = exp
            except Exception as e:  # noqa: BLE001
                line["error"] = type(e).__name__
                line["error_message"] = str(e)
            finally:
                sys.path[:] = saved_path
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
