"""The local provider signs exactly as the service verifies (R-FUN-4)."""

from __future__ import annotations

import time

import pytest
from funding import psp_dev
from funding.domain.card import SignatureCheck, check_signature


def test_the_dev_provider_signature_verifies_with_the_services_secret_R_FUN_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert psp_dev.main(["sign", "--body", '{"id":"evt_1"}', "--secret", "s3cret"]) == 0
    header = capsys.readouterr().out.strip()
    now = int(time.time())
    assert check_signature(header, b'{"id":"evt_1"}', ["s3cret"], now) is SignatureCheck.VALID
