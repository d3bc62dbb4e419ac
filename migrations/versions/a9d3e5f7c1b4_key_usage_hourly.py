"""key usage per hour and per day (SPEC §13): key_usage_hourly, key_usage_daily

Revision ID: a9d3e5f7c1b4
Revises: 15d61863b568
Create Date: 2026-12-05 23:55:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9d3e5f7c1b4'
down_revision = '15d61863b568'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('key_usage_hourly',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.DateTime(), nullable=False),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_key_usage_hourly_key_id_api_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'hour', 'operation', 'status', name=op.f('pk_key_usage_hourly'))
    )
    op.create_table('key_usage_daily',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_key_usage_daily_key_id_api_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'day', 'operation', 'status', name=op.f('pk_key_usage_daily'))
    )


def downgrade():
    op.drop_table('key_usage_daily')
    op.drop_table('key_usage_hourly')
