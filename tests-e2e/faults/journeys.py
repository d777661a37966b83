"""Many élus through the whole journey on the public REST APIs, surviving services that die under them.

A journey is a chain of steps; every step is retried while the service is away (connection refused or reset,
5xx, 503 while PostgreSQL or Kafka restart), and a step whose first attempt may have been applied before the
service died (the answer lost with the process) is recognised by the state it left: a 409 after a lost answer
is checked against the dossier's status. The setup (élus, the organisme, its offer and sessions, bank
details) is done once, before the faults.

Phases, so that one test clock serves every journey: (1) submit → OF validation → funding's plan_ready →
acceptance, at the platform's "today"; (2) the clock moves to the sessions' first day: entry, exit (service
done declared), an agent control decided `validated` (service done validated at once, services/dossier);
(3) payout: a batch built, released, and the bank's pain.002 accepting every transfer → settled → paid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from driver import Dife, Person
from driver import Elu as DriverElu

from faults.watch import EventWatch

SEATS_PER_SESSION = 15  # R-OFR-4: a mandate training takes at most 15 élus a session
TEST_ISSUER = "dife-tests"  # servicekit.testing.plugin's issuer and audience
TEST_AUDIENCE = "dife"
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
PRICE_CENTS = 21_000  # below one year's municipal credit: DIFE alone pays
HOURS = 7
PLAN_READY = "dife.funding.plan_ready.v1"


class StepFailed(Exception):
    """A step answered something no fault explains (a 4xx on a first attempt, or time ran out)."""


@dataclass
class Stats:
    """Retries and failures, and how far the journeys are: `in_flight` steps running now, `steps_done` so
    far (the chaos waits on `progressed` to strike at a given point of the journeys, never between them)."""

    retries: Counter[str] = field(default_factory=Counter)
    lost_answers: int = 0
    failures: list[str] = field(default_factory=list)
    in_flight: int = 0
    steps_done: int = 0
    progressed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def step_started(self) -> None:
        async with self.progressed:
            self.in_flight += 1
            self.progressed.notify_all()

    async def step_ended(self) -> None:
        async with self.progressed:
            self.in_flight -= 1
            self.steps_done += 1
            self.progressed.notify_all()


class Api:
    """One HTTP client over the six services, retrying what a dying service explains."""

    def __init__(
        self,
        urls: Callable[[str], str],
        stats: Stats,
        *,
        patience_s: float = 180,
        available: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.urls = urls
        self.available = available  # waited for before each attempt: a restarting service gets no traffic
        self.stats = stats
        self.patience_s = patience_s
        self.client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200))

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200, 201, 202),
        tolerate: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer once it is in `expect`; `tolerate`d statuses are returned after a lost answer only."""
        deadline = time.monotonic() + self.patience_s
        attempted = False
        delay = 0.1
        while True:
            if self.available is not None:
                await self.available(service)
            try:
                response = await self.client.request(method, self.urls(service) + path, **kwargs)
            except httpx.TransportError as error:
                reason = type(error).__name__
            else:
                if response.status_code in expect:
                    return response
                if attempted and response.status_code in tolerate:
                    self.stats.lost_answers += 1
                    return response
                if response.status_code not in RETRYABLE_STATUS:
                    raise StepFailed(
                        f"{method} {service}{path}: {response.status_code} {response.text[:400]}"
                    )
                reason = str(response.status_code)
            attempted = True
            self.stats.retries[f"{service} {reason}"] += 1
            if time.monotonic() > deadline:
                raise StepFailed(
                    f"{method} {service}{path}: still failing ({reason}) after {self.patience_s}s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def until(
        self, what: str, probe: Callable[[], Awaitable[bool]], *, timeout_s: float | None = None
    ) -> None:
        """Probe until true, backing off (0.1 s growing to 1 s): each probe is a request a busy service
        serves on the event loop that also runs its consumer."""
        deadline = time.monotonic() + (timeout_s or self.patience_s)
        delay = 0.1
        while time.monotonic() < deadline:
            if await probe():
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        raise StepFailed(f"timed out waiting for {what}")


@dataclass
class Elu:
    index: int
    family: str
    elu_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """What the setup made: élus, the organisme and its sessions; each journey gets one élu and a seat."""

    run: str
    today: date
    siret: str
    offer_id: str
    sessions: list[str]
    session_start: date
    elus: list[Elu]
    agent: dict[str, str]
    organisme: dict[str, str]


@dataclass
class Journey:
    elu: Elu
    session_id: str
    dossier_id: str = ""
    status: str = ""
    failure: str = ""
    durations: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------- setup


async def setup_world(dife: Dife, count: int, *, concurrency: int = 20) -> World:
    """With the e2e driver, before any fault: `count` élus (one RNE import, activations, the municipal
    campaign of the year), an organisme with verified bank details, one offer with enough 15-seat sessions,
    all on the platform clock's day `today`; the sessions start three weeks later."""
    today = await dife.today()
    # serials 1..count (one NIR each): a fresh database per run keeps them unique
    people = [dataclasses.replace(Person.new(), serial=i + 1) for i in range(count)]
    await dife.import_elus(people)
    gate = asyncio.Semaphore(concurrency)

    async def activate(person: Person) -> DriverElu:
        async with gate:
            return await dife.activate(person)

    activated = await asyncio.gather(*(activate(p) for p in people))
    await dife.run_campaign("municipal", today.year)
    organisme = await dife.register_organisme(
        agrement_from=today - timedelta(days=365), agrement_until=today + timedelta(days=3 * 365)
    )
    session_start = today + timedelta(days=21)
    sessions = [(session_start, session_start)] * math.ceil(count / SEATS_PER_SESSION)
    offer = await dife.publish_offer(organisme, sessions, price_cents=PRICE_CENTS, hours=str(HOURS))
    await dife.verified_bank_details(organisme)
    return World(
        run=uuid.uuid4().hex[:6],
        today=today,
        siret=organisme.siret,
        offer_id=offer.offer_id,
        sessions=list(offer.session_ids),
        session_start=session_start,
        elus=[
            Elu(index=i, family=e.person.family_name, elu_id=e.elu_id, headers=e.headers)
            for i, e in enumerate(activated)
        ],
        agent=dife.agent,
        organisme=organisme.headers,
    )


def journeys_of(world: World) -> list[Journey]:
    return [
        Journey(elu=elu, session_id=world.sessions[i // SEATS_PER_SESSION])
        for i, elu in enumerate(world.elus)
    ]


# ------------------------------------------------------------------------------------------------- journeys


async def dossier_status(api: Api, world: World, journey: Journey) -> str:
    answer = await api.call("GET", "dossier", f"/v1/dossiers/{journey.dossier_id}", headers=world.agent)
    journey.status = str(answer.json()["status"])
    return journey.status


async def _transition(
    api: Api,
    world: World,
    journey: Journey,
    path: str,
    headers: dict[str, str],
    done: set[str],
    **kwargs: Any,
) -> None:
    """POST a transition; after a lost answer a 409 is fine when the dossier already is where it leads."""
    answer = await api.call(
        "POST",
        "dossier",
        f"/v1/dossiers/{journey.dossier_id}{path}",
        headers=headers,
        tolerate=(409,),
        **kwargs,
    )
    if answer.status_code == 409 and await dossier_status(api, world, journey) not in done:
        raise StepFailed(f"{path} of {journey.dossier_id}: 409 and status {journey.status}")


async def phase_request(
    api: Api, world: World, journey: Journey, watch: EventWatch | None = None, dossier_group: str = ""
) -> None:
    """Submit (idempotent by key) → OF validation → acceptance once funding said plan_ready: with `watch`,
    once the dossier service's consumer group (`dossier_group`) has committed past funding's plan_ready,
    then the acceptance is tried (again, backing off, in case the answer is still R-FUN-4)."""
    started = time.monotonic()
    headers = {**journey.elu.headers, "Idempotency-Key": f"submit-{world.run}-{journey.elu.index}"}

    async def submit() -> bool:
        try:
            answer = await api.call(
                "POST",
                "dossier",
                "/v1/dossiers",
                json={"offer_id": world.offer_id, "session_id": journey.session_id},
                headers=headers,
            )
        except StepFailed as refused:  # the élu or the offer may not have reached the dossier service yet
            if "R-DOS-2" in str(refused) and ('"account"' in str(refused) or "offer" in str(refused)):
                return False
            raise
        journey.dossier_id = answer.json()["id"]
        return True

    await api.until("the dossier service to know the élu and the offer", submit)
    journey.durations["submitted"] = time.monotonic() - started
    await _transition(api, world, journey, "/validation", world.organisme, {"validated", "accepted"})
    journey.durations["validated"] = time.monotonic() - started
    if watch is not None:  # on time-out, the acceptance below keeps trying until its own deadline
        await watch.wait_consumed(journey.dossier_id, PLAN_READY, dossier_group, timeout_s=api.patience_s)

    async def accept() -> bool:
        try:
            await _transition(api, world, journey, "/acceptance", journey.elu.headers, {"accepted"})
        except StepFailed as refused:
            if "R-FUN-4" in str(refused):  # funding has not said plan_ready yet
                return False
            raise
        return True

    await api.until("plan_ready then acceptance", accept)
    journey.durations["accepted"] = time.monotonic() - started


async def phase_training(api: Api, world: World, journey: Journey) -> None:
    """At the session's first day: entry, exit (→ service done declared), control decided validated."""
    day = world.session_start.isoformat()
    await _transition(
        api,
        world,
        journey,
        "/entry",
        world.organisme,
        {"in_training", "completed", "service_done_declared"},
        json={"date": day},
    )
    await _transition(
        api,
        world,
        journey,
        "/exit",
        world.organisme,
        {"completed", "service_done_declared"},
        json={"date": day, "hours_attended": str(HOURS)},
    )
    opened = await api.call(
        "POST",
        "dossier",
        f"/v1/dossiers/{journey.dossier_id}/controls",
        json={"kind": "quality", "reason": "fault suite: sampled"},
        headers=world.agent,
        tolerate=(409, 422),
    )
    control_id = opened.json().get("id") or opened.json().get("control_id")
    if opened.status_code != 201:
        matches = [c for c in await open_controls(api, world) if c["dossier_id"] == journey.dossier_id]
        if not matches:
            if await dossier_status(api, world, journey) in ("service_done_validated", "paid"):
                return
            raise StepFailed(f"control of {journey.dossier_id}: {opened.status_code} {opened.text[:300]}")
        control_id = matches[0].get("id") or matches[0].get("control_id")
    decided = await api.call(
        "POST",
        "dossier",
        f"/v1/controls/{control_id}/decision",
        json={"outcome": "validated", "reason": "fault suite: conform"},
        headers=world.agent,
        tolerate=(409,),
    )
    if decided.status_code == 409 and await dossier_status(api, world, journey) not in (
        "service_done_validated",
        "paid",
    ):
        raise StepFailed(f"decision of {journey.dossier_id}: 409 and status {journey.status}")


async def run_phase(
    journeys: list[Journey],
    step: Callable[[Journey], Awaitable[None]],
    *,
    concurrency: int,
    stats: Stats,
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(journey: Journey) -> None:
        if journey.failure:
            return
        async with gate:
            await stats.step_started()
            try:
                await step(journey)
            except StepFailed as failed:
                journey.failure = str(failed)
                stats.failures.append(str(failed))
            finally:
                await stats.step_ended()

    await asyncio.gather(*(one(j) for j in journeys))


async def pay_everything(api: Api, world: World, journeys: list[Journey], *, rounds: int = 20) -> int:
    """Build and release batches, answer each with an all-accepting pain.002, until nothing is payable."""
    ops = world.agent
    paid_batches = 0
    for _ in range(rounds):
        built = await api.call(
            "POST", "payout", "/v1/payment-batches", headers={**ops, "Idempotency-Key": str(uuid.uuid4())}
        )
        batch = (
            built.json().get("batch") if built.status_code == 200 else built.json().get("batch", built.json())
        )
        if not batch:
            break
        await settle_batch(api, world, batch)
        paid_batches += 1
    # a batch left built or released by a fault: answer every released batch not answered yet
    listing = await api.call("GET", "payout", "/v1/payment-batches", headers=ops, params={"limit": 100})
    for batch in listing.json().get("items", []):
        await settle_batch(api, world, batch)
    return paid_batches


async def settle_batch(api: Api, world: World, batch: dict[str, Any]) -> None:
    """Release the batch (a 409 after a lost answer: released already), then report every transfer of it
    still `sent` as accepted; a batch answered already has none left, so nothing is sent twice."""
    ops = world.agent
    batch_id = batch["id"]
    if batch.get("status", "built") == "built":  # a listed batch may be released already
        await api.call(
            "POST", "payout", f"/v1/payment-batches/{batch_id}/release", headers=ops, tolerate=(409,)
        )
    sent = await payments_of(api, world, "sent")
    ids = [p["end_to_end_id"] for p in sent if p.get("batch_id") == batch_id]
    if not ids:
        return
    await api.call(
        "POST",
        "payout",
        f"/v1/payment-batches/{batch_id}/status-report",
        content=pain002(batch["message_id"], ids),
        headers={**ops, "Content-Type": "application/xml", "Idempotency-Key": str(uuid.uuid4())},
    )


def pain002(message_id: str, end_to_end_ids: list[str]) -> bytes:
    """The bank accepts every transfer (pain.002.001.10, the shape payout's tests use)."""
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>"
        for e2e in end_to_end_ids
    )
    payment_info = (
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>{transactions}</OrgnlPmtInfAndSts>"
        if transactions
        else ""
    )
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        f"<GrpHdr><MsgId>R-{uuid.uuid4().hex[:20]}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        f"</OrgnlGrpInfAndSts>{payment_info}</CstmrPmtStsRpt></Document>"
    ).encode()


def shuffled(items: list[Journey], seed: int) -> list[Journey]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy


async def payments_of(api: Api, world: World, status: str) -> list[dict[str, Any]]:
    """Every payment of the run's organisme in `status`, page after page."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"siret": world.siret, "status": status, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await api.call("GET", "payout", "/v1/payments", headers=world.agent, params=params)).json()
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


async def open_controls(api: Api, world: World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "open", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await api.call("GET", "dossier", "/v1/controls", headers=world.agent, params=params)).json()
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found
