"""The ledger's facts funding keeps locally: each élu's available DIFE and mandates (R-FUN-1, R-FUN-2)."""

from __future__ import annotations

from collections.abc import Sequence

from dife_contracts.events import Mandate
from dife_contracts.events.ledger import LedgerEvent

from funding.domain.balances import next_available
from funding.use_cases.ports import Funding


async def apply_balance_event(funding: Funding, event: LedgerEvent) -> None:
    current = await funding.balances.locked_available(event.elu_id)
    new = next_available(current, event)
    if new != current:
        await funding.balances.set(event.elu_id, new)


async def replace_mandates(funding: Funding, event: LedgerEvent, mandates: Sequence[Mandate]) -> None:
    await funding.mandates.replace(
        event.elu_id, [(m.collectivite_code, m.start_date, m.end_date) for m in mandates]
    )
