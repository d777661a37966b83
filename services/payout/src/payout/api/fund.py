"""The fund's position (DOMAIN.md §6), in JSON or CSV, for agents and ops."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from servicekit.api import SessionDep
from servicekit.errors import problem_responses

from payout.adapters.repository import FundRepository
from payout.api.common import AgentOrOps, StateDep
from payout.domain.fund import Flows, FundPosition
from payout.use_cases import fund

router = APIRouter(prefix="/v1/fund", tags=["fund"])


class FlowsOut(BaseModel):
    start: date
    end: date
    contributions_received_cents: int
    trainings_paid_cents: int
    balance_cents: int

    @classmethod
    def of(cls, flows: Flows) -> FlowsOut:
        return cls(
            start=flows.start,
            end=flows.end,
            contributions_received_cents=flows.contributions_received_cents,
            trainings_paid_cents=flows.trainings_paid_cents,
            balance_cents=flows.balance_cents,
        )


class PositionOut(BaseModel):
    period: FlowsOut
    rolling_3_years: FlowsOut
    dife_committed_cents: int

    @classmethod
    def of(cls, position: FundPosition) -> PositionOut:
        return cls(
            period=FlowsOut.of(position.period),
            rolling_3_years=FlowsOut.of(position.rolling),
            dife_committed_cents=position.dife_committed_cents,
        )


CSV_HEADER = ("view", "start", "end", "contributions_received_cents", "trainings_paid_cents", "balance_cents")


def _csv(position: PositionOut) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow([*CSV_HEADER, "dife_committed_cents"])
    for view, flows in (("period", position.period), ("rolling_3_years", position.rolling_3_years)):
        writer.writerow(
            [
                view,
                flows.start.isoformat(),
                flows.end.isoformat(),
                flows.contributions_received_cents,
                flows.trainings_paid_cents,
                flows.balance_cents,
                position.dife_committed_cents,
            ]
        )
    return out.getvalue()


@router.get(
    "/position",
    response_model=PositionOut,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 403, 422)},
    summary="Contributions received, trainings paid, DIFE committed; with the rolling 3-year view",
)
async def position(
    session: SessionDep,
    state: StateDep,
    principal: AgentOrOps,
    from_: Annotated[date, Query(alias="from", description="First day, included")],
    to: Annotated[date, Query(description="Last day, included")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> PositionOut | Response:
    out = PositionOut.of(await fund.position(FundRepository(session), start=from_, end=to))
    if format == "csv":
        return Response(
            _csv(out),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="fund-position-{from_}-{to}.csv"'},
        )
    return out
