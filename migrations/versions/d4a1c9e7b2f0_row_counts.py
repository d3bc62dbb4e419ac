"""exact row counts of the module tables, kept by PostgreSQL triggers

Revision ID: d4a1c9e7b2f0
Revises: cc4fab0f73b6
Create Date: 2026-11-27 19:55:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'd4a1c9e7b2f0'
down_revision = 'cc4fab0f73b6'
branch_labels = None
depends_on = None

# Frozen copy of app/row_counts.py at this revision (migrations never import the app).
# PostgreSQL only: SQLite keeps COUNT(*) (see app/row_counts.py).
COUNTED_TABLES = ('products', 'inventory_levels', 'purchase_orders', 'sales_orders', 'customers', 'suppliers', 'warehouses', 'return_orders', 'categories', 'brands', 'replenishment_plans', 'amazon_ledger_entries', 'settings', 'departments', 'employees')
CREATE_STATEMENTS = (
    'CREATE TABLE IF NOT EXISTS row_counts (table_name text PRIMARY KEY, row_count bigint NOT NULL)',
    'CREATE OR REPLACE FUNCTION row_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE row_counts SET row_count = row_count + (SELECT count(*) FROM inserted_rows) WHERE table_name = TG_TABLE_NAME; RETURN NULL; END $$',
    'CREATE OR REPLACE FUNCTION row_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE row_counts SET row_count = row_count - (SELECT count(*) FROM deleted_rows) WHERE table_name = TG_TABLE_NAME; RETURN NULL; END $$',
    'CREATE OR REPLACE FUNCTION row_counts_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE row_counts SET row_count = 0 WHERE table_name = TG_TABLE_NAME; RETURN NULL; END $$',
    "CREATE OR REPLACE FUNCTION row_counts_refresh() RETURNS void LANGUAGE plpgsql AS $$ DECLARE counted text; BEGIN FOR counted IN SELECT table_name FROM row_counts LOOP EXECUTE format('UPDATE row_counts SET row_count = (SELECT count(*) FROM %I) WHERE table_name = %L', counted, counted); END LOOP; END $$",
)
TABLE_STATEMENTS = (
    'CREATE TRIGGER %(table)s_count_insert AFTER INSERT ON %(table)s REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_insert()',
    'CREATE TRIGGER %(table)s_count_delete AFTER DELETE ON %(table)s REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_delete()',
    'CREATE TRIGGER %(table)s_count_truncate AFTER TRUNCATE ON %(table)s FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_truncate()',
    "INSERT INTO row_counts (table_name, row_count) SELECT '%(table)s', count(*) FROM %(table)s ON CONFLICT (table_name) DO UPDATE SET row_count = EXCLUDED.row_count",
)
DROP_STATEMENTS = (
    'DROP TABLE IF EXISTS row_counts',
    'DROP FUNCTION IF EXISTS row_counts_after_insert, row_counts_after_delete, row_counts_after_truncate, row_counts_refresh',
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in CREATE_STATEMENTS:
        op.execute(sa.text(statement))
    for table in COUNTED_TABLES:
        for statement in TABLE_STATEMENTS:
            op.execute(sa.text(statement % {"table": table}))


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in COUNTED_TABLES:
        for trigger in ("insert", "delete", "truncate"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_count_{trigger} ON {table}"))
    for statement in DROP_STATEMENTS:
        op.execute(sa.text(statement))
