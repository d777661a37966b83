"""R-REG-3: NIR checks and keyed hashing."""

import pytest
from rights_ledger.domain.nir import InvalidNir, nir_hash, nir_key, validate_nir


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
