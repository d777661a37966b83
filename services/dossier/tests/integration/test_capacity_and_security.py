"""R-OFR-4 under concurrency, and ownership: élu B and OF B cannot read or act on A's dossier."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from .conftest import Running


async def test_20_concurrent_submissions_on_15_seats_accept_exactly_15_R_OFR_4(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    offer_id, session_id = await app.offer(siret(), capacity=15)
    elus = [await app.elu_with_account() for _ in range(20)]
    responses = await asyncio.gather(*(app.submit(elu_id, offer_id, session_id) for elu_id in elus))
    assert Counter(r.status_code for r in responses) == {201: 15, 422: 5}
    for refused in (r for r in responses if r.status_code == 422):
        assert {rule["id"] for rule in refused.json()["rules"]} == {"R-DOS-2"}
        assert any("full" in rule["detail"] for rule in refused.json()["rules"])
    listed = await app.client.get("/v1/dossiers?status=submitted&limit=100", headers=app.agent())
    assert len(listed.json()["items"]) == 15


async def test_a_refused_or_cancelled_dossier_gives_its_seat_back_R_OFR_4(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    offer_id, session_id = await app.offer(of, capacity=1)
    first, second = await app.elu_with_account(), await app.elu_with_account()
    dossier = await app.submitted(first, offer_id, session_id)
    assert (await app.submit(second, offer_id, session_id)).status_code == 422
    await app.post(f"/v1/dossiers/{dossier['id']}/cancellation", app.elu(first), {"reason": "agenda"})
    assert (await app.submit(second, offer_id, session_id)).status_code == 201


async def test_an_elu_cannot_submit_twice_for_overlapping_sessions_R_DOS_2(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    elu_id = await app.elu_with_account()
    await app.submitted(elu_id, *await app.offer(siret()))
    again = await app.submit(elu_id, *await app.offer(siret()))
    assert again.status_code == 422
    assert "overlaps" in again.json()["rules"][0]["detail"]


async def test_elu_b_cannot_read_or_act_on_elu_a_dossier(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    a, b = await app.elu_with_account(), await app.elu_with_account()
    dossier = await app.submitted(a, *await app.offer(of))
    path = f"/v1/dossiers/{dossier['id']}"
    assert (await app.client.get(path, headers=app.elu(b))).status_code == 403
    assert (await app.client.get(path, headers=app.elu(a))).status_code == 200
    for action, body in (
        ("cancellation", {"reason": "x"}),
        ("acceptance", {}),
        ("refusal", {"reason": "x"}),
        ("evaluation", {"rating": 5}),
    ):
        response = await app.client.post(f"{path}/{action}", json=body, headers=app.elu(b))
        assert response.status_code == 403, (action, response.text)
    listed = await app.client.get("/v1/dossiers", headers=app.elu(b))
    assert listed.json()["items"] == []
    assert (await app.client.get(f"/v1/dossiers?elu_id={a}", headers=app.elu(b))).status_code == 403
    assert (await app.get(dossier["id"]))["status"] == "submitted"


async def test_organisme_b_cannot_read_or_act_on_organisme_a_dossier(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of_a, of_b = siret(), siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of_a))
    path = f"/v1/dossiers/{dossier['id']}"
    assert (await app.client.get(path, headers=app.organisme(of_b))).status_code == 403
    assert (await app.client.get(path, headers=app.organisme(of_a))).status_code == 200
    for action, body in (
        ("validation", {}),
        ("refusal", {"reason": "x"}),
        ("cancellation", {"reason": "x"}),
        ("entry", {"date": "2027-03-15"}),
        ("exit", {"date": "2027-03-15", "hours_attended": 7}),
        ("no-show", {"reason": "x"}),
    ):
        response = await app.client.post(f"{path}/{action}", json=body, headers=app.organisme(of_b))
        assert response.status_code == 403, (action, response.text)
    assert (
        await app.client.get(f"/v1/dossiers?siret={of_a}", headers=app.organisme(of_b))
    ).status_code == 403
    own = await app.client.get("/v1/dossiers", headers=app.organisme(of_a))
    assert [d["id"] for d in own.json()["items"]] == [dossier["id"]]
    assert (await app.get(dossier["id"]))["status"] == "submitted"


async def test_roles_are_checked_per_route(dossier_app: Running, siret: Callable[[], str]) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    path = f"/v1/dossiers/{dossier['id']}"
    assert (await app.client.post(f"{path}/validation", headers=app.elu(elu_id))).status_code == 403
    assert (await app.client.post(f"{path}/acceptance", headers=app.organisme(of))).status_code == 403
    assert (
        await app.client.post(
            f"{path}/controls", json={"kind": "quality", "reason": "x"}, headers=app.organisme(of)
        )
    ).status_code == 403
    assert (await app.client.get("/v1/controls", headers=app.elu(elu_id))).status_code == 403
    assert (await app.client.get(path)).status_code == 401


async def test_bad_input_is_a_problem_not_a_500(dossier_app: Running, siret: Callable[[], str]) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of))
    path = f"/v1/dossiers/{dossier['id']}"
    for action, body, headers in (
        ("refusal", {"reason": "nul\u0000byte"}, app.organisme(of)),
        ("refusal", {"reason": "x" * 5000}, app.organisme(of)),
        ("evaluation", {"rating": 10**30}, app.elu(elu_id)),
        ("evaluation", {"rating": "5"}, app.elu(elu_id)),
        ("evaluation", {"rating": 4.5}, app.elu(elu_id)),
        ("entry", {"date": "not a date"}, app.organisme(of)),
        ("exit", {"date": "2027-03-15", "hours_attended": "1e400"}, app.organisme(of)),
    ):
        response = await app.client.post(f"{path}/{action}", json=body, headers=headers)
        assert response.status_code == 422, (action, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await app.client.get("/v1/dossiers/not-a-uuid", headers=app.agent())).status_code == 422
    assert (await app.client.get("/v1/dossiers?cursor=garbage", headers=app.agent())).status_code == 422
