"""The public list of financed trainings (R-PUB-1): no token, JSON or CSV, paginated."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from dife_contracts.values import DepartmentCode, Siret
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from servicekit.errors import problem_responses
from servicekit.pagination import Page, PageParams, encode_cursor

from dossier.adapters.csv_export import to_csv
from dossier.adapters.repository import FinancedTraining
from dossier.api.deps import ContextDep
from dossier.api.schemas import FinancedTrainingOut
from dossier.use_cases import queries

router = APIRouter(prefix="/v1/public", tags=["public"])

CSV_MEDIA_TYPE = "text/csv"
COLUMNS = tuple(FinancedTrainingOut.model_fields)


class PublicFilters:
    def __init__(
        self,
        year: Annotated[int | None, Query(ge=2000, le=2100, description="year the training starts")] = None,
        department: Annotated[DepartmentCode | None, Query(description="département of the training")] = None,
        siret: Annotated[Siret | None, Query(description="SIRET of the organisation")] = None,
    ) -> None:
        self.year, self.department, self.siret = year, department, siret


async def _page(
    ctx: ContextDep, filters: PublicFilters, page: PageParams
) -> tuple[list[FinancedTrainingOut], str | None]:
    found = await queries.financed_trainings(
        ctx,
        year=filters.year,
        department=filters.department,
        siret=filters.siret,
        after=page.after(types=[date, UUID]),
        limit=page.limit,
    )
    more = len(found) > page.limit
    shown: list[FinancedTraining] = found[: page.limit]
    next_cursor = encode_cursor(shown[-1].sort_key) if more and shown else None
    return [_out(line) for line in shown], next_cursor


def _out(line: FinancedTraining) -> FinancedTrainingOut:
    return FinancedTrainingOut(
        family_name=line.family_name,
        given_names=line.given_names,
        cost_cents=line.cost_cents,
        title=line.title,
        theme_code=line.theme_code,
        organisme_name=line.organisme_name,
        siret=line.siret,
        start_date=line.training_start,
        end_date=line.training_end,
    )


def _csv(items: list[FinancedTrainingOut], next_cursor: str | None) -> Response:
    body = to_csv(COLUMNS, ([getattr(item, column) for column in COLUMNS] for item in items))
    headers = {"Content-Disposition": 'attachment; filename="financed-trainings.csv"'}
    if next_cursor is not None:
        headers["X-Next-Cursor"] = next_cursor
    return Response(body, media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", headers=headers)


@router.get(
    "/financed-trainings",
    response_model=Page[FinancedTrainingOut],
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "JSON, or CSV with `Accept: text/csv`"},
        **problem_responses(422),
    },
    summary="Financed trainings (R-PUB-1): élu's name, cost, subject, organisation, dates; nothing else",
)
async def financed_trainings(
    request: Request,
    ctx: ContextDep,
    filters: Annotated[PublicFilters, Depends()],
    page: Annotated[PageParams, Depends()],
) -> Response | Page[FinancedTrainingOut]:
    items, next_cursor = await _page(ctx, filters, page)
    if CSV_MEDIA_TYPE in request.headers.get("accept", ""):
        return _csv(items, next_cursor)
    return Page[FinancedTrainingOut](items=items, next_cursor=next_cursor)


@router.get(
    "/financed-trainings.csv",
    response_class=Response,
    responses={200: {"content": {CSV_MEDIA_TYPE: {}}}, **problem_responses(422)},
    summary="The same list as CSV (cells neutralised against formula injection); next page in X-Next-Cursor",
)
async def financed_trainings_csv(
    ctx: ContextDep, filters: Annotated[PublicFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Response:
    return _csv(*await _page(ctx, filters, page))
