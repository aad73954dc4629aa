"""run fencing and units: claim tokens, a run's stream x channel units, parent links

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 04:30:00

- ``sync_runs.claim_token``: drawn at every claim; every write of the run checks it.
- ``sync_run_units``: one row per stream x channel of a run, with its status and counts (they
  were a JSON object on the run, rewritten by whichever attempt ran last). Existing runs' JSON
  results become rows, then the column goes.
- ``sync_runs.error_code`` / ``error_details``: the provider's own words on a failure.
- ``sync_states.full_read_done``: a full read reached its end; deletions are what is left.
- ``documents.parent_id``: the record a child document copies fields from.
"""
import json

from alembic import op
import sqlalchemy as sa
import core.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sync_run_units',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('stream', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('records_read', sa.Integer(), nullable=False),
        sa.Column('records_failing', sa.Integer(), nullable=False),
        sa.Column('created', sa.Integer(), nullable=False),
        sa.Column('updated', sa.Integer(), nullable=False),
        sa.Column('unchanged', sa.Integer(), nullable=False),
        sa.Column('deleted', sa.Integer(), nullable=False),
        sa.Column('recovered', sa.Integer(), nullable=False),
        sa.Column('unconfirmed', sa.Integer(), nullable=False),
        sa.Column('estimate', sa.Integer(), nullable=True),
        sa.Column('estimate_source', sa.String(length=20), nullable=True),
        sa.Column('error_reason', sa.String(length=20), nullable=True),
        sa.Column('error_code', sa.String(length=40), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('error_details', sa.JSON(), nullable=True),
        sa.Column('started_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_sync_run_units_run_id_sync_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_run_units')),
        sa.UniqueConstraint('run_id', 'stream', 'channel', name='uq_sync_run_units_scope'),
    )
    with op.batch_alter_table('sync_run_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_run_units_run_id'), ['run_id'], unique=False)

    _units_from_json()

    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('error_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('error_details', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('progress_estimated', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.drop_column('stream_results')
    with op.batch_alter_table('sync_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_read_done', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=500), nullable=True))
        batch_op.create_index('ix_documents_parent', ['origin_id', 'namespace', 'parent_id'], unique=False,
                              postgresql_where=sa.text('parent_id IS NOT NULL'),
                              sqlite_where=sa.text('parent_id IS NOT NULL'))


def _units_from_json():
    """Each run's ``stream_results`` ({"stream[:channel]": {...}}) as unit rows."""
    connection = op.get_bind()
    runs = sa.table('sync_runs', sa.column('id', sa.String), sa.column('stream_results', sa.JSON),
                    sa.column('finished_at', core.types.UTCDateTime(timezone=True)))
    units = sa.table('sync_run_units', *(sa.column(name) for name in (
        'run_id', 'position', 'stream', 'channel', 'status', 'records_read', 'records_failing', 'created',
        'updated', 'unchanged', 'deleted', 'recovered', 'unconfirmed', 'error_reason', 'error_message',
        'finished_at')))
    rows = []
    for run_id, results, finished_at in connection.execute(sa.select(runs.c.id, runs.c.stream_results,
                                                                     runs.c.finished_at)):
        if isinstance(results, str):
            results = json.loads(results or "{}")
        position = 0
        for key, value in (results or {}).items():
            if key.startswith("_") or not isinstance(value, dict):
                continue
            counts = {name: int(value.get(name) or 0) for name in ("created", "updated", "unchanged", "deleted")}
            rows.append({"run_id": run_id, "position": position, "stream": value.get("stream") or key,
                         "channel": value.get("channel") or "", "status": value.get("status") or "completed",
                         "records_read": counts["created"] + counts["updated"] + counts["unchanged"],
                         "records_failing": 0, **counts, "recovered": 0, "unconfirmed": 0,
                         "error_reason": value.get("error_reason"), "error_message": value.get("error"),
                         "finished_at": finished_at})
            position += 1
        if len(rows) >= 1000:
            connection.execute(units.insert(), rows)
            rows = []
    if rows:
        connection.execute(units.insert(), rows)


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_parent', postgresql_where=sa.text('parent_id IS NOT NULL'),
                            sqlite_where=sa.text('parent_id IS NOT NULL'))
        batch_op.drop_column('parent_id')
    with op.batch_alter_table('sync_states', schema=None) as batch_op:
        batch_op.drop_column('full_read_done')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stream_results', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.drop_column('progress_estimated')
        batch_op.drop_column('error_details')
        batch_op.drop_column('error_code')
        batch_op.drop_column('claim_token')
    with op.batch_alter_table('sync_run_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_run_units_run_id'))
    op.drop_table('sync_run_units')
