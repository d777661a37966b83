"""Shared vocabularies: the values travel as lower-case strings on the bus."""

from enum import StrEnum


class MandateFamily(StrEnum):
    """Family of a local mandate; it decides the crediting date of the campaign (R-ACC-3)."""

    MUNICIPAL = "municipal"
    COMMUNAUTAIRE = "communautaire"
    DEPARTMENTAL = "departmental"
    REGIONAL = "regional"
    SPECIAL_STATUS = "special_status"
    ARRONDISSEMENT = "arrondissement"


class RneFileType(StrEnum):
    """The RNE open-data file a mandate was read from (R-REG-1): `…-cm.csv`, `…-epci.csv`, …"""

    CM = "cm"
    EPCI = "epci"
    CD = "cd"
    CR = "cr"
    CSP = "csp"
    CA = "ca"

    @property
    def family(self) -> MandateFamily:
        """The mandate family every row of this file belongs to."""
        return _FAMILY_OF_FILE_TYPE[self]


_FAMILY_OF_FILE_TYPE = {
    RneFileType.CM: MandateFamily.MUNICIPAL,
    RneFileType.EPCI: MandateFamily.COMMUNAUTAIRE,
    RneFileType.CD: MandateFamily.DEPARTMENTAL,
    RneFileType.CR: MandateFamily.REGIONAL,
    RneFileType.CSP: MandateFamily.SPECIAL_STATUS,
    RneFileType.CA: MandateFamily.ARRONDISSEMENT,
}


class TrainingPurpose(StrEnum):
    """Why the élu trains: for the mandate (R-OFR-1) or for a return to work after it (R-OFR-2)."""

    MANDATE = "mandate"
    REINSERTION = "reinsertion"


class Modality(StrEnum):
    """How a training is delivered."""

    IN_PERSON = "in_person"
    REMOTE = "remote"
    MIXED = "mixed"


class DossierStatus(StrEnum):
    """Statuses of a training dossier, after the EDOF statuses of Mon Compte Formation (DOMAIN.md §3)."""

    SUBMITTED = "submitted"
    VALIDATED = "validated"
    ACCEPTED = "accepted"
    IN_TRAINING = "in_training"
    COMPLETED = "completed"
    SERVICE_DONE_DECLARED = "service_done_declared"
    SERVICE_DONE_VALIDATED = "service_done_validated"
    PAID = "paid"
    REFUSED_BY_ORGANISME = "refused_by_organisme"
    REFUSED_BY_ELU = "refused_by_elu"
    CANCELLED_BY_ELU = "cancelled_by_elu"
    CANCELLED_BY_ORGANISME = "cancelled_by_organisme"
    CANCELLED_BY_FINANCER = "cancelled_by_financer"
    EXPIRED = "expired"


class CancelledBy(StrEnum):
    """Who cancelled a dossier: it decides whether the rights come back (R-DOS-5)."""

    ELU = "elu"
    ORGANISME = "organisme"
    FINANCER = "financer"


class FundingSource(StrEnum):
    """Where one line of a funding plan comes from (R-FUN-1 to R-FUN-4)."""

    DIFE = "dife"
    COLLECTIVITE = "collectivite"
    CPF = "cpf"
    CEC = "cec"
    ELU_CARD = "elu_card"


class HoldRejectionReason(StrEnum):
    """Why the ledger refused to reserve rights for a dossier."""

    INSUFFICIENT_RIGHTS = "insufficient_rights"
    ACCOUNT_INACTIVE = "account_inactive"
    NOT_ELIGIBLE = "not_eligible"


class Role(StrEnum):
    """Roles carried by the platform's JWTs (DESIGN.md, HTTP APIs)."""

    ELU = "elu"
    ORGANISME = "organisme"
    COLLECTIVITE = "collectivite"
    AGENT = "agent"
    OPS = "ops"


class Periodicity(StrEnum):
    """How often a collectivité declares and pays the 1 % contribution (R-CON-3)."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class PeriodStatus(StrEnum):
    """Where a contribution period stands once payments are matched to its declaration (R-CON-4)."""

    DUE = "due"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    OVERPAID = "overpaid"
    LATE = "late"


class AgrementStatus(StrEnum):
    """State of an organisme's ministerial agrément after a decision (R-OF-1)."""

    GRANTED = "granted"
    RENEWED = "renewed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
