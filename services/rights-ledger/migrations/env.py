from rights_ledger.adapters.tables import metadata
from servicekit import alembic_env

alembic_env.run(metadata, url_env="LEDGER_DATABASE_URL")
