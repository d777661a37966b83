"""Envelopes (R-FUN-2), the provider's signature (R-FUN-4) and the balance read model (R-FUN-1)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from dife_contracts.enums import HoldRejectionReason, MandateFamily
from dife_contracts.events import HoldPlaced, HoldRejected, HoldReleased, RightsCredited, RightsExpired
from funding.domain.balances import next_available
from funding.domain.card import SignatureCheck, check_signature, sign
from funding.domain.cofunding import (
    DecisionMode,
    Envelope,
    check_code_registration,
    collectivite_codes,
    owns_code,
)
from servicekit.rules import InvalidTransition, RuleBroken, RulesBroken

TODAY = date(2026, 11, 27)


def envelope(**changes: object) -> Envelope:
    fields: dict[str, object] = dict(
        envelope_id=uuid4(),
        siren="213100017",
        collectivite_code="31555",
        deliberation_reference="DEL-2026-17",
        deliberation_date=TODAY,
        budget_cents=100_000,
        per_elu_ceiling_cents=30_000,
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
        decision_mode=DecisionMode.AUTOMATIC,
        themes=[],
        today=TODAY,
        code_owner="213100017",
    )
    fields.update(changes)
    return Envelope.create(**fields)


def test_deliberation_taken_today_is_accepted_tomorrow_is_refused_R_FUN_2() -> None:
    assert envelope(deliberation_date=TODAY).deliberation_date == TODAY
    with pytest.raises(RulesBroken) as error:
        envelope(deliberation_date=date(2026, 11, 28))
    assert error.value.rule_ids == ["R-FUN-2"]


def test_ceiling_equal_to_the_budget_is_accepted_one_cent_above_is_refused_R_FUN_2() -> None:
    assert envelope(per_elu_ceiling_cents=100_000).per_elu_ceiling_cents == 100_000
    with pytest.raises(RulesBroken):
        envelope(per_elu_ceiling_cents=100_001)


def test_every_broken_rule_is_listed_at_once_R_FUN_2() -> None:
    with pytest.raises(RulesBroken) as error:
        envelope(budget_cents=0, deliberation_reference=" ", valid_until=date(2026, 1, 1))
    assert len(error.value.broken) >= 3


def test_capacity_is_the_smaller_of_budget_left_and_ceiling_left_R_FUN_2() -> None:
    env = envelope()
    assert env.capacity_for(0) == 30_000
    assert env.capacity_for(29_999) == 1
    assert env.capacity_for(30_000) == 0
    env.reserved_cents = 99_990
    assert env.capacity_for(0) == 10


def test_envelope_covers_a_training_on_its_last_valid_day_not_one_day_after_R_FUN_2() -> None:
    env = envelope()
    assert env.covers(date(2027, 12, 30), date(2027, 12, 31))
    assert not env.covers(date(2027, 12, 31), date(2028, 1, 1))


def test_a_closed_envelope_gives_nothing_and_cannot_close_twice_R_FUN_2() -> None:
    env = envelope()
    env.close()
    assert env.capacity_for(0) == 0 and not env.covers(date(2027, 3, 1), date(2027, 3, 1))
    with pytest.raises(InvalidTransition):
        env.close()


def test_collectivites_are_those_of_mandates_running_on_the_training_day_R_FUN_2() -> None:
    mandates = [("31555", date(2020, 6, 28), None), ("200046977", date(2020, 7, 1), date(2027, 3, 14))]
    assert collectivite_codes(mandates, date(2027, 3, 14)) == ["200046977", "31555"]
    assert collectivite_codes(mandates, date(2027, 3, 15)) == ["31555"]


BODY = b'{"id":"evt_1"}'


def test_a_signature_with_either_rotation_secret_is_valid_R_FUN_4() -> None:
    for secret in ("old", "new"):
        assert check_signature(sign(secret, 1000, BODY), BODY, ["new", "old"], 1000) is SignatureCheck.VALID


def test_a_signature_with_another_secret_or_body_is_bad_R_FUN_4() -> None:
    assert check_signature(sign("other", 1000, BODY), BODY, ["new"], 1000) is SignatureCheck.BAD_SIGNATURE
    assert (
        check_signature(sign("new", 1000, BODY), BODY + b" ", ["new"], 1000) is SignatureCheck.BAD_SIGNATURE
    )


def test_a_notification_exactly_5_minutes_old_is_fresh_one_second_more_is_stale_R_FUN_4() -> None:
    header = sign("new", 1000, BODY)
    assert check_signature(header, BODY, ["new"], 1300) is SignatureCheck.VALID
    assert check_signature(header, BODY, ["new"], 1301) is SignatureCheck.STALE


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=12", "t=abc,v1=00", "garbage"])
def test_a_malformed_signature_header_is_refused_R_FUN_4(header: str | None) -> None:
    assert check_signature(header, BODY, ["new"], 1000) is SignatureCheck.MALFORMED


def test_balance_read_model_follows_credits_holds_releases_and_snapshots_R_FUN_1() -> None:
    elu, dossier, hold = uuid4(), uuid4(), uuid4()
    credited = RightsCredited(
        elu_id=elu,
        campaign_id=uuid4(),
        year=2026,
        family=MandateFamily.MUNICIPAL,
        amount_cents=40_000,
        capped=False,
        balance_after_cents=40_000,
        credited_on=TODAY,
    )
    available = next_available(0, credited)
    assert available == 40_000
    available = next_available(
        available,
        HoldPlaced(
            elu_id=elu, hold_id=hold, dossier_id=dossier, amount_cents=30_000, available_after_cents=10_000
        ),
    )
    assert available == 10_000
    available = next_available(
        available,
        HoldReleased(elu_id=elu, hold_id=hold, dossier_id=dossier, released_cents=30_000, reason="x"),
    )
    assert available == 40_000
    rejected = HoldRejected(
        elu_id=elu,
        dossier_id=dossier,
        requested_cents=1,
        available_cents=7,
        reason=HoldRejectionReason.INSUFFICIENT_RIGHTS,
        detail="",
    )
    assert next_available(available, rejected) == 7
    assert (
        next_available(5, RightsExpired(elu_id=elu, amount_cents=9, expired_on=TODAY, reason="R-END-1")) == 0
    )


def test_each_broken_envelope_rule_names_its_field_R_FUN_2() -> None:
    with pytest.raises(RulesBroken) as error:
        envelope(
            deliberation_reference=" ",
            deliberation_date=date(2026, 11, 28),
            budget_cents=0,
            per_elu_ceiling_cents=0,
            valid_until=date(2026, 12, 31),
        )
    assert [(rule.rule_id, rule.field) for rule in error.value.broken] == [
        ("R-FUN-2", "deliberation_reference"),
        ("R-FUN-2", "deliberation_date"),
        ("R-FUN-2", "budget_cents"),
        ("R-FUN-2", "per_elu_ceiling_cents"),
        ("R-FUN-2", "valid_until"),
    ]


def test_a_valid_envelope_keeps_what_it_was_given_open_and_unreserved_R_FUN_2() -> None:
    env = envelope(
        deliberation_reference="  DEL-2026-17 ",
        themes=["FAL-03"],
        budget_cents=1,
        per_elu_ceiling_cents=1,
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 1, 1),
    )
    assert env.deliberation_reference == "DEL-2026-17"
    assert (env.siren, env.collectivite_code, env.themes) == ("213100017", "31555", ["FAL-03"])
    assert (env.budget_cents, env.per_elu_ceiling_cents, env.reserved_cents, env.remaining_cents) == (
        1,
        1,
        0,
        1,
    )
    assert env.status.value == "open" and env.decision_mode is DecisionMode.AUTOMATIC
    assert (env.valid_from, env.valid_until, env.deliberation_date) == (
        date(2027, 1, 1),
        date(2027, 1, 1),
        TODAY,
    )


# ---- a collectivité tops up only its own élus (R-FUN-2)


def test_a_siren_owns_the_code_registered_to_it_and_not_one_registered_to_another_R_FUN_2() -> None:
    assert owns_code("213100017", "31555", "213100017")
    assert not owns_code("217500016", "31555", "213100017")
    assert not owns_code("213100017", "31555", None)


def test_an_epci_owns_its_own_siren_as_code_without_registration_R_FUN_2() -> None:
    assert owns_code("200046977", "200046977", None)
    assert not owns_code("213100017", "200046977", None)


def test_an_envelope_for_a_code_the_siren_does_not_own_is_refused_naming_the_code_R_FUN_2() -> None:
    with pytest.raises(RulesBroken) as error:
        envelope(collectivite_code="75056", code_owner="217500016")
    assert error.value.broken == [
        RuleBroken(
            "R-FUN-2",
            "SIREN 213100017 does not own the collectivité code 75056: "
            "a collectivité tops up only its own élus",
            field="collectivite_code",
        )
    ]
    assert envelope(collectivite_code="75056", siren="217500016", code_owner="217500016").siren == "217500016"


def test_an_epcis_siren_registers_only_to_itself_other_codes_to_anyone_R_FUN_2() -> None:
    with pytest.raises(RuleBroken) as error:
        check_code_registration("200046977", "213100017")
    assert error.value == RuleBroken(
        "R-FUN-2",
        "the code 200046977 is an EPCI's SIREN: it belongs to SIREN 200046977 only",
        field="collectivite_code",
    )
    check_code_registration("200046977", "200046977")
    check_code_registration("31555", "213100017")
    check_code_registration("20004697", "213100017")  # 8 digits: not a SIREN
    check_code_registration("2A0040000", "213100017")  # 9 characters, not all digits: not a SIREN


# ---- envelope themes (R-FUN-2)


def test_an_envelope_without_themes_serves_every_training_R_FUN_2() -> None:
    assert envelope(themes=[]).serves_theme("FAL-03")
    assert envelope(themes=[]).serves_theme(None)


def test_a_themed_envelope_serves_its_themes_only_and_not_an_unknown_theme_R_FUN_2() -> None:
    themed = envelope(themes=["FAL-03", "EP-02"])
    assert themed.serves_theme("FAL-03") and themed.serves_theme("EP-02")
    assert not themed.serves_theme("FAL-04")
    assert not themed.serves_theme(None)
