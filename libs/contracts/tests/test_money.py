"""Money is integer cents, and rounding happens once, half up."""

import pytest
from dife_contracts.money import Cents, PositiveCents, SignedCents, euros, percent_of
from pydantic import BaseModel, ValidationError


def test_euros_turns_whole_euros_into_cents_R_ACC_1() -> None:
    assert euros(400) == 40_000
    assert euros(0) == 0
    assert euros(-5) == -500


@pytest.mark.parametrize("amount", [400.0, True, "400"])
def test_euros_refuses_anything_but_an_integer(amount: object) -> None:
    with pytest.raises(TypeError):
        euros(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cents", "percent", "expected"),
    [
        (56_000, 100, 56_000),
        (56_000, 0, 0),
        (56_000, 75, 42_000),
        (12_345, 50, 6_173),  # 6172.5 rounds up
        (12_345, 1, 123),  # 123.45 rounds down
        (12_350, 1, 124),  # 123.5 rounds up
        (1, 50, 1),  # half a cent rounds up
        (99, 33, 33),  # 32.67
        (-12_345, 50, -6_173),  # a negative amount mirrors a positive one
        (10_000, 150, 15_000),
    ],
)
def test_percent_of_rounds_half_up_to_the_cent_R_PAY_1_R_CON_2(
    cents: int, percent: int, expected: int
) -> None:
    assert percent_of(cents, percent) == expected


def test_percent_of_is_exact_on_amounts_a_float_would_get_wrong() -> None:
    large = 9_007_199_254_740_993  # 2**53 + 1: not representable as a float
    assert percent_of(large, 100) == large
    assert percent_of(large, 1) == 90_071_992_547_410


@pytest.mark.parametrize(("cents", "percent"), [(100.0, 50), (100, 50.0), (100, True)])
def test_percent_of_refuses_floats(cents: object, percent: object) -> None:
    with pytest.raises(TypeError):
        percent_of(cents, percent)  # type: ignore[arg-type]


def test_percent_of_refuses_a_negative_percent() -> None:
    with pytest.raises(ValueError):
        percent_of(100, -1)


class _Amounts(BaseModel):
    amount_cents: Cents = 0
    line_cents: PositiveCents = 1
    adjustment_cents: SignedCents = 0


@pytest.mark.parametrize(
    "payload", ['{"amount_cents": 12.0}', '{"amount_cents": "12"}', '{"amount_cents": true}']
)
def test_an_amount_is_a_json_integer_never_a_float_or_a_string(payload: str) -> None:
    with pytest.raises(ValidationError):
        _Amounts.model_validate_json(payload)


def test_cents_are_never_negative_and_plan_lines_never_zero() -> None:
    with pytest.raises(ValidationError):
        _Amounts(amount_cents=-1)
    with pytest.raises(ValidationError):
        _Amounts(line_cents=0)


def test_signed_cents_allow_a_debit() -> None:
    assert _Amounts(adjustment_cents=-500).adjustment_cents == -500
