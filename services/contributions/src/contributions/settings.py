"""Settings of the contributions service, from ``CONTRIBUTIONS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import KitSettings

from contributions.domain.policy import ContributionPolicy


class Settings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRIBUTIONS_", extra="ignore")

    service_name: str = "contributions"
    port: int = 8005
    yearly_due_month: int = Field(
        default=1, ge=1, le=12, description="R-CON-3 policy: yearly periods' due month"
    )
    yearly_due_day: int = Field(
        default=15, ge=1, le=28, description="R-CON-3 policy: yearly periods' due day"
    )
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, description="Largest CSV or camt.053 accepted")

    def policy(self) -> ContributionPolicy:
        """The one place the R-CON-3 policy values come from at run time."""
        return ContributionPolicy(yearly_due_month=self.yearly_due_month, yearly_due_day=self.yearly_due_day)
