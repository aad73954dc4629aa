"""sync runs: takeovers counted only when the run made no progress since the last one

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 15:30:00

- ``sync_runs.progress_mark``: the run's progress (records processed plus units finished) when
  its last lost worker was found; ``sync_runs.stalled_attempts``: takeovers in a row that found no
  progress since the one before. ``SYNC_MAX_ATTEMPTS`` now bounds those, not every takeover, so a
  run that keeps moving between kills finishes (``sync.worker.recover_stale``).
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('progress_mark', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('stalled_attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.drop_column('stalled_attempts')
        batch.drop_column('progress_mark')
