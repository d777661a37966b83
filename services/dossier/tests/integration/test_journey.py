"""The happy path through the API, on the real PostgreSQL and Kafka, with the clock moved (no sleeps)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from dife_contracts.events import PaymentSettled, TrainingStarted

from .conftest import START, Running


async def test_a_dossier_goes_from_request_to_paid_with_its_history_and_events_in_order(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    offer_id, session_id = await app.offer(of)

    headers = {**app.elu(elu_id), "Idempotency-Key": "request-1"}
    body = {"offer_id": str(offer_id), "session_id": str(session_id)}
    first = await app.client.post("/v1/dossiers", json=body, headers=headers)
    replay = await app.client.post("/v1/dossiers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    dossier = first.json()
    assert dossier["status"] == "submitted"
    assert dossier["deadlines"]["answer_by"] == "2027-02-03"  # Monday + 2 working days
    assert dossier["price_cents"] == 56_000
    assert dossier["offer"]["organisme_name"] == f"Institut {of[-4:]}"
    dossier_id = dossier["id"]

    validated = await app.post(f"/v1/dossiers/{dossier_id}/validation", app.organisme(of))
    assert validated["status"] == "validated"
    assert validated["deadlines"]["accept_by"] == "2027-02-05"
    too_early = await app.client.post(f"/v1/dossiers/{dossier_id}/acceptance", headers=app.elu(elu_id))
    assert too_early.status_code == 422
    assert [rule["id"] for rule in too_early.json()["rules"]] == ["R-FUN-4"]

    await app.plan_ready(validated)
    accepted = await app.post(f"/v1/dossiers/{dossier_id}/acceptance", app.elu(elu_id))
    assert accepted["status"] == "accepted"
    assert accepted["plan"]["status"] == "ready"
    assert accepted["plan"]["lines"] == [{"source": "dife", "amount_cents": 56_000, "reference": None}]

    app.clock.set_paris(START, 18)
    started = await app.post(f"/v1/dossiers/{dossier_id}/entry", app.organisme(of), {"date": "2027-03-15"})
    assert started["status"] == "in_training" and started["entry_declared_late"] is False
    exited = await app.post(
        f"/v1/dossiers/{dossier_id}/exit", app.organisme(of), {"date": "2027-03-15", "hours_attended": "4.9"}
    )
    assert exited["status"] == "service_done_declared"
    assert exited["realisation_percent"] == 70
    assert exited["deadlines"]["auto_validation_on"] == "2027-03-22"

    evaluated = await app.post(
        f"/v1/dossiers/{dossier_id}/evaluation", app.elu(elu_id), {"rating": 4, "comment": "Très clair"}
    )
    assert evaluated["evaluation"]["rating"] == 4

    app.clock.set_paris(date(2027, 3, 22), 23, 59)
    assert await app.fire_timers() == 0
    app.clock.set_paris(date(2027, 3, 23), 0, 0)
    assert await app.fire_timers() == 1
    assert (await app.get(dossier_id))["status"] == "service_done_validated"

    await app.feed(
        PaymentSettled(
            dossier_id=uuid.UUID(dossier_id),
            payment_id=uuid.uuid4(),
            amount_cents=39_200,
            settled_on=date(2027, 4, 2),
        )
    )
    paid = await app.get(dossier_id)
    assert paid["status"] == "paid" and paid["amount_paid_cents"] == 39_200
    assert [(step["from_status"], step["to_status"], step["by_role"]) for step in paid["history"]] == [
        (None, "submitted", "elu"),
        ("submitted", "validated", "organisme"),
        ("validated", "accepted", "elu"),
        ("accepted", "in_training", "organisme"),
        ("in_training", "completed", "organisme"),
        ("completed", "service_done_declared", "organisme"),
        ("service_done_declared", "service_done_declared", "elu"),
        ("service_done_declared", "service_done_validated", "system"),
        ("service_done_validated", "paid", "payout"),
    ]

    expected = [
        "dossier_submitted",
        "dossier_validated",
        "dossier_accepted",
        "training_started",
        "training_completed",
        "service_done_declared",
        "dossier_evaluated",
        "service_done_validated",
        "dossier_paid",
    ]
    published = await app.events(len(expected), subject=dossier_id)
    assert [envelope.type for envelope in published] == [f"dife.dossier.{name}.v1" for name in expected]
    assert {envelope.source for envelope in published} == {"/dife/dossier"}
    assert [step["event_type"] for step in paid["history"]] == [envelope.type for envelope in published]


async def test_an_illegal_step_answers_409_naming_the_status_and_what_it_allows(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    response = await app.client.post(
        f"/v1/dossiers/{dossier['id']}/entry", json={"date": "2027-03-15"}, headers=app.organisme(of)
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "submitted" in problem["detail"]
    assert "validate" in problem["detail"] and "refuse_by_organisme" in problem["detail"]


async def test_every_eligibility_reason_is_listed_in_one_422_R_DOS_2(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    inactive = await app.elu_with_account(active=False)
    response = await app.submit(inactive, uuid.uuid4(), uuid.uuid4())
    assert response.status_code == 422
    rules = response.json()["rules"]
    assert {rule["id"] for rule in rules} == {"R-DOS-2"}
    assert {rule["field"] for rule in rules} >= {"account", "offer_id", "session_id"}


async def test_the_same_idempotency_key_with_another_body_is_a_409(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    elu_id = await app.elu_with_account()
    offer_id, session_id = await app.offer(siret())
    headers = {**app.elu(elu_id), "Idempotency-Key": "k-1"}
    first = await app.client.post(
        "/v1/dossiers", json={"offer_id": str(offer_id), "session_id": str(session_id)}, headers=headers
    )
    other = await app.client.post(
        "/v1/dossiers", json={"offer_id": str(offer_id), "session_id": str(uuid.uuid4())}, headers=headers
    )
    assert first.status_code == 201 and other.status_code == 409


async def test_a_late_entry_is_accepted_flagged_listed_for_agents_and_counted_R_DOS_3(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    await app.plan_ready(await app.post(f"/v1/dossiers/{dossier['id']}/validation", app.organisme(of)))
    await app.post(f"/v1/dossiers/{dossier['id']}/acceptance", app.elu(elu_id))

    def counted(metrics: str) -> float:
        line = next(
            (
                x
                for x in metrics.splitlines()
                if x.startswith('dossier_late_declarations_total{kind="entry"}')
            ),
            None,
        )
        return float(line.split()[-1]) if line else 0.0

    before = counted((await app.client.get("/metrics")).text)
    app.clock.set_paris(date(2027, 3, 19), 9)  # entry on Monday 15: declare by Thursday 18
    late = await app.post(f"/v1/dossiers/{dossier['id']}/entry", app.organisme(of), {"date": "2027-03-15"})
    assert late["status"] == "in_training" and late["entry_declared_late"] is True
    listed = await app.client.get("/v1/dossiers?late=true&limit=500", headers=app.agent())
    assert dossier["id"] in [d["id"] for d in listed.json()["items"]]
    assert counted((await app.client.get("/metrics")).text) == before + 1
    published = await app.events(4, subject=dossier["id"])
    assert published[-1].type == "dife.dossier.training_started.v1"
    started = published[-1].parse()
    assert isinstance(started, TrainingStarted) and started.declared_late is True
