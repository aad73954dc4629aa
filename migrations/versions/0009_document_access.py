"""document access: access lists and readers, identity links, provider groups

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 06:00:00

- ``access_lists`` / ``access_readers``: who may read a document (``documents.access_id``;
  NULL, every existing document, is the whole workspace).
- ``identity_links``: provider identities verified to be a member's.
- ``group_members``: provider groups' members as a connector lists them.
- ``connections.access_mode`` (``workspace`` for every existing connection: nothing changes for
  them until an admin chooses source permissions), ``api_keys.kind`` (``member``),
  ``sync_run_units.hidden``.
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'access_lists',
        sa.Column('id', BIGINT, autoincrement=True, nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_access_lists_workspace_id_workspaces'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_lists')),
        sa.UniqueConstraint('workspace_id', 'fingerprint', name='uq_access_lists_fingerprint'),
    )
    op.create_table(
        'access_readers',
        sa.Column('id', BIGINT, autoincrement=True, nullable=False),
        sa.Column('access_list_id', BIGINT, nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(['access_list_id'], ['access_lists.id'],
                                name=op.f('fk_access_readers_access_list_id_access_lists'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_readers')),
        sa.UniqueConstraint('access_list_id', 'kind', 'value', name='uq_access_readers_entry'),
    )
    with op.batch_alter_table('access_readers', schema=None) as batch_op:
        batch_op.create_index('ix_access_readers_principal', ['workspace_id', 'kind', 'value'], unique=False)
    op.create_table(
        'identity_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=320), nullable=False),
        sa.Column('verified_via', sa.String(length=80), nullable=False),
        sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_identity_links_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_identity_links_workspace_id_workspaces'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_links')),
        sa.UniqueConstraint('workspace_id', 'kind', 'value', name='uq_identity_links_identity'),
    )
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.create_index('ix_identity_links_user', ['workspace_id', 'user_id'], unique=False)
    op.create_table(
        'group_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('connection_id', sa.String(length=40), nullable=False),
        sa.Column('group_key', sa.String(length=320), nullable=False),
        sa.Column('member_kind', sa.String(length=20), nullable=False),
        sa.Column('member_value', sa.String(length=320), nullable=False),
        sa.Column('refreshed_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['connections.id'],
                                name=op.f('fk_group_members_connection_id_connections'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
        sa.UniqueConstraint('connection_id', 'group_key', 'member_kind', 'member_value', name='uq_group_members_entry'),
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index('ix_group_members_member', ['workspace_id', 'member_kind', 'member_value'], unique=False)

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_id', BIGINT, nullable=True))
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_mode', sa.String(length=20), nullable=False, server_default='workspace'))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='member'))
    with op.batch_alter_table('sync_run_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('sync_run_units', schema=None) as batch_op:
        batch_op.drop_column('hidden')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('access_mode')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('access_id')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index('ix_group_members_member')
    op.drop_table('group_members')
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_links_user')
    op.drop_table('identity_links')
    with op.batch_alter_table('access_readers', schema=None) as batch_op:
        batch_op.drop_index('ix_access_readers_principal')
    op.drop_table('access_readers')
    op.drop_table('access_lists')
