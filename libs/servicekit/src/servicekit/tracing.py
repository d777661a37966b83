"""The W3C ``traceparent`` of the work in progress, so events written while serving a request or handling an
event carry the trace of their cause."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
