"""A Python loop of `RunnerDeployment.apply()` over a deployment file's definitions, for
`cargo xtask bench-compare --deploy` (the counterpart of `prefab deploy --file`). The same file
prefab reads: `entrypoint`, `name`, `cron`, `parameters`, `tags` and event `triggers`, entrypoints
relative to the working directory. Every definition is built with `from_entrypoint` first, then
applied one after the other, as a user's script would; a failure is recorded and the loop goes
on. Prints one JSON object: seconds spent importing, building and applying, the process CPU
seconds of the apply loop, and the failures.

argv: DEPLOYMENT_FILE (JSON)
"""
import json
import sys
import time

started = time.perf_counter()
from prefect.deployments.runner import RunnerDeployment  # noqa: E402
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger  # noqa: E402

imported = time.perf_counter()
with open(sys.argv[1]) as f:
    definitions = json.load(f)
deployments = [
    RunnerDeployment.from_entrypoint(
        d["entrypoint"],
        d["name"],
        cron=d["cron"],
        parameters=d["parameters"],
        tags=d["tags"],
        triggers=[DeploymentEventTrigger(**t) for t in d["triggers"]],
    )
    for d in definitions
]
built = time.perf_counter()
built_cpu = time.process_time()
failures = []
for deployment in deployments:
    try:
        deployment.apply()
    except Exception as e:  # reported, the loop goes on (as prefab does)
        failures.append(f"{deployment.name}: {e!r}")
applied = time.perf_counter()
applied_cpu = time.process_time()
print(
    json.dumps(
        {
            "deployments": len(deployments),
            "import_s": imported - started,
            "build_s": built - imported,
            "apply_s": applied - built,
            "apply_cpu_s": applied_cpu - built_cpu,
            "failures": failures,
        }
    )
)
