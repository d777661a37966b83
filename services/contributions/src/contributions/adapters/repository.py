"""All the SQL of the contributions service; every method returns domain objects or small dataclasses."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dife_contracts.enums import Periodicity, PeriodStatus
from sqlalchemy import ARRAY, BindParameter, Text, any_, bindparam, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contributions.adapters.tables import (
    bank_credits,
    bank_statements,
    calendars,
    collectivites,
    declaration_lines,
    declarations,
    periods,
)
from contributions.domain.collectivites import Collectivite, CollectiviteType
from contributions.domain.declarations import Declaration
from contributions.domain.matching import BankCredit, CreditMatch, MatchedBy
from contributions.domain.periods import ContributionPeriod
from contributions.domain.settlement import Payment, PeriodAccount


@dataclass(frozen=True, slots=True)
class DeclarationVersion:
    """One version of a period's declaration, without its lines (the history, R-CON-4)."""

    id: uuid.UUID
    period: str
    version: int
    line_count: int
    allowances_cents: int
    contribution_cents: int
    received_at: datetime
    received_by: str


@dataclass(frozen=True, slots=True)
class StatementReport:
    """What importing one bank statement did."""

    id: uuid.UUID
    key: str
    imported_at: datetime
    credit_count: int
    matched_count: int


@dataclass(frozen=True, slots=True)
class StoredCredit:
    """A bank credit as recorded, with where it went (or why it went nowhere)."""

    id: uuid.UUID
    statement_id: uuid.UUID
    amount_cents: int
    booked_on: date
    reference: str | None
    remittance: str
    debtor_name: str | None
    siren: str | None
    period: str | None
    matched_by: MatchedBy | None
    unmatched_reason: str | None


def _collectivite(row: Any) -> Collectivite:
    return Collectivite(
        siren=row.siren,
        name=row.name,
        type=CollectiviteType(row.type),
        registered_on=row.registered_on,
        reference_annual_cents=row.reference_annual_cents,
    )


@functools.lru_cache(maxsize=4096)
def _period(text: str) -> ContributionPeriod:
    """Stored periods are few and immutable: a statement or a sweep reads the same ones thousands of times."""
    return ContributionPeriod.parse(text)


def _account(row: Any) -> PeriodAccount:
    return PeriodAccount(
        siren=row.siren,
        period=_period(row.period),
        due_date=row.due_date,
        declared_cents=row.declared_cents,
        paid_cents=row.paid_cents,
        status=PeriodStatus(row.status),
        late_notified=row.late_notified,
    )


def _credit(row: Any) -> StoredCredit:
    return StoredCredit(
        id=row.id,
        statement_id=row.statement_id,
        amount_cents=row.amount_cents,
        booked_on=row.booked_on,
        reference=row.reference,
        remittance=row.remittance,
        debtor_name=row.debtor_name,
        siren=row.siren,
        period=row.period,
        matched_by=MatchedBy(row.matched_by) if row.matched_by else None,
        unmatched_reason=row.unmatched_reason,
    )


class ContributionsRepository:
    """Collectivités, calendars, periods, declarations, payments and bank statements in PostgreSQL."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # collectivités ------------------------------------------------------------------------------------
    async def collectivite(self, siren: str) -> Collectivite | None:
        row = (
            await self.session.execute(select(collectivites).where(collectivites.c.siren == siren))
        ).first()
        return None if row is None else _collectivite(row)

    async def add_collectivite(self, collectivite: Collectivite) -> bool:
        """Insert; False when the SIREN is already registered (nothing changes then)."""
        inserted = await self.session.scalar(
            insert(collectivites)
            .values(_collectivite_row(collectivite))
            .on_conflict_do_nothing()
            .returning(collectivites.c.siren)
        )
        return inserted is not None

    async def upsert_collectivites(self, found: Sequence[Collectivite]) -> int:
        """Insert or update (name, type, reference total) each collectivité of an imported list."""
        if not found:
            return 0
        statement = insert(collectivites)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[collectivites.c.siren],
                set_={
                    "name": statement.excluded.name,
                    "type": statement.excluded.type,
                    "reference_annual_cents": statement.excluded.reference_annual_cents,
                },
            ),
            [_collectivite_row(c) for c in found],
        )
        return len(found)

    async def subject_collectivites(self, types: Iterable[str]) -> list[Collectivite]:
        rows = await self.session.execute(
            select(collectivites).where(collectivites.c.type.in_(list(types))).order_by(collectivites.c.siren)
        )
        return [_collectivite(row) for row in rows]

    async def names_of(self, sirens: Iterable[str]) -> dict[str, str]:
        wanted = list(set(sirens))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(collectivites.c.siren, collectivites.c.name).where(
                collectivites.c.siren == any_(_texts(wanted))
            )
        )
        return {row.siren: row.name for row in rows}

    async def known_sirens(self, sirens: Iterable[str]) -> frozenset[str]:
        wanted = list(set(sirens))
        if not wanted:
            return frozenset()
        rows = await self.session.scalars(
            select(collectivites.c.siren).where(collectivites.c.siren == any_(_texts(wanted)))
        )
        return frozenset(rows)

    # calendars ----------------------------------------------------------------------------------------
    async def calendar(self, siren: str, year: int) -> Periodicity | None:
        value = await self.session.scalar(
            select(calendars.c.periodicity).where(calendars.c.siren == siren, calendars.c.year == year)
        )
        return None if value is None else Periodicity(value)

    async def fix_calendar(
        self, siren: str, year: int, periodicity: Periodicity, basis_cents: int
    ) -> Periodicity:
        """Keep the first periodicity fixed for a year (a concurrent request may have fixed it first)."""
        await self.session.execute(
            insert(calendars)
            .values(siren=siren, year=year, periodicity=periodicity.value, basis_cents=basis_cents)
            .on_conflict_do_nothing()
        )
        fixed = await self.calendar(siren, year)
        assert fixed is not None
        return fixed

    async def calendars_of(self, years: Sequence[int]) -> dict[tuple[str, int], Periodicity]:
        """Every fixed calendar of these years (the late sweep reads them all at once)."""
        rows = await self.session.execute(
            select(calendars.c.siren, calendars.c.year, calendars.c.periodicity).where(
                calendars.c.year.in_(list(years))
            )
        )
        return {(row.siren, row.year): Periodicity(row.periodicity) for row in rows}

    async def declared_totals(self, years: Sequence[int]) -> dict[tuple[str, int], int]:
        """R-CON-3: per collectivité and year, the contribution of its current declarations."""
        rows = await self.session.execute(
            select(periods.c.siren, periods.c.year, func.sum(periods.c.declared_cents).label("total"))
            .where(periods.c.year.in_(list(years)), periods.c.declared_cents.is_not(None))
            .group_by(periods.c.siren, periods.c.year)
        )
        return {(row.siren, row.year): int(row.total) for row in rows}

    async def fix_calendars(self, fixed: Sequence[tuple[str, int, Periodicity, int]]) -> None:
        """Fix many calendars; one fixed meanwhile by a request keeps its first periodicity."""
        if fixed:
            await self.session.execute(
                insert(calendars).on_conflict_do_nothing(),
                [
                    {"siren": siren, "year": year, "periodicity": periodicity.value, "basis_cents": basis}
                    for siren, year, periodicity, basis in fixed
                ],
            )

    async def declared_total(self, siren: str, year: int) -> int | None:
        """R-CON-3: the contribution of the current declarations of `year`, None when nothing was declared."""
        return await self.session.scalar(
            select(func.sum(periods.c.declared_cents)).where(
                periods.c.siren == siren, periods.c.year == year, periods.c.declared_cents.is_not(None)
            )
        )

    # periods ------------------------------------------------------------------------------------------
    async def insert_periods(self, accounts: Sequence[PeriodAccount]) -> None:
        """Create the periods that do not exist yet (existing ones are left as they are), in one statement:
        the late sweep hands tens of thousands."""
        if not accounts:
            return
        await self.session.execute(
            text(
                "INSERT INTO periods (siren, period, year, periodicity, due_date, status) "
                "SELECT * FROM unnest(CAST(:sirens AS text[]), CAST(:periods AS text[]), "
                "CAST(:years AS int[]), CAST(:periodicities AS text[]), CAST(:due_dates AS date[]), "
                "CAST(:statuses AS text[])) "
                "ON CONFLICT DO NOTHING"
            ),
            {
                "sirens": [a.siren for a in accounts],
                "periods": [str(a.period) for a in accounts],
                "years": [a.period.year for a in accounts],
                "periodicities": [a.period.periodicity.value for a in accounts],
                "due_dates": [a.due_date for a in accounts],
                "statuses": [a.status.value for a in accounts],
            },
        )

    async def periods_for_update(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], PeriodAccount]:
        """The periods named, locked until the transaction ends, in key order (no deadlock in imports)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT p.* FROM periods p JOIN unnest(CAST(:sirens AS text[]), CAST(:periods AS text[])) "
                "AS k(siren, period) USING (siren, period) ORDER BY p.siren, p.period FOR UPDATE OF p"
            ),
            {"sirens": [siren for siren, _ in wanted], "periods": [period for _, period in wanted]},
        )
        return {(row.siren, row.period): _account(row) for row in rows}

    async def open_periods(self, sirens: Iterable[str]) -> dict[str, list[PeriodAccount]]:
        """Declared periods not fully paid of these collectivités (candidates of SIREN + amount matching)."""
        wanted = list(set(sirens))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(periods).where(
                periods.c.siren == any_(_texts(wanted)),
                periods.c.declared_cents.is_not(None),
                periods.c.paid_cents < periods.c.declared_cents,
            )
        )
        found: dict[str, list[PeriodAccount]] = {}
        for row in rows:
            found.setdefault(row.siren, []).append(_account(row))
        return found

    async def save_periods(self, accounts: Sequence[PeriodAccount]) -> None:
        """One UPDATE for every account (a bank statement or a sweep may settle thousands of periods)."""
        if not accounts:
            return
        await self.session.execute(
            text(
                "UPDATE periods AS p SET declared_cents = v.declared_cents, paid_cents = v.paid_cents, "
                "status = v.status, late_notified = v.late_notified, updated_at = now() "
                "FROM unnest(CAST(:sirens AS text[]), CAST(:periods AS text[]), CAST(:declared AS bigint[]), "
                "CAST(:paid AS bigint[]), CAST(:statuses AS text[]), CAST(:late AS boolean[])) "
                "AS v(siren, period, declared_cents, paid_cents, status, late_notified) "
                "WHERE p.siren = v.siren AND p.period = v.period"
            ),
            {
                "sirens": [a.siren for a in accounts],
                "periods": [str(a.period) for a in accounts],
                "declared": [a.declared_cents for a in accounts],
                "paid": [a.paid_cents for a in accounts],
                "statuses": [a.status.value for a in accounts],
                "late": [a.late_notified for a in accounts],
            },
        )

    async def periods_of(self, siren: str, year: int) -> list[PeriodAccount]:
        rows = await self.session.execute(
            select(periods)
            .where(periods.c.siren == siren, periods.c.year == year)
            .order_by(periods.c.due_date)
        )
        return [_account(row) for row in rows]

    async def periods_with_status(
        self, status: PeriodStatus, after: tuple[date, str, str] | None, limit: int
    ) -> list[PeriodAccount]:
        """Periods in one status, by due date then SIREN then period (keyset pages)."""
        query = select(periods).where(periods.c.status == status.value)
        if after is not None:
            query = query.where(tuple_(periods.c.due_date, periods.c.siren, periods.c.period) > after)
        query = query.order_by(periods.c.due_date, periods.c.siren, periods.c.period).limit(limit)
        return [_account(row) for row in await self.session.execute(query)]

    async def count_with_status(self, status: PeriodStatus) -> int:
        """How many periods are in one status (the late-periods gauge)."""
        found = await self.session.scalar(
            select(func.count()).select_from(periods).where(periods.c.status == status.value)
        )
        return int(found or 0)

    async def open_periods_due_before(self, day: date) -> list[PeriodAccount]:
        """Periods due before `day` that are neither paid nor already late, locked (the late job)."""
        rows = await self.session.execute(
            select(periods)
            .where(periods.c.status.in_(["due", "partially_paid"]), periods.c.due_date < day)
            .order_by(periods.c.siren, periods.c.period)
            .with_for_update(skip_locked=True)
        )
        return [_account(row) for row in rows]

    # declarations -------------------------------------------------------------------------------------
    async def current_version(self, siren: str, period: str) -> int:
        version = await self.session.scalar(
            select(func.max(declarations.c.version)).where(
                declarations.c.siren == siren, declarations.c.period == period
            )
        )
        return version or 0

    async def add_declaration(self, declaration: Declaration, received_by: str) -> None:
        """The declaration and its lines (lines by COPY: a declaration may have 100,000 of them)."""
        await self.session.execute(
            insert(declarations).values(
                id=declaration.id,
                siren=declaration.siren,
                period=str(declaration.period),
                version=declaration.version,
                periodicity=declaration.period.periodicity.value,
                line_count=declaration.line_count,
                allowances_cents=declaration.allowances_cents,
                contribution_cents=declaration.contribution_cents,
                received_at=declaration.received_at,
                received_by=received_by,
            )
        )
        if not declaration.lines:
            return
        records = [
            (
                declaration.id,
                line.number,
                line.month,
                line.family_name,
                line.given_names,
                line.birth_date,
                line.elu_id,
                line.gross_allowance_cents,
                contribution,
            )
            for line, contribution in zip(declaration.lines, declaration.line_contributions, strict=True)
        ]
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "declaration_lines", records=records, columns=[c.name for c in declaration_lines.columns]
        )

    async def declaration_history(self, siren: str, period: str | None) -> list[DeclarationVersion]:
        query = select(declarations).where(declarations.c.siren == siren)
        if period is not None:
            query = query.where(declarations.c.period == period)
        rows = await self.session.execute(query.order_by(declarations.c.period, declarations.c.version))
        return [
            DeclarationVersion(
                id=row.id,
                period=row.period,
                version=row.version,
                line_count=row.line_count,
                allowances_cents=row.allowances_cents,
                contribution_cents=row.contribution_cents,
                received_at=row.received_at,
                received_by=row.received_by,
            )
            for row in rows
        ]

    # payments and bank statements ---------------------------------------------------------------------
    async def add_payments(self, added: Sequence[Payment]) -> None:
        """Payments by COPY (a statement brings thousands); append-only."""
        await self._copy(
            "payments",
            ("id", "siren", "period", "amount_cents", "received_on", "source", "bank_credit_id"),
            [
                (
                    p.id,
                    p.siren,
                    str(p.period),
                    p.amount_cents,
                    p.received_on,
                    p.source.value,
                    p.bank_credit_id,
                )
                for p in added
            ],
        )

    async def statement(self, key: str) -> StatementReport | None:
        row = (
            await self.session.execute(select(bank_statements).where(bank_statements.c.statement_key == key))
        ).first()
        if row is None:
            return None
        return StatementReport(
            row.id, row.statement_key, row.imported_at, row.credit_count, row.matched_count
        )

    async def add_statement(self, report: StatementReport, imported_by: str) -> bool:
        """False when the same statement was recorded meanwhile (a concurrent import of the same file)."""
        inserted = await self.session.scalar(
            insert(bank_statements)
            .values(
                id=report.id,
                statement_key=report.key,
                imported_at=report.imported_at,
                imported_by=imported_by,
                credit_count=report.credit_count,
                matched_count=report.matched_count,
            )
            .on_conflict_do_nothing()
            .returning(bank_statements.c.id)
        )
        return inserted is not None

    async def set_statement_counts(self, statement_id: uuid.UUID, credits: int, matched: int) -> None:
        await self.session.execute(
            update(bank_statements)
            .where(bank_statements.c.id == statement_id)
            .values(credit_count=credits, matched_count=matched)
        )

    async def recorded_entry_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = list(set(keys))
        if not wanted:
            return set()
        rows = await self.session.scalars(
            select(bank_credits.c.entry_key).where(bank_credits.c.entry_key == any_(_texts(wanted)))
        )
        return set(rows)

    async def add_credits(
        self, statement_id: uuid.UUID, matched: Sequence[tuple[BankCredit, CreditMatch]]
    ) -> None:
        """A statement's credits by COPY, each with where it went or why it went nowhere."""
        await self._copy(
            "bank_credits",
            (
                "id",
                "statement_id",
                "entry_key",
                "amount_cents",
                "booked_on",
                "reference",
                "remittance",
                "debtor_name",
                "siren",
                "period",
                "matched_by",
                "unmatched_reason",
            ),
            [
                (
                    credit.id,
                    statement_id,
                    credit.entry_key,
                    credit.amount_cents,
                    credit.booked_on,
                    credit.reference,
                    credit.remittance,
                    credit.debtor_name,
                    match.siren,
                    str(match.period) if match.period else None,
                    match.matched_by.value if match.matched_by else None,
                    match.reason,
                )
                for credit, match in matched
            ],
        )

    async def _copy(self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
        if not records:
            return
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table, records=records, columns=list(columns)
        )

    async def unmatched_credits(self, after: tuple[date, uuid.UUID] | None, limit: int) -> list[StoredCredit]:
        query = select(bank_credits).where(bank_credits.c.period.is_(None))
        if after is not None:
            query = query.where(tuple_(bank_credits.c.booked_on, bank_credits.c.id) > after)
        query = query.order_by(bank_credits.c.booked_on, bank_credits.c.id).limit(limit)
        return [_credit(row) for row in await self.session.execute(query)]

    async def credit_for_update(self, credit_id: uuid.UUID) -> StoredCredit | None:
        row = (
            await self.session.execute(
                select(bank_credits).where(bank_credits.c.id == credit_id).with_for_update()
            )
        ).first()
        return None if row is None else _credit(row)

    async def assign_credit(self, credit_id: uuid.UUID, siren: str, period: str, by: str) -> None:
        await self.session.execute(
            update(bank_credits)
            .where(bank_credits.c.id == credit_id)
            .values(
                siren=siren,
                period=period,
                matched_by=MatchedBy.AGENT.value,
                unmatched_reason=None,
                assigned_by=by,
            )
        )


_TEXT_ARRAY: Any = ARRAY(Text)


def _texts(values: list[str]) -> BindParameter[list[str]]:
    """One array parameter (`= ANY(:values)`) instead of one parameter per value: lists of thousands."""
    return bindparam("values", values, type_=_TEXT_ARRAY)


def _collectivite_row(collectivite: Collectivite) -> dict[str, Any]:
    return {
        "siren": collectivite.siren,
        "name": collectivite.name,
        "type": collectivite.type.value,
        "registered_on": collectivite.registered_on,
        "reference_annual_cents": collectivite.reference_annual_cents,
    }


__all__ = ["ContributionsRepository", "DeclarationVersion", "StatementReport", "StoredCredit"]
