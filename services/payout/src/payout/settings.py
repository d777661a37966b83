"""Settings of payout, from ``PAYOUT_*`` environment variables."""

from __future__ import annotations

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.settings import KitSettings

DEV_IBAN_KEY = "ZGV2LW9ubHktcGF5b3V0LWliYW4ta2V5LTMyLWJ5dGU="
"""A fixed key for development and tests only; production refuses to start with it."""


class Settings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="PAYOUT_", extra="ignore")

    service_name: str = "payout"
    port: int = 8006

    iban_key: SecretStr = SecretStr(DEV_IBAN_KEY)
    """AES-256 key (32 bytes, base64) sealing IBANs and SEPA files at rest."""

    fund_name: str = "Caisse des Depots - Fonds DIFE"
    fund_iban: str = "FR7640031000000000000129449"
    fund_bic: str = "CDCGFRPPXXX"
    """The debtor of every transfer: the fund's account."""

    batch_max_payments: int = 50_000
    batch_hour_paris: int = 6
    """The daily batch is built and released at this hour (Europe/Paris)."""
    batch_job_enabled: bool = True

    @model_validator(mode="after")
    def _production_has_its_own_key(self) -> Settings:
        if self.environment == "prod" and self.iban_key.get_secret_value() == DEV_IBAN_KEY:
            raise ValueError("PAYOUT_IBAN_KEY must be set in production")
        return self
