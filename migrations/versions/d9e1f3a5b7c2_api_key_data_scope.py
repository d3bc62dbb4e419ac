"""api keys: data scope (SPEC §16)

Revision ID: d9e1f3a5b7c2
Revises: c8d2f4a6b9e1
Create Date: 2026-12-07 07:00:00

A key may be limited to warehouses (their codes) and Amazon marketplaces, and may hide field
groups of the catalogue (``costs``, ``buyer-details``, ``contact-details``). Empty lists, the
default for every existing key, narrow nothing.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd9e1f3a5b7c2'
down_revision = 'c8d2f4a6b9e1'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('api_keys', sa.Column('warehouses', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('api_keys', sa.Column('marketplaces', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('api_keys', sa.Column('hidden_fields', sa.JSON(), nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('hidden_fields')
        batch_op.drop_column('marketplaces')
        batch_op.drop_column('warehouses')
