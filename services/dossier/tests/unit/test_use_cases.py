"""Use cases on fakes: timers follow the status, seats are counted, events of other contexts apply once."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from dife_contracts.enums import DossierStatus
from dossier.domain.controls import Control, ControlKind, ControlStatus
from dossier.domain.dossier import Dossier, FundingPlan, PlanStatus
from dossier.domain.eligibility import EluProfile, LiveEnrolment, OfferSnapshot, SessionSnapshot
from dossier.use_cases import dossiers as uc
from dossier.use_cases.access import Caller
from dossier.use_cases.ports import Context
from dossier.use_cases.timers import AUTO_VALIDATION, EXPIRY, timer_key
from servicekit.clock import MovableClock, end_of_paris_day
from servicekit.errors import Forbidden
from servicekit.rules import RulesBroken
from servicekit.testing.fakes import FakeOutbox, FakeScheduler

from .conftest import READY, SIRET, enrolment


@dataclass
class FakeRepository:
    dossiers: dict[UUID, Dossier] = field(default_factory=dict)
    controls: dict[UUID, Control] = field(default_factory=dict)
    elus: dict[UUID, EluProfile] = field(default_factory=dict)
    offers: dict[UUID, OfferSnapshot] = field(default_factory=dict)
    sessions: dict[UUID, SessionSnapshot] = field(default_factory=dict)

    async def get(
        self, dossier_id: UUID, *, for_update: bool = False, history: bool = True
    ) -> Dossier | None:
        found = self.dossiers.get(dossier_id)
        return copy.deepcopy(found) if found else None

    async def add(self, dossier: Dossier) -> None:
        dossier.new_history.clear()
        self.dossiers[dossier.dossier_id] = copy.deepcopy(dossier)

    save = add

    async def live_enrolments_of(self, elu_id: UUID) -> tuple[LiveEnrolment, ...]:
        return tuple(
            LiveEnrolment(d.dossier_id, d.training_start, d.training_end)
            for d in self.dossiers.values()
            if d.elu_id == elu_id and d.is_live
        )

    async def live_dossier_ids_of_session(self, session_id: UUID) -> list[UUID]:
        return [d.dossier_id for d in self.dossiers.values() if d.session_id == session_id and d.is_live]

    async def take_seat(self, session_id: UUID, seats: int) -> bool:
        session = self.sessions[session_id]
        if session.seats_taken >= seats:
            return False
        self.sessions[session_id] = replace(session, seats_taken=session.seats_taken + 1)
        return True

    async def release_seat(self, session_id: UUID) -> None:
        session = self.sessions[session_id]
        self.sessions[session_id] = replace(session, seats_taken=max(0, session.seats_taken - 1))

    async def add_control(self, control: Control) -> None:
        self.controls[control.control_id] = copy.deepcopy(control)

    save_control = add_control

    async def get_control(self, control_id: UUID, *, for_update: bool = False) -> Control | None:
        return copy.deepcopy(self.controls.get(control_id))

    async def elu(self, elu_id: UUID, *, for_update: bool = False) -> EluProfile | None:
        return self.elus.get(elu_id)

    async def offer(self, offer_id: UUID) -> OfferSnapshot | None:
        return self.offers.get(offer_id)

    async def training_session(self, session_id: UUID) -> SessionSnapshot | None:
        return self.sessions.get(session_id)

    async def cancel_session(self, session_id: UUID) -> None:
        self.sessions[session_id] = replace(self.sessions[session_id], cancelled=True)


START = date(2027, 3, 15)


@pytest.fixture
def world() -> tuple[Context, FakeRepository, FakeOutbox, FakeScheduler, MovableClock]:
    repo, outbox, scheduler = FakeRepository(), FakeOutbox(), FakeScheduler()
    clock = MovableClock()
    clock.set_paris(date(2027, 2, 5), 10)  # Friday
    request = enrolment(start=START)
    assert request.elu and request.offer and request.session
    repo.elus[request.elu.elu_id] = request.elu
    repo.offers[request.offer.offer_id] = request.offer
    repo.sessions[request.session.session_id] = request.session
    return Context(repo, outbox, scheduler, clock), repo, outbox, scheduler, clock


def _elu(repo: FakeRepository) -> Caller:
    elu = next(iter(repo.elus.values()))
    return Caller("elu", str(elu.elu_id), elu_id=elu.elu_id)


OF = Caller("organisme", "of-user", siret=SIRET)


async def _submit(ctx: Context, repo: FakeRepository) -> Dossier:
    offer = next(iter(repo.offers.values()))
    session = next(iter(repo.sessions.values()))
    return await uc.submit(ctx, _elu(repo), offer_id=offer.offer_id, session_id=session.session_id)


async def test_submission_schedules_the_answer_deadline_at_the_end_of_the_2nd_working_day_R_DOS_1(
    world: Any,
) -> None:
    ctx, repo, outbox, scheduler, _ = world
    dossier = await _submit(ctx, repo)
    timer = scheduler.by_key(timer_key(EXPIRY, dossier.dossier_id))
    assert timer is not None
    assert (timer.kind, timer.run_after) == (EXPIRY, end_of_paris_day(date(2027, 2, 9)))  # Fri → Tue
    assert timer.params == {"dossier_id": str(dossier.dossier_id)}
    assert [e.ce_type for e in outbox.events] == ["dife.dossier.dossier_submitted.v1"]


async def test_the_expiry_timer_expires_once_and_frees_the_seat_R_DOS_1(world: Any) -> None:
    ctx, repo, outbox, scheduler, clock = world
    dossier = await _submit(ctx, repo)
    clock.set_paris(date(2027, 2, 9), 23, 59)
    assert await uc.expire_if_due(ctx, dossier.dossier_id) is False
    clock.advance(timedelta(minutes=1))
    assert await uc.expire_if_due(ctx, dossier.dossier_id) is True
    assert await uc.expire_if_due(ctx, dossier.dossier_id) is False
    assert repo.dossiers[dossier.dossier_id].status is DossierStatus.EXPIRED
    assert [e.ce_type for e in outbox.events].count("dife.dossier.dossier_expired.v1") == 1
    assert repo.sessions[dossier.session_id].seats_taken == 0
    assert scheduler.pending == {}


async def test_validation_replaces_the_timer_with_the_acceptance_deadline_R_DOS_1(world: Any) -> None:
    ctx, repo, _, scheduler, _ = world
    dossier = await _submit(ctx, repo)
    await uc.validate(ctx, OF, dossier.dossier_id)
    timer = scheduler.by_key(timer_key(EXPIRY, dossier.dossier_id))
    assert timer is not None and timer.run_after == end_of_paris_day(
        date(2027, 2, 11)
    )  # Fri + 4 working days = Thu


async def test_an_organisme_of_another_siret_cannot_act_on_the_dossier(world: Any) -> None:
    ctx, repo, _, _, _ = world
    dossier = await _submit(ctx, repo)
    with pytest.raises(Forbidden):
        await uc.validate(ctx, Caller("organisme", "other", siret="99999999900019"), dossier.dossier_id)
    with pytest.raises(Forbidden):
        await uc.cancel_by_elu(ctx, Caller("elu", "b", elu_id=uuid.uuid4()), dossier.dossier_id, "x", False)


async def test_the_last_seat_is_taken_and_the_next_request_is_refused_R_OFR_4(world: Any) -> None:
    ctx, repo, _, _, _ = world
    session = next(iter(repo.sessions.values()))
    repo.sessions[session.session_id] = replace(session, seats_taken=14)
    await _submit(ctx, repo)
    other = replace(next(iter(repo.elus.values())), elu_id=uuid.uuid4())
    repo.elus[other.elu_id] = other
    offer = next(iter(repo.offers.values()))
    with pytest.raises(RulesBroken) as refused:
        await uc.submit(
            ctx,
            Caller("elu", "b", elu_id=other.elu_id),
            offer_id=offer.offer_id,
            session_id=session.session_id,
        )
    assert refused.value.rule_ids == ["R-DOS-2"]
    assert repo.sessions[session.session_id].seats_taken == 15


async def test_a_control_cancels_the_auto_validation_timer_and_its_decision_validates_R_DOS_4(
    world: Any,
) -> None:
    ctx, repo, outbox, scheduler, clock = world
    dossier = await _submit(ctx, repo)
    await uc.validate(ctx, OF, dossier.dossier_id)
    await uc.record_plan(ctx, dossier.dossier_id, READY)
    await uc.accept(ctx, _elu(repo), dossier.dossier_id)
    clock.set_paris(START, 18)
    await uc.declare_entry(ctx, OF, dossier.dossier_id, START)
    await uc.declare_exit(ctx, OF, dossier.dossier_id, START, Decimal("7"))
    key = timer_key(AUTO_VALIDATION, dossier.dossier_id)
    timer = scheduler.by_key(key)
    assert timer is not None and timer.run_after == end_of_paris_day(date(2027, 3, 22))
    agent = Caller("agent", "agent-1")
    control = await uc.open_control(ctx, agent, dossier.dossier_id, ControlKind.QUALITY, "check")
    assert scheduler.by_key(key) is None
    clock.set_paris(date(2027, 4, 1))
    assert await uc.auto_validate_if_due(ctx, dossier.dossier_id) is False
    await uc.decide_control(ctx, agent, control.control_id, ControlStatus.VALIDATED, "fine")
    assert repo.dossiers[dossier.dossier_id].status is DossierStatus.SERVICE_DONE_VALIDATED
    assert repo.controls[control.control_id].status is ControlStatus.VALIDATED
    assert outbox.events[-1].ce_type == "dife.dossier.service_done_validated.v1"


async def test_a_failed_plan_cancels_by_the_financer_R_DOS_5(world: Any) -> None:
    ctx, repo, outbox, _, _ = world
    dossier = await _submit(ctx, repo)
    await uc.validate(ctx, OF, dossier.dossier_id)
    failed = FundingPlan(status=PlanStatus.FAILED, reason="hold rejected")
    assert await uc.record_plan(ctx, dossier.dossier_id, failed) is True
    assert repo.dossiers[dossier.dossier_id].status is DossierStatus.CANCELLED_BY_FINANCER
    assert outbox.events[-1].by == "financer"
    assert await uc.record_plan(ctx, dossier.dossier_id, failed) is False


async def test_a_cancelled_session_cancels_its_live_dossiers_by_the_organisme(world: Any) -> None:
    ctx, repo, _, _, _ = world
    dossier = await _submit(ctx, repo)
    assert await uc.cancel_session(ctx, SIRET, dossier.session_id, "trainer ill") == 1
    assert repo.dossiers[dossier.dossier_id].status is DossierStatus.CANCELLED_BY_ORGANISME
    assert repo.sessions[dossier.session_id].cancelled
    assert await uc.cancel_session(ctx, SIRET, dossier.session_id, "trainer ill") == 0


@dataclass
class RecordingScheduler:
    """A `FakeScheduler` that also records every write a use case asks for."""

    timers: FakeScheduler = field(default_factory=FakeScheduler)
    writes: list[str] = field(default_factory=list)

    async def schedule(
        self, kind: str, *, run_after: Any, params: Any = None, key: str | None = None
    ) -> UUID:
        self.writes.append(f"schedule {kind}")
        return await self.timers.schedule(kind, run_after=run_after, params=params, key=key)

    async def cancel(self, key: str) -> int:
        self.writes.append(f"cancel {key.split(':')[0]}")
        return await self.timers.cancel(key)


async def test_only_a_timer_whose_deadline_changed_is_written_R_DOS_1_R_DOS_4(world: Any) -> None:
    """Each timer write is statements and a job-runner wake (issue 13): a step that moves no deadline
    writes none, and the timers stay what the status needs."""
    ctx, repo, _, _, clock = world
    recorder = RecordingScheduler()
    ctx = replace(ctx, scheduler=recorder)
    dossier = await _submit(ctx, repo)
    assert recorder.writes == [f"schedule {EXPIRY}"]
    recorder.writes.clear()
    await uc.validate(ctx, OF, dossier.dossier_id)
    assert recorder.writes == [f"schedule {EXPIRY}"]
    recorder.writes.clear()
    await uc.record_plan(ctx, dossier.dossier_id, READY)
    assert recorder.writes == []
    timer = recorder.timers.by_key(timer_key(EXPIRY, dossier.dossier_id))
    assert timer is not None and timer.run_after == end_of_paris_day(date(2027, 2, 11))
    await uc.accept(ctx, _elu(repo), dossier.dossier_id)
    assert recorder.writes == [f"cancel {EXPIRY}"]
    assert recorder.timers.pending == {}
    recorder.writes.clear()
    clock.set_paris(START, 18)
    await uc.declare_entry(ctx, OF, dossier.dossier_id, START)
    assert recorder.writes == []
    await uc.declare_exit(ctx, OF, dossier.dossier_id, START, Decimal("7"))
    assert recorder.writes == [f"schedule {AUTO_VALIDATION}"]


async def test_a_timer_firing_early_sets_both_timers_again_R_DOS_1(world: Any) -> None:
    ctx, repo, _, _, clock = world
    dossier = await _submit(ctx, repo)
    recorder = RecordingScheduler()
    ctx = replace(ctx, scheduler=recorder)
    clock.set_paris(date(2027, 2, 9), 23, 59)
    assert await uc.expire_if_due(ctx, dossier.dossier_id) is False
    assert recorder.writes == [f"schedule {EXPIRY}", f"cancel {AUTO_VALIDATION}"]
    timer = recorder.timers.by_key(timer_key(EXPIRY, dossier.dossier_id))
    assert timer is not None and timer.run_after == end_of_paris_day(date(2027, 2, 9))
