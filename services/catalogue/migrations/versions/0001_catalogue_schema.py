"""Catalogue schema: kit tables, French search configuration, répertoire, organismes, agréments, offers, sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.migrations import create_kit_tables, drop_kit_tables

from catalogue.adapters.tables import SEARCH_VECTOR_SQL
from catalogue.domain import policy
from catalogue.domain.themes import FAMILIES, REPERTOIRE

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_SETUP = (
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    # btree_gin lets one GIN index hold the text and the equality filters, so « text + département » is
    # one bitmap of exactly the matching offers instead of every text match fetched then filtered.
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    # unaccent(regdictionary, text) is only STABLE; a schema-qualified wrapper may be IMMUTABLE, which a
    # generated column needs (the dictionary is never changed under a live index).
    """
    CREATE FUNCTION catalogue_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN public.unaccent('public.unaccent'::regdictionary, $1)
    """,
    # The French Snowball stemmer keeps the -s of words in -us (« élus » stays « elus », « élu » is « elu »):
    # fold that plural before stemming, on documents and queries alike. Pronouns and « plus » are left alone
    # (parentheses inside a lookahead do not capture, so \1 is the word).
    r"""
    CREATE FUNCTION catalogue_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN regexp_replace(lower(catalogue_unaccent($1)),
                          '\m(?!(nous|vous|tous|sous|plus)\M)([a-z]+u)s\M', '\1', 'g')
    """,
    "CREATE TEXT SEARCH CONFIGURATION fr_unaccent (COPY = french)",
    """
    ALTER TEXT SEARCH CONFIGURATION fr_unaccent
        ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem
    """,
)

HAVERSINE_SQL = """
    CREATE FUNCTION catalogue_distance_km(lat1 float8, lon1 float8, lat2 float8, lon2 float8) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN 12742.0176 * asin(least(1.0, sqrt(
        power(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2))))
"""

MAX_PRICE = policy.MAX_PRICE_HT_CENTS_PER_HOUR
MAX_SEATS = policy.MAX_MANDATE_SESSION_SEATS
MAX_SHARE = policy.MAX_SUBCONTRACTING_SHARE_PERCENT

TABLES = (
    """
    CREATE TABLE themes (
        code text PRIMARY KEY,
        family text NOT NULL,
        family_label text NOT NULL,
        label text NOT NULL,
        position integer NOT NULL
    )
    """,
    """
    CREATE TABLE organismes (
        siret text PRIMARY KEY CHECK (siret ~ '^[0-9]{14}$'),
        name text NOT NULL,
        nda text NOT NULL CHECK (nda ~ '^[0-9]{11}$'),
        street text,
        postal_code text,
        city text,
        rating_count integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
        rating_sum bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE agrements (
        id uuid PRIMARY KEY,
        siret text NOT NULL REFERENCES organismes (siret),
        reference text NOT NULL,
        decision_date date NOT NULL,
        valid_from date NOT NULL,
        valid_until date NOT NULL,
        withdrawn_on date,
        withdrawal_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT agrement_period_in_order CHECK (valid_from <= valid_until AND decision_date <= valid_from),
        CONSTRAINT agrement_withdrawal_has_reason CHECK ((withdrawn_on IS NULL) = (withdrawal_reason IS NULL)),
        CONSTRAINT agrement_reference_unique UNIQUE (siret, reference)
    )
    """,
    "CREATE INDEX agrements_siret ON agrements (siret, valid_from)",
    f"""
    CREATE TABLE offers (
        id uuid PRIMARY KEY,
        siret text NOT NULL REFERENCES organismes (siret),
        status text NOT NULL CHECK (status IN ('draft', 'published', 'withdrawn')),
        kind text NOT NULL CHECK (kind IN ('mandate', 'reinsertion')),
        title text NOT NULL,
        summary text NOT NULL,
        objectives text NOT NULL,
        theme_code text REFERENCES themes (code),
        theme_label text,
        certification_code text,
        hours numeric(6, 2) NOT NULL CHECK (hours > 0),
        price_ht_cents bigint NOT NULL CHECK (price_ht_cents >= 0),
        vat_rate_bp integer NOT NULL CHECK (vat_rate_bp BETWEEN 0 AND 10000),
        price_ttc_cents bigint NOT NULL CHECK (price_ttc_cents >= price_ht_cents),
        modality text NOT NULL CHECK (modality IN ('in_person', 'remote', 'mixed')),
        commune_insee text,
        postal_code text,
        city text,
        department text,
        region text,
        lat double precision CHECK (lat BETWEEN -90 AND 90),
        lon double precision CHECK (lon BETWEEN -180 AND 180),
        subcontractor_siret text,
        subcontracting_share_percent numeric(5, 2),
        next_start_date date,
        open_session_starts datemultirange NOT NULL DEFAULT '{{}}',
        rating_count integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
        rating_sum bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        withdrawn_at timestamptz,
        search_vector tsvector GENERATED ALWAYS AS ({SEARCH_VECTOR_SQL}) STORED,
        CONSTRAINT offer_kind_unique UNIQUE (id, kind),
        CONSTRAINT "R-OFR-1 mandate offers have a theme"
            CHECK (kind <> 'mandate' OR (theme_code IS NOT NULL AND certification_code IS NULL)),
        CONSTRAINT "R-OFR-2 reinsertion offers have a certification"
            CHECK (kind <> 'reinsertion' OR (certification_code IS NOT NULL AND theme_code IS NULL)),
        CONSTRAINT "R-OFR-3 price per hour" CHECK (price_ht_cents <= {MAX_PRICE} * hours),
        CONSTRAINT "R-OFR-5 subcontracting share"
            CHECK ((subcontractor_siret IS NULL) = (subcontracting_share_percent IS NULL)
                   AND (subcontracting_share_percent IS NULL
                        OR subcontracting_share_percent > 0 AND subcontracting_share_percent <= {MAX_SHARE})
                   AND subcontractor_siret IS DISTINCT FROM siret),
        CONSTRAINT offer_located_unless_remote
            CHECK (modality = 'remote' OR (department IS NOT NULL AND region IS NOT NULL))
    )
    """,
    f"""
    CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        offer_id uuid NOT NULL,
        offer_kind text NOT NULL,
        start_date date NOT NULL,
        end_date date NOT NULL,
        capacity integer NOT NULL CHECK (capacity >= 1),
        seats_taken integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0),
        status text NOT NULL CHECK (status IN ('open', 'cancelled')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT session_dates_in_order CHECK (start_date <= end_date),
        CONSTRAINT "R-OFR-4 seats of a mandate session" CHECK (offer_kind <> 'mandate' OR capacity <= {MAX_SEATS}),
        CONSTRAINT session_offer FOREIGN KEY (offer_id, offer_kind) REFERENCES offers (id, kind)
    )
    """,
    "CREATE INDEX sessions_offer ON sessions (offer_id, start_date)",
    "CREATE INDEX sessions_open_start ON sessions (start_date, offer_id) WHERE status = 'open'",
    """
    CREATE TABLE dossier_seats (
        dossier_id uuid PRIMARY KEY,
        offer_id uuid NOT NULL,
        session_id uuid NOT NULL,
        holds_seat boolean NOT NULL DEFAULT false
    )
    """,
    # Search: published offers only. GIN for the text; btree for each filter and each keyset order, with
    # the id as the tie-breaker of every order so a cursor is a strict position.
    """
    CREATE INDEX offers_pub_text_filters ON offers
        USING gin (search_vector, department, region, theme_code, modality, kind, siret)
        WHERE status = 'published'
    """,
    "CREATE INDEX offers_pub_session_starts ON offers USING gist (open_session_starts) WHERE status = 'published'",
    "CREATE INDEX offers_pub_department ON offers (department) WHERE status = 'published'",
    "CREATE INDEX offers_pub_region ON offers (region) WHERE status = 'published'",
    "CREATE INDEX offers_pub_theme ON offers (theme_code) WHERE status = 'published'",
    "CREATE INDEX offers_pub_modality_kind ON offers (modality, kind) WHERE status = 'published'",
    "CREATE INDEX offers_pub_price ON offers (price_ht_cents, id) WHERE status = 'published'",
    "CREATE INDEX offers_pub_start ON offers (next_start_date, id) WHERE status = 'published'",
    "CREATE INDEX offers_pub_lat_lon ON offers (lat, lon) WHERE status = 'published'",
    "CREATE INDEX offers_siret ON offers (siret, created_at)",
)


def upgrade() -> None:
    create_kit_tables()
    for statement in SEARCH_SETUP:
        op.execute(statement)
    op.execute(HAVERSINE_SQL)
    for statement in TABLES:
        op.execute(statement)
    family_labels = {family.code: family.label for family in FAMILIES}
    themes = sa.table(
        "themes",
        sa.column("code", sa.Text),
        sa.column("family", sa.Text),
        sa.column("family_label", sa.Text),
        sa.column("label", sa.Text),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        themes,
        [
            {
                "code": theme.code,
                "family": theme.family,
                "family_label": family_labels[theme.family],
                "label": theme.label,
                "position": position,
            }
            for position, theme in enumerate(REPERTOIRE)
        ],
    )


def downgrade() -> None:
    for table in ("dossier_seats", "sessions", "offers", "agrements", "organismes", "themes"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION catalogue_distance_km(float8, float8, float8, float8)")
    op.execute("DROP TEXT SEARCH CONFIGURATION fr_unaccent")
    op.execute("DROP FUNCTION catalogue_fold(text)")
    op.execute("DROP FUNCTION catalogue_unaccent(text)")
    drop_kit_tables()
