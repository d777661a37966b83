"""Alembic environment of the catalogue: servicekit's runner with the catalogue's metadata."""

from catalogue.adapters.tables import metadata
from servicekit import alembic_env

alembic_env.run(metadata, url_env="CATALOGUE_DATABASE_URL")
