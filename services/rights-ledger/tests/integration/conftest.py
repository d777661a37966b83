"""Fixtures of the ledger's integration tests: its real migrations on a fresh PostgreSQL database, the app
running its lifespan (relay, consumers, job runner) on real Kafka, topics of its own per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from dife_contracts import topics
from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit.clock import MovableClock
from servicekit.db import make_engine, make_sessionmaker
from servicekit.testing import Infra, migrate, own_topics, running_app
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
NIR_KEY = "integration-test-nir-key"

DUPONT_NIR = "261037511100538"
"""A valid NIR agreeing with Élise Dupont: woman (2), born in (19)61, in March (03)."""
DUPONT_CLAIMS = {
    "family_name": "DUPONT",
    "given_name": "Élise",
    "birthdate": "1961-03-05",
    "gender": "female",
}
"""What FranceConnect says of Élise Dupont (OpenID Connect claims, forwarded in the token)."""

CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)
CD_HEADER = (
    "Code du département;Libellé du département;Code du canton;Libellé du canton;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)


def cm_row(
    family: str, given: str, birth: str, commune: str = "1001", start: str = "28/06/2020", function: str = ""
) -> str:
    return f"01;Ain;;;{commune};Commune {commune};{family};{given};F;{birth};23;Cadres;{start};{function};;FR"


def cd_row(family: str, given: str, birth: str, start: str = "01/07/2021") -> str:
    return f"01;Ain;0101;Canton 1;{family};{given};M;{birth};23;Cadres;{start};;;FR"


def csv_file(header: str, *rows: str) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
async def ledger_db(fresh_database_url: str) -> str:
    await migrate(ALEMBIC_INI, fresh_database_url)
    return fresh_database_url


@pytest.fixture
async def ledger_topic_prefix(infra: Infra, topic_prefix: str) -> AsyncIterator[str]:
    """Topics of its own per test, so the ledger never answers another test's hold requests (nor another
    service's, in a whole-repository run); deleted when the test ends."""
    async with own_topics(infra, topic_prefix) as prefix:
        yield prefix


@pytest.fixture
def settings(
    ledger_db: str, ledger_topic_prefix: str, kit_overrides: Callable[[str], dict[str, Any]]
) -> Settings:
    """The test's own topics, one partition each, to spare the shared broker."""
    overrides = kit_overrides(ledger_db)
    overrides["topic_prefix"] = ledger_topic_prefix
    overrides["topic_partitions"] = 1
    # Small files in tests reject or end a large share of their lines on purpose; the limits that refuse
    # such snapshots in production are tested with their defaults (test_snapshot_safety.py).
    return Settings(
        **overrides,
        nir_hmac_key=NIR_KEY,
        job_poll_interval_s=0.05,
        import_max_rejected_share=1.0,
        import_max_ended_share=1.0,
    )


TESTS_TODAY = date(2028, 12, 1)
"""The Paris date the app's clock shows by default: after every campaign the tests run (R-ACC-3)."""


@pytest.fixture
def clock() -> MovableClock:
    moved = MovableClock()
    moved.set_paris(TESTS_TODAY, 12)
    return moved


@pytest.fixture
async def client(settings: Settings, clock: MovableClock) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings, clock=clock)) as http:
        yield http


@pytest.fixture
async def engine(ledger_db: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(ledger_db, pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine, ce_source=topics.source_of(topics.LEDGER))


@pytest.fixture
def agent(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    return bearer("agent", sub="agent-007")


async def wait_job(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], timeout_s: float = 60
) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job still {job['status']}"
        await asyncio.sleep(0.05)


async def import_rne(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    body: bytes,
    file_type: str = "cm",
    snapshot: str = "2026-01-15",
    **flags: bool,
) -> Any:
    query = "".join(f"&{name}={str(value).lower()}" for name, value in flags.items())
    response = await client.post(
        f"/v1/registry/imports?file_type={file_type}&snapshot_date={snapshot}{query}",
        content=body,
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return await wait_job(client, f"/v1/registry/imports/{response.json()['id']}", headers)


async def run_campaign(client: httpx.AsyncClient, headers: dict[str, str], family: str, year: int) -> Any:
    response = await client.post(
        "/v1/accrual-campaigns", json={"family": family, "year": year}, headers=headers
    )
    assert response.status_code == 202, response.text
    return await wait_job(client, f"/v1/accrual-campaigns/{response.json()['id']}", headers)


async def find_elu(
    client: httpx.AsyncClient, headers: dict[str, str], family: str, given: str, birth: date
) -> Any:
    response = await client.get(
        "/v1/elus",
        params={"family_name": family, "given_names": given, "birth_date": birth.isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    [elu] = response.json()["items"]
    return elu
