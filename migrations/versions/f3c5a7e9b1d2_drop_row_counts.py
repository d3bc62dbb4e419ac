"""drop the trigger-kept row counts: list totals are COUNT(*) again

Revision ID: f3c5a7e9b1d2
Revises: e2b8c4d6f1a3
Create Date: 2026-12-03 21:45:00

See docs/decisions/001-list-totals.md.
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f3c5a7e9b1d2'
down_revision = 'e2b8c4d6f1a3'
branch_labels = None
depends_on = None

COUNTED_TABLES = ('products', 'inventory_levels', 'purchase_orders', 'sales_orders', 'customers', 'suppliers', 'warehouses', 'return_orders', 'categories', 'brands', 'replenishment_plans', 'amazon_ledger_entries', 'settings', 'departments', 'employees')


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in COUNTED_TABLES:
        for trigger in ("insert", "delete", "truncate"):
            on_table = f" ON {table}" if postgresql else ""
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_count_{trigger}{on_table}"))
    op.execute(sa.text("DROP TABLE IF EXISTS row_counts"))
    if postgresql:
        op.execute(sa.text(
            "DROP FUNCTION IF EXISTS row_counts_after_insert, row_counts_after_delete, "
            "row_counts_after_truncate, row_counts_refresh, row_counts_add, row_counts_fold"
        ))


def downgrade():
    # Rebuild the counts exactly as the two revisions that made them did.
    for name in ("d4a1c9e7b2f0_row_counts.py", "e2b8c4d6f1a3_row_counts_sqlite.py"):
        spec = importlib.util.spec_from_file_location(name[:-3], Path(__file__).with_name(name))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.upgrade()
