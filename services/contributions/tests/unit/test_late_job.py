"""When the late sweep runs (R-CON-3): 00:05 Paris, the next day once that time has passed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contributions.jobs.late import next_sweep_after
from servicekit.clock import PARIS


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def test_the_next_sweep_is_at_0005_paris_the_same_night_or_the_next() -> None:
    assert next_sweep_after(paris(date(2026, 4, 16), 0, 4)) == paris(date(2026, 4, 16), 0, 5)
    assert next_sweep_after(paris(date(2026, 4, 16), 0, 5)) == paris(date(2026, 4, 17), 0, 5)
    assert next_sweep_after(paris(date(2026, 4, 15), 23, 59)) == paris(date(2026, 4, 16), 0, 5)


def test_the_sweep_time_follows_paris_across_the_summer_time_change() -> None:
    after = next_sweep_after(datetime(2026, 3, 28, 23, 30, tzinfo=UTC))  # 00:30 in Paris on the 29th
    assert after == paris(date(2026, 3, 30), 0, 5)
    assert after.utcoffset() is not None and after.astimezone(UTC).hour == 22  # UTC+2 from 29 March
