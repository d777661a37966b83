"""Logical topics: one per producing context, and a dead-letter topic beside each."""

import pytest
from dife_contracts import topics


def test_there_is_one_topic_per_producing_context() -> None:
    assert topics.ALL_TOPICS == (
        "dife.ledger.events",
        "dife.catalogue.events",
        "dife.dossier.events",
        "dife.funding.events",
        "dife.contributions.events",
        "dife.payout.events",
    )
    assert (topics.LEDGER, topics.DOSSIER, topics.PAYOUT) == (
        "dife.ledger.events",
        "dife.dossier.events",
        "dife.payout.events",
    )


def test_poison_events_go_to_the_topic_name_plus_dlt() -> None:
    assert topics.dead_letter(topics.FUNDING) == "dife.funding.events.dlt"


def test_the_context_is_read_from_the_topic_name() -> None:
    assert [topics.context_of(topic) for topic in topics.ALL_TOPICS] == [
        "ledger",
        "catalogue",
        "dossier",
        "funding",
        "contributions",
        "payout",
    ]


@pytest.mark.parametrize("name", ["dife.ledger.events.dlt", "other.ledger.events", "dife..events", "ledger"])
def test_a_name_that_is_not_a_dife_events_topic_has_no_context(name: str) -> None:
    with pytest.raises(ValueError):
        topics.context_of(name)
