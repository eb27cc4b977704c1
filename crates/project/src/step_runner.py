# prefab runs a prefect.yaml step that it does not implement itself with this script, in the
# interpreter given by --python: import the step's function as Prefect's `run_step` does
# (honouring `requires:`), call it with the templated keyword arguments, and write its result
# as JSON to the path given. Anything the step prints goes to the terminal.
import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys

request = json.load(sys.stdin)
fqn = request["function"]
kwargs = request["kwargs"]
requires = request.get("requires")
result_path = request["result_path"]
sys.path.insert(0, os.getcwd())


def strip_version(requirement):
    return re.split(r"[<>=!~]", requirement)[0].strip()


def import_object(name):
    if ":" in name:
        path, attr = name.rsplit(":", 1)
        spec = importlib.util.spec_from_file_location("__prefab_step__", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, attr)
    module_name, attr = name.rsplit(".", 1)
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def load():
    packages = requires if isinstance(requires, list) else ([requires] if requires else [])
    try:
        for package in packages:
            importlib.import_module(strip_version(package).replace("-", "_"))
        return import_object(fqn)
    except ImportError:
        if not requires:
            raise
        print(
            f"Unable to load step function: {fqn}. Attempting install of {requires}.",
            file=sys.stderr,
        )
    try:
        subprocess.check_call([sys.executable, "-m", "pip", "install", *[p for p in packages if p]])
    except subprocess.CalledProcessError:
        print(f"Unable to install required packages for {fqn}", file=sys.stderr)
    importlib.invalidate_caches()
    return import_object(fqn)


try:
    func = load()
except ImportError as exc:
    json.dump({"import_error": str(exc), "module": getattr(exc, "name", None)}, open(result_path, "w"))
    sys.exit(3)
except (AttributeError, ValueError) as exc:
    json.dump({"import_error": f"{type(exc).__name__}: {exc}", "module": None}, open(result_path, "w"))
    sys.exit(3)

result = func(**kwargs)
if inspect.isawaitable(result):
    async def _await(value):
        return await value
    result = asyncio.run(_await(result))
with open(result_path, "w") as f:
    json.dump({"result": result if isinstance(result, dict) else None}, f, default=str)
