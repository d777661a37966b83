"""R-REG-3: NIR checks and keyed hashing."""

from datetime import date

import pytest
from rights_ledger.domain.nir import InvalidNir, nir_disagreements, nir_hash, nir_key, validate_nir


def test_key_of_the_reference_example_is_64_R_REG_3() -> None:
    assert nir_key("2061275111005") == "64"
    assert validate_nir("2 06 12 75 111 005 64") == "206127511100564"


def test_corsica_departments_count_as_19_and_18_R_REG_3() -> None:
    for dept, value in (("2A", "19"), ("2B", "18")):
        first_13 = f"18002{dept}111005"
        expected = 97 - int(first_13.replace(dept, value, 1)) % 97
        assert nir_key(first_13) == f"{expected:02d}"
        assert validate_nir(first_13 + nir_key(first_13)) == first_13 + f"{expected:02d}"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("206127511100565", "key"),
        ("20612751110056", "15 characters"),
        ("306127511100564", "sex"),
        ("18002XX11100571", "malformed"),
    ],
)
def test_an_invalid_nir_is_refused_with_a_clear_error_R_REG_3(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNir, match=reason) as caught:
        validate_nir(raw)
    assert raw not in str(caught.value)


def test_provisional_nir_starting_with_7_or_8_is_accepted_R_REG_3() -> None:
    first_13 = "7061275111005"
    assert validate_nir(first_13 + nir_key(first_13))


def test_the_nir_is_kept_only_as_a_keyed_hash_R_REG_3() -> None:
    digest = nir_hash("206127511100564", b"k1")
    assert "206127511100564" not in digest
    assert digest == nir_hash("2 06 12 75 111 005 64", b"k1")
    assert digest != nir_hash("206127511100564", b"k2")


def _nir(first_13: str) -> str:
    return first_13 + nir_key(first_13)


BORN = date(1961, 3, 5)


def test_a_nir_agreeing_with_sex_year_and_month_has_no_disagreement_R_REG_3() -> None:
    assert nir_disagreements(_nir("2610375111005"), birth_date=BORN, sexes=["F"]) == []


def test_a_mans_nir_of_1999_12_disagrees_with_a_woman_born_in_1961_03_on_all_three_R_REG_3() -> None:
    found = nir_disagreements(_nir("1991275111005"), birth_date=BORN, sexes=["F"])
    assert [("sex" in f, "year" in f, "month" in f) for f in found] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]


@pytest.mark.parametrize(("digit", "sex"), [("1", "M"), ("7", "M"), ("2", "F"), ("8", "F")])
def test_provisional_sex_digits_7_and_8_read_as_man_and_woman_R_REG_3(digit: str, sex: str) -> None:
    nir = _nir(f"{digit}610375111005")
    assert nir_disagreements(nir, birth_date=BORN, sexes=[sex]) == []
    assert len(nir_disagreements(nir, birth_date=BORN, sexes=["F" if sex == "M" else "M"])) == 1


def test_the_sex_is_checked_against_every_known_sex_and_skipped_when_none_is_known_R_REG_3() -> None:
    nir = _nir("2610375111005")
    assert nir_disagreements(nir, birth_date=BORN, sexes=[]) == []
    assert len(nir_disagreements(nir, birth_date=BORN, sexes=["F", "M"])) == 1


@pytest.mark.parametrize(
    ("month", "agrees"),
    [
        ("03", True),
        ("04", False),
        ("00", False),
        ("13", False),
        ("19", False),
        ("20", True),
        ("42", True),
        ("43", False),
        ("49", False),
        ("50", True),
        ("99", True),
    ],
)
def test_unknown_month_codes_20_to_42_and_50_up_agree_with_any_month_R_REG_3(
    month: str, agrees: bool
) -> None:
    found = nir_disagreements(_nir(f"261{month}75111005"), birth_date=BORN, sexes=["F"])
    assert (found == []) is agrees


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("20612751110056", "a NIR has 15 characters, got 14"),
        ("2061275111005644", "a NIR has 15 characters, got 16"),
        ("306127511100564", "the first character of a NIR (sex) must be 1, 2, 7 or 8"),
        ("206127511100565", "the NIR key (last 2 digits) does not match the first 13 characters"),
        ("18002XX11100571", "the NIR is malformed (digits expected; 2A or 2B only for Corsica)"),
    ],
)
def test_each_refusal_of_a_nir_says_which_part_is_wrong_R_REG_3(raw: str, message: str) -> None:
    """The reason an agent or the élu reads (answered in the problem's detail), never the NIR itself."""
    with pytest.raises(InvalidNir) as refused:
        validate_nir(raw)
    assert str(refused.value) == message


def test_the_disagreements_are_the_sentences_an_agent_reads_in_sex_year_month_order_R_REG_3() -> None:
    assert nir_disagreements(_nir("1991275111005"), birth_date=BORN, sexes=["F"]) == [
        "the NIR's sex digit does not agree with the identity's sex",
        "the NIR's year of birth does not agree with the identity's birth date",
        "the NIR's month of birth does not agree with the identity's birth date",
    ]


def test_the_year_is_compared_on_its_last_two_digits_R_REG_3() -> None:
    """1961 and 2061 share the NIR's year 61; 1962 does not."""
    nir = _nir("2610375111005")
    assert nir_disagreements(nir, birth_date=date(2061, 3, 5), sexes=["F"]) == []
    assert nir_disagreements(nir, birth_date=date(1962, 3, 5), sexes=["F"]) == [
        "the NIR's year of birth does not agree with the identity's birth date"
    ]
