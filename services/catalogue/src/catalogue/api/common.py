"""What the catalogue's routers share: the repository and outbox of the request, the clock, and who may act
for an organisme."""

from __future__ import annotations

from typing import Annotated

from dife_contracts.enums import Role
from fastapi import Depends, Header, Request
from servicekit.api import SessionDep
from servicekit.auth import Principal
from servicekit.clock import Clock
from servicekit.errors import Forbidden
from servicekit.outbox import SessionOutbox
from servicekit.state import kit_state

from catalogue.adapters.repository import SqlCatalogue
from catalogue.use_cases.ports import Guard


def _repository(session: SessionDep) -> SqlCatalogue:
    return SqlCatalogue(session)


def _outbox(session: SessionDep) -> SessionOutbox:
    return SessionOutbox(session)


def _clock(request: Request) -> Clock:
    return kit_state(request.app).clock


Repository = Annotated[SqlCatalogue, Depends(_repository)]
OutboxDep = Annotated[SessionOutbox, Depends(_outbox)]
ClockDep = Annotated[Clock, Depends(_clock)]


def _idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1 to 255 characters: the same key with the same body returns the first answer; "
            "with another body, 409",
        ),
    ] = None,
) -> str | None:
    return key


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]
"""Documents the header ``servicekit.idempotency.idempotent`` reads from the request (it checks it)."""


def acting_for_organisme(principal: Principal) -> Guard:
    """Who may act for an organisme, decided by the role that grants access, never by the union of roles:
    an ``agent`` for any organisme; an ``organisme`` for its own SIRET only. No other role widens it (an
    ``ops`` role beside an ``organisme`` one is not a pass to another OF's offers; ``ops`` alone is no OF)."""

    def guard(siret: str) -> None:
        if principal.has_role(Role.AGENT):
            return
        if not principal.has_role(Role.ORGANISME):
            raise Forbidden("only the organisme concerned or an agent may act on this organisme's offers")
        if principal.siret != siret:
            raise Forbidden("an organisme may only act on its own offers (SIRET mismatch)")

    return guard
