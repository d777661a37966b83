"""The property of R-PAY-3: whatever the bank says and in whatever order, a payment is never paid twice —
settled ≤ due always, and settled = due exactly once the bank accepted."""

from datetime import date
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st
from payout.domain.payments import Payment, PaymentStatus
from servicekit.rules import RuleError

ACTIONS = st.lists(
    st.sampled_from(["batch_same", "batch_new", "send", "settle", "reject"]), min_size=1, max_size=30
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(actions=ACTIONS, amount=st.integers(min_value=1, max_value=10**9))
def test_settled_never_exceeds_due_and_equals_it_once_accepted_R_PAY_3(
    actions: list[str], amount: int
) -> None:
    payment = Payment.order(
        dossier_id=uuid4(),
        elu_id=uuid4(),
        siret="12345678900011",
        amount_cents=amount,
        realisation_percent=100,
        validated_on=date(2027, 1, 1),
    )
    details = uuid4()
    settlements = 0
    for action in actions:
        try:
            if action == "batch_same":
                payment.batch(batch_id=uuid4(), bank_details_id=details)
            elif action == "batch_new":
                details = uuid4()
                payment.batch(batch_id=uuid4(), bank_details_id=details)
            elif action == "send":
                payment.send(sepa_message_id="M")
            elif action == "settle":
                payment.settle(on=date(2027, 1, 2))
                settlements += 1
            else:
                payment.reject(reason_code="AC04", on=date(2027, 1, 2))
        except RuleError:
            pass
        assert 0 <= payment.settled_cents <= payment.amount_cents
        assert (payment.status is PaymentStatus.SETTLED) == (payment.settled_cents == payment.amount_cents)
        assert settlements <= 1
