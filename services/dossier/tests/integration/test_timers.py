"""Persisted timers: R-DOS-1 expiry and R-DOS-4 automatic validation fire once, also after a restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from servicekit.clock import MovableClock
from servicekit.testing import Infra, eventually, own_topics

from .conftest import Running, StartDossier


async def test_an_unanswered_request_expires_after_the_2nd_working_day_once_R_DOS_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    app.clock.set_paris(date(2027, 3, 26), 10)  # Friday before Easter Monday: answer by Wednesday 31
    elu_id = await app.elu_with_account()
    offer_id, session_id = await app.offer(siret(), start=date(2027, 5, 3))
    dossier = await app.submitted(elu_id, offer_id, session_id)
    assert dossier["deadlines"]["answer_by"] == "2027-03-31"

    app.clock.set_paris(date(2027, 3, 31), 23, 59)
    assert await app.fire_timers() == 0
    app.clock.set_paris(date(2027, 4, 1), 0, 0)
    assert await app.fire_timers() == 1
    assert await app.fire_timers() == 0
    expired = await app.get(dossier["id"])
    assert expired["status"] == "expired"
    assert expired["history"][-1]["by_role"] == "system"
    published = await app.events(2, subject=dossier["id"])
    assert [e.type for e in published] == [
        "dife.dossier.dossier_submitted.v1",
        "dife.dossier.dossier_expired.v1",
    ]


async def test_a_validated_proposal_not_accepted_expires_after_the_4th_working_day_R_DOS_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    await app.post(f"/v1/dossiers/{dossier['id']}/validation", app.organisme(of))  # Monday 1 Feb 2027
    app.clock.set_paris(date(2027, 2, 5), 23, 59)
    assert await app.fire_timers() == 0
    app.clock.set_paris(date(2027, 2, 6), 0, 0)
    assert await app.fire_timers() == 1
    assert (await app.get(dossier["id"]))["status"] == "expired"


async def test_an_answer_in_time_cancels_the_expiry_R_DOS_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    await app.post(f"/v1/dossiers/{dossier['id']}/refusal", app.organisme(of), {"reason": "complet"})
    app.clock.set_paris(date(2027, 3, 1))
    assert await app.fire_timers() == 0
    assert (await app.get(dossier["id"]))["status"] == "refused_by_organisme"


async def test_a_deadline_passed_while_the_service_was_down_fires_once_after_restart_R_DOS_1(
    start_dossier: StartDossier, siret: Callable[[], str], infra: Infra, topic_prefix: str
) -> None:
    clock = MovableClock()
    clock.set_paris(date(2027, 2, 1), 10)
    async with own_topics(infra, topic_prefix) as prefix:
        async with start_dossier(clock=clock, topic_prefix=prefix) as before:
            elu_id = await before.elu_with_account()
            dossier = await before.submitted(elu_id, *await before.offer(siret()))
            database_url = before.database_url

        clock.set_paris(date(2027, 2, 10), 9)  # a week later: the service was down over the deadline

        async with start_dossier(
            clock=clock, database_url=database_url, jobs=True, topic_prefix=prefix
        ) as after:

            async def expired() -> bool:
                return (await after.get(dossier["id"]))["status"] == "expired"

            assert await eventually(expired, timeout_s=15)
            assert await after.fire_timers() == 0
        published = await after.events(3, subject=dossier["id"], timeout_s=5)
        # The relay publishes at least once: a row sent just before the first app stopped may be sent again
        # (same CloudEvents id); what must hold is one expiry, one event id each.
        distinct = {envelope.id: envelope.type for envelope in published}
        assert sorted(distinct.values()) == [
            "dife.dossier.dossier_expired.v1",
            "dife.dossier.dossier_submitted.v1",
        ], [(e.id, e.type) for e in published]


async def test_an_open_control_suspends_the_auto_validation_and_its_decision_ends_it_R_DOS_4(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    dossier_id = dossier["id"]
    await app.plan_ready(await app.post(f"/v1/dossiers/{dossier_id}/validation", app.organisme(of)))
    await app.post(f"/v1/dossiers/{dossier_id}/acceptance", app.elu(elu_id))
    app.clock.set_paris(date(2027, 3, 15), 18)
    await app.post(f"/v1/dossiers/{dossier_id}/entry", app.organisme(of), {"date": "2027-03-15"})
    await app.post(
        f"/v1/dossiers/{dossier_id}/exit", app.organisme(of), {"date": "2027-03-15", "hours_attended": 7}
    )
    control = await app.post(
        f"/v1/dossiers/{dossier_id}/controls", app.agent(), {"kind": "fraud", "reason": "signatures"}
    )
    queue = await app.client.get("/v1/controls?status=open", headers=app.agent())
    assert [c["id"] for c in queue.json()["items"]] == [control["id"]]

    app.clock.set_paris(date(2027, 4, 30))
    assert await app.fire_timers() == 0
    assert (await app.get(dossier_id))["status"] == "service_done_declared"

    decided = await app.post(
        f"/v1/controls/{control['id']}/decision", app.agent(), {"outcome": "rejected", "reason": "absent"}
    )
    assert decided["status"] == "rejected"
    cancelled = await app.get(dossier_id)
    assert cancelled["status"] == "cancelled_by_financer" and cancelled["rights_consumed"] is False
    again = await app.client.post(
        f"/v1/controls/{control['id']}/decision",
        json={"outcome": "validated", "reason": "x"},
        headers=app.agent(),
    )
    assert again.status_code == 409
