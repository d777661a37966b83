"""Periods across collectivités, by status: the agents' list of late payers (R-CON-3, R-CON-4)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

from dife_contracts.enums import PeriodStatus, Role
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from servicekit.auth import Principal, require_roles
from servicekit.pagination import Page, PageDep

from contributions.api.common import RepositoryDep
from contributions.api.schemas import PeriodOut

router = APIRouter(prefix="/v1/periods", tags=["periods"])

Staff = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.OPS))]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "siren",
    "name",
    "period",
    "periodicity",
    "due_date",
    "creditor_reference",
    "declared_cents",
    "paid_cents",
    "outstanding_cents",
    "status",
)


def neutralised(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP: prefix `'` to = + - @ tab CR)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv(periods: list[PeriodOut], names: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for period in periods:
        values = {**period.model_dump(mode="json"), "name": names.get(period.siren, "")}
        writer.writerow([neutralised(values[column]) for column in CSV_COLUMNS])
    return out.getvalue()


@router.get(
    "",
    response_model=Page[PeriodOut],
    responses={200: {"content": {"text/csv": {}}}},
    summary="Periods in one status, e.g. `?status=late` (agent, ops); JSON pages, or CSV with `format=csv` "
    "or `Accept: text/csv` (one page of up to `limit` rows, `next_cursor` in the `X-Next-Cursor` header)",
)
async def periods_by_status(
    request: Request,
    principal: Staff,
    repository: RepositoryDep,
    page: PageDep,
    status: Annotated[PeriodStatus, Query()] = PeriodStatus.LATE,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Page[PeriodOut] | Response:
    after = page.after(types=(date, str, str))
    accounts = await repository.periods_with_status(
        status, None if after is None else (after[0], after[1], after[2]), page.limit + 1
    )
    result = Page.from_overfetch(
        [PeriodOut.of_account(a) for a in accounts],
        limit=page.limit,
        cursor_values=lambda p: (p.due_date, p.siren, p.period),
    )
    wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if not wants_csv:
        return result
    headers = {"Content-Disposition": f'attachment; filename="periods-{status.value}.csv"'}
    if result.next_cursor:
        headers["X-Next-Cursor"] = result.next_cursor
    names = await repository.names_of(p.siren for p in result.items)
    return Response(_csv(result.items, names), media_type="text/csv; charset=utf-8", headers=headers)
