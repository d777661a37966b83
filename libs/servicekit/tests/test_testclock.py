"""servicekit.testclock: a running service's movable clock, there only in the test environment when asked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from servicekit.app import create_service_app
from servicekit.clock import MovableClock, SystemClock
from servicekit.jobs import JobKinds, schedule
from servicekit.settings import KitSettings
from servicekit.state import kit_state
from servicekit.testclock import clock_for
from servicekit.testing import eventually, running_app
from sqlalchemy.ext.asyncio import AsyncSession

Overrides = Callable[[str], dict[str, Any]]
MIDSUMMER = datetime(2027, 6, 21, 10, 0, tzinfo=UTC)


class SampleSettings(KitSettings):
    service_name: str = "sample"


def test_the_test_clock_is_refused_outside_the_test_environment() -> None:
    for environment in ("dev", "prod"):
        with pytest.raises(ValidationError, match="test_clock is allowed only when environment is test"):
            SampleSettings(database_url="postgresql+asyncpg://x/y", environment=environment, test_clock=True)


def test_the_default_settings_run_on_the_system_clock() -> None:
    default = SampleSettings(database_url="postgresql+asyncpg://x/y", environment="test")
    assert default.test_clock is False
    assert isinstance(clock_for(default), SystemClock)
    assert isinstance(clock_for(default.model_copy(update={"test_clock": True})), MovableClock)


def test_a_service_that_forces_another_clock_cannot_mount_the_test_clock() -> None:
    enabled = SampleSettings(database_url="postgresql+asyncpg://x/y", environment="test", test_clock=True)
    with pytest.raises(ValueError, match="MovableClock"):
        create_service_app(enabled, title="sample", routers=[], clock=SystemClock())


@pytest.mark.parametrize("environment", ["test", "prod"])
async def test_without_the_setting_there_is_no_test_clock_route(
    sample_db: str, kit_overrides: Overrides, environment: str
) -> None:
    overrides = {**kit_overrides(sample_db), "environment": environment}
    app = create_service_app(SampleSettings(**overrides), title="sample", routers=[])
    async with running_app(app) as client:
        assert (await client.put("/_test/clock", json={"now": MIDSUMMER.isoformat()})).status_code == 404
        assert (await client.get("/_test/clock")).status_code == 404
        assert not any("_test" in path for path in (await client.get("/openapi.json")).json()["paths"])
        assert isinstance(kit_state(app).clock, SystemClock)


async def test_the_clock_is_set_and_advanced_and_stays_out_of_openapi(
    sample_db: str, kit_overrides: Overrides
) -> None:
    app = create_service_app(
        SampleSettings(**kit_overrides(sample_db), test_clock=True), title="sample", routers=[]
    )
    async with running_app(app) as client:
        moved = await client.put("/_test/clock", json={"now": "2027-06-21T12:00:00+02:00"})
        assert moved.status_code == 200, moved.text
        assert datetime.fromisoformat(moved.json()["now"]) == MIDSUMMER
        assert kit_state(app).clock.now() == MIDSUMMER
        advanced = await client.put("/_test/clock", json={"advance_s": 3600})
        assert datetime.fromisoformat(advanced.json()["now"]) == MIDSUMMER.replace(hour=11)
        assert datetime.fromisoformat((await client.get("/_test/clock")).json()["now"]) == MIDSUMMER.replace(
            hour=11
        )
        assert "/_test/clock" not in (await client.get("/openapi.json")).json()["paths"]


@pytest.mark.parametrize(
    "body",
    [{}, {"now": "2027-06-21T12:00:00"}, {"now": MIDSUMMER.isoformat(), "advance_s": 1}, {"advance_s": -1}],
    ids=["nothing", "naive", "both", "backwards-advance"],
)
async def test_a_bad_clock_move_is_a_422(
    sample_db: str, kit_overrides: Overrides, body: dict[str, Any]
) -> None:
    app = create_service_app(
        SampleSettings(**kit_overrides(sample_db), test_clock=True), title="sample", routers=[]
    )
    async with running_app(app) as client:
        before = kit_state(app).clock.now()
        response = await client.put("/_test/clock", json=body)
        assert response.status_code == 422
        assert kit_state(app).clock.now() == before


async def test_moving_the_clock_fires_a_timer_that_became_due_by_the_running_job_runner(
    sample_db: str, kit_overrides: Overrides
) -> None:
    fired: list[str] = []
    kinds = JobKinds()

    @kinds.timer("sample.deadline")
    async def deadline(session: AsyncSession, job: Any) -> None:
        fired.append(job.params["what"])

    # the runner polls hourly here: only the wake-up that moving the clock sends can fire the timer in time
    enabled = SampleSettings(
        **{**kit_overrides(sample_db), "test_clock": True, "jobs_enabled": True, "job_poll_interval_s": 3600}
    )
    app = create_service_app(enabled, title="sample", routers=[], jobs=kinds)
    async with running_app(app) as client:
        await client.put("/_test/clock", json={"now": MIDSUMMER.isoformat()})
        async with kit_state(app).sessionmaker() as session, session.begin():
            due = datetime(2027, 6, 25, tzinfo=UTC)
            await schedule(session, "sample.deadline", run_after=due, params={"what": "due"})
        await client.put("/_test/clock", json={"now": "2027-06-24T23:00:00+00:00"})
        await asyncio.sleep(0.5)  # the woken runner had its chance: an hour before the deadline is too early
        assert fired == []
        await client.put("/_test/clock", json={"now": "2027-06-25T00:00:01+00:00"})

        async def fired_once() -> bool:
            return fired == ["due"]

        assert await eventually(fired_once, timeout_s=10)
