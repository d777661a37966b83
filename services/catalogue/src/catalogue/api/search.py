"""``GET /v1/offers``: the public national search (French full text, filters, facets, keyset pages)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import orjson
from dife_contracts.enums import Modality, TrainingPurpose
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from servicekit.errors import problem_responses
from servicekit.pagination import (
    DEFAULT_LIMIT,
    MAX_CURSOR_LENGTH,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)

from catalogue.api.schemas import MAX_BIGINT, HoursOut, QualityOut
from catalogue.api.state import catalogue_of
from catalogue.domain.quality import Quality
from catalogue.domain.search import Position, SearchFilters, SearchHit, SortOrder, effective_sort
from catalogue.use_cases.search import search_offers

router = APIRouter(prefix="/v1/offers", tags=["search"])

MAX_SEARCH_LIMIT = 100
_KEY_TYPES: dict[SortOrder, tuple[type, ...]] = {
    SortOrder.RELEVANCE: (float, int),
    SortOrder.START_DATE: (date,),
    SortOrder.PRICE: (int,),
    SortOrder.DISTANCE: (float, int),
}


class OfferHit(BaseModel):
    id: uuid.UUID
    kind: TrainingPurpose
    title: str
    summary: str
    theme_code: str | None
    certification_code: str | None
    siret: str
    organisme_name: str
    modality: Modality
    city: str | None
    department: str | None
    region: str | None
    hours: HoursOut
    price_ht_cents: int
    price_ttc_cents: int
    next_start_date: date | None
    quality: QualityOut
    distance_km: float | None = Field(description="From `near`, when given")


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    theme: list[FacetCount]
    department: list[FacetCount]
    modality: list[FacetCount]


class SearchPage(BaseModel):
    items: list[OfferHit]
    next_cursor: str | None
    total: int = Field(description="Offers matching the query and filters, on every page")
    sort: SortOrder
    facets: Facets = Field(description="Counts of the matching offers by theme, département and modality")


class SearchQuery(BaseModel):
    """The query string of ``GET /v1/offers``, validated in one pass (FastAPI's per-parameter validation of
    these 17 parameters cost more CPU than the rest of the search); documented as query parameters."""

    model_config = ConfigDict(extra="ignore")

    q: Annotated[str | None, Field(max_length=200, description="Words in French; accents optional")] = None
    kind: TrainingPurpose | None = None
    theme: Annotated[str | None, Field(max_length=20)] = None
    department: Annotated[str | None, Field(pattern=r"^(\d{2}|2[AB]|97\d)$")] = None
    region: Annotated[str | None, Field(pattern=r"^\d{2}$")] = None
    modality: Modality | None = None
    starts_after: Annotated[date | None, Field(description="An open session starts on or after")] = None
    starts_before: Annotated[date | None, Field(description="An open session starts on or before")] = None
    max_price_cents: Annotated[int | None, Field(ge=0, le=MAX_BIGINT)] = None
    organisme: Annotated[str | None, Field(pattern=r"^\d{14}$", description="SIRET")] = None
    near: Annotated[str | None, Field(description="`lat,lon`: distances, and `sort=distance`")] = None
    radius_km: Annotated[
        float | None, Field(gt=0, le=2000, description="Only offers this close to `near`")
    ] = None
    sort: SortOrder | None = None
    cursor: Annotated[str | None, Field(max_length=MAX_CURSOR_LENGTH)] = None
    limit: Annotated[int, Field(ge=1, le=MAX_SEARCH_LIMIT)] = min(DEFAULT_LIMIT, 20)


def _query_parameters() -> list[dict[str, Any]]:
    """The OpenAPI query parameters of ``SearchQuery`` (enum schemas inlined)."""
    schema = SearchQuery.model_json_schema()
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameter["schema"] = inline(field_schema)
        parameters.append(parameter)
    return parameters


def _search_query(request: Request) -> SearchQuery:
    """The query string as ``SearchQuery``; errors as FastAPI reports them (``loc`` ``("query", name)``)."""
    try:
        return SearchQuery.model_validate(dict(request.query_params))
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("query", *detail["loc"])} for detail in error.errors(include_url=False)]
        ) from error


def _query_error(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


def _parse_near(near: str | None) -> tuple[float, float] | None:
    if near is None:
        return None
    try:
        lat_text, lon_text = near.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError as error:
        raise _query_error("near", "expected `lat,lon` in decimal degrees, e.g. `45.76,4.83`") from error
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _query_error("near", "latitude within ±90, longitude within ±180")
    return lat, lon


def _position(cursor: str, sort: SortOrder) -> Position:
    values = decode_cursor(cursor)
    if len(values) != 3 or values[0] != sort.value:
        raise InvalidCursor("the cursor belongs to another sort order; start again without it")
    _, key, offer_id = values
    if not isinstance(offer_id, uuid.UUID):
        raise InvalidCursor()
    if key is not None and (isinstance(key, bool) or not isinstance(key, _KEY_TYPES[sort])):
        raise InvalidCursor()
    if isinstance(key, int) and sort in (SortOrder.RELEVANCE, SortOrder.DISTANCE):
        key = float(key)
    return Position(key=key, offer_id=offer_id)


def _hit(hit: SearchHit) -> dict[str, Any]:
    """One item of the page, as ``OfferHit`` documents it (built directly: this is the hot path)."""
    quality = Quality(hit.rating_count, hit.rating_sum)
    return {
        "id": hit.id,
        "kind": hit.kind,
        "title": hit.title,
        "summary": hit.summary,
        "theme_code": hit.theme_code,
        "certification_code": hit.certification_code,
        "siret": hit.siret,
        "organisme_name": hit.organisme_name,
        "modality": hit.modality,
        "city": hit.city,
        "department": hit.department,
        "region": hit.region,
        "hours": float(hit.hours),
        "price_ht_cents": hit.price_ht_cents,
        "price_ttc_cents": hit.price_ttc_cents,
        "next_start_date": hit.next_start_date,
        "quality": {"rating_count": quality.count, "rating_average": quality.average},
        "distance_km": round(hit.distance_km, 3) if hit.distance_km is not None else None,
    }


def _json_default(value: object) -> str:
    """Decimals as strings (as pydantic writes them); the driver's own UUID type as a plain UUID."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@router.get(
    "",
    response_model=SearchPage,  # documents the Response
    responses=problem_responses(422),
    openapi_extra={"parameters": _query_parameters()},
)
async def search(request: Request) -> Response:
    """Published offers only. Default order: relevance with `q`, else the soonest session first."""
    query = _search_query(request)
    point = _parse_near(query.near)
    if query.radius_km is not None and point is None:
        raise _query_error("radius_km", "`radius_km` needs `near`")
    if query.sort is SortOrder.DISTANCE and point is None:
        raise _query_error("sort", "`sort=distance` needs `near=lat,lon`")
    text = query.q.strip() if query.q and query.q.strip() else None
    filters = SearchFilters(
        q=text,
        kind=query.kind.value if query.kind else None,
        theme=query.theme,
        department=query.department,
        region=query.region,
        modality=query.modality.value if query.modality else None,
        starts_after=query.starts_after,
        starts_before=query.starts_before,
        max_price_cents=query.max_price_cents,
        organisme=query.organisme,
        near=point,
        radius_km=query.radius_km,
    )
    order = effective_sort(query.sort, filters)
    after = _position(query.cursor, order) if query.cursor else None
    index = catalogue_of(request).offer_index
    result = await search_offers(index, filters, sort=order, after=after, limit=query.limit)
    next_cursor = None
    if result.has_more:
        last = result.hits[-1]
        next_cursor = encode_cursor((order.value, last.sort_key, last.id))
    body = {
        "items": [_hit(hit) for hit in result.hits],
        "next_cursor": next_cursor,
        "total": result.total,
        "sort": order.value,
        "facets": {
            name: [{"value": f.value, "count": f.count} for f in counts]
            for name, counts in result.facets.items()
        },
    }
    return Response(orjson.dumps(body, default=_json_default), media_type="application/json")
