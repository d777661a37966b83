"""Collectivités, their calendars, declarations and payments (R-CON-1…4)."""

from __future__ import annotations

from typing import Annotated, Any

from dife_contracts.enums import Role
from dife_contracts.values import Period
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent

from contributions.adapters.csv_files import parse_declaration_csv
from contributions.api.common import (
    OutboxDep,
    RepositoryDep,
    StateDep,
    UnsupportedMediaType,
    bounded_body,
    media_type,
)
from contributions.api.schemas import (
    CalendarOut,
    CollectiviteIn,
    CollectiviteOut,
    CollectivitesImportOut,
    DeclarationIn,
    DeclarationOut,
    DeclarationVersionOut,
    LineProblemOut,
    PaymentIn,
    PaymentOut,
    PeriodOut,
)
from contributions.use_cases.collectivites import collectivite_of, import_collectivites, register_collectivite
from contributions.use_cases.declarations import declaration_history, submit_declaration
from contributions.use_cases.payments import record_payment
from contributions.use_cases.periods import calendar

router = APIRouter(prefix="/v1/collectivites", tags=["collectivités"])

AgentOnly = Annotated[Principal, Depends(require_roles(Role.AGENT))]
Declarant = Annotated[Principal, Depends(require_roles(Role.COLLECTIVITE, Role.AGENT))]
Reader = Annotated[Principal, Depends(require_roles(Role.COLLECTIVITE, Role.AGENT, Role.OPS))]

CSV_BODY = {"text/csv": {"schema": {"type": "string", "format": "binary"}}}


def declaration_body_schemas() -> dict[str, Any]:
    """`DeclarationIn` and the models it uses, for the OpenAPI components: the declaration endpoint reads its
    body itself (JSON or CSV), so FastAPI does not find the model on its own."""
    schema = DeclarationIn.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {"DeclarationIn": schema, **definitions}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectiviteOut,
    responses=problem_responses(409, 422),
    summary="Register a collectivité (agent); syndicats are recorded but not subject (R-CON-1)",
)
async def register(
    body: CollectiviteIn,
    request: Request,
    session: SessionDep,
    principal: AgentOnly,
    repository: RepositoryDep,
    state: StateDep,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        created = await register_collectivite(repository, body.to_domain(state.clock.today()))
        return 201, CollectiviteOut.of(created)

    return await idempotent(session, request, principal, compute)


@router.post(
    "/import",
    response_model=CollectivitesImportOut,
    responses=problem_responses(413, 415, 422),
    openapi_extra={"requestBody": {"required": True, "content": CSV_BODY}},
    summary="Register or update collectivités from a CSV list `siren;nom;type;cotisation_annuelle_cents` "
    "(agent); bad rows are reported with their line number, good rows load",
)
async def import_list(
    request: Request, session: SessionDep, principal: AgentOnly, repository: RepositoryDep, state: StateDep
) -> JSONResponse:
    if media_type(request) != "text/csv":
        raise UnsupportedMediaType("send the list as text/csv")
    content = await bounded_body(request, state.max_upload_bytes)

    async def compute() -> tuple[int, Any]:
        result = await import_collectivites(repository, content, state.clock.today())
        problems = [LineProblemOut(line=p.number, reason=p.reason) for p in result.problems]
        return 200, CollectivitesImportOut(loaded=result.loaded, problems=problems)

    return await idempotent(session, request, principal, compute)


@router.get("/{siren}", response_model=CollectiviteOut, responses=problem_responses(403, 404))
async def read(siren: str, principal: Reader, repository: RepositoryDep) -> CollectiviteOut:
    principal.ensure_siren(siren)
    return CollectiviteOut.of(await collectivite_of(repository, siren))


@router.get(
    "/{siren}/periods",
    response_model=CalendarOut,
    responses=problem_responses(403, 404),
    summary="The collectivité's calendar of a year: periods, due dates, RF references, statuses (R-CON-3/4)",
)
async def periods_of(
    siren: str,
    principal: Reader,
    repository: RepositoryDep,
    state: StateDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Default: this year")] = None,
) -> CalendarOut:
    principal.ensure_siren(siren)
    collectivite = await collectivite_of(repository, siren)
    today = state.clock.today()
    wanted = year or today.year
    periodicity, entries = await calendar(repository, collectivite, wanted, state.policy, today)
    return CalendarOut(
        siren=siren,
        year=wanted,
        periodicity=periodicity,
        periods=[PeriodOut.of_entry(siren, entry) for entry in entries],
    )


def _declaration_json(content: bytes) -> DeclarationIn:
    try:
        return DeclarationIn.model_validate_json(content)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False, include_input=False)]
        ) from error


@router.post(
    "/{siren}/declarations",
    status_code=status.HTTP_201_CREATED,
    response_model=DeclarationOut,
    responses=problem_responses(403, 404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/DeclarationIn"}},
                **CSV_BODY,
            },
        }
    },
    summary="Declare a period (the collectivité itself, or an agent), as JSON or as the payroll tool's CSV "
    "(one line per élu and month); a new declaration of the same period replaces the previous one (R-CON-4)",
    description="CSV header: `nom;prenoms;date_naissance;elu_id;mois;indemnite_brute_cents` (`,` also "
    "accepted; `elu_id` or the three identity columns); the period is the `period` query parameter. "
    "A declaration with any bad line is NOT recorded: the 422 lists every bad line with its number.",
)
async def declare_period(
    siren: str,
    request: Request,
    session: SessionDep,
    principal: Declarant,
    repository: RepositoryDep,
    outbox: OutboxDep,
    state: StateDep,
    period: Annotated[Period | None, Query(description="The period, for a CSV body")] = None,
) -> JSONResponse:
    principal.ensure_siren(siren)  # acting only with the granted role: a collectivité+ops token gains nothing
    kind = media_type(request)
    content = await bounded_body(request, state.max_upload_bytes)
    if kind == "application/json":
        parsed = _declaration_json(content)
        period_text = parsed.period
        lines = [line.to_domain(number) for number, line in enumerate(parsed.lines, start=1)]
        unreadable = []
    elif kind == "text/csv":
        if period is None:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "period"),
                        "msg": "the period is required with a CSV body",
                        "type": "missing",
                    }
                ]
            )
        period_text = period
        csv_declaration = parse_declaration_csv(content)
        lines, unreadable = csv_declaration.lines, csv_declaration.problems
    else:
        raise UnsupportedMediaType("send the declaration as application/json or text/csv")

    async def compute() -> tuple[int, Any]:
        declaration = await submit_declaration(
            repository,
            outbox,
            siren=siren,
            period_text=period_text,
            lines=lines,
            unreadable=unreadable,
            received_by=principal.sub,
            now=state.clock.now(),
            policy=state.policy,
        )
        return 201, DeclarationOut.of(declaration)

    return await idempotent(session, request, principal, compute)


@router.get(
    "/{siren}/declarations",
    response_model=list[DeclarationVersionOut],
    responses=problem_responses(403, 404),
    summary="Every version of the collectivité's declarations, the current one flagged (R-CON-4)",
)
async def declarations_of(
    siren: str,
    principal: Reader,
    repository: RepositoryDep,
    period: Annotated[Period | None, Query()] = None,
) -> list[DeclarationVersionOut]:
    principal.ensure_siren(siren)
    return DeclarationVersionOut.all_of(await declaration_history(repository, siren, period))


@router.post(
    "/{siren}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses=problem_responses(404, 409, 422),
    summary="Record a payment for a period (agent)",
)
async def pay(
    siren: str,
    body: PaymentIn,
    request: Request,
    session: SessionDep,
    principal: AgentOnly,
    repository: RepositoryDep,
    outbox: OutboxDep,
    state: StateDep,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        payment, account = await record_payment(
            repository,
            outbox,
            siren=siren,
            period_text=body.period,
            amount_cents=body.amount_cents,
            received_on=body.received_on,
            today=state.clock.today(),
            policy=state.policy,
        )
        return 201, PaymentOut(id=payment.id, period=PeriodOut.of_account(account))

    return await idempotent(session, request, principal, compute)
