"""Settings of funding, read from ``FUNDING_*`` variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from servicekit.settings import KitSettings

from funding.domain.policy import MAX_HOLD_ATTEMPTS, ConsumedExitPolicy, SettlementPolicy

_DEV_PSP_SECRET = "funding-dev-only-psp-secret"


class PspSettings(BaseSettings):
    """The payment provider's secrets alone, so `psp_dev` can sign without the service's other settings."""

    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore")

    psp_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="R-FUN-4: shared secrets of the payment provider's signatures; two during a rotation "
        "(JSON list in FUNDING_PSP_SECRETS). Required in production; a dev secret otherwise.",
    )

    @property
    def psp_secret_values(self) -> list[str]:
        return [secret.get_secret_value() for secret in self.psp_secrets] or [_DEV_PSP_SECRET]


class Settings(KitSettings, PspSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "funding"
    port: int = 8004
    consumed_exit_policy: ConsumedExitPolicy = Field(
        default_factory=ConsumedExitPolicy,
        description="R-DOS-5 (policy): what a late cancellation or no-show does to the top-up and card lines "
        "(FUNDING_CONSUMED_EXIT_POLICY__COFUNDING=release|consume, …__CARD=refund|keep). The one place.",
    )
    settlement_policy: SettlementPolicy = Field(
        default_factory=SettlementPolicy,
        description="R-PAY-2 (policy): what happens to the part of a top-up the service did not use once "
        "payout orders the payment (FUNDING_SETTLEMENT_POLICY__UNUSED_TOPUP=return|keep). The one place.",
    )
    max_hold_attempts: int = Field(default=MAX_HOLD_ATTEMPTS, ge=1, le=10)

    @model_validator(mode="after")
    def _production_has_psp_secrets(self) -> Settings:
        if self.environment == "prod" and not self.psp_secrets:
            raise ValueError("FUNDING_PSP_SECRETS is required in production (R-FUN-4)")
        if len(self.psp_secrets) > 2:
            raise ValueError("at most two PSP secrets at once: the current one and the one being retired")
        return self
