"""Alembic environment of the dossier service: servicekit's runner with the dossier's metadata."""

from dossier.adapters.tables import metadata
from servicekit import alembic_env

alembic_env.run(metadata, url_env="DOSSIER_DATABASE_URL")
