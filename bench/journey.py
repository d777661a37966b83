"""The whole journey, many dossiers at once, on the six services (one uvicorn process each), Kafka, PG.

Run: ``make bench BENCH=journey``, or ``uv run python bench/journey.py [--dossiers 300] [--concurrency 60]
[--paced-dossiers 90] [--paced-rate 3]``
with KAFKA_BOOTSTRAP_SERVERS and DIFE_PG_ADMIN_URL naming the stack (else the local stack is started; the
stack of this checkout also gets its Kafka and PostgreSQL CPU counted). The defaults take about 5 minutes on
a quiet machine (set-up of 300 élus included). Results: ``bench/results/journey.json`` and stdout: sustained
dossiers/s, p50/p99 of every hop, peak RSS (VmHWM) and CPU ms per dossier of every service, the CPU ceiling
on two cores, the CPU this benchmark's own process took from them, the consumer lag at the end, the load
average at start and end.

Targets (issue 13): ≥ 50 dossiers/s sustained through the whole journey, p99 OF validation → ``plan_ready``
≤ 250 ms, peak RSS ≤ 200 MB per service; it also reports the p99 of every other hop and the consumer lag at
the end. The journeys are the fault suite's (tests-e2e/faults/journeys.py), without faults: élus, the OF and
its sessions are set up first (not timed); then submit → validation → plan_ready → acceptance, the clock to
the session's day, entry → exit → a control decided `validated`, then payout's batch, its release, pain.002.

How hops are timed: the Kafka record timestamp of each event (set when the service's relay produced it, in
real time; the services' test clocks are frozen, so ``ce_time`` cannot be used), per dossier, between
consecutive events of its journey. Hops driven by the client (élu, OF, agent) include the client's own
pace and the phase barrier (every dossier is accepted before the clock moves to the session's day); the
automated hops (validated → plan_ready, service_done_validated → payment_ordered, payment_settled → paid)
measure the platform alone.

Latency below saturation: ``--concurrency`` clients keep the platform saturated, so their hops mostly time
the queues (Little's law). Before them, ``--paced-dossiers`` other dossiers go through the request phase
(submit → validation → plan_ready → acceptance) on an open-loop timetable of ``--paced-rate`` per second,
each started on time whatever the others are doing: their validated → ``plan_ready`` p99 is the one a user
meets while the platform keeps up (reported apart, as ``paced``; those dossiers stop at acceptance).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests-e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_summary_ms, load_average, stack_env, write_result
from dife_contracts import topics
from driver import START, Dife
from faults import journeys
from faults.invariants import Event, read_topics
from faults.suite import paris_morning, quiesce
from faults.supervisor import Stack, dispose_platform, start_platform
from faults.watch import EventWatch
from servicekit import devtokens
from servicekit.testing.plugin import JwtKeys

RSS_TARGET_MB = 200
PLAN_READY_P99_TARGET_MS = 250
RATE_TARGET = 50
HOPS = (
    ("dife.dossier.dossier_submitted.v1", "dife.dossier.dossier_validated.v1"),
    ("dife.dossier.dossier_validated.v1", "dife.funding.plan_ready.v1"),
    ("dife.funding.plan_ready.v1", "dife.dossier.dossier_accepted.v1"),
    ("dife.dossier.dossier_accepted.v1", "dife.dossier.training_started.v1"),
    ("dife.dossier.training_started.v1", "dife.dossier.training_completed.v1"),
    ("dife.dossier.training_completed.v1", "dife.dossier.service_done_declared.v1"),
    ("dife.dossier.service_done_declared.v1", "dife.dossier.service_done_validated.v1"),
    ("dife.dossier.service_done_validated.v1", "dife.payout.payment_ordered.v1"),
    ("dife.payout.payment_ordered.v1", "dife.payout.payment_sent.v1"),
    ("dife.payout.payment_sent.v1", "dife.payout.payment_settled.v1"),
    ("dife.payout.payment_settled.v1", "dife.dossier.dossier_paid.v1"),
)


PLAN_READY_HOP = "dossier.dossier_validated → funding.plan_ready"
PLAN_READY_STEPS = (
    ("dife.dossier.dossier_validated.v1", "dife.funding.dife_hold_requested.v1"),  # funding asks the ledger
    ("dife.funding.dife_hold_requested.v1", "dife.ledger.hold_placed.v1"),  # the ledger holds the rights
    ("dife.ledger.hold_placed.v1", "dife.funding.plan_ready.v1"),  # funding completes the plan
)
"""The validated → plan_ready hop step by step, each from one relay's record to the next one's: where its time
goes (the ledger's events are keyed by élu, matched to the élu's one dossier of the run)."""


def short(event_type: str) -> str:
    return event_type.removeprefix("dife.").removesuffix(".v1")


def hop_latencies(
    events: list[Event], hops: tuple[tuple[str, str], ...] = HOPS, dossier_of: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per hop: the p50/p95/p99/max of (first time of `to`) − (first time of `from`) over the dossiers;
    `dossier_of` names the dossier of events keyed by something else (an élu)."""
    dossier_of = dossier_of or {}
    first: dict[tuple[str, str], int] = {}
    for event in events:
        key = (dossier_of.get(event.subject, event.subject), event.type)
        if key not in first or event.timestamp_ms < first[key]:
            first[key] = event.timestamp_ms
    samples: dict[str, list[float]] = defaultdict(list)
    dossiers = {subject for subject, kind in first if kind == "dife.dossier.dossier_submitted.v1"}
    for dossier in dossiers:
        for source, target in hops:
            if (dossier, source) in first and (dossier, target) in first:
                delta = first[(dossier, target)] - first[(dossier, source)]
                samples[f"{short(source)} → {short(target)}"].append(delta / 1000)
    return {hop: {"n": len(values), **latency_summary_ms(values)} for hop, values in samples.items()}


async def run_paced(
    paced: list[journeys.Journey], step: Any, *, rate_per_s: float, stats: journeys.Stats
) -> tuple[float, list[float]]:
    """Open loop: journey i starts at i / rate seconds, however far the earlier ones are; returns the
    seconds from the first start to the last journey's end, and how late each start was (the driver shares
    the two cores: a late start would hide load the timetable meant to offer)."""
    loop = asyncio.get_running_loop()
    first_start = loop.time()
    running, lateness = [], []
    for index, journey in enumerate(paced):
        due = first_start + index / rate_per_s
        await asyncio.sleep(max(0.0, due - loop.time()))
        lateness.append(loop.time() - due)
        running.append(asyncio.create_task(journeys.run_phase([journey], step, concurrency=1, stats=stats)))
    await asyncio.gather(*running)
    return loop.time() - first_start, lateness


def events_of(events: list[Event], of: list[journeys.Journey]) -> tuple[list[Event], dict[str, str]]:
    """The events about these journeys (their dossiers' and their élus'), and each élu's dossier."""
    dossier_of_elu = {journey.elu.elu_id: journey.dossier_id for journey in of}
    own = {*dossier_of_elu, *dossier_of_elu.values()}
    return [event for event in events if event.subject in own], dossier_of_elu


def paced_figures(
    events: list[Event],
    paced: list[journeys.Journey],
    rate_per_s: float,
    elapsed_s: float,
    lateness_s: list[float],
) -> dict[str, Any]:
    """The request-phase hops of the dossiers started on the open-loop timetable."""
    mine, dossier_of_elu = events_of(events, paced)
    hops = hop_latencies(mine, HOPS[:3])
    return {
        "dossiers": len(paced),
        "offered_dossiers_per_s": rate_per_s,
        "elapsed_s": round(elapsed_s, 2),
        "start_lateness_p99_ms": latency_summary_ms(lateness_s)["p99_ms"],
        "hops": hops,
        "plan_ready_p99_ms": hops.get(PLAN_READY_HOP, {}).get("p99_ms"),
        "plan_ready_steps": hop_latencies(mine, PLAN_READY_STEPS, dossier_of_elu),
    }


async def bench(dossiers: int, concurrency: int, paced_dossiers: int, paced_rate: float) -> dict[str, Any]:
    env = stack_env()
    stack = Stack(env["KAFKA_BOOTSTRAP_SERVERS"], env["DIFE_PG_ADMIN_URL"])
    keys = JwtKeys()
    platform = await start_platform(stack, keys.public_pem)
    stats = journeys.Stats()
    api = journeys.Api(platform.url, stats)
    mint = functools.partial(
        devtokens.mint_token, keys.private_pem, issuer=journeys.TEST_ISSUER, audience=journeys.TEST_AUDIENCE
    )
    try:
        await platform.set_clock(START)
        urls = {name: platform.url(name) for name in platform.services}
        began = time.monotonic()
        async with Dife.connect(urls, mint, settle_s=300) as dife:
            world = await journeys.setup_world(dife, paced_dossiers + dossiers)
        await quiesce(platform)
        setup_s = round(time.monotonic() - began, 2)
        every_journey = journeys.journeys_of(world)
        paced, all_journeys = every_journey[:paced_dossiers], every_journey[paced_dossiers:]
        group = f"{platform.topic_prefix}dossier.events"
        paced_elapsed_s, paced_lateness_s = 0.0, [0.0]
        if paced:
            async with EventWatch(stack.kafka_bootstrap, [platform.topic_prefix + topics.FUNDING]) as watch:
                paced_elapsed_s, paced_lateness_s = await run_paced(
                    paced,
                    lambda j: journeys.phase_request(api, world, j, watch, group),
                    rate_per_s=paced_rate,
                    stats=stats,
                )
            await quiesce(platform)
        cpu_before = {name: s.cpu_seconds() for name, s in platform.services.items()}
        stack_cpu_before = stack.cpu_seconds()
        driver_cpu_before = time.process_time()
        started = time.monotonic()
        phases: dict[str, float] = {}

        async def phase(name: str, step: Any) -> None:
            began = time.monotonic()
            await journeys.run_phase(all_journeys, step, concurrency=concurrency, stats=stats)
            phases[name] = round(time.monotonic() - began, 2)

        async with EventWatch(stack.kafka_bootstrap, [platform.topic_prefix + topics.FUNDING]) as watch:
            await phase("request", lambda j: journeys.phase_request(api, world, j, watch, group))
        await platform.set_clock(paris_morning(world.session_start))
        await phase("training", lambda j: journeys.phase_training(api, world, j))
        await quiesce(platform)
        began = time.monotonic()
        await journeys.pay_everything(api, world, all_journeys)
        phases["payment"] = round(time.monotonic() - began, 2)
        lags = await quiesce(platform)
        elapsed = time.monotonic() - started
        driver_cpu_s = time.process_time() - driver_cpu_before
        all_events = [
            e
            for e in await read_topics(stack.kafka_bootstrap, platform.topic_prefix)
            if not e.topic.endswith(".dlt")
        ]
        events, dossier_of_elu = events_of(all_events, all_journeys)
        paid = len({e.subject for e in events if e.type == "dife.dossier.dossier_paid.v1"})
        hops = hop_latencies(events)
        plan_ready_steps = hop_latencies(events, PLAN_READY_STEPS, dossier_of_elu)
        plan_ready = hops.get(PLAN_READY_HOP, {})
        services = {
            name: {
                "peak_rss_mb": s.peak_rss_mb(),
                "cpu_s": round(s.cpu_seconds() - cpu_before[name], 2),
                "cpu_ms_per_dossier": round((s.cpu_seconds() - cpu_before[name]) * 1000 / max(paid, 1), 2),
            }
            for name, s in platform.services.items()
        }
        # Kafka and PostgreSQL count only when they are this checkout's stack (else their pids are unknown)
        stack_cpu = {k: v - stack_cpu_before[k] for k, v in stack.cpu_seconds().items()}
        cpu_ms_per_dossier = {
            "services": round(sum(s["cpu_s"] for s in services.values()) * 1000 / max(paid, 1), 1),
            **{name: round(seconds * 1000 / max(paid, 1), 1) for name, seconds in stack_cpu.items()},
        }
        all_cpu_ms = sum(cpu_ms_per_dossier.values())
        return {
            "dossiers": dossiers,
            "paid": paid,
            "failures": stats.failures[:10],
            "setup_s": setup_s,
            "elapsed_s": round(elapsed, 2),
            "phases_s": phases,
            "dossiers_per_s": round(paid / elapsed, 2),
            "request_phase_dossiers_per_s": round(dossiers / phases["request"], 2),
            "hops": hops,
            "plan_ready_p99_ms": plan_ready.get("p99_ms"),
            "plan_ready_steps": plan_ready_steps,
            "paced": paced_figures(all_events, paced, paced_rate, paced_elapsed_s, paced_lateness_s)
            if paced
            else None,
            "services": services,
            "cpu_ms_per_dossier": cpu_ms_per_dossier,
            # what two cores could sustain if CPU were the only limit (the machine is shared: wall-clock
            # rates move with its load, CPU per dossier much less)
            "cpu_ceiling_dossiers_per_s_on_2_cores": round(2000 / all_cpu_ms, 1) if all_cpu_ms else None,
            # this benchmark's own process (the users' HTTP clients and the event watch) on the same two
            # cores: not the platform's, but taken from it
            "driver_cpu_ms_per_dossier": round(driver_cpu_s * 1000 / max(paid, 1), 1),
            "consumer_lag_at_end": lags,
            "total_lag_at_end": sum(lags.values()),
            "retries": dict(stats.retries),
            "targets": {
                "dossiers_per_s": RATE_TARGET,
                "plan_ready_p99_ms": PLAN_READY_P99_TARGET_MS,
                "peak_rss_mb": RSS_TARGET_MB,
            },
            "load_average_at_end": load_average(),
        }
    finally:
        await api.close()
        await dispose_platform(platform)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=60)
    parser.add_argument("--paced-dossiers", type=int, default=90, help="request phase at an open-loop rate")
    parser.add_argument("--paced-rate", type=float, default=3.0, help="paced dossiers started per second")
    args = parser.parse_args()
    load_before = load_average()
    metrics = asyncio.run(bench(args.dossiers, args.concurrency, args.paced_dossiers, args.paced_rate))
    metrics["load_average_at_start"] = load_before
    write_result("journey", metrics, vars(args))
    for key in (
        "paid",
        "setup_s",
        "elapsed_s",
        "phases_s",
        "dossiers_per_s",
        "plan_ready_p99_ms",
        "cpu_ms_per_dossier",
        "cpu_ceiling_dossiers_per_s_on_2_cores",
        "driver_cpu_ms_per_dossier",
        "total_lag_at_end",
    ):
        print(f"{key}: {metrics[key]}")
    for hop, figures in [*metrics["hops"].items(), *metrics["plan_ready_steps"].items()]:
        print(f"  {hop}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms (n={figures['n']})")
    for name, figures in metrics["services"].items():
        print(
            f"  {name}: peak RSS {figures['peak_rss_mb']} MB, {figures['cpu_ms_per_dossier']} ms CPU/dossier"
        )
    if metrics["paced"]:
        paced = metrics["paced"]
        print(
            f"paced: {paced['dossiers']} dossiers at {paced['offered_dossiers_per_s']}/s, open loop "
            f"(start lateness p99 {paced['start_lateness_p99_ms']} ms, {paced['elapsed_s']} s)"
        )
        for hop, figures in [*paced["hops"].items(), *paced["plan_ready_steps"].items()]:
            print(f"  {hop}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms (n={figures['n']})")
    print(f"load average: start {metrics['load_average_at_start']}, end {metrics['load_average_at_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
