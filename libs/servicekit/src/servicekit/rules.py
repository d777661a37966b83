"""The one vocabulary for "a rule said no", free of any framework so that `domain/` may raise it.

Domain code and use cases raise these; the edges translate them once: `servicekit.errors` turns them into
RFC 9457 problem+json (422, 409, 404) for HTTP, and `servicekit.consumer` dead-letters them (a consumed event
that breaks a rule will break it again on every retry). No service translates them itself.

    checks = Checks()
    if price_cents <= 0:
        checks.fail("R-OFR-3", "the price must be positive", field="price_ht_cents")
    checks.raise_if_any()                      # RulesBroken listing every rule broken, or nothing

    raise RuleBroken("R-DOS-1", "the organisme's answer is late", field="date")
    raise InvalidTransition(current="paid", wanted="cancel", allowed=("evaluate",))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


class RuleError(Exception):
    """Base of every refusal the domain or a use case raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleBroken(RuleError):
    """One business rule of DOMAIN.md broken by a request: its id, the field concerned if any, why."""

    def __init__(self, rule_id: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule_id}: {message}")
        self.rule_id = rule_id
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"RuleBroken({self.rule_id!r}, {self.message!r}, field={self.field!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleBroken) and (self.rule_id, self.message, self.field) == (
            other.rule_id,
            other.message,
            other.field,
        )

    def __hash__(self) -> int:
        return hash((self.rule_id, self.message, self.field))


class RulesBroken(RuleError):
    """Every rule a request breaks, so one refusal lists them all (never empty)."""

    def __init__(self, broken: Iterable[RuleBroken]) -> None:
        self.broken: list[RuleBroken] = list(broken)
        if not self.broken:
            raise ValueError("RulesBroken names at least one rule")
        super().__init__("; ".join(str(rule) for rule in self.broken))

    @property
    def rule_ids(self) -> list[str]:
        return [rule.rule_id for rule in self.broken]


class InvalidTransition(RuleError):
    """A lifecycle step asked in a status that does not allow it; names the status and what it allows."""

    def __init__(
        self, *, current: str, wanted: str, allowed: Iterable[str] = (), rule_id: str | None = None
    ) -> None:
        self.current = current
        self.wanted = wanted
        self.allowed = tuple(allowed)
        self.rule_id = rule_id
        allowed_text = ", ".join(self.allowed) if self.allowed else "nothing"
        super().__init__(f"cannot {wanted} while {current}; allowed now: {allowed_text}")


class NotFound(RuleError):
    """What was asked for does not exist (or is not visible to the caller)."""


class Conflict(RuleError):
    """The request contradicts the current state (a duplicate, a resource already in use…)."""

    def __init__(self, message: str, *, rule_id: str | None = None) -> None:
        super().__init__(message)
        self.rule_id = rule_id


@dataclass
class Checks:
    """Accumulates broken rules; `raise_if_any` raises them together as one `RulesBroken`."""

    broken: list[RuleBroken] = field(default_factory=list)

    def fail(self, rule_id: str, message: str, *, field: str | None = None) -> None:
        self.broken.append(RuleBroken(rule_id, message, field=field))

    def extend(self, other: Checks | Iterable[RuleBroken]) -> None:
        self.broken.extend(other.broken if isinstance(other, Checks) else other)

    def broken_ids(self) -> list[str]:
        return [rule.rule_id for rule in self.broken]

    def __bool__(self) -> bool:
        return bool(self.broken)

    def raise_if_any(self) -> None:
        if self.broken:
            raise RulesBroken(self.broken)
