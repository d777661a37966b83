"""Use cases on an in-memory repository and servicekit's FakeOutbox (R-CON-1…4)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

import pytest
from contributions.adapters.camt053 import BankStatement
from contributions.adapters.repository import DeclarationVersion, StatementReport, StoredCredit
from contributions.domain.collectivites import Collectivite, CollectiviteType
from contributions.domain.declarations import AllowanceLine, Declaration
from contributions.domain.matching import BankCredit, CreditMatch
from contributions.domain.periods import ContributionPeriod, creditor_reference
from contributions.domain.policy import DEFAULT_POLICY
from contributions.domain.settlement import Payment, PeriodAccount
from contributions.use_cases.declarations import submit_declaration
from contributions.use_cases.late import mark_late_periods
from contributions.use_cases.payments import import_bank_statement, record_payment
from dife_contracts.enums import Periodicity, PeriodStatus
from dife_contracts.events import DeclarationReceived, PaymentReceived, PeriodLate, PeriodSettled
from servicekit.rules import RuleBroken, RulesBroken
from servicekit.testing.fakes import FakeOutbox


class FakeRepository:
    """The `Repository` port in memory; it hands out copies, so an unsaved change is lost as in PostgreSQL."""

    def __init__(self) -> None:
        self.collectivites: dict[str, Collectivite] = {}
        self.calendars: dict[tuple[str, int], Periodicity] = {}
        self.periods: dict[tuple[str, str], PeriodAccount] = {}
        self.declarations: list[Declaration] = []
        self.payments: list[Payment] = []
        self.statements: dict[str, StatementReport] = {}
        self.credits: dict[str, tuple[BankCredit, CreditMatch]] = {}

    @staticmethod
    def _copy(account: PeriodAccount) -> PeriodAccount:
        return dataclasses.replace(account, events=[])

    async def collectivite(self, siren: str) -> Collectivite | None:
        return self.collectivites.get(siren)

    async def add_collectivite(self, collectivite: Collectivite) -> bool:
        return self.collectivites.setdefault(collectivite.siren, collectivite) is collectivite

    async def upsert_collectivites(self, found: Sequence[Collectivite]) -> int:
        self.collectivites.update({c.siren: c for c in found})
        return len(found)

    async def subject_collectivites(self, types: Iterable[str]) -> list[Collectivite]:
        wanted = set(types)
        return [c for c in self.collectivites.values() if c.type.value in wanted]

    async def known_sirens(self, sirens: Iterable[str]) -> frozenset[str]:
        return frozenset(s for s in sirens if s in self.collectivites)

    async def names_of(self, sirens: Iterable[str]) -> dict[str, str]:
        return {s: self.collectivites[s].name for s in sirens if s in self.collectivites}

    async def calendar(self, siren: str, year: int) -> Periodicity | None:
        return self.calendars.get((siren, year))

    async def fix_calendar(
        self, siren: str, year: int, periodicity: Periodicity, basis_cents: int
    ) -> Periodicity:
        return self.calendars.setdefault((siren, year), periodicity)

    async def calendars_of(self, years: Sequence[int]) -> dict[tuple[str, int], Periodicity]:
        return {key: value for key, value in self.calendars.items() if key[1] in years}

    async def declared_totals(self, years: Sequence[int]) -> dict[tuple[str, int], int]:
        totals: dict[tuple[str, int], int] = {}
        for (siren, _), account in self.periods.items():
            if account.period.year in years and account.declared_cents is not None:
                key = (siren, account.period.year)
                totals[key] = totals.get(key, 0) + account.declared_cents
        return totals

    async def fix_calendars(self, fixed: Sequence[tuple[str, int, Periodicity, int]]) -> None:
        for siren, year, periodicity, _ in fixed:
            self.calendars.setdefault((siren, year), periodicity)

    async def declared_total(self, siren: str, year: int) -> int | None:
        declared = [
            a.declared_cents
            for (s, _), a in self.periods.items()
            if s == siren and a.period.year == year and a.declared_cents is not None
        ]
        return sum(declared) if declared else None

    async def insert_periods(self, accounts: Sequence[PeriodAccount]) -> None:
        for account in accounts:
            self.periods.setdefault((account.siren, str(account.period)), self._copy(account))

    async def periods_for_update(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], PeriodAccount]:
        return {key: self._copy(self.periods[key]) for key in keys if key in self.periods}

    async def open_periods(self, sirens: Iterable[str]) -> dict[str, list[PeriodAccount]]:
        found: dict[str, list[PeriodAccount]] = {}
        for (siren, _), account in self.periods.items():
            if siren in set(sirens) and account.declared_cents is not None and account.outstanding_cents:
                found.setdefault(siren, []).append(self._copy(account))
        return found

    async def save_periods(self, accounts: Sequence[PeriodAccount]) -> None:
        for account in accounts:
            self.periods[(account.siren, str(account.period))] = self._copy(account)

    async def periods_of(self, siren: str, year: int) -> list[PeriodAccount]:
        return [self._copy(a) for (s, _), a in self.periods.items() if s == siren and a.period.year == year]

    async def open_periods_due_before(self, day: date) -> list[PeriodAccount]:
        return [
            self._copy(a)
            for a in self.periods.values()
            if a.status in (PeriodStatus.DUE, PeriodStatus.PARTIALLY_PAID) and a.due_date < day
        ]

    async def current_version(self, siren: str, period: str) -> int:
        versions = [d.version for d in self.declarations if d.siren == siren and str(d.period) == period]
        return max(versions, default=0)

    async def add_declaration(self, declaration: Declaration, received_by: str) -> None:
        self.declarations.append(declaration)

    async def declaration_history(self, siren: str, period: str | None) -> list[DeclarationVersion]:
        raise NotImplementedError

    async def add_payments(self, added: Sequence[Payment]) -> None:
        self.payments.extend(added)

    async def statement(self, key: str) -> StatementReport | None:
        return self.statements.get(key)

    async def add_statement(self, report: StatementReport, imported_by: str) -> bool:
        return self.statements.setdefault(report.key, report) is report

    async def set_statement_counts(self, statement_id: uuid.UUID, credits: int, matched: int) -> None:
        for key, report in self.statements.items():
            if report.id == statement_id:
                self.statements[key] = dataclasses.replace(
                    report, credit_count=credits, matched_count=matched
                )

    async def recorded_entry_keys(self, keys: Iterable[str]) -> set[str]:
        return {key for key in keys if key in self.credits}

    async def add_credits(
        self, statement_id: uuid.UUID, matched: Sequence[tuple[BankCredit, CreditMatch]]
    ) -> None:
        self.credits.update({credit.entry_key: (credit, match) for credit, match in matched})

    async def credit_for_update(self, credit_id: uuid.UUID) -> StoredCredit | None:
        raise NotImplementedError

    async def assign_credit(self, credit_id: uuid.UUID, siren: str, period: str, by: str) -> None:
        raise NotImplementedError


SIREN = "217500016"
NOW = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


def repository_with(
    kind: CollectiviteType = CollectiviteType.COMMUNE, reference: int = 400_000
) -> FakeRepository:
    repository = FakeRepository()
    repository.collectivites[SIREN] = Collectivite(SIREN, "Commune", kind, date(2026, 1, 1), reference)
    return repository


def lines(*amounts: int) -> list[AllowanceLine]:
    return [
        AllowanceLine(number, date(2026, 3, 1), cents, elu_id=uuid.uuid4())
        for number, cents in enumerate(amounts, start=2)
    ]


async def declare(repository: FakeRepository, outbox: FakeOutbox, *amounts: int) -> Declaration:
    return await submit_declaration(
        repository,
        outbox,
        siren=SIREN,
        period_text="2026-03",
        lines=lines(*amounts),
        received_by="test",
        now=NOW,
        policy=DEFAULT_POLICY,
    )


async def test_a_second_declaration_replaces_the_first_and_resettles_the_period_R_CON_4() -> None:
    repository, outbox = repository_with(), FakeOutbox()
    await declare(repository, outbox, 100_000)
    await record_payment(
        repository,
        outbox,
        siren=SIREN,
        period_text="2026-03",
        amount_cents=1_000,
        received_on=date(2026, 4, 2),
        today=date(2026, 4, 2),
        policy=DEFAULT_POLICY,
    )
    second = await declare(repository, outbox, 150_000)
    assert second.version == 2
    account = repository.periods[(SIREN, "2026-03")]
    assert (account.declared_cents, account.paid_cents, account.status) == (
        1_500,
        1_000,
        PeriodStatus.PARTIALLY_PAID,
    )
    assert [d.version for d in repository.declarations] == [1, 2]
    assert [type(e) for e in outbox.events] == [
        DeclarationReceived,
        PaymentReceived,
        PeriodSettled,
        DeclarationReceived,
        PeriodSettled,
    ]


async def test_a_refused_declaration_records_nothing_R_CON_2() -> None:
    repository, outbox = repository_with(), FakeOutbox()
    with pytest.raises(RulesBroken):
        await submit_declaration(
            repository,
            outbox,
            siren=SIREN,
            period_text="2026-03",
            lines=[AllowanceLine(2, date(2026, 2, 1), 100, elu_id=uuid.uuid4())],
            received_by="test",
            now=NOW,
            policy=DEFAULT_POLICY,
        )
    assert repository.declarations == [] and outbox.events == []


async def test_a_syndicat_cannot_declare_R_CON_1() -> None:
    repository, outbox = repository_with(CollectiviteType.SYNDICAT), FakeOutbox()
    with pytest.raises(RuleBroken) as refused:
        await declare(repository, outbox, 100)
    assert refused.value.rule_id == "R-CON-1"


async def test_a_payment_for_a_period_outside_the_calendar_is_refused_R_CON_3() -> None:
    repository, outbox = repository_with(reference=100_000), FakeOutbox()  # quarterly
    with pytest.raises(RuleBroken) as refused:
        await record_payment(
            repository,
            outbox,
            siren=SIREN,
            period_text="2026-03",
            amount_cents=100,
            received_on=date(2026, 4, 2),
            today=date(2026, 4, 2),
            policy=DEFAULT_POLICY,
        )
    assert refused.value.rule_id == "R-CON-3"


async def test_the_late_sweep_marks_each_unpaid_period_once_R_CON_3() -> None:
    repository, outbox = repository_with(), FakeOutbox()
    await declare(repository, outbox, 100_000)
    await mark_late_periods(repository, outbox, today=date(2026, 4, 15), policy=DEFAULT_POLICY)
    late = [e.period for e in outbox.of_type(PeriodLate)]
    assert late == ["2026-01", "2026-02"]  # March is due on the 15th itself: on time
    report = await mark_late_periods(repository, outbox, today=date(2026, 4, 16), policy=DEFAULT_POLICY)
    assert report.marked_late == 1
    again = await mark_late_periods(repository, outbox, today=date(2026, 4, 17), policy=DEFAULT_POLICY)
    assert again.marked_late == 0
    assert sorted(e.period for e in outbox.of_type(PeriodLate)) == ["2026-01", "2026-02", "2026-03"]


async def test_a_statement_imported_twice_changes_nothing_R_CON_4() -> None:
    repository, outbox = repository_with(), FakeOutbox()
    await declare(repository, outbox, 100_000)
    reference = creditor_reference(SIREN, ContributionPeriod.parse("2026-03"))
    credit = BankCredit(uuid.uuid4(), "S1/1", 1_000, date(2026, 4, 10), reference, "", None)
    statement = BankStatement("M1/S1", [credit])
    first = await import_bank_statement(
        repository, outbox, statement, imported_by="ops", now=NOW, policy=DEFAULT_POLICY
    )
    second = await import_bank_statement(
        repository, outbox, statement, imported_by="ops", now=NOW, policy=DEFAULT_POLICY
    )
    assert (first.replayed, second.replayed) == (False, True)
    assert second.report.id == first.report.id and second.report.matched_count == 1
    assert len(repository.payments) == 1
    assert repository.periods[(SIREN, "2026-03")].status is PeriodStatus.PAID
