"""The persisted timers of a dossier: what its status needs is scheduled, everything else cancelled.

Deadline instants are `end_of_paris_day(day)` (R-DOS-1, R-DOS-4). A timer re-checks the rule when it
fires, so a timer left over from an earlier status does nothing.
"""

from __future__ import annotations

from datetime import date
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


TimerDays = dict[str, date | None]
"""The day each timer kind of a dossier fires at the end of (None: that timer is not set)."""

NO_TIMERS: TimerDays = {EXPIRY: None, AUTO_VALIDATION: None}
"""A dossier not yet saved has no timer."""


def timer_days(dossier: Dossier) -> TimerDays:
    """The timers the dossier's status needs: the answer's or the acceptance's deadline (R-DOS-1), the
    automatic validation of service done (R-DOS-4)."""
    running = dossier.running_deadlines()
    return {
        EXPIRY: running.get("answer_by") or running.get("accept_by"),
        AUTO_VALIDATION: running.get("auto_validation_on"),
    }


async def sync_timers(scheduler: Scheduler, dossier: Dossier, *, before: TimerDays | None = None) -> None:
    """Set the timers the dossier's status needs, cancel the others.

    `before`: the timers as they were when the dossier was loaded (its last save set them); only the kinds
    whose day changed since are written. Most steps change no deadline, and each write cost statements in
    this transaction plus a job-runner wake (issue 13). None: write every kind (a timer fired early).
    """
    for kind, day in timer_days(dossier).items():
        if before is not None and before[kind] == day:
            continue
        key = timer_key(kind, dossier.dossier_id)
        if day is None:
            await scheduler.cancel(key)
        else:
            await scheduler.schedule(
                kind, run_after=end_of_paris_day(day), params={"dossier_id": str(dossier.dossier_id)}, key=key
            )
