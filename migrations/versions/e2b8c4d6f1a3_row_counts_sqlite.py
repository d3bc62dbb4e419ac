"""exact row counts of the module tables on SQLite, kept by row-level triggers

Revision ID: e2b8c4d6f1a3
Revises: d4a1c9e7b2f0
Create Date: 2026-11-27 23:45:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'e2b8c4d6f1a3'
down_revision = 'd4a1c9e7b2f0'
branch_labels = None
depends_on = None

# Frozen copy of app/row_counts.py at this revision (migrations never import the app).
# SQLite only: PostgreSQL's counters came with d4a1c9e7b2f0.
COUNTED_TABLES = ('products', 'inventory_levels', 'purchase_orders', 'sales_orders', 'customers', 'suppliers', 'warehouses', 'return_orders', 'categories', 'brands', 'replenishment_plans', 'amazon_ledger_entries', 'settings', 'departments', 'employees')
CREATE_STATEMENTS = (
    'CREATE TABLE IF NOT EXISTS row_counts (id INTEGER PRIMARY KEY, table_name TEXT NOT NULL, delta INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX IF NOT EXISTS ix_row_counts_table_name ON row_counts (table_name)',
)
TABLE_STATEMENTS = (
    "CREATE TRIGGER %(table)s_count_insert AFTER INSERT ON %(table)s BEGIN UPDATE row_counts SET delta = delta + 1 WHERE table_name = '%(table)s'; END",
    "CREATE TRIGGER %(table)s_count_delete AFTER DELETE ON %(table)s BEGIN UPDATE row_counts SET delta = delta - 1 WHERE table_name = '%(table)s'; END",
    "DELETE FROM row_counts WHERE table_name = '%(table)s'",
    "INSERT INTO row_counts (table_name, delta) SELECT '%(table)s', count(*) FROM %(table)s",
)


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in CREATE_STATEMENTS:
        op.execute(sa.text(statement))
    for table in COUNTED_TABLES:
        for statement in TABLE_STATEMENTS:
            op.execute(sa.text(statement % {"table": table}))


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in COUNTED_TABLES:
        for trigger in ("insert", "delete"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_count_{trigger}"))
    op.execute(sa.text("DROP TABLE IF EXISTS row_counts"))
