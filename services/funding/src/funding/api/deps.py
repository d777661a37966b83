"""Dependencies of funding's routers: the use cases' ports bound to the request's transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from servicekit.api import SessionDep

from funding.use_cases.ports import Funding


def _funding(request: Request, session: SessionDep) -> Funding:
    funding: Funding = request.app.state.funding_for(session)
    return funding


FundingDep = Annotated[Funding, Depends(_funding)]
