"""``GET /v1/themes``: the répertoire of mandate trainings (R-OFR-1), public reference data."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from servicekit.api import SessionDep

from catalogue.adapters import repository

router = APIRouter(prefix="/v1/themes", tags=["themes"])


class ThemeOut(BaseModel):
    code: str
    label: str
    family: str
    family_label: str


@router.get("", response_model=list[ThemeOut], summary="The répertoire of mandate-training themes (R-OFR-1)")
async def list_themes(session: SessionDep) -> list[ThemeOut]:
    return [
        ThemeOut(code=row.code, label=row.label, family=row.family, family_label=row.family_label)
        for row in await repository.list_themes(session)
    ]
