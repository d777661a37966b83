"""Each catalogue rule of DOMAIN.md §2, with its edges on both sides."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from catalogue.domain.offers import (
    MANDATE,
    REINSERTION,
    OfferStatus,
    OfferTerms,
    SessionDates,
    SessionStatus,
    Subcontracting,
    Subcontractor,
    check_capacity,
    check_coverage,
    check_new_session,
    check_terms,
    ensure_cancellable,
    ensure_editable,
    ensure_publishable,
    ensure_withdrawable,
    price_within_hourly_cap,
    seats_left,
)
from catalogue.domain.organismes import Agrement
from servicekit.rules import InvalidTransition, RulesBroken

SELLER = "73282932000074"
OTHER_OF = "35600000000048"
TODAY = date(2026, 11, 22)


def agrement(valid_from: date, valid_until: date, withdrawn_on: date | None = None) -> Agrement:
    return Agrement(
        id=uuid.uuid4(),
        reference="AGR-2026-001",
        decision_date=valid_from,
        valid_from=valid_from,
        valid_until=valid_until,
        withdrawn_on=withdrawn_on,
    )


BASE_TERMS = OfferTerms(
    kind=MANDATE,
    theme_code="FAL-03",
    certification_code=None,
    hours=Decimal(7),
    price_ht_cents=56_000,
    subcontracting=None,
)


def terms(**changes: Any) -> OfferTerms:
    return replace(BASE_TERMS, **changes)


def rules_of(offer_terms: OfferTerms, subcontractor: Subcontractor | None = None) -> list[str]:
    return check_terms(
        offer_terms, seller_siret=SELLER, subcontractor=subcontractor, today=TODAY
    ).broken_ids()


def test_valid_mandate_terms_break_no_rule() -> None:
    assert rules_of(terms()) == []


def test_theme_of_the_repertoire_is_accepted_R_OFR_1() -> None:
    assert rules_of(terms(theme_code="EPE-02")) == []


def test_unknown_theme_is_refused_R_OFR_1() -> None:
    assert rules_of(terms(theme_code="XYZ-99")) == ["R-OFR-1"]


def test_mandate_training_without_theme_is_refused_R_OFR_1() -> None:
    assert rules_of(terms(theme_code=None)) == ["R-OFR-1"]


@pytest.mark.parametrize("code", ["RNCP35185", "RS5487", "VAE", "BILAN-COMPETENCES", "PERMIS-B", "PERMIS-CE"])
def test_cpf_eligible_certification_is_accepted_R_OFR_2(code: str) -> None:
    assert rules_of(terms(kind=REINSERTION, theme_code=None, certification_code=code)) == []


@pytest.mark.parametrize("code", ["RNCP", "RNCPABC", "RS12", "CQP123", "PERMIS-Z", "vae", "FAL-03"])
def test_non_cpf_certification_is_refused_R_OFR_2(code: str) -> None:
    assert rules_of(terms(kind=REINSERTION, theme_code=None, certification_code=code)) == ["R-OFR-2"]


def test_reinsertion_training_without_certification_is_refused_R_OFR_2() -> None:
    assert rules_of(terms(kind=REINSERTION, theme_code=None)) == ["R-OFR-2"]


def test_exactly_80_euros_per_hour_is_accepted_R_OFR_3() -> None:
    assert rules_of(terms(hours=Decimal(7), price_ht_cents=56_000)) == []


def test_one_cent_over_80_euros_per_hour_is_refused_R_OFR_3() -> None:
    assert rules_of(terms(hours=Decimal(7), price_ht_cents=56_001)) == ["R-OFR-3"]


def test_fractional_hours_are_priced_exactly_R_OFR_3() -> None:
    assert price_within_hourly_cap(28_000, Decimal("3.5"))
    assert not price_within_hourly_cap(28_001, Decimal("3.5"))
    assert price_within_hourly_cap(10_000, Decimal("1.25"))
    assert not price_within_hourly_cap(10_001, Decimal("1.25"))


def test_exactly_15_seats_on_a_mandate_session_is_accepted_R_OFR_4() -> None:
    assert check_capacity(MANDATE, 15).broken_ids() == []


def test_16_seats_on_a_mandate_session_is_refused_R_OFR_4() -> None:
    assert check_capacity(MANDATE, 16).broken_ids() == ["R-OFR-4"]


def test_reinsertion_sessions_are_not_capped_at_15_R_OFR_4() -> None:
    assert check_capacity(REINSERTION, 40).broken_ids() == []


ACCREDITED_SUB = Subcontractor(OTHER_OF, [agrement(date(2025, 1, 1), date(2028, 12, 31))])


def test_subcontracting_45_percent_to_an_accredited_of_is_accepted_R_OFR_5() -> None:
    sub = Subcontracting(OTHER_OF, Decimal(45))
    assert rules_of(terms(subcontracting=sub), ACCREDITED_SUB) == []


def test_subcontracting_over_45_percent_is_refused_R_OFR_5() -> None:
    sub = Subcontracting(OTHER_OF, Decimal("45.01"))
    assert rules_of(terms(subcontracting=sub), ACCREDITED_SUB) == ["R-OFR-5"]


def test_subcontracting_to_an_unregistered_of_is_refused_R_OFR_5() -> None:
    sub = Subcontracting(OTHER_OF, Decimal(20))
    assert rules_of(terms(subcontracting=sub), Subcontractor(OTHER_OF, None)) == ["R-OFR-5"]


def test_subcontracting_to_an_of_whose_agrement_ended_is_refused_R_OFR_5() -> None:
    expired = Subcontractor(OTHER_OF, [agrement(date(2020, 1, 1), date(2025, 12, 31))])
    assert rules_of(terms(subcontracting=Subcontracting(OTHER_OF, Decimal(20))), expired) == ["R-OFR-5"]


def test_subcontracting_to_oneself_is_refused_R_OFR_5() -> None:
    assert rules_of(terms(subcontracting=Subcontracting(SELLER, Decimal(20))), None) == ["R-OFR-5"]


def test_subcontractor_must_be_accredited_on_the_session_dates_R_OFR_5() -> None:
    sub = Subcontractor(OTHER_OF, [agrement(date(2025, 1, 1), date(2027, 3, 31))])
    mine = [agrement(date(2025, 1, 1), date(2029, 12, 31))]
    inside = SessionDates(date(2027, 3, 30), date(2027, 3, 31))
    beyond = SessionDates(date(2027, 3, 31), date(2027, 4, 1))
    assert check_coverage(MANDATE, [inside], mine, sub).broken_ids() == []
    assert check_coverage(MANDATE, [beyond], mine, sub).broken_ids() == ["R-OFR-5"]


def test_every_broken_rule_is_listed_at_once() -> None:
    bad = terms(
        theme_code="NOPE", price_ht_cents=56_001, subcontracting=Subcontracting(OTHER_OF, Decimal(50))
    )
    with pytest.raises(RulesBroken) as raised:
        check_terms(bad, seller_siret=SELLER, subcontractor=ACCREDITED_SUB, today=TODAY).raise_if_any()
    assert raised.value.rule_ids == ["R-OFR-1", "R-OFR-3", "R-OFR-5"]


def test_session_rules_are_listed_together_R_OFR_4_R_OF_1() -> None:
    dates = SessionDates(date(2027, 1, 10), date(2027, 1, 11))
    assert check_new_session(MANDATE, dates, 16, [], None).broken_ids() == ["R-OFR-4", "R-OF-1"]


def test_reinsertion_sessions_need_no_ministry_agrement_R_OF_1() -> None:
    dates = SessionDates(date(2027, 1, 10), date(2027, 1, 11))
    assert check_new_session(REINSERTION, dates, 12, [], None).broken_ids() == []


def test_publish_needs_a_draft_with_an_open_session() -> None:
    ensure_publishable(OfferStatus.DRAFT, 1)
    with pytest.raises(InvalidTransition):
        ensure_publishable(OfferStatus.DRAFT, 0)
    with pytest.raises(InvalidTransition):
        ensure_publishable(OfferStatus.PUBLISHED, 1)
    with pytest.raises(InvalidTransition):
        ensure_publishable(OfferStatus.WITHDRAWN, 1)


def test_a_withdrawn_offer_is_final() -> None:
    ensure_withdrawable(OfferStatus.DRAFT)
    ensure_withdrawable(OfferStatus.PUBLISHED)
    ensure_editable(OfferStatus.PUBLISHED)
    with pytest.raises(InvalidTransition):
        ensure_withdrawable(OfferStatus.WITHDRAWN)
    with pytest.raises(InvalidTransition):
        ensure_editable(OfferStatus.WITHDRAWN)


def test_a_session_is_cancelled_once() -> None:
    ensure_cancellable(OfferStatus.PUBLISHED, SessionStatus.OPEN)
    with pytest.raises(InvalidTransition):
        ensure_cancellable(OfferStatus.PUBLISHED, SessionStatus.CANCELLED)
    with pytest.raises(InvalidTransition):
        ensure_cancellable(OfferStatus.WITHDRAWN, SessionStatus.OPEN)


def test_seats_left_never_go_below_zero() -> None:
    assert seats_left(15, 3) == 12
    assert seats_left(15, 15) == 0
    assert seats_left(15, 17) == 0
