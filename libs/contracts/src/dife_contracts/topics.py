"""Logical Kafka topics: one per producing context (DESIGN.md, Events).

Services may prefix these names per environment (servicekit's `topic_prefix`); the logical name is the
contract.
"""

from typing import Final

LEDGER: Final = "dife.ledger.events"
CATALOGUE: Final = "dife.catalogue.events"
DOSSIER: Final = "dife.dossier.events"
"""The public topic that integrators consume."""
FUNDING: Final = "dife.funding.events"
CONTRIBUTIONS: Final = "dife.contributions.events"
PAYOUT: Final = "dife.payout.events"

ALL_TOPICS: Final = (LEDGER, CATALOGUE, DOSSIER, FUNDING, CONTRIBUTIONS, PAYOUT)

DEAD_LETTER_SUFFIX: Final = ".dlt"

SOURCES: Final = {
    LEDGER: "/dife/rights-ledger",
    CATALOGUE: "/dife/catalogue",
    DOSSIER: "/dife/dossier",
    FUNDING: "/dife/funding",
    CONTRIBUTIONS: "/dife/contributions",
    PAYOUT: "/dife/payout",
}
"""The CloudEvents `source` of the one service that owns each topic: a consumer trusts an event only when it
arrives on its type's topic with this source (anything else is dead-lettered)."""


def source_of(topic: str) -> str:
    """The `ce_source` the owner of `topic` stamps on its events."""
    return SOURCES[topic]


def dead_letter(topic: str) -> str:
    """Name of the topic where a consumer parks the poison events it read from `topic`."""
    return topic + DEAD_LETTER_SUFFIX


def context_of(topic: str) -> str:
    """The bounded context that produces on `topic`: `dife.ledger.events` → `ledger`."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != "dife" or parts[2] != "events" or not parts[1]:
        raise ValueError(f"not a DIFE events topic: {topic!r}")
    return parts[1]
