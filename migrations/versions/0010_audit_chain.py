"""audit chain: each workspace's audit entries commit to the one before

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:30:00

- ``audit_events.seq`` / ``prev_hash`` / ``entry_hash``: an entry's place in its workspace's chain,
  the previous entry's hash and its own (``audit/chain.py``), unique per workspace and place.
- ``audit_chain_heads``: each chain's last place and hash (the row writers lock) and its retention
  anchor.
- Existing entries are chained here, per workspace in the order they were written (by id).
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
GENESIS = '0' * 64


def upgrade():
    op.create_table(
        'audit_chain_heads',
        sa.Column('chain', sa.String(length=40), nullable=False),
        sa.Column('seq', BIGINT, nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('anchor_seq', BIGINT, nullable=False),
        sa.Column('anchor_hash', sa.String(length=64), nullable=False),
        sa.Column('updated_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('chain', name=op.f('pk_audit_chain_heads')),
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', BIGINT, nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
    _chain_existing_entries()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_workspace_seq', ['workspace_id', 'seq'], unique=True)


def _chain_existing_entries():
    """Give every existing entry its place and hashes, with the application's own hash function
    (``audit.chain.entry_hash``), so verification covers them like any later entry."""
    from types import SimpleNamespace

    from audit.chain import entry_hash

    bind = op.get_bind()
    events = sa.table('audit_events', sa.column('id', BIGINT), sa.column('workspace_id', sa.String),
                      sa.column('seq', BIGINT), sa.column('created_at', core.types.UTCDateTime(timezone=True)),
                      sa.column('actor_type', sa.String), sa.column('actor_id', sa.String),
                      sa.column('actor_label', sa.String), sa.column('action', sa.String),
                      sa.column('target_type', sa.String), sa.column('target_id', sa.String),
                      sa.column('outcome', sa.String), sa.column('client_address', sa.String),
                      sa.column('details', sa.JSON), sa.column('prev_hash', sa.String),
                      sa.column('entry_hash', sa.String))
    heads = sa.table('audit_chain_heads', sa.column('chain', sa.String), sa.column('seq', BIGINT),
                     sa.column('head_hash', sa.String), sa.column('anchor_seq', BIGINT),
                     sa.column('anchor_hash', sa.String),
                     sa.column('updated_at', core.types.UTCDateTime(timezone=True)))
    places = {}
    columns = [c for c in events.c if c.name not in ('seq', 'prev_hash', 'entry_hash')]
    for row in bind.execute(sa.select(*columns).order_by(events.c.id)).mappings():
        chain = row['workspace_id'] or ''
        seq, previous = places.get(chain, (0, GENESIS))
        entry = SimpleNamespace(**row, seq=seq + 1, prev_hash=previous)
        entry.details = entry.details if entry.details is not None else {}
        digest = entry_hash(entry)
        bind.execute(events.update().where(events.c.id == row['id'])
                     .values(seq=seq + 1, prev_hash=previous, entry_hash=digest, details=entry.details))
        places[chain] = (seq + 1, digest)
    if places:
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        bind.execute(heads.insert(), [{'chain': chain, 'seq': seq, 'head_hash': digest, 'anchor_seq': 0,
                                       'anchor_hash': GENESIS, 'updated_at': now}
                                      for chain, (seq, digest) in places.items()])


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_workspace_seq')
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_table('audit_chain_heads')
