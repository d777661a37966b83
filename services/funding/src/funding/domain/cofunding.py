"""Co-funding envelopes of collectivités: a deliberation's budget and per-élu ceiling (R-FUN-2).

Invariants (also CHECK constraints in the database): reserved ≤ budget; an élu's reserved ≤ ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID

from servicekit.rules import Checks, InvalidTransition, RuleBroken


class DecisionMode(StrEnum):
    """`automatic`: funding grants within the envelope's rules at once; `manual`: the collectivité decides."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


class EnvelopeStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass
class Envelope:
    envelope_id: UUID
    siren: str
    collectivite_code: str
    deliberation_reference: str
    deliberation_date: date
    budget_cents: int
    per_elu_ceiling_cents: int
    valid_from: date
    valid_until: date
    decision_mode: DecisionMode
    themes: list[str] = field(default_factory=list)
    status: EnvelopeStatus = EnvelopeStatus.OPEN
    reserved_cents: int = 0

    @classmethod
    def create(
        cls,
        *,
        envelope_id: UUID,
        siren: str,
        collectivite_code: str,
        deliberation_reference: str,
        deliberation_date: date,
        budget_cents: int,
        per_elu_ceiling_cents: int,
        valid_from: date,
        valid_until: date,
        decision_mode: DecisionMode,
        themes: list[str],
        today: date,
        code_owner: str | None,
    ) -> Envelope:
        """R-FUN-2: a top-up rests on a deliberation already taken: budget, ceiling, validity; and a
        collectivité tops up only its own élus: `code_owner` is the SIREN the reference names as owner of
        `collectivite_code` (None when the code is not registered)."""
        checks = Checks()
        if not owns_code(siren, collectivite_code, code_owner):
            checks.fail(
                "R-FUN-2",
                f"SIREN {siren} does not own the collectivité code {collectivite_code}: "
                "a collectivité tops up only its own élus",
                field="collectivite_code",
            )
        if not deliberation_reference.strip():
            checks.fail("R-FUN-2", "the deliberation reference is required", field="deliberation_reference")
        if deliberation_date > today:
            checks.fail("R-FUN-2", "the deliberation must already be taken", field="deliberation_date")
        if budget_cents <= 0:
            checks.fail("R-FUN-2", "the budget must be above zero", field="budget_cents")
        if not 0 < per_elu_ceiling_cents <= max(budget_cents, 1):
            checks.fail(
                "R-FUN-2",
                "the per-élu ceiling is above zero and within the budget",
                field="per_elu_ceiling_cents",
            )
        if valid_until < valid_from:
            checks.fail("R-FUN-2", "the validity ends on or after it starts", field="valid_until")
        checks.raise_if_any()
        return cls(
            envelope_id=envelope_id,
            siren=siren,
            collectivite_code=collectivite_code,
            deliberation_reference=deliberation_reference.strip(),
            deliberation_date=deliberation_date,
            budget_cents=budget_cents,
            per_elu_ceiling_cents=per_elu_ceiling_cents,
            valid_from=valid_from,
            valid_until=valid_until,
            decision_mode=decision_mode,
            themes=themes,
        )

    @property
    def remaining_cents(self) -> int:
        return self.budget_cents - self.reserved_cents

    def covers(self, training_start: date, training_end: date) -> bool:
        """R-FUN-2: the training runs inside the deliberation's validity and the envelope is open."""
        return (
            self.status is EnvelopeStatus.OPEN
            and self.valid_from <= training_start
            and training_end <= self.valid_until
        )

    def serves_theme(self, theme_code: str | None) -> bool:
        """R-FUN-2: an envelope with themes serves only trainings whose offer theme is among them; one
        without themes serves every mandate training. A training of unknown theme is not served by a
        themed envelope (the deliberation restricted its money to those themes)."""
        return not self.themes or theme_code in self.themes

    def capacity_for(self, elu_reserved_cents: int) -> int:
        """R-FUN-2: never more than the budget left nor the élu's ceiling left."""
        if self.status is not EnvelopeStatus.OPEN:
            return 0
        return max(0, min(self.remaining_cents, self.per_elu_ceiling_cents - elu_reserved_cents))

    def close(self) -> None:
        """No new top-up from a closed envelope; requests already made keep their reservation."""
        if self.status is EnvelopeStatus.CLOSED:
            raise InvalidTransition(current=self.status, wanted="close", allowed=())
        self.status = EnvelopeStatus.CLOSED


def owns_code(siren: str, collectivite_code: str, code_owner: str | None) -> bool:
    """R-FUN-2: a SIREN owns a collectivité code when the code is the SIREN itself (the RNE names an EPCI by
    its SIREN) or when the reference registered by an agent names that SIREN as the code's owner (a commune's
    INSEE code, a département or région code: no rule derives a SIREN from them)."""
    return collectivite_code == siren or code_owner == siren


def check_code_registration(collectivite_code: str, siren: str) -> None:
    """R-FUN-2: a 9-digit code is an EPCI's SIREN and belongs to that SIREN alone: registering it to another
    SIREN would let one collectivité top up another's élus."""
    if len(collectivite_code) == 9 and collectivite_code.isdigit() and collectivite_code != siren:
        raise RuleBroken(
            "R-FUN-2",
            f"the code {collectivite_code} is an EPCI's SIREN: it belongs to SIREN {collectivite_code} only",
            field="collectivite_code",
        )


def collectivite_codes(mandates: list[tuple[str, date, date | None]], on: date) -> list[str]:
    """R-FUN-2: the collectivités (RNE `collectivite_code`) of the mandates running on `on`."""
    codes = {code for code, start, end in mandates if start <= on and (end is None or on <= end)}
    return sorted(codes)
