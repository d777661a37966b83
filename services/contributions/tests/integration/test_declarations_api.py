"""Declarations through the API on PostgreSQL and Kafka (R-CON-1…4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


async def test_a_commune_declares_a_month_and_sees_its_calendar_R_CON_2_R_CON_3(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune = siren()
    await contributions.register(commune, reference_annual_cents=400_000)
    response = await contributions.declare(commune, "2026-03", 123_456, 50)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contribution_cents"] == 1_235 + 1
    assert body["version"] == 1 and body["periodicity"] == "monthly"
    periods = await contributions.periods(commune)
    assert len(periods) == 12
    assert periods["2026-03"]["declared_cents"] == 1_236
    assert periods["2026-03"]["due_date"] == "2026-04-15"
    assert periods["2026-03"]["status"] == "due"
    assert periods["2026-03"]["creditor_reference"] == body["creditor_reference"]
