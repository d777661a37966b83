"""Payments by API and by camt.053 statement, unmatched credits, late periods (R-CON-3, R-CON-4)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

from dife_contracts.events import PaymentReceived, PeriodLate, PeriodSettled
from prometheus_client import REGISTRY
from sqlalchemy import text


async def declared_march(contributions: Any, siren: Callable[[], str], *amounts: int) -> tuple[str, str]:
    """A monthly commune with its March 2026 declaration; returns its SIREN and the RF reference."""
    commune = siren()
    await contributions.register(commune, reference_annual_cents=400_000)
    response = await contributions.declare(commune, "2026-03", *amounts)
    assert response.status_code == 201, response.text
    return commune, response.json()["creditor_reference"]


async def pay(contributions: Any, commune: str, cents: int, period: str = "2026-03") -> Any:
    return await contributions.client.post(
        f"/v1/collectivites/{commune}/payments",
        json={"period": period, "amount_cents": cents, "received_on": "2026-04-10"},
        headers=contributions.agent(),
    )


async def test_payments_by_api_walk_through_each_status_with_events_R_CON_4(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune, _ = await declared_march(contributions, siren, 100_000)  # 1,000 cents due
    statuses = []
    for cents in (400, 600, 1):
        response = await pay(contributions, commune, cents)
        assert response.status_code == 201, response.text
        statuses.append(response.json()["period"]["status"])
    assert statuses == ["partially_paid", "paid", "overpaid"]
    settled = await contributions.events(3, subject=commune, ce_type="period_settled")
    assert [(e.parse().status.value, e.parse().paid_cents) for e in settled] == [
        ("partially_paid", 400),
        ("paid", 1_000),
        ("overpaid", 1_001),
    ]
    received = await contributions.events(3, subject=commune, ce_type="payment_received")
    assert all(isinstance(e.parse(), PaymentReceived) for e in received)


async def test_payments_are_for_agents_only(contributions: Any, siren: Callable[[], str]) -> None:
    commune, _ = await declared_march(contributions, siren, 100_000)
    response = await contributions.client.post(
        f"/v1/collectivites/{commune}/payments",
        json={"period": "2026-03", "amount_cents": 1_000, "received_on": "2026-04-10"},
        headers=contributions.collectivite(commune),
    )
    assert response.status_code == 403
    zero = await pay(contributions, commune, 0)
    assert zero.status_code == 422


async def test_a_statement_with_matched_partial_and_unmatched_credits_R_CON_4(
    contributions: Any, siren: Callable[[], str], camt: Callable[..., bytes]
) -> None:
    full, full_ref = await declared_march(contributions, siren, 100_000)  # 10.00 € due
    partial, partial_ref = await declared_march(contributions, siren, 200_000)  # 20.00 € due
    by_siren, _ = await declared_march(contributions, siren, 300_000)  # 30.00 € due
    wrong_amount, _ = await declared_march(contributions, siren, 400_000)  # 40.00 € due
    statement = camt(
        {"amount": "10.00", "ref": full_ref},
        {"amount": "5.5", "text": f"cotisation DIFE {partial_ref[:4]} {partial_ref[4:]}"},
        {"amount": "30.00", "text": f"DIFE ELUS SIREN {by_siren} MARS"},
        {"amount": "39.99", "text": f"DIFE {wrong_amount}"},
        {"amount": "12.00", "text": "VIREMENT SANS REFERENCE"},
        {"amount": "99.00", "sign": "DBIT", "text": "frais"},
        {"amount": "77.00", "status": "PDNG", "ref": full_ref},
    )
    response = await contributions.client.post(
        "/v1/bank-statements",
        content=statement,
        headers={**contributions.ops(), "Content-Type": "application/xml"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["credit_count"], body["matched_count"], body["replayed"]) == (5, 3, False)
    outcome = [(c["siren"], c["period"], c["matched_by"], c["period_status"]) for c in body["credits"]]
    assert outcome == [
        (full, "2026-03", "reference", "paid"),
        (partial, "2026-03", "reference", "partially_paid"),
        (by_siren, "2026-03", "siren_and_amount", "paid"),
        (wrong_amount, None, None, None),
        (None, None, None, None),
    ]
    assert (await contributions.periods(partial))["2026-03"]["paid_cents"] == 550
    unmatched = await contributions.client.get("/v1/bank-credits/unmatched", headers=contributions.agent())
    listed = sorted(unmatched.json()["items"], key=lambda c: -c["amount_cents"])  # same day: by id
    assert [(c["amount_cents"], c["siren"]) for c in listed] == [(3_999, wrong_amount), (1_200, None)]
    assert "no declared period has this amount" in listed[0]["unmatched_reason"]

    assigned = await contributions.client.post(
        f"/v1/bank-credits/{listed[0]['id']}/assignment",
        json={"siren": wrong_amount, "period": "2026-03"},
        headers=contributions.agent(),
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["paid_cents"], assigned.json()["status"]) == (3_999, "partially_paid")
    again = await contributions.client.post(
        f"/v1/bank-credits/{listed[0]['id']}/assignment",
        json={"siren": wrong_amount, "period": "2026-03"},
        headers=contributions.agent(),
    )
    assert again.status_code == 409
    left = await contributions.client.get("/v1/bank-credits/unmatched", headers=contributions.agent())
    assert [c["amount_cents"] for c in left.json()["items"]] == [1_200]
    (settled,) = await contributions.events(1, subject=full, ce_type="period_settled")
    event = settled.parse()
    assert isinstance(event, PeriodSettled) and event.status.value == "paid" and event.paid_cents == 1_000


async def test_the_same_statement_imported_twice_changes_nothing_R_CON_4(
    contributions: Any, siren: Callable[[], str], camt: Callable[..., bytes]
) -> None:
    commune, reference = await declared_march(contributions, siren, 100_000)
    statement = camt(
        {"amount": "4.00", "ref": reference}, {"amount": "1.00", "text": "?"}, message_id="MSG-A"
    )
    headers = {**contributions.agent(), "Content-Type": "application/xml"}
    first = await contributions.client.post("/v1/bank-statements", content=statement, headers=headers)
    second = await contributions.client.post("/v1/bank-statements", content=statement, headers=headers)
    assert first.status_code == 201 and second.status_code == 200, second.text
    assert second.json()["replayed"] is True
    assert second.json()["id"] == first.json()["id"]
    assert (await contributions.periods(commune))["2026-03"]["paid_cents"] == 400
    # the same credits again in another statement message (an overlapping export) are skipped too
    overlap = camt({"amount": "4.00", "ref": reference}, message_id="MSG-B")
    third = await contributions.client.post("/v1/bank-statements", content=overlap, headers=headers)
    assert third.status_code == 201 and third.json()["already_recorded"] == 1
    assert (await contributions.periods(commune))["2026-03"]["paid_cents"] == 400
    async with contributions.sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM payments")) == 1
        assert await session.scalar(text("SELECT count(*) FROM bank_credits")) == 2


async def test_a_malformed_statement_is_refused_naming_the_element_and_nothing_is_recorded_R_CON_4(
    contributions: Any, siren: Callable[[], str], camt: Callable[..., bytes]
) -> None:
    commune, reference = await declared_march(contributions, siren, 100_000)
    headers = {**contributions.agent(), "Content-Type": "application/xml"}
    bad_amount = camt({"amount": "4.00", "ref": reference}, {"amount": "12,50", "text": "x"})
    response = await contributions.client.post("/v1/bank-statements", content=bad_amount, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["rules"][0]["field"] == "Stmt[1]/Ntry[2]/Amt"
    dollars = camt({"amount": "4.00", "ref": reference, "currency": "USD"})
    refused = await contributions.client.post("/v1/bank-statements", content=dollars, headers=headers)
    assert refused.status_code == 422 and "EUR" in refused.json()["detail"]
    for broken in (
        b"<Document",
        b"not xml",
        camt().replace(b"<MsgId>", b"<Other>").replace(b"</MsgId>", b"</Other>"),
    ):
        answer = await contributions.client.post("/v1/bank-statements", content=broken, headers=headers)
        assert answer.status_code == 422, answer.text
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&x;</Document>'
    )
    assert (
        await contributions.client.post("/v1/bank-statements", content=xxe, headers=headers)
    ).status_code == 422
    assert (await contributions.periods(commune))["2026-03"]["paid_cents"] == 0
    async with contributions.sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM bank_statements")) == 0
        assert await session.scalar(text("SELECT count(*) FROM bank_credits")) == 0
    as_commune = {**contributions.collectivite(commune), "Content-Type": "application/xml"}
    assert (
        await contributions.client.post("/v1/bank-statements", content=bad_amount, headers=as_commune)
    ).status_code == 403


async def test_periods_turn_late_after_their_due_date_once_and_are_listed_R_CON_3(
    contributions: Any, siren: Callable[[], str]
) -> None:
    contributions.clock.set_paris(date(2026, 1, 5))
    unpaid, paid = siren(), siren()
    for commune in (unpaid, paid):
        await contributions.register(commune, reference_annual_cents=400_000)
    contributions.clock.set_paris(date(2026, 4, 2))
    for commune in (unpaid, paid):
        assert (await contributions.declare(commune, "2026-03", 100_000)).status_code == 201
    assert (await pay(contributions, paid, 1_000)).status_code == 201
    contributions.clock.set_paris(date(2026, 4, 15), 23)
    assert await contributions.run_due_jobs() == 1  # the sweep scheduled at start
    assert (await contributions.periods(unpaid))["2026-03"]["status"] == "due"
    contributions.clock.set_paris(date(2026, 4, 16), 0, 4)
    assert await contributions.run_due_jobs() == 0  # the next sweep is at 00:05
    contributions.clock.set_paris(date(2026, 4, 16), 0, 5)
    assert await contributions.run_due_jobs() == 1
    contributions.clock.set_paris(date(2026, 4, 17), 0, 5)
    assert await contributions.run_due_jobs() == 1
    march = (await contributions.periods(unpaid))["2026-03"]
    assert march["status"] == "late"
    assert (await contributions.periods(paid))["2026-03"]["status"] == "paid"
    # January and February (due after the registration) were never declared: late as well
    assert (await contributions.periods(unpaid))["2026-02"]["status"] == "late"
    late = await contributions.events(1, subject=unpaid, ce_type="period_late")
    march_late = [e.parse() for e in late if e.parse().period == "2026-03"]
    assert len(march_late) == 1
    assert isinstance(march_late[0], PeriodLate) and march_late[0].outstanding_cents == 1_000
    everything = await contributions.events(3, subject=unpaid, ce_type="period_late")
    assert sorted(e.parse().period for e in everything) == ["2026-01", "2026-02", "2026-03"]
    late_now = await contributions.client.get(
        "/v1/periods", params={"status": "late", "limit": 500}, headers=contributions.agent()
    )
    # the gauge the PeriodsLate alert reads counts, after each sweep, every late period of the database
    assert REGISTRY.get_sample_value("contributions_periods_late") == len(late_now.json()["items"])

    listed = await contributions.client.get(
        "/v1/periods", params={"status": "late", "limit": 500}, headers=contributions.agent()
    )
    assert listed.status_code == 200
    mine = [p for p in listed.json()["items"] if p["siren"] == unpaid]
    assert [p["period"] for p in mine] == ["2026-01", "2026-02", "2026-03"]
    as_csv = await contributions.client.get(
        "/v1/periods", params={"status": "late", "format": "csv", "limit": 500}, headers=contributions.ops()
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text), delimiter=";"))
    assert {row["period"] for row in rows if row["siren"] == unpaid} == {"2026-01", "2026-02", "2026-03"}
    forbidden = await contributions.client.get("/v1/periods", headers=contributions.collectivite(unpaid))
    assert forbidden.status_code == 403


async def test_the_late_csv_neutralises_formulas(start_contributions: Any, siren: Callable[[], str]) -> None:
    async with start_contributions(today=date(2026, 1, 2)) as contributions:
        commune = siren()
        response = await contributions.client.post(
            "/v1/collectivites",
            json={
                "siren": commune,
                "name": '=HYPERLINK("http://x")',
                "type": "commune",
                "reference_annual_cents": 400_000,
            },
            headers=contributions.agent(),
        )
        assert response.status_code == 201
        assert (await contributions.declare(commune, "2026-01", 1_000)).status_code == 201
        contributions.clock.set_paris(date(2026, 2, 16))
        assert await contributions.run_due_jobs() == 1
        as_csv = await contributions.client.get(
            "/v1/periods", params={"status": "late"}, headers={**contributions.agent(), "Accept": "text/csv"}
        )
        rows = list(csv.DictReader(io.StringIO(as_csv.text), delimiter=";"))
        assert [(row["period"], row["name"]) for row in rows] == [("2026-01", '\'=HYPERLINK("http://x")')]
