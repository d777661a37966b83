"""Dependencies of funding's routers: the app's typed state and the use cases' ports bound to the request's
transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from servicekit.api import SessionDep
from servicekit.state import state_of
from sqlalchemy.ext.asyncio import AsyncSession

from funding.use_cases.ports import Funding


@dataclass(frozen=True)
class FundingState:
    """The typed state of funding's app (built by `create_app`, reachable by `state_of(FundingState)`)."""

    funding_for: Callable[[AsyncSession], Funding]
    psp_secrets: list[str]


StateDep = Annotated[FundingState, Depends(state_of(FundingState))]


def _funding(state: StateDep, session: SessionDep) -> Funding:
    return state.funding_for(session)


FundingDep = Annotated[Funding, Depends(_funding)]
