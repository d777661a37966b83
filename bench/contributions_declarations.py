"""Contributions benchmarks: a declaration of 100,000 lines, a camt.053 statement of 10,000 credits.

Run: ``uv run python services/contributions/bench_contributions.py [--lines N] [--credits N]`` with
``KAFKA_BOOTSTRAP_SERVERS`` and ``DIFE_PG_ADMIN_URL`` set (moved to ``bench/``, it also starts the local stack
through ``bench/common.stack_env`` and writes ``bench/results/contributions.json``).
Targets (DESIGN.md, issue 12): declaration of 100,000 lines validated and recorded ≤ 10 s; camt.053 of
10,000 credits matched ≤ 10 s. Also measured: the daily late sweep over the same collectivités (registered
in January 2025, swept on 16 April 2026: every undeclared period of 15 months turns late). Each figure is
one POST (or one sweep) through the in-process app (ASGI, no network), on a fresh database with the real
migrations, until its transaction committed (events in the outbox).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import Scratch, scratch_stack, write_result
from contributions.app import create_app
from contributions.domain.periods import ContributionPeriod, creditor_reference
from contributions.settings import Settings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from servicekit import devtokens
from servicekit.clock import MovableClock
from servicekit.migrations import upgrade_to_head
from servicekit.testing import run_due_jobs, running_app
from stdnum import luhn

ALEMBIC_INI = next(
    path / "alembic.ini"
    for path in (
        Path(__file__).resolve().parent,
        Path(__file__).resolve().parents[1] / "services" / "contributions",
    )
    if (path / "alembic.ini").exists()
)
ISSUER, AUDIENCE = "dife-bench", "dife"


def siren_of(seed: int) -> str:
    body = f"{30_000_000 + seed:08d}"
    return body + luhn.calc_check_digit(body)


def payroll_csv(lines: int) -> bytes:
    rng = random.Random(2026)
    rows = ["nom;prenoms;date_naissance;elu_id;mois;indemnite_brute_cents"]
    for number in range(lines):
        rows.append(
            f"NOM{number};Prénom{number % 97};"
            f"{1 + number % 28:02d}/{1 + number % 12:02d}/{1940 + number % 60};;2026-03;"
            f"{rng.randint(5_000, 900_000)}"
        )
    return ("\r\n".join(rows) + "\r\n").encode()


def statement(credits: list[tuple[str, str, str | None]]) -> bytes:
    """(amount, remittance text, structured reference) per credit."""
    entries = []
    for number, (amount, remittance, reference) in enumerate(credits, start=1):
        structured = f"<Strd><CdtrRefInf><Ref>{reference}</Ref></CdtrRefInf></Strd>" if reference else ""
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
            f"<BookgDt><Dt>2026-04-10</Dt></BookgDt><AcctSvcrRef>B{number}</AcctSvcrRef><NtryDtls><TxDtls>"
            f"<RltdPties><Dbtr><Pty><Nm>TRESORERIE {number}</Nm></Pty></Dbtr></RltdPties>"
            f"<RmtInf><Ustrd>{remittance}</Ustrd>{structured}</RmtInf></TxDtls></NtryDtls></Ntry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>{uuid.uuid4().hex}</MsgId></GrpHdr><Stmt><Id>BENCH</Id>"
        f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


class Bench:
    def __init__(self, scratch: Scratch) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.database_url = scratch.database_url
        self.settings = Settings(
            environment="test",
            database_url=scratch.database_url,
            kafka_bootstrap_servers=scratch.bootstrap,
            topic_prefix=scratch.topic_prefix,
            topic_partitions=1,
            jwt_public_key_pem=devtokens.public_pem_of(self.private_pem),
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            jobs_enabled=False,
            log_level="WARNING",
        )

    def headers(self, role: str, **claims: Any) -> dict[str, str]:
        token = devtokens.mint_token(
            self.private_pem, sub="bench", roles=[role], issuer=ISSUER, audience=AUDIENCE, **claims
        )
        return {"Authorization": f"Bearer {token}"}


async def timed(
    client: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str], **params: str
) -> tuple[float, Any]:
    started = time.perf_counter()
    response = await client.post(url, content=content, headers=headers, params=params)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 201), response.text[:2000]
    return elapsed, response.json()


async def run(lines: int, credit_count: int) -> dict[str, Any]:
    async with scratch_stack("contributions") as scratch:
        url = scratch.database_url
        await asyncio.to_thread(upgrade_to_head, ALEMBIC_INI, url)
        bench = Bench(scratch)
        clock = MovableClock()
        clock.set_paris(date(2025, 1, 2), 10)
        agent = bench.headers("agent")
        collectivites = credit_count
        sirens = [siren_of(i) for i in range(collectivites)]
        listing = "siren;nom;type;cotisation_annuelle_cents\n" + "".join(
            f"{siren};Commune {i};commune;400000\n" for i, siren in enumerate(sirens)
        )
        app = create_app(bench.settings, clock=clock)
        async with running_app(app) as client:
            client.timeout = httpx.Timeout(600)
            import_s, imported = await timed(
                client, "/v1/collectivites/import", listing.encode(), {**agent, "Content-Type": "text/csv"}
            )
            assert imported["loaded"] == collectivites, imported
            clock.set_paris(date(2026, 4, 2), 10)
            payroll = payroll_csv(lines)
            declare_s, declared = await timed(
                client,
                f"/v1/collectivites/{sirens[0]}/declarations",
                payroll,
                {**bench.headers("collectivite", siren=sirens[0]), "Content-Type": "text/csv"},
                period="2026-03",
            )
            assert declared["line_count"] == lines, declared
            # Declared periods for SIREN + amount matching: a fifth of the collectivités, one small
            # declaration each, written straight to the tables (setting up, not measured).
            by_amount = sirens[1 : 1 + collectivites // 5]
            connection = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                await connection.copy_records_to_table(
                    "periods",
                    records=[
                        (
                            s,
                            "2026-03",
                            2026,
                            "monthly",
                            date(2026, 4, 15),
                            1_234,
                            0,
                            "due",
                            False,
                        )
                        for s in by_amount
                    ],
                    columns=[
                        "siren",
                        "period",
                        "year",
                        "periodicity",
                        "due_date",
                        "declared_cents",
                        "paid_cents",
                        "status",
                        "late_notified",
                    ],
                )
            finally:
                await connection.close()
            march = ContributionPeriod.parse("2026-03")
            by_reference = sirens[1 + len(by_amount) :]
            credits: list[tuple[str, str, str | None]] = [
                ("12.34", f"DIFE ELUS SIREN {s}", None) for s in by_amount
            ]
            unmatched = credit_count // 10
            credits += [
                ("10.00", "cotisation", creditor_reference(s, march))
                for s in by_reference[: credit_count - len(credits) - unmatched]
            ]
            credits += [("99.99", f"VIREMENT {i}", None) for i in range(credit_count - len(credits))]
            random.Random(7).shuffle(credits)
            camt_s, result = await timed(
                client,
                "/v1/bank-statements",
                statement(credits),
                {**agent, "Content-Type": "application/xml"},
            )
            clock.set_paris(date(2026, 4, 16), 0, 5)
            started = time.perf_counter()
            assert await run_due_jobs(app) == 1
            sweep_s = time.perf_counter() - started
            connection = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                late = await connection.fetchval("SELECT count(*) FROM periods WHERE status = 'late'")
            finally:
                await connection.close()
    return {
        "declaration_lines": lines,
        "declaration_s": round(declare_s, 2),
        "declaration_target_s": 10,
        "camt053_credits": credit_count,
        "camt053_matched": result["matched_count"],
        "camt053_s": round(camt_s, 2),
        "camt053_target_s": 10,
        "late_sweep_collectivites": collectivites,
        "late_sweep_periods_marked_late": late,
        "late_sweep_s": round(sweep_s, 2),
        "collectivites_import_rows": collectivites,
        "collectivites_import_s": round(import_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--credits", type=int, default=10_000)
    arguments = parser.parse_args()
    metrics = asyncio.run(run(arguments.lines, arguments.credits))
    write_result(
        "contributions_declarations", metrics, {"lines": arguments.lines, "credits": arguments.credits}
    )


if __name__ == "__main__":
    main()
