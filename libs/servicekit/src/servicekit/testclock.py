"""A movable clock for running services, so end-to-end journeys pass working-day deadlines without sleeping.

Only when a service runs with ``environment = "test"`` and ``test_clock = true`` (``<PREFIX>_TEST_CLOCK``):
the app then runs on a `MovableClock` and answers ``PUT /_test/clock`` (``{"now": ...}`` or
``{"advance_s": ...}``) and ``GET /_test/clock``. Otherwise the route does not exist at all (404, absent
from OpenAPI), and `KitSettings` refuses ``test_clock`` outside the test environment.

Moving the clock wakes the job runner, so timers that became due fire without waiting for its next poll.
"""

from datetime import datetime, timedelta

from fastapi import APIRouter, FastAPI, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from servicekit.clock import Clock, MovableClock, SystemClock
from servicekit.settings import KitSettings
from servicekit.state import kit_state

TEST_CLOCK_PATH = "/_test/clock"


def clock_for(settings: KitSettings) -> Clock:
    """A `MovableClock` (starting now) under the test clock setting, else the system's clock."""
    return MovableClock(SystemClock().now()) if settings.test_clock else SystemClock()


class ClockMove(BaseModel):
    """Put the clock at ``now``, or move it forward by ``advance_s`` seconds (exactly one of the two)."""

    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime | None = None
    advance_s: float | None = Field(default=None, ge=0, le=10 * 366 * 86_400)

    @model_validator(mode="after")
    def _exactly_one(self) -> "ClockMove":
        if (self.now is None) == (self.advance_s is None):
            raise ValueError("give exactly one of now or advance_s")
        return self


class ClockOut(BaseModel):
    now: datetime


def mount_test_clock(app: FastAPI, clock: Clock) -> None:
    """Add the test clock routes; `clock` must be the `MovableClock` the whole app (jobs, consumers) uses."""
    if not isinstance(clock, MovableClock):
        raise ValueError("the test clock needs the app to run on a MovableClock (see servicekit.testclock)")
    router = APIRouter(tags=["test"], include_in_schema=False)

    @router.get(TEST_CLOCK_PATH)
    async def read_clock() -> ClockOut:
        return ClockOut(now=clock.now())

    @router.put(TEST_CLOCK_PATH)
    async def move_clock(move: ClockMove, request: Request) -> ClockOut:
        if move.now is not None:
            clock.set(move.now)
        elif move.advance_s is not None:
            clock.advance(timedelta(seconds=move.advance_s))
        runner = kit_state(request.app).jobs
        if runner is not None:
            runner.wake()
        return ClockOut(now=clock.now())

    app.include_router(router)
