"""The list routes build their JSON directly (`api/bodies.py`, issue 9): each body must be exactly what the
documented schema (`DossierOut`, `FinancedTrainingOut`) gives for the same object, in every status."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from dife_contracts.enums import DossierStatus
from dossier.adapters.repository import FinancedTraining
from dossier.api.bodies import dossier_body, dossier_json, financed_training_body, json_response
from dossier.api.schemas import DossierOut, FinancedTrainingOut
from dossier.domain.dossier import Dossier, Evaluation, FundingPlan, PlanLineView, PlanStatus
from fastapi.encoders import jsonable_encoder

from .conftest import AGENT, ELU, in_status, paris


def _as_sent(body: dict[str, object]) -> object:
    return json.loads(bytes(json_response(body).body))


def _as_documented(dossier: Dossier) -> object:
    return json.loads(DossierOut.of(dossier).model_dump_json())


@pytest.mark.parametrize("status", list(DossierStatus))
def test_a_listed_dossier_is_the_documented_dossier_out_in_every_status(status: DossierStatus) -> None:
    dossier = in_status(status)
    assert _as_sent(dossier_body(dossier)) == _as_documented(dossier)


@pytest.mark.parametrize("status", list(DossierStatus))
def test_a_submission_s_stored_answer_is_the_documented_dossier_out_in_every_status(
    status: DossierStatus,
) -> None:
    """The idempotency store keeps (and replays) `dossier_json`, as it kept `DossierOut.of` encoded."""
    dossier = in_status(status)
    assert dossier_json(dossier) == jsonable_encoder(DossierOut.of(dossier))


def test_a_listed_dossier_with_plan_lines_evaluation_control_and_utc_times_is_the_documented_one() -> None:
    dossier = in_status(DossierStatus.SERVICE_DONE_DECLARED)
    dossier.open_control(control_id=uuid.uuid4(), actor=AGENT, now=paris(date(2027, 3, 17)), reason="doubt")
    dossier.record_plan(
        FundingPlan(
            status=PlanStatus.READY,
            lines=(PlanLineView("dife", 40_000), PlanLineView("cpf", 16_000, "CPF-1")),
            reason="split",
            at=datetime(2027, 2, 2, 10, 30, 0, 123456, tzinfo=UTC),
        )
    )
    dossier = replace(
        dossier,
        submitted_at=datetime(2027, 2, 1, 11, 0, 0, 5, tzinfo=UTC),
        hours_attended=Decimal("6.50"),
        hours=Decimal("7.00"),
        evaluation=Evaluation(rating=1, comment="=cmd", at=datetime(2027, 3, 20, tzinfo=UTC)),
    )
    sent = _as_sent(dossier_body(dossier))
    assert sent == _as_documented(dossier)
    assert isinstance(sent, dict) and sent["submitted_at"] == "2027-02-01T11:00:00.000005Z"
    assert sent["offer"]["hours"] == "7.00" and sent["hours_attended"] == "6.50"


def test_a_listed_dossier_carries_its_history_when_it_has_one() -> None:
    dossier = in_status(DossierStatus.ACCEPTED)
    dossier.history.extend(dossier.new_history)
    assert dossier.history and dossier.history[0].actor == ELU
    assert _as_sent(dossier_body(dossier)) == _as_documented(dossier)


def test_a_public_line_is_the_documented_financed_training_out_and_nothing_else_R_PUB_1() -> None:
    line = FinancedTraining(
        family_name="Martin",
        given_names="Claire",
        cost_cents=56_000,
        title="Finances locales",
        theme_code=None,
        organisme_name="Institut",
        siret="12345678900011",
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        sort_key=(date(2027, 3, 15), uuid.uuid4()),
    )
    documented = FinancedTrainingOut(
        family_name=line.family_name,
        given_names=line.given_names,
        cost_cents=line.cost_cents,
        title=line.title,
        theme_code=line.theme_code,
        organisme_name=line.organisme_name,
        siret=line.siret,
        start_date=line.training_start,
        end_date=line.training_end,
    )
    assert _as_sent(financed_training_body(line)) == json.loads(documented.model_dump_json())
