"""Payout on the bus: plans and outcomes in any order (R-PAY-1, R-PAY-2), late cancellations (R-DOS-5), the
fund's read models, replays that change nothing, and no IBAN in clear on the bus or in the logs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from dife_contracts import Envelope, Event, topics
from dife_contracts.enums import CancelledBy, FundingSource
from dife_contracts.events import (
    DossierCancelled,
    HoldCaptured,
    HoldPlaced,
    HoldReleased,
    PaymentReceived,
    PlanLine,
    PlanReady,
    ServiceDoneValidated,
)
from payout.adapters.tables import metadata
from servicekit.testing import collect, eventually, publish, read_to_end
from sqlalchemy import select

from .conftest import BICS, IBANS, Payout, pain002

VALIDATED_ON = date(2027, 1, 14)


def plan(dossier: uuid.UUID, elu: uuid.UUID, *lines: tuple[FundingSource, int, str | None]) -> PlanReady:
    return PlanReady(
        dossier_id=dossier,
        elu_id=elu,
        price_cents=sum(amount for _, amount, _ in lines),
        lines=[PlanLine(source=source, amount_cents=amount, reference=ref) for source, amount, ref in lines],
    )


def service_done(
    dossier: uuid.UUID, elu: uuid.UUID, siret: str, price: int, percent: int
) -> ServiceDoneValidated:
    return ServiceDoneValidated(
        dossier_id=dossier,
        elu_id=elu,
        validated_on=VALIDATED_ON,
        realisation_percent=percent,
        price_cents=price,
        siret=siret,
    )


def late_cancellation(dossier: uuid.UUID, elu: uuid.UUID, *, consumed: bool = True) -> DossierCancelled:
    return DossierCancelled(
        dossier_id=dossier,
        elu_id=elu,
        by=CancelledBy.ELU,
        reason="no-show",
        force_majeure=False,
        rights_consumed=consumed,
        cancelled_at=datetime(2027, 1, 10, 9, tzinfo=UTC),
    )


def of_dossier(dossier: uuid.UUID) -> Callable[[Envelope], bool]:
    return lambda envelope: envelope.subject == str(dossier)


def amounts(envelopes: list[Envelope]) -> dict[str, int]:
    return {e.type.split(".")[2]: e.parse().amount_cents for e in envelopes}  # type: ignore[attr-defined]


async def test_service_done_before_its_plan_orders_payment_capture_and_card_refund_R_PAY_1_R_PAY_2(
    payout_consuming: Payout, siret: Callable[[], str]
) -> None:
    payout, of = payout_consuming, siret()
    dossier, elu = uuid.uuid4(), uuid.uuid4()
    await payout.publish(service_done(dossier, elu, of, 80_000, 70))
    await payout.publish(
        plan(dossier, elu, (FundingSource.DIFE, 50_000, None), (FundingSource.ELU_CARD, 30_000, "psp"))
    )
    payment = await payout.payment_of(dossier)
    assert (payment["amount_cents"], payment["deadline"], payment["status"]) == (56_000, "2027-02-13", "due")
    events = await payout.events(3, where=of_dossier(dossier))
    assert amounts(events) == {
        "dife_capture_requested": 50_000,
        "refund_ordered": 24_000,
        "payment_ordered": 56_000,
    }
    assert {e.source for e in events} == {"/dife/payout"}


async def test_a_late_cancellation_captures_the_whole_dife_hold_and_pays_nothing_R_DOS_5(
    payout_consuming: Payout, siret: Callable[[], str]
) -> None:
    payout = payout_consuming
    late, early = (uuid.uuid4(), uuid.uuid4()), (uuid.uuid4(), uuid.uuid4())
    await payout.publish(
        plan(*late, (FundingSource.DIFE, 40_000, None), (FundingSource.ELU_CARD, 5_000, "psp"))
    )
    await payout.publish(late_cancellation(*late))
    await payout.publish(plan(*early, (FundingSource.DIFE, 40_000, None)))
    await payout.publish(late_cancellation(*early, consumed=False))
    events = await payout.events(2, where=of_dossier(late[0]))
    assert amounts(events) == {"dife_capture_requested": 40_000, "refund_ordered": 5_000}
    assert [p for p in await payout.payments() if p["dossier_id"] in (str(late[0]), str(early[0]))] == []
    assert await payout.events(1, where=of_dossier(early[0]), timeout_s=2) == []


async def fund_position(payout: Payout) -> dict[str, Any]:
    response = await payout.client.get(
        "/v1/fund/position", params={"from": "2026-01-01", "to": "2027-12-31"}, headers=payout.agent()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_replaying_every_consumed_event_changes_nothing(
    payout_consuming: Payout, siret: Callable[[], str]
) -> None:
    payout, of = payout_consuming, siret()
    paid, cancelled = (uuid.uuid4(), uuid.uuid4()), (uuid.uuid4(), uuid.uuid4())
    hold, released_hold = uuid.uuid4(), uuid.uuid4()
    originals: list[Event] = [
        plan(*paid, (FundingSource.DIFE, 30_000, None), (FundingSource.COLLECTIVITE, 20_000, "DELIB-1")),
        service_done(*paid, of, 50_000, 100),
        plan(*cancelled, (FundingSource.DIFE, 10_000, None)),
        late_cancellation(*cancelled),
        HoldPlaced(
            elu_id=paid[1], hold_id=hold, dossier_id=paid[0], amount_cents=30_000, available_after_cents=0
        ),
        HoldPlaced(
            elu_id=cancelled[1],
            hold_id=released_hold,
            dossier_id=cancelled[0],
            amount_cents=10_000,
            available_after_cents=0,
        ),
        HoldReleased(
            elu_id=cancelled[1],
            hold_id=released_hold,
            dossier_id=cancelled[0],
            released_cents=10_000,
            reason="x",
        ),
        PaymentReceived(
            siren="217500016",
            payment_id=uuid.uuid4(),
            period="2026-12",
            amount_cents=123_456,
            received_on=date(2027, 1, 5),
        ),
    ]
    envelopes = [await payout.publish(event) for event in originals]
    await payout.payment_of(paid[0])

    async def settled_down() -> bool:
        position = await fund_position(payout)
        return (
            position["dife_committed_cents"] == 30_000
            and position["period"]["contributions_received_cents"] == 123_456
        )

    assert await eventually(settled_down)
    payments_before = await payout.payments()
    position_before = await fund_position(payout)
    events_before = await payout.events(
        100, where=lambda e: e.subject in (str(paid[0]), str(cancelled[0])), timeout_s=3
    )
    assert len(events_before) == 3  # capture + payment_ordered, capture of the cancelled dossier

    for envelope in envelopes:
        await payout.republish(envelope)  # the same event ids: the inbox drops them
    for event in originals:
        await payout.publish(event)  # the same facts under new ids: the effects are idempotent by key
    # Sentinels behind the replays on each topic (one partition per topic in tests, so read in order).
    sentinel = (uuid.uuid4(), uuid.uuid4())
    await payout.publish(plan(*sentinel, (FundingSource.DIFE, 1_000, None)))
    await payout.publish(service_done(*sentinel, of, 1_000, 100))
    await payout.publish(
        HoldPlaced(
            elu_id=sentinel[1],
            hold_id=uuid.uuid4(),
            dossier_id=sentinel[0],
            amount_cents=1_000,
            available_after_cents=0,
        )
    )
    await payout.publish(
        PaymentReceived(
            siren="217500016",
            payment_id=uuid.uuid4(),
            period="2027-01",
            amount_cents=1,
            received_on=date(2027, 1, 6),
        )
    )
    await payout.payment_of(sentinel[0])

    async def sentinels_seen() -> bool:
        position = await fund_position(payout)
        return (
            position["dife_committed_cents"] == 31_000
            and position["period"]["contributions_received_cents"] == 123_457
        )

    assert await eventually(sentinels_seen)
    assert [p for p in await payout.payments() if p["dossier_id"] != str(sentinel[0])] == payments_before
    position_after = await fund_position(payout)
    position_before["dife_committed_cents"] += 1_000
    position_before["period"]["contributions_received_cents"] += 1
    position_before["period"]["balance_cents"] += 1
    position_before["rolling_3_years"]["contributions_received_cents"] += 1
    position_before["rolling_3_years"]["balance_cents"] += 1
    assert position_after == position_before
    everything = await read_to_end(payout.infra, payout.settings.topic(topics.PAYOUT))
    events_after = [e for e in everything if e.subject in (str(paid[0]), str(cancelled[0]))]
    assert [e.id for e in events_after] == [e.id for e in events_before]


async def test_fund_position_counts_contributions_settled_trainings_and_outstanding_holds(
    payout_consuming: Payout, siret: Callable[[], str]
) -> None:
    payout, of = payout_consuming, siret()
    await payout.verified_payee(of)
    dossier = await payout.order(of, price_cents=70_000, percent=100)
    built = await payout.client.post("/v1/payment-batches", headers=payout.ops())
    batch = built.json()["batch"]
    await payout.client.post(f"/v1/payment-batches/{batch['id']}/release", headers=payout.ops())
    e2e = (await payout.payment_of(dossier))["end_to_end_id"]
    imported = await payout.client.post(
        f"/v1/payment-batches/{batch['id']}/status-report",
        content=pain002(batch["message_id"], [(e2e, "ACSC", None)]),
        headers={**payout.ops(), "Content-Type": "application/xml"},
    )
    assert imported.status_code == 200 and imported.json()["accepted"] == 1
    elu, hold, captured = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await payout.publish(
        HoldPlaced(
            elu_id=elu, hold_id=hold, dossier_id=uuid.uuid4(), amount_cents=25_000, available_after_cents=0
        )
    )
    await payout.publish(
        HoldPlaced(
            elu_id=elu, hold_id=captured, dossier_id=dossier, amount_cents=70_000, available_after_cents=0
        )
    )
    await payout.publish(
        HoldCaptured(
            elu_id=elu, hold_id=captured, dossier_id=dossier, captured_cents=70_000, released_cents=0
        )
    )
    await payout.publish(
        PaymentReceived(
            siren="217500016",
            payment_id=uuid.uuid4(),
            period="2026-12",
            amount_cents=500_000,
            received_on=date(2027, 1, 5),
        )
    )
    # Three years before the period's end: inside the rolling view, outside the period.
    await payout.publish(
        PaymentReceived(
            siren="217500016",
            payment_id=uuid.uuid4(),
            period="2025-01",
            amount_cents=7,
            received_on=date(2025, 2, 1),
        )
    )
    expected = {
        "period": {
            "start": "2027-01-01",
            "end": "2027-12-31",
            "contributions_received_cents": 500_000,
            "trainings_paid_cents": 70_000,
            "balance_cents": 430_000,
        },
        "rolling_3_years": {
            "start": "2025-01-01",
            "end": "2027-12-31",
            "contributions_received_cents": 500_007,
            "trainings_paid_cents": 70_000,
            "balance_cents": 430_007,
        },
        "dife_committed_cents": 25_000,
    }
    params = {"from": "2027-01-01", "to": "2027-12-31"}
    # Holds are dated by their event time (today, in 2026): the committed amount is as of the period's end.

    async def as_expected() -> bool:
        response = await payout.client.get("/v1/fund/position", params=params, headers=payout.ops())
        return bool(response.json() == expected)

    assert await eventually(as_expected), (
        await payout.client.get("/v1/fund/position", params=params, headers=payout.ops())
    ).json()
    csv = await payout.client.get(
        "/v1/fund/position", params={**params, "format": "csv"}, headers=payout.agent()
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1] == "period;2027-01-01;2027-12-31;500000;70000;430000;25000"
    refused = await payout.client.get("/v1/fund/position", params=params, headers=payout.organisme(of))
    assert refused.status_code == 403
    backwards = await payout.client.get(
        "/v1/fund/position", params={"from": "2027-12-31", "to": "2027-01-01"}, headers=payout.ops()
    )
    assert backwards.status_code == 422


IBAN_PATTERN = re.compile(r"FR\d{2}\s?(\d{4}\s?){5}\d{3}")


async def test_no_iban_in_clear_on_the_bus_in_the_logs_or_at_rest(
    payout_consuming: Payout,
    siret: Callable[[], str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    payout, of = payout_consuming, siret()
    await payout.verified_payee(of, iban=IBANS[1], bic=BICS[1])
    rejected = await payout.client.post(
        f"/v1/organismes/{of}/bank-details",
        json={"iban": IBANS[2][:-1] + "0", "bic": BICS[2], "holder_name": "X"},
        headers=payout.organisme(of),
    )
    assert rejected.status_code == 422
    dossier, elu = uuid.uuid4(), uuid.uuid4()
    await payout.publish(plan(dossier, elu, (FundingSource.DIFE, 20_000, None)))
    await payout.publish(service_done(dossier, elu, of, 20_000, 100))
    await payout.payment_of(dossier)
    batch = (await payout.client.post("/v1/payment-batches", headers=payout.ops())).json()["batch"]
    await payout.client.post(f"/v1/payment-batches/{batch['id']}/release", headers=payout.ops())
    e2e = (await payout.payment_of(dossier))["end_to_end_id"]
    await payout.client.post(
        f"/v1/payment-batches/{batch['id']}/status-report",
        content=pain002(batch["message_id"], [(e2e, "RJCT", "AC04")]),
        headers={**payout.ops(), "Content-Type": "application/xml"},
    )
    events = await payout.events(4, where=of_dossier(dossier))
    assert {e.type.split(".")[2] for e in events} == {
        "dife_capture_requested",
        "payment_ordered",
        "payment_sent",
        "payment_rejected",
    }
    on_the_bus = [e.data.decode() for e in await payout.events(10_000, timeout_s=3)]
    logs = capfd.readouterr()
    for text in [*on_the_bus, logs.out, logs.err, caplog.text]:
        assert not IBAN_PATTERN.search(text)
        assert all(iban not in text for iban in IBANS)
    # At rest too: every column of every payout table (bank details, batches and their files included).
    async with payout.app.state.kit.sessionmaker() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    stored = value if isinstance(value, bytes) else str(value).encode()
                    assert all(iban.encode() not in stored for iban in IBANS), table.name


async def test_an_event_is_trusted_only_from_the_topic_and_source_that_own_it(
    payout_consuming: Payout, siret: Callable[[], str]
) -> None:
    payout, of = payout_consuming, siret()
    spoofed, genuine = (uuid.uuid4(), uuid.uuid4()), (uuid.uuid4(), uuid.uuid4())
    await payout.publish(plan(*spoofed, (FundingSource.DIFE, 10_000, None)))
    await publish(
        payout.infra,
        payout.settings.topic_prefix,
        service_done(*spoofed, of, 10_000, 100),
        source="/dife/funding",
    )
    await payout.publish(plan(*genuine, (FundingSource.DIFE, 10_000, None)))
    await payout.publish(service_done(*genuine, of, 10_000, 100))
    await payout.payment_of(genuine[0])  # read after the spoofed one on the same partition
    assert str(spoofed[0]) not in [p["dossier_id"] for p in await payout.payments()]
    parked = await collect(
        payout.infra,
        payout.settings.topic(topics.DOSSIER) + ".dlt",
        count=1,
        where=lambda e: e.subject == str(spoofed[0]),
    )
    assert len(parked) == 1
