"""action runs: a lease and the progress of a running action (so a run whose process died is
reclaimed), who requested it as a member; policies: whether a requester may approve their own

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 14:30:00

- ``action_runs.lease_until``: a running action's runner renews it before every provider
  request; past it, the run is reclaimed (``actions.service.reclaim_stale``).
- ``action_runs.progress``: the provider's answers so far and the step being sent, so a reclaim
  knows whether a write may have reached the provider.
- ``action_policies.self_approval``: false (the default) is four-eyes: a request is approved by
  someone other than who made it.
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('action_runs') as batch:
        batch.add_column(sa.Column('lease_until', core.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('progress', sa.JSON(), nullable=True))
    op.create_index('ix_action_runs_status_lease', 'action_runs', ['status', 'lease_until'])
    with op.batch_alter_table('action_policies') as batch:
        batch.add_column(sa.Column('self_approval', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('action_policies') as batch:
        batch.drop_column('self_approval')
    op.drop_index('ix_action_runs_status_lease', table_name='action_runs')
    with op.batch_alter_table('action_runs') as batch:
        batch.drop_column('progress')
        batch.drop_column('lease_until')
