"""Play the payment provider locally (R-FUN-4): sign a notification the way the provider does and send it.

    python -m funding.psp_dev confirm --intent-id <uuid> --amount-cents 4000
    python -m funding.psp_dev sign --body '{"id": "evt_1", ...}'        # prints the Signature header only

The secret defaults to the first of FUNDING_PSP_SECRETS (JSON list), else the development secret.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid

from servicekit.clock import SystemClock

from funding.domain.card import sign
from funding.settings import PspSettings


def _secret(given: str | None) -> str:
    return given or PspSettings().psp_secret_values[0]


def _notification(intent_id: str, amount_cents: int, notification_id: str | None) -> bytes:
    body = {
        "id": notification_id or f"evt_{uuid.uuid4().hex[:16]}",
        "type": "payment.succeeded",
        "intent_id": intent_id,
        "amount_cents": amount_cents,
        "provider_reference": f"pi_dev_{uuid.uuid4().hex[:12]}",
    }
    return json.dumps(body).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m funding.psp_dev", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    confirm = commands.add_parser("confirm", help="send a signed payment.succeeded notification")
    confirm.add_argument("--intent-id", required=True)
    confirm.add_argument("--amount-cents", type=int, required=True)
    confirm.add_argument("--id", dest="notification_id", help="notification id (reuse it to play a replay)")
    confirm.add_argument("--url", default="http://127.0.0.1:8004")
    confirm.add_argument("--secret")
    confirm.add_argument("--age-s", type=int, default=0, help="sign as if sent this many seconds ago")
    signer = commands.add_parser("sign", help="print the Signature header of a body")
    signer.add_argument("--body", required=True)
    signer.add_argument("--secret")
    args = parser.parse_args(argv)

    if args.command == "sign":
        print(sign(_secret(args.secret), int(SystemClock().now().timestamp()), args.body.encode()))
        return 0
    body = _notification(args.intent_id, args.amount_cents, args.notification_id)
    header = sign(_secret(args.secret), int(SystemClock().now().timestamp()) - args.age_s, body)
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/v1/psp/notifications",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Signature": header},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode(), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"funding is not reachable at {args.url}: {error.reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
