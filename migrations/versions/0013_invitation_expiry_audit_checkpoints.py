"""invitation expiry, audit checkpoints, the query log's covering index, stored chunks rollup

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:30:00

- ``invitations.expired_at``: when the housekeeping found an invitation expired unused (and
  recorded ``invitation.expired``); NULL while pending and after a resend re-issues it.
- ``audit_checkpoints``: verified, signed places of each audit chain, from which routine
  verification starts (``audit/chain.py``).
- ``query_log``'s (workspace, time) index also carries the latency, so the usage report's p50 /
  p95 read the index alone.
- ``usage_stored_chunks``: chunks per workspace, kept by triggers on ``chunks`` in the writing
  transaction like ``usage_stored_documents`` (row triggers on SQLite, statement triggers over
  transition tables on PostgreSQL), backfilled here.
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

SQLITE_TRIGGERS = [
    """CREATE TRIGGER usage_chunks_insert AFTER INSERT ON chunks BEGIN
         INSERT OR IGNORE INTO usage_stored_chunks (workspace_id, chunks) VALUES (NEW.workspace_id, 0);
         UPDATE usage_stored_chunks SET chunks = chunks + 1 WHERE workspace_id = NEW.workspace_id;
       END""",
    """CREATE TRIGGER usage_chunks_delete AFTER DELETE ON chunks BEGIN
         UPDATE usage_stored_chunks SET chunks = chunks - 1 WHERE workspace_id = OLD.workspace_id;
       END""",
    """CREATE TRIGGER usage_chunks_update AFTER UPDATE OF workspace_id ON chunks BEGIN
         UPDATE usage_stored_chunks SET chunks = chunks - 1 WHERE workspace_id = OLD.workspace_id;
         INSERT OR IGNORE INTO usage_stored_chunks (workspace_id, chunks) VALUES (NEW.workspace_id, 0);
         UPDATE usage_stored_chunks SET chunks = chunks + 1 WHERE workspace_id = NEW.workspace_id;
       END""",
]
POSTGRES_FUNCTION = """
CREATE FUNCTION usage_chunks_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE usage_stored_chunks AS u SET chunks = u.chunks - gone.n
      FROM (SELECT workspace_id, count(*) AS n FROM old_rows GROUP BY workspace_id) AS gone
     WHERE u.workspace_id = gone.workspace_id;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO usage_stored_chunks AS u (workspace_id, chunks)
    SELECT workspace_id, count(*) FROM new_rows GROUP BY workspace_id
    ON CONFLICT (workspace_id) DO UPDATE SET chunks = u.chunks + EXCLUDED.chunks;
  END IF;
  RETURN NULL;
END $$"""
# A chunk that changes workspace (nothing does that today) moves by a row trigger limited to that
# column: a statement trigger with transition tables cannot be limited to a column, and
# embedding updates millions of chunk rows.
POSTGRES_MOVE_FUNCTION = """
CREATE FUNCTION usage_chunks_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE usage_stored_chunks SET chunks = chunks - 1 WHERE workspace_id = OLD.workspace_id;
  INSERT INTO usage_stored_chunks AS u (workspace_id, chunks) VALUES (NEW.workspace_id, 1)
  ON CONFLICT (workspace_id) DO UPDATE SET chunks = u.chunks + 1;
  RETURN NULL;
END $$"""
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER usage_chunks_insert AFTER INSERT ON chunks REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_chunks_change()",
    "CREATE TRIGGER usage_chunks_delete AFTER DELETE ON chunks REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_chunks_change()",
    "CREATE TRIGGER usage_chunks_update AFTER UPDATE OF workspace_id ON chunks FOR EACH ROW "
    "WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id) EXECUTE FUNCTION usage_chunks_move()",
]
TRIGGERS = ("usage_chunks_insert", "usage_chunks_delete", "usage_chunks_update")


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
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.create_index('ix_query_log_workspace_created_latency', ['workspace_id', 'created_at', 'latency_ms'],
                              unique=False)
        batch_op.drop_index('ix_query_log_workspace_created')
    op.create_table(
        'usage_stored_chunks',
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('chunks', BIGINT, nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                                name=op.f('fk_usage_stored_chunks_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_usage_stored_chunks')),
    )
    op.execute("INSERT INTO usage_stored_chunks (workspace_id, chunks) "
               "SELECT workspace_id, count(*) FROM chunks GROUP BY workspace_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_MOVE_FUNCTION)
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON chunks" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS usage_chunks_change()")
        op.execute("DROP FUNCTION IF EXISTS usage_chunks_move()")
    op.drop_table('usage_stored_chunks')
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.create_index('ix_query_log_workspace_created', ['workspace_id', 'created_at'], unique=False)
        batch_op.drop_index('ix_query_log_workspace_created_latency')
    op.drop_table('audit_checkpoints')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('expired_at')
