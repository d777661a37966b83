"""Bank details (R-PAY-3): four eyes, masking, ownership, no payment to an unverified IBAN."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import BICS, IBANS, Payout


async def propose(payout: Payout, siret: str, headers: dict[str, str], iban: str = IBANS[0]) -> dict:
    response = await payout.client.post(
        f"/v1/organismes/{siret}/bank-details",
        json={"iban": iban, "bic": BICS[0], "holder_name": "Institut X"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_the_same_agent_cannot_verify_their_own_entry_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    entered = await propose(payout, of, payout.agent(sub="agent-alice"))
    own = await payout.client.post(
        f"/v1/bank-details/{entered['id']}/decision",
        json={"decision": "verify"},
        headers=payout.agent("agent-alice"),
    )
    assert own.status_code == 422, own.text
    assert [rule["id"] for rule in own.json()["rules"]] == ["R-PAY-3"]
    other = await payout.client.post(
        f"/v1/bank-details/{entered['id']}/decision",
        json={"decision": "verify"},
        headers=payout.agent("agent-bob"),
    )
    assert other.status_code == 200, other.text
    assert other.json()["status"] == "verified" and other.json()["decided_by"] == "agent-bob"


async def test_an_organisme_cannot_verify_its_own_details_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    entered = await propose(payout, of, payout.organisme(of))
    refused = await payout.client.post(
        f"/v1/bank-details/{entered['id']}/decision",
        json={"decision": "verify"},
        headers=payout.organisme(of),
    )
    assert refused.status_code == 403


async def test_the_iban_is_in_full_for_agents_and_masked_for_the_organisme_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    entered = await propose(payout, of, payout.organisme(of))
    assert entered["iban"] is None and entered["iban_masked"] == "FR76 **** **** **** **** ***7 845"
    own = await payout.client.get(f"/v1/organismes/{of}/bank-details", headers=payout.organisme(of))
    assert own.status_code == 200 and IBANS[0] not in own.text
    agent = await payout.client.get(f"/v1/organismes/{of}/bank-details", headers=payout.agent())
    assert agent.json()[0]["iban"] == IBANS[0]
    queue = await payout.client.get("/v1/bank-details", headers=payout.agent())
    assert entered["id"] in [item["id"] for item in queue.json()]


async def test_an_organisme_sees_only_its_own_bank_details(payout: Payout, siret: Callable[[], str]) -> None:
    mine, theirs = siret(), siret()
    response = await payout.client.get(
        f"/v1/organismes/{theirs}/bank-details", headers=payout.organisme(mine)
    )
    assert response.status_code == 403
    proposed = await payout.client.post(
        f"/v1/organismes/{theirs}/bank-details",
        json={"iban": IBANS[1], "bic": BICS[1], "holder_name": "Fraudeur"},
        headers=payout.organisme(mine),
    )
    assert proposed.status_code == 403


async def test_an_invalid_iban_is_refused_without_echoing_it_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    bad = "FR7630004000000001234567846"
    response = await payout.client.post(
        f"/v1/organismes/{of}/bank-details",
        json={"iban": bad, "bic": "NOTABIC!", "holder_name": "Institut X"},
        headers=payout.organisme(of),
    )
    assert response.status_code == 422, response.text
    assert {rule["id"] for rule in response.json()["rules"]} == {"R-PAY-3"}
    assert bad not in response.text


async def test_no_payment_goes_to_an_unverified_iban_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    verified_of, pending_of = siret(), siret()
    await payout.verified_payee(verified_of)
    await propose(payout, pending_of, payout.organisme(pending_of), iban=IBANS[1])
    await payout.order(verified_of)
    unverified_dossier = await payout.order(pending_of)
    built = await payout.client.post("/v1/payment-batches", headers=payout.ops())
    assert built.status_code == 201, built.text
    assert built.json()["batch"]["payment_count"] == 1
    document = await payout.client.get(
        f"/v1/payment-batches/{built.json()['batch']['id']}/file", headers=payout.ops()
    )
    assert IBANS[1] not in document.text and IBANS[0] in document.text
    waiting = await payout.payment_of(unverified_dossier)
    assert waiting["status"] == "due"


async def test_bad_input_is_a_4xx_problem_never_a_500(payout: Payout, siret: Callable[[], str]) -> None:
    of = siret()
    bodies: list[object] = [
        {"iban": IBANS[0], "bic": BICS[0], "holder_name": "Institut\x00X"},
        {"iban": IBANS[0] + "\x00", "bic": BICS[0], "holder_name": "X"},
        {"iban": 10**40, "bic": BICS[0], "holder_name": "X"},
        {"iban": IBANS[0], "bic": BICS[0], "holder_name": "X" * 100_000},
        [],
    ]
    for body in bodies:
        response = await payout.client.post(
            f"/v1/organismes/{of}/bank-details", json=body, headers=payout.organisme(of)
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    for path in (
        "/v1/payments?limit=10000000000000000000000",
        "/v1/payments?status=lost",
        "/v1/payments?cursor=%00",
        "/v1/fund/position?from=2027-02-30&to=2027-03-01",
        "/v1/payments/not-a-uuid",
        f"/v1/organismes/{of}%00/bank-details",
    ):
        response = await payout.client.get(path, headers=payout.agent())
        assert 400 <= response.status_code < 500, (path, response.text)
