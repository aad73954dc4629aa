"""lexical search stems English words on SQLite too (FTS5 porter), like PostgreSQL's 'english'

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:00:00

"invoice" then finds "invoices" on both databases. Quoted phrases stay exact: the query
re-checks their words with a regular expression on both (knowledge/search.py).
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TRIGGERS = [
    "CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END",
]


def _recreate(tokenize: str) -> None:
    for name in ("chunks_fts_update", "chunks_fts_delete", "chunks_fts_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS chunks_fts")
    op.execute(f"CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id', "
               f"tokenize='{tokenize}')")
    for statement in TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _recreate("porter unicode61 remove_diacritics 2")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _recreate("unicode61 remove_diacritics 2")
