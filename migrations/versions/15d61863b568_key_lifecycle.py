"""key lifecycle (SPEC §12): roll, allowed IPs, description, audit events

Revision ID: 15d61863b568
Revises: f3c5a7e9b1d2
Create Date: 2026-12-05 22:04:34

Plain ``ADD COLUMN`` on both databases (no batch copy): on SQLite a table copy would drop the
key-search triggers on ``api_keys``.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '15d61863b568'
down_revision = 'f3c5a7e9b1d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('key_prefix', sa.String(length=12), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index('ix_audit_events_actor_created_at', 'audit_events', ['actor', 'created_at'], unique=False)
    op.create_index('ix_audit_events_created_at', 'audit_events', ['created_at'], unique=False)
    op.create_index('ix_audit_events_key_prefix_created_at', 'audit_events', ['key_prefix', 'created_at'], unique=False)

    op.add_column('api_keys', sa.Column('description', sa.String(length=500), nullable=True))
    # Existing keys allow any address: an empty list.
    op.add_column('api_keys', sa.Column('allowed_ips', sa.JSON(), nullable=False, server_default='[]'))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its REFERENCES clause, but Alembic renders no constraint
        # in ALTER on SQLite (only through a table copy), so write it out.
        op.execute('ALTER TABLE api_keys ADD COLUMN successor_id INTEGER REFERENCES api_keys (id)')
    else:
        op.add_column('api_keys', sa.Column('successor_id', sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f('fk_api_keys_successor_id_api_keys'), 'api_keys', 'api_keys', ['successor_id'], ['id']
        )
    op.add_column('api_keys', sa.Column('sunset_at', sa.DateTime(), nullable=True))
    op.add_column('api_keys', sa.Column('bucket', sa.String(length=12), nullable=True))
    op.create_index(op.f('ix_api_keys_successor_id'), 'api_keys', ['successor_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_api_keys_successor_id'), table_name='api_keys')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        if op.get_bind().dialect.name != 'sqlite':
            batch_op.drop_constraint(op.f('fk_api_keys_successor_id_api_keys'), type_='foreignkey')
        batch_op.drop_column('bucket')
        batch_op.drop_column('sunset_at')
        batch_op.drop_column('successor_id')
        batch_op.drop_column('allowed_ips')
        batch_op.drop_column('description')
    op.drop_index('ix_audit_events_key_prefix_created_at', table_name='audit_events')
    op.drop_index('ix_audit_events_created_at', table_name='audit_events')
    op.drop_index('ix_audit_events_actor_created_at', table_name='audit_events')
    op.drop_table('audit_events')
