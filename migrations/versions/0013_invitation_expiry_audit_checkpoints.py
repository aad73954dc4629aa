"""invitation expiry and audit checkpoints

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:30:00

- ``invitations.expired_at``: when the housekeeping found an invitation expired unused (and
  recorded ``invitation.expired``); NULL while pending and after a resend re-issues it.
- ``audit_checkpoints``: verified, signed places of each audit chain, from which routine
  verification starts (``audit/chain.py``).
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expired_at', core.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'audit_checkpoints',
        sa.Column('chain', sa.String(length=40), nullable=False),
        sa.Column('seq', BIGINT, nullable=False),
        sa.Column('entry_hash', sa.String(length=64), nullable=False),
        sa.Column('signature', sa.String(length=64), nullable=False),
        sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('chain', 'seq', name=op.f('pk_audit_checkpoints')),
    )


def downgrade():
    op.drop_table('audit_checkpoints')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('expired_at')
