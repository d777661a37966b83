"""TEMPORARY until servicekit maps `servicekit.rules` errors itself (landing on main): removed after merge."""

from __future__ import annotations

from fastapi import FastAPI, Request
from servicekit import rules
from servicekit.errors import ProblemResponse


async def _handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, rules.RuleError)
    if isinstance(exc, rules.RulesBroken | rules.RuleBroken):
        broken = exc.broken if isinstance(exc, rules.RulesBroken) else [exc]
        body = {
            "status": 422,
            "detail": "; ".join(str(rule) for rule in broken),
            "rules": [{"id": r.rule_id, "detail": r.message, "field": r.field} for r in broken],
        }
    elif isinstance(exc, rules.NotFound):
        body = {"status": 404, "detail": exc.message}
    else:
        body = {"status": 409, "detail": exc.message}
    return ProblemResponse(body, status_code=int(body["status"]))  # type: ignore[call-overload]


def install(app: FastAPI) -> None:
    app.add_exception_handler(rules.RuleError, _handler)
