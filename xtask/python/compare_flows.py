"""Prefect 3.9.1's side of `cargo xtask compare-flows` (run by the pinned venv's python).

    compare_flows.py discover DIR...
        Prints, as one JSON document, every `@flow`-decorated function (and every
        `name = flow(func, ...)` assignment) in every .py file under each DIR, found by reading
        the syntax tree — nothing is imported:
        {"dirs": [{"dir", "files": [{"path", "entrypoints": [...]}], "unparsed": [{"path", "error"}]}]}

    compare_flows.py prefect --out FILE ENTRYPOINT...
        Run in the flow's working directory (DIR), as `prefect deploy` would be: for each
        entrypoint, `RunnerDeployment.from_entrypoint(entrypoint, name="x")`, and writes one
        JSON line per entrypoint to FILE (not stdout, which the flow's module may print to):
        `flow_name`, `description`, `version`, `is_async`, `parameter_openapi_schema`, and
        `import_error` when the module failed to import and Prefect's static fallback loader
        built the flow; or `error` / `error_message`.

The caller runs each file's entrypoints in a fresh process with a timeout, a throw-away
HOME and PREFECT_HOME and an unreachable PREFECT_API_URL, so import side effects stay there.
"""

import ast
import json
import logging
import os
import re
import sys
import warnings

SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", ".venv", "env"}


def flow_aliases(tree):
    """Names bound to Prefect's `flow` (`from prefect import flow as f`) and to the module."""
    names, modules = {"flow"}, {"prefect"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "prefect":
            for a in node.names:
                if a.name == "flow":
                    names.add(a.asname or "flow")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "prefect" and a.asname:
                    modules.add(a.asname)
    return names, modules


def is_flow_expr(expr, names, modules):
    """`flow`, `flow(...)`, `prefect.flow`, `prefect.flow(...)` (or an alias of them)."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Name):
        return expr.id in names
    if isinstance(expr, ast.Attribute) and expr.attr == "flow":
        return isinstance(expr.value, ast.Name) and expr.value.id in modules
    return False


def entrypoints_in(rel, tree):
    names, modules = flow_aliases(tree)
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(is_flow_expr(d, names, modules) for d in node.decorator_list):
                found.append(f"{rel}:{node.name}")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    is_flow_expr(d, names, modules) for d in item.decorator_list
                ):
                    found.append(f"{rel}:{node.name}.{item.name}")
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            # `x = flow(func, ...)` and `x = flow(...)(func)`
            direct = isinstance(value, ast.Call) and is_flow_expr(value.func, names, modules) and value.args
            curried = (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Call)
                and is_flow_expr(value.func.func, names, modules)
                and value.args
            )
            if direct or curried:
                found.append(f"{rel}:{node.targets[0].id}")
    # Order and uniqueness as the file defines them (a redefinition keeps its first place).
    return list(dict.fromkeys(found))


FLOW_DECORATOR_LINE = re.compile(r"^@(?:\w+\.)?flow\b")
DEF_LINE = re.compile(r"^(?:async\s+)?def\s+(\w+)")


def entrypoints_by_lines(rel, text):
    """Top-level functions under an `@flow` / `@x.flow` line, for a file Python cannot parse."""
    found, pending = [], False
    for line in text.splitlines():
        if FLOW_DECORATOR_LINE.match(line):
            pending = True
        elif pending and (m := DEF_LINE.match(line)):
            found.append(f"{rel}:{m.group(1)}")
            pending = False
        elif line and not line[0].isspace() and not line.startswith(("@", ")", "#")):
            pending = False
    return list(dict.fromkeys(found))


def discover(dirs):
    out = []
    for top in dirs:
        top = os.path.abspath(top)
        files, unparsed = [], []
        for root, subdirs, names in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(names):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(root, name)
                rel = os.path.relpath(path, top)
                try:
                    with open(path, "rb") as f:
                        source = f.read()
                except OSError as e:
                    unparsed.append({"path": rel, "error": str(e)})
                    continue
                if b"flow" not in source:
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        tree = ast.parse(source, filename=rel)
                except (SyntaxError, ValueError) as e:
                    if b"prefect" not in source:
                        continue
                    # Python cannot parse it (nor can Prefect): its flows are still compared,
                    # found by their lines.
                    unparsed.append({"path": rel, "error": f"{type(e).__name__}: {e}"})
                    eps = entrypoints_by_lines(rel, source.decode("utf-8", "replace"))
                else:
                    eps = entrypoints_in(rel, tree)
                if eps:
                    files.append({"path": rel, "entrypoints": eps})
        out.append({"dir": top, "files": files, "unparsed": unparsed})
    json.dump({"dirs": out}, sys.stdout)
    sys.stdout.write("\n")


def run_prefect(out_path, entrypoints):
    # `prefect deploy` runs from the prefect console script: its own directory (here, this
    # script's) is not the project's. The loader puts the working directory and the script's
    # directory on sys.path itself.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    import prefect.flows
    from prefect.deployments.runner import RunnerDeployment

    fallback_cause = {}
    original = prefect.flows.safe_load_flow_from_entrypoint

    def recording_fallback(entrypoint):
        # Called inside `except ScriptError:` in load_flow_from_entrypoint.
        exc = sys.exc_info()[1]
        cause = getattr(exc, "user_exc", exc)
        fallback_cause[entrypoint] = f"{type(cause).__name__}: {cause}" if cause else "unknown"
        return original(entrypoint)

    prefect.flows.safe_load_flow_from_entrypoint = recording_fallback

    loaded = {}
    original_load = prefect.flows.load_flow_from_entrypoint

    def recording_load(entrypoint, *args, **kwargs):
        # from_entrypoint imports this name when called: keep its flow (is it async?)
        # without importing the module a second time.
        flow = original_load(entrypoint, *args, **kwargs)
        loaded[entrypoint] = flow
        return flow

    prefect.flows.load_flow_from_entrypoint = recording_load

    with open(out_path, "w") as out:
        for ep in entrypoints:
            line = {"entrypoint": ep}
            try:
                d = RunnerDeployment.from_entrypoint(ep, name="x")
                flow = loaded[ep]
                line.update(
                    flow_name=d.flow_name,
                    description=d.description,
                    version=d.version,
                    is_async=flow.isasync,
                    parameter_openapi_schema=d._parameter_openapi_schema.model_dump(
                        mode="json", exclude_unset=True
                    ),
                )
                if ep in fallback_cause:
                    line["import_error"] = fallback_cause[ep]
            except BaseException as e:  # noqa: BLE001 — SystemExit at import is an answer too
                line["error"] = type(e).__name__
                line["error_message"] = str(e)
                if ep in fallback_cause:
                    line["import_error"] = fallback_cause[ep]
            out.write(json.dumps(line) + "\n")
            out.flush()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "discover":
        discover(sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "prefect" and sys.argv[2] == "--out":
        run_prefect(sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
