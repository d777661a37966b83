"""The fault suite: N journeys under SIGKILLed services, a Kafka restart and a PostgreSQL restart; then the
invariants read from every database and topic; then two replays that must change nothing.

Settings (environment): DIFE_FAULT_JOURNEYS (default 200), DIFE_FAULT_CONCURRENCY (default 40),
DIFE_FAULT_SEED (default random, printed), DIFE_FAULT_KILLS_PER_SERVICE (default 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from driver import START, Dife
from servicekit import devtokens

from faults import invariants, journeys, kafka_ops
from faults.supervisor import Platform, Stack, dispose_platform, start_platform

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Config:
    journeys: int = 200
    concurrency: int = 40
    seed: int = 0
    kills_per_service: int = 1
    gap_s: tuple[float, float] = (1.0, 4.0)

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            journeys=int(os.environ.get("DIFE_FAULT_JOURNEYS", "200")),
            concurrency=int(os.environ.get("DIFE_FAULT_CONCURRENCY", "40")),
            seed=int(os.environ.get("DIFE_FAULT_SEED", str(random.randrange(1 << 30)))),
            kills_per_service=int(os.environ.get("DIFE_FAULT_KILLS_PER_SERVICE", "1")),
        )


@dataclass
class Chaos:
    """Faults injected at random moments while the journeys run; each is logged with its time."""

    platform: Platform
    plan: list[str]
    rng: random.Random
    gap_s: tuple[float, float]
    log: list[dict[str, Any]] = field(default_factory=list)
    journeys_done: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = field(default_factory=time.monotonic)

    async def run(self) -> None:
        for fault in self.plan:
            await asyncio.sleep(self.rng.uniform(*self.gap_s))
            at = round(time.monotonic() - self.started, 1)
            during = not self.journeys_done.is_set()
            began = time.monotonic()
            if fault == "kafka":
                await self.platform.stack.restart_kafka()
            elif fault == "postgres":
                await self.platform.stack.restart_postgres()
            else:
                await self.platform.kill_and_restart(fault)
            self.log.append(
                {
                    "fault": fault,
                    "at_s": at,
                    "away_s": round(time.monotonic() - began, 1),
                    "during_journeys": during,
                }
            )


def fault_plan(services: list[str], kills_per_service: int, rng: random.Random) -> list[str]:
    plan = [name for name in services for _ in range(kills_per_service)] + ["kafka", "postgres"]
    rng.shuffle(plan)
    return plan


def paris_morning(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=PARIS).astimezone(UTC)


async def quiesce(platform: Platform, *, timeout_s: float = 180) -> dict[str, int]:
    """Until every outbox is empty and every consumer group has read everything."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = 0
        for name in platform.databases:
            left += await _outbox_count(platform.plain_dsn(name))
        if not left:
            break
        await asyncio.sleep(0.5)
    return await kafka_ops.wait_caught_up(
        platform.stack.kafka_bootstrap,
        platform.topic_prefix,
        timeout_s=max(10.0, deadline - time.monotonic()),
    )


async def _outbox_count(dsn: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await connection.close()


async def read_world(platform: Platform) -> invariants.World:
    dsns = {name: platform.plain_dsn(name) for name in platform.databases}
    return await invariants.read_world(dsns, platform.stack.kafka_bootstrap, platform.topic_prefix)


async def replay_same_groups(platform: Platform) -> dict[str, int]:
    """Stop every service, rewind every consumer group to offset 0, start them again: the inbox must dedup."""
    await platform.stop()
    rewound = await kafka_ops.rewind_groups(platform.stack.kafka_bootstrap, platform.topic_prefix)
    await asyncio.gather(*(platform.restart(name) for name in platform.services))
    return rewound


async def replay_fresh_groups(platform: Platform) -> None:
    """Stop every service, start them with NEW consumer groups: every event is new to the inbox, so each
    handler meets all of history again and must recognise what it already applied."""
    await platform.stop()
    for service in platform.services.values():
        service.env[f"{service.spec.env_prefix}_CONSUMER_GROUP"] = f"{service.spec.name}-replay"
    await asyncio.gather(*(platform.restart(name) for name in platform.services))


async def timed(report: dict[str, Any], name: str, step: Callable[[], Awaitable[Any]]) -> Any:
    started = time.monotonic()
    result = await step()
    report.setdefault("phases_s", {})[name] = round(time.monotonic() - started, 1)
    return result


async def run_suite(stack: Stack, private_pem: str, public_pem: str, config: Config) -> dict[str, Any]:
    """Everything; returns the report (the caller asserts on it)."""
    rng = random.Random(config.seed)
    report: dict[str, Any] = {"config": {**config.__dict__, "gap_s": list(config.gap_s)}}
    stack.ensure_owned()
    platform = await timed(report, "start", lambda: start_platform(stack, public_pem))
    stats = journeys.Stats()
    api = journeys.Api(platform.url, stats)
    mint = functools.partial(
        devtokens.mint_token, private_pem, issuer=journeys.TEST_ISSUER, audience=journeys.TEST_AUDIENCE
    )
    chaos_task: asyncio.Task[None] | None = None
    try:
        await platform.set_clock(START.astimezone(UTC))
        urls = {name: platform.url(name) for name in platform.services}
        async with Dife.connect(urls, mint, settle_s=180) as dife:
            world = await timed(report, "setup", lambda: journeys.setup_world(dife, config.journeys))
        all_journeys = journeys.journeys_of(world)
        plan = fault_plan(sorted(platform.services), config.kills_per_service, rng)
        chaos = Chaos(platform, plan, rng, config.gap_s)
        chaos_task = asyncio.create_task(chaos.run())

        async def phase(step: Callable[[journeys.Journey], Awaitable[None]]) -> None:
            order = journeys.shuffled(all_journeys, rng.randrange(1 << 30))
            await journeys.run_phase(order, step, concurrency=config.concurrency, stats=stats)

        await timed(report, "request", lambda: phase(lambda j: journeys.phase_request(api, world, j)))
        await platform.set_clock(paris_morning(world.session_start))
        await timed(report, "training", lambda: phase(lambda j: journeys.phase_training(api, world, j)))
        await timed(report, "quiet_before_payment", lambda: quiesce(platform))
        await timed(report, "payment", lambda: journeys.pay_everything(api, world, all_journeys))
        chaos.journeys_done.set()
        await chaos_task
        report["faults"] = chaos.log
        report["services"] = sorted(platform.services)
        report["lags_after_journeys"] = await timed(report, "quiesce", lambda: quiesce(platform))
        world_after = await read_world(platform)
        report["statuses"] = dict(sorted(_count(d.status for d in world_after.dossiers).items()))
        report["violations"] = invariants.check_world(world_after)
        report["journey_failures"] = stats.failures[:20]
        report["journey_failure_count"] = len(stats.failures)
        report["retries"] = dict(stats.retries)
        report["lost_answers"] = stats.lost_answers
        before = world_after.snapshot()

        rewound = await timed(report, "replay_same", lambda: replay_same_groups(platform))
        report["replay_same_groups_rewound"] = rewound
        report["lags_after_replay_same"] = await quiesce(platform)
        after_same = (await read_world(platform)).snapshot()
        report["replay_same_changes"] = invariants.snapshot_changes(before, after_same)

        await timed(report, "replay_fresh", lambda: replay_fresh_groups(platform))
        report["lags_after_replay_fresh"] = await quiesce(platform)
        after_fresh = await read_world(platform)
        report["replay_fresh_changes"] = invariants.snapshot_changes(before, after_fresh.snapshot())
        report["replay_fresh_dead_letters"] = dict(_count(e.type for e in after_fresh.dead_letters))
        return report
    finally:
        if chaos_task is not None and not chaos_task.done():  # a failed phase: no restart after the disposal
            chaos_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chaos_task
        await api.close()
        await dispose_platform(platform)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def dump(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str, ensure_ascii=False)
