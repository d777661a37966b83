"""What every payout router shares: the service state and role dependencies."""

from __future__ import annotations

from typing import Annotated

from dife_contracts.enums import Role
from fastapi import Depends
from servicekit.auth import Principal, require_roles
from servicekit.errors import Forbidden
from servicekit.state import state_of

from payout.state import PayoutState

StateDep = Annotated[PayoutState, Depends(state_of(PayoutState))]
AgentOnly = Annotated[Principal, Depends(require_roles(Role.AGENT))]
OrganismeOrAgent = Annotated[Principal, Depends(require_roles(Role.ORGANISME, Role.AGENT))]
AgentOrOps = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.OPS))]


def sees_every_organisme(principal: Principal) -> bool:
    """Agents see every organisme's payments and full IBANs; anyone else only their own SIRET, masked."""
    return principal.has_role(Role.AGENT)


def ensure_own_siret(principal: Principal, siret: str) -> None:
    """Agents act on any organisme; an organisme token only on its own SIRET. Only the agent role bypasses
    the check (an `ops` role on an organisme token grants nothing here)."""
    if sees_every_organisme(principal):
        return
    if principal.siret != siret:
        raise Forbidden("an organisme may only access its own bank details and payments (SIRET mismatch)")
