"""Benchmark: a pain.001.001.09 file of 50,000 credit transfers built with sepaxml and validated against the
official XSD (target ≤ 10 s on one 2-core machine). Prints the seconds; never a timed assertion.

    /work/main/deploy/local/uv run --locked python services/payout/bench_sepa.py [count]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from uuid import uuid4

from payout.adapters.sepa import Debtor, build_pain001, pain001_schema, parse_pain001
from payout.domain.batches import Batch, Transfer, message_id
from payout.domain.payments import end_to_end_id
from payout.settings import DEV_FUND_BIC, DEV_FUND_IBAN

CREDITORS = [
    ("FR7630004000000001234567845", "BNPAFRPP"),
    ("FR7620041000000000012345662", "PSSTFRPP"),
    ("FR7630002000000000065432164", "CRLYFRPPXXX"),
]


def main(count: int) -> None:
    batch_id = uuid4()
    batch = Batch(
        batch_id=batch_id,
        message_id=message_id(batch_id, date(2027, 1, 15)),
        created_at=datetime(2027, 1, 15, 6, tzinfo=UTC),
        execution_date=date(2027, 1, 15),
    )
    for i in range(count):
        iban, bic = CREDITORS[i % len(CREDITORS)]
        dossier = uuid4()
        batch.transfers.append(
            Transfer(
                uuid4(), dossier, end_to_end_id(dossier, 1), 10_000 + i, f"Organisme {i}", iban, bic, uuid4()
            )
        )
    pain001_schema()  # loaded once per process, as in the service
    started = time.perf_counter()
    document = build_pain001(batch, Debtor("Caisse des Depots - Fonds DIFE", DEV_FUND_IBAN, DEV_FUND_BIC))
    seconds = time.perf_counter() - started
    parsed = parse_pain001(document)
    assert len(parsed.transfers) == count
    print(
        f"pain.001.001.09: {count} transfers built and XSD-validated in {seconds:.2f} s "
        f"({len(document) / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
