"""Settings of the rights-ledger, read from ``LEDGER_*`` variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.settings import KitSettings

_DEV_NIR_HMAC_KEY = "rights-ledger-dev-only-nir-key"


class Settings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    service_name: str = "rights-ledger"
    port: int = 8001
    nir_hmac_key: SecretStr | None = Field(
        default=None,
        description="R-REG-3: secret key of the NIR's HMAC; required in production, a dev key otherwise.",
    )
    campaign_chunk_elus: int = 50_000
    campaign_workers: int = Field(default=2, ge=1, description="Chunks of a campaign credited concurrently.")

    @model_validator(mode="after")
    def _production_has_a_nir_key(self) -> Settings:
        if self.environment == "prod" and self.nir_hmac_key is None:
            raise ValueError("LEDGER_NIR_HMAC_KEY is required in production (R-REG-3)")
        return self

    @property
    def nir_key_bytes(self) -> bytes:
        secret = self.nir_hmac_key.get_secret_value() if self.nir_hmac_key else _DEV_NIR_HMAC_KEY
        return secret.encode()
