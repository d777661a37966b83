"""What the catalogue's routers share: the repository and outbox of the request, the clock, and who may act
for an organisme."""

from __future__ import annotations

from typing import Annotated

from dife_contracts.enums import Role
from fastapi import Depends, Header, Request
from servicekit.api import SessionDep
from servicekit.auth import Principal
from servicekit.clock import Clock
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


SELLER_ROLES = frozenset({Role.ORGANISME.value, Role.AGENT.value})


def acting_for_organisme(principal: Principal) -> Guard:
    """Who may act for an organisme, decided by the role that grants access, never by the union of roles:
    the principal is narrowed to the roles these endpoints grant (a non-staff role wins over a staff one),
    then an ``agent`` acts for any organisme and an ``organisme`` for its own SIRET only. ``ops`` grants
    nothing here (it does not open drafts), and an ``organisme`` token holding ``ops`` or ``agent`` as well is
    still that one organisme."""
    return principal.acting_for(SELLER_ROLES).ensure_siret
