"""The ledger's own state beside servicekit's: settings, clock, hot read path, job wake-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from servicekit.clock import Clock

from rights_ledger.adapters.reads import AccountReader
from rights_ledger.settings import Settings


@dataclass
class LedgerState:
    settings: Settings
    clock: Clock
    account_reader: AccountReader | None = None
    job_wake: asyncio.Event | None = None


def ledger_state(request: Request) -> LedgerState:
    state: LedgerState = request.app.state.ledger
    return state


LedgerDep = Annotated[LedgerState, Depends(ledger_state)]
