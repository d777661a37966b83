from servicekit import alembic_env
from sqlalchemy import MetaData

alembic_env.run(MetaData(), url_env="SAMPLE_DATABASE_URL")
