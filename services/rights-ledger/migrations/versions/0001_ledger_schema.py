"""kit tables, élus registry, accounts, append-only journal, holds, credits and jobs

Revision ID: 0001
Revises:
"""

from alembic import op

from servicekit.migrations import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Bulk paths (RNE import, campaigns) insert hundreds of thousands of rows set-based: the élu's rows reference
# each other by elu_id without foreign keys on those tables (a per-row trigger each, 4× slower), as they are
# only ever created together, by the import's merge; low-volume tables (holds, resolutions) keep theirs.
SCHEMA = [
    # R-REG-2: a person is (normalised family name, given names, birth date). Keys are compared byte-wise
    # (COLLATE "C"): they are normalised already, and the import sorts and indexes half a million of them.
    """
    CREATE TABLE elus (
        elu_id uuid PRIMARY KEY,
        family_name text NOT NULL,
        given_names text NOT NULL,
        family_key text COLLATE "C" NOT NULL,
        given_key text COLLATE "C" NOT NULL,
        birth_date date NOT NULL,
        sex text NOT NULL DEFAULT '',
        pension_liquidated_on date,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT elus_person_key UNIQUE (family_key, given_key, birth_date)
    )
    """,
    """
    CREATE TABLE mandates (
        mandate_id uuid PRIMARY KEY,
        elu_id uuid NOT NULL,
        file_type text COLLATE "C" NOT NULL,
        family text NOT NULL,
        collectivite_code text COLLATE "C" NOT NULL,
        collectivite_name text NOT NULL DEFAULT '',
        department_code text NOT NULL DEFAULT '',
        function text NOT NULL DEFAULT '',
        start_date date NOT NULL,
        end_date date,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT mandates_identity UNIQUE (elu_id, file_type, collectivite_code, start_date),
        CONSTRAINT mandates_end_after_start CHECK (end_date IS NULL OR end_date >= start_date)
    )
    """,
    "CREATE INDEX mandates_open_by_type ON mandates (file_type) WHERE end_date IS NULL",
    # Room left in each page (fillfactor) keeps balance updates HOT: no index is rewritten.
    # The account: balance = posted rights, held = pending holds; both derivable from the journal.
    # R-ACC-2: never below 0, never above the cap in force when rights were last added.
    """
    CREATE TABLE accounts (
        elu_id uuid PRIMARY KEY,
        status text NOT NULL DEFAULT 'inactive' CHECK (status IN ('inactive', 'active', 'closed')),
        subject text UNIQUE,
        nir_hash text UNIQUE,
        balance_cents bigint NOT NULL DEFAULT 0,
        held_cents bigint NOT NULL DEFAULT 0,
        cap_cents bigint NOT NULL,
        activated_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_balance_not_negative CHECK (balance_cents >= 0),
        CONSTRAINT accounts_held_within_balance CHECK (held_cents >= 0 AND held_cents <= balance_cents),
        CONSTRAINT accounts_balance_within_cap CHECK (balance_cents <= cap_cents),
        CONSTRAINT accounts_nir_is_a_hash CHECK (nir_hash IS NULL OR nir_hash ~ '^[0-9a-f]{64}$')
    ) WITH (fillfactor = 70)
    """,
    # The journal: append-only (trigger below); each entry's deltas sum to the account's two sums.
    """
    CREATE TABLE movements (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL UNIQUE DEFAULT ledger_new_id(),
        elu_id uuid NOT NULL,
        kind text NOT NULL
            CHECK (kind IN ('credit', 'hold', 'capture', 'release', 'expiry', 'adjustment')),
        counterparty text NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        balance_delta_cents bigint NOT NULL,
        held_delta_cents bigint NOT NULL,
        balance_after_cents bigint NOT NULL CHECK (balance_after_cents >= 0),
        held_after_cents bigint NOT NULL CHECK (held_after_cents >= 0),
        at timestamptz NOT NULL DEFAULT now(),
        reference text,
        hold_id uuid,
        actor text
    )
    """,
    "CREATE INDEX movements_by_elu ON movements (elu_id, seq)",
    """
    CREATE FUNCTION movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the journal is append-only: % refused on movements', TG_OP
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER movements_append_only BEFORE UPDATE OR DELETE ON movements
    FOR EACH ROW EXECUTE FUNCTION movements_append_only()
    """,
    """
    CREATE TRIGGER movements_no_truncate BEFORE TRUNCATE ON movements
    FOR EACH STATEMENT EXECUTE FUNCTION movements_append_only()
    """,
    # R-ACC-1: one credit per élu per year, whatever the number of mandates or campaign runs.
    """
    CREATE TABLE credits (
        elu_id uuid NOT NULL,
        year integer NOT NULL,
        campaign_id uuid NOT NULL,
        family text NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        credited_on date NOT NULL,
        PRIMARY KEY (elu_id, year)
    )
    """,
    "CREATE INDEX credits_by_campaign ON credits (campaign_id)",
    """
    CREATE TABLE holds (
        hold_id uuid PRIMARY KEY,
        elu_id uuid NOT NULL REFERENCES accounts (elu_id),
        dossier_id uuid NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        purpose text NOT NULL,
        training_start date NOT NULL,
        training_end date NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'voided')),
        captured_cents bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0 AND captured_cents <= amount_cents),
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz
    )
    """,
    "CREATE UNIQUE INDEX holds_one_pending_per_dossier ON holds (dossier_id) WHERE status = 'pending'",
    "CREATE INDEX holds_by_elu ON holds (elu_id)",
    # A hold resolves at most once: the primary key refuses a second resolution.
    """
    CREATE TABLE hold_resolutions (
        hold_id uuid PRIMARY KEY REFERENCES holds (hold_id),
        outcome text NOT NULL CHECK (outcome IN ('posted', 'voided')),
        captured_cents bigint NOT NULL CHECK (captured_cents >= 0),
        released_cents bigint NOT NULL CHECK (released_cents >= 0),
        resolved_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # Long jobs (imports, campaigns, expiry runs): progress and report, restartable.
    """
    CREATE TABLE jobs (
        job_id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('rne_import', 'accrual_campaign', 'expiry_run')),
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
        params jsonb NOT NULL,
        payload bytea,
        rows_done bigint NOT NULL DEFAULT 0,
        rows_total bigint NOT NULL DEFAULT 0,
        report jsonb NOT NULL DEFAULT '{}'::jsonb,
        error text,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
    )
    """,
]

DROP = [
    "DROP TABLE IF EXISTS jobs",
    "DROP TABLE IF EXISTS hold_resolutions",
    "DROP TABLE IF EXISTS holds",
    "DROP TABLE IF EXISTS credits",
    "DROP TABLE IF EXISTS movements",
    "DROP FUNCTION IF EXISTS movements_append_only()",
    "DROP TABLE IF EXISTS accounts",
    "DROP TABLE IF EXISTS mandates",
    "DROP TABLE IF EXISTS elus",
    "DROP FUNCTION IF EXISTS ledger_new_id()",
]


def upgrade() -> None:
    create_kit_tables()
    # Time-ordered ids (PostgreSQL 18's uuidv7) keep bulk inserts at the right edge of the indexes.
    version = int(op.get_bind().exec_driver_sql("SHOW server_version_num").scalar_one())
    generator = "uuidv7()" if version >= 180000 else "gen_random_uuid()"
    op.execute(f"CREATE FUNCTION ledger_new_id() RETURNS uuid LANGUAGE sql VOLATILE AS $$ SELECT {generator} $$")
    for statement in SCHEMA:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP:
        op.execute(statement)
    drop_kit_tables()
