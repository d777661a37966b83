"""The edges mutation testing found untested (issue 16): each rule on both sides of its edge, the exact reason
a request is refused (the detail an organisme reads in the problem body), and what the aggregate records."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from catalogue.domain.certifications import is_cpf_eligible
from catalogue.domain.offers import (
    MANDATE,
    PLACE_RULE,
    REINSERTION,
    Location,
    Offer,
    OfferContent,
    OfferSession,
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
    price_ttc_cents,
)
from catalogue.domain.organismes import Agrement, agrement_changed, agrement_dates_problem, covers
from catalogue.domain.quality import Quality
from catalogue.domain.search import SearchFilters, SortOrder, effective_sort
from catalogue.domain.themes import FAMILIES, REPERTOIRE, theme_for
from dife_contracts.enums import AgrementStatus, Modality
from servicekit.rules import InvalidTransition, NotFound, RuleBroken, RulesBroken

SELLER = "73282932000074"
OTHER_OF = "35600000000048"
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def agrement(valid_from: date, valid_until: date, withdrawn_on: date | None = None) -> Agrement:
    return Agrement(uuid.uuid4(), "AGR-01", valid_from, valid_from, valid_until, withdrawn_on)


YEARS = [agrement(date(2025, 1, 1), date(2029, 12, 31))]

TERMS = OfferTerms(
    kind=MANDATE,
    theme_code="FAL-03",
    certification_code=None,
    hours=Decimal(7),
    price_ht_cents=56_000,
    subcontracting=None,
)


def broken(offer_terms: OfferTerms, subcontractor: Subcontractor | None = None) -> list[RuleBroken]:
    return check_terms(offer_terms, seller_siret=SELLER, subcontractor=subcontractor, today=TODAY).broken


# R-OFR-1 / R-OFR-2: theme or certification, each on its own kind, with the reason given


def test_mandate_training_without_theme_says_so_R_OFR_1() -> None:
    assert broken(replace(TERMS, theme_code=None)) == [
        RuleBroken("R-OFR-1", "a mandate training names a theme of the répertoire (theme_code)")
    ]


def test_theme_outside_the_repertoire_is_named_R_OFR_1() -> None:
    assert broken(replace(TERMS, theme_code="FAL-99")) == [
        RuleBroken("R-OFR-1", "theme 'FAL-99' is not in the répertoire of mandate trainings")
    ]


@pytest.mark.parametrize("code", ["FAL-99", "FAL-00", "FAL-10", "CCO-12", "EPE-08", "FAL", "fal-03", "FAL-3"])
def test_a_theme_is_checked_by_its_full_code_not_its_family_prefix_R_OFR_1(code: str) -> None:
    assert theme_for(code) is None
    assert [rule.rule_id for rule in broken(replace(TERMS, theme_code=code))] == ["R-OFR-1"]


def test_certification_code_on_a_mandate_training_is_refused_R_OFR_1() -> None:
    assert broken(replace(TERMS, certification_code="RNCP35185")) == [
        RuleBroken("R-OFR-1", "a mandate training has a theme, not a certification code")
    ]


def test_theme_on_a_reinsertion_training_is_refused_R_OFR_2() -> None:
    reinsertion = replace(TERMS, kind=REINSERTION, certification_code="RNCP35185")
    assert broken(reinsertion) == [
        RuleBroken("R-OFR-2", "a reinsertion training has a certification code, not a mandate theme")
    ]
    assert broken(replace(reinsertion, theme_code=None)) == []


def test_reinsertion_training_without_certification_says_so_R_OFR_2() -> None:
    assert broken(replace(TERMS, kind=REINSERTION, theme_code=None)) == [
        RuleBroken("R-OFR-2", "a reinsertion training names its CPF certification (certification_code)")
    ]


def test_non_cpf_certification_is_named_with_what_is_eligible_R_OFR_2() -> None:
    assert broken(replace(TERMS, kind=REINSERTION, theme_code=None, certification_code="CQP-12")) == [
        RuleBroken("R-OFR-2", "'CQP-12' is not CPF-eligible (RNCP…, RS…, VAE, BILAN-COMPETENCES, PERMIS-…)")
    ]


@pytest.mark.parametrize("code", ["PERMIS-B-B", "PERMIS-X-B", "PERMIS-PERMIS-B"])
def test_a_driving_licence_is_one_category_after_permis_R_OFR_2(code: str) -> None:
    assert not is_cpf_eligible(code)
    assert is_cpf_eligible("PERMIS-B")


def test_price_over_the_hourly_cap_is_explained_R_OFR_3() -> None:
    assert broken(replace(TERMS, price_ht_cents=56_001)) == [
        RuleBroken("R-OFR-3", "56001 cents HT for 7 h is over 8000 cents HT per hour")
    ]


def test_sixteen_seats_are_explained_R_OFR_4() -> None:
    assert check_capacity(MANDATE, 16).broken == [
        RuleBroken("R-OFR-4", "16 seats on a mandate session; at most 15")
    ]


# The répertoire pinned against DOMAIN.md §2 (arrêté of 13 April 2023): three families, their subjects


def test_repertoire_families_are_those_of_the_arrete_R_OFR_1() -> None:
    assert [(f.code, f.label) for f in FAMILIES] == [
        ("FAL", "Les fondamentaux de l'action publique locale"),
        ("CCO", "Les formations en lien avec les compétences de la collectivité"),
        ("EPE", "Les formations favorisant l'efficacité personnelle de l'élu"),
    ]
    codes = {f.code: [t.code for t in REPERTOIRE if t.family == f.code] for f in FAMILIES}
    assert codes == {
        "FAL": [f"FAL-{n:02d}" for n in range(1, 10)],
        "CCO": [f"CCO-{n:02d}" for n in range(1, 12)],
        "EPE": [f"EPE-{n:02d}" for n in range(1, 8)],
    }
    assert all(theme.code.startswith(theme.family + "-") for theme in REPERTOIRE)


@pytest.mark.parametrize(
    ("code", "subject"),
    [
        ("FAL-01", "Institutions"),
        ("FAL-02", "Statut et rôle de l'élu"),
        ("FAL-03", "Finances locales"),
        ("FAL-04", "Commande publique"),
        ("FAL-05", "Responsabilité"),
        ("CCO-01", "Urbanisme"),
        ("CCO-02", "Environnement"),
        ("CCO-03", "Action sociale"),
        ("CCO-04", "Développement économique"),
        ("EPE-01", "Communication"),
        ("EPE-02", "Prise de parole en public"),
        ("EPE-03", "Management"),
        ("EPE-04", "Numérique"),
    ],
)
def test_domain_subjects_sit_in_their_family_R_OFR_1(code: str, subject: str) -> None:
    theme = theme_for(code)
    assert theme is not None and theme.label.startswith(subject)


# R-OFR-5: subcontracting, each refusal for its own reason


def subcontracting(siret: str = OTHER_OF, share: str = "20") -> OfferTerms:
    return replace(TERMS, subcontracting=Subcontracting(siret, Decimal(share)))


def test_subcontracting_to_oneself_is_refused_even_when_accredited_R_OFR_5() -> None:
    myself = Subcontractor(SELLER, YEARS)
    assert broken(subcontracting(SELLER), myself) == [
        RuleBroken("R-OFR-5", "an OF does not subcontract to itself")
    ]
    assert broken(subcontracting(OTHER_OF), Subcontractor(OTHER_OF, YEARS)) == []


def test_unregistered_subcontractor_is_named_R_OFR_5() -> None:
    expected = [RuleBroken("R-OFR-5", f"subcontractor {OTHER_OF} is not a registered training organisation")]
    assert broken(subcontracting(), None) == expected
    assert broken(subcontracting(), Subcontractor(OTHER_OF, None)) == expected


def test_subcontractor_whose_agrement_ends_today_is_accepted_R_OFR_5() -> None:
    assert broken(subcontracting(), Subcontractor(OTHER_OF, [agrement(date(2022, 1, 1), TODAY)])) == []


def test_subcontractor_whose_agrement_ended_yesterday_is_refused_R_OFR_5() -> None:
    ended = Subcontractor(OTHER_OF, [agrement(date(2022, 1, 1), date(2026, 11, 21))])
    assert broken(subcontracting(), ended) == [
        RuleBroken("R-OFR-5", f"subcontractor {OTHER_OF} holds no current agrément")
    ]


def test_share_over_45_percent_is_explained_R_OFR_5() -> None:
    assert broken(subcontracting(share="45.01"), Subcontractor(OTHER_OF, YEARS)) == [
        RuleBroken("R-OFR-5", "subcontracting share 45.01 % is over 45 %")
    ]


def test_new_session_checks_the_subcontractor_on_its_dates_R_OFR_5() -> None:
    sub = Subcontractor(OTHER_OF, [agrement(date(2025, 1, 1), date(2027, 3, 31))])
    inside = SessionDates(date(2027, 3, 31), date(2027, 3, 31))
    beyond = SessionDates(date(2027, 3, 31), date(2027, 4, 1))
    assert check_new_session(MANDATE, inside, 12, YEARS, sub).broken == []
    assert check_new_session(MANDATE, beyond, 12, YEARS, sub).broken == [
        RuleBroken("R-OFR-5", f"subcontractor {OTHER_OF} is not accredited from 2027-03-31 to 2027-04-01")
    ]


# R-OF-1: every day of the session in an agrément, the edges of the agrément included


def test_session_starting_on_the_agrements_last_day_is_covered_R_OF_1() -> None:
    year = [agrement(date(2026, 1, 1), date(2026, 12, 31))]
    assert covers(year, date(2026, 12, 31), date(2026, 12, 31))
    assert not covers(year, date(2027, 1, 1), date(2027, 1, 1))


def test_coverage_is_checked_on_every_day_not_only_the_start_R_OF_1() -> None:
    year = [agrement(date(2026, 1, 1), date(2026, 12, 31))]
    across = SessionDates(date(2026, 12, 30), date(2027, 1, 2))
    assert check_coverage(MANDATE, [across], year, None).broken == [
        RuleBroken("R-OF-1", "no valid agrément covers the session from 2026-12-30 to 2027-01-02")
    ]
    inside = SessionDates(date(2026, 12, 30), date(2026, 12, 31))
    assert check_coverage(MANDATE, [inside], year, None).broken == []


def test_a_one_day_agrement_covers_its_day_only_R_OF_1() -> None:
    one_day = [agrement(date(2026, 6, 1), date(2026, 6, 1))]
    assert covers(one_day, date(2026, 6, 1), date(2026, 6, 1))
    assert not covers(one_day, date(2026, 5, 31), date(2026, 6, 1))
    assert not covers(one_day, date(2026, 6, 1), date(2026, 6, 2))
    assert one_day[0].valid_on(date(2026, 6, 1))


def test_a_one_day_agrement_bridges_two_others_R_OF_1() -> None:
    chain = [
        agrement(date(2026, 1, 1), date(2026, 5, 31)),
        agrement(date(2026, 6, 1), date(2026, 6, 1)),
        agrement(date(2026, 6, 2), date(2026, 12, 31)),
    ]
    assert covers(chain, date(2026, 5, 30), date(2026, 6, 3))
    assert not covers(chain[::2], date(2026, 5, 30), date(2026, 6, 3))


def test_an_agrement_is_valid_from_its_first_day_R_OF_1() -> None:
    granted = agrement(date(2026, 1, 1), date(2026, 12, 31))
    assert granted.valid_on(date(2026, 1, 1))
    assert not granted.valid_on(date(2025, 12, 31))
    assert granted.valid_on(date(2026, 12, 31))
    assert not granted.valid_on(date(2027, 1, 1))


def test_a_later_agrement_does_not_hide_an_earlier_gap_R_OF_1() -> None:
    """Sorted periods: once one starts after the day reached, no later one can cover it."""
    periods = [agrement(date(2026, 3, 1), date(2026, 3, 31)), agrement(date(2026, 1, 1), date(2026, 1, 31))]
    assert covers(periods, date(2026, 1, 31), date(2026, 2, 1)) is False
    assert covers(periods, date(2026, 3, 1), date(2026, 3, 2)) is True


def test_agrement_dates_on_the_same_day_are_in_order_R_OF_1() -> None:
    assert agrement_dates_problem(date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1)) is None
    assert agrement_dates_problem(date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 1)) == (
        "valid_until is before valid_from"
    )
    assert agrement_dates_problem(date(2026, 1, 2), date(2026, 1, 1), date(2026, 1, 1)) == (
        "an agrément cannot start before its decision"
    )


def test_a_second_withdrawal_names_the_first_R_OF_1() -> None:
    withdrawn = agrement(date(2026, 1, 1), date(2030, 12, 31)).withdraw(date(2027, 6, 1), "retrait")
    with pytest.raises(InvalidTransition) as refused:
        withdrawn.withdraw(date(2027, 7, 1), "again")
    assert (refused.value.current, refused.value.wanted) == ("withdrawn on 2027-06-01", "withdraw")
    assert (refused.value.allowed, refused.value.rule_id) == ((), "R-OF-1")


def test_agrement_change_is_announced_granted_renewed_or_withdrawn_R_OF_1() -> None:
    granted = agrement(date(2026, 1, 1), date(2030, 12, 31))
    assert agrement_changed(SELLER, granted, renewed=False).status is AgrementStatus.GRANTED
    assert agrement_changed(SELLER, granted, renewed=True).status is AgrementStatus.RENEWED
    withdrawn = agrement_changed(SELLER, granted.withdraw(date(2027, 6, 1), "x"), renewed=True)
    assert (withdrawn.status, withdrawn.withdrawn_on) == (AgrementStatus.WITHDRAWN, date(2027, 6, 1))


# Lifecycle refusals name the status and what it allows


def test_refusals_name_the_status_and_what_it_allows() -> None:
    with pytest.raises(InvalidTransition) as withdrawn:
        ensure_editable(OfferStatus.WITHDRAWN)
    assert (withdrawn.value.current, withdrawn.value.wanted) == ("withdrawn", "edit")
    assert withdrawn.value.allowed == ()
    with pytest.raises(InvalidTransition) as published:
        ensure_publishable(OfferStatus.PUBLISHED, 1)
    assert (published.value.current, published.value.wanted) == ("published", "publish")
    assert published.value.allowed == ("edit", "add_session", "cancel_session", "withdraw")
    with pytest.raises(InvalidTransition) as empty:
        ensure_publishable(OfferStatus.DRAFT, 0)
    assert (empty.value.current, empty.value.wanted) == ("draft without open session", "publish")
    assert empty.value.allowed == ("add_session", "withdraw")
    with pytest.raises(InvalidTransition) as twice:
        ensure_cancellable(OfferStatus.PUBLISHED, SessionStatus.CANCELLED)
    assert (twice.value.current, twice.value.wanted, twice.value.allowed) == (
        "session cancelled",
        "cancel_session",
        (),
    )


# The aggregate passes the seller, the subcontractor, the kind and the day to every check


LYON = Location("69123", "69001", "Lyon", "69", "84", 45.764, 4.836)
CONTENT = OfferContent(
    kind=MANDATE,
    title="Finances locales",
    summary="Le budget communal.",
    objectives="",
    theme_code="FAL-03",
    certification_code=None,
    hours=Decimal(7),
    price_ht_cents=56_000,
    vat_rate_bp=2000,
    modality=Modality.IN_PERSON,
    location=LYON,
    subcontracting=None,
)


def offer(**changes: Any) -> Offer:
    return Offer(uuid.uuid4(), SELLER, "Institut", replace(CONTENT, **changes), created_at=NOW)


def session(start: date, end: date | None = None, capacity: int = 12) -> OfferSession:
    return OfferSession(uuid.uuid4(), start, end or start, capacity)


SHORT_SUB = Subcontractor(OTHER_OF, [agrement(date(2025, 1, 1), date(2027, 3, 31))])
WITH_SUB = {"subcontracting": Subcontracting(OTHER_OF, Decimal(20))}


def test_adding_a_session_checks_the_subcontractors_agrement_R_OFR_5() -> None:
    draft = offer(**WITH_SUB)
    draft.add_session(session(date(2027, 3, 31)), agrements=YEARS, subcontractor=SHORT_SUB)
    with pytest.raises(RulesBroken) as refused:
        draft.add_session(session(date(2027, 4, 1)), agrements=YEARS, subcontractor=SHORT_SUB)
    assert refused.value.rule_ids == ["R-OFR-5"]


def test_adding_a_session_checks_the_kind_R_OFR_4_R_OF_1() -> None:
    with pytest.raises(RulesBroken) as refused:
        offer().add_session(session(date(2031, 1, 6), capacity=16), agrements=YEARS, subcontractor=None)
    assert refused.value.rule_ids == ["R-OFR-4", "R-OF-1"]


def test_publication_checks_the_subcontractors_agrement_R_OFR_5() -> None:
    draft = offer(**WITH_SUB)
    draft.add_session(session(date(2027, 4, 1)), agrements=YEARS, subcontractor=None)
    with pytest.raises(RulesBroken) as refused:
        draft.publish(now=NOW, agrements=YEARS, subcontractor=SHORT_SUB)
    assert refused.value.rule_ids == ["R-OFR-5"]
    assert draft.status is OfferStatus.DRAFT


def published(**changes: Any) -> Offer:
    live = offer(**changes)
    live.add_session(session(date(2027, 4, 1)), agrements=YEARS, subcontractor=None)
    live.publish(now=NOW, agrements=YEARS, subcontractor=None)
    live.events.clear()
    return live


def test_revision_checks_subcontracting_to_oneself_R_OFR_5() -> None:
    live = published()
    to_myself = replace(live.content, subcontracting=Subcontracting(SELLER, Decimal(20)))
    with pytest.raises(RulesBroken) as refused:
        live.revise(to_myself, agrements=YEARS, subcontractor=Subcontractor(SELLER, YEARS), today=TODAY)
    assert [(r.rule_id, r.message) for r in refused.value.broken] == [
        ("R-OFR-5", "an OF does not subcontract to itself")
    ]


def test_revision_checks_the_subcontractor_on_today_and_on_the_sessions_R_OFR_5() -> None:
    live = published()
    sub = replace(live.content, **WITH_SUB)
    ends_today = Subcontractor(OTHER_OF, [agrement(date(2022, 1, 1), TODAY)])
    with pytest.raises(RulesBroken) as refused:
        live.revise(sub, agrements=YEARS, subcontractor=ends_today, today=TODAY)
    assert refused.value.rule_ids == ["R-OFR-5"]
    assert "not accredited from 2027-04-01" in refused.value.broken[0].message
    live.revise(sub, agrements=YEARS, subcontractor=Subcontractor(OTHER_OF, YEARS), today=TODAY)
    assert live.content.subcontracting == WITH_SUB["subcontracting"]


def test_revision_of_a_published_mandate_offer_checks_its_sessions_R_OF_1() -> None:
    live = published()
    with pytest.raises(RulesBroken) as refused:
        live.revise(live.content, agrements=[], subcontractor=None, today=TODAY)
    assert refused.value.rule_ids == ["R-OF-1"]


def test_a_place_is_required_unless_remote_R_OFR_PLACE() -> None:
    draft = offer()
    with pytest.raises(RulesBroken) as refused:
        draft.revise(replace(CONTENT, location=None), agrements=YEARS, subcontractor=None, today=TODAY)
    assert refused.value.broken == [
        RuleBroken(PLACE_RULE, "an in-person or mixed training needs a location", field="location")
    ]


def test_snapshot_carries_theme_certification_and_place() -> None:
    live = published()
    live.revise(live.content, agrements=YEARS, subcontractor=None, today=TODAY)
    (snapshot,) = live.events
    assert (snapshot.theme_code, snapshot.certification_code) == ("FAL-03", None)
    remote = published(
        kind=REINSERTION,
        theme_code=None,
        certification_code="RNCP35185",
        modality=Modality.REMOTE,
        location=None,
    )
    shown = remote.snapshot()
    assert (shown.theme_code, shown.certification_code, shown.location) == (None, "RNCP35185", None)


def test_only_a_published_offer_has_a_snapshot() -> None:
    with pytest.raises(AssertionError, match="only a published offer has a snapshot"):
        offer().snapshot()


def test_withdrawal_records_its_time() -> None:
    live = published()
    live.withdraw(now=NOW, reason="fin")
    assert (live.status, live.withdrawn_at) == (OfferStatus.WITHDRAWN, NOW)


def test_an_unknown_session_is_named() -> None:
    draft = offer()
    missing = uuid.uuid4()
    with pytest.raises(NotFound, match=f"no session {missing} in offer {draft.id}"):
        draft.session(missing)


# Prices, ratings, sort order


@pytest.mark.parametrize(
    ("ht", "rate_bp", "ttc"),
    [
        (56_000, 2000, 67_200),
        (1, 2000, 1),
        (3, 2000, 4),
        (25, 2000, 30),
        (105, 550, 111),
        (56_000, 0, 56_000),
    ],
)
def test_vat_is_added_and_rounded_half_up_once(ht: int, rate_bp: int, ttc: int) -> None:
    assert price_ttc_cents(ht, rate_bp) == ttc


def test_vat_half_cent_rounds_up() -> None:
    assert price_ttc_cents(5, 1000) == 6  # 0.5 cent of VAT → 1
    assert price_ttc_cents(15, 1000) == 17  # 1.5 cents of VAT → 2


def test_a_rating_of_1_and_of_5_is_accepted_R_DOS_6() -> None:
    quality = Quality().add(1).add(5)
    assert (quality.count, quality.rating_sum) == (2, 6)
    with pytest.raises(ValueError, match="a rating is between 1 and 5, not 0"):
        Quality().add(0)


def test_relevance_without_text_falls_back_to_start_date() -> None:
    assert effective_sort(SortOrder.PRICE, SearchFilters()) is SortOrder.PRICE
    assert effective_sort(SortOrder.PRICE, SearchFilters(q="budget")) is SortOrder.PRICE
    assert effective_sort(SortOrder.RELEVANCE, SearchFilters()) is SortOrder.START_DATE
    assert effective_sort(SortOrder.RELEVANCE, SearchFilters(q="budget")) is SortOrder.RELEVANCE
