"""R-ACT-1: an élu reaches an account only through the login its current activation linked; a revocation
stops the same token at once, not when it expires; the rightful élu activates again and gets in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx

from .conftest import CM_HEADER, DUPONT_CLAIMS, DUPONT_NIR, cm_row, csv_file, find_elu, import_rne

Bearer = Callable[..., dict[str, str]]


def _elu_paths(elu_id: str) -> list[str]:
    return [
        f"/v1/accounts/{elu_id}",
        f"/v1/accounts/{elu_id}/movements",
        f"/v1/accounts/{elu_id}/holds",
        f"/v1/elus/{elu_id}",
    ]


async def _activate(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    activated = await client.post("/v1/accounts/activation", json={"nir": DUPONT_NIR}, headers=headers)
    assert activated.status_code == 200, activated.text
    return str(activated.json()["elu_id"])


async def _assert_refused_naming_the_rule(
    client: httpx.AsyncClient, elu_id: str, headers: dict[str, str]
) -> None:
    for path in _elu_paths(elu_id):
        refused = await client.get(path, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"].startswith("R-ACT-1: this login is not linked to this account"), path


async def _assert_reads(client: httpx.AsyncClient, elu_id: str, headers: dict[str, str]) -> None:
    for path in _elu_paths(elu_id):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)


async def test_a_revoked_activation_stops_the_same_token_at_once_and_the_rightful_elu_gets_in_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    wrong = bearer("elu", sub="fc-wrong", **DUPONT_CLAIMS)
    elu_id = await _activate(client, wrong)
    await _assert_reads(client, elu_id, wrong)

    revoked = await client.post(
        f"/v1/accounts/{elu_id}/activation/revocation",
        json={"reason": "wrong login (ticket 7)"},
        headers=agent,
    )
    assert revoked.status_code == 200, revoked.text
    await _assert_refused_naming_the_rule(client, elu_id, wrong)
    with_elu_id_claim = bearer("elu", sub="fc-wrong", elu_id=elu_id)
    await _assert_refused_naming_the_rule(client, elu_id, with_elu_id_claim)

    right = bearer("elu", sub="fc-right", **DUPONT_CLAIMS)
    assert await _activate(client, right) == elu_id
    await _assert_reads(client, elu_id, right)
    await _assert_refused_naming_the_rule(client, elu_id, wrong)


async def test_a_token_naming_the_elu_reads_nothing_until_its_login_activated_the_account_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    elu_id = (await find_elu(client, agent, "Dupont", "Elise", date(1961, 3, 5)))["elu_id"]
    await _assert_refused_naming_the_rule(client, elu_id, bearer("elu", sub=elu_id))
    await _assert_refused_naming_the_rule(client, elu_id, bearer("elu", sub="fc-dupont", elu_id=elu_id))

    await _activate(client, bearer("elu", sub="fc-dupont", **DUPONT_CLAIMS))
    await _assert_reads(client, elu_id, bearer("elu", sub="fc-dupont"))
    await _assert_reads(client, elu_id, bearer("elu", sub="fc-dupont", elu_id=elu_id))
    await _assert_refused_naming_the_rule(client, elu_id, bearer("elu", sub=elu_id))
    other_claim = bearer("elu", sub="fc-dupont", elu_id="00000000-0000-4000-8000-000000000001")
    await _assert_refused_naming_the_rule(client, elu_id, other_claim)
