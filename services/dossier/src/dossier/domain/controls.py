"""Controls of a declared service done by a CDC agent (R-DOS-4): quality or fraud checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from servicekit.rules import Conflict


class ControlKind(StrEnum):
    QUALITY = "quality"
    FRAUD = "fraud"


class ControlStatus(StrEnum):
    OPEN = "open"
    VALIDATED = "validated"
    REJECTED = "rejected"


@dataclass
class Control:
    control_id: UUID
    dossier_id: UUID
    kind: ControlKind
    reason: str
    opened_by: str
    opened_at: datetime
    status: ControlStatus = ControlStatus.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None

    def decide(self, *, outcome: ControlStatus, by: str, at: datetime, reason: str) -> None:
        """R-DOS-4: a control ends once, by validating or rejecting the service done."""
        if self.status is not ControlStatus.OPEN:
            raise Conflict(f"the control was already decided ({self.status})", rule_id="R-DOS-4")
        if outcome is ControlStatus.OPEN:
            raise ValueError("a decision is validated or rejected")
        self.status, self.decided_by, self.decided_at, self.decision_reason = outcome, by, at, reason
