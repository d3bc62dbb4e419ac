"""api key sort indexes and trigram search indexes (SQLite FTS5, pg_trgm)

Revision ID: b7e31f0a9c42
Revises: c07d4232975f
Create Date: 2026-11-27 17:58:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e31f0a9c42'
down_revision = 'c07d4232975f'
branch_labels = None
depends_on = None

# Frozen copy of app/panel/search_index.py at this revision (migrations never import the app).
CREATE_STATEMENTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS api_keys_fts USING fts5(name, prefix, content='api_keys', content_rowid='id', tokenize='trigram')",
    'CREATE TRIGGER IF NOT EXISTS api_keys_fts_ai AFTER INSERT ON api_keys BEGIN INSERT INTO api_keys_fts(rowid, name, prefix) VALUES (new.id, new.name, new.prefix); END',
    "CREATE TRIGGER IF NOT EXISTS api_keys_fts_ad AFTER DELETE ON api_keys BEGIN INSERT INTO api_keys_fts(api_keys_fts, rowid, name, prefix) VALUES ('delete', old.id, old.name, old.prefix); END",
    "CREATE TRIGGER IF NOT EXISTS api_keys_fts_au AFTER UPDATE OF name, prefix ON api_keys BEGIN INSERT INTO api_keys_fts(api_keys_fts, rowid, name, prefix) VALUES ('delete', old.id, old.name, old.prefix); INSERT INTO api_keys_fts(rowid, name, prefix) VALUES (new.id, new.name, new.prefix); END",
)
REBUILD_STATEMENT = "INSERT INTO api_keys_fts(api_keys_fts) VALUES ('rebuild')"
DROP_STATEMENTS = (
    'DROP TRIGGER IF EXISTS api_keys_fts_ai',
    'DROP TRIGGER IF EXISTS api_keys_fts_ad',
    'DROP TRIGGER IF EXISTS api_keys_fts_au',
    'DROP TABLE IF EXISTS api_keys_fts',
)

PG_EXTENSION_STATEMENT = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
PG_CREATE_STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS ix_api_keys_name_trgm ON api_keys USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_api_keys_prefix_trgm ON api_keys USING gin (prefix gin_trgm_ops)",
)
PG_DROP_STATEMENTS = (
    "DROP INDEX IF EXISTS ix_api_keys_name_trgm",
    "DROP INDEX IF EXISTS ix_api_keys_prefix_trgm",
)

SORT_INDEXES = [
    ("ix_api_keys_name", "api_keys", ["name"]),
    ("ix_api_keys_rate_limit", "api_keys", ["rate_limit"]),
    ("ix_api_keys_expires_at", "api_keys", ["expires_at"]),
    ("ix_api_keys_last_used_at", "api_keys", ["last_used_at"]),
    ("ix_users_name", "users", ["name"]),
]


def upgrade():
    for name, table, columns in SORT_INDEXES:
        op.create_index(name, table, columns, unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in CREATE_STATEMENTS:
            op.execute(statement)
        # Index the keys that existed before the search table did.
        op.execute(REBUILD_STATEMENT)
    elif dialect == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute(PG_EXTENSION_STATEMENT)
        for statement in PG_CREATE_STATEMENTS:
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in DROP_STATEMENTS:
            op.execute(statement)
    elif dialect == "postgresql":
        # The extension stays: other objects may use it.
        for statement in PG_DROP_STATEMENTS:
            op.execute(statement)
    for name, table, _ in reversed(SORT_INDEXES):
        op.drop_index(name, table_name=table)
