"""All of payout's SQL: repositories taking the caller's session (the caller owns the transaction) and
returning domain objects or small dataclasses, never rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from dife_contracts.enums import FundingSource
from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payout.adapters import tables as t
from payout.adapters.vault import Vault
from payout.domain.allocation import Allocation, PlanLine
from payout.domain.batches import Batch, BatchStatus, ItemOutcome
from payout.domain.fund import Flows
from payout.domain.payees import BankDetails, BankDetailsStatus
from payout.domain.payments import Payment, PaymentStatus


@dataclass(frozen=True, slots=True)
class BankDetailsView:
    """Bank details as shown: the IBAN masked; `iban` filled only when the caller may see it (agents)."""

    details_id: UUID
    siret: str
    iban_masked: str
    bic: str
    holder_name: str
    status: BankDetailsStatus
    entered_by: str
    entered_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    iban: str | None = None


class BankDetailsRepository:
    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    async def add(self, details: BankDetails) -> None:
        await self.session.execute(
            t.bank_details.insert().values(
                details_id=details.details_id,
                siret=details.siret,
                iban_ciphertext=self.vault.seal_iban(details.iban),
                iban_fingerprint=self.vault.fingerprint(details.iban),
                iban_masked=details.masked_iban,
                bic=details.bic,
                holder_name=details.holder_name,
                status=details.status.value,
                entered_by=details.entered_by,
                entered_at=details.entered_at,
                decided_by=details.decided_by,
                decided_at=details.decided_at,
            )
        )

    def _domain(self, row: Any) -> BankDetails:
        return BankDetails(
            details_id=row.details_id,
            siret=row.siret,
            iban=self.vault.open_iban(row.iban_ciphertext),
            bic=row.bic,
            holder_name=row.holder_name,
            entered_by=row.entered_by,
            entered_at=row.entered_at,
            status=BankDetailsStatus(row.status),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
        )

    async def get(self, details_id: UUID, *, for_update: bool = False) -> BankDetails | None:
        query = select(t.bank_details).where(t.bank_details.c.details_id == details_id)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).one_or_none()
        return None if row is None else self._domain(row)

    async def in_status(self, siret: str, status: BankDetailsStatus) -> BankDetails | None:
        row = (
            await self.session.execute(
                select(t.bank_details).where(
                    t.bank_details.c.siret == siret, t.bank_details.c.status == status.value
                )
            )
        ).one_or_none()
        return None if row is None else self._domain(row)

    async def save_status(self, details: BankDetails) -> None:
        await self.session.execute(
            update(t.bank_details)
            .where(t.bank_details.c.details_id == details.details_id)
            .values(status=details.status.value, decided_by=details.decided_by, decided_at=details.decided_at)
        )

    async def views(self, *, siret: str | None, status: str | None, with_iban: bool) -> list[BankDetailsView]:
        query = select(t.bank_details).order_by(t.bank_details.c.entered_at.desc()).limit(200)
        if siret is not None:
            query = query.where(t.bank_details.c.siret == siret)
        if status is not None:
            query = query.where(t.bank_details.c.status == status)
        rows = (await self.session.execute(query)).all()
        return [self.view(row, with_iban=with_iban) for row in rows]

    def view(self, row: Any, *, with_iban: bool) -> BankDetailsView:
        return BankDetailsView(
            details_id=row.details_id,
            siret=row.siret,
            iban_masked=row.iban_masked,
            bic=row.bic,
            holder_name=row.holder_name,
            status=BankDetailsStatus(row.status),
            entered_by=row.entered_by,
            entered_at=row.entered_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            iban=self.vault.open_iban(row.iban_ciphertext) if with_iban else None,
        )

    async def view_of(self, details_id: UUID, *, with_iban: bool) -> BankDetailsView | None:
        row = (
            await self.session.execute(
                select(t.bank_details).where(t.bank_details.c.details_id == details_id)
            )
        ).one_or_none()
        return None if row is None else self.view(row, with_iban=with_iban)


@dataclass(frozen=True, slots=True)
class Plan:
    dossier_id: UUID
    elu_id: UUID
    price_cents: int
    lines: list[PlanLine]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the dossier said happened: service done (with price, percent, date) or a late cancellation."""

    dossier_id: UUID
    elu_id: UUID
    kind: str
    siret: str | None
    price_cents: int | None
    realisation_percent: int | None
    validated_on: date | None
    resolved: bool


class DossierRepository:
    """The plan funding published and the outcome the dossier published, until both are known."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, dossier_id: UUID) -> None:
        """Serialise the plan and the outcome of one dossier (two consumers may bring them at once): the
        second waits for the first to commit, then sees both. Released at the end of the transaction."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(str(dossier_id), 0)))
        )

    async def save_plan(self, plan: Plan, now: datetime) -> None:
        """The latest plan wins (funding may recompute it) until the dossier's outcome is resolved."""
        lines = [
            {"source": x.source.value, "amount_cents": x.amount_cents, "reference": x.reference}
            for x in plan.lines
        ]
        values = {"elu_id": plan.elu_id, "price_cents": plan.price_cents, "lines": lines, "received_at": now}
        await self.session.execute(
            pg_insert(t.plans)
            .values(dossier_id=plan.dossier_id, **values)
            .on_conflict_do_update(index_elements=[t.plans.c.dossier_id], set_=values)
        )

    async def plan(self, dossier_id: UUID) -> Plan | None:
        row = (
            await self.session.execute(select(t.plans).where(t.plans.c.dossier_id == dossier_id))
        ).one_or_none()
        if row is None:
            return None
        return Plan(
            dossier_id=row.dossier_id,
            elu_id=row.elu_id,
            price_cents=row.price_cents,
            lines=[
                PlanLine(FundingSource(x["source"]), x["amount_cents"], x["reference"]) for x in row.lines
            ],
        )

    async def record_outcome(self, outcome: Outcome, now: datetime) -> bool:
        """The first outcome of a dossier counts; False if one was already recorded."""
        inserted = await self.session.scalar(
            pg_insert(t.outcomes)
            .values(
                dossier_id=outcome.dossier_id,
                elu_id=outcome.elu_id,
                kind=outcome.kind,
                siret=outcome.siret,
                price_cents=outcome.price_cents,
                realisation_percent=outcome.realisation_percent,
                validated_on=outcome.validated_on,
                recorded_at=now,
            )
            .on_conflict_do_nothing()
            .returning(t.outcomes.c.dossier_id)
        )
        return inserted is not None

    async def outcome(self, dossier_id: UUID) -> Outcome | None:
        row = (
            await self.session.execute(
                select(t.outcomes).where(t.outcomes.c.dossier_id == dossier_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        return Outcome(
            dossier_id=row.dossier_id,
            elu_id=row.elu_id,
            kind=row.kind,
            siret=row.siret,
            price_cents=row.price_cents,
            realisation_percent=row.realisation_percent,
            validated_on=row.validated_on,
            resolved=row.resolved,
        )

    async def waiting_with_plan(self, limit: int = 1000) -> list[UUID]:
        """Outcomes not yet resolved although their plan is known (a safety net for the daily job)."""
        rows = await self.session.scalars(
            select(t.outcomes.c.dossier_id)
            .join(t.plans, t.plans.c.dossier_id == t.outcomes.c.dossier_id)
            .where(t.outcomes.c.resolved.is_(False))
            .limit(limit)
        )
        return list(rows)

    async def mark_resolved(self, dossier_id: UUID) -> None:
        await self.session.execute(
            update(t.outcomes).where(t.outcomes.c.dossier_id == dossier_id).values(resolved=True)
        )

    async def save_shares(self, dossier_id: UUID, allocation: Allocation, refund_id: UUID | None) -> None:
        await self.session.execute(
            t.shares.insert(),
            [
                {
                    "dossier_id": dossier_id,
                    "position": position,
                    "source": share.source.value,
                    "reference": share.reference,
                    "planned_cents": share.planned_cents,
                    "drawn_cents": share.drawn_cents,
                    "refund_id": refund_id if share.source is FundingSource.ELU_CARD else None,
                }
                for position, share in enumerate(allocation.shares)
            ],
        )


PAYMENT_COLUMNS = (
    "payment_id",
    "dossier_id",
    "elu_id",
    "siret",
    "amount_cents",
    "realisation_percent",
    "validated_on",
    "deadline",
    "attempts",
    "batch_id",
    "bank_details_id",
    "end_to_end_id",
    "settled_cents",
    "settled_on",
    "rejection_reason",
    "rejected_on",
)


def _payment(row: Any) -> Payment:
    return Payment(status=PaymentStatus(row.status), **{name: getattr(row, name) for name in PAYMENT_COLUMNS})


def _payment_values(payment: Payment) -> dict[str, Any]:
    return {"status": payment.status.value, **{name: getattr(payment, name) for name in PAYMENT_COLUMNS}}


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, payment: Payment, now: datetime) -> None:
        await self.session.execute(t.payments.insert().values(created_at=now, **_payment_values(payment)))

    async def save_many(self, payments: Sequence[Payment]) -> None:
        """The mutable columns of many payments in ONE statement (arrays unnested): a batch of 50,000 costs
        one round trip, not 50,000."""
        if not payments:
            return
        await self.session.execute(
            text(
                """
                UPDATE payments AS p
                   SET status = u.status, attempts = u.attempts, batch_id = u.batch_id,
                       bank_details_id = u.bank_details_id, end_to_end_id = u.end_to_end_id,
                       settled_cents = u.settled_cents, settled_on = u.settled_on,
                       rejection_reason = u.rejection_reason, rejected_on = u.rejected_on
                  FROM unnest(CAST(:payment_id AS uuid[]), CAST(:status AS text[]), CAST(:attempts AS int[]),
                              CAST(:batch_id AS uuid[]), CAST(:bank_details_id AS uuid[]),
                              CAST(:end_to_end_id AS text[]), CAST(:settled_cents AS bigint[]),
                              CAST(:settled_on AS date[]), CAST(:rejection_reason AS text[]),
                              CAST(:rejected_on AS date[]))
                    AS u(payment_id, status, attempts, batch_id, bank_details_id, end_to_end_id,
                         settled_cents, settled_on, rejection_reason, rejected_on)
                 WHERE p.payment_id = u.payment_id
                """
            ),
            {
                "payment_id": [p.payment_id for p in payments],
                "status": [p.status.value for p in payments],
                "attempts": [p.attempts for p in payments],
                "batch_id": [p.batch_id for p in payments],
                "bank_details_id": [p.bank_details_id for p in payments],
                "end_to_end_id": [p.end_to_end_id for p in payments],
                "settled_cents": [p.settled_cents for p in payments],
                "settled_on": [p.settled_on for p in payments],
                "rejection_reason": [p.rejection_reason for p in payments],
                "rejected_on": [p.rejected_on for p in payments],
            },
        )

    async def get(self, payment_id: UUID) -> Payment | None:
        row = (
            await self.session.execute(select(t.payments).where(t.payments.c.payment_id == payment_id))
        ).one_or_none()
        return None if row is None else _payment(row)

    async def by_ids(self, payment_ids: Sequence[UUID]) -> dict[UUID, Payment]:
        rows = (
            await self.session.execute(
                select(t.payments).where(t.payments.c.payment_id.in_(payment_ids)).with_for_update()
            )
        ).all()
        return {row.payment_id: _payment(row) for row in rows}

    async def page(
        self,
        *,
        siret: str | None,
        status: PaymentStatus | None,
        overdue_on: date | None,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[tuple[Payment, datetime]]:
        """Newest first, keyset on (created_at, payment_id); `overdue_on`: unsettled past their deadline."""
        query = select(t.payments).order_by(t.payments.c.created_at.desc(), t.payments.c.payment_id.desc())
        if siret is not None:
            query = query.where(t.payments.c.siret == siret)
        if status is not None:
            query = query.where(t.payments.c.status == status.value)
        if overdue_on is not None:
            query = query.where(t.payments.c.status != "settled", t.payments.c.deadline < overdue_on)
        if after is not None:
            created_at, payment_id = after
            query = query.where(
                or_(
                    t.payments.c.created_at < created_at,
                    and_(t.payments.c.created_at == created_at, t.payments.c.payment_id < payment_id),
                )
            )
        rows = (await self.session.execute(query.limit(limit + 1))).all()
        return [(_payment(row), row.created_at) for row in rows]

    async def batchable(self, limit: int) -> list[tuple[Payment, UUID]]:
        """Due payments, and rejected ones whose organisme has newer verified details, each with the verified
        details to pay into (R-PAY-3), oldest deadline first; locked so two builders never take the same."""
        verified = t.bank_details.alias("verified")
        query = (
            select(t.payments, verified.c.details_id.label("verified_details_id"))
            .join(verified, and_(verified.c.siret == t.payments.c.siret, verified.c.status == "verified"))
            .where(
                or_(
                    t.payments.c.status == "due",
                    and_(
                        t.payments.c.status == "rejected",
                        t.payments.c.bank_details_id != verified.c.details_id,
                    ),
                ),
                t.payments.c.amount_cents > 0,
            )
            .order_by(t.payments.c.deadline, t.payments.c.payment_id)
            .limit(limit)
            .with_for_update(of=t.payments, skip_locked=True)
        )
        rows = (await self.session.execute(query)).all()
        return [(_payment(row), row.verified_details_id) for row in rows]

    async def count_overdue(self, today: date) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).where(t.payments.c.status != "settled", t.payments.c.deadline < today)
            )
            or 0
        )


class BatchRepository:
    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    async def add(self, batch: Batch, document: bytes) -> None:
        await self.session.execute(
            t.batches.insert().values(
                batch_id=batch.batch_id,
                message_id=batch.message_id,
                status=batch.status.value,
                created_at=batch.created_at,
                execution_date=batch.execution_date,
                payment_count=batch.payment_count,
                total_cents=batch.total_cents,
                file_ciphertext=self.vault.seal(document, purpose=b"pain.001"),
            )
        )
        items = batch.transfers
        await self.session.execute(
            text(
                """
                INSERT INTO batch_transfers (end_to_end_id, batch_id, payment_id, dossier_id, amount_cents,
                                             bank_details_id, outcome)
                SELECT u.end_to_end_id, :batch_id, u.payment_id, u.dossier_id, u.amount_cents,
                       u.bank_details_id, :outcome
                  FROM unnest(CAST(:end_to_end_id AS text[]), CAST(:payment_id AS uuid[]),
                              CAST(:dossier_id AS uuid[]), CAST(:amount_cents AS bigint[]),
                              CAST(:bank_details_id AS uuid[]))
                    AS u(end_to_end_id, payment_id, dossier_id, amount_cents, bank_details_id)
                """
            ),
            {
                "batch_id": batch.batch_id,
                "outcome": ItemOutcome.PENDING.value,
                "end_to_end_id": [item.end_to_end_id for item in items],
                "payment_id": [item.payment_id for item in items],
                "dossier_id": [item.dossier_id for item in items],
                "amount_cents": [item.amount_cents for item in items],
                "bank_details_id": [item.bank_details_id for item in items],
            },
        )

    def _batch(self, row: Any) -> Batch:
        return Batch(
            batch_id=row.batch_id,
            message_id=row.message_id,
            created_at=row.created_at,
            execution_date=row.execution_date,
            status=BatchStatus(row.status),
            released_at=row.released_at,
            payment_count=row.payment_count,
            total_cents=row.total_cents,
        )

    async def get(self, batch_id: UUID, *, for_update: bool = False) -> Batch | None:
        query = select(*[c for c in t.batches.c if c.name != "file_ciphertext"]).where(
            t.batches.c.batch_id == batch_id
        )
        row = (await self.session.execute(query.with_for_update() if for_update else query)).one_or_none()
        return None if row is None else self._batch(row)

    async def page(self, *, after: tuple[Any, ...] | None, limit: int) -> list[Batch]:
        query = select(*[c for c in t.batches.c if c.name != "file_ciphertext"]).order_by(
            t.batches.c.created_at.desc(), t.batches.c.batch_id.desc()
        )
        if after is not None:
            created_at, batch_id = after
            query = query.where(
                or_(
                    t.batches.c.created_at < created_at,
                    and_(t.batches.c.created_at == created_at, t.batches.c.batch_id < batch_id),
                )
            )
        return [self._batch(row) for row in (await self.session.execute(query.limit(limit + 1))).all()]

    async def file(self, batch_id: UUID) -> bytes | None:
        sealed = await self.session.scalar(
            select(t.batches.c.file_ciphertext).where(t.batches.c.batch_id == batch_id)
        )
        return None if sealed is None else self.vault.open(sealed, purpose=b"pain.001")

    async def mark_released(self, batch: Batch) -> None:
        await self.session.execute(
            update(t.batches)
            .where(t.batches.c.batch_id == batch.batch_id)
            .values(status=batch.status.value, released_at=batch.released_at)
        )

    async def pending_transfers(self, batch_id: UUID) -> dict[str, UUID]:
        """End-to-end id → payment id of the batch's transfers the bank has not decided yet."""
        rows = (
            await self.session.execute(
                select(t.transfers.c.end_to_end_id, t.transfers.c.payment_id).where(
                    t.transfers.c.batch_id == batch_id, t.transfers.c.outcome == ItemOutcome.PENDING.value
                )
            )
        ).all()
        return {row.end_to_end_id: row.payment_id for row in rows}

    async def transfer_ids(self, batch_id: UUID) -> list[str]:
        rows = await self.session.scalars(
            select(t.transfers.c.end_to_end_id).where(t.transfers.c.batch_id == batch_id)
        )
        return list(rows)

    async def decide(self, end_to_end_id: str, outcome: ItemOutcome, reason_code: str | None) -> None:
        await self.session.execute(
            update(t.transfers)
            .where(
                t.transfers.c.end_to_end_id == end_to_end_id,
                t.transfers.c.outcome == ItemOutcome.PENDING.value,
            )
            .values(outcome=outcome.value, reason_code=reason_code)
        )

    async def record_report(
        self, *, report_id: UUID, batch_id: UUID, now: datetime, sha256: str, counts: dict[str, int]
    ) -> None:
        await self.session.execute(
            t.status_reports.insert().values(
                report_id=report_id, batch_id=batch_id, received_at=now, sha256=sha256, **counts
            )
        )


class FundRepository:
    """Read models of the fund: contributions received (contributions' events), DIFE holds (ledger's)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_contribution(
        self, *, payment_id: UUID, siren: str, amount_cents: int, received_on: date
    ) -> None:
        await self.session.execute(
            pg_insert(t.contributions)
            .values(payment_id=payment_id, siren=siren, amount_cents=amount_cents, received_on=received_on)
            .on_conflict_do_nothing()
        )

    async def place_hold(
        self, *, hold_id: UUID, dossier_id: UUID, elu_id: UUID, amount_cents: int, placed_on: date
    ) -> None:
        await self.session.execute(
            pg_insert(t.holds)
            .values(
                hold_id=hold_id,
                dossier_id=dossier_id,
                elu_id=elu_id,
                amount_cents=amount_cents,
                placed_on=placed_on,
            )
            .on_conflict_do_nothing()
        )

    async def resolve_hold(
        self, *, hold_id: UUID, on: date, captured_cents: int, released_cents: int
    ) -> None:
        await self.session.execute(
            update(t.holds)
            .where(t.holds.c.hold_id == hold_id, t.holds.c.resolved_on.is_(None))
            .values(resolved_on=on, captured_cents=captured_cents, released_cents=released_cents)
        )

    async def flows(self, start: date, end: date) -> Flows:
        received = await self.session.scalar(
            select(func.coalesce(func.sum(t.contributions.c.amount_cents), 0)).where(
                t.contributions.c.received_on.between(start, end)
            )
        )
        paid = await self.session.scalar(
            select(func.coalesce(func.sum(t.payments.c.settled_cents), 0)).where(
                t.payments.c.status == "settled", t.payments.c.settled_on.between(start, end)
            )
        )
        return Flows(start, end, int(received or 0), int(paid or 0))

    async def committed_at(self, day: date) -> int:
        """DIFE holds placed by `day` and not captured or released by then."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(t.holds.c.amount_cents), 0)).where(
                t.holds.c.placed_on <= day, or_(t.holds.c.resolved_on.is_(None), t.holds.c.resolved_on > day)
            )
        )
        return int(total or 0)
