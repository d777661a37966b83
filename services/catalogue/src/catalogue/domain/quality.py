"""R-DOS-6: evaluations (1–5) after a training feed the quality score of the offer and of its OF."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MIN_RATING = 1
MAX_RATING = 5


@dataclass(frozen=True, slots=True)
class Quality:
    """Running score: the count and the sum of ratings, so each evaluation is one exact update."""

    count: int = 0
    rating_sum: int = 0

    def add(self, rating: int) -> Quality:
        if not MIN_RATING <= rating <= MAX_RATING:
            raise ValueError(f"a rating is between {MIN_RATING} and {MAX_RATING}, not {rating}")
        return Quality(self.count + 1, self.rating_sum + rating)

    @property
    def average(self) -> Decimal | None:
        """Mean rating rounded half up to two decimals; None before the first evaluation."""
        if self.count == 0:
            return None
        return (Decimal(self.rating_sum) / Decimal(self.count)).quantize(Decimal("0.01"), ROUND_HALF_UP)
