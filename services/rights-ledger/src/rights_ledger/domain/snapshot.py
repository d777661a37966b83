"""An RNE import is a snapshot of one mandate type (R-REG-2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

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
