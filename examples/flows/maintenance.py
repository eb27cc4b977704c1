"""Warehouse housekeeping, run from a git checkout on the worker (see the `storage` key of
`examples/deployments.yaml`)."""

from enum import Enum

from prefect import flow


class Target(str, Enum):
    STAGING = "staging"
    WAREHOUSE = "warehouse"


@flow(name="vacuum", version="2.3.0")
def vacuum(target: Target = Target.STAGING, dry_run: bool = True, keep_days: int = 30) -> None:
    """Vacuum and prune old partitions."""
    print(f"vacuum {target.value}, keeping {keep_days} days (dry run: {dry_run})")
