"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core.extensions import db
from core.schema import include_object


def test_no_drift_between_models_and_migrations(app, ctx):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], diff


def test_removing_an_embedded_chunk_is_logged_even_through_a_cascade(app, ctx):
    from knowledge.models import Chunk, ChunkChange, Document
    from tests.factories import make_workspace
    from core.timeutil import utcnow

    ws, _ = make_workspace("Acme")
    document = Document(workspace_id=ws.id, origin_id="vs_x", vector_store_id="vs_x", namespace="n",
                        external_id="1", source="pipeline", type="document", title="t", content="c",
                        content_hash="h", metadata_={})
    db.session.add(document)
    db.session.flush()
    embedded = Chunk(document_id=document.id, workspace_id=ws.id, vector_store_id="vs_x", position=0, text="c",
                     start=0, end=1, token_count=1, embedding=b"\0" * 4, embedded_at=utcnow())
    pending = Chunk(document_id=document.id, workspace_id=ws.id, vector_store_id="vs_x", position=1, text="d",
                    start=1, end=2, token_count=1)
    db.session.add_all([embedded, pending])
    db.session.commit()
    embedded_id = embedded.id
    db.session.execute(text("DELETE FROM documents"))  # chunks go by ON DELETE CASCADE
    db.session.commit()
    changes = db.session.scalars(db.select(ChunkChange)).all()
    assert [(c.chunk_id, c.op, c.vector_store_id) for c in changes] == [(embedded_id, "remove", "vs_x")]
