"""The public list of financed trainings (R-PUB-1): no token, JSON or CSV, paginated."""

from __future__ import annotations

from dataclasses import dataclass
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
from dossier.api.bodies import financed_training_body, json_response
from dossier.api.deps import ListsDep, PageDep
from dossier.api.schemas import FinancedTrainingOut
from dossier.use_cases import queries

router = APIRouter(prefix="/v1/public", tags=["public"])

CSV_MEDIA_TYPE = "text/csv"
COLUMNS = tuple(FinancedTrainingOut.model_fields)


@dataclass(frozen=True)
class PublicFilters:
    year: int | None
    department: str | None
    siret: str | None


async def _filters(
    year: Annotated[int | None, Query(ge=2000, le=2100, description="year the training starts")] = None,
    department: Annotated[DepartmentCode | None, Query(description="département of the training")] = None,
    siret: Annotated[Siret | None, Query(description="SIRET of the organisation")] = None,
) -> PublicFilters:
    """An async function, so FastAPI builds it on the event loop rather than in its thread pool."""
    return PublicFilters(year, department, siret)


FiltersDep = Annotated[PublicFilters, Depends(_filters)]


async def _page(
    lists: ListsDep, filters: PublicFilters, page: PageParams
) -> tuple[list[FinancedTraining], str | None]:
    """Keyset pages on (training_start, dossier_id), without a total."""
    found = await queries.financed_trainings(
        lists,
        year=filters.year,
        department=filters.department,
        siret=filters.siret,
        after=page.after(types=[date, UUID]),
        limit=page.limit,
    )
    shown = found[: page.limit]
    next_cursor = encode_cursor(shown[-1].sort_key) if len(found) > page.limit else None
    return shown, next_cursor


def _csv(lines: list[FinancedTraining], next_cursor: str | None) -> Response:
    bodies = (financed_training_body(line) for line in lines)
    body = to_csv(COLUMNS, ([item[column] for column in COLUMNS] for item in bodies))
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
    request: Request, lists: ListsDep, filters: FiltersDep, page: PageDep
) -> Response:
    lines, next_cursor = await _page(lists, filters, page)
    if CSV_MEDIA_TYPE in request.headers.get("accept", ""):
        return _csv(lines, next_cursor)
    return json_response(
        {"items": [financed_training_body(line) for line in lines], "next_cursor": next_cursor}
    )


@router.get(
    "/financed-trainings.csv",
    response_class=Response,
    responses={200: {"content": {CSV_MEDIA_TYPE: {}}}, **problem_responses(422)},
    summary="The same list as CSV (cells neutralised against formula injection); next page in X-Next-Cursor",
)
async def financed_trainings_csv(lists: ListsDep, filters: FiltersDep, page: PageDep) -> Response:
    return _csv(*await _page(lists, filters, page))
