"""Campaign plans, activation and the answers the account records (R-ACC-3, R-END-1, R-ACT-1, R-FUN-1/5,
R-PAY-2), directly on the domain (the use-case tests reach them only through fakes)."""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from dife_contracts.enums import HoldRejectionReason, MandateFamily, TrainingPurpose
from dife_contracts.events import (
    AccountActivated,
    AccountAdjusted,
    DifeCaptureRequested,
    DifeHoldRequested,
    DifeReleaseRequested,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    RightsExpired,
)
from rights_ledger.domain.campaigns import (
    EXPIRY_REASON,
    Expired,
    ensure_campaign_due,
    ensure_expiry_not_ahead,
    expiry_reference,
    next_campaign_year,
    plan_campaign,
    rights_expired,
)
from rights_ledger.domain.ledger import (
    Account,
    Hold,
    HoldStatus,
    HoldTerms,
    hold_rejected_without_account,
)
from rights_ledger.domain.mandates import AccountStatus, Mandate
from rights_ledger.domain.parameters import CampaignFamily, parameters_at
from rights_ledger.domain.rne import age_on
from servicekit.rules import Conflict, InvalidTransition, RuleBroken

NOW = datetime(2026, 9, 1, 10, tzinfo=UTC)
RUNNING = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]

# R-ACC-3 / R-END-1: campaign plans and expiry runs.


def test_a_campaign_runs_on_its_date_not_the_day_before_R_ACC_3() -> None:
    assert ensure_campaign_due(CampaignFamily.MUNICIPAL, 2026, date(2026, 3, 30)) == date(2026, 3, 30)
    assert ensure_campaign_due(CampaignFamily.OTHER, 2026, date(2026, 9, 1)) == date(2026, 7, 5)
    with pytest.raises(RuleBroken) as early:
        ensure_campaign_due(CampaignFamily.MUNICIPAL, 2026, date(2026, 3, 29))
    assert (early.value.rule_id, early.value.field) == ("R-ACC-3", "year")


def test_the_plan_of_each_campaign_names_its_families_and_the_catch_up_R_ACC_3() -> None:
    campaign_id = uuid4()
    municipal = plan_campaign(campaign_id, CampaignFamily.MUNICIPAL, 2026, date(2026, 3, 30))
    assert (municipal.campaign_id, municipal.year, municipal.on) == (campaign_id, 2026, date(2026, 3, 30))
    assert municipal.rights == parameters_at(date(2026, 3, 30))
    assert set(municipal.families) == {
        MandateFamily.MUNICIPAL,
        MandateFamily.COMMUNAUTAIRE,
        MandateFamily.ARRONDISSEMENT,
    }
    assert municipal.first_families == municipal.families
    assert (municipal.catch_up, municipal.reference) == (False, "campaign municipal 2026")
    other = plan_campaign(campaign_id, CampaignFamily.OTHER, 2026, date(2026, 7, 5))
    assert set(other.families) == {
        MandateFamily.DEPARTMENTAL,
        MandateFamily.REGIONAL,
        MandateFamily.SPECIAL_STATUS,
    }
    assert other.first_families == municipal.families
    assert (other.family, other.catch_up, other.reference) == (
        CampaignFamily.OTHER,
        True,
        "campaign other 2026",
    )
    with pytest.raises(RuleBroken):
        plan_campaign(campaign_id, CampaignFamily.OTHER, 2026, date(2026, 7, 4))


def test_the_plan_takes_the_parameters_in_force_on_the_campaign_date_R_ACC_2() -> None:
    plan = plan_campaign(uuid4(), CampaignFamily.MUNICIPAL, 2022, date(2023, 3, 27))
    assert plan.rights.cap_cents == 70_000


@pytest.mark.parametrize(
    ("family", "today", "year"),
    [
        (CampaignFamily.MUNICIPAL, date(2026, 3, 29), 2026),
        (CampaignFamily.MUNICIPAL, date(2026, 3, 30), 2027),
        (CampaignFamily.OTHER, date(2026, 7, 4), 2026),
        (CampaignFamily.OTHER, date(2026, 7, 5), 2027),
        (CampaignFamily.OTHER, date(2026, 12, 31), 2027),
    ],
)
def test_the_next_campaign_is_strictly_after_today_R_ACC_3(
    family: CampaignFamily, today: date, year: int
) -> None:
    assert next_campaign_year(family, today) == year


def test_an_expiry_run_is_as_of_today_at_the_latest_R_END_1() -> None:
    ensure_expiry_not_ahead(date(2026, 9, 1), date(2026, 9, 1))
    ensure_expiry_not_ahead(date(2026, 8, 31), date(2026, 9, 1))
    with pytest.raises(RuleBroken) as ahead:
        ensure_expiry_not_ahead(date(2026, 9, 2), date(2026, 9, 1))
    assert (ahead.value.rule_id, ahead.value.field) == ("R-END-1", "as_of")


def test_an_expiry_is_published_with_its_amount_date_and_reason_R_END_1() -> None:
    elu_id = uuid4()
    event = rights_expired(Expired(elu_id, 1), date(2026, 9, 1))
    assert event == RightsExpired(
        elu_id=elu_id, amount_cents=1, expired_on=date(2026, 9, 1), reason=EXPIRY_REASON
    )
    assert "R-END-1" in EXPIRY_REASON
    assert expiry_reference(date(2026, 9, 1)) == "expiry run 2026-09-01"


@pytest.mark.parametrize(
    ("day", "age"),
    [(date(1979, 3, 4), 17), (date(1979, 3, 5), 18), (date(1979, 2, 28), 17), (date(1980, 1, 1), 18)],
)
def test_an_age_counts_the_birthday_on_the_day_itself_R_REG_1(day: date, age: int) -> None:
    assert age_on(date(1961, 3, 5), day) == age


# R-ACT-1: activation and its revocation.


def test_activation_links_one_login_and_one_nir_and_is_idempotent_R_ACT_1() -> None:
    account = Account(uuid4())
    assert account.activate(subject="sub-1", nir_hash="h1", at=NOW)
    assert (account.status, account.subject, account.nir_hash, account.activated_at) == (
        AccountStatus.ACTIVE,
        "sub-1",
        "h1",
        NOW,
    )
    assert account.events == [AccountActivated(elu_id=account.elu_id, activated_at=NOW)]
    assert not account.activate(subject="sub-1", nir_hash="h1", at=NOW)
    assert len(account.events) == 1
    for subject, nir_hash in (("sub-2", "h1"), ("sub-1", "h2")):
        with pytest.raises(Conflict) as refused:
            account.activate(subject=subject, nir_hash=nir_hash, at=NOW)
        assert refused.value.rule_id == "R-ACT-1"


def test_a_revoked_activation_unlinks_the_login_keeps_the_rights_and_is_audited_R_ACT_1() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    account.activate(subject="sub-1", nir_hash="h1", at=NOW)
    account.revoke_activation(reason="wrong person", by="agent-7", at=NOW)
    assert (account.status, account.subject, account.nir_hash, account.activated_at) == (
        AccountStatus.INACTIVE,
        None,
        None,
        None,
    )
    [audit] = account.revocations
    assert (audit.elu_id, audit.subject, audit.reason, audit.by, audit.at) == (
        account.elu_id,
        "sub-1",
        "wrong person",
        "agent-7",
        NOW,
    )
    assert account.balance_cents == 40_000
    assert account.activate(subject="sub-2", nir_hash="h2", at=NOW)
    with pytest.raises(InvalidTransition):
        Account(uuid4()).revoke_activation(reason="never activated", by="agent-7", at=NOW)


def test_a_revocation_of_a_closed_account_keeps_it_closed_R_ACT_1() -> None:
    account = Account(uuid4(), status=AccountStatus.CLOSED, subject="sub-1", nir_hash="h1")
    account.revoke_activation(reason="wrong person", by="agent-7", at=NOW)
    assert (account.status, account.subject) == (AccountStatus.CLOSED, None)


# R-ACC-2: an agent's adjustment is published.


def test_an_agents_adjustment_is_published_with_the_balance_after_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=30_000)
    movement = account.adjust_by_agent(-1_000, 80_000, NOW, "duplicate credit", by="agent-7")
    assert movement.balance_delta_cents == -1_000
    assert account.events == [
        AccountAdjusted(
            elu_id=account.elu_id,
            amount_cents=-1_000,
            reason="duplicate credit",
            balance_after_cents=29_000,
            by="agent-7",
            adjustment_id=movement.adjustment_id,
            value_date=date(2026, 9, 1),
        )
    ]
    assert movement.adjustment_id is not None


# R-FUN-1 / R-END-1 / R-FUN-5 / R-PAY-2: the answers to funding and payout.


def _request(
    elu_id: UUID, amount: int, purpose: TrainingPurpose = TrainingPurpose.MANDATE
) -> DifeHoldRequested:
    return DifeHoldRequested(
        dossier_id=uuid4(),
        elu_id=elu_id,
        amount_cents=amount,
        purpose=purpose,
        training_start=date(2026, 10, 1),
        training_end=date(2026, 10, 2),
    )


def _active(balance: int = 30_000) -> Account:
    return Account(uuid4(), status=AccountStatus.ACTIVE, balance_cents=balance)


def _answer(account: Account, request: DifeHoldRequested, mandates: list[Mandate] = RUNNING) -> Hold | None:
    return account.answer_hold_request(
        request, hold_id=uuid4(), mandates=mandates, pension_liquidated_on=None, at=NOW
    )


def test_a_hold_of_the_whole_available_balance_is_placed_and_answered_R_FUN_1() -> None:
    account = _active()
    request = _request(account.elu_id, 30_000)
    hold = _answer(account, request)
    assert hold is not None and account.placed == [hold]
    assert hold.terms is not None and (hold.terms.dossier_id, hold.reference) == (
        request.dossier_id,
        str(request.dossier_id),
    )
    assert account.events == [
        HoldPlaced(
            elu_id=account.elu_id,
            hold_id=hold.hold_id,
            dossier_id=request.dossier_id,
            amount_cents=30_000,
            available_after_cents=0,
        )
    ]


def test_a_hold_one_cent_above_the_available_balance_is_answered_insufficient_rights_R_FUN_1() -> None:
    account = _active()
    request = _request(account.elu_id, 30_001)
    assert _answer(account, request) is None
    [rejected] = account.events
    assert isinstance(rejected, HoldRejected)
    assert (rejected.reason, rejected.requested_cents, rejected.available_cents) == (
        HoldRejectionReason.INSUFFICIENT_RIGHTS,
        30_001,
        30_000,
    )
    assert rejected.detail.endswith("(R-FUN-1)")
    assert (account.placed, account.journal) == ([], [])


def test_a_hold_of_zero_is_answered_not_eligible_R_FUN_5() -> None:
    account = _active()
    assert _answer(account, _request(account.elu_id, 0)) is None
    [rejected] = account.events
    assert isinstance(rejected, HoldRejected)
    assert rejected.reason is HoldRejectionReason.NOT_ELIGIBLE
    assert rejected.detail.endswith("(R-FUN-5)")


def test_a_training_outside_the_mandates_is_answered_not_eligible_naming_its_purpose_R_END_1() -> None:
    account = _active()
    assert _answer(account, _request(account.elu_id, 1_000), mandates=[]) is None
    [rejected] = account.events
    assert isinstance(rejected, HoldRejected)
    assert rejected.reason is HoldRejectionReason.NOT_ELIGIBLE
    assert rejected.detail == "a mandate training on these dates is not eligible (R-END-1, R-DOS-2)"


def test_a_hold_on_an_inactive_account_is_answered_account_inactive_R_ACT_1() -> None:
    account = Account(uuid4(), balance_cents=30_000)
    assert _answer(account, _request(account.elu_id, 1_000)) is None
    [rejected] = account.events
    assert isinstance(rejected, HoldRejected)
    assert (rejected.reason, rejected.detail) == (
        HoldRejectionReason.ACCOUNT_INACTIVE,
        "the account is not active (R-ACT-1)",
    )


def test_an_elu_without_account_is_answered_with_nothing_available_R_ACT_1() -> None:
    request = _request(uuid4(), 1_000)
    rejected = hold_rejected_without_account(request)
    assert (rejected.elu_id, rejected.dossier_id, rejected.requested_cents, rejected.available_cents) == (
        request.elu_id,
        request.dossier_id,
        1_000,
        0,
    )
    assert rejected.reason is HoldRejectionReason.ACCOUNT_INACTIVE


def test_answering_again_needs_the_holds_terms_R_FUN_5() -> None:
    account = _active()
    with pytest.raises(ValueError):
        account.answer_again(Hold(uuid4(), account.elu_id, 1_000, None))


def _placed(amount: int = 30_000) -> tuple[Account, Hold, DifeHoldRequested]:
    account = _active()
    request = _request(account.elu_id, amount)
    hold = _answer(account, request)
    assert hold is not None
    account.events.clear()
    return account, hold, request


def test_a_capture_of_the_full_hold_is_answered_with_nothing_released_R_PAY_2() -> None:
    account, hold, request = _placed()
    capture = DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=account.elu_id, amount_cents=30_000)
    account.capture_requested(hold, capture, NOW)
    assert account.events == [
        HoldCaptured(
            elu_id=account.elu_id,
            hold_id=hold.hold_id,
            dossier_id=request.dossier_id,
            captured_cents=30_000,
            released_cents=0,
        )
    ]
    [resolution] = account.resolved
    assert (resolution.hold, resolution.released_cents, resolution.at) == (hold, 0, NOW)
    assert (account.balance_cents, account.held_cents) == (0, 0)


def test_a_capture_one_cent_above_the_hold_is_refused_R_PAY_2() -> None:
    account, hold, request = _placed()
    capture = DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=account.elu_id, amount_cents=30_001)
    with pytest.raises(RuleBroken) as refused:
        account.capture_requested(hold, capture, NOW)
    assert refused.value.rule_id == "R-PAY-2"
    assert (account.events, account.resolved, hold.status) == ([], [], HoldStatus.PENDING)


def test_a_release_is_answered_with_the_whole_hold_given_back_R_FUN_5() -> None:
    account, hold, request = _placed()
    release = DifeReleaseRequested(dossier_id=request.dossier_id, elu_id=account.elu_id, reason="refused")
    account.release_requested(hold, release, NOW)
    assert account.events == [
        HoldReleased(
            elu_id=account.elu_id,
            hold_id=hold.hold_id,
            dossier_id=request.dossier_id,
            released_cents=30_000,
            reason="refused",
        )
    ]
    [resolution] = account.resolved
    assert (resolution.released_cents, hold.status, account.held_cents) == (30_000, HoldStatus.VOIDED, 0)


def test_a_hold_of_another_elu_is_neither_captured_nor_released_R_FUN_5() -> None:
    account, hold, request = _placed()
    other = _active()
    with pytest.raises(Conflict) as capture:
        other.capture_requested(
            hold,
            DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=other.elu_id, amount_cents=1),
            NOW,
        )
    with pytest.raises(Conflict) as release:
        other.release_requested(
            hold, DifeReleaseRequested(dossier_id=request.dossier_id, elu_id=other.elu_id, reason="x"), NOW
        )
    assert (capture.value.rule_id, release.value.rule_id) == ("R-FUN-5", "R-FUN-5")
    assert (other.events, other.journal, hold.status) == ([], [], HoldStatus.PENDING)
    assert account.held_cents == 30_000


@pytest.mark.parametrize(
    ("captured", "kinds"), [(1, ["capture", "release"]), (29_999, ["capture", "release"])]
)
def test_a_capture_one_cent_from_either_end_moves_both_parts_R_PAY_2(captured: int, kinds: list[str]) -> None:
    account, hold, _ = _placed()
    movements = account.capture(hold, captured, NOW)
    assert [(m.kind, m.amount_cents, m.at) for m in movements] == [
        (kinds[0], captured, NOW),
        (kinds[1], 30_000 - captured, NOW),
    ]


def test_an_adjustment_of_one_cent_raises_the_cap_and_one_cent_above_it_is_refused_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=69_999, cap_cents=70_000)
    account.adjust(1, 80_000, NOW, "one cent")
    assert (account.balance_cents, account.cap_cents) == (70_000, 80_000)
    full = Account(uuid4(), balance_cents=80_000)
    with pytest.raises(RuleBroken) as refused:
        full.adjust(1, 80_000, NOW, "one cent too many")
    assert refused.value.rule_id == "R-ACC-2"


@pytest.mark.parametrize("wanted", ["capture", "release"])
def test_a_resolved_hold_names_its_state_and_the_rule_when_resolved_again_R_FUN_5(wanted: str) -> None:
    account, hold, _ = _placed()
    account.release(hold, NOW)
    with pytest.raises(InvalidTransition) as refused:
        account.capture(hold, 0, NOW) if wanted == "capture" else account.release(hold, NOW)
    error = refused.value
    assert (error.current, error.wanted, tuple(error.allowed), error.rule_id) == (
        "voided",
        wanted,
        (),
        "R-FUN-5",
    )


def test_a_placed_hold_keeps_the_training_it_finances_and_the_time_R_FUN_1() -> None:
    account = _active()
    request = _request(account.elu_id, 1_000, TrainingPurpose.REINSERTION)
    hold = _answer(account, request)
    assert hold is not None
    assert hold.terms == HoldTerms(
        request.dossier_id, TrainingPurpose.REINSERTION, date(2026, 10, 1), date(2026, 10, 2)
    )
    assert account.journal[0].at == NOW


def test_a_release_and_a_capture_answered_are_dated_R_FUN_5() -> None:
    account, hold, request = _placed()
    later = datetime(2026, 9, 2, 10, tzinfo=UTC)
    release = DifeReleaseRequested(dossier_id=request.dossier_id, elu_id=account.elu_id, reason="refused")
    account.release_requested(hold, release, later)
    [resolution] = account.resolved
    assert (resolution.hold, resolution.released_cents, resolution.at) == (hold, 30_000, later)
    assert account.journal[-1].at == later
    captured, hold2, request2 = _placed()
    capture = DifeCaptureRequested(
        dossier_id=request2.dossier_id, elu_id=captured.elu_id, amount_cents=10_000
    )
    captured.capture_requested(hold2, capture, later)
    assert [m.at for m in captured.journal[-2:]] == [later, later]


@pytest.mark.parametrize("status", [AccountStatus.INACTIVE, AccountStatus.CLOSED])
def test_revoking_an_account_never_activated_names_its_state_and_activation_as_the_way_R_ACT_1(
    status: AccountStatus,
) -> None:
    account = Account(uuid4(), status=status)
    with pytest.raises(InvalidTransition) as refused:
        account.revoke_activation(reason="never activated", by="agent-7", at=NOW)
    error = refused.value
    assert (error.current, error.wanted, tuple(error.allowed), error.rule_id) == (
        status.value,
        "revoke the activation",
        ("activate",),
        "R-ACT-1",
    )
    assert (account.status, account.revocations) == (status, [])
