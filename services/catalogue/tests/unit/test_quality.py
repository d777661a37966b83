"""R-DOS-6: evaluations feed the quality score of offers and OFs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalogue.domain.quality import Quality
from catalogue.domain.themes import FAMILIES, REPERTOIRE, theme_for


def test_average_of_evaluations_R_DOS_6() -> None:
    quality = Quality().add(5).add(4).add(4)
    assert quality.count == 3
    assert quality.average == Decimal("4.33")


def test_no_average_before_the_first_evaluation_R_DOS_6() -> None:
    assert Quality().average is None


@pytest.mark.parametrize("rating", [0, 6])
def test_ratings_outside_1_to_5_are_refused_R_DOS_6(rating: int) -> None:
    with pytest.raises(ValueError):
        Quality().add(rating)


def test_repertoire_has_the_three_families_and_unique_codes_R_OFR_1() -> None:
    assert {f.code for f in FAMILIES} == {theme.family for theme in REPERTOIRE}
    assert len({theme.code for theme in REPERTOIRE}) == len(REPERTOIRE)
    assert theme_for("FAL-02") is not None
    assert theme_for("ZZZ") is None
