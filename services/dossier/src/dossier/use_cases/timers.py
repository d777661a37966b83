"""The persisted timers of a dossier: what its status needs is scheduled, everything else cancelled.

Deadline instants are `end_of_paris_day(day)` (R-DOS-1, R-DOS-4). A timer re-checks the rule when it
fires, so a timer left over from an earlier status does nothing.
"""

from __future__ import annotations

from uuid import UUID

from servicekit.clock import end_of_paris_day

from dossier.domain.dossier import Dossier
from dossier.use_cases.ports import Scheduler

EXPIRY = "dossier.expiry"
"""R-DOS-1: the organisme's answer or the élu's acceptance did not come in time."""

AUTO_VALIDATION = "dossier.auto_validation"
"""R-DOS-4: service done validated automatically unless a control is open."""


def timer_key(kind: str, dossier_id: UUID) -> str:
    return f"{kind}:{dossier_id}"


async def sync_timers(scheduler: Scheduler, dossier: Dossier) -> None:
    running = dossier.running_deadlines()
    expiry_day = running.get("answer_by") or running.get("accept_by")
    for kind, day in ((EXPIRY, expiry_day), (AUTO_VALIDATION, running.get("auto_validation_on"))):
        key = timer_key(kind, dossier.dossier_id)
        if day is None:
            await scheduler.cancel(key)
        else:
            await scheduler.schedule(
                kind, run_after=end_of_paris_day(day), params={"dossier_id": str(dossier.dossier_id)}, key=key
            )
