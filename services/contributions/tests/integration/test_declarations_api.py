"""Declarations through the API on PostgreSQL and Kafka (R-CON-1…4)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from dife_contracts.events import DeclarationReceived

CSV_HEADER = "nom;prenoms;date_naissance;elu_id;mois;indemnite_brute_cents\r\n"


async def test_a_commune_declares_a_month_and_sees_its_calendar_R_CON_2_R_CON_3(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune, reference_annual_cents=400_000)
    response = await contributions.declare(commune, "2026-03", 123_456, 50)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contribution_cents"] == 1_235 + 1
    assert body["allowances_cents"] == 123_506
    assert body["version"] == 1 and body["periodicity"] == "monthly"
    periods = await contributions.periods(commune)
    assert len(periods) == 12
    assert periods["2026-03"]["declared_cents"] == 1_236
    assert periods["2026-03"]["due_date"] == "2026-04-15"
    assert periods["2026-03"]["status"] == "due"
    assert periods["2026-03"]["creditor_reference"] == body["creditor_reference"]
    (envelope,) = await contributions.events(1, subject=commune, ce_type="declaration_received")
    event = envelope.parse()
    assert isinstance(event, DeclarationReceived)
    assert event.contribution_cents == 1_236 and event.line_count == 2
    assert envelope.source == "/dife/contributions"


async def test_a_syndicat_is_recorded_but_its_declaration_is_refused_R_CON_1(
    contributions: Any, siren: Callable[[], str]
) -> None:
    syndicat = siren()
    registered = await contributions.register(syndicat, type="syndicat")
    assert registered["subject"] is False
    response = await contributions.declare(syndicat, "2026", 100_000)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [rule["id"] for rule in problem["rules"]] == ["R-CON-1"]
    assert "not subject" in problem["detail"]


async def test_a_csv_declaration_is_recorded_R_CON_2(contributions: Any, siren: Callable[[], str]) -> None:
    commune = siren()
    await contributions.register(commune)
    csv = (
        CSV_HEADER
        + "DUPONT;Marie;02/05/1970;;2026-03;123456\r\n"
        + ";;;6f1c1b9e-8a57-4d33-9a53-8f3a6c1e2b10;03/2026;50\r\n"
    )
    response = await contributions.client.post(
        f"/v1/collectivites/{commune}/declarations",
        params={"period": "2026-03"},
        content=csv.encode(),
        headers={**contributions.collectivite(commune), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["contribution_cents"] == 1_236
    assert response.json()["line_count"] == 2


async def test_a_csv_declaration_with_bad_lines_is_not_recorded_and_names_each_line_R_CON_2(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune)
    csv = (
        CSV_HEADER
        + "DUPONT;Marie;02/05/1970;;2026-03;123456\r\n"
        + "MARTIN;Paul;31/02/1960;;2026-03;1000\r\n"
        + "DURAND;Luc;01/01/1955;;2026-04;1000\r\n"
        + "PETIT;Anne;01/01/1955;;2026-03;12,50\r\n"
        + "SEUL;;;;2026-03;100\r\n"
    )
    response = await contributions.client.post(
        f"/v1/collectivites/{commune}/declarations",
        params={"period": "2026-03"},
        content=csv.encode(),
        headers={**contributions.collectivite(commune), "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "NOT recorded" in problem["detail"]
    fields = [rule["field"] for rule in problem["rules"][1:]]
    assert fields == ["line 3", "line 4", "line 5", "line 6"]
    assert {rule["id"] for rule in problem["rules"]} == {"R-CON-2"}
    history = await contributions.client.get(
        f"/v1/collectivites/{commune}/declarations", headers=contributions.agent()
    )
    assert history.json() == []
    assert (await contributions.periods(commune))["2026-03"]["declared_cents"] is None


async def test_a_corrected_declaration_replaces_the_previous_one_with_history_R_CON_4(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune)
    first = await contributions.declare(commune, "2026-03", 100_000)
    second = await contributions.declare(commune, "2026-03", 120_000, 30_000)
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2
    history = await contributions.client.get(
        f"/v1/collectivites/{commune}/declarations",
        params={"period": "2026-03"},
        headers=contributions.collectivite(commune),
    )
    versions = history.json()
    assert [(v["version"], v["contribution_cents"], v["current"]) for v in versions] == [
        (1, 1_000, False),
        (2, 1_500, True),
    ]
    assert versions[0]["id"] == first.json()["id"]
    assert (await contributions.periods(commune))["2026-03"]["declared_cents"] == 1_500
    events = await contributions.events(2, subject=commune, ce_type="declaration_received")
    assert [e.parse().version for e in events] == [1, 2]


@pytest.mark.parametrize(
    ("reference_cents", "periodicity", "first_period", "first_due"),
    [
        (350_001, "monthly", "2026-01", "2026-02-15"),
        (350_000, "quarterly", "2026-Q1", "2026-04-15"),
        (50_000, "quarterly", "2026-Q1", "2026-04-15"),
        (49_999, "yearly", "2026", "2027-01-15"),
    ],
)
async def test_the_calendar_follows_the_last_known_annual_total_at_its_thresholds_R_CON_3(
    contributions: Any,
    siren: Callable[[], str],
    reference_cents: int,
    periodicity: str,
    first_period: str,
    first_due: str,
) -> None:
    commune = siren()
    await contributions.register(commune, reference_annual_cents=reference_cents)
    response = await contributions.client.get(
        f"/v1/collectivites/{commune}/periods", params={"year": 2026}, headers=contributions.agent()
    )
    calendar = response.json()
    assert calendar["periodicity"] == periodicity
    assert calendar["periods"][0]["period"] == first_period
    assert calendar["periods"][0]["due_date"] == first_due


async def test_next_years_calendar_comes_from_this_years_declared_total_R_CON_3(
    contributions: Any, siren: Callable[[], str]
) -> None:
    """Declared 2026 contributions of exactly 500 € make 2027 quarterly, though the reference said yearly."""
    commune = siren()
    await contributions.register(commune, reference_annual_cents=10_000)
    assert (await contributions.declare(commune, "2026", 5_000_000)).status_code == 201
    calendar = await contributions.client.get(
        f"/v1/collectivites/{commune}/periods", params={"year": 2027}, headers=contributions.agent()
    )
    assert calendar.json()["periodicity"] == "quarterly"


async def test_a_period_outside_the_calendar_is_refused_R_CON_3(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune, reference_annual_cents=100_000)  # quarterly
    response = await contributions.declare(commune, "2026-03", 1_000)
    assert response.status_code == 422
    assert response.json()["rules"][0]["id"] == "R-CON-3"
    future = await contributions.declare(commune, "2026-Q3", 1_000)
    assert future.status_code == 422
    assert "not begun" in future.json()["detail"]


async def test_collectivite_b_cannot_read_or_declare_for_a(
    contributions: Any, siren: Callable[[], str]
) -> None:
    a, b = siren(), siren()
    await contributions.register(a)
    await contributions.register(b)
    as_b = contributions.collectivite(b)
    assert (await contributions.declare(a, "2026-03", 1_000, headers=as_b)).status_code == 403
    for path in (
        f"/v1/collectivites/{a}",
        f"/v1/collectivites/{a}/periods",
        f"/v1/collectivites/{a}/declarations",
    ):
        assert (await contributions.client.get(path, headers=as_b)).status_code == 403, path
    assert (
        await contributions.client.get(
            f"/v1/collectivites/{a}/periods", headers=contributions.collectivite(a)
        )
    ).status_code == 200
    elu = {"Authorization": f"Bearer {contributions.token(sub='x', roles=['elu'])}"}
    assert (await contributions.declare(a, "2026-03", 1_000, headers=elu)).status_code == 403
    assert (await contributions.client.get(f"/v1/collectivites/{a}/periods")).status_code == 401
    ops = contributions.ops()
    assert (await contributions.declare(a, "2026-03", 1_000, headers=ops)).status_code == 403
    b_and_ops = {
        "Authorization": f"Bearer {contributions.token(sub=b, roles=['collectivite', 'ops'], siren=b)}"
    }
    assert (await contributions.declare(a, "2026-03", 1_000, headers=b_and_ops)).status_code == 403
    assert (await contributions.declare(b, "2026-03", 1_000, headers=b_and_ops)).status_code == 201


async def test_an_agent_declares_for_a_collectivite_R_CON_2(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune)
    response = await contributions.declare(commune, "2026-03", 1_000, headers=contributions.agent())
    assert response.status_code == 201, response.text


async def test_the_same_idempotency_key_replays_the_first_declaration(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune)
    body = {
        "period": "2026-03",
        "lines": [
            {
                "month": "2026-03",
                "gross_allowance_cents": 1_000,
                "elu_id": "6f1c1b9e-8a57-4d33-9a53-8f3a6c1e2b10",
            }
        ],
    }
    headers = {**contributions.collectivite(commune), "Idempotency-Key": "decl-1"}
    url = f"/v1/collectivites/{commune}/declarations"
    first = await contributions.client.post(url, json=body, headers=headers)
    again = await contributions.client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other = await contributions.client.post(url, json={**body, "period": "2026-02"}, headers=headers)
    assert other.status_code == 409
    history = await contributions.client.get(url, headers=contributions.agent())
    assert len(history.json()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {
            "period": "2026-03",
            "lines": [{"month": "2026-03", "gross_allowance_cents": 10.5, "family_name": "A"}],
        },
        {"period": "2026-03", "lines": [{"month": "2026-03", "gross_allowance_cents": 10**30}]},
        {"period": "2026-03", "lines": [{"month": "2026-03", "gross_allowance_cents": -1}]},
        {"period": "2026-03", "lines": [{"month": "2026-03", "gross_allowance_cents": "100"}]},
        {"period": "2026-3", "lines": []},
        {"period": "2026-03\u0000", "lines": []},
        {
            "period": "2026-03",
            "lines": [{"month": "2026-03", "gross_allowance_cents": 1, "family_name": "\u0000"}],
        },
        [1, 2],
        {
            "period": "2026-03",
            "lines": [{"month": "0000-03", "gross_allowance_cents": 1, "elu_id": str(uuid.uuid4())}],
        },
        {
            "period": "2026-03",
            "lines": [
                {
                    "month": "2026-03",
                    "gross_allowance_cents": 1,
                    "family_name": "A",
                    "given_names": "B",
                    "birth_date": 0,
                }
            ],
        },
    ],
)
async def test_malformed_json_declarations_are_422_not_500(
    contributions: Any, siren: Callable[[], str], body: Any
) -> None:
    commune = siren()
    await contributions.register(commune)
    response = await contributions.client.post(
        f"/v1/collectivites/{commune}/declarations", json=body, headers=contributions.collectivite(commune)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_bad_bodies_are_4xx_not_500(contributions: Any, siren: Callable[[], str]) -> None:
    commune = siren()
    await contributions.register(commune)
    url = f"/v1/collectivites/{commune}/declarations"
    headers = contributions.collectivite(commune)
    not_json = await contributions.client.post(
        url, content=b"{", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    binary = await contributions.client.post(
        url,
        params={"period": "2026-03"},
        content=b"\xff\x00\xfe",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert binary.status_code == 422
    no_period = await contributions.client.post(
        url, content=CSV_HEADER.encode(), headers={**headers, "Content-Type": "text/csv"}
    )
    assert no_period.status_code == 422
    xml = await contributions.client.post(
        url, content=b"<a/>", headers={**headers, "Content-Type": "application/xml"}
    )
    assert xml.status_code == 415
