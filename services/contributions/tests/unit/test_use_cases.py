"""Use cases on an in-memory repository and servicekit's FakeOutbox (R-CON-1…4)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from contributions.adapters.camt053 import BankStatement
from contributions.domain.collectivites import Collectivite, CollectiviteType
from contributions.domain.declarations import AllowanceLine, Declaration
from contributions.domain.matching import BankCredit
from contributions.domain.periods import ContributionPeriod, creditor_reference
from contributions.domain.policy import DEFAULT_POLICY
from contributions.use_cases.declarations import submit_declaration
from contributions.use_cases.late import mark_late_periods
from contributions.use_cases.payments import import_bank_statement, record_payment
from dife_contracts.enums import PeriodStatus
from dife_contracts.events import DeclarationReceived, PaymentReceived, PeriodLate, PeriodSettled
from servicekit.rules import RuleBroken, RulesBroken
from servicekit.testing.fakes import FakeOutbox

SIREN = "217500016"
NOW = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


def repository_with(
    fake: type[Any], kind: CollectiviteType = CollectiviteType.COMMUNE, reference: int = 400_000
) -> Any:
    repository = fake()
    repository.collectivites[SIREN] = Collectivite(SIREN, "Commune", kind, date(2026, 1, 1), reference)
    return repository


def lines(*amounts: int) -> list[AllowanceLine]:
    return [
        AllowanceLine(number, date(2026, 3, 1), cents, elu_id=uuid.uuid4())
        for number, cents in enumerate(amounts, start=2)
    ]


async def declare(repository: Any, outbox: FakeOutbox, *amounts: int) -> Declaration:
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


async def test_a_second_declaration_replaces_the_first_and_resettles_the_period_R_CON_4(
    fake_repository: type[Any],
) -> None:
    repository, outbox = repository_with(fake_repository), FakeOutbox()
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


async def test_a_refused_declaration_records_nothing_R_CON_2(fake_repository: type[Any]) -> None:
    repository, outbox = repository_with(fake_repository), FakeOutbox()
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


async def test_a_syndicat_cannot_declare_R_CON_1(fake_repository: type[Any]) -> None:
    repository, outbox = repository_with(fake_repository, CollectiviteType.SYNDICAT), FakeOutbox()
    with pytest.raises(RuleBroken) as refused:
        await declare(repository, outbox, 100)
    assert refused.value.rule_id == "R-CON-1"


async def test_a_payment_for_a_period_outside_the_calendar_is_refused_R_CON_3(
    fake_repository: type[Any],
) -> None:
    repository, outbox = repository_with(fake_repository, reference=100_000), FakeOutbox()  # quarterly
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


async def test_the_late_sweep_marks_each_unpaid_period_once_R_CON_3(fake_repository: type[Any]) -> None:
    repository, outbox = repository_with(fake_repository), FakeOutbox()
    await declare(repository, outbox, 100_000)
    await mark_late_periods(repository, outbox, today=date(2026, 4, 15), policy=DEFAULT_POLICY)
    late = [e.period for e in outbox.of_type(PeriodLate)]
    assert late == ["2026-01", "2026-02"]  # March is due on the 15th itself: on time
    report = await mark_late_periods(repository, outbox, today=date(2026, 4, 16), policy=DEFAULT_POLICY)
    assert report.marked_late == 1
    again = await mark_late_periods(repository, outbox, today=date(2026, 4, 17), policy=DEFAULT_POLICY)
    assert again.marked_late == 0
    assert sorted(e.period for e in outbox.of_type(PeriodLate)) == ["2026-01", "2026-02", "2026-03"]


async def test_a_statement_imported_twice_changes_nothing_R_CON_4(fake_repository: type[Any]) -> None:
    repository, outbox = repository_with(fake_repository), FakeOutbox()
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
