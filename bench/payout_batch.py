"""Benchmark: a daily batch built in the database, as the service does it — payable payments selected and
locked, bank details decrypted, the pain.001 built and XSD-validated, the batch, its transfers (encrypted
file) and the payments recorded in one transaction. Prints the seconds; never a timed assertion.

    uv run python bench/payout_batch.py [count]   # the local stack's URLs through common.stack_env
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from common import scratch_stack
from payout.adapters.repository import BankDetailsRepository, BatchRepository, PaymentRepository
from payout.adapters.sepa import Debtor
from payout.adapters.vault import Vault
from payout.domain.payees import BankDetails
from payout.domain.payments import Payment
from payout.settings import DEV_FUND_BIC, DEV_FUND_IBAN, DEV_IBAN_KEY
from payout.use_cases import batching
from servicekit.db import make_engine, make_sessionmaker
from servicekit.migrations import upgrade_to_head

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services" / "payout" / "alembic.ini"
NOW = datetime(2027, 1, 15, 5, tzinfo=UTC)


async def main(count: int) -> None:
    async with scratch_stack("payout") as scratch:
        await measure(count, scratch.database_url)


async def measure(count: int, url: str) -> None:
    engine = make_engine(url)
    try:
        await asyncio.to_thread(upgrade_to_head, ALEMBIC_INI, url)
        vault = Vault(DEV_IBAN_KEY)
        sessions = make_sessionmaker(engine, ce_source="/dife/payout")
        async with sessions.begin() as session:
            payees = BankDetailsRepository(session, vault)
            payments = PaymentRepository(session)
            for i in range(count):
                siret = f"{10_000_000_000_000 + i % 150:014d}"  # ~150 organismes, as in France
                if i < 150:
                    details = BankDetails.propose(
                        siret=siret,
                        iban="FR7630004000000001234567845",
                        bic="BNPAFRPP",
                        holder_name=f"Organisme {i}",
                        entered_by="bench-a",
                        now=NOW,
                    )
                    details.verify(by="bench-b", now=NOW)
                    await payees.add(details)
                await payments.add(
                    Payment.order(
                        dossier_id=uuid.uuid4(),
                        elu_id=uuid.uuid4(),
                        siret=siret,
                        amount_cents=10_000 + i,
                        realisation_percent=100,
                        validated_on=date(2027, 1, 14),
                    ),
                    NOW,
                )
        started = time.perf_counter()
        async with sessions.begin() as session:
            batch = await batching.build_batch(
                PaymentRepository(session),
                BankDetailsRepository(session, vault),
                BatchRepository(session, vault),
                debtor=Debtor("Caisse des Depots - Fonds DIFE", DEV_FUND_IBAN, DEV_FUND_BIC),
                now=NOW,
                today=NOW.date(),
                max_payments=count,
            )
        seconds = time.perf_counter() - started
        assert batch is not None and batch.payment_count == count
        print(
            f"batch of {count} payments built, XSD-validated and recorded in one transaction: {seconds:.2f} s"
        )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
