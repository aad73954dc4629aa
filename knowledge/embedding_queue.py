"""The index queue: documents wait in the database to be cut into chunks, chunks to be embedded.

Chunking and embedding (the slow stage: about 20 chunks/s on 2 cores) never run on the request
path. Ingest marks a stored or changed document ``needs_chunking``; from then on it is found by
lexical search (``knowledge.search`` reads such documents directly). A background worker cuts it
into chunks (``chunk_pending``: in the lexical index from then on) and embeds them (found by
semantic search once embedded). The queues are the documents and chunks tables themselves, so
they are as durable as the documents:

- ``claim_batch`` stamps up to ``size`` pending chunks (``embedded_at IS NULL``, not claimed
  or claimed longer ago than ``EMBEDDING_CLAIM_TIMEOUT``), oldest first, with ``claimed_at``,
  in one ``UPDATE ... WHERE id IN (SELECT ...) RETURNING`` statement. On PostgreSQL the inner
  select takes its rows ``FOR UPDATE SKIP LOCKED``, so concurrent workers on any machines take
  disjoint batches without waiting; SQLite runs one writer at a time and the UPDATE re-checks
  the pending condition, so two workers never hold the same chunk. A worker that dies leaves
  its claim to go stale; the next claim after the timeout takes the chunks again.
- ``embed_batch`` embeds outside any transaction, then in ONE transaction stores each vector
  (float32 bytes, L2-normalised), the model name and ``embedded_at`` -- only where the chunk
  still exists, is still pending and still has the text that was embedded -- and logs each
  stored chunk as an ``add`` in the chunk change log, so the faiss indexes that catch up from
  the log see a chunk exactly when its vector is committed. A chunk deleted meanwhile is
  skipped (its removal, if it had been embedded, is logged by the database trigger); a chunk
  whose text changed meanwhile is released to be claimed again at once.
- ``reembed_for_model_change`` keeps one model per database: chunks embedded by another model
  than the configured one are logged as removed and put back in the queue, so an index never
  mixes vectors of two models. Workers run it when they start.

``EmbeddingWorker`` is a thread that drains the queue and then waits (``wake()`` it after
committing new chunks, or it polls every ``WORKER_POLL_SECONDS``). The web process starts one
in the embedded default, and so does every ``flask worker``. ``drain_embeddings`` embeds
everything pending in the calling thread (tests, benchmarks).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import NamedTuple

import numpy as np
from flask import current_app
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import OperationalError

from core.extensions import db
from core.timeutil import utcnow

from .embeddings import Embedder, ModelUnavailable, announce, configured_model_name, get_embedder, model_status
from .models import Chunk, ChunkChange, Document, VectorStore

log = logging.getLogger(__name__)

CHUNKS = Chunk.__table__
CHANGES = ChunkChange.__table__
_RETRIES = 10
_REEMBED_STEP = 2000  # chunks put back in the queue per transaction on a model change


class PendingChunk(NamedTuple):
    id: int
    vector_store_id: str
    text: str


def _config(name: str, default):
    value = current_app.config.get(name)
    return default if value is None else value


def batch_size() -> int:
    return int(_config("EMBEDDING_BATCH_SIZE", 64))


def claim_timeout() -> timedelta:
    return timedelta(seconds=float(_config("EMBEDDING_CLAIM_TIMEOUT", 120)))


def _retrying(operation):
    """Run ``operation`` (one transaction), again after a transient failure: SQLite busy past
    its timeout, or a PostgreSQL deadlock with a concurrent delete (both OperationalError)."""
    for attempt in range(_RETRIES):
        try:
            return operation()
        except OperationalError:
            db.session.rollback()
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


# -- chunking -----------------------------------------------------------------------------------

DOCUMENTS = Document.__table__
CHUNK_BATCH_DOCUMENTS = 200  # documents cut into chunks per transaction
CHUNK_ROUNDS = 10  # chunking transactions before each embedding batch


def chunk_pending(limit: int = CHUNK_BATCH_DOCUMENTS, *, count_tokens=None) -> int:
    """Cut up to ``limit`` documents waiting for it (``needs_chunking``) into chunks, in one
    transaction: their old chunks are deleted (the trigger logs removals for the indexes), the
    new ones inserted unembedded (the lexical index picks them up through its own trigger), and
    the flag cleared -- only where the document still has the content that was cut, so a record
    updated meanwhile stays queued. On PostgreSQL the documents are locked ``SKIP LOCKED``, so
    concurrent workers cut disjoint batches; on SQLite the guarded clear decides. Returns how
    many documents were cut."""
    from .chunking import chunk_document

    max_tokens, counter = _chunk_budget(count_tokens)

    def run():
        query = (select(DOCUMENTS.c.id, DOCUMENTS.c.workspace_id, DOCUMENTS.c.vector_store_id, DOCUMENTS.c.title,
                        DOCUMENTS.c.content, DOCUMENTS.c.type, DOCUMENTS.c.content_hash)
                 .where(DOCUMENTS.c.needs_chunking.is_(True)).order_by(DOCUMENTS.c.updated_at).limit(limit))
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        docs = db.session.execute(query).all()
        if not docs:
            db.session.rollback()
            return 0
        connection = db.session.connection()
        now = utcnow()
        cut, rows = [], []
        defaults: dict[str, str] = {}
        for doc in docs:
            cleared = connection.execute(
                update(DOCUMENTS).where(DOCUMENTS.c.id == doc.id, DOCUMENTS.c.needs_chunking.is_(True),
                                        DOCUMENTS.c.content_hash == doc.content_hash)
                .values(needs_chunking=False)).rowcount
            if not cleared:
                continue
            cut.append(doc.id)
            store = doc.vector_store_id
            if store is None:  # a connector document stored before it carried its store
                if doc.workspace_id not in defaults:
                    from .stores import default_store

                    defaults[doc.workspace_id] = default_store(doc.workspace_id).id
                store = defaults[doc.workspace_id]
            for piece in chunk_document(title=doc.title, content=doc.content, doc_type=doc.type,
                                        max_tokens=max_tokens, count_tokens=counter):
                rows.append({"document_id": doc.id, "workspace_id": doc.workspace_id, "vector_store_id": store,
                             "position": piece.index, "text": piece.text, "start": piece.start, "end": piece.end,
                             "heading": piece.heading, "token_count": piece.token_count, "created_at": now})
        for ids in _slices(cut):
            connection.execute(CHUNKS.delete().where(CHUNKS.c.document_id.in_(ids)))
        if rows:
            connection.execute(insert(CHUNKS), rows)
        db.session.commit()
        return len(cut)

    return _retrying(run)


def _slices(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _chunk_budget(count_tokens=None) -> tuple[int, object]:
    """(max_tokens, counter): the embedding model's window and its own tokenizer, so chunks fit
    the model exactly; the chunker's calibrated estimate when no model can be loaded."""
    from .chunking import DEFAULT_MAX_TOKENS

    try:
        embedder = get_embedder()
    except Exception:  # noqa: BLE001 - no model installed: the estimate is within a few percent
        return DEFAULT_MAX_TOKENS, count_tokens
    return int(getattr(embedder, "max_tokens", DEFAULT_MAX_TOKENS)), count_tokens or embedder.count_tokens


def chunk_backlog(workspace_id: str) -> int:
    return int(db.session.scalar(select(func.count()).select_from(DOCUMENTS).where(
        DOCUMENTS.c.workspace_id == workspace_id, DOCUMENTS.c.needs_chunking.is_(True))) or 0)


# -- claiming -----------------------------------------------------------------------------------

def _pending(now, vector_store_id: str | None):
    """Chunks waiting for a worker: not embedded, and not claimed or claimed too long ago."""
    stale = now - claim_timeout()
    conditions = [CHUNKS.c.embedded_at.is_(None),
                  or_(CHUNKS.c.claimed_at.is_(None), CHUNKS.c.claimed_at < stale)]
    if vector_store_id is not None:
        conditions.append(CHUNKS.c.vector_store_id == vector_store_id)
    else:
        # Through the (vector_store_id, embedded_at) index, store by store, instead of a scan of
        # every chunk ever embedded.
        conditions.append(CHUNKS.c.vector_store_id.in_(select(VectorStore.id)))
    return conditions


def claim_batch(vector_store_id: str | None = None, size: int | None = None,
                worker_id: str | None = None) -> list[PendingChunk]:
    """Claim up to ``size`` pending chunks, oldest first (of one store, or of all), and commit
    the claim. Returns them in id order; an empty list when nothing is pending."""
    size = int(size or batch_size())

    def claim():
        now = utcnow()
        conditions = _pending(now, vector_store_id)
        oldest = select(CHUNKS.c.id).where(*conditions).order_by(CHUNKS.c.id).limit(size)
        if db.engine.dialect.name == "postgresql":
            # Lock the rows first, in a statement of their own: inside the UPDATE, PostgreSQL may
            # run a LIMIT ... SKIP LOCKED subquery again for every row (and claim more than size).
            ids = db.session.scalars(oldest.with_for_update(skip_locked=True)).all()
            if not ids:
                db.session.rollback()
                return []
            picked = CHUNKS.c.id.in_(ids)
        else:
            # One statement: SQLite runs it alone (one writer at a time), the guard re-checked.
            picked = CHUNKS.c.id.in_(oldest.scalar_subquery())
        rows = db.session.execute(update(CHUNKS).where(picked, *conditions).values(claimed_at=now)
                                  .returning(CHUNKS.c.id, CHUNKS.c.vector_store_id, CHUNKS.c.text)).all()
        db.session.commit()
        return rows

    rows = _retrying(claim)
    if rows:
        log.debug("worker %s claimed %d chunks", worker_id, len(rows))
    return sorted((PendingChunk(*row) for row in rows), key=lambda c: c.id)


def release(chunk_ids) -> None:
    """Give claimed chunks back to the queue at once (instead of after the claim timeout)."""
    ids = list(chunk_ids)
    if not ids:
        return

    def run():
        db.session.execute(update(CHUNKS).where(CHUNKS.c.id.in_(ids), CHUNKS.c.embedded_at.is_(None))
                           .values(claimed_at=None))
        db.session.commit()

    _retrying(run)


# -- embedding ----------------------------------------------------------------------------------

def embed_batch(chunks: list[PendingChunk], embedder: Embedder | None = None) -> int:
    """Embed claimed chunks and store the vectors; returns how many were stored.

    The model runs outside any transaction (nothing is locked for the seconds it takes); the
    vectors, ``embedded_at`` and the change log's ``add`` rows are then written in one
    transaction, each chunk only if it still exists, is still pending and still has the text
    that was embedded."""
    if not chunks:
        return 0
    embedder = embedder or get_embedder()
    if db.session().in_transaction():
        db.session.commit()  # never hold a transaction (or SQLite's write lock) while embedding
    vectors = np.asarray(embedder.embed([c.text for c in chunks]), dtype="<f4")
    model = embedder.model_name
    stored_ids: list[int] = []

    def store():
        stored_ids.clear()
        now = utcnow()
        changes, stale_text = [], []
        connection = db.session.connection()
        for chunk, vector in zip(chunks, vectors):
            stored = connection.execute(
                update(CHUNKS)
                .where(CHUNKS.c.id == chunk.id, CHUNKS.c.embedded_at.is_(None), CHUNKS.c.text == chunk.text,
                       CHUNKS.c.vector_store_id == chunk.vector_store_id)
                .values(embedding=vector.tobytes(), model=model, embedded_at=now, claimed_at=None)).rowcount
            if stored:
                stored_ids.append(chunk.id)
                changes.append({"vector_store_id": chunk.vector_store_id, "chunk_id": chunk.id, "op": "add",
                                "created_at": now})
            else:
                stale_text.append(chunk.id)
        if changes:
            connection.execute(insert(CHANGES), changes)
        if stale_text:
            # Deleted (nothing to release), embedded by another worker after a stale claim (a
            # no-op: no longer pending), or its text changed: then it is pending with our claim
            # on it, and is released to be embedded again with its new text.
            connection.execute(update(CHUNKS).where(CHUNKS.c.id.in_(stale_text), CHUNKS.c.embedded_at.is_(None))
                               .values(claimed_at=None))
        db.session.commit()

    _retrying(store)
    return len(stored_ids)


def work_once(app, worker_id: str | None = None, *, vector_store_id: str | None = None,
              size: int | None = None, embed: bool = True) -> tuple[int, int]:
    """Cut the documents waiting for it into chunks, then claim one batch of chunks and embed
    it; returns ``(claimed, stored)`` (``(0, 0)``: nothing left to do). Without ``embed`` (no
    model to embed with) only the chunking, so lexical search works on chunks all the same."""
    with app.app_context():
        try:
            for _ in range(CHUNK_ROUNDS):  # cheap next to embedding; bounded so embedding goes on
                if not chunk_pending():
                    break
            if not embed:
                return 0, 0
            chunks = claim_batch(vector_store_id, size, worker_id)
            if not chunks:
                return 0, 0
            try:
                return len(chunks), embed_batch(chunks)
            except ModelUnavailable:
                release([chunk.id for chunk in chunks])  # for whoever can embed them, now or later
                raise
        finally:
            db.session.remove()


def drain_embeddings(app, *, vector_store_id: str | None = None, size: int | None = None,
                     worker_id: str | None = None, limit: int | None = None) -> int:
    """Cut waiting documents into chunks and embed pending chunks in this thread until none is left (or ``limit`` were claimed);
    returns how many were stored. Runs the model-change check first, as a worker does. Without a
    usable model only the chunking runs (and no stored vector is dropped for a model that is not
    there)."""
    with app.app_context():
        try:
            try:
                get_embedder()  # loaded before the model-change check: a model that cannot run replaces nothing
            except ModelUnavailable:
                while chunk_pending():
                    pass
                return 0
            reembed_for_model_change()
        finally:
            db.session.remove()
    size = int(size or app.config.get("EMBEDDING_BATCH_SIZE") or 64)
    stored = claimed = 0
    while limit is None or claimed < limit:
        step = size if limit is None else min(size, limit - claimed)
        got, done = work_once(app, worker_id, vector_store_id=vector_store_id, size=step)
        if not got:
            break
        claimed += got
        stored += done
    return stored


# -- the model in use ---------------------------------------------------------------------------

def reembed_for_model_change(model_name: str | None = None, *, vector_store_id: str | None = None) -> int:
    """Put chunks embedded by another model than ``model_name`` (default: the configured one)
    back in the queue, logging each as removed, so no index mixes two models' vectors.
    Returns how many were put back. Commits in steps of a few thousand chunks."""
    if model_name is None:
        model_name = configured_model_name()
    total = 0
    while True:
        def step():
            conditions = [CHUNKS.c.embedded_at.is_not(None),
                          or_(CHUNKS.c.model.is_(None), CHUNKS.c.model != model_name)]
            if vector_store_id is not None:
                conditions.append(CHUNKS.c.vector_store_id == vector_store_id)
            ids = select(CHUNKS.c.id).where(*conditions).limit(_REEMBED_STEP)
            if db.engine.dialect.name == "postgresql":  # see claim_batch
                ids = db.session.scalars(ids.with_for_update(skip_locked=True)).all()
            else:
                ids = ids.scalar_subquery()
            rows = db.session.execute(
                update(CHUNKS).where(CHUNKS.c.id.in_(ids), *conditions)
                .values(embedding=None, model=None, embedded_at=None, claimed_at=None)
                .returning(CHUNKS.c.id, CHUNKS.c.vector_store_id)).all()
            now = utcnow()
            if rows:
                db.session.execute(insert(CHANGES), [{"vector_store_id": store, "chunk_id": chunk_id, "op": "remove",
                                                      "created_at": now} for chunk_id, store in rows])
            db.session.commit()
            return len(rows)

        done = _retrying(step)
        total += done
        if done < _REEMBED_STEP:
            break
    if total:
        log.info("embedding model is now %s: %d chunks queued to be embedded again", model_name, total)
    return total


# -- the backlog --------------------------------------------------------------------------------

def backlog(workspace_id: str, lists=None) -> dict[str, int]:
    """Chunks waiting to be embedded, per vector store of the workspace (every store, zeros
    included), in the stores' creation order; with ``lists`` (``access.service.allowed``) only
    the chunks of documents the asker may read."""
    stores = select(VectorStore.id).where(VectorStore.workspace_id == workspace_id)
    query = (select(CHUNKS.c.vector_store_id, func.count())
             .where(CHUNKS.c.vector_store_id.in_(stores), CHUNKS.c.embedded_at.is_(None)))
    if lists is not None:
        from access.service import readable

        query = query.join(DOCUMENTS, DOCUMENTS.c.id == CHUNKS.c.document_id).where(
            readable(DOCUMENTS.c.access_id, lists))
    counts = dict(db.session.execute(query.group_by(CHUNKS.c.vector_store_id)).all())
    ordered = db.session.scalars(stores.order_by(VectorStore.created_at, VectorStore.id)).all()
    return {store_id: int(counts.get(store_id, 0)) for store_id in ordered}


# -- the worker ---------------------------------------------------------------------------------

_workers: list["EmbeddingWorker"] = []
_workers_lock = threading.Lock()


def wake() -> None:
    """New chunks were committed: the embedding workers of this process stop waiting."""
    with _workers_lock:
        workers = list(_workers)
    for worker in workers:
        worker.wake()


class EmbeddingWorker:
    """A thread that embeds queued chunks batch after batch, and waits when the queue is empty.

    One is enough per process: the model itself uses the machine's cores (``EMBEDDING_THREADS``).
    """

    def __init__(self, app, worker_id: str | None = None, *, size: int | None = None):
        from sync.worker import new_worker_id

        self.app = app
        self.worker_id = worker_id or f"{new_worker_id()}/embed"
        self.size = size
        self.embedded = 0  # chunks stored by this worker
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> "EmbeddingWorker":
        with _workers_lock:
            _workers.append(self)
        self._thread = threading.Thread(target=self._loop, name="embedding-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Stop after the batch in hand (it is stored, not lost)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with _workers_lock:
            if self in _workers:
                _workers.remove(self)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        poll = float(self.app.config["WORKER_POLL_SECONDS"])
        checked_model = False
        failures = 0
        waiting_for_model = False
        while not self._stop.is_set():
            try:
                status = model_status(self.app.config)
                if not status.available:
                    # Said once, with its fix, instead of a traceback per attempt; documents are
                    # still cut into chunks, and the model is looked for again every so often.
                    announce(status, log)
                    waiting_for_model = True
                    work_once(self.app, self.worker_id, embed=False)
                    self._wake.wait(max(poll, 5.0))
                    self._wake.clear()
                    continue
                if waiting_for_model:
                    log.info("the embedding model is available: embedding the chunks that waited for it")
                    waiting_for_model = False
                if not checked_model:
                    with self.app.app_context():
                        try:
                            get_embedder()  # load the model here, not on a request
                            reembed_for_model_change()
                        finally:
                            db.session.remove()
                    checked_model = True
                claimed, stored = work_once(self.app, self.worker_id, size=self.size)
                self.embedded += stored
                failures = 0
                if not claimed:
                    self._wake.wait(poll)
                    self._wake.clear()
            except ModelUnavailable:
                continue  # it failed to load: model_status says so now, and the loop above waits
            except Exception:  # noqa: BLE001 - the worker must outlive a bad moment (its claim goes stale)
                failures += 1
                log.exception("embedding worker error (%d in a row)", failures)
                self._stop.wait(min(poll * 2 ** min(failures - 1, 6), 120))


def start_embedding_worker(app) -> EmbeddingWorker:
    """Start this process's embedding worker (kept in ``app.extensions["embedding_worker"]``)."""
    worker = EmbeddingWorker(app).start()
    app.extensions["embedding_worker"] = worker
    return worker

