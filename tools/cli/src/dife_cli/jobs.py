"""Following a background job (`servicekit.jobs`) to its end with a progress bar, then its report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dife_cli.client import ServiceClient
from dife_cli.errors import CliError
from dife_cli.render import err, out, show, show_rows, write_csv

FINISHED = frozenset({"succeeded", "failed", "cancelled"})


def is_job(body: Any) -> bool:
    return isinstance(body, dict) and {"id", "kind", "status", "rows_done", "rows_total"} <= body.keys()


def follow(
    client: ServiceClient, job: dict[str, Any], *, path: str, poll_s: float, timeout_s: float
) -> dict[str, Any]:
    """Poll `{path}/{id}` until the job ends, showing rows_done / rows_total; the last state is returned."""
    deadline = time.monotonic() + timeout_s
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(_label(job), total=None)
        while True:
            total = job["rows_total"] or None
            progress.update(task, description=_label(job), total=total, completed=job["rows_done"])
            if job["status"] in FINISHED:
                if job["status"] == "succeeded" and total:
                    progress.update(task, completed=total)
                return job
            if time.monotonic() > deadline:
                raise CliError(
                    f"job {job['id']} still {job['status']} after {timeout_s:.0f} s; "
                    f"follow it with `dife jobs show {job['id']}`"
                )
            time.sleep(poll_s)
            job = client.json("GET", f"{path}/{job['id']}")


def _label(job: dict[str, Any]) -> str:
    return f"{job['kind']} {job['status']}"


def conclude(job: dict[str, Any], *, rejected_csv: Path | None = None) -> None:
    """Print the job's report; a failed or cancelled job is an error (exit code 1)."""
    report = dict(job.get("report") or {})
    rejected = report.pop("rejected", None)
    if report:
        show(report, title=f"{job['kind']} {job['id']}: {job['status']}")
    if isinstance(rejected, list):
        _show_rejected(rejected, report, rejected_csv)
    if job["status"] == "failed":
        raise CliError(f"job {job['id']} ({job['kind']}) failed: {job.get('error') or 'no reason given'}")
    if job["status"] == "cancelled":
        raise CliError(f"job {job['id']} ({job['kind']}) was cancelled")
    out.print(f"[green]job {job['id']} ({job['kind']}) {job['status']}[/green]")


def _show_rejected(rejected: list[Any], report: dict[str, Any], rejected_csv: Path | None) -> None:
    rows = [row for row in rejected if isinstance(row, dict)]
    show_rows(rows, title="rejected lines")
    counted = report.get("rows_rejected")
    if isinstance(counted, int) and counted > len(rows):
        err.print(f"the report lists the first {len(rows)} of {counted} rejected lines")
    if rejected_csv is not None:
        columns = list(dict.fromkeys(key for row in rows for key in row)) or ["line", "reason"]
        write_csv(rejected_csv, rows, columns)
        err.print(f"{len(rows)} rejected lines written to {rejected_csv}")
