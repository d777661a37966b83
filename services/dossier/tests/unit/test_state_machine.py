"""The whole state machine: every allowed transition, and every other (status, action) pair refused (409)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from dife_contracts.enums import DossierStatus
from dossier.domain.dossier import Dossier
from dossier.domain.statuses import TRANSITIONS, Action, allowed_actions, next_status
from servicekit.rules import InvalidTransition

from .conftest import AGENT, ELU, OF, SYSTEM, in_status, paris

VALIDATED_EVENT = "dife.dossier.service_done_validated.v1"
LATER = paris(date(2027, 3, 16), 9)

# One way to ask for each action, whatever the status; the status decides whether it may happen.
COMMANDS: dict[Action, Callable[[Dossier], None]] = {
    Action.VALIDATE: lambda d: d.validate(actor=OF, now=LATER),
    Action.REFUSE_BY_ORGANISME: lambda d: d.refuse_by_organisme(actor=OF, now=LATER, reason="no"),
    Action.ACCEPT: lambda d: d.accept(actor=ELU, now=LATER),
    Action.REFUSE_BY_ELU: lambda d: d.refuse_by_elu(actor=ELU, now=LATER, reason="no"),
    Action.EXPIRE: lambda d: d.expire(actor=SYSTEM, now=LATER),
    Action.CANCEL_BY_ELU: lambda d: d.cancel_by_elu(actor=ELU, now=LATER, reason="x", force_majeure=False),
    Action.CANCEL_BY_ORGANISME: lambda d: d.cancel_by_organisme(actor=OF, now=LATER, reason="x"),
    Action.CANCEL_BY_FINANCER: lambda d: d.cancel_by_financer(actor=SYSTEM, now=LATER, reason="x"),
    Action.DECLARE_NO_SHOW: lambda d: d.declare_no_show(actor=OF, now=LATER, reason="x"),
    Action.DECLARE_ENTRY: lambda d: d.declare_entry(actor=OF, now=LATER, entry_on=date(2027, 3, 15)),
    Action.DECLARE_EXIT: lambda d: d.declare_exit(
        actor=OF, now=LATER, exit_on=date(2027, 3, 15), hours_attended=Decimal(7)
    ),
    Action.OPEN_CONTROL: lambda d: d.open_control(
        control_id=uuid.uuid4(), actor=AGENT, now=LATER, reason="x"
    ),
    Action.VALIDATE_SERVICE_DONE: lambda d: d.validate_service_done_automatically(actor=SYSTEM, now=LATER),
    Action.MARK_PAID: lambda d: d.mark_paid(
        actor=SYSTEM, now=LATER, amount_cents=1, paid_on=date(2027, 4, 1)
    ),
    Action.EVALUATE: lambda d: d.evaluate(actor=ELU, now=LATER, rating=4, comment=""),
}
"""`submit` creates a dossier, `declare_service_done` follows the exit inside one command and
`reject_service_done` is a control's decision: the table test below covers those three through
`next_status`."""

FORBIDDEN = [
    (status, action) for status in DossierStatus for action in Action if (status, action) not in TRANSITIONS
]


@pytest.mark.parametrize(("status", "action"), FORBIDDEN, ids=lambda v: str(v))
def test_every_pair_outside_the_table_is_an_invalid_transition(status: DossierStatus, action: Action) -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_status(status, action)
    assert refused.value.current == status.value
    assert refused.value.allowed == tuple(a.value for a in allowed_actions(status))


@pytest.mark.parametrize(
    ("status", "action"),
    [(status, action) for status, action in FORBIDDEN if action in COMMANDS],
    ids=lambda v: str(v),
)
def test_every_command_outside_the_table_is_refused_by_the_dossier_and_changes_nothing(
    status: DossierStatus, action: Action
) -> None:
    dossier = in_status(status)
    events_before, history_before = list(dossier.events), list(dossier.history)
    with pytest.raises(InvalidTransition) as refused:
        COMMANDS[action](dossier)
    assert refused.value.current == status.value
    assert dossier.status is status
    assert dossier.events == events_before and dossier.history == history_before


def test_terminal_statuses_allow_nothing_but_evaluating_a_paid_training() -> None:
    for status in (
        DossierStatus.REFUSED_BY_ORGANISME,
        DossierStatus.REFUSED_BY_ELU,
        DossierStatus.CANCELLED_BY_ELU,
        DossierStatus.CANCELLED_BY_ORGANISME,
        DossierStatus.CANCELLED_BY_FINANCER,
        DossierStatus.EXPIRED,
    ):
        assert allowed_actions(status) == ()
    assert allowed_actions(DossierStatus.PAID) == (Action.EVALUATE,)


def test_the_happy_path_records_who_when_why_and_the_event_of_every_transition() -> None:
    dossier = in_status(DossierStatus.PAID)
    steps = [(t.from_status, t.to_status, t.actor.role, t.event_type) for t in dossier.history]
    assert steps == [
        (None, "submitted", "elu", "dife.dossier.dossier_submitted.v1"),
        ("submitted", "validated", "organisme", "dife.dossier.dossier_validated.v1"),
        ("validated", "accepted", "elu", "dife.dossier.dossier_accepted.v1"),
        ("accepted", "in_training", "organisme", "dife.dossier.training_started.v1"),
        ("in_training", "completed", "organisme", "dife.dossier.training_completed.v1"),
        ("completed", "service_done_declared", "organisme", "dife.dossier.service_done_declared.v1"),
        (
            "service_done_declared",
            "service_done_validated",
            "system",
            "dife.dossier.service_done_validated.v1",
        ),
        ("service_done_validated", "paid", "system", "dife.dossier.dossier_paid.v1"),
    ]
    assert [e.ce_type for e in dossier.events] == [t.event_type for t in dossier.history]
    assert all(t.at.tzinfo is not None for t in dossier.history)


@pytest.mark.parametrize(("status", "action"), list(TRANSITIONS), ids=lambda v: str(v))
def test_every_allowed_transition_leads_where_the_table_says(status: DossierStatus, action: Action) -> None:
    if action not in COMMANDS or action in (Action.EXPIRE, Action.VALIDATE_SERVICE_DONE):
        assert next_status(status, action) is TRANSITIONS[(status, action)]
        return
    dossier = in_status(status)
    if action is Action.ACCEPT or action is Action.VALIDATE:
        now = paris(date(2027, 2, 2), 10) if action is Action.VALIDATE else paris(date(2027, 2, 3), 10)
        (dossier.validate if action is Action.VALIDATE else dossier.accept)(actor=OF, now=now)
    elif action is Action.REFUSE_BY_ORGANISME:
        dossier.refuse_by_organisme(actor=OF, now=paris(date(2027, 2, 2)), reason="full")
    elif action is Action.DECLARE_ENTRY:
        dossier.declare_entry(actor=OF, now=paris(date(2027, 3, 15), 18), entry_on=date(2027, 3, 15))
    else:
        COMMANDS[action](dossier)
    step = dossier.history[-2] if action is Action.DECLARE_EXIT else dossier.history[-1]
    assert (step.from_status, step.action, step.to_status) == (status, action, TRANSITIONS[(status, action)])
