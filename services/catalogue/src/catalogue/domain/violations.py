"""Collecting every broken rule before answering, so one refusal lists them all."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Broken:
    """One rule of DOMAIN.md that a request breaks, with the reason in words."""

    rule: str
    detail: str


class RulesBroken(Exception):
    """Raised by the domain with every rule a request breaks; the API turns it into one 422 problem."""

    def __init__(self, broken: list[Broken]) -> None:
        self.broken = list(broken)
        super().__init__("; ".join(f"{b.rule}: {b.detail}" for b in self.broken))

    @property
    def rule_ids(self) -> list[str]:
        return [b.rule for b in self.broken]


@dataclass
class Checks:
    """Accumulates broken rules; ``raise_if_any`` raises them together."""

    broken: list[Broken] = field(default_factory=list)

    def fail(self, rule: str, detail: str) -> None:
        self.broken.append(Broken(rule, detail))

    def extend(self, other: Checks) -> None:
        self.broken.extend(other.broken)

    def broken_ids(self) -> list[str]:
        return [b.rule for b in self.broken]

    def raise_if_any(self) -> None:
        if self.broken:
            raise RulesBroken(self.broken)


class InvalidTransition(Exception):
    """A lifecycle step asked in a state that does not allow it (the API answers 409)."""
