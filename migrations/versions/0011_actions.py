"""actions: action runs (plans, approvals, idempotency) and per-connection action policies

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:10:00
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'action_runs',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('connection_id', sa.String(length=40), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('parameters', sa.JSON(), nullable=False),
        sa.Column('plan', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('router', sa.String(length=20), nullable=False),
        sa.Column('intent', sa.Text(), nullable=True),
        sa.Column('requested_by_type', sa.String(length=20), nullable=False),
        sa.Column('requested_by_id', sa.String(length=40), nullable=True),
        sa.Column('requested_by_label', sa.String(length=254), nullable=True),
        sa.Column('user_id', sa.String(length=40), nullable=True),
        sa.Column('decided_by_label', sa.String(length=254), nullable=True),
        sa.Column('decided_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.JSON(), nullable=True),
        sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_action_runs_connection_id_connections'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_action_runs_workspace_id_workspaces'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_action_runs')),
        sa.UniqueConstraint('connection_id', 'idempotency_key', name='uq_action_runs_idempotency'),
    )
    op.create_index('ix_action_runs_workspace_created', 'action_runs', ['workspace_id', 'created_at'])
    op.create_index('ix_action_runs_connection_status', 'action_runs', ['connection_id', 'status'])
    op.create_table(
        'action_policies',
        sa.Column('connection_id', sa.String(length=40), nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('allowed', sa.JSON(), nullable=True),
        sa.Column('approval', sa.JSON(), nullable=True),
        sa.Column('mcp', sa.JSON(), nullable=False),
        sa.Column('updated_by_label', sa.String(length=254), nullable=True),
        sa.Column('updated_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['connections.id'],
                                name=op.f('fk_action_policies_connection_id_connections'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                                name=op.f('fk_action_policies_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('connection_id', name=op.f('pk_action_policies')),
    )


def downgrade():
    op.drop_table('action_policies')
    op.drop_index('ix_action_runs_connection_status', table_name='action_runs')
    op.drop_index('ix_action_runs_workspace_created', table_name='action_runs')
    op.drop_table('action_runs')
