"""Payload models: tolerant, frozen readers that refuse what no producer may write."""

import json
from datetime import date
from typing import Any

import pytest
from dife_contracts import Event
from dife_contracts.enums import CancelledBy, FundingSource, MandateFamily, Modality, Periodicity, RneFileType
from dife_contracts.events import (
    DeclarationReceived,
    DossierCancelled,
    DossierEvaluated,
    EluRegistered,
    HoldPlaced,
    Mandate,
    OfferPublished,
    OfferQualityUpdated,
    OfferSession,
    OrganismeRegistered,
    PaymentRejected,
    PlanLine,
    PlanProposed,
    PlanReady,
    TrainingCompleted,
)
from dife_contracts.examples import EXAMPLES, example
from pydantic import ValidationError


def _with(event: Event, **changes: Any) -> dict[str, Any]:
    """The event's JSON payload with some fields changed, ready to validate again."""
    return event.model_dump(mode="json") | changes


def test_a_reader_ignores_fields_it_does_not_know_yet() -> None:
    event = example(HoldPlaced)
    payload = json.dumps(_with(event, added_by_a_newer_producer="ignored"))

    assert HoldPlaced.model_validate_json(payload) == event


def test_an_event_is_frozen() -> None:
    with pytest.raises(ValidationError):
        example(HoldPlaced).amount_cents = 1  # type: ignore[misc]


@pytest.mark.parametrize("event", list(EXAMPLES.values()), ids=lambda event: event.ce_type)
def test_the_aggregate_id_is_the_key_field_as_a_string(event: Event) -> None:
    assert event.aggregate_id() == str(getattr(event, event.key_field))


def test_decimals_travel_as_strings_so_no_reader_turns_them_into_floats() -> None:
    payload = json.loads(example(OfferQualityUpdated).to_json())

    assert payload["offer_rating_average"] == "4.25"
    assert json.loads(example(OfferPublished).to_json())["hours"] == "14"


def test_a_rating_average_has_at_most_two_decimal_places() -> None:
    with pytest.raises(ValidationError):
        OfferQualityUpdated.model_validate(_with(example(OfferQualityUpdated), offer_rating_average="4.255"))


@pytest.mark.parametrize(("field", "value"), [("siret", "3560000000004"), ("siret", "3560000000004A")])
def test_a_siret_is_14_digits(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        OrganismeRegistered.model_validate(_with(example(OrganismeRegistered), **{field: value}))


@pytest.mark.parametrize("siren", ["21750001", "2175000160", "21750001X"])
def test_a_siren_is_9_digits(siren: str) -> None:
    with pytest.raises(ValidationError, match="siren"):
        DeclarationReceived.model_validate(_with(example(DeclarationReceived), siren=siren))


def test_an_instant_must_carry_its_offset() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        OfferPublished.model_validate(_with(example(OfferPublished), published_at="2026-05-04T09:30:00"))


def test_ids_are_uuids() -> None:
    with pytest.raises(ValidationError, match="elu_id"):
        HoldPlaced.model_validate(_with(example(HoldPlaced), elu_id="elu-42"))


def test_a_plan_whose_lines_do_not_sum_to_the_price_is_refused_R_FUN_5() -> None:
    lines = [PlanLine(source=FundingSource.DIFE, amount_cents=50_000)]
    for plan_event in (PlanProposed, PlanReady):
        with pytest.raises(ValidationError, match="R-FUN-5"):
            plan_event.model_validate(_with(example(plan_event), price_cents=56_000, lines=lines))


def test_a_plan_line_is_more_than_zero_R_FUN_5() -> None:
    with pytest.raises(ValidationError):
        PlanLine(source=FundingSource.DIFE, amount_cents=0)


def test_a_plan_has_at_least_one_line() -> None:
    with pytest.raises(ValidationError):
        PlanReady.model_validate(_with(example(PlanReady), price_cents=0, lines=[]))


@pytest.mark.parametrize(
    ("by", "force_majeure"),
    [(CancelledBy.ORGANISME, False), (CancelledBy.FINANCER, False), (CancelledBy.ELU, True)],
)
def test_only_a_late_cancellation_by_the_elu_consumes_rights_R_DOS_5(
    by: CancelledBy, force_majeure: bool
) -> None:
    with pytest.raises(ValidationError, match="R-DOS-5"):
        DossierCancelled.model_validate(
            _with(example(DossierCancelled), by=by, force_majeure=force_majeure, rights_consumed=True)
        )
    released = _with(example(DossierCancelled), by=by, force_majeure=force_majeure, rights_consumed=False)
    assert DossierCancelled.model_validate(released).rights_consumed is False


@pytest.mark.parametrize("percent", [-1, 101])
def test_the_taux_de_realisation_is_a_percent_R_DOS_3(percent: int) -> None:
    with pytest.raises(ValidationError, match="realisation_percent"):
        TrainingCompleted.model_validate(_with(example(TrainingCompleted), realisation_percent=percent))


@pytest.mark.parametrize("rating", [0, 6])
def test_a_rating_is_between_1_and_5_R_DOS_6(rating: int) -> None:
    with pytest.raises(ValidationError, match="rating"):
        DossierEvaluated.model_validate(_with(example(DossierEvaluated), rating=rating))


@pytest.mark.parametrize(
    ("period", "periodicity"),
    [("2026-03", Periodicity.MONTHLY), ("2026-Q1", Periodicity.QUARTERLY), ("2026", Periodicity.YEARLY)],
)
def test_a_period_has_the_shape_of_its_periodicity_R_CON_3(period: str, periodicity: Periodicity) -> None:
    declaration = _with(example(DeclarationReceived), period=period, periodicity=periodicity)
    assert DeclarationReceived.model_validate(declaration).period == period
    for other in set(Periodicity) - {periodicity}:
        with pytest.raises(ValidationError, match="period"):
            DeclarationReceived.model_validate(declaration | {"periodicity": other})


@pytest.mark.parametrize("period", ["2026-13", "2026-Q5", "26-03", "2026-3"])
def test_a_malformed_period_is_refused(period: str) -> None:
    with pytest.raises(ValidationError, match="period"):
        DeclarationReceived.model_validate(_with(example(DeclarationReceived), period=period))


def test_an_offer_given_in_person_needs_a_location_but_a_remote_one_does_not() -> None:
    with pytest.raises(ValidationError, match="location"):
        OfferPublished.model_validate(_with(example(OfferPublished), location=None))
    remote = OfferPublished.model_validate(
        _with(example(OfferPublished), location=None, modality=Modality.REMOTE)
    )
    assert remote.location is None


def test_an_offer_price_with_vat_is_not_below_the_price_without() -> None:
    with pytest.raises(ValidationError, match="VAT"):
        OfferPublished.model_validate(_with(example(OfferPublished), price_ttc_cents=50_000))


def test_a_session_or_a_mandate_does_not_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="session"):
        OfferSession(
            session_id=example(OfferPublished).sessions[0].session_id,
            start_date=date(2026, 6, 9),
            end_date=date(2026, 6, 8),
            capacity=15,
        )
    with pytest.raises(ValidationError, match="mandate"):
        Mandate.model_validate(
            example(EluRegistered).mandates[0].model_dump() | {"end_date": date(2020, 1, 1)}
        )


def test_a_sepa_reason_code_has_four_characters() -> None:
    with pytest.raises(ValidationError, match="reason_code"):
        PaymentRejected.model_validate(_with(example(PaymentRejected), reason_code="closed account"))


def test_an_rne_file_type_names_its_mandate_family_R_REG_1() -> None:
    assert {file_type: file_type.family for file_type in RneFileType} == {
        RneFileType.CM: MandateFamily.MUNICIPAL,
        RneFileType.EPCI: MandateFamily.COMMUNAUTAIRE,
        RneFileType.CD: MandateFamily.DEPARTMENTAL,
        RneFileType.CR: MandateFamily.REGIONAL,
        RneFileType.CSP: MandateFamily.SPECIAL_STATUS,
        RneFileType.CA: MandateFamily.ARRONDISSEMENT,
    }
