"""The dossier's state machine in one table: `(status, action) -> status` (EDOF statuses, DOMAIN.md §3).

Anything not in `TRANSITIONS` is refused with `InvalidTransition`, which names the current status and the
actions it allows (HTTP 409). Actions that keep the status (opening a control, evaluating) are in the
table too, so that "what may happen now" is answered by this one table.
"""

from __future__ import annotations

from enum import StrEnum

from dife_contracts.enums import DossierStatus as S
from servicekit.rules import InvalidTransition


class Action(StrEnum):
    SUBMIT = "submit"
    """Creates the dossier (R-DOS-2); never allowed on an existing one."""
    VALIDATE = "validate"
    REFUSE_BY_ORGANISME = "refuse_by_organisme"
    ACCEPT = "accept"
    REFUSE_BY_ELU = "refuse_by_elu"
    EXPIRE = "expire"
    CANCEL_BY_ELU = "cancel_by_elu"
    CANCEL_BY_ORGANISME = "cancel_by_organisme"
    CANCEL_BY_FINANCER = "cancel_by_financer"
    DECLARE_NO_SHOW = "declare_no_show"
    DECLARE_ENTRY = "declare_entry"
    DECLARE_EXIT = "declare_exit"
    DECLARE_SERVICE_DONE = "declare_service_done"
    OPEN_CONTROL = "open_control"
    VALIDATE_SERVICE_DONE = "validate_service_done"
    REJECT_SERVICE_DONE = "reject_service_done"
    MARK_PAID = "mark_paid"
    EVALUATE = "evaluate"


_AFTER_EXIT = (S.COMPLETED, S.SERVICE_DONE_DECLARED, S.SERVICE_DONE_VALIDATED, S.PAID)

TRANSITIONS: dict[tuple[S, Action], S] = {
    (S.SUBMITTED, Action.VALIDATE): S.VALIDATED,
    (S.SUBMITTED, Action.REFUSE_BY_ORGANISME): S.REFUSED_BY_ORGANISME,
    (S.SUBMITTED, Action.EXPIRE): S.EXPIRED,
    (S.SUBMITTED, Action.CANCEL_BY_ELU): S.CANCELLED_BY_ELU,
    (S.SUBMITTED, Action.CANCEL_BY_ORGANISME): S.CANCELLED_BY_ORGANISME,
    (S.VALIDATED, Action.ACCEPT): S.ACCEPTED,
    (S.VALIDATED, Action.REFUSE_BY_ELU): S.REFUSED_BY_ELU,
    (S.VALIDATED, Action.EXPIRE): S.EXPIRED,
    (S.VALIDATED, Action.CANCEL_BY_ELU): S.CANCELLED_BY_ELU,
    (S.VALIDATED, Action.CANCEL_BY_ORGANISME): S.CANCELLED_BY_ORGANISME,
    (S.VALIDATED, Action.CANCEL_BY_FINANCER): S.CANCELLED_BY_FINANCER,
    (S.ACCEPTED, Action.DECLARE_ENTRY): S.IN_TRAINING,
    (S.ACCEPTED, Action.CANCEL_BY_ELU): S.CANCELLED_BY_ELU,
    (S.ACCEPTED, Action.DECLARE_NO_SHOW): S.CANCELLED_BY_ELU,
    (S.ACCEPTED, Action.CANCEL_BY_ORGANISME): S.CANCELLED_BY_ORGANISME,
    (S.ACCEPTED, Action.CANCEL_BY_FINANCER): S.CANCELLED_BY_FINANCER,
    (S.IN_TRAINING, Action.DECLARE_EXIT): S.COMPLETED,
    (S.COMPLETED, Action.DECLARE_SERVICE_DONE): S.SERVICE_DONE_DECLARED,
    (S.SERVICE_DONE_DECLARED, Action.OPEN_CONTROL): S.SERVICE_DONE_DECLARED,
    (S.SERVICE_DONE_DECLARED, Action.VALIDATE_SERVICE_DONE): S.SERVICE_DONE_VALIDATED,
    (S.SERVICE_DONE_DECLARED, Action.REJECT_SERVICE_DONE): S.CANCELLED_BY_FINANCER,
    (S.SERVICE_DONE_VALIDATED, Action.MARK_PAID): S.PAID,
    **{(status, Action.EVALUATE): status for status in _AFTER_EXIT},
}

LIVE_STATUSES = frozenset(
    {
        S.SUBMITTED,
        S.VALIDATED,
        S.ACCEPTED,
        S.IN_TRAINING,
        S.COMPLETED,
        S.SERVICE_DONE_DECLARED,
        S.SERVICE_DONE_VALIDATED,
        S.PAID,
    }
)
"""Statuses in which the dossier holds its seat in the session (R-OFR-4) and counts for overlaps (R-DOS-2)."""

FINANCED_STATUSES = frozenset(
    {S.ACCEPTED, S.IN_TRAINING, S.COMPLETED, S.SERVICE_DONE_DECLARED, S.SERVICE_DONE_VALIDATED, S.PAID}
)
"""R-PUB-1: the élu accepted a plan whose every line was secured, so public money is committed."""


def allowed_actions(status: S) -> tuple[Action, ...]:
    return tuple(action for (current, action) in TRANSITIONS if current == status)


def next_status(status: S, action: Action) -> S:
    """The status `action` leads to from `status`, or `InvalidTransition` naming what is allowed."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(
            current=status.value,
            wanted=action.value,
            allowed=[allowed.value for allowed in allowed_actions(status)],
        ) from None
