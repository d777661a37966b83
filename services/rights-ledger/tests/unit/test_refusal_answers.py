"""What each refusal of the ledger says, and the answers funding reads (R-FUN-1/5, R-PAY-2, R-ACC-2/3,
R-ACT-1, R-END-1, R-REG-1/2): the message is what an agent reads in the problem's detail or in
``hold_rejected``, so it is asserted whole, with its figures. Added from the mutation run of 28 November
(issue 16)."""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from dife_contracts.enums import HoldRejectionReason, MandateFamily, TrainingPurpose
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested, HoldRejected
from rights_ledger.domain.campaigns import ensure_campaign_due, ensure_expiry_not_ahead
from rights_ledger.domain.ledger import Account, Hold, HoldStatus, hold_rejected_without_account
from rights_ledger.domain.mandates import AccountStatus, Mandate
from rights_ledger.domain.parameters import RIGHTS_PARAMETERS, CampaignFamily, parameters_at
from rights_ledger.domain.snapshot import SnapshotLimits, check_ending_plausible, check_readable_enough
from servicekit.rules import Conflict, RuleBroken

NOW = datetime(2026, 9, 1, 10, tzinfo=UTC)
ENDED_IN_JUNE = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 6, 30))]
RUNNING = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]


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


def _answered(
    account: Account,
    request: DifeHoldRequested,
    mandates: list[Mandate],
    pension: date | None = None,
) -> HoldRejected | None:
    """The hold_rejected the account answered, or None when it placed the hold."""
    hold = account.answer_hold_request(
        request, hold_id=uuid4(), mandates=mandates, pension_liquidated_on=pension, at=NOW
    )
    if hold is not None:
        return None
    [rejected] = account.events
    assert isinstance(rejected, HoldRejected)
    return rejected


def _active(balance: int = 30_000) -> Account:
    return Account(uuid4(), status=AccountStatus.ACTIVE, balance_cents=balance)


# R-END-1 / R-DOS-2: the purpose and the pension decide eligibility, through the answer to funding.


def test_a_mandate_training_after_the_last_mandate_is_refused_a_reinsertion_one_placed_R_END_1() -> None:
    """1–2 October, mandate ended 30 June: inside the 6-month window (reinsertion) but outside any mandate."""
    mandate = _active()
    rejected = _answered(mandate, _request(mandate.elu_id, 1_000), ENDED_IN_JUNE)
    assert rejected is not None and rejected.reason is HoldRejectionReason.NOT_ELIGIBLE
    assert rejected.detail == "a mandate training on these dates is not eligible (R-END-1, R-DOS-2)"
    reinsertion = _active()
    assert (
        _answered(
            reinsertion, _request(reinsertion.elu_id, 1_000, TrainingPurpose.REINSERTION), ENDED_IN_JUNE
        )
        is None
    )
    assert reinsertion.held_cents == 1_000


def test_a_reinsertion_training_is_refused_after_a_liquidated_pension_placed_without_R_END_1() -> None:
    refused = _active()
    request = _request(refused.elu_id, 1_000, TrainingPurpose.REINSERTION)
    rejected = _answered(refused, request, RUNNING, pension=date(2026, 8, 1))
    assert rejected is not None and rejected.reason is HoldRejectionReason.NOT_ELIGIBLE
    assert rejected.detail == "a reinsertion training on these dates is not eligible (R-END-1, R-DOS-2)"
    assert refused.held_cents == 0
    placed = _active()
    assert _answered(placed, _request(placed.elu_id, 1_000, TrainingPurpose.REINSERTION), RUNNING) is None


# R-FUN-1 / R-FUN-5: the detail of a refused hold names the figures and the rule.


def test_a_hold_refused_for_lack_of_rights_says_both_amounts_R_FUN_1() -> None:
    account = _active(balance=30_000)
    rejected = _answered(account, _request(account.elu_id, 30_001), RUNNING)
    assert rejected is not None
    assert rejected.detail == "hold of 30001 cents exceeds the available 30000 cents (R-FUN-1)"


def test_a_hold_refused_on_an_empty_account_reports_zero_available_not_more_R_FUN_1() -> None:
    account = _active(balance=0)
    rejected = _answered(account, _request(account.elu_id, 1), RUNNING)
    assert rejected is not None
    assert (rejected.reason, rejected.requested_cents, rejected.available_cents) == (
        HoldRejectionReason.INSUFFICIENT_RIGHTS,
        1,
        0,
    )


def test_a_hold_of_zero_is_refused_saying_a_hold_is_for_a_positive_amount_R_FUN_5() -> None:
    account = _active()
    rejected = _answered(account, _request(account.elu_id, 0), RUNNING)
    assert rejected is not None
    assert rejected.detail == "a hold is for a positive amount (R-FUN-5)"
    with pytest.raises(RuleBroken) as refused:
        account.place_hold(Hold(uuid4(), account.elu_id, -1, None), NOW)
    assert refused.value == RuleBroken("R-FUN-5", "a hold is for a positive amount")


def test_an_elu_without_an_account_is_told_so_naming_the_rule_R_ACT_1() -> None:
    rejected = hold_rejected_without_account(_request(uuid4(), 1_000))
    assert rejected.detail == "no DIFE account for this élu (R-ACT-1)"


def test_answering_again_a_hold_without_terms_is_a_programming_error_that_says_so_R_FUN_5() -> None:
    with pytest.raises(ValueError, match=r"^a hold answered to funding has its terms$"):
        _active().answer_again(Hold(uuid4(), uuid4(), 1_000, None))


# R-PAY-2 / R-FUN-5: captures and releases.


def _placed() -> tuple[Account, Hold, DifeHoldRequested]:
    account = _active()
    request = _request(account.elu_id, 30_000)
    hold = account.answer_hold_request(
        request, hold_id=uuid4(), mandates=RUNNING, pension_liquidated_on=None, at=NOW
    )
    assert hold is not None
    account.events.clear()
    return account, hold, request


def test_a_capture_above_the_hold_says_both_amounts_R_PAY_2() -> None:
    account, hold, request = _placed()
    capture = DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=account.elu_id, amount_cents=30_001)
    with pytest.raises(RuleBroken) as refused:
        account.capture_requested(hold, capture, NOW)
    assert refused.value == RuleBroken("R-PAY-2", "capture of 30001 cents exceeds the hold of 30000")
    with pytest.raises(RuleBroken) as negative:
        account.capture(hold, -1, NOW)
    assert negative.value == RuleBroken("R-PAY-2", "capture of -1 cents outside 0..30000")


@pytest.mark.parametrize("wanted", ["capture", "release"])
def test_a_capture_or_release_of_another_elus_hold_says_which_was_asked_R_FUN_5(wanted: str) -> None:
    _, hold, request = _placed()
    other = _active()
    with pytest.raises(Conflict) as refused:
        if wanted == "capture":
            capture = DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=other.elu_id, amount_cents=1)
            other.capture_requested(hold, capture, NOW)
        else:
            release = DifeReleaseRequested(dossier_id=request.dossier_id, elu_id=other.elu_id, reason="x")
            other.release_requested(hold, release, NOW)
    assert (refused.value.message, refused.value.rule_id) == (
        f"{wanted} requested for a hold of another élu",
        "R-FUN-5",
    )


@pytest.mark.parametrize("wanted", ["capture", "release"])
def test_a_hold_never_placed_on_this_account_cannot_move_its_money_R_FUN_5(wanted: str) -> None:
    """0 ≤ held ≤ balance is checked on every movement: a hold of another ledger (same élu, never placed
    here) would release cents this account never held, or spend cents it never had."""
    account = Account(uuid4(), balance_cents=500)
    foreign = Hold(uuid4(), account.elu_id, 1_000, None)
    with pytest.raises(AssertionError, match=r"^ledger invariant broken: 0 ≤ held ≤ balance$"):
        if wanted == "capture":
            account.capture(foreign, 1_000, NOW)
        else:
            account.release(foreign, NOW)
    assert (account.journal, foreign.status) == ([], HoldStatus.PENDING)


# R-ACC-2 / R-ACT-1: an agent's correction and a second activation.


def test_an_adjustment_of_zero_says_it_must_move_money_R_ACC_2() -> None:
    with pytest.raises(RuleBroken) as refused:
        Account(uuid4(), balance_cents=30_000).adjust(0, 80_000, NOW, "nothing")
    assert refused.value == RuleBroken("R-ACC-2", "an adjustment moves a non-zero amount")


def test_an_adjustment_refused_says_the_balance_it_would_reach_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=70_000)
    with pytest.raises(RuleBroken) as above:
        account.adjust(10_001, 80_000, NOW, "above the cap")
    assert above.value.message == "the adjustment would take the balance to 80001 cents, above the cap"
    with pytest.raises(RuleBroken) as below:
        account.adjust(-70_001, 80_000, NOW, "below zero")
    assert below.value.message == (
        "the adjustment would take the balance to -1 cents, below 0 or below the holds"
    )


def test_an_account_activated_by_someone_else_says_it_is_already_activated_R_ACT_1() -> None:
    account = Account(uuid4())
    account.activate(subject="sub-1", nir_hash="h1", at=NOW)
    with pytest.raises(Conflict) as refused:
        account.activate(subject="sub-2", nir_hash="h2", at=NOW)
    assert (refused.value.message, refused.value.rule_id) == ("this account is already activated", "R-ACT-1")


# R-ACC-3 / R-END-1 / R-ACC-2: campaign and expiry runs out of their dates, parameters before any.


def test_a_campaign_run_too_early_says_its_date_and_today_R_ACC_3() -> None:
    with pytest.raises(RuleBroken) as refused:
        ensure_campaign_due(CampaignFamily.MUNICIPAL, 2026, date(2026, 3, 29))
    assert refused.value == RuleBroken(
        "R-ACC-3",
        "the municipal campaign of 2026 runs on 2026-03-30 or later (Paris), not on 2026-03-29",
        field="year",
    )


def test_an_expiry_run_ahead_of_today_says_today_R_END_1() -> None:
    with pytest.raises(RuleBroken) as refused:
        ensure_expiry_not_ahead(date(2026, 9, 2), date(2026, 9, 1))
    assert refused.value == RuleBroken(
        "R-END-1", "an expiry run is as of today (2026-09-01) at the latest", field="as_of"
    )


def test_no_parameters_before_the_first_row_and_the_first_row_on_its_own_day_R_ACC_2() -> None:
    first = RIGHTS_PARAMETERS[0]
    assert parameters_at(first.effective_from) == first
    with pytest.raises(ValueError, match=r"^no DIFE parameters in force on 1899-12-31$"):
        parameters_at(date(1899, 12, 31))


# R-REG-1 / R-REG-2: a refused snapshot says the figures and how to force it.

LIMITS = SnapshotLimits(max_rejected_share=0.02, max_ended_share=0.10)


def test_an_unreadable_snapshot_says_how_much_was_rejected_and_how_to_force_it_R_REG_1() -> None:
    with pytest.raises(RuleBroken) as refused:
        check_readable_enough(100, 3, LIMITS, force=False)
    assert refused.value == RuleBroken(
        "R-REG-1",
        "3 of 100 lines are rejected (3.0%), above the 2.0% allowed; nothing was changed (see the rejected "
        "lines; force=true imports the readable lines and ends every mandate missing from them)",
    )


def test_a_snapshot_ending_too_many_mandates_says_how_many_and_how_to_force_it_R_REG_2() -> None:
    with pytest.raises(RuleBroken) as refused:
        check_ending_plausible(100, 11, "cm", LIMITS, force=False)
    assert refused.value == RuleBroken(
        "R-REG-2",
        "the snapshot would end 11 of the 100 open cm mandates (11.0%), above the 10.0% allowed; nothing was "
        "changed (force=true if it is right, e.g. after a general election)",
    )
