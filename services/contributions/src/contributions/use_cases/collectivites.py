"""Registering collectivités, one by one or from a list (R-CON-1: recorded whatever their type)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from servicekit.rules import Conflict, NotFound

from contributions.adapters.csv_files import parse_collectivites_csv
from contributions.domain.collectivites import Collectivite
from contributions.domain.declarations import LineProblem
from contributions.use_cases.ports import Repository


async def register_collectivite(repository: Repository, collectivite: Collectivite) -> Collectivite:
    if not await repository.add_collectivite(collectivite):
        raise Conflict(f"the collectivité with SIREN {collectivite.siren} is already registered")
    return collectivite


async def collectivite_of(repository: Repository, siren: str) -> Collectivite:
    found = await repository.collectivite(siren)
    if found is None:
        raise NotFound(f"no collectivité with SIREN {siren}")
    return found


@dataclass(frozen=True, slots=True)
class CollectivitesImport:
    loaded: int
    problems: list[LineProblem]


async def import_collectivites(
    repository: Repository, content: bytes, registered_on: date
) -> CollectivitesImport:
    """A CSV list: good rows are registered or updated, bad rows reported with their line number."""
    parsed = parse_collectivites_csv(content, registered_on)
    unique = {c.siren: c for c in parsed.collectivites}
    loaded = await repository.upsert_collectivites(list(unique.values()))
    return CollectivitesImport(loaded, parsed.problems)
