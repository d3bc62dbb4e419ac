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
    'CREATE TABLE IF NOT EXISTS row_counts (id bigserial PRIMARY KEY, table_name text NOT NULL, delta bigint NOT NULL)',
    'CREATE INDEX IF NOT EXISTS ix_row_counts_table_name ON row_counts (table_name) INCLUDE (delta)',
    'CREATE OR REPLACE FUNCTION row_counts_add(counted text, change bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF change <> 0 THEN INSERT INTO row_counts (table_name, delta) VALUES (counted, change); END IF; END $$',
    'CREATE OR REPLACE FUNCTION row_counts_fold(counted text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF (SELECT count(*) FROM row_counts WHERE table_name = counted) > 1 THEN WITH folded AS (DELETE FROM row_counts WHERE id IN (SELECT id FROM row_counts WHERE table_name = counted FOR UPDATE SKIP LOCKED) RETURNING delta) INSERT INTO row_counts (table_name, delta) SELECT counted, sum(delta) FROM folded HAVING count(*) > 0; END IF; END $$',
    'CREATE OR REPLACE FUNCTION row_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM row_counts_add(TG_TABLE_NAME, (SELECT count(*) FROM inserted_rows)); RETURN NULL; END $$',
    'CREATE OR REPLACE FUNCTION row_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM row_counts_add(TG_TABLE_NAME, -(SELECT count(*) FROM deleted_rows)); RETURN NULL; END $$',
    'CREATE OR REPLACE FUNCTION row_counts_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM row_counts WHERE table_name = TG_TABLE_NAME; INSERT INTO row_counts (table_name, delta) VALUES (TG_TABLE_NAME, 0); RETURN NULL; END $$',
    "CREATE OR REPLACE FUNCTION row_counts_refresh() RETURNS void LANGUAGE plpgsql AS $$ DECLARE counted text; BEGIN FOR counted IN SELECT DISTINCT table_name FROM row_counts LOOP DELETE FROM row_counts WHERE table_name = counted; EXECUTE format('INSERT INTO row_counts (table_name, delta) SELECT %L, count(*) FROM %I', counted, counted); END LOOP; END $$",
)
TABLE_STATEMENTS = (
    'CREATE TRIGGER %(table)s_count_insert AFTER INSERT ON %(table)s REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_insert()',
    'CREATE TRIGGER %(table)s_count_delete AFTER DELETE ON %(table)s REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_delete()',
    'CREATE TRIGGER %(table)s_count_truncate AFTER TRUNCATE ON %(table)s FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_truncate()',
    "DELETE FROM row_counts WHERE table_name = '%(table)s'",
    "INSERT INTO row_counts (table_name, delta) SELECT '%(table)s', count(*) FROM %(table)s",
)
DROP_STATEMENTS = (
    'DROP TABLE IF EXISTS row_counts',
    'DROP FUNCTION IF EXISTS row_counts_after_insert, row_counts_after_delete, row_counts_after_truncate, row_counts_refresh, row_counts_add, row_counts_fold',
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
