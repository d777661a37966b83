"""The ledger's facts funding keeps locally: each élu's available DIFE and mandates (R-FUN-1, R-FUN-2)."""

from __future__ import annotations

from collections.abc import Sequence

from dife_contracts.events import Mandate
from dife_contracts.events.ledger import LedgerEvent

from funding.domain.balances import balance_change
from funding.use_cases.ports import Funding


async def apply_balance_event(funding: Funding, event: LedgerEvent) -> None:
    change = balance_change(event)
    if change is not None:
        await funding.balances.apply(event.elu_id, change)


async def replace_mandates(funding: Funding, event: LedgerEvent, mandates: Sequence[Mandate]) -> None:
    await funding.mandates.replace(
        event.elu_id, [(m.collectivite_code, m.start_date, m.end_date) for m in mandates]
    )
