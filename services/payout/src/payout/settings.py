"""Settings of payout, from ``PAYOUT_*`` environment variables."""

from __future__ import annotations

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.rules import RuleBroken
from servicekit.settings import KitSettings

from payout.domain.payees import checked_bic, checked_iban

DEV_IBAN_KEY = "ZGV2LW9ubHktcGF5b3V0LWliYW4ta2V5LTMyLWJ5dGU="
"""A fixed key for development and tests only; production refuses to start with it."""
DEV_FUND_IBAN = "FR7640031000000000000129449"
DEV_FUND_BIC = "CDCGFRPP"
"""The fund's account in development and tests (a valid IBAN, not a real account; the Caisse des dépôts'
BIC); production refuses to start with it and takes the real one from its Secret."""


class Settings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="PAYOUT_", extra="ignore")

    service_name: str = "payout"
    port: int = 8006

    iban_key: SecretStr = SecretStr(DEV_IBAN_KEY)
    """AES-256 key (32 bytes, base64) sealing IBANs and SEPA files at rest."""

    fund_name: str = "Caisse des Depots - Fonds DIFE"
    fund_iban: str = DEV_FUND_IBAN
    fund_bic: str = DEV_FUND_BIC
    """The debtor of every transfer: the fund's account (R-PAY-3 checks it like a payee's)."""

    batch_max_payments: int = 50_000
    batch_hour_paris: int = 6
    """The daily batch is built and released at this hour (Europe/Paris)."""
    batch_job_enabled: bool = True

    @field_validator("fund_iban")
    @classmethod
    def _fund_iban_is_valid(cls, iban: str) -> str:
        try:
            return checked_iban(iban)
        except RuleBroken as broken:
            raise ValueError(f"PAYOUT_FUND_IBAN: {broken}") from None

    @field_validator("fund_bic")
    @classmethod
    def _fund_bic_is_valid(cls, bic: str) -> str:
        try:
            return checked_bic(bic)
        except RuleBroken as broken:
            raise ValueError(f"PAYOUT_FUND_BIC: {broken}") from None

    @model_validator(mode="after")
    def _production_has_its_own_key_and_account(self) -> Settings:
        if self.environment != "prod":
            return self
        if self.iban_key.get_secret_value() == DEV_IBAN_KEY:
            raise ValueError("PAYOUT_IBAN_KEY must be set in production")
        if self.fund_iban == DEV_FUND_IBAN or self.fund_bic == DEV_FUND_BIC:
            raise ValueError("PAYOUT_FUND_IBAN and PAYOUT_FUND_BIC must be set in production")
        return self
