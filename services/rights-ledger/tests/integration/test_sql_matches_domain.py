"""The set-based SQL of campaigns and expiry runs gives the answers of the domain rules it mirrors
(R-ACC-1..4, R-END-1), on generated élus with random mandates, balances and pensions."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from dife_contracts.enums import MandateFamily
from rights_ledger.domain.mandates import Mandate, credited_in_campaign, expiry_due
from rights_ledger.domain.parameters import CampaignFamily, campaign_date, credit_amount, parameters_at
from rights_ledger.jobs.campaigns import credit_campaign, expire
from servicekit.clock import SystemClock
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

FAMILIES = list(MandateFamily)


Elus = dict[uuid.UUID, tuple[list[Mandate], int, date | None]]


def _random_elus(seed: int, count: int) -> Elus:
    rnd = random.Random(seed)
    elus: Elus = {}
    for _ in range(count):
        mandates = []
        for _ in range(rnd.randint(0, 3)):
            start = date(2019, 1, 1) + timedelta(days=rnd.randrange(0, 8 * 365))
            end = start + timedelta(days=rnd.randrange(0, 6 * 365)) if rnd.random() < 0.5 else None
            mandates.append(Mandate(rnd.choice(FAMILIES), start, end))
        balance = rnd.choice([0, 0, 10_000, 50_000, 79_999, 80_000])
        pension = date(2024, 1, 1) + timedelta(days=rnd.randrange(0, 4 * 365)) if rnd.random() < 0.2 else None
        elus[uuid.uuid4()] = (mandates, balance, pension)
    return elus


async def _load(sessionmaker: async_sessionmaker[AsyncSession], elus: Elus) -> None:
    async with sessionmaker.begin() as session:
        for n, (elu_id, (mandates, balance, pension)) in enumerate(elus.items()):
            await session.execute(
                text(
                    "INSERT INTO elus (elu_id, family_name, given_names, family_key, given_key, birth_date,"
                    " pension_liquidated_on) VALUES (:id, 'N', 'P', :key, 'P', '1960-01-01', :pension)"
                ),
                {"id": elu_id, "key": f"N{n}", "pension": pension},
            )
            await session.execute(
                text("INSERT INTO accounts (elu_id, cap_cents, balance_cents) VALUES (:id, 80000, :balance)"),
                {"id": elu_id, "balance": balance},
            )
            for i, mandate in enumerate(mandates):
                await session.execute(
                    text(
                        "INSERT INTO mandates (mandate_id, elu_id, file_type, family, collectivite_code,"
                        " start_date, end_date)"
                        " VALUES (gen_random_uuid(), :id, 'cm', :family, :code, :start, :end)"
                    ),
                    {
                        "id": elu_id,
                        "family": mandate.mandate_type.value,
                        "code": str(i),
                        "start": mandate.start,
                        "end": mandate.end,
                    },
                )


async def test_campaign_sql_credits_whom_and_what_the_domain_says_R_ACC_1_R_ACC_2_R_ACC_3(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    elus = _random_elus(2026, 300)
    await _load(sessionmaker, elus)
    for family in CampaignFamily:
        await credit_campaign(
            sessionmaker,
            SystemClock(),
            campaign_id=uuid.uuid4(),
            family=family,
            year=2026,
            chunk_elus=37,
            workers=3,
        )
    async with sessionmaker() as session:
        rows = (await session.execute(text("SELECT elu_id, family, amount_cents FROM credits"))).all()
    credited = {r.elu_id: (r.family, r.amount_cents) for r in rows}

    expected: dict[uuid.UUID, tuple[str, int]] = {}
    for elu_id, (mandates, balance, _) in elus.items():
        for family in CampaignFamily:
            if elu_id not in expected and credited_in_campaign(mandates, family, 2026):
                rights = parameters_at(campaign_date(family, 2026))
                expected[elu_id] = (family.value, credit_amount(balance, rights))
    assert credited == expected


async def test_expiry_sql_expires_whom_the_domain_says_R_END_1(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    elus = _random_elus(1789, 300)
    await _load(sessionmaker, elus)
    as_of = date(2026, 10, 1)
    await expire(sessionmaker, SystemClock(), as_of)
    async with sessionmaker() as session:
        rows = (
            await session.execute(text("SELECT elu_id, amount_cents FROM movements WHERE kind = 'expiry'"))
        ).all()
    expired = {r.elu_id: r.amount_cents for r in rows}
    expected = {
        elu_id: balance
        for elu_id, (mandates, balance, pension) in elus.items()
        if balance > 0 and expiry_due(mandates, pension, as_of)
    }
    assert expired == expected
