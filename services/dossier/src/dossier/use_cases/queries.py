"""Lists: dossiers (scoped by the caller's role), controls, and the public list of financed trainings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from servicekit.errors import Forbidden

from dossier.adapters.repository import DossierFilter, FinancedTraining
from dossier.domain.controls import Control, ControlStatus
from dossier.domain.dossier import Dossier
from dossier.use_cases.access import Caller
from dossier.use_cases.ports import Context, Lists


def scope(callers: list[Caller], wanted: DossierFilter) -> DossierFilter:
    """Agents see all; otherwise an organisme sees its SIRET's dossiers, an élu their own (one role decides,
    in that order, so a token with two roles never gets the union of both)."""
    by_role = {caller.role: caller for caller in callers}
    if "agent" in by_role:
        return wanted
    if "organisme" in by_role:
        siret = by_role["organisme"].siret
        if wanted.siret not in (None, siret):
            raise Forbidden("an organisme lists only its own dossiers")
        return replace(wanted, siret=siret)
    if "elu" in by_role:
        elu_id = by_role["elu"].elu_id
        if wanted.elu_id not in (None, elu_id):
            raise Forbidden("an élu lists only their own dossiers")
        return replace(wanted, elu_id=elu_id)
    raise Forbidden("no role of this token may list dossiers")


async def list_dossiers(
    lists: Lists, callers: list[Caller], wanted: DossierFilter, *, after: tuple[Any, ...] | None, limit: int
) -> list[Dossier]:
    return await lists.list_dossiers(scope(callers, wanted), after=after, limit=limit)


async def list_controls(
    ctx: Context, status: ControlStatus | None, *, after: tuple[Any, ...] | None, limit: int
) -> list[Control]:
    return await ctx.repo.list_controls(status, after=after, limit=limit)


async def financed_trainings(
    lists: Lists,
    *,
    year: int | None,
    department: str | None,
    siret: str | None,
    after: tuple[Any, ...] | None,
    limit: int,
) -> list[FinancedTraining]:
    """R-PUB-1: the dossiers in a financed status, in training-start order."""
    return await lists.financed_trainings(
        year=year, department=department, siret=siret, after=after, limit=limit
    )
