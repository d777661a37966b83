"""An organisme's bank details and their four-eyes verification (R-PAY-3: paid only to a verified IBAN).

A change of IBAN is a classic fraud vector: new details take effect only once an agent other than the person
who entered them verifies them. Until then the previous verified details (if any) stay in force. The IBAN is
shown in full only to agents; everywhere else it is masked, and it never goes on the bus or in a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from servicekit.rules import Checks, InvalidTransition, RuleBroken

HOLDER_NAME_MAX = 70
"""SEPA allows 70 characters for a creditor's name."""


class BankDetailsStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REFUSED = "refused"
    SUPERSEDED = "superseded"


def mask_iban(iban: str) -> str:
    """`FR7630006000011234567890189` → `FR76 **** **** **** **** ***0 189`: country, check digits and the last
    four characters, enough for a person to recognise their account, not to pay into it."""
    compact = iban.replace(" ", "")
    masked = compact[:4] + "*" * (len(compact) - 8) + compact[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def checked_iban(text: str) -> str:
    """R-PAY-3: a valid IBAN (country format and checksum, by schwifty), in its compact form."""
    try:
        return str(IBAN(text).compact)
    except (SchwiftyException, ValueError):
        # The value is never repeated in the message: it is personal banking data.
        raise RuleBroken("R-PAY-3", "the IBAN is not valid (format or check digits)", field="iban") from None


def checked_bic(text: str) -> str:
    """R-PAY-3: a valid BIC (ISO 9362, by schwifty), in its compact form."""
    try:
        return str(BIC(text).compact)
    except (SchwiftyException, ValueError):
        raise RuleBroken("R-PAY-3", "the BIC is not valid (ISO 9362)", field="bic") from None


@dataclass
class BankDetails:
    """One proposal of bank details for an organisme; `iban` is held in clear only in memory."""

    details_id: UUID
    siret: str
    iban: str
    bic: str
    holder_name: str
    entered_by: str
    entered_at: datetime
    status: BankDetailsStatus = BankDetailsStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    events: list[object] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:  # never print the IBAN, even in a traceback
        return f"BankDetails({self.details_id}, siret={self.siret}, iban={self.masked_iban}, {self.status})"

    @property
    def masked_iban(self) -> str:
        return mask_iban(self.iban)

    @property
    def is_verified(self) -> bool:
        return self.status is BankDetailsStatus.VERIFIED

    @classmethod
    def propose(
        cls, *, siret: str, iban: str, bic: str, holder_name: str, entered_by: str, now: datetime
    ) -> BankDetails:
        """R-PAY-3: IBAN and BIC must be valid; the details wait for another person's verification."""
        checks = Checks()
        clean_iban = clean_bic = ""
        try:
            clean_iban = checked_iban(iban)
        except RuleBroken as broken:
            checks.extend([broken])
        try:
            clean_bic = checked_bic(bic)
        except RuleBroken as broken:
            checks.extend([broken])
        name = " ".join(holder_name.split())
        if not name.isprintable():
            checks.fail("R-PAY-3", "the holder name holds control characters", field="holder_name")
        elif not 1 <= len(name) <= HOLDER_NAME_MAX:
            checks.fail(
                "R-PAY-3", f"the holder name has 1 to {HOLDER_NAME_MAX} characters", field="holder_name"
            )
        checks.raise_if_any()
        return cls(
            details_id=uuid4(),
            siret=siret,
            iban=clean_iban,
            bic=clean_bic,
            holder_name=name,
            entered_by=entered_by,
            entered_at=now,
        )

    def _decide(self, wanted: str, by: str) -> None:
        if self.status is not BankDetailsStatus.PENDING:
            raise InvalidTransition(current=self.status.value, wanted=wanted, allowed=(), rule_id="R-PAY-3")
        if by == self.entered_by:
            raise RuleBroken(
                "R-PAY-3",
                "four eyes: bank details are verified by an agent other than the person who entered them",
            )

    def verify(self, *, by: str, now: datetime) -> None:
        """R-PAY-3: another agent than the one who entered them makes the details payable."""
        self._decide("verify", by)
        self.status = BankDetailsStatus.VERIFIED
        self.decided_by, self.decided_at = by, now

    def refuse(self, *, by: str, now: datetime) -> None:
        """An agent turns down a proposal (wrong holder, suspected fraud); the previous details stay."""
        self._decide("refuse", by)
        self.status = BankDetailsStatus.REFUSED
        self.decided_by, self.decided_at = by, now

    def supersede(self) -> None:
        """Newer details were verified: these are no longer paid into."""
        self.status = BankDetailsStatus.SUPERSEDED
