"""Example flows deployed by `prefab deploy --file examples/deployments.yaml`.

prefab reads this file statically (no Python process): the flow names, descriptions, default
versions and parameter schemas come from the source, exactly as Prefect would compute them.
"""

from datetime import date
from enum import Enum
from typing import Literal, Optional

from prefect import flow
from pydantic import BaseModel, Field


class Region(str, Enum):
    EU = "eu"
    US = "us"


class Source(BaseModel):
    bucket: str
    prefix: str = "raw/"
    max_files: int = Field(default=100, ge=1, le=10_000)


@flow(name="nightly-etl", log_prints=True)
def nightly_etl(
    source: Source,
    region: Region = Region.EU,
    day: Optional[date] = None,
    mode: Literal["full", "incremental"] = "incremental",
) -> None:
    """Load yesterday's files into the warehouse.

    Args:
        source: Where the raw files are.
        region: Which warehouse region to load into.
        day: The day to load (default: yesterday).
        mode: Reload everything, or only new files.
    """
    print(f"loading {source.bucket}/{source.prefix} into {region.value} ({mode})")


@flow
async def hourly_report(recipients: list[str], top_n: int = 10) -> None:
    """Send the hourly top-N report."""
    print(f"sending top {top_n} to {', '.join(recipients)}")
