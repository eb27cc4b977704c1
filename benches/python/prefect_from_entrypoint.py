"""One cold `RunnerDeployment.from_entrypoint` in a fresh Prefect 3.9.1 process, for
`cargo xtask bench-compare --deploy` (the counterpart of a cold `prefab inspect`). Prints the
deployment's flow name and parameter schema as one JSON object, so the two sides can be checked
to agree.

argv: ENTRYPOINT (relative to the working directory)
"""
import json
import sys

from prefect.deployments.runner import RunnerDeployment

deployment = RunnerDeployment.from_entrypoint(sys.argv[1], name="bench")
schema = deployment._parameter_openapi_schema
print(
    json.dumps(
        {
            "flow_name": deployment.flow_name,
            "parameter_openapi_schema": schema.model_dump(),
        }
    )
)
