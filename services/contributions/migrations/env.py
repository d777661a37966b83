"""Alembic environment of the contributions service: servicekit's runner with its metadata."""

from contributions.adapters.tables import metadata
from servicekit import alembic_env

alembic_env.run(metadata, url_env="CONTRIBUTIONS_DATABASE_URL")
