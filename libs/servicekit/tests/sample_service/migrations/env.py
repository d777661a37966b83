from sqlalchemy import MetaData

from servicekit import alembic_env

alembic_env.run(MetaData(), url_env="SAMPLE_DATABASE_URL")
