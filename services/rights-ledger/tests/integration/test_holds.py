"""Holds through Kafka, exactly once in effect; concurrency; expiry (R-FUN-1, R-FUN-5, R-PAY-2, R-END-1)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from dife_contracts import Envelope, Event, topics
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested
from rights_ledger.adapters.accounts import AccountRepository
from rights_ledger.settings import Settings
from rights_ledger.use_cases.holds import place_hold, place_holds
from servicekit.clock import MovableClock, SystemClock
from servicekit.db import make_sessionmaker
from servicekit.outbox import SessionOutbox
from servicekit.testing import Infra, collect, eventually
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from .conftest import (
    CM_HEADER,
    DUPONT_CLAIMS,
    DUPONT_NIR,
    cm_row,
    csv_file,
    import_rne,
    run_campaign,
    wait_job,
)

Bearer = Callable[..., dict[str, str]]


async def _send(infra: Infra, settings: Settings, *envelopes_or_events: Envelope | Event) -> list[Envelope]:
    """Put events on Kafka as funding or payout would; an Envelope given twice is a redelivery."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    sent: list[Envelope] = []
    try:
        for item in envelopes_or_events:
            envelope = (
                item
                if isinstance(item, Envelope)
                else Envelope.wrap(item, source=topics.source_of(item.topic))
            )
            topic = envelope.type.split(".")[1]
            await producer.send_and_wait(
                settings.topic(f"dife.{topic}.events"),
                value=envelope.data,
                key=envelope.kafka_key(),
                headers=envelope.kafka_headers(),
            )
            sent.append(envelope)
    finally:
        await producer.stop()
    return sent


async def _ledger_events(
    infra: Infra, settings: Settings, elu_id: str, count: int, timeout_s: float = 30
) -> list[tuple[str, Any]]:
    found = await collect(
        infra,
        settings.topic("dife.ledger.events"),
        count=count,
        timeout_s=timeout_s,
        where=lambda e: e.subject == elu_id and "hold" in e.type,
    )
    return [(e.type.split(".")[2], json.loads(e.data)) for e in found]


async def _active_elu_with_rights(client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer) -> str:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    activated = await client.post(
        "/v1/accounts/activation",
        json={"nir": DUPONT_NIR},
        headers=bearer("elu", sub="fc-dupont", **DUPONT_CLAIMS),
    )
    assert activated.status_code == 200, activated.text
    await run_campaign(client, agent, "municipal", 2026)
    await run_campaign(client, agent, "municipal", 2027)
    return str(activated.json()["elu_id"])


def _hold(elu_id: str, amount: int, purpose: TrainingPurpose = TrainingPurpose.MANDATE, **dates: date) -> Any:
    return DifeHoldRequested(
        dossier_id=uuid.uuid4(),
        elu_id=uuid.UUID(elu_id),
        amount_cents=amount,
        purpose=purpose,
        training_start=dates.get("start", date(2026, 9, 1)),
        training_end=dates.get("end", date(2026, 9, 3)),
    )


async def test_hold_placed_captured_in_part_and_replay_is_a_no_op_R_FUN_5_R_PAY_2(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer, settings: Settings, infra: Infra
) -> None:
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    request = _hold(elu_id, 30_000)
    [envelope] = await _send(infra, settings, request)
    await _send(infra, settings, envelope, envelope)
    [(kind, placed)] = await _ledger_events(infra, settings, elu_id, 1)
    assert (kind, placed["amount_cents"], placed["available_after_cents"]) == ("hold_placed", 30_000, 50_000)

    too_much = _hold(elu_id, 50_001)
    await _send(infra, settings, too_much)
    # Funding's and payout's topics are not ordered with each other: the capture goes once the refusal is out.
    await _ledger_events(infra, settings, elu_id, 2)
    capture = DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=request.elu_id, amount_cents=21_000)
    [capture_envelope] = await _send(infra, settings, capture)
    await _send(infra, settings, capture_envelope)
    # The release comes on funding's topic, the capture on payout's: it is sent once the capture is out, so
    # it is the late one whatever the order the ledger reads the two topics in.
    events = await _ledger_events(infra, settings, elu_id, 3)
    release_after = DifeReleaseRequested(dossier_id=request.dossier_id, elu_id=request.elu_id, reason="late")
    await _send(infra, settings, release_after)

    assert [k for k, _ in events] == ["hold_placed", "hold_rejected", "hold_captured"]
    assert events[1][1]["reason"] == "insufficient_rights"
    assert (events[2][1]["captured_cents"], events[2][1]["released_cents"]) == (21_000, 9_000)

    async def settled() -> bool:
        account = (await client.get(f"/v1/accounts/{elu_id}", headers=agent)).json()
        return bool(account["balance_cents"] == 59_000 and account["held_cents"] == 0)

    assert await eventually(settled)
    movements = (await client.get(f"/v1/accounts/{elu_id}/movements", headers=agent)).json()["items"]
    assert [m["kind"] for m in movements] == ["credit", "credit", "hold", "capture", "release"]
    assert await _ledger_events(infra, settings, elu_id, 4, timeout_s=5) == events


async def test_reinsertion_hold_inside_the_window_accepted_mandate_hold_after_the_end_rejected_R_END_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer, settings: Settings, infra: Infra
) -> None:
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    await import_rne(
        client, agent, csv_file(CM_HEADER, cm_row("OTHER", "Person", "01/01/1950")), snapshot="2026-04-01"
    )
    account = (await client.get(f"/v1/accounts/{elu_id}", headers=agent)).json()
    assert (account["reinsertion_until"], account["mandate_training_allowed"]) == ("2026-10-01", False)

    mandate_after_end = _hold(
        elu_id, 10_000, TrainingPurpose.MANDATE, start=date(2026, 5, 1), end=date(2026, 5, 2)
    )
    reinsertion_inside = _hold(
        elu_id, 10_000, TrainingPurpose.REINSERTION, start=date(2026, 9, 1), end=date(2026, 10, 1)
    )
    reinsertion_late = _hold(
        elu_id, 10_000, TrainingPurpose.REINSERTION, start=date(2026, 9, 1), end=date(2026, 10, 2)
    )
    await _send(infra, settings, mandate_after_end, reinsertion_inside, reinsertion_late)
    events = await _ledger_events(infra, settings, elu_id, 3)
    assert [(k, e.get("reason")) for k, e in events] == [
        ("hold_rejected", "not_eligible"),
        ("hold_placed", None),
        ("hold_rejected", "not_eligible"),
    ]


async def test_after_the_6_month_window_the_balance_expires_as_a_movement_R_END_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer, settings: Settings, infra: Infra
) -> None:
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    await import_rne(
        client, agent, csv_file(CM_HEADER, cm_row("OTHER", "Person", "01/01/1950")), snapshot="2026-04-01"
    )

    async def expiry(as_of: str) -> Any:
        response = await client.post("/v1/expiry-runs", json={"as_of": as_of}, headers=agent)
        assert response.status_code == 202
        return await wait_job(client, f"/v1/expiry-runs/{response.json()['id']}", agent)

    assert (await expiry("2026-10-01"))["report"]["expired"] == 0
    done = await expiry("2026-10-02")
    assert done["report"] == {"expired": 1, "total_cents": 80_000}
    account = (await client.get(f"/v1/accounts/{elu_id}", headers=agent)).json()
    assert (account["balance_cents"], account["status"]) == (0, "closed")
    movements = (await client.get(f"/v1/accounts/{elu_id}/movements", headers=agent)).json()["items"]
    assert (movements[-1]["kind"], movements[-1]["amount_cents"], movements[-1]["balance_after_cents"]) == (
        "expiry",
        80_000,
        0,
    )
    assert (await expiry("2026-12-01"))["report"]["expired"] == 0
    [expired] = await collect(
        infra,
        settings.topic("dife.ledger.events"),
        count=1,
        where=lambda e: e.subject == elu_id and e.type == "dife.ledger.rights_expired.v1",
    )
    assert json.loads(expired.data)["amount_cents"] == 80_000


async def test_pension_liquidation_closes_reinsertion_R_END_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer, settings: Settings, infra: Infra
) -> None:
    """The account shows no reinsertion window, and a reinsertion hold the window would have allowed without
    the pension (see the test above) is refused: the hold reads the pension with the mandates."""
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    response = await client.post(
        f"/v1/elus/{elu_id}/pension-liquidation", json={"date": "2026-05-01"}, headers=agent
    )
    assert response.status_code == 204
    await import_rne(
        client, agent, csv_file(CM_HEADER, cm_row("OTHER", "Person", "01/01/1950")), snapshot="2026-06-01"
    )
    account = (await client.get(f"/v1/accounts/{elu_id}", headers=agent)).json()
    assert account["reinsertion_until"] is None

    reinsertion = _hold(
        elu_id, 10_000, TrainingPurpose.REINSERTION, start=date(2026, 9, 1), end=date(2026, 9, 3)
    )
    await _send(infra, settings, reinsertion)
    [(kind, rejected)] = await _ledger_events(infra, settings, elu_id, 1)
    assert (kind, rejected["reason"]) == ("hold_rejected", "not_eligible")


async def test_100_concurrent_hold_requests_never_overdraw_the_account_R_FUN_1(
    client: httpx.AsyncClient,
    agent: dict[str, str],
    bearer: Bearer,
    ledger_db: str,
) -> None:
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    requests = [_hold(elu_id, 3_000) for _ in range(100)]
    # 40 connections for 100 transactions queued on one account's lock: the rest wait for a connection, as
    # long as the serialised transactions take on a loaded machine (the pool's default 30 s is not a rule).
    engine = create_async_engine(ledger_db, pool_size=40, max_overflow=0, pool_timeout=600)
    sessionmaker = make_sessionmaker(engine, ce_source=topics.source_of(topics.LEDGER))

    async def one(event: DifeHoldRequested) -> None:
        async with sessionmaker.begin() as session:
            await place_hold(AccountRepository(session), SessionOutbox(session), SystemClock(), event)

    await asyncio.gather(*(one(r) for r in requests))
    async with sessionmaker() as session:
        placed = await session.scalar(text("SELECT count(*) FROM holds"))
        sums = (
            await session.execute(
                text(
                    "SELECT a.balance_cents, a.held_cents, sum(m.held_delta_cents) FROM accounts a "
                    "JOIN movements m USING (elu_id) WHERE a.elu_id = :elu GROUP BY a.elu_id"
                ),
                {"elu": uuid.UUID(elu_id)},
            )
        ).one()
        hold_movements = await session.scalar(text("SELECT count(*) FROM movements WHERE kind = 'hold'"))
    await engine.dispose()
    assert placed == 80_000 // 3_000
    assert sums == (80_000, 26 * 3_000, 26 * 3_000)
    assert hold_movements == 26


async def test_an_expiry_run_as_of_a_future_day_is_refused_and_today_is_accepted_R_END_1(
    client: httpx.AsyncClient, agent: dict[str, str], clock: MovableClock
) -> None:
    for as_of in ("2028-12-02", "2030-01-01", "9999-12-31"):
        ahead = await client.post("/v1/expiry-runs", json={"as_of": as_of}, headers=agent)
        assert ahead.status_code == 422, as_of
        assert [r["id"] for r in ahead.json()["rules"]] == ["R-END-1"]
    for not_a_date in (0, 1_700_000_000, "2028-12-01T00:00:00", None):
        wrong = await client.post("/v1/expiry-runs", json={"as_of": not_a_date}, headers=agent)
        assert wrong.status_code == 422, not_a_date
    today = await client.post("/v1/expiry-runs", json={"as_of": clock.today().isoformat()}, headers=agent)
    assert today.status_code == 202
    assert (await wait_job(client, f"/v1/expiry-runs/{today.json()['id']}", agent))["status"] == "succeeded"


async def test_a_pension_date_is_a_json_date_string_R_END_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    response = await client.post(f"/v1/elus/{elu_id}/pension-liquidation", json={"date": 0}, headers=agent)
    assert response.status_code == 422


async def test_an_elu_reads_its_holds_and_why_a_request_was_rejected_without_kafka_R_FUN_1(
    client: httpx.AsyncClient,
    agent: dict[str, str],
    bearer: Bearer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    placed, too_much = _hold(elu_id, 30_000), _hold(elu_id, 50_001)
    for request in (placed, too_much):
        async with sessionmaker.begin() as session:
            await place_hold(AccountRepository(session), SessionOutbox(session), SystemClock(), request)
    own = bearer("elu", sub="fc-dupont")
    response = await client.get(f"/v1/accounts/{elu_id}/holds", headers=own)
    assert response.status_code == 200, response.text
    rejected, pending = response.json()
    assert (pending["status"], pending["amount_cents"], pending["dossier_id"], pending["purpose"]) == (
        "pending",
        30_000,
        str(placed.dossier_id),
        "mandate",
    )
    assert (rejected["status"], rejected["rejection_reason"], rejected["dossier_id"]) == (
        "rejected",
        "insufficient_rights",
        str(too_much.dossier_id),
    )
    other = await client.get(f"/v1/accounts/{elu_id}/holds", headers=bearer("elu", sub="someone-else"))
    assert other.status_code == 403


async def test_a_run_of_requests_on_postgresql_is_decided_in_order_to_the_cent_R_FUN_1_R_FUN_5(
    client: httpx.AsyncClient,
    agent: dict[str, str],
    bearer: Bearer,
    settings: Settings,
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """`place_holds` on the real repository: what a consumer's run of requests does in one transaction."""
    elu_id = await _active_elu_with_rights(client, agent, bearer)
    first, rest, one_cent_more = _hold(elu_id, 50_000), _hold(elu_id, 30_000), _hold(elu_id, 1)
    stranger = _hold(str(uuid.uuid4()), 1_000)
    async with sessionmaker.begin() as session:
        await place_holds(
            AccountRepository(session),
            SessionOutbox(session),
            SystemClock(),
            [first, first, stranger, rest, one_cent_more],
        )

    events = await _ledger_events(infra, settings, elu_id, 4)
    assert [(k, e["dossier_id"]) for k, e in events] == [
        ("hold_placed", str(first.dossier_id)),
        ("hold_placed", str(first.dossier_id)),
        ("hold_placed", str(rest.dossier_id)),
        ("hold_rejected", str(one_cent_more.dossier_id)),
    ]
    assert [events[0][1]["available_after_cents"], events[2][1]["available_after_cents"]] == [30_000, 0]
    assert events[0][1]["hold_id"] == events[1][1]["hold_id"], "the dossier asked twice holds once"
    [(kind, rejected)] = await _ledger_events(infra, settings, str(stranger.elu_id), 1)
    assert (kind, rejected["reason"]) == ("hold_rejected", "account_inactive")
    account = (await client.get(f"/v1/accounts/{elu_id}", headers=agent)).json()
    assert (account["balance_cents"], account["held_cents"]) == (80_000, 80_000)
    movements = (await client.get(f"/v1/accounts/{elu_id}/movements", headers=agent)).json()["items"]
    assert [m["kind"] for m in movements] == ["credit", "credit", "hold", "hold"]
