"""sales orders: index the marketplace (SPEC §16)

Revision ID: e3f5a7b9c1d4
Revises: d9e1f3a5b7c2
Create Date: 2026-12-07 07:15:00

A key scoped to marketplaces reads sales orders (and, through them, return orders) with a
``WHERE marketplace IN (...)``: an index keeps that part of the query, not a filter over rows.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e3f5a7b9c1d4'
down_revision = 'd9e1f3a5b7c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_sales_orders_marketplace', 'sales_orders', ['marketplace'], unique=False)


def downgrade():
    op.drop_index('ix_sales_orders_marketplace', table_name='sales_orders')
