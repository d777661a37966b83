"""What must hold after faults, read from every service's database and every topic.

`read_world` gathers the facts (plain dataclasses); `check_world` returns the list of broken invariants,
each a sentence naming the dossier or élu. The checks are pure, so `test_invariants.py` shows each one
failing on a world built by hand.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

FINAL = frozenset(
    {
        "paid",
        "refused_by_organisme",
        "refused_by_elu",
        "expired",
        "cancelled_by_elu",
        "cancelled_by_organisme",
        "cancelled_by_financer",
    }
)
# A dossier may wait in these: each is a state a person (élu, OF, agent) or a timer moves on from.
WAITING = frozenset(
    {
        "submitted",
        "validated",
        "accepted",
        "in_training",
        "completed",
        "service_done_declared",
        "service_done_validated",
    }
)


@dataclass(frozen=True)
class Account:
    elu_id: str
    balance_cents: int
    held_cents: int


@dataclass(frozen=True)
class Movement:
    elu_id: str
    kind: str
    amount_cents: int
    balance_delta_cents: int
    held_delta_cents: int
    balance_after_cents: int
    held_after_cents: int
    hold_id: str | None


@dataclass(frozen=True)
class Hold:
    hold_id: str
    dossier_id: str
    status: str
    amount_cents: int
    captured_cents: int


@dataclass(frozen=True)
class Dossier:
    dossier_id: str
    status: str
    price_cents: int
    amount_paid_cents: int


@dataclass(frozen=True)
class Transition:
    dossier_id: str
    to_status: str
    event_type: str | None


@dataclass(frozen=True)
class Payment:
    dossier_id: str
    status: str
    amount_cents: int
    settled_cents: int


@dataclass(frozen=True)
class Share:
    dossier_id: str
    source: str
    planned_cents: int
    drawn_cents: int


@dataclass(frozen=True)
class Transfer:
    dossier_id: str
    end_to_end_id: str
    outcome: str
    amount_cents: int


@dataclass(frozen=True)
class Event:
    topic: str
    id: str
    type: str
    subject: str
    partition: int
    offset: int
    timestamp_ms: int = 0  # the record's Kafka timestamp: when the relay produced it (real time)


@dataclass
class World:
    accounts: list[Account] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    dossiers: list[Dossier] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    refunds_cents: dict[str, int] = field(default_factory=dict)  # dossier -> card refunded (payout's events)
    events: list[Event] = field(default_factory=list)
    dead_letters: list[Event] = field(default_factory=list)
    outbox_left: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """What a replay must not change: balances, journal length, statuses, payments, transfers."""
        return {
            "accounts": sorted((a.elu_id, a.balance_cents, a.held_cents) for a in self.accounts),
            "movements": len(self.movements),
            "holds": sorted((h.hold_id, h.status, h.captured_cents) for h in self.holds),
            "dossiers": sorted((d.dossier_id, d.status, d.amount_paid_cents) for d in self.dossiers),
            "transitions": len(self.transitions),
            "payments": sorted(
                (p.dossier_id, p.status, p.amount_cents, p.settled_cents) for p in self.payments
            ),
            "transfers": sorted((t.end_to_end_id, t.outcome) for t in self.transfers),
            "shares": sorted((s.dossier_id, s.source, s.drawn_cents) for s in self.shares),
        }


def snapshot_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    for key, old in before.items():
        new = after[key]
        if old == new:
            continue
        if isinstance(old, list):
            gone, came = sorted(set(old) - set(new))[:5], sorted(set(new) - set(old))[:5]
            changes.append(f"{key}: {len(old)} → {len(new)} rows; gone {gone}; new {came}")
        else:
            changes.append(f"{key}: {old} → {new}")
    return changes


# ------------------------------------------------------------------------------------------------ checks


def check_ledger(world: World) -> list[str]:
    """Balance = Σ journal = credits − captures − expiries ± adjustments; held = Σ held deltas."""
    broken = []
    by_elu: dict[str, list[Movement]] = defaultdict(list)
    for movement in world.movements:
        by_elu[movement.elu_id].append(movement)
    for account in world.accounts:
        journal = by_elu.get(account.elu_id, [])
        kinds: Counter[str] = Counter()
        for m in journal:
            kinds[m.kind] += m.balance_delta_cents if m.kind == "adjustment" else m.amount_cents
        by_kind = kinds["credit"] - kinds["capture"] - kinds["expiry"] + kinds["adjustment"]
        journal_sum = sum(m.balance_delta_cents for m in journal)
        held_sum = sum(m.held_delta_cents for m in journal)
        if not account.balance_cents == journal_sum == by_kind:
            broken.append(
                f"élu {account.elu_id}: balance {account.balance_cents} ≠ Σ journal {journal_sum} or "
                f"credits − captures − expiries ± adjustments {by_kind}"
            )
        if account.held_cents != held_sum:
            broken.append(f"élu {account.elu_id}: held {account.held_cents} ≠ Σ held deltas {held_sum}")
        if journal and (journal[-1].balance_after_cents, journal[-1].held_after_cents) != (
            account.balance_cents,
            account.held_cents,
        ):
            broken.append(f"élu {account.elu_id}: the last journal line does not show the account's balance")
    captures: Counter[str] = Counter(m.hold_id for m in world.movements if m.kind == "capture" and m.hold_id)
    releases: Counter[str] = Counter(m.hold_id for m in world.movements if m.kind == "release" and m.hold_id)
    for hold_id, count in (captures + releases).items():
        if count > 1 and (captures[hold_id] > 1 or releases[hold_id] > 1):
            broken.append(
                f"hold {hold_id}: resolved twice ({captures[hold_id]} captures, {releases[hold_id]} releases)"
            )
    return broken


def check_dossiers(world: World) -> list[str]:
    """Every dossier final or waiting; each state change has its event on Kafka, exactly one per change."""
    broken = []
    for dossier in world.dossiers:
        if dossier.status not in FINAL | WAITING:
            broken.append(f"dossier {dossier.dossier_id}: unknown status {dossier.status}")
    expected: Counter[tuple[str, str]] = Counter(
        (t.dossier_id, t.event_type) for t in world.transitions if t.event_type
    )
    seen_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in world.events:
        if event.topic.endswith("dossier.events"):
            seen_ids[(event.subject, event.type)].add(event.id)
    for key, count in expected.items():
        found = len(seen_ids.get(key, set()))
        if found != count:
            broken.append(
                f"dossier {key[0]}: {count} transitions to {key[1]} but {found} such events on Kafka"
            )
    for key in seen_ids.keys() - expected.keys():
        broken.append(f"dossier {key[0]}: event {key[1]} on Kafka without its transition")
    return broken


def check_money(world: World) -> list[str]:
    """Per dossier: DIFE captured + co-funding + CPF/CEC + card = paid to the OF + refunded; paid once."""
    broken = []
    captured: Counter[str] = Counter()
    for hold in world.holds:
        captured[hold.dossier_id] += hold.captured_cents
    drawn: Counter[str] = Counter()
    for share in world.shares:
        if share.source == "elu_card":  # the élu paid the whole card line; what was not used is refunded
            drawn[share.dossier_id] += share.planned_cents
        elif share.source != "dife":
            drawn[share.dossier_id] += share.drawn_cents
    accepted: Counter[str] = Counter(t.dossier_id for t in world.transfers if t.outcome == "accepted")
    for dossier_id, count in accepted.items():
        if count > 1:
            broken.append(f"dossier {dossier_id}: {count} transfers accepted by the bank (paid twice)")
    payments = {p.dossier_id: p for p in world.payments}
    for payment in world.payments:
        if payment.settled_cents > payment.amount_cents:
            broken.append(
                f"dossier {payment.dossier_id}: settled {payment.settled_cents} > due {payment.amount_cents}"
            )
        if payment.status == "settled" and accepted[payment.dossier_id] != 1:
            broken.append(
                f"dossier {payment.dossier_id}: settled, {accepted[payment.dossier_id]} accepted transfers"
            )
        money_in = captured[payment.dossier_id] + drawn[payment.dossier_id]
        money_out = payment.amount_cents + world.refunds_cents.get(payment.dossier_id, 0)
        if money_in != money_out:
            broken.append(
                f"dossier {payment.dossier_id}: DIFE captured + co-funding + CPF/CEC + card = {money_in} "
                f"≠ paid to the OF + refunded = {money_out}"
            )
    for dossier in world.dossiers:
        own = payments.get(dossier.dossier_id)
        if dossier.status == "paid" and (own is None or own.status != "settled"):
            broken.append(f"dossier {dossier.dossier_id}: paid but its payment is {own and own.status}")
        if dossier.status in FINAL - {"paid"} and own is not None and own.amount_cents > 0:
            broken.append(
                f"dossier {dossier.dossier_id}: {dossier.status} yet a payment of {own.amount_cents}"
            )
    settled_events: Counter[str] = Counter()
    ids: set[str] = set()
    for event in world.events:
        if event.type == "dife.payout.payment_settled.v1" and event.id not in ids:
            ids.add(event.id)
            settled_events[event.subject] += 1
    for subject, count in settled_events.items():
        if count > 1:
            broken.append(f"payment {subject}: payment_settled published {count} times with distinct ids")
    return broken


def check_quiet(world: World) -> list[str]:
    broken = [
        f"{service}: {left} events still in its outbox" for service, left in world.outbox_left.items() if left
    ]
    counts: Counter[str] = Counter(event.type for event in world.dead_letters)
    broken += [f"{count} dead letters of {kind}" for kind, count in counts.items()]
    return broken


def check_world(world: World) -> list[str]:
    return check_ledger(world) + check_dossiers(world) + check_money(world) + check_quiet(world)


# ----------------------------------------------------------------------------------------------- reading


async def _rows(dsn: str, sql: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


async def read_topics(bootstrap: str, prefix: str) -> list[Event]:
    """Every record of every topic under `prefix`, from offset 0 to the end offsets of this moment."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    events: list[Event] = []
    try:
        partitions = []
        for name in names:
            for number in consumer.partitions_for_topic(name) or await _partitions(consumer, name):
                partitions.append(TopicPartition(name, number))
        if not partitions:
            return events
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    headers = {k: (v or b"").decode() for k, v in record.headers}
                    events.append(
                        Event(
                            topic=tp.topic,
                            id=headers.get("ce_id", ""),
                            type=headers.get("ce_type", ""),
                            subject=headers.get("ce_subject", ""),
                            partition=tp.partition,
                            offset=record.offset,
                            timestamp_ms=record.timestamp,
                        )
                    )
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return events
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    await asyncio.sleep(0.2)
    return consumer.partitions_for_topic(topic) or set()


async def read_world(dsns: dict[str, str], bootstrap: str, prefix: str) -> World:
    """`dsns`: service name -> plain libpq URL of its database."""
    world = World()
    ledger, dossier, payout = dsns["rights-ledger"], dsns["dossier"], dsns["payout"]
    world.accounts = [
        Account(str(r["elu_id"]), r["balance_cents"], r["held_cents"])
        for r in await _rows(ledger, "SELECT elu_id, balance_cents, held_cents FROM accounts")
    ]
    world.movements = [
        Movement(
            str(r["elu_id"]),
            r["kind"],
            r["amount_cents"],
            r["balance_delta_cents"],
            r["held_delta_cents"],
            r["balance_after_cents"],
            r["held_after_cents"],
            str(r["hold_id"]) if r["hold_id"] else None,
        )
        for r in await _rows(ledger, "SELECT * FROM movements ORDER BY seq")
    ]
    world.holds = [
        Hold(str(r["hold_id"]), str(r["dossier_id"]), r["status"], r["amount_cents"], r["captured_cents"])
        for r in await _rows(ledger, "SELECT * FROM holds")
    ]
    world.dossiers = [
        Dossier(str(r["dossier_id"]), r["status"], r["price_cents"], r["amount_paid_cents"])
        for r in await _rows(dossier, "SELECT * FROM dossiers")
    ]
    world.transitions = [
        Transition(str(r["dossier_id"]), r["to_status"], r["event_type"])
        for r in await _rows(dossier, "SELECT dossier_id, to_status, event_type FROM dossier_transitions")
    ]
    world.payments = [
        Payment(str(r["dossier_id"]), r["status"], r["amount_cents"], r["settled_cents"])
        for r in await _rows(payout, "SELECT * FROM payments")
    ]
    world.shares = [
        Share(str(r["dossier_id"]), r["source"], r["planned_cents"], r["drawn_cents"])
        for r in await _rows(payout, "SELECT * FROM plan_shares")
    ]
    world.transfers = [
        Transfer(str(r["dossier_id"]), r["end_to_end_id"], r["outcome"], r["amount_cents"])
        for r in await _rows(payout, "SELECT * FROM batch_transfers")
    ]
    for service, dsn in dsns.items():
        world.outbox_left[service] = (await _rows(dsn, "SELECT count(*) AS n FROM outbox"))[0]["n"]
    events = await read_topics(bootstrap, prefix)
    world.events = [e for e in events if not e.topic.endswith(".dlt")]
    world.dead_letters = [e for e in events if e.topic.endswith(".dlt")]
    world.refunds_cents = await _refunds(bootstrap, prefix, world.events)
    return world


async def _refunds(bootstrap: str, prefix: str, events: list[Event]) -> dict[str, int]:
    """Card refunds ordered by payout, by dossier (one per dossier: distinct event ids only)."""
    wanted = {e.id for e in events if e.type.endswith("refund_ordered.v1")}
    if not wanted:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    refunds: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    try:
        topics = {e.topic for e in events if e.id in wanted}
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or set()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    headers = {k: (v or b"").decode() for k, v in record.headers}
                    if headers.get("ce_id") in wanted and headers["ce_id"] not in seen:
                        seen.add(headers["ce_id"])
                        data = json.loads(record.value or b"{}")
                        refunds[str(data.get("dossier_id"))] += int(data.get("amount_cents", 0))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return dict(refunds)
    finally:
        await consumer.stop()
