"""Who may see or act on a dossier, from the role the endpoint grants access by (never from the body)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from servicekit.errors import Forbidden

from dossier.domain.dossier import Actor, Dossier


@dataclass(frozen=True)
class Caller:
    """The verified caller, seen through ONE role: `elu` (own dossiers), `organisme` (its SIRET), `agent`."""

    role: str
    subject: str
    elu_id: UUID | None = None
    siret: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.role, self.subject)

    def owns(self, dossier: Dossier) -> bool:
        if self.role == "elu":
            return self.elu_id is not None and dossier.elu_id == self.elu_id
        if self.role == "organisme":
            return self.siret is not None and dossier.siret == self.siret
        return self.role in ("agent", "ops")

    def ensure_owns(self, dossier: Dossier) -> None:
        if not self.owns(dossier):
            raise Forbidden(f"this dossier is not yours to see or act on as {self.role}")


def ensure_one_owns(callers: list[Caller], dossier: Dossier) -> None:
    """For reads open to several roles: some role of the token must own the dossier by its own rule."""
    if not any(caller.owns(dossier) for caller in callers):
        raise Forbidden("this dossier is not yours to see")
