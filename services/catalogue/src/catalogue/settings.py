"""Settings of the catalogue, from ``CATALOGUE_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from servicekit.settings import KitSettings


class Settings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOGUE_", extra="ignore")

    service_name: str = "catalogue"
    port: int = 8002
