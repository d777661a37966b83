"""The payment provider's signed notifications (R-FUN-4): no bearer token, the HMAC signature is the proof."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from servicekit.errors import DomainError, Unauthorized, problem_responses, problem_type
from servicekit.rules import RuleBroken

from funding.api.deps import FundingDep, StateDep
from funding.api.schemas import PspAck, PspNotificationIn
from funding.domain.card import SignatureCheck, check_signature
from funding.use_cases.card import Notification, card_notification

router = APIRouter(prefix="/v1/psp", tags=["payment provider"])

SIGNATURE_HEADER = "Signature"
MAX_NOTIFICATION_BYTES = 64 * 1024


class StaleNotification(DomainError):
    status = 400
    type = problem_type("stale-notification")
    title = "Notification too old"


class NotificationTooLarge(DomainError):
    status = 413
    type = problem_type("payload-too-large")
    title = "Payload too large"


@router.post(
    "/notifications",
    response_model=PspAck,
    summary="The provider confirms a card payment (Signature: t=<unix>,v1=<hex HMAC-SHA256 of `t.` + body>)",
    responses=problem_responses(400, 401, 404, 413, 422),
)
async def post_notification(request: Request, funding: FundingDep, state: StateDep) -> PspAck:
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationTooLarge(f"a notification is at most {MAX_NOTIFICATION_BYTES} bytes")
    check = check_signature(
        request.headers.get(SIGNATURE_HEADER),
        body,
        state.psp_secrets,
        int(funding.clock.now().timestamp()),
    )
    if check in (SignatureCheck.MALFORMED, SignatureCheck.BAD_SIGNATURE):
        raise Unauthorized("the notification's signature does not verify (R-FUN-4)")
    if check is SignatureCheck.STALE:
        raise StaleNotification("the notification's timestamp is more than 5 minutes away (R-FUN-4)")
    try:
        notification = PspNotificationIn.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise RuleBroken("R-FUN-4", f"not a payment notification: {first['msg']}", field=field) from error
    applied = await card_notification(
        funding,
        Notification(
            notification_id=notification.id,
            intent_id=notification.intent_id,
            amount_cents=notification.amount_cents,
            provider_reference=notification.provider_reference,
        ),
    )
    return PspAck(received=True, replayed=not applied)
