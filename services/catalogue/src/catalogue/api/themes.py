"""``GET /v1/themes``: the répertoire of mandate trainings (R-OFR-1), public reference data."""

from __future__ import annotations

from fastapi import APIRouter

from catalogue.api.common import Repository
from catalogue.api.schemas import ThemeOut
from catalogue.use_cases import organismes

router = APIRouter(prefix="/v1/themes", tags=["themes"])


@router.get("", response_model=list[ThemeOut], summary="The répertoire of mandate-training themes (R-OFR-1)")
async def list_themes(repo: Repository) -> list[ThemeOut]:
    return [ThemeOut.of(theme) for theme in await organismes.themes(repo)]
