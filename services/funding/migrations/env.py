"""Alembic environment of funding: servicekit's runner with funding's metadata."""

from funding.adapters.tables import metadata
from servicekit import alembic_env

alembic_env.run(metadata, url_env="FUNDING_DATABASE_URL")
