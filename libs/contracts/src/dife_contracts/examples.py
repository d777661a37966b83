"""One valid, realistic payload per event type.

They illustrate the messages of the AsyncAPI document and give tests (here and in the services) a ready event;
every id is fixed so that the generated documents stay byte-for-byte stable.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar, cast
from uuid import UUID

from dife_contracts.enums import (
    AgrementStatus,
    CancelledBy,
    DossierStatus,
    FundingSource,
    HoldRejectionReason,
    MandateFamily,
    Modality,
    Periodicity,
    PeriodStatus,
    RneFileType,
    TrainingPurpose,
)
from dife_contracts.event import Event
from dife_contracts.events import (
    AccountActivated,
    AccountAdjusted,
    CardPaymentConfirmed,
    CardRefundOrdered,
    CofundingDecided,
    CofundingRequested,
    DeclarationReceived,
    DifeCaptureRequested,
    DifeHoldRequested,
    DifeReleaseRequested,
    DossierAccepted,
    DossierCancelled,
    DossierEvaluated,
    DossierExpired,
    DossierPaid,
    DossierRefused,
    DossierSubmitted,
    DossierValidated,
    EluMandatesChanged,
    EluRegistered,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    Mandate,
    OfferLocation,
    OfferPublished,
    OfferQualityUpdated,
    OfferSession,
    OfferWithdrawn,
    OrganismeAgrementChanged,
    OrganismeRegistered,
    PaymentOrdered,
    PaymentReceived,
    PaymentRejected,
    PaymentSent,
    PaymentSettled,
    PensionLiquidated,
    PeriodLate,
    PeriodSettled,
    PlanFailed,
    PlanLine,
    PlanProposed,
    PlanReady,
    RefundOrdered,
    RightsCredited,
    RightsExpired,
    ServiceDoneDeclared,
    ServiceDoneValidated,
    SessionCancelled,
    TrainingCompleted,
    TrainingStarted,
)
from dife_contracts.money import euros

E = TypeVar("E", bound=Event)

ELU_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e01")
DOSSIER_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e02")
OFFER_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e03")
SESSION_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e04")
HOLD_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e05")
MANDATE_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e06")
CAMPAIGN_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e07")
AGREMENT_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e08")
PAYMENT_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e09")
REFUND_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e0a")
DECLARATION_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e0b")
CONTRIBUTION_PAYMENT_ID = UUID("0b6f3a52-1c4e-4d7a-9f0e-3a1d2c5b7e0c")
SIRET = "35600000000048"
SIREN = "217500016"

PRICE_CENTS = euros(560)
TRAINING_START = date(2026, 6, 8)
TRAINING_END = date(2026, 6, 9)
AT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)

MANDATE = Mandate(
    mandate_id=MANDATE_ID,
    file_type=RneFileType.CM,
    family=MandateFamily.MUNICIPAL,
    collectivite_code="75056",
    collectivite_name="Paris",
    function="Conseiller municipal",
    start_date=date(2026, 3, 22),
)
PLAN_LINES = [
    PlanLine(source=FundingSource.DIFE, amount_cents=euros(500)),
    PlanLine(source=FundingSource.ELU_CARD, amount_cents=euros(60), reference="pay_8Hq2"),
]

_ALL: list[Event] = [
    EluRegistered(elu_id=ELU_ID, family_name="Martin", given_names="Claire Anne", mandates=[MANDATE]),
    EluMandatesChanged(
        elu_id=ELU_ID,
        mandates=[MANDATE.model_copy(update={"end_date": date(2032, 3, 15)})],
        last_mandate_end=date(2032, 3, 15),
        snapshot_date=date(2032, 3, 20),
    ),
    AccountActivated(elu_id=ELU_ID, activated_at=AT),
    PensionLiquidated(elu_id=ELU_ID, liquidated_on=date(2026, 6, 30)),
    RightsCredited(
        elu_id=ELU_ID,
        campaign_id=CAMPAIGN_ID,
        year=2027,
        family=MandateFamily.MUNICIPAL,
        amount_cents=euros(400),
        capped=False,
        balance_after_cents=euros(800),
        credited_on=date(2027, 3, 30),
    ),
    RightsExpired(
        elu_id=ELU_ID,
        amount_cents=euros(800),
        expired_on=date(2032, 9, 15),
        reason="six months after the end of the last mandate (R-END-1)",
    ),
    HoldPlaced(
        elu_id=ELU_ID,
        hold_id=HOLD_ID,
        dossier_id=DOSSIER_ID,
        amount_cents=euros(500),
        available_after_cents=euros(300),
    ),
    HoldRejected(
        elu_id=ELU_ID,
        dossier_id=DOSSIER_ID,
        requested_cents=euros(500),
        available_cents=0,
        reason=HoldRejectionReason.ACCOUNT_INACTIVE,
        detail="the account has not been activated",
    ),
    HoldCaptured(
        elu_id=ELU_ID,
        hold_id=HOLD_ID,
        dossier_id=DOSSIER_ID,
        captured_cents=euros(450),
        released_cents=euros(50),
    ),
    HoldReleased(
        elu_id=ELU_ID,
        hold_id=HOLD_ID,
        dossier_id=DOSSIER_ID,
        released_cents=euros(500),
        reason="dossier cancelled by the organisme",
    ),
    AccountAdjusted(
        elu_id=ELU_ID,
        amount_cents=-euros(100),
        reason="duplicate credit of the 2027 campaign",
        balance_after_cents=euros(700),
        by="agent:3f2c",
        adjustment_id=UUID("0190f1c2-7d44-7a6b-9c1e-5b2f3a4d6e81"),
        value_date=date(2027, 4, 2),
    ),
    OrganismeRegistered(siret=SIRET, name="Institut de formation des élus", nda="11755555575"),
    OrganismeAgrementChanged(
        siret=SIRET,
        agrement_id=AGREMENT_ID,
        reference="AGR-2026-0142",
        decision_date=date(2026, 1, 12),
        valid_from=date(2026, 2, 1),
        valid_until=date(2030, 1, 31),
        status=AgrementStatus.GRANTED,
    ),
    OfferPublished(
        offer_id=OFFER_ID,
        siret=SIRET,
        kind=TrainingPurpose.MANDATE,
        title="Prendre la parole en conseil municipal",
        theme_code="EP-02",
        hours=Decimal("14"),
        price_ht_cents=euros(560),
        price_ttc_cents=euros(672),
        vat_rate_bp=2000,
        modality=Modality.IN_PERSON,
        location=OfferLocation(
            commune_insee="69123", postal_code="69002", city="Lyon", department="69", region="84"
        ),
        sessions=[
            OfferSession(session_id=SESSION_ID, start_date=TRAINING_START, end_date=TRAINING_END, capacity=15)
        ],
        published_at=AT,
    ),
    OfferWithdrawn(offer_id=OFFER_ID, siret=SIRET, reason="replaced by a new programme", withdrawn_at=AT),
    SessionCancelled(offer_id=OFFER_ID, siret=SIRET, session_id=SESSION_ID, reason="trainer unavailable"),
    OfferQualityUpdated(
        offer_id=OFFER_ID,
        siret=SIRET,
        offer_rating_count=12,
        offer_rating_average=Decimal("4.25"),
        organisme_rating_count=87,
        organisme_rating_average=Decimal("4.10"),
    ),
    DossierSubmitted(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        offer_id=OFFER_ID,
        session_id=SESSION_ID,
        siret=SIRET,
        purpose=TrainingPurpose.MANDATE,
        price_cents=PRICE_CENTS,
        training_start=TRAINING_START,
        training_end=TRAINING_END,
        submitted_at=AT,
        answer_deadline=date(2026, 5, 6),
    ),
    DossierValidated(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        offer_id=OFFER_ID,
        session_id=SESSION_ID,
        siret=SIRET,
        purpose=TrainingPurpose.MANDATE,
        price_cents=PRICE_CENTS,
        hours=Decimal("14"),
        training_start=TRAINING_START,
        training_end=TRAINING_END,
        validated_at=AT,
        answer_deadline=date(2026, 5, 8),
        theme_code="EP-02",
    ),
    DossierAccepted(dossier_id=DOSSIER_ID, elu_id=ELU_ID, accepted_at=AT),
    DossierRefused(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        by=DossierStatus.REFUSED_BY_ORGANISME,
        reason="session full",
        refused_at=AT,
    ),
    DossierCancelled(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        by=CancelledBy.ELU,
        reason="cancelled three days before the start",
        force_majeure=False,
        rights_consumed=True,
        cancelled_at=AT,
    ),
    DossierExpired(
        dossier_id=DOSSIER_ID, elu_id=ELU_ID, expired_status=DossierStatus.SUBMITTED, expired_at=AT
    ),
    TrainingStarted(dossier_id=DOSSIER_ID, elu_id=ELU_ID, started_on=TRAINING_START),
    TrainingCompleted(
        dossier_id=DOSSIER_ID, elu_id=ELU_ID, completed_on=TRAINING_END, realisation_percent=100
    ),
    ServiceDoneDeclared(
        dossier_id=DOSSIER_ID, elu_id=ELU_ID, declared_on=date(2026, 6, 10), realisation_percent=100
    ),
    ServiceDoneValidated(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        validated_on=date(2026, 6, 17),
        realisation_percent=100,
        price_cents=PRICE_CENTS,
        siret=SIRET,
    ),
    DossierEvaluated(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        offer_id=OFFER_ID,
        siret=SIRET,
        rating=5,
        comment="Concret et utile dès le conseil suivant.",
    ),
    DossierPaid(dossier_id=DOSSIER_ID, elu_id=ELU_ID, paid_on=date(2026, 7, 3), amount_cents=PRICE_CENTS),
    PlanProposed(dossier_id=DOSSIER_ID, elu_id=ELU_ID, price_cents=PRICE_CENTS, lines=PLAN_LINES),
    DifeHoldRequested(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        amount_cents=euros(500),
        purpose=TrainingPurpose.MANDATE,
        training_start=TRAINING_START,
        training_end=TRAINING_END,
    ),
    DifeReleaseRequested(dossier_id=DOSSIER_ID, elu_id=ELU_ID, reason="dossier refused by the élu"),
    CofundingRequested(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        siren=SIREN,
        amount_cents=euros(60),
        deliberation_reference="DEL-2026-017",
    ),
    CofundingDecided(
        dossier_id=DOSSIER_ID, elu_id=ELU_ID, siren=SIREN, approved=True, amount_cents=euros(60)
    ),
    CardPaymentConfirmed(
        dossier_id=DOSSIER_ID, elu_id=ELU_ID, amount_cents=euros(60), provider_reference="pay_8Hq2"
    ),
    CardRefundOrdered(
        dossier_id=DOSSIER_ID,
        elu_id=ELU_ID,
        amount_cents=euros(60),
        provider_reference="pay_8Hq2",
        reason="dossier refused by the élu",
    ),
    PlanReady(dossier_id=DOSSIER_ID, elu_id=ELU_ID, price_cents=PRICE_CENTS, lines=PLAN_LINES),
    PlanFailed(dossier_id=DOSSIER_ID, elu_id=ELU_ID, reason="DIFE hold rejected: account inactive"),
    PaymentOrdered(
        dossier_id=DOSSIER_ID,
        payment_id=PAYMENT_ID,
        siret=SIRET,
        amount_cents=PRICE_CENTS,
        realisation_percent=100,
        due_date=date(2026, 7, 17),
    ),
    DifeCaptureRequested(dossier_id=DOSSIER_ID, elu_id=ELU_ID, amount_cents=euros(500)),
    PaymentSent(
        dossier_id=DOSSIER_ID,
        payment_id=PAYMENT_ID,
        siret=SIRET,
        amount_cents=PRICE_CENTS,
        sepa_message_id="DIFE-20260701-0001",
    ),
    PaymentSettled(
        dossier_id=DOSSIER_ID, payment_id=PAYMENT_ID, amount_cents=PRICE_CENTS, settled_on=date(2026, 7, 3)
    ),
    PaymentRejected(
        dossier_id=DOSSIER_ID, payment_id=PAYMENT_ID, reason_code="AC04", rejected_on=date(2026, 7, 3)
    ),
    RefundOrdered(
        dossier_id=DOSSIER_ID,
        refund_id=REFUND_ID,
        elu_id=ELU_ID,
        amount_cents=euros(60),
        reason="no-show with force majeure: card share refunded",
    ),
    DeclarationReceived(
        siren=SIREN,
        declaration_id=DECLARATION_ID,
        period="2026-03",
        periodicity=Periodicity.MONTHLY,
        version=1,
        line_count=163,
        allowances_cents=euros(412_300),
        contribution_cents=euros(4_123),
        received_at=AT,
    ),
    PaymentReceived(
        siren=SIREN,
        payment_id=CONTRIBUTION_PAYMENT_ID,
        period="2026-03",
        amount_cents=euros(4_123),
        received_on=date(2026, 4, 14),
    ),
    PeriodSettled(
        siren=SIREN,
        period="2026-03",
        status=PeriodStatus.PAID,
        declared_cents=euros(4_123),
        paid_cents=euros(4_123),
    ),
    PeriodLate(siren=SIREN, period="2026-Q1", due_date=date(2026, 4, 15), outstanding_cents=euros(1_250)),
]

EXAMPLES: dict[type[Event], Event] = {type(event): event for event in _ALL}
"""One example payload per event type."""


def example(model: type[E]) -> E:
    """The example payload of `model`."""
    return cast(E, EXAMPLES[model])
