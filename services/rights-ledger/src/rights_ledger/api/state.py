"""The ledger's own typed state beside servicekit's (``create_service_app(service_state=...)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from servicekit.clock import Clock
from servicekit.state import KitState, state_of

from rights_ledger.adapters.reads import AccountReader
from rights_ledger.settings import Settings


@dataclass(frozen=True)
class LedgerState:
    settings: Settings
    clock: Clock
    account_reader: AccountReader


def ledger_state(settings: Settings) -> Callable[[KitState], AbstractAsyncContextManager[LedgerState]]:
    """The factory `create_service_app` calls once the kit's pools exist."""

    @asynccontextmanager
    async def build(kit: KitState) -> AsyncIterator[LedgerState]:
        yield LedgerState(settings=settings, clock=kit.clock, account_reader=AccountReader(kit.read_pool))

    return build


LedgerDep = Annotated[LedgerState, Depends(state_of(LedgerState))]
