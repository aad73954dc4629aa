"""audit events: an index on (workspace, action, place)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 17:30:00

- ``ix_audit_events_workspace_action_seq``: the latest entry of given actions in a chain (its latest
  full walk, ``audit.verified`` / ``audit.chain_broken``, and a pending request for one) is read
  on every ``GET /api/v1/audit-logs/verify`` and every minute by the scheduler's leader. Without it
  SQLite walks the chain's (workspace, place) index backwards to the last such entry: 0.4 s at
  200,000 entries after the last walk, growing with the chain.
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_events_workspace_action_seq', 'audit_events', ['workspace_id', 'action', 'seq'])


def downgrade():
    op.drop_index('ix_audit_events_workspace_action_seq', table_name='audit_events')
