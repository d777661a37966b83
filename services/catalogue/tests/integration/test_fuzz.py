"""A property-based fuzzer on the catalogue's own OpenAPI (schemathesis): valid and invalid requests for every
operation, a bounded number each, through the real app on PostgreSQL. No answer may be a 5xx, and every error
is a problem document with a status the OpenAPI declares for that operation (issue 8)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

import schemathesis
from catalogue.app import create_app
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES_PER_OPERATION = 25
SKIPPED = {"GET /readyz", "GET /healthz"}
"""servicekit's, checked there."""


def _cases(schema: Any, mode: GenerationMode) -> list[Any]:
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            database=None,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def collect(case: Any) -> None:
            cases.append(case)

        try:
            collect()
        except Unsatisfiable:
            continue  # nothing to make invalid (no parameter, no body)
    return cases


async def test_no_request_makes_a_5xx_and_every_error_is_a_declared_problem(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    owner = await catalogue.accredited(siret())
    offer = await catalogue.offer(owner)
    session = (await catalogue.add_session(offer["id"], owner, start=date(2027, 3, 15))).json()
    agrement_id = (await catalogue.client.get(f"/v1/organismes/{owner}")).json()["agrements"][0]["id"]
    real = {"siret": owner, "offer_id": offer["id"], "session_id": session["id"], "agrement_id": agrement_id}
    document = create_app(catalogue.settings).openapi()
    schema = schemathesis.openapi.from_dict(document)
    callers = [catalogue.agent(), catalogue.organisme(owner), {}]
    chance = random.Random(7)
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for case in _cases(schema, mode):
            if case.path_parameters and chance.random() < 0.5:
                # Half the time on existing resources, so the deep paths are reached too.
                case.path_parameters = {**case.path_parameters, **{k: real[k] for k in case.path_parameters}}
            if isinstance(case.body, dict) and "siret" in case.body and chance.random() < 0.5:
                # A SIRET that exists (an offer's seller) or a new valid one (a registration): past the
                # Luhn key and the ownership check, the other fields reach the rules and the database.
                fresh = case.operation.path == "/v1/organismes"
                case.body = {**case.body, "siret": siret() if fresh else owner}
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
            headers.update(chance.choice(callers))
            response = await catalogue.client.request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers=headers,
                json=kwargs.get("json"),
                content=kwargs.get("data") if isinstance(kwargs.get("data"), bytes | str) else None,
            )
            label = (
                f"{case.operation.label} [{mode.value}] {case.path_parameters} {case.query} {case.body!r}"[
                    :300
                ]
            )
            status = response.status_code
            declared = document["paths"][case.operation.path][case.method.lower()]["responses"]
            if status >= 500:
                failures.append(f"{status} {label}")
            elif status >= 400 and (
                str(status) not in declared
                or not response.headers["content-type"].startswith("application/problem+json")
            ):
                failures.append(f"undeclared or not a problem: {status} {label}")
    assert not failures, "\n".join(failures)
