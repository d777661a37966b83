"""Set-based writes to servicekit's outbox: one event per row of a query, built by PostgreSQL itself.

``servicekit.outbox.enqueue_many`` builds one pydantic model per event in Python; for half a million
events that costs more than the whole merge. Here the payload is a ``json`` column of the query, the
envelope columns are the ones ``enqueue`` writes, and the integration tests parse every such event back
with its contract model. Generic: meant to move into servicekit.
"""

from __future__ import annotations

from typing import Any

from dife_contracts import Event
from servicekit.tracing import current_traceparent

OUTBOX_PARAMS = ("ob_topic", "ob_ce_type", "ob_source", "ob_traceparent")


def outbox_insert(rows_sql: str) -> str:
    """An ``INSERT INTO outbox`` of one event per row of ``rows_sql``, which yields ``subject`` (the
    aggregate id, as text) and ``payload`` (json or jsonb). Usable as a data-modifying CTE; bind
    :func:`outbox_params`."""
    return (
        "INSERT INTO outbox (topic, ce_id, ce_type, ce_source, ce_subject, ce_time, traceparent, payload) "
        "SELECT CAST(:ob_topic AS text), gen_random_uuid(), CAST(:ob_ce_type AS text), "
        "CAST(:ob_source AS text), "
        "e.subject, now(), CAST(:ob_traceparent AS text), convert_to(e.payload::text, 'UTF8') "
        f"FROM ({rows_sql}) e"
    )


def outbox_params(event_type: type[Event], *, source: str) -> dict[str, Any]:
    return {
        "ob_topic": event_type.topic,
        "ob_ce_type": event_type.ce_type,
        "ob_source": source,
        "ob_traceparent": current_traceparent.get(),
    }
