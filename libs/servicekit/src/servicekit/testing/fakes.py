"""In-memory fakes of the seams use cases take (`Outbox`, `Scheduler`), for fast unit tests.

They are kept honest by `libs/servicekit/tests/test_fakes_contract.py`, which runs the same scenarios on each
fake and on the real PostgreSQL adapter: a fake that drifts from the real thing fails there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from dife_contracts import Event


@dataclass
class FakeOutbox:
    """Records the events a use case publishes, in order."""

    events: list[Event] = field(default_factory=list)

    async def add(self, event: Event) -> None:
        self.events.append(event)

    async def add_many(self, events: Iterable[Event]) -> None:
        self.events.extend(events)

    def of_type(self, event_type: type[Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, event_type)]


@dataclass(frozen=True)
class ScheduledJob:
    job_id: UUID
    kind: str
    run_after: datetime
    params: dict[str, Any]
    key: str | None


@dataclass
class FakeScheduler:
    """The pending timers a use case set, with the same replace-by-key and cancel rules as `kit_jobs`."""

    pending: dict[UUID, ScheduledJob] = field(default_factory=dict)

    async def schedule(
        self,
        kind: str,
        *,
        run_after: datetime,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> UUID:
        if run_after.tzinfo is None:
            raise ValueError("run_after must be timezone-aware")
        if key is not None:
            await self.cancel(key)
        job = ScheduledJob(uuid4(), kind, run_after, dict(params or {}), key)
        self.pending[job.job_id] = job
        return job.job_id

    async def cancel(self, key: str) -> int:
        found = [job_id for job_id, job in self.pending.items() if job.key == key]
        for job_id in found:
            del self.pending[job_id]
        return len(found)

    def by_key(self, key: str) -> ScheduledJob | None:
        return next((job for job in self.pending.values() if job.key == key), None)

    def due(self, now: datetime) -> list[ScheduledJob]:
        return sorted((j for j in self.pending.values() if j.run_after <= now), key=lambda j: j.run_after)
