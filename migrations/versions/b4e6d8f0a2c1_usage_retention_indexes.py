"""usage retention (SPEC §13): index key_usage_hourly.hour and key_usage_daily.day

Revision ID: b4e6d8f0a2c1
Revises: a9d3e5f7c1b4
Create Date: 2026-12-07 10:00:00

The periodic flush looks for rows older than the retention limits on every run: without an
index on the time column alone (the primary key starts with the key id) that is a scan of the
whole table every 10 seconds.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b4e6d8f0a2c1'
down_revision = 'a9d3e5f7c1b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_key_usage_hourly_hour'), 'key_usage_hourly', ['hour'], unique=False)
    op.create_index(op.f('ix_key_usage_daily_day'), 'key_usage_daily', ['day'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_key_usage_daily_day'), table_name='key_usage_daily')
    op.drop_index(op.f('ix_key_usage_hourly_hour'), table_name='key_usage_hourly')
