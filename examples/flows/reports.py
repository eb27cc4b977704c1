"""Reporting flows: a weekly digest and an on-demand report triggered by the nightly load."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

from prefect import flow
from pydantic import Field


@flow(name="weekly-digest", description="The Monday digest for the data team.")
def weekly_digest(
    recipients: list[str],
    lookback: timedelta = timedelta(days=7),
    fmt: Literal["html", "markdown"] = "html",
) -> None:
    print(f"digest over {lookback} to {len(recipients)} people as {fmt}")


@flow(name="load-report")
def load_report(
    run_id: str,
    finished_at: datetime | None = None,
    top_n: Annotated[int, Field(ge=1, le=100)] = 10,
) -> None:
    """Summarise one nightly load.

    Args:
        run_id: The nightly load's flow run.
        finished_at: When it finished.
        top_n: How many tables to list.
    """
    print(f"report for {run_id} ({finished_at}), top {top_n}")
