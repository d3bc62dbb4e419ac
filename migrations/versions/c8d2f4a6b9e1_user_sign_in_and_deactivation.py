"""users: last sign-in and deactivation (SPEC §15)

Revision ID: c8d2f4a6b9e1
Revises: b4e6d8f0a2c1
Create Date: 2027-01-12 10:00:00

``last_sign_in_at`` is stamped at each panel sign-in (the Users page shows it);
``deactivated_at`` marks an offboarded account (None: active). Both are nullable, so existing
accounts stay active and read "never signed in" until their next sign-in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8d2f4a6b9e1'
down_revision = 'b4e6d8f0a2c1'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN on both databases: nullable columns need no table copy.
    op.add_column('users', sa.Column('last_sign_in_at', sa.DateTime(), nullable=True))
    op.add_column('users', sa.Column('deactivated_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('last_sign_in_at')
