"""SEPA batches (R-PAY-3): pain.001 validated and read back, pain.002 applied once, rejected payments retried
to newly verified details only, batches built in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from dife_contracts.enums import FundingSource
from payout.adapters.repository import BankDetailsRepository, BatchRepository, PaymentRepository
from payout.adapters.sepa import parse_pain001, validate_pain001
from payout.domain.allocation import PlanLine
from payout.use_cases import batching

from .conftest import BICS, IBANS, Payout, pain002


async def build(payout: Payout) -> dict[str, Any]:
    response = await payout.client.post("/v1/payment-batches", headers=payout.ops())
    assert response.status_code == 201, response.text
    return dict(response.json()["batch"])


async def release(payout: Payout, batch_id: str) -> None:
    response = await payout.client.post(f"/v1/payment-batches/{batch_id}/release", headers=payout.agent())
    assert response.status_code == 200, response.text


async def report(payout: Payout, batch_id: str, document: bytes) -> dict[str, Any]:
    response = await payout.client.post(
        f"/v1/payment-batches/{batch_id}/status-report",
        content=document,
        headers={**payout.ops(), "Content-Type": "application/xml"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_pain001_validates_and_reads_back_every_amount_iban_and_end_to_end_id_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    sirets = [siret(), siret(), siret()]
    for of, iban, bic in zip(sirets, IBANS, BICS, strict=True):
        await payout.verified_payee(of, iban=iban, bic=bic)
    dossiers = [
        await payout.order(sirets[0], price_cents=80_000, percent=70),
        await payout.order(sirets[1], price_cents=100_150, percent=33),
        await payout.order(sirets[2], price_cents=12_345, percent=100),
    ]
    batch = await build(payout)
    assert (batch["payment_count"], batch["total_cents"]) == (3, 56_000 + 33_050 + 12_345)
    response = await payout.client.get(f"/v1/payment-batches/{batch['id']}/file", headers=payout.ops())
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    validate_pain001(response.content)
    parsed = parse_pain001(response.content)
    assert parsed.message_id == batch["message_id"]
    assert parsed.control_sum_cents == batch["total_cents"]
    payments = {p["dossier_id"]: p for p in await payout.payments()}
    read_back = {(t.end_to_end_id, t.amount_cents, t.iban) for t in parsed.transfers}
    expected = {
        (payments[str(d)]["end_to_end_id"], payments[str(d)]["amount_cents"], iban)
        for d, iban in zip(dossiers, IBANS, strict=True)
    }
    assert read_back == expected
    assert all(
        t.end_to_end_id.startswith(d.hex)
        for t, d in zip(
            sorted(parsed.transfers, key=lambda t: t.end_to_end_id),
            sorted(dossiers, key=lambda d: d.hex),
            strict=True,
        )
    )


async def test_pain002_with_accepted_rejected_and_unknown_is_applied_once_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    accepted_of, rejected_of = siret(), siret()
    await payout.verified_payee(accepted_of, iban=IBANS[0])
    await payout.verified_payee(rejected_of, iban=IBANS[1], bic=BICS[1])
    accepted_dossier = await payout.order(accepted_of, price_cents=50_000)
    rejected_dossier = await payout.order(rejected_of, price_cents=30_000)
    batch = await build(payout)
    early = await payout.client.post(
        f"/v1/payment-batches/{batch['id']}/status-report",
        content=pain002(batch["message_id"], []),
        headers={**payout.ops(), "Content-Type": "application/xml"},
    )
    assert early.status_code == 409, early.text  # a report answers a released batch only
    await release(payout, batch["id"])
    accepted = await payout.payment_of(accepted_dossier)
    rejected = await payout.payment_of(rejected_dossier)
    assert accepted["status"] == rejected["status"] == "sent"
    document = pain002(
        batch["message_id"],
        [
            (accepted["end_to_end_id"], "ACSC", None),
            (rejected["end_to_end_id"], "RJCT", "AC04"),
            ("00000000000000000000000000000000-1", "ACSC", None),
        ],
    )
    first = await report(payout, batch["id"], document)
    assert (first["accepted"], first["rejected"], first["unchanged"]) == (1, 1, 0)
    assert first["unknown_end_to_end_ids"] == ["00000000000000000000000000000000-1"]
    settled = await payout.payment_of(accepted_dossier)
    assert settled["status"] == "settled" and settled["settled_cents"] == settled["amount_cents"] == 50_000
    returned = await payout.payment_of(rejected_dossier)
    assert returned["status"] == "rejected" and returned["rejection_reason"] == "AC04"
    second = await report(payout, batch["id"], document)
    assert (second["accepted"], second["rejected"], second["unchanged"]) == (0, 0, 2)
    assert await payout.payment_of(accepted_dossier) == settled
    assert await payout.payment_of(rejected_dossier) == returned
    # The rejected payment waits for new verified details: nothing to batch until then, then a new attempt.
    nothing = await payout.client.post("/v1/payment-batches", headers=payout.ops())
    assert nothing.status_code == 200 and nothing.json()["batch"] is None
    await payout.verified_payee(rejected_of, iban=IBANS[2], bic=BICS[2])
    retry = await build(payout)
    assert retry["payment_count"] == 1
    again = await payout.payment_of(rejected_dossier)
    assert again["status"] == "batched" and again["end_to_end_id"] == f"{rejected_dossier.hex}-2"
    retry_file = parse_pain001(
        (await payout.client.get(f"/v1/payment-batches/{retry['id']}/file", headers=payout.ops())).content
    )
    assert [(t.iban, t.amount_cents) for t in retry_file.transfers] == [(IBANS[2], 30_000)]


async def test_a_report_for_another_message_or_not_xml_is_refused_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    await payout.verified_payee(of)
    await payout.order(of)
    batch = await build(payout)
    await release(payout, batch["id"])
    for body in (
        pain002("DIFE-OTHER", []),
        b"<not-xml",
        b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>",
        b"\x00\x01",
    ):
        response = await payout.client.post(
            f"/v1/payment-batches/{batch['id']}/status-report",
            content=body,
            headers={**payout.ops(), "Content-Type": "application/xml"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["rules"][0]["id"] == "R-PAY-3"


async def test_a_crash_before_the_batch_is_recorded_loses_and_duplicates_nothing_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    await payout.verified_payee(of)
    dossiers = [await payout.order(of, price_cents=10_000 + i) for i in range(3)]
    state = payout.app.state.kit.service

    class Crash(Exception):
        pass

    try:
        async with payout.app.state.kit.sessionmaker.begin() as session:
            built = await batching.build_batch(
                PaymentRepository(session),
                BankDetailsRepository(session, state.vault),
                BatchRepository(session, state.vault),
                debtor=state.debtor,
                now=payout.clock.now(),
                today=payout.clock.today(),
                max_payments=100,
            )
            assert built is not None and built.payment_count == 3
            raise Crash  # the process dies before the commit
    except Crash:
        pass
    assert [(await payout.payment_of(d))["status"] for d in dossiers] == ["due"] * 3
    listed = await payout.client.get("/v1/payment-batches", headers=payout.ops())
    assert listed.json()["items"] == []
    batch = await build(payout)
    assert batch["payment_count"] == 3
    assert {(await payout.payment_of(d))["batch_id"] for d in dossiers} == {batch["id"]}
    nothing = await payout.client.post("/v1/payment-batches", headers=payout.ops())
    assert nothing.json()["batch"] is None


async def test_overdue_payments_are_listed_the_day_after_their_deadline_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    dossier = await payout.order(of, validated_on=date(2027, 1, 14))
    payout.clock.set_paris(date(2027, 2, 13))  # the deadline day itself
    assert str(dossier) not in [p["dossier_id"] for p in await payout.payments(overdue="true")]
    payout.clock.set_paris(date(2027, 2, 14))
    overdue = [p for p in await payout.payments(overdue="true") if p["dossier_id"] == str(dossier)]
    assert overdue and overdue[0]["overdue"] is True and overdue[0]["deadline"] == "2027-02-13"


async def test_an_organisme_sees_only_its_own_payments(payout: Payout, siret: Callable[[], str]) -> None:
    mine, theirs = siret(), siret()
    my_dossier = await payout.order(mine)
    await payout.order(theirs)
    own = await payout.client.get("/v1/payments", headers=payout.organisme(mine))
    assert own.status_code == 200
    assert [p["dossier_id"] for p in own.json()["items"]] == [str(my_dossier)]
    other = await payout.client.get("/v1/payments", params={"siret": theirs}, headers=payout.organisme(mine))
    assert other.status_code == 403
    elu = await payout.client.get(
        "/v1/payments", headers={"Authorization": f"Bearer {payout.token(sub='x', roles=['elu'])}"}
    )
    assert elu.status_code == 403


async def test_a_top_up_and_a_card_refund_are_recorded_with_the_payment_R_PAY_2(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    lines = [
        PlanLine(FundingSource.DIFE, 50_000),
        PlanLine(FundingSource.CPF, 20_000, "CPF-42"),
        PlanLine(FundingSource.ELU_CARD, 10_000, "psp-1"),
    ]
    dossier = await payout.order(of, price_cents=80_000, percent=80, lines=lines)
    payment = await payout.payment_of(dossier)
    assert payment["amount_cents"] == 64_000
    events = await payout.events(
        2, where=lambda e: e.subject == str(dossier) and not e.type.endswith("payment_ordered.v1")
    )
    by_type = {e.type: e.parse() for e in events}
    assert sorted(by_type) == ["dife.payout.dife_capture_requested.v1", "dife.payout.refund_ordered.v1"]
    assert by_type["dife.payout.dife_capture_requested.v1"].amount_cents == 50_000
    assert by_type["dife.payout.refund_ordered.v1"].amount_cents == 10_000


async def test_batches_are_for_ops_and_agents_only(payout: Payout, siret: Callable[[], str]) -> None:
    of = siret()
    await payout.verified_payee(of)
    await payout.order(of)
    batch = await build(payout)
    for path in (
        "/v1/payment-batches",
        f"/v1/payment-batches/{batch['id']}",
        f"/v1/payment-batches/{batch['id']}/file",
    ):
        response = await payout.client.get(path, headers=payout.organisme(of))
        assert response.status_code == 403, path
    assert (await payout.client.post("/v1/payment-batches", headers=payout.organisme(of))).status_code == 403
    assert (await payout.client.get("/v1/payment-batches")).status_code == 401


async def test_building_with_the_same_idempotency_key_replays_the_first_answer(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    await payout.verified_payee(of)
    await payout.order(of)
    headers = {**payout.token_headers("ops", sub="ops-1"), "Idempotency-Key": "build-2027-01-15"}
    first = await payout.client.post("/v1/payment-batches", headers=headers)
    await payout.order(of)  # a new payment after the first build
    again = await payout.client.post("/v1/payment-batches", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    listed = await payout.client.get("/v1/payment-batches", headers=payout.ops())
    assert len(listed.json()["items"]) == 1


async def test_a_status_report_sent_with_an_idempotency_key_is_applied_once_and_replayed(
    payout: Payout, siret: Callable[[], str]
) -> None:
    """Found by the e2e journey: the body was read as a stream, so hashing it for the key was a 500."""
    of = siret()
    await payout.verified_payee(of)
    dossier = await payout.order(of, price_cents=20_000)
    batch = await build(payout)
    await release(payout, batch["id"])
    sent = await payout.payment_of(dossier)
    headers = {**payout.ops(), "Content-Type": "application/xml", "Idempotency-Key": "report-1"}
    document = pain002(batch["message_id"], [(sent["end_to_end_id"], "ACSC", None)])
    first = await payout.client.post(
        f"/v1/payment-batches/{batch['id']}/status-report", content=document, headers=headers
    )
    again = await payout.client.post(
        f"/v1/payment-batches/{batch['id']}/status-report", content=document, headers=headers
    )
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["accepted"] == 1 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await payout.payment_of(dossier))["status"] == "settled"
