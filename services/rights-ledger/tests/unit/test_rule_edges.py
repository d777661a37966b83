"""Both sides of each rule's edge, found by mutation testing (issue 16): the day itself, the cent itself."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from dife_contracts.enums import MandateFamily, RneFileType
from rights_ledger.domain.identity import PersonKey, VerifiedIdentity
from rights_ledger.domain.ledger import Account, Hold, HoldStatus, MovementKind
from rights_ledger.domain.mandates import (
    AccountStatus,
    HoldRejectionReason,
    Mandate,
    TrainingPurpose,
    add_months,
    credited_in_campaign,
    crediting_family,
    hold_rejection,
    last_mandate_end,
    rights_usable_until,
)
from rights_ledger.domain.nir import InvalidNir, nir_disagreements, nir_hash, nir_key, validate_nir
from rights_ledger.domain.parameters import CampaignFamily, CampaignRef, parameters_at
from rights_ledger.domain.rne import RneFormatError, parse_date, parse_rne
from rights_ledger.domain.snapshot import SnapshotLimits, check_readable_enough
from servicekit.rules import RuleBroken

CAMPAIGN_2026 = CampaignRef(2026, CampaignFamily.MUNICIPAL)

NOW = datetime(2026, 4, 1, tzinfo=UTC)

# R-ACC-3: tie-break between families starting the same day.


@pytest.mark.parametrize("other_type", [MandateFamily.DEPARTMENTAL, MandateFamily.REGIONAL])
def test_on_a_tie_of_start_dates_the_municipal_family_wins_R_ACC_3(other_type: MandateFamily) -> None:
    start = date(2020, 6, 28)
    for mandates in (
        [Mandate(MandateFamily.MUNICIPAL, start), Mandate(other_type, start)],
        [Mandate(other_type, start), Mandate(MandateFamily.MUNICIPAL, start)],
    ):
        assert crediting_family(mandates, date(2026, 3, 30)) is CampaignFamily.MUNICIPAL
        assert credited_in_campaign(mandates, CampaignFamily.MUNICIPAL, 2026)


def test_a_municipal_mandate_started_one_day_later_loses_the_tie_break_R_ACC_3() -> None:
    mandates = [
        Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 29)),
        Mandate(MandateFamily.DEPARTMENTAL, date(2020, 6, 28)),
    ]
    assert crediting_family(mandates, date(2026, 3, 30)) is CampaignFamily.OTHER
    assert not credited_in_campaign(mandates, CampaignFamily.MUNICIPAL, 2026)


# R-ACC-4: a mandate ending ON the campaign day still runs that day.


def test_a_mandate_ending_on_the_campaign_day_is_credited_R_ACC_4() -> None:
    ends_on_the_day = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 30))]
    assert ends_on_the_day[0].running_on(date(2026, 3, 30))
    assert crediting_family(ends_on_the_day, date(2026, 3, 30)) is CampaignFamily.MUNICIPAL
    assert credited_in_campaign(ends_on_the_day, CampaignFamily.MUNICIPAL, 2026)


def test_a_mandate_ending_the_day_before_the_campaign_is_not_credited_R_ACC_4() -> None:
    ended_the_day_before = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 29))]
    assert not ended_the_day_before[0].running_on(date(2026, 3, 30))
    assert crediting_family(ended_the_day_before, date(2026, 3, 30)) is None
    assert not credited_in_campaign(ended_the_day_before, CampaignFamily.MUNICIPAL, 2026)


def test_a_mandate_starting_the_day_after_the_campaign_is_not_credited_R_ACC_4() -> None:
    assert not credited_in_campaign(
        [Mandate(MandateFamily.MUNICIPAL, date(2026, 3, 31))], CampaignFamily.MUNICIPAL, 2026
    )


# R-END-1: add_months across every month, the window, the expiry of one cent.


@pytest.mark.parametrize(
    ("end", "until"),
    [
        (date(2026, 1, 15), date(2026, 7, 15)),
        (date(2026, 6, 30), date(2026, 12, 30)),
        (date(2026, 7, 5), date(2027, 1, 5)),
        (date(2026, 7, 31), date(2027, 1, 31)),
        (date(2026, 12, 31), date(2027, 6, 30)),
        (date(2027, 8, 31), date(2028, 2, 29)),
    ],
)
def test_the_window_ends_6_months_after_the_last_mandate_whatever_its_month_R_END_1(
    end: date, until: date
) -> None:
    assert add_months(end, 6) == until
    assert rights_usable_until([Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), end)], None) == until


@pytest.mark.parametrize(
    ("months", "expected"), [(0, date(2026, 7, 31)), (11, date(2027, 6, 30)), (12, date(2027, 7, 31))]
)
def test_add_months_keeps_the_year_right_at_the_edges_of_a_year_R_END_1(months: int, expected: date) -> None:
    assert add_months(date(2026, 7, 31), months) == expected


def test_an_expiry_leaving_nothing_but_one_held_cent_expires_the_rest_R_END_1() -> None:
    account = Account(uuid4(), balance_cents=40_001, held_cents=1)
    movement = account.expire(NOW, "expiry run", as_of=NOW.date())
    assert movement is not None
    assert (movement.amount_cents, account.balance_cents, account.available_cents) == (40_000, 1, 0)


def test_an_available_balance_of_one_cent_expires_R_END_1() -> None:
    account = Account(uuid4(), balance_cents=1)
    movement = account.expire(NOW, "expiry run", as_of=NOW.date())
    assert movement is not None and movement.kind is MovementKind.EXPIRY
    assert (movement.amount_cents, account.balance_cents) == (1, 0)


def _hold_on(
    purpose: TrainingPurpose, start: date, end: date, mandates: list[Mandate]
) -> HoldRejectionReason | None:
    return hold_rejection(
        purpose=purpose,
        training_start=start,
        training_end=end,
        mandates=mandates,
        pension_liquidated_on=None,
        account_status=AccountStatus.ACTIVE,
    )


MANDATE_2020_2026 = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 22))]


def test_a_mandate_training_from_the_first_to_the_last_day_of_the_mandate_is_eligible_R_DOS_2() -> None:
    assert _hold_on(TrainingPurpose.MANDATE, date(2020, 6, 28), date(2026, 3, 22), MANDATE_2020_2026) is None
    assert _hold_on(TrainingPurpose.MANDATE, date(2026, 3, 22), date(2026, 3, 22), MANDATE_2020_2026) is None


def test_a_mandate_training_a_day_before_or_after_the_mandate_is_not_eligible_R_DOS_2() -> None:
    before = _hold_on(TrainingPurpose.MANDATE, date(2020, 6, 27), date(2020, 7, 1), MANDATE_2020_2026)
    after = _hold_on(TrainingPurpose.MANDATE, date(2026, 3, 20), date(2026, 3, 23), MANDATE_2020_2026)
    assert (before, after) == (HoldRejectionReason.NOT_ELIGIBLE, HoldRejectionReason.NOT_ELIGIBLE)


def test_a_one_day_reinsertion_training_on_the_windows_last_day_is_eligible_R_END_1() -> None:
    last_day = date(2026, 9, 22)
    assert _hold_on(TrainingPurpose.REINSERTION, last_day, last_day, MANDATE_2020_2026) is None
    next_day = date(2026, 9, 23)
    assert (
        _hold_on(TrainingPurpose.REINSERTION, next_day, next_day, MANDATE_2020_2026)
        is HoldRejectionReason.NOT_ELIGIBLE
    )


def test_a_training_ending_before_it_starts_is_not_eligible_R_END_1() -> None:
    running = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]
    assert (
        _hold_on(TrainingPurpose.MANDATE, date(2026, 5, 2), date(2026, 5, 1), running)
        is HoldRejectionReason.NOT_ELIGIBLE
    )


def test_a_reinsertion_training_without_any_mandate_is_not_eligible_R_END_1() -> None:
    assert _hold_on(TrainingPurpose.REINSERTION, date(2026, 5, 1), date(2026, 5, 2), []) is (
        HoldRejectionReason.NOT_ELIGIBLE
    )


# R-FUN-1 / R-PAY-2: the cent itself.


def test_a_hold_equal_to_the_available_balance_is_placed_R_FUN_1() -> None:
    account = Account(uuid4(), balance_cents=30_000, held_cents=10_000)
    movement = account.place_hold(Hold(uuid4(), account.elu_id, 20_000, None), NOW)
    assert (movement.amount_cents, account.held_cents, account.available_cents) == (20_000, 30_000, 0)


def test_a_hold_one_cent_above_the_available_balance_is_refused_R_FUN_1() -> None:
    account = Account(uuid4(), balance_cents=30_000, held_cents=10_000)
    with pytest.raises(RuleBroken) as refused:
        account.place_hold(Hold(uuid4(), account.elu_id, 20_001, None), NOW)
    assert refused.value.rule_id == "R-FUN-1"
    assert account.held_cents == 10_000


@pytest.mark.parametrize("amount", [0, -1])
def test_a_hold_of_zero_or_less_is_refused_R_FUN_5(amount: int) -> None:
    account = Account(uuid4(), balance_cents=30_000)
    with pytest.raises(RuleBroken) as refused:
        account.place_hold(Hold(uuid4(), account.elu_id, amount, None), NOW)
    assert refused.value.rule_id == "R-FUN-5"
    assert account.journal == []


def test_a_hold_of_one_cent_is_placed_R_FUN_5() -> None:
    account = Account(uuid4(), balance_cents=1)
    assert account.place_hold(Hold(uuid4(), account.elu_id, 1, None), NOW).amount_cents == 1


def _held(amount: int = 30_000) -> tuple[Account, Hold]:
    account = Account(uuid4(), balance_cents=80_000)
    hold = Hold(uuid4(), account.elu_id, amount, "dossier")
    account.place_hold(hold, NOW)
    return account, hold


def test_a_capture_of_the_full_hold_releases_nothing_R_PAY_2() -> None:
    account, hold = _held()
    [capture] = account.capture(hold, 30_000, NOW)
    assert (capture.kind, capture.amount_cents, capture.hold_id) == (
        MovementKind.CAPTURE,
        30_000,
        hold.hold_id,
    )
    assert (account.balance_cents, account.held_cents, hold.captured_cents) == (50_000, 0, 30_000)
    assert hold.status is HoldStatus.POSTED


def test_a_capture_of_zero_releases_the_whole_hold_and_spends_nothing_R_PAY_2() -> None:
    account, hold = _held()
    [release] = account.capture(hold, 0, NOW)
    assert (release.kind, release.amount_cents, release.held_delta_cents) == (
        MovementKind.RELEASE,
        30_000,
        -30_000,
    )
    assert (account.balance_cents, account.held_cents, hold.status) == (80_000, 0, HoldStatus.POSTED)


@pytest.mark.parametrize("amount", [-1, 30_001])
def test_a_capture_outside_0_to_the_hold_is_refused_R_PAY_2(amount: int) -> None:
    account, hold = _held()
    with pytest.raises(RuleBroken) as refused:
        account.capture(hold, amount, NOW)
    assert refused.value.rule_id == "R-PAY-2"
    assert (account.held_cents, hold.status) == (30_000, HoldStatus.PENDING)


def test_a_release_gives_the_whole_hold_back_and_records_one_movement_R_FUN_5() -> None:
    account, hold = _held()
    movement = account.release(hold, NOW)
    assert (movement.kind, movement.amount_cents, movement.balance_delta_cents) == (
        MovementKind.RELEASE,
        30_000,
        0,
    )
    assert (account.balance_cents, account.held_cents, len(account.journal)) == (80_000, 0, 2)


# R-ACC-2: an adjustment to exactly the cap, one cent above; to exactly the holds, one cent below.


def test_an_adjustment_to_exactly_the_cap_is_accepted_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=70_000, cap_cents=70_000)
    movement = account.adjust(10_000, 80_000, NOW, "to the cap")
    assert (movement.amount_cents, account.balance_cents, account.cap_cents) == (10_000, 80_000, 80_000)


def test_an_adjustment_one_cent_above_the_cap_is_refused_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=70_000)
    with pytest.raises(RuleBroken) as refused:
        account.adjust(10_001, 80_000, NOW, "above the cap")
    assert refused.value.rule_id == "R-ACC-2"
    assert "above the cap" in refused.value.message
    assert (account.balance_cents, account.journal) == (70_000, [])


def test_a_negative_adjustment_above_a_lowered_cap_is_accepted_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=120_000, cap_cents=150_000)
    movement = account.adjust(-10_000, 80_000, NOW, "towards the new cap")
    assert (movement.balance_delta_cents, account.balance_cents, account.cap_cents) == (
        -10_000,
        110_000,
        150_000,
    )


def test_an_adjustment_to_exactly_zero_is_accepted_and_one_cent_below_refused_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=5_000)
    with pytest.raises(RuleBroken) as refused:
        account.adjust(-5_001, 80_000, NOW, "below zero")
    assert refused.value.rule_id == "R-ACC-2"
    assert "below 0" in refused.value.message
    account.adjust(-5_000, 80_000, NOW, "to zero")
    assert account.balance_cents == 0


def test_an_adjustment_down_to_exactly_the_holds_is_accepted_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=30_000)
    account.place_hold(Hold(uuid4(), account.elu_id, 20_000, None), NOW)
    account.adjust(-10_000, 80_000, NOW, "down to the holds")
    assert (account.balance_cents, account.held_cents, account.available_cents) == (20_000, 20_000, 0)


def test_an_adjustment_of_zero_is_refused_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=30_000)
    with pytest.raises(RuleBroken) as refused:
        account.adjust(0, 80_000, NOW, "nothing")
    assert refused.value.rule_id == "R-ACC-2"


# R-REG-3: provisional NIRs starting with 8; the sex digits at the edges of the set.


def _with_key(first_13: str) -> str:
    return first_13 + f"{97 - int(first_13) % 97:02d}"


def test_a_provisional_nir_starting_with_8_is_valid_and_reads_as_a_woman_R_REG_3() -> None:
    nir = _with_key("8610375111005")
    assert nir_key(nir[:13]) == nir[13:]
    assert validate_nir(nir) == nir
    born = date(1961, 3, 5)
    assert nir_disagreements(nir, birth_date=born, sexes=["F"]) == []
    assert nir_disagreements(nir, birth_date=born, sexes=["M"]) == [
        "the NIR's sex digit does not agree with the identity's sex"
    ]


@pytest.mark.parametrize("digit", ["0", "3", "6", "9"])
def test_a_nir_whose_sex_digit_is_not_1_2_7_or_8_is_refused_R_REG_3(digit: str) -> None:
    with pytest.raises(InvalidNir, match="sex"):
        validate_nir(_with_key(digit + "610375111005"))


# R-REG-1: every rejection branch lets the next line load; parsed fields; padded dates.

HEADER = (
    "Code du département;Libellé du département;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction"
)
GOOD = "75;Paris;56;Paris;Le Bœuf-d'Aubigné;Jean-François;M;05/03/1961;28/06/2020;Maire;03/07/2020"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            "75;Paris;;Paris;DUPONT;Élise;F;05/03/1961;28/06/2020;Maire;03/07/2020",
            "collectivité code missing",
        ),
        ("75;Paris;56;Paris;DUPONT;Élise;F;05/03/1961;28/06/2020;Maire;2020/07/03", "function start date"),
        (
            "75;Paris;56;Paris;DUPONT;Élise;F;05/03/1961;04/03/1961;Maire;",
            "the mandate starts before the birth date",
        ),
        ("75;Paris;56;Paris;DUPONT;Élise;F;05/03/1961;1961-13-01;Maire;", "mandate start date"),
    ],
)
def test_a_rejected_line_is_reported_and_the_next_line_still_loads_R_REG_1(bad: str, reason: str) -> None:
    parsed = parse_rne(("\n".join([HEADER, bad, GOOD]) + "\n").encode(), RneFileType.CM)
    [rejected] = parsed.rejected
    assert rejected.line == 2
    assert rejected.reason.startswith(reason)
    assert [record.line for record in parsed.records] == [3]
    assert (parsed.loaded, parsed.rows_read) == (1, 2)


def test_every_field_of_a_record_is_parsed_R_REG_1() -> None:
    [record] = parse_rne((HEADER + "\n" + GOOD + "\n").encode(), RneFileType.CM).records
    assert record.family_name == "Le Bœuf-d'Aubigné"
    assert (record.family_key, record.given_key) == ("LE BOEUF D AUBIGNE", "JEAN FRANCOIS")
    assert (record.sex, record.department_code, record.collectivite_code) == ("M", "75", "00056")
    assert (record.collectivite_name, record.function) == ("Paris", "Maire")
    assert (record.birth_date, record.mandate_start, record.function_start) == (
        date(1961, 3, 5),
        date(2020, 6, 28),
        date(2020, 7, 3),
    )


def test_a_row_with_padded_fields_is_stripped_R_REG_1() -> None:
    padded = "75 ; Paris ; 56 ; Paris ; DUPONT ; Élise ; F ; 05/03/1961 ; 2020-06-28 ; Maire ; 03/07/2020 "
    [record] = parse_rne((HEADER + "\n" + padded + "\n").encode(), RneFileType.CM).records
    assert (record.family_name, record.sex, record.department_code, record.collectivite_code) == (
        "DUPONT",
        "F",
        "75",
        "00056",
    )
    assert (record.birth_date, record.mandate_start, record.function, record.function_start) == (
        date(1961, 3, 5),
        date(2020, 6, 28),
        "Maire",
        date(2020, 7, 3),
    )


@pytest.mark.parametrize("raw", [" 05/03/1961", "05/03/1961 ", "  1961-03-05\t"])
def test_padded_dates_are_read_R_REG_1(raw: str) -> None:
    assert parse_date(raw) == date(1961, 3, 5)


@pytest.mark.parametrize("raw", ["05-03-1961", "1961/03/05", "5/3/1961", "05/03/19610"])
def test_other_date_shapes_are_refused_R_REG_1(raw: str) -> None:
    with pytest.raises(ValueError, match="neither"):
        parse_date(raw)


def test_a_mandate_starting_on_the_birth_date_is_rejected_as_under_18_not_before_birth_R_REG_1() -> None:
    line = "75;Paris;56;Paris;DUPONT;Élise;F;05/03/1961;05/03/1961;Maire;"
    [rejected] = parse_rne((HEADER + "\n" + line + "\n").encode(), RneFileType.CM).rejected
    assert "under 18" in rejected.reason


def test_a_file_without_the_optional_columns_loads_with_empty_fields_R_REG_1() -> None:
    header = "Code de la commune;Nom de l'élu;Prénom de l'élu;Date de naissance;Date de début du mandat"
    [record] = parse_rne(
        f"{header}\n1001;DUPONT;Élise;05/03/1961;28/06/2020\n".encode(), RneFileType.CM
    ).records
    assert (record.sex, record.department_code, record.collectivite_name, record.function) == ("", "", "", "")
    assert (record.collectivite_code, record.function_start) == ("01001", None)


def test_a_file_lacking_the_code_column_names_it_R_REG_1() -> None:
    header = "Nom de l'élu;Prénom de l'élu;Date de naissance;Date de début du mandat"
    with pytest.raises(RneFormatError, match=r"lacks the columns CODE DE LA COMMUNE$"):
        parse_rne(f"{header}\nDUPONT;Élise;05/03/1961;28/06/2020\n".encode(), RneFileType.CM)


def test_an_empty_file_has_no_header_R_REG_1() -> None:
    with pytest.raises(RneFormatError, match=r"^empty file: no header line$"):
        parse_rne(b"", RneFileType.CM)


def test_a_windows_line_ending_is_not_part_of_the_last_field_R_REG_1() -> None:
    data = (HEADER + "\r\n" + GOOD + "\r\n").encode("cp1252", errors="replace")
    parsed = parse_rne(data, RneFileType.CM)
    [record] = parsed.records
    assert (parsed.encoding, record.function_start, parsed.rows_read) == ("cp1252", date(2020, 7, 3), 1)


def test_every_movement_records_who_when_what_and_why_R_FUN_5() -> None:
    account = Account(uuid4(), balance_cents=0)
    credit = account.credit(
        parameters_at(date(2026, 3, 30)),
        NOW,
        "campaign municipal 2026",
        campaign=CAMPAIGN_2026,
        on=date(2026, 3, 30),
    )
    hold = Hold(uuid4(), account.elu_id, 10_000, "dossier-1")
    placed = account.place_hold(hold, NOW)
    capture, release = account.capture(hold, 4_000, NOW)
    adjustment = account.adjust(-1_000, 80_000, NOW, "agent correction")
    expiry = account.expire(NOW, "expiry run 2026-09-01", as_of=NOW.date())
    assert credit is not None and expiry is not None
    movements = [credit, placed, capture, release, adjustment, expiry]
    assert account.journal == movements
    assert [(m.kind, m.amount_cents, m.balance_delta_cents, m.held_delta_cents) for m in movements] == [
        (MovementKind.CREDIT, 40_000, 40_000, 0),
        (MovementKind.HOLD, 10_000, 0, 10_000),
        (MovementKind.CAPTURE, 4_000, -4_000, -4_000),
        (MovementKind.RELEASE, 6_000, 0, -6_000),
        (MovementKind.ADJUSTMENT, 1_000, -1_000, 0),
        (MovementKind.EXPIRY, 35_000, -35_000, 0),
    ]
    assert [(m.balance_after_cents, m.held_after_cents) for m in movements] == [
        (40_000, 0),
        (40_000, 10_000),
        (36_000, 6_000),
        (36_000, 0),
        (35_000, 0),
        (0, 0),
    ]
    assert [m.reference for m in movements] == [
        "campaign municipal 2026",
        "dossier-1",
        "dossier-1",
        "dossier-1",
        "agent correction",
        "expiry run 2026-09-01",
    ]
    assert [m.hold_id for m in movements] == [None, hold.hold_id, hold.hold_id, hold.hold_id, None, None]
    assert all(m.elu_id == account.elu_id and m.at == NOW for m in movements)
    assert len({m.id for m in movements}) == 6
    assert account.cap_cents == 80_000


def test_no_mandate_known_means_no_end_R_END_1() -> None:
    assert last_mandate_end([]) is None
    assert rights_usable_until([], None) is None


def test_two_nirs_never_share_a_hash_R_REG_3() -> None:
    first, second = _with_key("2610375111005"), _with_key("2610375111006")
    assert nir_hash(first, b"k") != nir_hash(second, b"k")


def test_an_empty_snapshot_is_never_refused_as_unreadable_R_REG_1() -> None:
    check_readable_enough(0, 0, SnapshotLimits(max_rejected_share=0.0, max_ended_share=0.0), force=False)


def test_an_agents_credit_up_to_the_cap_is_recorded_with_its_reason_and_time_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=70_000, cap_cents=70_000)
    movement = account.adjust_by_agent(10_000, 80_000, NOW, "missed campaign", by="agent-7")
    assert (movement.reference, movement.at, account.cap_cents, account.balance_cents) == (
        "missed campaign",
        NOW,
        80_000,
        80_000,
    )


def test_the_first_given_name_alone_keeps_the_family_name_and_birth_date_R_ACT_1() -> None:
    born = date(1961, 3, 5)
    identity = VerifiedIdentity("Dupont", "Élise Marie", born, "F")
    assert identity.persons() == [
        PersonKey("DUPONT", "ELISE MARIE", born),
        PersonKey("DUPONT", "ELISE", born),
    ]
