"""Until servicekit maps `servicekit.rules` errors itself (announced in the brief), render them here the
way it will: RuleBroken/RulesBroken → 422 listing the rules, Conflict/InvalidTransition → 409, NotFound → 404.
Installed only when servicekit has no handler for them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from servicekit.errors import PROBLEM_MEDIA_TYPE, problem_type
from servicekit.rules import Conflict, InvalidTransition, NotFound, RuleBroken, RuleError, RulesBroken
from starlette.responses import JSONResponse


def _problem(
    request: Request, status: int, slug: str, title: str, detail: str, rules: list[RuleBroken]
) -> JSONResponse:
    body: dict[str, object] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if rules:
        body["rules"] = [{"id": r.rule_id, "detail": r.message, "field": r.field} for r in rules]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


async def _rule_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RulesBroken):
        return _problem(
            request, 422, "rule-violation", "Business rule violated", exc.broken[0].message, exc.broken
        )
    if isinstance(exc, RuleBroken):
        return _problem(request, 422, "rule-violation", "Business rule violated", exc.message, [exc])
    if isinstance(exc, NotFound):
        return _problem(request, 404, "not-found", "Resource not found", str(exc), [])
    if isinstance(exc, Conflict | InvalidTransition):
        return _problem(request, 409, "conflict", "Conflict with the current state", str(exc), [])
    return _problem(request, 422, "rule-violation", "Business rule violated", str(exc), [])


def install_if_missing(app: FastAPI) -> None:
    if RuleError not in app.exception_handlers:
        app.add_exception_handler(RuleError, _rule_error)
