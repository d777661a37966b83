"""R-OF-1: an agrément valid on all the session dates; a withdrawal ends validity from its date."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from catalogue.domain.organismes import (
    Agrement,
    agrement_dates_problem,
    covers,
    is_accredited,
    normalise_siret,
)
from servicekit.rules import InvalidTransition


def agrement(valid_from: date, valid_until: date, withdrawn_on: date | None = None) -> Agrement:
    return Agrement(uuid.uuid4(), "AGR-01", valid_from, valid_from, valid_until, withdrawn_on)


def test_session_inside_the_agrement_is_covered_R_OF_1() -> None:
    agrements = [agrement(date(2026, 1, 1), date(2026, 12, 31))]
    assert covers(agrements, date(2026, 1, 1), date(2026, 1, 1))
    assert covers(agrements, date(2026, 12, 30), date(2026, 12, 31))


def test_session_ending_one_day_after_the_agrement_is_not_covered_R_OF_1() -> None:
    agrements = [agrement(date(2026, 1, 1), date(2026, 12, 31))]
    assert not covers(agrements, date(2026, 12, 31), date(2027, 1, 1))
    assert not covers(agrements, date(2025, 12, 31), date(2026, 1, 1))


def test_renewal_following_the_agrement_covers_a_session_across_both_R_OF_1() -> None:
    agrements = [
        agrement(date(2027, 1, 1), date(2031, 12, 31)),
        agrement(date(2022, 1, 1), date(2026, 12, 31)),
    ]
    assert covers(agrements, date(2026, 12, 30), date(2027, 1, 2))


def test_gap_between_agrements_is_not_covered_R_OF_1() -> None:
    agrements = [
        agrement(date(2022, 1, 1), date(2026, 12, 30)),
        agrement(date(2027, 1, 1), date(2031, 12, 31)),
    ]
    assert not covers(agrements, date(2026, 12, 30), date(2027, 1, 2))


def test_withdrawal_ends_validity_from_its_date_R_OF_1() -> None:
    withdrawn = agrement(date(2026, 1, 1), date(2030, 12, 31)).withdraw(
        date(2027, 6, 1), "retrait ministériel"
    )
    assert withdrawn.valid_on(date(2027, 5, 31))
    assert not withdrawn.valid_on(date(2027, 6, 1))
    assert covers([withdrawn], date(2027, 5, 30), date(2027, 5, 31))
    assert not covers([withdrawn], date(2027, 5, 31), date(2027, 6, 1))


def test_withdrawal_on_the_first_day_leaves_no_validity_R_OF_1() -> None:
    withdrawn = agrement(date(2026, 1, 1), date(2030, 12, 31)).withdraw(date(2026, 1, 1), "erreur")
    assert not is_accredited([withdrawn], date(2026, 1, 1))
    assert not covers([withdrawn], date(2026, 1, 1), date(2026, 1, 1))


def test_an_agrement_is_withdrawn_once_and_stays_in_history_R_OF_1() -> None:
    withdrawn = agrement(date(2026, 1, 1), date(2030, 12, 31)).withdraw(date(2027, 6, 1), "retrait")
    assert withdrawn.reference == "AGR-01"
    assert withdrawn.withdrawal_reason == "retrait"
    with pytest.raises(InvalidTransition):
        withdrawn.withdraw(date(2027, 7, 1), "again")


def test_agrement_dates_must_be_in_order() -> None:
    assert agrement_dates_problem(date(2026, 1, 1), date(2026, 2, 1), date(2030, 1, 31)) is None
    assert agrement_dates_problem(date(2026, 1, 1), date(2026, 2, 1), date(2026, 1, 31)) is not None
    assert agrement_dates_problem(date(2026, 3, 1), date(2026, 2, 1), date(2030, 1, 31)) is not None


def test_siret_is_checked_with_its_luhn_key() -> None:
    assert normalise_siret("732 829 320 00074") == "73282932000074"
    assert normalise_siret("73282932000075") is None
    assert normalise_siret("7328293200007") is None


def test_withdrawal_takes_away_the_mandate_sessions_it_no_longer_covers_R_OF_1() -> None:
    from catalogue.domain.offers import MANDATE, REINSERTION, ScheduledSession, sessions_losing_agrement

    withdrawn = agrement(date(2026, 1, 1), date(2030, 12, 31)).withdraw(date(2027, 6, 1), "retrait")
    before = ScheduledSession(uuid.uuid4(), date(2027, 5, 30), date(2027, 5, 31))
    across = ScheduledSession(uuid.uuid4(), date(2027, 5, 31), date(2027, 6, 1))
    after = ScheduledSession(uuid.uuid4(), date(2027, 9, 1), date(2027, 9, 2))
    assert sessions_losing_agrement(MANDATE, [before, across, after], [withdrawn]) == [across, after]
    assert sessions_losing_agrement(REINSERTION, [before, across, after], [withdrawn]) == []
