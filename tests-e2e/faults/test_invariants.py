"""Each invariant of the fault suite, broken on purpose on a world built by hand (and kept on a sound one)."""

from __future__ import annotations

from faults.invariants import (
    Account,
    Dossier,
    Event,
    Hold,
    Movement,
    Payment,
    Share,
    Transfer,
    Transition,
    World,
    check_world,
    snapshot_changes,
)

ELU, HOLD, DOSSIER = "e1", "h1", "d1"


def movement(kind: str, amount: int, balance_delta: int, held_delta: int, after: tuple[int, int]) -> Movement:
    return Movement(
        ELU, kind, amount, balance_delta, held_delta, after[0], after[1], HOLD if kind != "credit" else None
    )


def event(type_: str, id_: str, subject: str = DOSSIER, topic: str = "faults.x.dife.dossier.events") -> Event:
    return Event(topic=topic, id=id_, type=type_, subject=subject, partition=0, offset=0)


def paid_world() -> World:
    """One élu credited 400 €, 210 € held then captured; the dossier paid 210 € to its OF."""
    return World(
        accounts=[Account(ELU, 19_000, 0)],
        movements=[
            movement("credit", 40_000, 40_000, 0, (40_000, 0)),
            movement("hold", 21_000, 0, 21_000, (40_000, 21_000)),
            movement("capture", 21_000, -21_000, -21_000, (19_000, 0)),
        ],
        holds=[Hold(HOLD, DOSSIER, "captured", 21_000, 21_000)],
        dossiers=[Dossier(DOSSIER, "paid", 21_000, 21_000)],
        transitions=[
            Transition(DOSSIER, "submitted", "dife.dossier.dossier_submitted.v1"),
            Transition(DOSSIER, "paid", "dife.dossier.dossier_paid.v1"),
        ],
        payments=[Payment(DOSSIER, "settled", 21_000, 21_000)],
        shares=[Share(DOSSIER, "dife", 21_000, 21_000)],
        transfers=[Transfer(DOSSIER, "d1-1", "accepted", 21_000)],
        events=[
            event("dife.dossier.dossier_submitted.v1", "a"),
            event("dife.dossier.dossier_submitted.v1", "a"),  # a relay re-send: same id, one event
            event("dife.dossier.dossier_paid.v1", "b"),
            event("dife.payout.payment_settled.v1", "c", topic="faults.x.dife.payout.events"),
        ],
        outbox_left={"dossier": 0},
    )


def test_a_sound_world_breaks_nothing() -> None:
    assert check_world(paid_world()) == []


def test_a_balance_off_its_journal_is_reported() -> None:
    world = paid_world()
    world.accounts = [Account(ELU, 19_001, 0)]
    assert any("balance 19001" in broken for broken in check_world(world))


def test_a_hold_captured_twice_is_reported() -> None:
    world = paid_world()
    world.movements.append(movement("capture", 0, 0, 0, (19_000, 0)))
    assert any("resolved twice" in broken for broken in check_world(world))


def test_a_transition_without_its_event_is_a_lost_event() -> None:
    world = paid_world()
    world.events = [e for e in world.events if e.type != "dife.dossier.dossier_paid.v1"]
    assert any("dossier_paid.v1 but 0 such events" in broken for broken in check_world(world))


def test_an_event_published_twice_with_two_ids_is_an_effect_applied_twice() -> None:
    world = paid_world()
    world.events.append(event("dife.dossier.dossier_paid.v1", "b2"))
    assert any("dossier_paid.v1 but 2 such events" in broken for broken in check_world(world))


def test_money_in_not_equal_to_money_out_is_reported() -> None:
    world = paid_world()
    world.holds = [Hold(HOLD, DOSSIER, "captured", 21_000, 20_999)]
    assert any("≠ paid to the OF + refunded" in broken for broken in check_world(world))


def test_a_card_line_counts_in_full_and_its_unused_part_as_refunded() -> None:
    world = paid_world()
    world.shares.append(Share(DOSSIER, "elu_card", 5_000, 0))
    assert any("≠ paid to the OF" in broken for broken in check_world(world))
    world.refunds_cents = {DOSSIER: 5_000}
    assert check_world(world) == []


def test_two_accepted_transfers_are_a_payment_sent_twice() -> None:
    world = paid_world()
    world.transfers.append(Transfer(DOSSIER, "d1-2", "accepted", 21_000))
    assert any("paid twice" in broken for broken in check_world(world))


def test_a_waiting_status_is_coherent_and_an_unknown_one_is_not() -> None:
    world = paid_world()
    world.dossiers = [Dossier(DOSSIER, "service_done_validated", 21_000, 0)]
    world.payments = [Payment(DOSSIER, "sent", 21_000, 0)]
    world.transfers = [Transfer(DOSSIER, "d1-1", "pending", 21_000)]
    assert check_world(world) == []
    world.dossiers = [Dossier(DOSSIER, "limbo", 21_000, 0)]
    assert any("unknown status limbo" in broken for broken in check_world(world))


def test_events_left_in_an_outbox_and_dead_letters_are_reported() -> None:
    world = paid_world()
    world.outbox_left = {"dossier": 3}
    world.dead_letters = [event("dife.funding.plan_ready.v1", "z", topic="faults.x.dife.funding.events.dlt")]
    broken = check_world(world)
    assert "dossier: 3 events still in its outbox" in broken
    assert "1 dead letters of dife.funding.plan_ready.v1" in broken


def test_a_replay_that_changes_a_balance_is_named() -> None:
    before = paid_world().snapshot()
    changed = paid_world()
    changed.accounts = [Account(ELU, 0, 0)]
    assert snapshot_changes(before, before) == []
    (change,) = snapshot_changes(before, changed.snapshot())
    assert change.startswith("accounts:") and "19000" in change
