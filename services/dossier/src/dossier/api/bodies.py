"""JSON bodies of the list routes, built directly from the domain objects and serialised once with orjson.

Why: validating every item into pydantic models and then serialising the page again was most of a list
request's CPU (issue 9). Each body here is the JSON the route's documented schema gives for the same object
(`DossierOut`, `FinancedTrainingOut`, `Page`): `tests/unit/test_list_bodies.py` compares them field for field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from dife_contracts.enums import DossierStatus
from fastapi.responses import Response

from dossier.adapters.repository import FinancedTraining
from dossier.domain.dossier import Dossier
from dossier.domain.statuses import allowed_actions

JSON_MEDIA_TYPE = "application/json"

_ALLOWED_ACTIONS = {status: [action.value for action in allowed_actions(status)] for status in DossierStatus}
"""What each status allows, computed once (`Dossier.allowed_actions` scans the transition table each time)."""


def _default(value: object) -> str:
    """Decimals as strings, as pydantic writes them (orjson writes UUIDs, dates and datetimes itself)."""
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(body: dict[str, Any]) -> Response:
    """`body` as JSON; UTC datetimes end in `Z`, as pydantic writes them."""
    return Response(orjson.dumps(body, default=_default, option=orjson.OPT_UTC_Z), media_type=JSON_MEDIA_TYPE)


def dossier_json(dossier: Dossier) -> dict[str, Any]:
    """`dossier_body` as JSON values only (strings, numbers, lists): what the idempotency store keeps and
    replays, as `jsonable_encoder(DossierOut.of(dossier))` gave it."""
    body: dict[str, Any] = orjson.loads(json_response(dossier_body(dossier)).body)
    return body


def dossier_body(dossier: Dossier) -> dict[str, Any]:
    """`DossierOut.of(dossier)` as JSON, without building the models."""
    plan = dossier.plan
    evaluation = dossier.evaluation
    return {
        "id": dossier.dossier_id,
        "status": dossier.status.value,
        "elu_id": dossier.elu_id,
        "offer": {
            "offer_id": dossier.offer_id,
            "title": dossier.offer_title,
            "theme_code": dossier.theme_code,
            "purpose": dossier.purpose.value,
            "hours": dossier.hours,
            "siret": dossier.siret,
            "organisme_name": dossier.organisme_name,
            "department": dossier.department,
        },
        "session": {
            "session_id": dossier.session_id,
            "start_date": dossier.training_start,
            "end_date": dossier.training_end,
        },
        "price_cents": dossier.price_cents,
        "plan": None
        if plan is None
        else {
            "status": plan.status.value,
            "lines": [
                {"source": line.source, "amount_cents": line.amount_cents, "reference": line.reference}
                for line in plan.lines
            ],
            "reason": plan.reason,
        },
        "deadlines": _deadlines(dossier),
        "entry_on": dossier.entry_on,
        "entry_declared_late": dossier.entry_declared_late,
        "exit_on": dossier.exit_on,
        "exit_declared_late": dossier.exit_declared_late,
        "hours_attended": dossier.hours_attended,
        "realisation_percent": dossier.realisation_percent,
        "rights_consumed": dossier.rights_consumed,
        "amount_paid_cents": dossier.amount_paid_cents,
        "open_control_id": dossier.open_control_id,
        "evaluation": None
        if evaluation is None
        else {"rating": evaluation.rating, "comment": evaluation.comment, "at": evaluation.at},
        "submitted_at": dossier.submitted_at,
        "allowed_actions": _ALLOWED_ACTIONS[dossier.status],
        "history": [
            {
                "at": step.at,
                "action": step.action.value,
                "from_status": step.from_status.value if step.from_status else None,
                "to_status": step.to_status.value,
                "by_role": step.actor.role,
                "by": step.actor.subject,
                "reason": step.reason,
                "event_type": step.event_type,
            }
            for step in dossier.history
        ],
    }


_NO_DEADLINES = ("answer_by", "accept_by", "declare_entry_by", "declare_exit_by", "auto_validation_on")


def _deadlines(dossier: Dossier) -> dict[str, Any]:
    return {name: None for name in _NO_DEADLINES} | dossier.running_deadlines()


def financed_training_body(line: FinancedTraining) -> dict[str, Any]:
    """`FinancedTrainingOut` (R-PUB-1) as JSON: exactly its fields, nothing else."""
    return {
        "family_name": line.family_name,
        "given_names": line.given_names,
        "cost_cents": line.cost_cents,
        "title": line.title,
        "theme_code": line.theme_code,
        "organisme_name": line.organisme_name,
        "siret": line.siret,
        "start_date": line.training_start,
        "end_date": line.training_end,
    }
