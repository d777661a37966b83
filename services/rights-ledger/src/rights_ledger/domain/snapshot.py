"""An RNE import is a snapshot of one mandate type (R-REG-2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from servicekit.rules import RuleBroken

from rights_ledger.domain.identity import PersonKey
from rights_ledger.domain.parameters import MandateFamily


@dataclass(frozen=True, slots=True)
class MandateKey:
    """A mandate is one person's seat of one type in one collectivité, from a start date."""

    person: PersonKey
    mandate_type: MandateFamily
    collectivite_code: str
    start: date


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    created: frozenset[MandateKey]
    ended: frozenset[MandateKey]
    ended_on: date


def diff_snapshot(
    open_before: Iterable[MandateKey], present_now: Iterable[MandateKey], snapshot_date: date
) -> SnapshotDiff:
    """R-REG-2: a mandate open before and absent from the snapshot has ended at the snapshot date.

    Only mandates of the snapshot's type are compared: pass the open mandates of that type.
    """
    before, now = frozenset(open_before), frozenset(present_now)
    return SnapshotDiff(created=now - before, ended=before - now, ended_on=snapshot_date)


@dataclass(frozen=True, slots=True)
class MergeCounts:
    """What merging a snapshot changed (R-REG-2)."""

    elus_created: int
    mandates_created: int
    mandates_updated: int
    mandates_ended: int
    ambiguous_lines: list[int] = field(default_factory=list)
    """R-ACT-1: lines of a non-municipal file whose identity is several élus (homonyms): not attributed."""


@dataclass(frozen=True, slots=True)
class SnapshotLimits:
    """R-REG-1 / R-REG-2: how much of a snapshot may be unreadable, and how many open mandates it may end,
    before it is refused unless forced. An import ends whoever it misses: a damaged file must not."""

    max_rejected_share: float
    max_ended_share: float


def check_readable_enough(rows_read: int, rejected: int, limits: SnapshotLimits, *, force: bool) -> None:
    """R-REG-1: a file whose rejected share is above the limit is refused unless forced."""
    if force or rows_read == 0:
        return
    share = rejected / rows_read
    if share > limits.max_rejected_share:
        raise RuleBroken(
            "R-REG-1",
            f"{rejected} of {rows_read} lines are rejected ({share:.1%}), above the "
            f"{limits.max_rejected_share:.1%} allowed; nothing was changed (see the rejected lines; "
            "force=true imports the readable lines and ends every mandate missing from them)",
        )


def check_ending_plausible(
    open_before: int, ended: int, file_type: str, limits: SnapshotLimits, *, force: bool
) -> None:
    """R-REG-2: a snapshot that would end more than the allowed share of the open mandates of its type is
    refused unless forced (a general election ends many; a truncated file should end none)."""
    if force or open_before == 0:
        return
    share = ended / open_before
    if share > limits.max_ended_share:
        raise RuleBroken(
            "R-REG-2",
            f"the snapshot would end {ended} of the {open_before} open {file_type} mandates ({share:.1%}), "
            f"above the {limits.max_ended_share:.1%} allowed; nothing was changed "
            "(force=true if it is right, e.g. after a general election)",
        )
