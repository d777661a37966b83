"""Activation, reading, adjusting and the campaign on the real stack (R-ACT-1, R-REG-3, R-ACC-1..4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import httpx
import pytest
from dife_contracts.events import RightsCredited
from prometheus_client import REGISTRY
from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit.clock import PARIS, MovableClock
from servicekit.testing import Infra, collect, running_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import (
    CD_HEADER,
    CM_HEADER,
    DUPONT_CLAIMS,
    DUPONT_NIR,
    cd_row,
    cm_row,
    csv_file,
    find_elu,
    import_rne,
    run_campaign,
)

Bearer = Callable[..., dict[str, str]]


async def _activate(
    client: httpx.AsyncClient, bearer: Bearer, subject: str, nir: str = DUPONT_NIR, **claims: str
) -> httpx.Response:
    """Activation by an élu whose token carries the identity provider's claims (Élise Dupont's by default)."""
    headers = bearer("elu", sub=subject, **(DUPONT_CLAIMS | claims))
    return await client.post("/v1/accounts/activation", json={"nir": nir}, headers=headers)


async def test_activation_checks_the_nir_and_matches_exactly_one_elu_R_ACT_1_R_REG_3(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))

    bad_key = await _activate(client, bearer, "fc-1", nir="261037511100539")
    assert bad_key.status_code == 422
    assert bad_key.headers["content-type"].startswith("application/problem+json")
    assert [r["id"] for r in bad_key.json()["rules"]] == ["R-REG-3"]
    assert "261037511100539" not in bad_key.text

    nobody = await _activate(client, bearer, "fc-1", family_name="Durand")
    assert nobody.status_code == 422
    assert [r["id"] for r in nobody.json()["rules"]] == ["R-ACT-1"]

    ok = await _activate(client, bearer, "fc-1", family_name="Dupont", given_name="elise Marie-Thérèse")
    assert ok.status_code == 200, ok.text
    account = ok.json()
    assert (account["status"], account["balance_cents"], account["cap_cents"]) == ("active", 0, 80_000)

    mine = await client.get(f"/v1/accounts/{account['elu_id']}", headers=bearer("elu", sub="fc-1"))
    assert mine.status_code == 200
    assert mine.json()["mandate_training_allowed"] is True

    taken = await _activate(client, bearer, "fc-2")
    assert taken.status_code == 409


async def test_an_elu_reading_another_elus_account_gets_403_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    elu = (await _activate(client, bearer, "fc-dupont")).json()
    for path in (
        f"/v1/accounts/{elu['elu_id']}",
        f"/v1/accounts/{elu['elu_id']}/movements",
        f"/v1/accounts/{elu['elu_id']}/holds",
        f"/v1/elus/{elu['elu_id']}",
    ):
        other = await client.get(path, headers=bearer("elu", sub="someone-else"))
        assert other.status_code == 403, path
        assert (await client.get(path, headers=bearer("elu", sub="fc-dupont"))).status_code == 200
        assert (await client.get(path)).status_code == 401
    organisme = await client.get(f"/v1/accounts/{elu['elu_id']}", headers=bearer("organisme", siret="1" * 14))
    assert organisme.status_code == 403


async def test_campaign_credits_400_then_caps_at_800_once_a_year_R_ACC_1_R_ACC_2(
    client: httpx.AsyncClient, agent: dict[str, str], settings: Settings, infra: Infra
) -> None:
    # Two mandates of one person (municipal and departmental): one credit a year all the same.
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    await import_rne(
        client, agent, csv_file(CD_HEADER, cd_row("DUPONT", "Élise", "05/03/1961")), file_type="cd"
    )
    elu = await find_elu(client, agent, "Dupont", "Elise", date(1961, 3, 5))
    assert len(elu["mandates"]) == 2
    account_path = f"/v1/accounts/{elu['elu_id']}"

    first = await run_campaign(client, agent, "municipal", 2026)
    assert first["status"] == "succeeded", first
    assert (first["report"]["credited"], first["report"]["total_cents"]) == (1, 40_000)
    again = await run_campaign(client, agent, "municipal", 2026)
    assert (again["report"]["credited"], again["report"]["skipped"]) == (0, 1)
    other = await run_campaign(client, agent, "other", 2026)
    assert other["report"]["credited"] == 0
    assert (await client.get(account_path, headers=agent)).json()["balance_cents"] == 40_000

    adjusted = await client.post(
        f"{account_path}/adjustments",
        json={"amount_cents": 10_000, "reason": "RNE correction"},
        headers=agent,
    )
    assert adjusted.status_code == 201, adjusted.text
    capped = await run_campaign(client, agent, "municipal", 2027)
    assert (capped["report"]["credited"], capped["report"]["capped"], capped["report"]["total_cents"]) == (
        1,
        1,
        30_000,
    )
    assert (await client.get(account_path, headers=agent)).json()["balance_cents"] == 80_000
    at_cap = await run_campaign(client, agent, "municipal", 2028)
    assert (at_cap["report"]["credited"], at_cap["report"]["capped"]) == (0, 1)

    movements = (await client.get(f"{account_path}/movements?limit=2", headers=agent)).json()
    assert [m["kind"] for m in movements["items"]] == ["credit", "adjustment"]
    rest = (
        await client.get(f"{account_path}/movements?cursor={movements['next_cursor']}", headers=agent)
    ).json()
    assert [(m["kind"], m["amount_cents"], m["balance_after_cents"]) for m in rest["items"]] == [
        ("credit", 30_000, 80_000)
    ]
    assert rest["next_cursor"] is None

    credited = await collect(
        infra,
        settings.topic("dife.ledger.events"),
        count=2,
        where=lambda e: e.type == "dife.ledger.rights_credited.v1" and e.subject == elu["elu_id"],
    )
    events = [e.parse() for e in credited]
    assert all(isinstance(e, RightsCredited) for e in events)
    typed = sorted((e for e in events if isinstance(e, RightsCredited)), key=lambda e: e.year)
    assert [(e.year, e.amount_cents, e.capped, e.balance_after_cents, e.family) for e in typed] == [
        (2026, 40_000, False, 40_000, "municipal"),
        (2027, 30_000, True, 80_000, "municipal"),
    ]


async def test_municipal_on_30_march_departmental_on_5_july_R_ACC_3(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")))
    await import_rne(client, agent, csv_file(CD_HEADER, cd_row("BLANC", "Luc", "03/03/1973")), file_type="cd")
    municipal = await run_campaign(client, agent, "municipal", 2026)
    assert (municipal["report"]["campaign_date"], municipal["report"]["credited"]) == ("2026-03-30", 1)
    other = await run_campaign(client, agent, "other", 2026)
    assert (other["report"]["campaign_date"], other["report"]["credited"]) == ("2026-07-05", 1)
    luc = await find_elu(client, agent, "Blanc", "Luc", date(1973, 3, 3))
    movements = (await client.get(f"/v1/accounts/{luc['elu_id']}/movements", headers=agent)).json()["items"]
    assert [m["reference"] for m in movements] == ["campaign other 2026"]


async def test_adjustment_never_above_cap_nor_below_zero_R_ACC_2(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")))
    elu = await find_elu(client, agent, "Roux", "Anne", date(1972, 2, 2))
    path = f"/v1/accounts/{elu['elu_id']}/adjustments"
    above = await client.post(path, json={"amount_cents": 80_001, "reason": "too much"}, headers=agent)
    assert above.status_code == 422
    assert above.json()["rules"][0]["id"] == "R-ACC-2"
    below = await client.post(path, json={"amount_cents": -1, "reason": "too little"}, headers=agent)
    assert below.status_code == 422
    assert [rule["id"] for rule in below.json()["rules"]] == ["R-ACC-2"], below.json()
    as_elu = await client.post(
        path, json={"amount_cents": 1, "reason": "self"}, headers=bearer("elu", sub=elu["elu_id"])
    )
    assert as_elu.status_code == 403
    keyed = {**agent, "Idempotency-Key": "adj-1"}
    first = await client.post(path, json={"amount_cents": 500, "reason": "correction"}, headers=keyed)
    replay = await client.post(path, json={"amount_cents": 500, "reason": "correction"}, headers=keyed)
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    other_body = await client.post(path, json={"amount_cents": 600, "reason": "correction"}, headers=keyed)
    assert other_body.status_code == 409
    account = (await client.get(f"/v1/accounts/{elu['elu_id']}", headers=agent)).json()
    assert account["balance_cents"] == 500


async def test_the_journal_is_append_only_and_balances_are_checked_in_the_database_R_ACC_2(
    client: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")))
    await run_campaign(client, agent, "municipal", 2026)
    for statement in (
        "UPDATE movements SET amount_cents = 1",
        "DELETE FROM movements",
        "UPDATE accounts SET balance_cents = -1",
        "UPDATE accounts SET balance_cents = cap_cents + 1",
        "UPDATE accounts SET held_cents = balance_cents + 1",
        "INSERT INTO credits SELECT elu_id, 2026, gen_random_uuid(), 'municipal', 1, '2026-03-30' "
        "FROM accounts",
    ):
        async with sessionmaker() as session:
            try:
                await session.execute(text(statement))
                await session.commit()
            except DBAPIError:
                await session.rollback()
            else:
                raise AssertionError(f"the database accepted: {statement}")
    async with sessionmaker() as session:
        sums = (
            await session.execute(
                text(
                    "SELECT a.balance_cents, a.held_cents, "
                    "sum(m.balance_delta_cents), sum(m.held_delta_cents) "
                    "FROM accounts a JOIN movements m USING (elu_id) GROUP BY a.elu_id"
                )
            )
        ).one()
    assert sums[0] == sums[2] == 40_000 and sums[1] == sums[3] == 0


async def test_a_campaign_in_many_concurrent_chunks_credits_each_elu_once_R_ACC_1(
    settings: Settings, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    chunked = settings.model_copy(update={"campaign_chunk_elus": 2, "campaign_workers": 3})
    rows = [cm_row(f"NOM{n}", "Jean", "01/01/1960") for n in range(7)]
    async with running_app(create_app(chunked)) as client:
        await import_rne(client, agent, csv_file(CM_HEADER, *rows))
        first = await run_campaign(client, agent, "municipal", 2026)
        second = await run_campaign(client, agent, "municipal", 2026)
    assert (first["report"]["credited"], first["rows_done"], first["rows_total"]) == (7, 7, 7)
    assert second["report"]["credited"] == 0
    async with sessionmaker() as session:
        balances = (await session.execute(text("SELECT balance_cents FROM accounts"))).scalars().all()
        credits = await session.scalar(text("SELECT count(*) FROM movements WHERE kind = 'credit'"))
    assert sorted(balances) == [40_000] * 7
    assert credits == 7


async def test_activation_takes_the_identity_from_the_verified_token_never_from_the_body_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    attacker = bearer(
        "elu", sub="fc-attacker", family_name="MARTIN", given_name="Paul", birthdate="1999-12-01"
    )
    typed_identity = await client.post(
        "/v1/accounts/activation",
        json={"nir": DUPONT_NIR, "family_name": "Dupont", "given_names": "Élise", "birth_date": "1961-03-05"},
        headers=attacker,
    )
    assert typed_identity.status_code == 422
    own_identity = await client.post("/v1/accounts/activation", json={"nir": DUPONT_NIR}, headers=attacker)
    assert own_identity.status_code == 422
    assert [r["id"] for r in own_identity.json()["rules"]] == ["R-ACT-1"]
    no_claims = await client.post(
        "/v1/accounts/activation", json={"nir": DUPONT_NIR}, headers=bearer("elu", sub="fc-bare")
    )
    assert no_claims.status_code == 422
    assert {r["id"] for r in no_claims.json()["rules"]} == {"R-ACT-1"}
    assert (await _activate(client, bearer, "fc-dupont")).status_code == 200


async def test_a_nir_of_a_man_born_1999_12_cannot_activate_a_woman_born_1961_03_R_REG_3(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    refused = await _activate(client, bearer, "fc-1", nir="199127511100519")
    assert refused.status_code == 422
    assert [r["id"] for r in refused.json()["rules"]] == ["R-REG-3"] * 3
    unknown_month = await _activate(client, bearer, "fc-1", nir="261307511100582")
    assert unknown_month.status_code == 200, unknown_month.text


async def test_an_agent_revokes_a_wrong_activation_with_a_reason_and_the_elu_activates_again_R_ACT_1(
    client: httpx.AsyncClient,
    agent: dict[str, str],
    bearer: Bearer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    wrong = await _activate(client, bearer, "fc-wrong")
    elu_id = wrong.json()["elu_id"]
    path = f"/v1/accounts/{elu_id}/activation/revocation"
    by_elu = await client.post(path, json={"reason": "mine"}, headers=bearer("elu", sub="fc-wrong"))
    assert by_elu.status_code == 403
    no_reason = await client.post(path, json={}, headers=agent)
    assert no_reason.status_code == 422
    revoked = await client.post(path, json={"reason": "linked to the wrong login (ticket 42)"}, headers=agent)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "inactive"
    again = await client.post(path, json={"reason": "twice"}, headers=agent)
    assert again.status_code == 409
    assert (
        await client.get(f"/v1/accounts/{elu_id}", headers=bearer("elu", sub="fc-wrong"))
    ).status_code == 403
    assert (await _activate(client, bearer, "fc-right")).status_code == 200
    async with sessionmaker() as session:
        audit = (
            await session.execute(text("SELECT subject, reason, revoked_by FROM activation_revocations"))
        ).all()
    assert [tuple(row) for row in audit] == [
        ("fc-wrong", "linked to the wrong login (ticket 42)", "agent-007")
    ]


async def test_a_campaign_runs_from_its_paris_date_on_never_ahead_R_ACC_3(
    client: httpx.AsyncClient, agent: dict[str, str], clock: MovableClock
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")))
    future = await client.post(
        "/v1/accrual-campaigns", json={"family": "municipal", "year": 2031}, headers=agent
    )
    assert future.status_code == 422
    assert [(r["id"]) for r in future.json()["rules"]] == ["R-ACC-3"]

    clock.set(datetime(2029, 3, 29, 23, 30, tzinfo=PARIS))  # 21:30 UTC: the eve in Paris
    eve = await client.post(
        "/v1/accrual-campaigns", json={"family": "municipal", "year": 2029}, headers=agent
    )
    assert eve.status_code == 422
    clock.set(datetime(2029, 3, 30, 0, 30, tzinfo=PARIS))  # still 29 March in UTC, 30 March in Paris
    on_the_day = await run_campaign(client, agent, "municipal", 2029)
    assert on_the_day["status"] == "succeeded"
    # The ledger's own calendar may have run the same campaign a moment earlier: once in all.
    roux = await find_elu(client, agent, "Roux", "Anne", date(1972, 2, 2))
    account = (await client.get(f"/v1/accounts/{roux['elu_id']}", headers=agent)).json()
    assert account["balance_cents"] == 40_000


@pytest.mark.parametrize(
    "body",
    [
        {"family": "municipal", "year": 2026.0},
        {"family": "municipal", "year": "2026"},
        {"family": "municipal", "year": True},
        {"family": "municipal", "year": 2026, "extra": 1},
    ],
)
async def test_a_campaign_year_is_a_json_integer_R_ACC_3(
    client: httpx.AsyncClient, agent: dict[str, str], body: dict[str, object]
) -> None:
    response = await client.post("/v1/accrual-campaigns", json=body, headers=agent)
    assert response.status_code == 422, response.text


async def test_a_token_with_elu_and_ops_roles_reads_no_other_elus_account_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    elu = await find_elu(client, agent, "Dupont", "Elise", date(1961, 3, 5))
    two_roles = bearer("elu", "ops", sub="someone-else")
    for path in (
        f"/v1/accounts/{elu['elu_id']}",
        f"/v1/accounts/{elu['elu_id']}/movements",
        f"/v1/accounts/{elu['elu_id']}/holds",
        f"/v1/elus/{elu['elu_id']}",
    ):
        assert (await client.get(path, headers=two_roles)).status_code == 403, path


async def test_the_balance_read_answers_by_its_shortcut_exactly_what_the_route_answers_R_ACC_2(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    """Issue 17: the hot read's 200 skips FastAPI's routing (servicekit.shortcuts); a query string sends the
    same request through the route, so the two answers can be compared byte for byte."""
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    activated = await _activate(client, bearer, "fc-dupont")
    elu_id = activated.json()["elu_id"]
    labels = {"service": "rights-ledger", "route": "/v1/accounts/{elu_id}"}
    before = REGISTRY.get_sample_value("dife_read_shortcut_answers_total", labels) or 0.0

    for headers in (bearer("elu", sub="fc-dupont"), agent):
        by_shortcut = await client.get(f"/v1/accounts/{elu_id}", headers=headers)
        by_route = await client.get(f"/v1/accounts/{elu_id}?through=route", headers=headers)
        assert by_shortcut.status_code == by_route.status_code == 200
        assert by_shortcut.content == by_route.content
        assert by_shortcut.json()["cap_cents"] == 80_000

    assert REGISTRY.get_sample_value("dife_read_shortcut_answers_total", labels) == before + 2
