"""The payment provider's signed notification (R-FUN-4): `Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 over
`t.` + the raw body, as the major providers do. Two secrets may be valid at once (rotation)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

from funding.domain.policy import PSP_TOLERANCE_S


class SignatureCheck(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a provider sends (also used by the local provider, `funding.psp_dev`)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_signature(
    header: str | None, body: bytes, secrets: Sequence[str], now_unix: int, tolerance_s: int = PSP_TOLERANCE_S
) -> SignatureCheck:
    """R-FUN-4: valid if any `v1` matches any secret (constant-time), then fresh within `tolerance_s`.
    The signature is checked before the age, so an unsigned caller learns nothing about the clock."""
    if not header:
        return SignatureCheck.MALFORMED
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return SignatureCheck.MALFORMED
    expected = [sign(secret, timestamp, body).split("v1=", 1)[1] for secret in secrets if secret]
    if not any(hmac.compare_digest(c.encode(), e.encode()) for c in candidates for e in expected):
        return SignatureCheck.BAD_SIGNATURE
    if abs(now_unix - timestamp) > tolerance_s:
        return SignatureCheck.STALE
    return SignatureCheck.VALID
