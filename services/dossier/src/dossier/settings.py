"""Settings of the dossier service, from ``DOSSIER_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from servicekit.settings import KitSettings


class Settings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="DOSSIER_", extra="ignore")

    service_name: str = "dossier"
    port: int = 8003
