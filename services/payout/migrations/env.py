"""Alembic environment of payout: servicekit's runner with payout's metadata."""

from payout.adapters.tables import metadata
from servicekit import alembic_env

alembic_env.run(metadata, url_env="PAYOUT_DATABASE_URL")
