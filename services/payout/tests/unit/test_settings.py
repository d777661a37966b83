"""The fund's account and the IBAN sealing key: development defaults that production refuses (R-PAY-3)."""

from __future__ import annotations

import pytest
from payout.settings import DEV_FUND_BIC, DEV_FUND_IBAN, Settings

URL = "postgresql+asyncpg://u@localhost/payout"
PROD = {"database_url": URL, "environment": "prod", "jwt_jwks_url": "https://idp/jwks"}
OWN_KEY = "cHJvZC1wYXlvdXQtaWJhbi1rZXktMzItYnl0ZXMtLS0="
OWN_ACCOUNT = {"fund_iban": "FR76 3000 6000 0112 3456 7890 189", "fund_bic": "AGRIFRPP"}


def test_development_runs_on_the_dev_fund_account() -> None:
    settings = Settings(database_url=URL)
    assert (settings.fund_iban, settings.fund_bic) == (DEV_FUND_IBAN, DEV_FUND_BIC)


def test_production_runs_with_its_own_key_and_account_kept_compact() -> None:
    settings = Settings(**PROD, iban_key=OWN_KEY, **OWN_ACCOUNT)
    assert (settings.fund_iban, settings.fund_bic) == ("FR7630006000011234567890189", "AGRIFRPP")


def test_production_refuses_the_dev_iban_key() -> None:
    with pytest.raises(ValueError, match="PAYOUT_IBAN_KEY must be set"):
        Settings(**PROD, **OWN_ACCOUNT)


@pytest.mark.parametrize("dev_field", ["fund_iban", "fund_bic"])
def test_production_refuses_the_dev_fund_account(dev_field: str) -> None:
    account = OWN_ACCOUNT | {dev_field: {"fund_iban": DEV_FUND_IBAN, "fund_bic": DEV_FUND_BIC}[dev_field]}
    with pytest.raises(ValueError, match="PAYOUT_FUND_IBAN and PAYOUT_FUND_BIC must be set"):
        Settings(**PROD, iban_key=OWN_KEY, **account)


def test_a_fund_iban_with_wrong_check_digits_is_refused_at_start_R_PAY_3() -> None:
    with pytest.raises(ValueError, match="PAYOUT_FUND_IBAN: R-PAY-3"):
        Settings(database_url=URL, fund_iban="FR7730006000011234567890189")


def test_a_malformed_fund_bic_is_refused_at_start_R_PAY_3() -> None:
    with pytest.raises(ValueError, match="PAYOUT_FUND_BIC: R-PAY-3"):
        Settings(database_url=URL, fund_bic="CDCG")
