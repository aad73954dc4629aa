"""The embedding queue over the chunks table: claims, storing vectors with their change-log
rows, model changes, the backlog, and the background worker.

The real model embeds here (short texts: milliseconds). Only the tests about queue mechanics
alone (exclusive claims across threads) do without it.
"""
import threading
import time
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select, text, update

from core.extensions import db
from core.timeutil import utcnow
from knowledge import embedding_queue as queue
from knowledge.embeddings import DEFAULT_MODEL, get_embedder, minilm_model_dir
from knowledge.models import Chunk, ChunkChange, Document, VectorStore
from tests.factories import make_workspace
from tests.polling import wait_for


def make_store(workspace, name="default", is_default=True):
    store = VectorStore(workspace_id=workspace.id, name=name, is_default=is_default)
    db.session.add(store)
    db.session.commit()
    return store


def make_chunks(store, texts, *, external_id=None):
    """One document of ``store`` with a pending chunk per text; returns the chunk ids in order."""
    document = Document(workspace_id=store.workspace_id, origin_id=store.id, vector_store_id=store.id,
                        namespace="notes", external_id=external_id or f"doc-{time.monotonic_ns()}",
                        source="pipeline", type="document", title="t", content="\n".join(texts),
                        content_hash="h", metadata_={}, needs_chunking=False)
    db.session.add(document)
    db.session.flush()
    chunks = [Chunk(document_id=document.id, workspace_id=store.workspace_id, vector_store_id=store.id,
                    position=i, text=t, start=0, end=len(t), token_count=len(t.split()))
              for i, t in enumerate(texts)]
    db.session.add_all(chunks)
    db.session.commit()
    return [c.id for c in chunks]


def changes():
    return [(c.chunk_id, c.op, c.vector_store_id)
            for c in db.session.scalars(select(ChunkChange).order_by(ChunkChange.version))]


def chunk(chunk_id):
    db.session.expire_all()
    return db.session.get(Chunk, chunk_id)


@pytest.fixture
def store(app, ctx):
    workspace, _ = make_workspace("Acme")
    return make_store(workspace)


# -- claiming -----------------------------------------------------------------------------------

def test_a_claim_takes_the_oldest_pending_chunks_and_stamps_them(store):
    ids = make_chunks(store, [f"chunk {i}" for i in range(10)])
    claimed = queue.claim_batch(size=4, worker_id="w1")
    assert [c.id for c in claimed] == ids[:4]
    assert {c.vector_store_id for c in claimed} == {store.id}
    assert [c.text for c in claimed] == [f"chunk {i}" for i in range(4)]
    assert all(chunk(i).claimed_at is not None for i in ids[:4])
    assert all(chunk(i).claimed_at is None for i in ids[4:])
    # The next claim skips the claimed ones; embedded chunks are never claimed.
    db.session.execute(update(Chunk).where(Chunk.id == ids[4]).values(embedded_at=utcnow(), model=DEFAULT_MODEL))
    db.session.commit()
    assert [c.id for c in queue.claim_batch(size=4)] == ids[5:9]
    assert [c.id for c in queue.claim_batch(size=4)] == ids[9:]
    assert queue.claim_batch(size=4) == []


def test_a_claim_can_be_limited_to_one_vector_store(store):
    other = make_store(_workspace_of(store), name="other", is_default=False)
    mine = make_chunks(store, ["a", "b"])
    theirs = make_chunks(other, ["c", "d"])
    assert [c.id for c in queue.claim_batch(other.id, size=10)] == theirs
    assert [c.id for c in queue.claim_batch(size=10)] == mine


def _workspace_of(store):
    from accounts.models import Workspace

    return db.session.get(Workspace, store.workspace_id)


def test_claims_are_exclusive_across_threads(app, store):
    """Queue mechanics: eight threads, each with its own session, claim until nothing is left;
    every chunk is claimed exactly once."""
    ids = make_chunks(store, [f"chunk {i}" for i in range(120)])
    taken: list[list[int]] = []
    errors = []
    start = threading.Barrier(8)

    def claimer(n):
        mine = []
        try:
            with app.app_context():
                start.wait()
                while batch := queue.claim_batch(size=5, worker_id=f"w{n}"):
                    mine.extend(c.id for c in batch)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        taken.append(mine)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    everything = [i for mine in taken for i in mine]
    assert sorted(everything) == ids  # all of them, none twice
    assert sum(1 for mine in taken if mine) > 1  # the work really was shared


def test_a_stale_claim_is_taken_again(app, store):
    ids = make_chunks(store, ["one", "two"])
    assert [c.id for c in queue.claim_batch(size=1)] == ids[:1]
    # A live claim is respected...
    assert [c.id for c in queue.claim_batch(size=5)] == ids[1:]
    assert queue.claim_batch(size=5) == []
    # ...until it is older than the claim timeout: its worker died.
    db.session.execute(update(Chunk).where(Chunk.id == ids[0])
                       .values(claimed_at=utcnow() - timedelta(seconds=app.config["EMBEDDING_CLAIM_TIMEOUT"] + 1)))
    db.session.commit()
    assert [c.id for c in queue.claim_batch(size=5)] == ids[:1]


def test_released_chunks_can_be_claimed_at_once(store):
    ids = make_chunks(store, ["one", "two"])
    claimed = queue.claim_batch(size=5)
    queue.release(c.id for c in claimed)
    assert [c.id for c in queue.claim_batch(size=5)] == ids


# -- storing ------------------------------------------------------------------------------------

def test_embedding_stores_normalised_vectors_and_logs_each_as_added(store):
    texts = ["How do I reset my password?", "Quarterly sales were up 10%.", "Connect GitHub to import issues."]
    ids = make_chunks(store, texts)
    claimed = queue.claim_batch(size=10)
    assert queue.embed_batch(claimed) == 3
    expected = get_embedder().embed(texts)
    for chunk_id, vector in zip(ids, expected):
        row = chunk(chunk_id)
        stored = np.frombuffer(row.embedding, dtype="<f4")
        assert stored.shape == (384,)
        np.testing.assert_allclose(stored, vector, atol=1e-6)
        assert abs(np.linalg.norm(stored) - 1) < 1e-5
        assert row.model == "all-MiniLM-L6-v2"
        assert row.embedded_at is not None and row.claimed_at is None
    assert changes() == [(i, "add", store.id) for i in ids]


def test_the_vectors_and_their_change_log_rows_commit_together(app, store):
    """If the change-log insert fails, no vector is stored either: one transaction."""
    ids = make_chunks(store, ["alpha", "beta"])
    claimed = queue.claim_batch(size=10)
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("CREATE TRIGGER refuse_changes BEFORE INSERT ON chunk_changes "
                                "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        drop = "DROP TRIGGER refuse_changes"
    else:
        db.session.execute(text("CREATE FUNCTION refuse_changes() RETURNS trigger LANGUAGE plpgsql AS "
                                "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"))
        db.session.execute(text("CREATE TRIGGER refuse_changes BEFORE INSERT ON chunk_changes "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_changes()"))
        drop = "DROP TRIGGER refuse_changes ON chunk_changes; DROP FUNCTION refuse_changes()"
    db.session.commit()
    try:
        with pytest.raises(Exception, match="refused"):
            queue.embed_batch(claimed)
        db.session.rollback()
        assert all(chunk(i).embedded_at is None and chunk(i).embedding is None for i in ids)
        assert changes() == []
    finally:
        for statement in drop.split("; "):
            db.session.execute(text(statement))
        db.session.commit()
    # The claim stays until it goes stale (or is released); then the chunks embed normally.
    queue.release(ids)
    assert queue.drain_embeddings(app) == 2
    assert changes() == [(i, "add", store.id) for i in ids]


class Meanwhile:
    """An embedder that, while it embeds, lets another session change the database (the
    concurrent ingest a real worker races with), then embeds with the real model."""

    def __init__(self, app, change):
        self.app, self.change = app, change
        self.real = get_embedder(app.config)
        self.model_name, self.dim, self.max_tokens = self.real.model_name, self.real.dim, self.real.max_tokens

    def embed(self, texts):
        def other_session():
            with self.app.app_context():
                self.change()
                db.session.commit()
                db.session.remove()

        thread = threading.Thread(target=other_session)
        thread.start()
        thread.join(30)
        return self.real.embed(texts)

    def count_tokens(self, text):
        return self.real.count_tokens(text)


def test_a_chunk_deleted_while_it_was_being_embedded_is_skipped(app, store):
    ids = make_chunks(store, ["keep me", "delete me", "keep me too"])
    claimed = queue.claim_batch(size=10)

    def delete_one():
        db.session.execute(text("DELETE FROM chunks WHERE id = :id"), {"id": ids[1]})

    assert queue.embed_batch(claimed, Meanwhile(app, delete_one)) == 2
    assert chunk(ids[1]) is None
    assert chunk(ids[0]).embedded_at is not None and chunk(ids[2]).embedded_at is not None
    # No vector, no "add" for it -- and no "remove" either: it never had a vector.
    assert changes() == [(ids[0], "add", store.id), (ids[2], "add", store.id)]


def test_a_document_deleted_while_its_chunks_were_being_embedded_leaves_nothing(app, store):
    ids = make_chunks(store, ["gone soon", "also gone"], external_id="doc-gone")

    def delete_document():
        db.session.execute(text("DELETE FROM documents WHERE external_id = 'doc-gone'"))

    assert queue.embed_batch(queue.claim_batch(size=10), Meanwhile(app, delete_document)) == 0
    assert [chunk(i) for i in ids] == [None, None]
    assert changes() == []


def test_a_chunk_whose_text_changed_meanwhile_is_embedded_again_with_its_new_text(app, store):
    ids = make_chunks(store, ["the old text", "unchanged"])

    def rewrite():
        db.session.execute(text("UPDATE chunks SET text = 'the new text' WHERE id = :id"), {"id": ids[0]})

    assert queue.embed_batch(queue.claim_batch(size=10), Meanwhile(app, rewrite)) == 1
    rewritten = chunk(ids[0])
    assert rewritten.embedded_at is None and rewritten.claimed_at is None  # back in the queue at once
    assert queue.drain_embeddings(app) == 1
    stored = np.frombuffer(chunk(ids[0]).embedding, dtype="<f4")
    np.testing.assert_allclose(stored, get_embedder().embed(["the new text"])[0], atol=1e-6)
    assert changes() == [(ids[1], "add", store.id), (ids[0], "add", store.id)]


def test_removing_an_embedded_chunk_is_logged_after_its_add(app, store):
    ids = make_chunks(store, ["here", "then gone"])
    queue.drain_embeddings(app)
    db.session.execute(text("DELETE FROM chunks WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    assert changes() == [(ids[0], "add", store.id), (ids[1], "add", store.id), (ids[1], "remove", store.id)]


def test_drain_embeds_everything_pending_in_batches(app, store):
    app.config["EMBEDDING_BATCH_SIZE"] = 4
    ids = make_chunks(store, [f"note number {i} about syncing" for i in range(10)])
    assert queue.drain_embeddings(app, limit=6) == 6
    assert queue.drain_embeddings(app) == 4
    assert all(chunk(i).embedded_at is not None for i in ids)
    assert [c[0] for c in changes()] == ids  # oldest first
    assert queue.drain_embeddings(app) == 0


# -- the model in use ---------------------------------------------------------------------------

def test_chunks_of_another_model_are_embedded_again(app, store):
    ids = make_chunks(store, ["first", "second", "third"])
    queue.drain_embeddings(app)
    db.session.execute(update(Chunk).where(Chunk.id.in_(ids[:2])).values(model="some-older-model"))
    db.session.commit()
    before = len(changes())

    assert queue.reembed_for_model_change() == 2
    for chunk_id in ids[:2]:
        row = chunk(chunk_id)
        assert row.embedded_at is None and row.embedding is None and row.model is None
    assert chunk(ids[2]).model == DEFAULT_MODEL
    # One UPDATE of both rows: PostgreSQL's trigger logs them in the order it visits them.
    assert sorted(changes()[before:]) == [(ids[0], "remove", store.id), (ids[1], "remove", store.id)]
    assert queue.backlog(store.workspace_id) == {store.id: 2}

    assert queue.drain_embeddings(app) == 2
    assert {chunk(i).model for i in ids} == {DEFAULT_MODEL}
    assert changes()[before + 2:] == [(ids[0], "add", store.id), (ids[1], "add", store.id)]
    assert queue.reembed_for_model_change() == 0


def test_configuring_another_model_re_embeds_every_chunk_with_it(app, store):
    ids = make_chunks(store, ["first", "second"])
    queue.drain_embeddings(app)
    # The same weights under another name (a model folder's path) count as another model.
    app.config["EMBEDDING_MODEL"] = str(minilm_model_dir())
    assert queue.drain_embeddings(app) == 2
    assert {chunk(i).model for i in ids} == {str(minilm_model_dir())}
    ops = [op for _, op, _ in changes()]
    assert ops == ["add", "add", "remove", "remove", "add", "add"]


def test_a_model_change_can_be_limited_to_one_store(store):
    other = make_store(_workspace_of(store), name="other", is_default=False)
    make_chunks(store, ["a"])
    make_chunks(other, ["b"])
    for claimed in (queue.claim_batch(size=10),):
        queue.embed_batch(claimed)
    assert queue.reembed_for_model_change("new-model", vector_store_id=other.id) == 1
    assert queue.backlog(store.workspace_id) == {store.id: 0, other.id: 1}


# -- the backlog --------------------------------------------------------------------------------

def test_the_backlog_counts_pending_chunks_per_store_of_the_workspace(app, store):
    workspace = _workspace_of(store)
    named = make_store(workspace, name="support", is_default=False)
    empty = make_store(workspace, name="empty", is_default=False)
    elsewhere, _ = make_workspace("Globex")
    foreign = make_store(elsewhere)
    make_chunks(store, ["a", "b", "c"])
    make_chunks(named, ["d"])
    make_chunks(foreign, ["e", "f"])

    assert queue.backlog(workspace.id) == {store.id: 3, named.id: 1, empty.id: 0}
    assert list(queue.backlog(workspace.id)) == [store.id, named.id, empty.id]  # creation order
    assert queue.backlog(elsewhere.id) == {foreign.id: 2}

    claimed = queue.claim_batch(store.id, size=2)  # claimed is still waiting for its vector
    assert queue.backlog(workspace.id)[store.id] == 3
    queue.drain_embeddings(app, vector_store_id=store.id)  # leaves the two another worker holds
    assert queue.backlog(workspace.id) == {store.id: 2, named.id: 1, empty.id: 0}
    queue.embed_batch(claimed)
    assert queue.backlog(workspace.id) == {store.id: 0, named.id: 1, empty.id: 0}
    assert queue.backlog(elsewhere.id) == {foreign.id: 2}


# -- the worker ---------------------------------------------------------------------------------

def test_the_worker_embeds_in_the_background_and_wakes_for_new_chunks(app, store):
    app.config["WORKER_POLL_SECONDS"] = 30  # only a wake-up can make it this fast
    workspace_id = store.workspace_id
    make_chunks(store, [f"first wave {i}" for i in range(5)])
    worker = queue.EmbeddingWorker(app, size=2).start()
    try:
        def backlog():
            with app.app_context():
                try:
                    return queue.backlog(workspace_id)[store.id]
                finally:
                    db.session.remove()

        assert wait_for(lambda: backlog() == 0)
        make_chunks(store, ["second wave"])
        queue.wake()
        assert wait_for(lambda: backlog() == 0, timeout=10)
        assert wait_for(lambda: worker.embedded == 6)
    finally:
        worker.stop()
    assert not worker.alive
    assert worker not in queue._workers


def test_the_web_process_starts_an_embedding_worker_with_its_first_request(app_config, _schema, tmp_path, monkeypatch):
    """Embedded default: sync workers and the embedding worker start on the first request."""
    from app import create_app

    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path / "web"))
    web = create_app({**app_config, "TESTING": False, "EMBEDDED_WORKERS": 1, "SCHEDULER_ENABLED": False})
    try:
        assert "embedding_worker" not in web.extensions
        web.test_client().get("/login")
        worker = web.extensions["embedding_worker"]
        assert worker.alive
    finally:
        if web.extensions.get("embedding_worker"):
            web.extensions["embedding_worker"].stop()
        if web.extensions.get("sync_workers"):
            web.extensions["sync_workers"].stop()
        with web.app_context():
            db.engine.dispose()
