"""knowledge.indexes: a store's faiss index kept current from the chunk change log.

Catch-up reconciles the chunks the log names against the chunks table, so replaying is
harmless; out-of-order commits (PostgreSQL) leave gaps the index waits on before moving its
persisted position past them. Vectors here are random unit vectors: these tests are about
bookkeeping, not retrieval quality (tests/knowledge/test_query.py covers that).
"""
import time

import numpy as np
import pytest
from sqlalchemy import insert

from core.extensions import db
from core.timeutil import utcnow
from knowledge import indexes
from knowledge.embeddings import configured_model_name
from knowledge.indexes import ChunkAttributes, Filters
from knowledge.models import Chunk, ChunkChange, Document, VectorStore
from tests.factories import make_workspace

DIM = 384
RNG = np.random.default_rng(7)


@pytest.fixture
def store(app, ctx):
    workspace, _ = make_workspace("Acme")
    store = VectorStore(workspace_id=workspace.id, name="kb", is_default=False)
    db.session.add(store)
    db.session.commit()
    return store


def vector():
    v = RNG.standard_normal(DIM).astype("<f4")
    return v / np.linalg.norm(v)


def add_chunk(store, *, source="pipeline", type_="note", author=None, model=None, log=True, version=None):
    """A document with one embedded chunk (and its `add` row in the change log)."""
    document = Document(workspace_id=store.workspace_id, origin_id=store.id, vector_store_id=store.id,
                        namespace="n", external_id=f"d{time.monotonic_ns()}", source=source, type=type_,
                        author=author, title="t", content="c", content_hash="h", metadata_={},
                        needs_chunking=False)
    db.session.add(document)
    db.session.flush()
    v = vector()
    chunk = Chunk(document_id=document.id, workspace_id=store.workspace_id, vector_store_id=store.id, position=0,
                  text="t", start=0, end=1, token_count=1, embedding=v.tobytes(),
                  model=model or configured_model_name(), embedded_at=utcnow())
    db.session.add(chunk)
    db.session.flush()
    if log:
        log_change(store, chunk.id, "add", version=version)
    db.session.commit()
    return chunk.id, v


def log_change(store, chunk_id, op, version=None):
    row = {"vector_store_id": store.id, "chunk_id": chunk_id, "op": op, "created_at": utcnow()}
    if version is not None:
        row["version"] = version
    db.session.execute(insert(ChunkChange.__table__), [row])
    db.session.commit()


def nearest(entry, v):
    ids, _ = entry.index.search(v, 1)
    return int(ids[0])


def test_a_new_index_is_built_from_the_stored_embeddings_and_follows_the_log(app, store):
    a, va = add_chunk(store)
    entry = indexes.manager(app).get(store.id)
    assert len(entry.index) == 1 and nearest(entry, va) == a
    b, vb = add_chunk(store)
    entry = indexes.manager(app).get(store.id)  # catches up
    assert len(entry.index) == 2 and nearest(entry, vb) == b
    db.session.delete(db.session.get(Chunk, a))  # the trigger logs the removal
    db.session.commit()
    entry = indexes.manager(app).get(store.id)
    assert len(entry.index) == 1 and a not in entry.index


def test_replaying_the_log_is_harmless(app, store):
    a, va = add_chunk(store)
    entry = indexes.manager(app).get(store.id)
    log_change(store, a, "add")  # the same chunk named again
    log_change(store, a, "remove")  # a stale "remove": the chunk still exists, so it stays
    entry.catch_up()
    assert len(entry.index) == 1 and nearest(entry, va) == a


def test_chunks_of_another_model_are_not_indexed(app, store):
    add_chunk(store, model="some-other-model")
    entry = indexes.manager(app).get(store.id)
    assert len(entry.index) == 0


def test_a_version_committed_after_a_higher_one_is_still_applied(app, store):
    """PostgreSQL hands out versions at insert time: 12 can commit before 11. SQLite commits one
    writer at a time, in version order, so this cannot happen there (and is not read for)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("out-of-order commits only exist on PostgreSQL")
    entry = indexes.manager(app).get(store.id)
    a, _ = add_chunk(store, version=10_010)
    c, _ = add_chunk(store, version=10_012)
    entry.catch_up()
    assert {a, c} <= set(entry.index._state.live_ids().tolist()) and entry.applied == 10_012
    b, _ = add_chunk(store, version=10_011)  # committed late
    assert entry.catch_up() == 1  # only the new one: applied versions are skipped
    assert b in entry.index
    # Nothing is old enough to be settled yet: the saved position stays below the window.
    assert entry.index.version < 10_010


def test_the_saved_position_is_settled_past_the_window(app, store, monkeypatch):
    manager = indexes.manager(app)
    entry = manager.get(store.id)
    a, _ = add_chunk(store)
    entry.catch_up()
    monkeypatch.setattr(indexes, "GAP_GRACE_SECONDS", 0.0)
    time.sleep(0.01)
    entry.catch_up()
    assert entry.index.version == entry.applied  # SQLite at once; PostgreSQL once past the window
    manager.maintain(force_save=True)
    manager.forget_all()
    b, vb = add_chunk(store)  # logged after the save: the loaded index catches up to it
    entry = manager.get(store.id)
    assert a in entry.index and b in entry.index and nearest(entry, vb) == b


def test_filters_become_allowed_ids_inside_the_search(app, store):
    manager = indexes.manager(app)
    ids = {}
    for source, type_, author in [("slack", "message", "Alice"), ("github", "issue", "bob"),
                                  ("slack", "message", "bob"), ("notion", "page", None)]:
        ids[(source, type_, author)], _ = add_chunk(store, source=source, type_=type_, author=author)
    entry = manager.get(store.id)
    allowed = lambda **f: set(entry.attributes.allowed(Filters(**f)).tolist())  # noqa: E731
    assert allowed(sources=("slack",)) == {ids[("slack", "message", "Alice")], ids[("slack", "message", "bob")]}
    assert allowed(authors=("alice",)) == {ids[("slack", "message", "Alice")]}
    assert allowed(sources=("slack",), authors=("BOB",)) == {ids[("slack", "message", "bob")]}
    assert allowed(types=("Page",)) == {ids[("notion", "page", None)]}
    assert allowed(sources=("jira",)) == set()
    # A filtered search returns only allowed chunks, as many as exist.
    found, _ = entry.index.search(vector(), 10, allowed_ids=entry.attributes.allowed(Filters(sources=("slack",))))
    assert set(found.tolist()) == allowed(sources=("slack",))


def test_chunk_attributes_reuse_rows_and_grow():
    attributes = ChunkAttributes()
    for i in range(3000):
        attributes.set(i, "s", "t", None, "n", 0.0)
    for i in range(0, 3000, 2):
        attributes.discard(i)
    assert len(attributes) == 1500
    for i in range(5000, 5500):
        attributes.set(i, "s", "t", None, "n", 0.0)
    assert len(attributes) == 2000 and len(attributes.ids) == 4096  # freed rows reused
    assert set(attributes.allowed(Filters()).tolist()) == set(range(1, 3000, 2)) | set(range(5000, 5500))


def test_an_allowed_set_is_kept_until_the_next_write_and_a_revoked_reader_loses_it_at_once():
    """The filter cache: the same member's next query gets the same read-only set (and the
    vector index the same selector for it); a chunk whose access list changes, or that leaves,
    changes the next answer."""
    from knowledge.index import VectorIndex

    attributes = ChunkAttributes()
    for chunk_id in range(1, 4001):
        attributes.set(chunk_id, "github", "issue", None, "ns", 0.0, access=7 if chunk_id % 2 else 8)
    member = Filters(access=frozenset({0, 7}))
    first = attributes.allowed(member)
    assert attributes.allowed(Filters(access=frozenset({0, 7}))) is first and not first.flags.writeable
    assert set(first.tolist()) == set(range(1, 4001, 2))
    index = VectorIndex(8, model="test")
    rng = np.random.default_rng(0)
    index.upsert(np.arange(1, 4001), rng.normal(size=(4000, 8)).astype(np.float32))
    query = rng.normal(size=8).astype(np.float32)
    kept_ids, kept_scores = index.search(query, 10, allowed_ids=first)     # 2,000 allowed: a selector
    assert index._selector_for(first, 4000)[0] is index._selector_for(first, 4000)[0]
    copied_ids, copied_scores = index.search(query, 10, allowed_ids=np.array(first))
    assert kept_ids.tolist() == copied_ids.tolist() and set(kept_ids.tolist()) <= set(first.tolist())
    attributes.set(1, "github", "issue", None, "ns", 0.0, access=8)     # its reader revoked
    attributes.discard(3)
    after = attributes.allowed(member)
    assert after is not first and set(after.tolist()) == set(range(5, 4001, 2))
    assert set(first.tolist()) == set(range(1, 4001, 2))        # a set handed out never changes


@pytest.mark.parametrize("wanted", [1, 3, 4, 5, 9, 12])
def test_allowed_ids_match_a_plain_python_filter_for_any_number_of_values(wanted):
    """Few wanted values take equality passes, many a lookup table: both the same as Python's."""
    import random

    rng = random.Random(wanted)
    attributes = ChunkAttributes()
    rows = {}
    for chunk_id in range(2000):
        row = (f"source{rng.randrange(10)}", rng.choice(["doc", "Message", "issue"]),
               rng.choice([None, *[f"User{k}@x.io" for k in range(15)]]), f"ns{rng.randrange(3)}",
               float(rng.randrange(100)))
        rows[chunk_id] = row
        attributes.set(chunk_id, *row)
    for chunk_id in range(0, 2000, 7):
        attributes.discard(chunk_id)
        del rows[chunk_id]
    sources = tuple(f"source{k}" for k in range(wanted)) + ("never-seen",)
    authors = tuple(f"user{k}@x.io" for k in range(wanted))  # matched case-insensitively
    cases = [
        (Filters(sources=sources), lambda r: r[0] in sources),
        (Filters(authors=authors), lambda r: r[2] is not None and r[2].lower() in authors),
        (Filters(sources=sources, types=("message",), namespaces=("ns1", "ns2")),
         lambda r: r[0] in sources and r[1].lower() == "message" and r[3] in ("ns1", "ns2")),
    ]
    for filters, keep in cases:
        expected = {chunk_id for chunk_id, row in rows.items() if keep(row)}
        assert set(attributes.allowed(filters).tolist()) == expected


def test_building_reads_the_chunks_in_id_order_pages_without_sorting_the_store(app, store):
    """Each page of a build is a range of the chunks table's own b-tree (SQLite's plan once
    picked the store's index and sorted all its chunks for every page: minutes at 1M)."""
    from sqlalchemy import event

    ids = sorted(add_chunk(store)[0] for _ in range(5))
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "chunks.id >" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        rows = indexes._attribute_rows(store_id=store.id, model=configured_model_name(), after_id=ids[1],
                                       with_vectors=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [r.id for r in rows] == ids[2:]
    if db.engine.dialect.name != "sqlite":
        return
    statement, parameters = statements[-1]
    plan = " | ".join(str(row[-1]) for row in db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + statement, parameters))
    assert "SEARCH chunks USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_a_deleted_store_is_dropped_with_its_files(app, store):
    manager = indexes.manager(app)
    add_chunk(store)
    manager.get(store.id)
    manager.maintain(force_save=True)
    assert list(manager.directory.glob(f"{store.id}*"))
    db.session.delete(db.session.get(VectorStore, store.id))
    db.session.commit()
    manager.maintain()
    assert manager.loaded() == [] and not list(manager.directory.glob(f"{store.id}*"))


def test_a_large_store_is_built_in_the_background(app, store, monkeypatch):
    monkeypatch.setattr(indexes, "SYNC_BUILD_LIMIT", 0)
    a, va = add_chunk(store)
    manager = indexes.manager(app)
    first = manager.get(store.id)
    assert first is None or a in first.index
    deadline = time.monotonic() + 10
    entry = first
    while entry is None and time.monotonic() < deadline:
        time.sleep(0.05)
        entry = manager.get(store.id) if not manager.building(store.id) else None
    assert entry is not None and nearest(entry, va) == a


def test_maintenance_gives_a_loaded_hnsw_index_its_reduced_copy_again(app, store, monkeypatch):
    """The reduced copy of a large HNSW index is not saved: after a load, the next maintenance
    pass makes it (searches meanwhile take plain brute force)."""
    from knowledge import index as vector_index

    monkeypatch.setitem(app.config, "INDEX_HNSW_THRESHOLD", 20)
    monkeypatch.setattr(vector_index, "REDUCED_MIN_LIVE", 40)
    for _ in range(50):
        add_chunk(store)
    manager = indexes.manager(app)
    built = manager.get(store.id, wait=True)
    assert built.index.mode == "hnsw" and built.index.stats()["reduced_dim"] == 96  # the build made it
    manager.maintain(force_save=True)
    manager.forget_all()
    loaded = manager.get(store.id)
    assert loaded is not built and loaded.index.stats()["reduced_dim"] is None and loaded.index.needs_reduction
    manager.maintain()
    assert loaded.index.stats()["reduced_dim"] == 96 and not loaded.index.needs_reduction
