"""The list reads: dossiers (an élu's, an organisme's, or all for agents) and the public list of financed
trainings (R-PUB-1), each one read-only statement on servicekit's plain asyncpg read pool.

Why not the repository's session: a list needs no transaction, no ORM session and no pool ping, which cost
more than the statement itself (issue 9). Both lists are keyset-paginated in the order of an index (migration
0002) and never count their rows.

The financed statuses are written into the SQL as literals, the same text as the partial indexes' predicate.
With bind parameters (`status IN ($1, …)`), a prepared statement's generic plan cannot prove that predicate,
so PostgreSQL scanned and sorted the whole table: 1.1–1.4 s a page on 1,000,000 dossiers.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Protocol

from dossier.adapters.repository import DossierFilter, FinancedTraining, dossier_of
from dossier.domain.dossier import Dossier
from dossier.domain.statuses import FINANCED_STATUSES

FINANCED_SQL = ", ".join(f"'{status.value}'" for status in sorted(FINANCED_STATUSES))
"""The financed statuses as SQL literals (status values are fixed identifiers, never user input)."""

DOSSIER_COLUMNS = (
    "dossier_id, elu_id, offer_id, session_id, siret, purpose, price_cents, hours, training_start, "
    "training_end, offer_title, theme_code, organisme_name, department, status, submitted_at, answer_by, "
    "accept_by, entry_on, entry_declared_late, exit_on, exit_declared_late, hours_attended, "
    "realisation_percent, service_done_declared_on, auto_validation_on, open_control_id, plan, evaluation, "
    "rights_consumed, amount_paid_cents"
)


class Fetcher(Protocol):
    """What the lists need of asyncpg: a pool, or one of its connections."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


class _Where:
    """Conditions with numbered parameters ($1, $2, …) in the order they are added."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    def add(self, template: str, *values: Any) -> None:
        """`template` holds one `{}` per value, replaced by that value's parameter number."""
        numbers = [f"${len(self.args) + i}" for i in range(1, len(values) + 1)]
        self.conditions.append(template.format(*numbers))
        self.args.extend(values)

    def clause(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "TRUE"

    def limit(self, rows: int) -> str:
        self.args.append(rows)
        return f"LIMIT ${len(self.args)}"


def dossiers_statement(
    where: DossierFilter, *, after: tuple[Any, ...] | None, limit: int
) -> tuple[str, list[Any]]:
    """Newest first, keyset on (submitted_at, dossier_id); one row more than `limit` tells a next page."""
    conditions = _Where()
    if where.siret is not None:
        conditions.add("siret = {}", where.siret)
    if where.elu_id is not None:
        conditions.add("elu_id = {}", where.elu_id)
    if where.status is not None:
        conditions.add("status = {}", where.status.value)
    if where.start_from is not None:
        conditions.add("training_start >= {}", where.start_from)
    if where.start_to is not None:
        conditions.add("training_start <= {}", where.start_to)
    if where.late_only:
        conditions.add("(entry_declared_late OR exit_declared_late)")
    if after is not None:
        conditions.add("(submitted_at, dossier_id) < ({}, {})", *after)
    text = (
        f"SELECT {DOSSIER_COLUMNS} FROM dossiers WHERE {conditions.clause()}"
        f" ORDER BY submitted_at DESC, dossier_id DESC {conditions.limit(limit + 1)}"
    )
    return text, conditions.args


def financed_trainings_statement(
    *,
    year: int | None,
    department: str | None,
    siret: str | None,
    after: tuple[Any, ...] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """R-PUB-1: financed dossiers in training-start order, keyset on (training_start, dossier_id)."""
    conditions = _Where()
    conditions.conditions.append(f"d.status IN ({FINANCED_SQL})")
    if year is not None:
        conditions.add("d.training_start BETWEEN {} AND {}", date(year, 1, 1), date(year, 12, 31))
    if department is not None:
        conditions.add("d.department = {}", department)
    if siret is not None:
        conditions.add("d.siret = {}", siret)
    if after is not None:
        conditions.add("(d.training_start, d.dossier_id) > ({}, {})", *after)
    text = (
        "SELECT d.dossier_id, e.family_name, e.given_names, d.price_cents, d.offer_title, d.theme_code,"
        " coalesce(o.name, d.organisme_name) AS organisme_name, d.siret, d.training_start, d.training_end"
        " FROM dossiers d JOIN elus e ON e.elu_id = d.elu_id LEFT JOIN organismes o ON o.siret = d.siret"
        f" WHERE {conditions.clause()}"
        f" ORDER BY d.training_start, d.dossier_id {conditions.limit(limit + 1)}"
    )
    return text, conditions.args


def _decoded(raw: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """JSONB as the plain driver gives it (text), or already decoded."""
    if raw is None or isinstance(raw, dict):
        return raw
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


class SqlLists:
    """The list reads on a read pool (or one connection of it); history is not loaded for lists."""

    def __init__(self, driver: Fetcher) -> None:
        self._driver = driver

    async def list_dossiers(
        self, where: DossierFilter, *, after: tuple[Any, ...] | None, limit: int
    ) -> list[Dossier]:
        text, args = dossiers_statement(where, after=after, limit=limit)
        found = []
        for record in await self._driver.fetch(text, *args):
            values = dict(record.items())
            values["plan"] = _decoded(values["plan"])
            values["evaluation"] = _decoded(values["evaluation"])
            found.append(dossier_of(values, []))
        return found

    async def financed_trainings(
        self,
        *,
        year: int | None,
        department: str | None,
        siret: str | None,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[FinancedTraining]:
        text, args = financed_trainings_statement(
            year=year, department=department, siret=siret, after=after, limit=limit
        )
        return [
            FinancedTraining(
                family_name=record["family_name"],
                given_names=record["given_names"],
                cost_cents=record["price_cents"],
                title=record["offer_title"],
                theme_code=record["theme_code"],
                organisme_name=record["organisme_name"],
                siret=record["siret"],
                training_start=record["training_start"],
                training_end=record["training_end"],
                sort_key=(record["training_start"], record["dossier_id"]),
            )
            for record in await self._driver.fetch(text, *args)
        ]
