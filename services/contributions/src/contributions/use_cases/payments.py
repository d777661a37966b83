"""Payments: recorded by an agent, read from the fund's bank statement, or assigned by hand (R-CON-4)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from servicekit.clock import paris_date
from servicekit.rules import Conflict, NotFound

from contributions.adapters.camt053 import BankStatement
from contributions.adapters.repository import StatementReport
from contributions.domain.matching import (
    BankCredit,
    CreditMatch,
    creditor_references_in,
    match_credit,
    sirens_in,
)
from contributions.domain.periods import ContributionPeriod
from contributions.domain.policy import ContributionPolicy
from contributions.domain.settlement import Payment, PaymentSource, PeriodAccount
from contributions.use_cases.collectivites import collectivite_of
from contributions.use_cases.periods import ensure_period_of_calendar, locked_accounts
from contributions.use_cases.ports import Outbox, Repository

log = structlog.get_logger(__name__)


async def record_payment(
    repository: Repository,
    outbox: Outbox,
    *,
    siren: str,
    period_text: str,
    amount_cents: int,
    received_on: date,
    today: date,
    policy: ContributionPolicy,
) -> tuple[Payment, PeriodAccount]:
    """R-CON-4: an agent records a payment for a period of the collectivité's calendar."""
    collectivite = await collectivite_of(repository, siren)
    collectivite.ensure_subject()
    period = ContributionPeriod.parse(period_text)
    await ensure_period_of_calendar(repository, collectivite, period, policy)
    (account,) = (await locked_accounts(repository, [(siren, period)], policy)).values()
    payment = Payment(uuid.uuid4(), siren, period, amount_cents, received_on, PaymentSource.API)
    account.record_payment(payment, today)
    await repository.add_payments([payment])
    await repository.save_periods([account])
    await outbox.add_many(account.events)
    return payment, account


@dataclass(frozen=True, slots=True)
class MatchedCredit:
    credit: BankCredit
    match: CreditMatch
    status_after: str | None


@dataclass(frozen=True, slots=True)
class StatementImport:
    """The statement's record; `credits` is empty when the statement had been imported before (`replayed`)."""

    report: StatementReport
    replayed: bool
    credits: list[MatchedCredit]
    already_recorded: int


async def import_bank_statement(
    repository: Repository,
    outbox: Outbox,
    statement: BankStatement,
    *,
    imported_by: str,
    now: datetime,
    policy: ContributionPolicy,
) -> StatementImport:
    """R-CON-4: match each credit of a camt.053 statement to a period and record it as a payment.

    The same statement imported again changes nothing (its key is recorded once); a credit already recorded
    by another statement (overlapping exports) is skipped. Unmatched credits are kept for agents.
    """
    today = paris_date(now)
    report = StatementReport(uuid.uuid4(), statement.key, now, len(statement.credits), 0)
    if not await repository.add_statement(report, imported_by):
        previous = await repository.statement(statement.key)
        assert previous is not None
        return StatementImport(previous, True, [], 0)
    recorded = await repository.recorded_entry_keys(c.entry_key for c in statement.credits)
    fresh = [credit for credit in statement.credits if credit.entry_key not in recorded]
    references = {credit.id: creditor_references_in(credit) for credit in fresh}
    candidates = {siren for found in references.values() for siren, _ in found}
    candidates.update(siren for credit in fresh for siren in sirens_in(credit))
    known = await repository.known_sirens(candidates)
    open_keys = [
        (siren, account.period)
        for siren, accounts in (await repository.open_periods(known)).items()
        for account in accounts
    ]
    referenced = [
        (siren, period) for found in references.values() for siren, period in found if siren in known
    ]
    accounts = await locked_accounts(repository, [*open_keys, *referenced], policy)
    open_by_siren: dict[str, list[PeriodAccount]] = {}
    for account in accounts.values():
        if account.declared_cents is not None:
            open_by_siren.setdefault(account.siren, []).append(account)
    results: list[MatchedCredit] = []
    added: list[Payment] = []
    for credit in fresh:
        match = match_credit(credit, known, open_by_siren, references[credit.id])
        status_after = None
        if match.siren is not None and match.period is not None:
            account = accounts[(match.siren, str(match.period))]
            payment = Payment(
                uuid.uuid4(),
                match.siren,
                match.period,
                credit.amount_cents,
                credit.booked_on,
                PaymentSource.BANK_STATEMENT,
                credit.id,
            )
            account.record_payment(payment, today)
            added.append(payment)
            status_after = account.status.value
        results.append(MatchedCredit(credit, match, status_after))
    await repository.add_credits(report.id, [(r.credit, r.match) for r in results])
    await repository.add_payments(added)
    touched = [account for account in accounts.values() if account.events]
    await repository.save_periods(touched)
    await outbox.add_many([event for account in touched for event in account.events])
    matched = sum(1 for r in results if r.match.matched)
    await repository.set_statement_counts(report.id, len(results), matched)
    log.info(
        "bank statement imported",
        statement_id=str(report.id),
        credits=len(results),
        matched=matched,
        already_recorded=len(statement.credits) - len(fresh),
    )
    final = StatementReport(report.id, report.key, report.imported_at, len(results), matched)
    return StatementImport(final, False, results, len(statement.credits) - len(fresh))


async def assign_credit(
    repository: Repository,
    outbox: Outbox,
    *,
    credit_id: uuid.UUID,
    siren: str,
    period_text: str,
    assigned_by: str,
    today: date,
    policy: ContributionPolicy,
) -> PeriodAccount:
    """R-CON-4: an agent gives an unmatched credit its collectivité and period; it becomes a payment."""
    credit = await repository.credit_for_update(credit_id)
    if credit is None:
        raise NotFound(f"no bank credit {credit_id}")
    if credit.period is not None:
        raise Conflict(f"the credit {credit_id} already went to {credit.siren} {credit.period}")
    collectivite = await collectivite_of(repository, siren)
    collectivite.ensure_subject()
    period = ContributionPeriod.parse(period_text)
    await ensure_period_of_calendar(repository, collectivite, period, policy)
    (account,) = (await locked_accounts(repository, [(siren, period)], policy)).values()
    payment = Payment(
        uuid.uuid4(),
        siren,
        period,
        credit.amount_cents,
        credit.booked_on,
        PaymentSource.MANUAL_ASSIGNMENT,
        credit.id,
    )
    account.record_payment(payment, today)
    await repository.assign_credit(credit_id, siren, str(period), assigned_by)
    await repository.add_payments([payment])
    await repository.save_periods([account])
    await outbox.add_many(account.events)
    return account
