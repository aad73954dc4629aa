"""connections.account_key: a provider account is connected once per workspace

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:00:00

OAuth and handle connections claim their provider account in ``account_key`` (see
connections/accounts.py); the unique index lets two callbacks racing for one account keep one
row. Existing rows are left unclaimed (NULL): a deployment may already hold duplicates (the bug
this fixes), and the index must not fail on them. A later connect of such an account finds the
existing row by ``external_account_id`` and claims it then.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('connections', sa.Column('account_key', sa.String(length=128), nullable=True))
    op.create_index('uq_connections_account_key', 'connections', ['workspace_id', 'connector_type', 'account_key'],
                    unique=True)


def downgrade():
    op.drop_index('uq_connections_account_key', table_name='connections')
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('account_key')
