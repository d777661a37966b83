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
    import_max_rejected_share: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="R-REG-1: an RNE file with more rejected lines than this share is refused unless forced.",
    )
    import_max_ended_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="R-REG-2: a snapshot ending more than this share of its type's open mandates is refused "
        "unless forced.",
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
