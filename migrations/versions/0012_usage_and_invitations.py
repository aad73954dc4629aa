"""usage and invitations: stored-documents rollup kept by triggers, API calls per key and hour,
invitations

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 11:30:00

- ``usage_stored_documents``: documents and bytes of title + content per (workspace, origin),
  kept by triggers on ``documents`` in the writing transaction (row triggers on SQLite,
  statement triggers over transition tables on PostgreSQL, so a 5,000-row upsert updates the
  rollup once per origin, not 5,000 times), backfilled here from the documents already stored.
- ``usage_api_calls``: calls (and refused calls) per API key and UTC hour.
- ``invitations``: an e-mail address invited into a workspace with a role; the token hashed.
"""
from alembic import op
import sqlalchemy as sa
import core.types


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

SQLITE_TRIGGERS = [
    """CREATE TRIGGER usage_documents_insert AFTER INSERT ON documents BEGIN
         INSERT OR IGNORE INTO usage_stored_documents (workspace_id, origin_id, documents, text_bytes)
           VALUES (NEW.workspace_id, NEW.origin_id, 0, 0);
         UPDATE usage_stored_documents SET documents = documents + 1,
           text_bytes = text_bytes + length(CAST(NEW.title AS BLOB)) + length(CAST(NEW.content AS BLOB))
           WHERE workspace_id = NEW.workspace_id AND origin_id = NEW.origin_id;
       END""",
    """CREATE TRIGGER usage_documents_delete AFTER DELETE ON documents BEGIN
         UPDATE usage_stored_documents SET documents = documents - 1,
           text_bytes = text_bytes - length(CAST(OLD.title AS BLOB)) - length(CAST(OLD.content AS BLOB))
           WHERE workspace_id = OLD.workspace_id AND origin_id = OLD.origin_id;
       END""",
    """CREATE TRIGGER usage_documents_update AFTER UPDATE OF title, content ON documents BEGIN
         UPDATE usage_stored_documents SET
           text_bytes = text_bytes + length(CAST(NEW.title AS BLOB)) + length(CAST(NEW.content AS BLOB))
                                   - length(CAST(OLD.title AS BLOB)) - length(CAST(OLD.content AS BLOB))
           WHERE workspace_id = NEW.workspace_id AND origin_id = NEW.origin_id;
       END""",
]

# One function for the three statement triggers: what left (old rows) is subtracted, what came
# (new rows) is added, grouped by origin.
POSTGRES_FUNCTION = """
CREATE FUNCTION usage_documents_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE usage_stored_documents AS u
       SET documents = u.documents - gone.n, text_bytes = u.text_bytes - gone.bytes
      FROM (SELECT workspace_id, origin_id, count(*) AS n,
                   sum(octet_length(title) + octet_length(content)) AS bytes
              FROM old_rows GROUP BY workspace_id, origin_id) AS gone
     WHERE u.workspace_id = gone.workspace_id AND u.origin_id = gone.origin_id;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO usage_stored_documents AS u (workspace_id, origin_id, documents, text_bytes)
    SELECT workspace_id, origin_id, count(*), sum(octet_length(title) + octet_length(content))
      FROM new_rows GROUP BY workspace_id, origin_id
    ON CONFLICT (workspace_id, origin_id) DO UPDATE
       SET documents = u.documents + EXCLUDED.documents, text_bytes = u.text_bytes + EXCLUDED.text_bytes;
  END IF;
  RETURN NULL;
END $$"""
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER usage_documents_insert AFTER INSERT ON documents REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_documents_change()",
    "CREATE TRIGGER usage_documents_delete AFTER DELETE ON documents REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_documents_change()",
    "CREATE TRIGGER usage_documents_update AFTER UPDATE ON documents "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_documents_change()",
]


def upgrade():
    op.create_table(
        'usage_stored_documents',
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('origin_id', sa.String(length=40), nullable=False),
        sa.Column('documents', BIGINT, nullable=False),
        sa.Column('text_bytes', BIGINT, nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                                name=op.f('fk_usage_stored_documents_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id', 'origin_id', name=op.f('pk_usage_stored_documents')),
    )
    op.create_table(
        'usage_api_calls',
        sa.Column('api_key_id', sa.String(length=40), nullable=False),
        sa.Column('hour', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('calls', BIGINT, nullable=False),
        sa.Column('errors', BIGINT, nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                                name=op.f('fk_usage_api_calls_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('api_key_id', 'hour', name=op.f('pk_usage_api_calls')),
    )
    with op.batch_alter_table('usage_api_calls', schema=None) as batch_op:
        batch_op.create_index('ix_usage_api_calls_workspace_hour', ['workspace_id', 'hour'], unique=False)
    op.create_table(
        'invitations',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('invited_by_user_id', sa.String(length=40), nullable=True),
        sa.Column('invited_by_api_key_id', sa.String(length=40), nullable=True),
        sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_sent_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('send_count', sa.Integer(), nullable=False),
        sa.Column('accepted_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('accepted_by_user_id', sa.String(length=40), nullable=True),
        sa.Column('revoked_at', core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_invitations_workspace_id_workspaces'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by_user_id'], ['users.id'],
                                name=op.f('fk_invitations_invited_by_user_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['accepted_by_user_id'], ['users.id'],
                                name=op.f('fk_invitations_accepted_by_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash')),
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_workspace_email', ['workspace_id', 'email'], unique=False)

    op.execute("INSERT INTO usage_stored_documents (workspace_id, origin_id, documents, text_bytes) "
               "SELECT workspace_id, origin_id, count(*), "
               + ("sum(octet_length(title) + octet_length(content))" if op.get_bind().dialect.name == "postgresql"
                  else "sum(length(CAST(title AS BLOB)) + length(CAST(content AS BLOB)))")
               + " FROM documents GROUP BY workspace_id, origin_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    for name in ("usage_documents_insert", "usage_documents_delete", "usage_documents_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON documents" if op.get_bind().dialect.name == "postgresql"
                                                        else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS usage_documents_change()")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_workspace_email')
    op.drop_table('invitations')
    with op.batch_alter_table('usage_api_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_api_calls_workspace_hour')
    op.drop_table('usage_api_calls')
    op.drop_table('usage_stored_documents')
