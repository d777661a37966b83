"""The catalogue's tables, as the migrations create them (the migrations are the schema; this mirrors it).

Invariants are enforced here as well as in ``domain/``: R-OFR-3 (price per hour), R-OFR-4 (seats of mandate
sessions), R-OFR-5 (subcontracting share) are CHECK constraints, so no code path can store a broken offer.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import DATEMULTIRANGE, TSVECTOR

metadata = MetaData()

SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('fr_unaccent'::regconfig, catalogue_fold(title)), 'A') || "
    "setweight(to_tsvector('fr_unaccent'::regconfig, catalogue_fold(coalesce(theme_label, ''))), 'B') || "
    "setweight(to_tsvector('fr_unaccent'::regconfig, catalogue_fold(coalesce(objectives, ''))), 'C') || "
    "setweight(to_tsvector('fr_unaccent'::regconfig, catalogue_fold(coalesce(summary, ''))), 'C') || "
    "setweight(to_tsvector('fr_unaccent'::regconfig, catalogue_fold(coalesce(city, ''))), 'D')"
)
"""Title first, then the répertoire theme, then the text; ``catalogue_fold`` (a migration) folds accents
and the ``-us`` plurals the French stemmer keeps (« élus » → « élu »), on documents and queries alike."""

themes = Table(
    "themes",
    metadata,
    Column("code", Text, primary_key=True),
    Column("family", Text, nullable=False),
    Column("family_label", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("position", Integer, nullable=False),
)

organismes = Table(
    "organismes",
    metadata,
    Column("siret", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("nda", Text, nullable=False),
    Column("street", Text, nullable=True),
    Column("postal_code", Text, nullable=True),
    Column("city", Text, nullable=True),
    Column("rating_count", Integer, nullable=False, server_default="0"),
    Column("rating_sum", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

agrements = Table(
    "agrements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("siret", Text, ForeignKey("organismes.siret"), nullable=False),
    Column("reference", Text, nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("withdrawn_on", Date, nullable=True),
    Column("withdrawal_reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

offers = Table(
    "offers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("siret", Text, ForeignKey("organismes.siret"), nullable=False),
    Column("status", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("objectives", Text, nullable=False),
    Column("theme_code", Text, ForeignKey("themes.code"), nullable=True),
    Column("theme_label", Text, nullable=True),
    Column("certification_code", Text, nullable=True),
    Column("hours", Numeric(6, 2), nullable=False),
    Column("price_ht_cents", BigInteger, nullable=False),
    Column("vat_rate_bp", Integer, nullable=False),
    Column("price_ttc_cents", BigInteger, nullable=False),
    Column("modality", Text, nullable=False),
    Column("commune_insee", Text, nullable=True),
    Column("postal_code", Text, nullable=True),
    Column("city", Text, nullable=True),
    Column("department", Text, nullable=True),
    Column("region", Text, nullable=True),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("subcontractor_siret", Text, nullable=True),
    Column("subcontracting_share_percent", Numeric(5, 2), nullable=True),
    Column("next_start_date", Date, nullable=True),
    Column("open_session_starts", DATEMULTIRANGE, nullable=False, server_default="{}"),
    Column("rating_count", Integer, nullable=False, server_default="0"),
    Column("rating_sum", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    Column("search_vector", TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True)),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("offer_id", Uuid, nullable=False),
    Column("offer_kind", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("seats_taken", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

dossier_seats = Table(
    "dossier_seats",
    metadata,
    Column("dossier_id", Uuid, primary_key=True),
    Column("offer_id", Uuid, nullable=False),
    Column("session_id", Uuid, nullable=False),
    Column("holds_seat", Boolean, nullable=False, server_default="false"),
)
"""Which session each dossier asked for (from dossier_submitted) and whether it holds a seat there."""
