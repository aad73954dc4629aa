"""The ingest write path (``knowledge.ingest``): on SQLite, rows are written as plain SQL with
values already in their stored form (``_SQLiteRows``); that must store exactly what SQLAlchemy's
Core statements (the path PostgreSQL keeps) store, and read back through the ORM as sent.
``content_hash`` is assembled by hand from the JSON encoder's pieces: it must equal the
original definition byte for byte (stored hashes stay valid)."""
import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.base import DocumentData
from core.extensions import db
from core.timeutil import isoformat
from knowledge import ingest
from knowledge.models import Chunk, Document, VectorStore

CET = timezone(timedelta(hours=1))
NEPAL = timezone(timedelta(hours=5, minutes=45))

DOCS = [
    DocumentData(external_id="plain", title="Plain", content="Body", type="task"),
    DocumentData(external_id="unicodé ✓", title="Ünïcödé — “quotes” 🚀", content="naïve café\n\t\"x\" \u2028 𝔘 end",
                 type="note", url="https://example.com/ü?q=1&r=2", author="Zoë <zoe@example.com>",
                 created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                 updated_at=datetime(2026, 4, 13, 10, 30, 0, 123456, tzinfo=CET),
                 metadata={"zeta": 1, "alpha": {"ß": ["ü", None, True, 2.5, -0.0]}, "empty": {}, "none": None}),
    DocumentData(external_id="nones", title="", content="only content", type="document", url=None, author=None,
                 created_at=None, updated_at=datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=NEPAL),
                 metadata={}),
    DocumentData(external_id="same-instant", title="T", content="C", type="task",
                 created_at=datetime(2026, 1, 2, 4, 4, 5, tzinfo=CET),  # the instant of "unicodé ✓"'s
                 updated_at=datetime(2026, 4, 13, 9, 30, 0, 123456, tzinfo=timezone.utc),
                 metadata={"list": [1, 2, 3], "big": 2 ** 70, "float": 1e-300}),
    DocumentData(external_id="old", title="Early", content="x", type="task",
                 created_at=datetime(1, 1, 1, 0, 0, 0, tzinfo=timezone.utc),
                 updated_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), metadata=None),
]
READ_BACK = ("external_id", "type", "title", "content", "author", "url", "metadata_", "content_hash",
             "source_created_at", "source_updated_at", "seen_generation", "needs_chunking", "workspace_id",
             "origin_id", "vector_store_id", "connection_id", "channel", "source")


def _reference_hash(doc: DocumentData) -> str:
    """content_hash as first defined: json.dumps of the whole array."""
    payload = json.dumps([doc.title, doc.content, doc.type, doc.url, doc.author, isoformat(doc.created_at),
                          isoformat(doc.updated_at), doc.metadata], sort_keys=True, default=str,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def test_content_hash_is_the_original_definition():
    odd = [
        DocumentData(external_id="n", title=7, content=None, type="t", metadata={"d": date(2026, 1, 2)}),
        DocumentData(external_id="d", title="x", content="y", type="t",
                     metadata={"when": datetime(2026, 1, 1, tzinfo=CET), "n": Decimal("1.5")}),
        DocumentData(external_id="s", title="x", content="y", type="t", metadata="a string"),
        DocumentData(external_id="l", title="x", content="y", type="t", metadata=[{"b": 1, "a": 2}]),
    ]
    for doc in DOCS + odd:
        assert ingest.content_hash(doc) == _reference_hash(doc), doc.external_id
    # Key order does not matter; any change of a field does.
    a = DocumentData(external_id="k", title="t", content="c", type="x", metadata={"a": 1, "b": {"y": 1, "x": 2}})
    b = DocumentData(external_id="k", title="t", content="c", type="x", metadata={"b": {"x": 2, "y": 1}, "a": 1})
    assert ingest.content_hash(a) == ingest.content_hash(b)
    for change in ({"title": "t2"}, {"content": "c2"}, {"type": "y"}, {"url": "u"}, {"author": "a"},
                   {"created_at": datetime(2026, 1, 1, tzinfo=timezone.utc)},
                   {"updated_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}, {"metadata": {"a": 2}}):
        assert ingest.content_hash(DocumentData(**{**a.__dict__, **change})) != ingest.content_hash(a), change


def test_content_hash_errors_as_before():
    circular: dict = {}
    circular["self"] = circular
    doc = DocumentData(external_id="c", title="t", content="c", type="x", metadata=circular)
    with pytest.raises(ValueError, match="Circular reference"):
        ingest.content_hash(doc)
    mixed = DocumentData(external_id="m", title="t", content="c", type="x", metadata={1: "a", "b": 2})
    with pytest.raises(TypeError):
        ingest.content_hash(mixed)


@pytest.fixture
def store(app, workspace):
    from knowledge import stores
    from tests.factories import user_actor_for

    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        created = stores.create_store(user_actor_for(ws, user), "fastpath")
        return ws.id, created.id


def _scope(store, namespace):
    workspace_id, store_id = store
    return ingest.Scope(workspace_id=workspace_id, origin_id=store_id, vector_store_id=store_id,
                        namespace=namespace, source="pipeline")


def _raw_rows(namespace) -> dict[str, dict]:
    """The stored rows as the database holds them (no type processing), by external id."""
    columns = [c for c in ingest.COLUMNS if c not in ("id", "namespace", "created_at", "updated_at")]
    result = db.session.connection().exec_driver_sql(
        f"SELECT {', '.join(columns)} FROM documents WHERE namespace = ?", (namespace,))
    rows = [dict(zip(columns, row)) for row in result]
    return {row["external_id"]: row for row in rows}


def _upsert(scope, docs, monkeypatch, *, fast: bool, **kwargs):
    with monkeypatch.context() as patch:
        if not fast:  # the Core statements, with SQLAlchemy's own parameter processing
            patch.setattr(ingest._SQLiteRows, "get", classmethod(lambda cls, dialect: None))
        return ingest.upsert(scope, docs, **kwargs)


def _changed(doc: DocumentData) -> DocumentData:
    return DocumentData(**{**doc.__dict__, "content": (doc.content or "") + " (changed ✓)",
                           "metadata": {**(doc.metadata or {}), "version": 2}})


def test_fast_path_is_used_on_sqlite(app):
    with app.app_context():
        dialect = db.session.connection().dialect
        assert (ingest._SQLiteRows.get(dialect) is not None) == (dialect.name == "sqlite")


def test_fast_path_stores_what_sqlalchemy_stores(app, store, monkeypatch):
    with app.app_context():
        if db.session.connection().dialect.name != "sqlite":
            pytest.skip("the plain-SQL path is SQLite's")
        fast, core = _scope(store, "fast"), _scope(store, "core")
        assert _upsert(fast, DOCS, monkeypatch, fast=True, generation="gen1").created == len(DOCS)
        assert _upsert(core, DOCS, monkeypatch, fast=False, generation="gen1").created == len(DOCS)
        db.session.commit()
        stored_fast, stored_core = _raw_rows("fast"), _raw_rows("core")
        assert stored_fast == stored_core and len(stored_fast) == len(DOCS)
        created = db.session.connection().exec_driver_sql(
            "SELECT namespace, created_at, updated_at FROM documents WHERE namespace IN ('fast', 'core')").all()
        for _namespace, created_at, updated_at in created:  # DATETIME text as SQLAlchemy writes it
            assert created_at == updated_at
            assert datetime.strptime(created_at, "%Y-%m-%d %H:%M:%S.%f")

        # Updates: every column rewritten the same way (and the generation's handling kept).
        changed = [_changed(doc) for doc in DOCS]
        assert _upsert(fast, changed, monkeypatch, fast=True, generation="gen2").updated == len(DOCS)
        assert _upsert(core, changed, monkeypatch, fast=False, generation="gen2").updated == len(DOCS)
        db.session.commit()
        assert _raw_rows("fast") == _raw_rows("core")
        assert _raw_rows("fast") != stored_fast


def test_update_of_a_record_that_moved_channel(app, store, monkeypatch):
    """The update rewrites the scope columns too: a stored row whose channel (or connection,
    source) differs from the writing scope's ends up with the scope's, on both paths."""
    with app.app_context():
        if db.session.connection().dialect.name != "sqlite":
            pytest.skip("the plain-SQL path is SQLite's")
        workspace_id, store_id = store
        for namespace, fast in (("moved-fast", True), ("moved-core", False)):
            def scope(channel, source="pipeline"):
                return ingest.Scope(workspace_id=workspace_id, origin_id=store_id, vector_store_id=store_id,
                                    namespace=namespace, source=source, channel=channel)

            _upsert(scope("c1"), DOCS[:2], monkeypatch, fast=fast)
            _upsert(scope("c2"), DOCS[2:], monkeypatch, fast=fast)
            result = _upsert(scope("c2", "github"), [_changed(doc) for doc in DOCS], monkeypatch, fast=fast)
            assert (result.created, result.updated) == (0, len(DOCS))
            # All rows already in the scope: the narrow update alone.
            result = _upsert(scope("c2", "github"), [_changed(_changed(doc)) for doc in DOCS], monkeypatch, fast=fast)
            assert result.updated == len(DOCS)
        db.session.commit()
        moved_fast, moved_core = _raw_rows("moved-fast"), _raw_rows("moved-core")
        assert moved_fast == moved_core
        assert {(row["channel"], row["source"]) for row in moved_fast.values()} == {("c2", "github")}


def test_written_rows_read_back_as_sent(app, store, monkeypatch):
    """Whichever path the database uses: the ORM reads every value back as sent."""
    with app.app_context():
        scope = _scope(store, "readback")
        before = datetime.now(timezone.utc)
        result = ingest.upsert(scope, DOCS)
        db.session.commit()
        assert (result.created, result.updated, result.unchanged) == (len(DOCS), 0, 0)
        _check_read_back(store, "readback", DOCS, before)

        # A changed document is rewritten, marked for chunking again and loses its chunks.
        document = db.session.scalar(select(Document).where(Document.namespace == "readback",
                                                            Document.external_id == "plain"))
        document.needs_chunking = False
        db.session.add(Chunk(document_id=document.id, workspace_id=store[0], vector_store_id=store[1],
                             position=0, text="old", start=0, end=3, token_count=1))
        db.session.commit()
        changed = [_changed(DOCS[0])] + DOCS[1:]
        before = datetime.now(timezone.utc)
        result = ingest.upsert(scope, changed)
        db.session.commit()
        assert (result.created, result.updated, result.unchanged) == (0, 1, len(DOCS) - 1)
        assert db.session.scalar(select(Chunk).where(Chunk.document_id == document.id)) is None
        _check_read_back(store, "readback", changed, before, only={"plain"})
        # Unchanged: nothing written.
        assert ingest.upsert(scope, changed).unchanged == len(DOCS)


def _check_read_back(store, namespace, docs, before, only=None):
    db.session.expire_all()
    stored = {d.external_id: d for d in db.session.scalars(select(Document).where(Document.namespace == namespace))}
    assert set(stored) == {doc.external_id for doc in docs}
    for doc in docs:
        if only is not None and doc.external_id not in only:
            continue
        row = stored[doc.external_id]
        assert (row.title, row.content, row.type, row.url, row.author) == \
               (doc.title or "", doc.content or "", doc.type, doc.url, doc.author)
        assert row.metadata_ == (doc.metadata or {}) and type(row.metadata_) is dict
        for sent, read in ((doc.created_at, row.source_created_at), (doc.updated_at, row.source_updated_at)):
            if sent is None:
                assert read is None
            else:
                assert read == sent and read.tzinfo is not None and read.utcoffset() == timedelta(0)
                assert read.microsecond == sent.microsecond
        assert row.content_hash == _reference_hash(doc)
        assert row.needs_chunking is True and row.seen_generation is None
        assert (row.workspace_id, row.origin_id, row.vector_store_id, row.source) == (store[0], store[1], store[1],
                                                                                     "pipeline")
        assert row.connection_id is None and row.channel is None
        assert before <= row.updated_at <= datetime.now(timezone.utc) and row.created_at.tzinfo is not None
        assert row.id.startswith("doc_") and len(row.id) == 20
    assert db.session.get(VectorStore, store[1]) is not None


def test_naive_datetime_is_still_refused(app, store):
    with app.app_context():
        doc = DocumentData(external_id="naive", title="t", content="c", type="x", created_at=datetime(2026, 1, 1))
        with pytest.raises(Exception, match="naive datetime"):
            ingest.upsert(_scope(store, "naive"), [doc])
        db.session.rollback()


def _many(count: int, version: int = 0) -> list[DocumentData]:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [DocumentData(external_id=f"rec-{i}", title=f"Record {i} ✓" if i % 3 else "", content=f"body {i} v{version}",
                         type="task", url=None if i % 2 else f"https://example.com/{i}",
                         author=None if i % 5 == 0 else "Zoë", created_at=base + timedelta(days=i % 4),
                         updated_at=None if i % 7 == 0 else base + timedelta(minutes=i, microseconds=i),
                         metadata={"i": i, "v": version, "tags": ["ü", i % 3]} if i % 4 else {})
            for i in range(count)]


def test_batches_written_while_the_next_is_prepared(app, store, monkeypatch):
    """Many statements of a few rows each (the batches a worker thread prepares while SQLite
    writes): the same rows as the Core statements, inserts, updates and unchanged mixed."""
    with app.app_context():
        if db.session.connection().dialect.name != "sqlite":
            pytest.skip("the plain-SQL path is SQLite's")
        monkeypatch.setattr(ingest._SQLiteRows, "_max_params", staticmethod(lambda connection: 100))  # 4 rows
        for namespace, fast in (("batches-fast", True), ("batches-core", False)):
            scope = _scope(store, namespace)
            assert _upsert(scope, _many(60)[::2], monkeypatch, fast=fast, generation="g1").created == 30
            mixed = [doc if i % 3 else _many(60, version=1)[i] for i, doc in enumerate(_many(60))]
            result = _upsert(scope, mixed, monkeypatch, fast=fast, generation="g2")
            assert (result.created, result.updated, result.unchanged) == (30, 10, 20)
            moved = ingest.Scope(**{**scope.__dict__, "channel": "elsewhere"})
            result = _upsert(moved, _many(60, version=2)[:13], monkeypatch, fast=fast, generation="g3")
            assert (result.created, result.updated, result.unchanged) == (0, 13, 0)
            assert ingest.keep_only(scope, {f"rec-{i}" for i in range(0, 60, 5)}) == 60 - 12
        db.session.commit()
        fast_rows, core_rows = _raw_rows("batches-fast"), _raw_rows("batches-core")
        assert fast_rows == core_rows and len(fast_rows) == 12


def test_new_ids_look_like_new_id():
    import re

    from core.ids import new_id

    shape = re.compile(r"doc_[a-z2-7]{16}")
    ids = ingest._new_ids(3000)
    assert len(set(ids)) == 3000 and all(shape.fullmatch(id_) for id_ in ids)
    assert shape.fullmatch(new_id("doc"))
    assert set("".join(id_[4:] for id_ in ids)) == set("abcdefghijklmnopqrstuvwxyz234567")
    assert ingest._new_ids(0) == []


def test_a_large_page_in_growing_batches(app, store, monkeypatch):
    """800 documents: batches of 256 then 512 (prepared on the worker thread), as stored by Core."""
    with app.app_context():
        if db.session.connection().dialect.name != "sqlite":
            pytest.skip("the plain-SQL path is SQLite's")
        for namespace, fast in (("large-fast", True), ("large-core", False)):
            scope = _scope(store, namespace)
            assert _upsert(scope, _many(800)[:500], monkeypatch, fast=fast).created == 500
            result = _upsert(scope, _many(800, version=1)[:250] + _many(800)[250:], monkeypatch, fast=fast)
            assert (result.created, result.updated, result.unchanged) == (300, 250, 250)
        db.session.commit()
        fast_rows = _raw_rows("large-fast")
        assert fast_rows == _raw_rows("large-core") and len(fast_rows) == 800
