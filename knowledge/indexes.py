"""The vector indexes of this process: one ``VectorIndex`` per vector store, kept current from the
chunk change log, persisted under ``instance/indexes/``, rebuilt from the database when needed.

The database is the source of truth; an index is a cache of the embedded chunks of one store.

Catching up
-----------
``StoreIndex.catch_up`` reads the change-log rows it has not applied yet and *reconciles* the
chunks they name against the chunks table as it is now: a named chunk that exists, is embedded
by the index's model and belongs to the store is (re)inserted with its stored vector and filter
attributes; any other named chunk is removed. Reconciling with the current rows, instead of
replaying operations, makes applying a change twice harmless and the order of changes
irrelevant, which matters on PostgreSQL: a sequence hands out versions at insert time, so a
transaction can commit version 41 after another committed 42, and a reader that read past 42
would never read 41. So on PostgreSQL every catch-up also reads the rows logged in the last
``GAP_GRACE_SECONDS`` again (skipping the versions it already applied), and the position saved
with the index is the highest version older than that window. (A transaction that commits more
than the window after it logged its rows -- none of ours is that long -- could be missed until
the next rebuild; a missed removal only leaves a dead id, which queries skip.) SQLite commits
one writer at a time, in version order, so there it reads ``version > applied`` alone.

Queries call ``catch_up`` first (one indexed query when nothing changed), so a vector committed
before a query is searched by it. ``IndexManager`` also catches every open index up in the
background, saves indexes that changed (at most every ``INDEX_SAVE_SECONDS``) and runs the
rebuilds ``VectorIndex.needs_rebuild`` asks for.

Loading
-------
On first use a store's index is loaded from ``instance/indexes/<store id>`` (the file records the
model and the change-log position it reflects) and caught up; when the file is missing, corrupt
or of another model, it is rebuilt from the stored embeddings. A store with few embedded chunks
is built in the caller's thread (milliseconds); a large one in the background, and ``get``
returns None meanwhile (queries then answer by lexical search alone and say so).

Filters
-------
Filters run inside the vector search: ``ChunkAttributes`` keeps, per indexed chunk, the filter
attributes of its document (source, type, author, date, namespace) in numpy columns, so the
allowed chunk ids of any filter are a few vectorised comparisons (a couple of milliseconds at
1M chunks) handed to ``VectorIndex.search(allowed_ids=...)``, which answers selective filters
exactly.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import faiss
import numpy as np
from flask import current_app
from sqlalchemy import func, literal_column, or_, select

from core.extensions import db

from .index import IdPositions, VectorIndex
from .models import Chunk, ChunkChange, Document, VectorStore

log = logging.getLogger(__name__)

CHUNKS = Chunk.__table__
CHANGES = ChunkChange.__table__
DOCUMENTS = Document.__table__

# PostgreSQL: change-log rows younger than this are read again at every catch-up, since a
# transaction holding a lower version may commit after a higher one was read.
GAP_GRACE_SECONDS = 120.0
SYNC_BUILD_LIMIT = 20_000  # embedded chunks up to which a missing index is built in the caller
READ_BATCH = 2_000  # chunks per query while building or reconciling


def query_threads() -> None:
    """One faiss thread for the searches of the calling thread: a single query does not
    parallelise, and an OpenMP pool waiting on busy cores costs milliseconds a query."""
    faiss.omp_set_num_threads(1)


class _BuildThreads:
    """Every core while building (HNSW adds parallelise over a batch), one again after."""

    def __enter__(self):
        import os

        faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))

    def __exit__(self, *exc):
        faiss.omp_set_num_threads(1)


def _epoch(value) -> float:
    if value is None:
        return np.nan
    if isinstance(value, str):  # a raw SQLite string (coalesce loses the column type)
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def document_date():
    """The date filters and results use: when the record was last updated at its source, else
    when it was created there, else when Tributary stored it."""
    return func.coalesce(DOCUMENTS.c.source_updated_at, DOCUMENTS.c.source_created_at, DOCUMENTS.c.created_at)


@dataclass
class Filters:
    """What a query is restricted to (every part optional; values are matched exactly, authors
    and types case-insensitively)."""

    sources: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    date_after: datetime | None = None
    date_before: datetime | None = None
    # The access lists the asker may read (``access.service.allowed``; 0 is workspace-wide), or
    # None for no restriction.
    access: frozenset | None = None

    @property
    def empty(self) -> bool:
        return not (self.sources or self.types or self.authors or self.namespaces
                    or self.date_after or self.date_before or self.access is not None)


class _Codes:
    """Strings to small integers, for the attribute columns."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self._codes)
        return found

    def __len__(self) -> int:
        return len(self._codes)

    def lookup(self, values) -> np.ndarray:
        return np.array([self._codes[v] for v in values if v in self._codes], dtype=np.int32)


def _in(column: np.ndarray, codes: np.ndarray, distinct: int) -> np.ndarray:
    """``np.isin(column, codes)`` for a code column (values -1 .. distinct - 1), ~10x faster at
    1M rows (np.isin took 7 ms): a few equality passes, or one lookup in a table of the codes."""
    if len(codes) <= 4:
        mask = np.zeros(len(column), bool)
        for code in codes:
            mask |= column == code
        return mask
    table = np.zeros(distinct + 1, bool)
    table[codes + 1] = True
    return table[column + 1]


def _filters_key(filters: Filters) -> tuple:
    return (filters.sources, filters.types, filters.authors, filters.namespaces, filters.date_after,
            filters.date_before, filters.access)


class ChunkAttributes:
    """Filter attributes of the indexed chunks, columnar. Rows of removed chunks are marked
    free and reused. Guarded by the owning StoreIndex's lock for writes; reads take a snapshot
    of the arrays (a concurrent write may or may not be seen, never half-seen per row).

    ``allowed`` keeps its answers until the next write (a filter cache): a member's queries
    repeat their access lists, often with no other filter, and at 1M rows building the set (a
    mask, its ids) cost ~3 ms of a ~25 ms query. The kept arrays are read-only; the vector index
    keeps the faiss selector it builds from one of them (``VectorIndex._selector_for``)."""

    FIELDS = ("source", "type", "author", "namespace")
    ALLOWED_KEPT_BYTES = 64 << 20       # at 1M chunks: eight sets of every id, more of fewer

    def __init__(self) -> None:
        self._row = IdPositions()  # chunk id -> row
        self._free: list[int] = []
        self._size = 0
        self.ids = np.zeros(0, np.int64)
        self.valid = np.zeros(0, bool)
        self.date = np.zeros(0, np.float64)
        self.access = np.zeros(0, np.int64)   # the document's access list; 0: workspace-wide
        self.columns = {f: np.zeros(0, np.int32) for f in self.FIELDS}
        self.codes = {f: _Codes() for f in self.FIELDS}
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple, np.ndarray] = OrderedDict()     # allowed() answers since the last write
        self._kept_bytes = 0

    def __len__(self) -> int:
        return len(self._row)

    def _grow(self) -> None:
        capacity = max(1024, 2 * len(self.ids))
        extra = capacity - len(self.ids)
        self.ids = np.concatenate([self.ids, np.full(extra, -1, np.int64)])
        self.valid = np.concatenate([self.valid, np.zeros(extra, bool)])
        self.date = np.concatenate([self.date, np.full(extra, np.nan)])
        self.access = np.concatenate([self.access, np.zeros(extra, np.int64)])
        for f in self.FIELDS:
            self.columns[f] = np.concatenate([self.columns[f], np.full(extra, -1, np.int32)])

    def _forget_allowed(self) -> None:
        """A write: every kept ``allowed`` answer may be wrong now. The lock is held."""
        if self._kept:
            self._kept.clear()
            self._kept_bytes = 0

    def set(self, chunk_id: int, source, type_, author, namespace, date: float, access: int | None = None) -> None:
        with self._lock:
            self._forget_allowed()
            row = self._row.get(chunk_id)
            if row is None:
                if self._free:
                    row = self._free.pop()
                else:
                    if self._size == len(self.ids):
                        self._grow()
                    row, self._size = self._size, self._size + 1
                self._row.put_one(chunk_id, row)
            self.ids[row] = chunk_id
            self.date[row] = date
            self.access[row] = access or 0
            values = {"source": source, "type": (type_ or "").lower(), "author": (author or "").lower() or None,
                      "namespace": namespace}
            for f in self.FIELDS:
                self.columns[f][row] = self.codes[f].code(values[f])
            self.valid[row] = True

    def discard(self, chunk_id: int) -> None:
        with self._lock:
            self._forget_allowed()
            for row in self._row.pop([chunk_id]):
                self.valid[row] = False
                self.ids[row] = -1
                self._free.append(row)

    def allowed(self, filters: Filters) -> np.ndarray:
        """The chunk ids matching every filter (a read-only array, kept until the next write)."""
        key = _filters_key(filters)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
            n = self._size
            mask = self.valid[:n] & self._mask(slice(0, n), filters)
            # np.compress, not ids[mask]: 0.7 ms against 4.5 for half of 1M rows.
            ids = np.compress(mask, self.ids[:n])
            ids.flags.writeable = False
            self._kept[key] = ids
            self._kept_bytes += ids.nbytes
            while self._kept_bytes > self.ALLOWED_KEPT_BYTES and len(self._kept) > 1:
                self._kept_bytes -= self._kept.popitem(last=False)[1].nbytes
            return ids

    def match(self, chunk_ids: np.ndarray, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``chunk_ids``: whether this index holds it, and whether it matches every
        filter (False where it is not held). The lexical search checks its full-text matches
        here instead of joining each one to its document (``knowledge.search.lexical``)."""
        with self._lock:
            rows = self._row.find(np.asarray(chunk_ids, dtype=np.int64))
            known = rows >= 0
            held = rows[known]
            ok = np.zeros(len(chunk_ids), bool)
            ok[np.flatnonzero(known)] = self._mask(held, filters)
            return known, ok

    def _mask(self, rows, filters: Filters) -> np.ndarray:
        """Which of ``rows`` (a slice or row numbers) match every filter; the lock is held."""
        mask = np.ones(len(self.ids[rows]), bool)
        for field, wanted in (("source", filters.sources), ("type", [t.lower() for t in filters.types]),
                              ("author", [a.lower() for a in filters.authors]),
                              ("namespace", filters.namespaces)):
            if wanted:
                mask &= _in(self.columns[field][rows], self.codes[field].lookup(wanted), len(self.codes[field]))
        if filters.date_after is not None:
            mask &= self.date[rows] >= filters.date_after.timestamp()
        if filters.date_before is not None:
            mask &= self.date[rows] <= filters.date_before.timestamp()
        if filters.access is not None:
            mask &= _readable(self.access[rows], filters.access)
        return mask


def _readable(column: np.ndarray, lists: frozenset) -> np.ndarray:
    """Rows whose access list is one of ``lists``: a lookup table over the list ids (a gather,
    ~1 ms at 1M rows, whatever the number of lists), or equality passes for a few lists."""
    wanted = np.fromiter(lists, dtype=np.int64, count=len(lists))
    if len(wanted) <= 4:
        mask = np.zeros(len(column), bool)
        for value in wanted:
            mask |= column == value
        return mask
    top = int(max(wanted.max(), column.max() if len(column) else 0))
    table = np.zeros(top + 1, bool)
    table[wanted[wanted >= 0]] = True
    return table[column]


def _attribute_rows(chunk_ids=None, *, store_id: str, model: str, after_id: int | None = None,
                    with_vectors: bool = True):
    """Embedded chunks of a store by the model, with their documents' filter attributes."""
    columns = [CHUNKS.c.id, DOCUMENTS.c.source, DOCUMENTS.c.type, DOCUMENTS.c.author, DOCUMENTS.c.namespace,
               document_date().label("date"), DOCUMENTS.c.access_id]
    if with_vectors:
        columns.append(CHUNKS.c.embedding)
    in_store = CHUNKS.c.vector_store_id == store_id
    if after_id is not None and db.engine.dialect.name == "sqlite":
        # Pages in id order. Given ``vector_store_id = ?``, SQLite picks ix_chunks_pending and
        # sorts every embedded chunk of the store for each page: quadratic, 4 minutes to read
        # 1M chunks. A unary + keeps the term off any index (SQLite's documented way), so it
        # walks the table's own b-tree from ``after_id``, already in id order.
        in_store = literal_column("+chunks.vector_store_id") == store_id
    query = (select(*columns).select_from(CHUNKS.join(DOCUMENTS, DOCUMENTS.c.id == CHUNKS.c.document_id))
             .where(in_store, CHUNKS.c.embedded_at.is_not(None), CHUNKS.c.model == model))
    if chunk_ids is not None:
        query = query.where(CHUNKS.c.id.in_(chunk_ids))
    if after_id is not None:
        query = query.where(CHUNKS.c.id > after_id).order_by(CHUNKS.c.id).limit(READ_BATCH)
    return db.session.execute(query).all()


class StoreIndex:
    """One vector store's index with its filter attributes and its place in the change log."""

    def __init__(self, store_id: str, index: VectorIndex, path: Path) -> None:
        self.store_id = store_id
        self.index = index
        self.path = path
        self.attributes = ChunkAttributes()
        # Highest version applied, and (PostgreSQL) the versions of the re-read window already
        # applied, and the highest version old enough to be past any out-of-order commit.
        self.applied = self.settled = index.version
        self._seen: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self.dirty = False
        self.saved_at = time.monotonic()

    @property
    def model(self) -> str:
        return self.index.model

    def _store_rows(self, rows) -> None:
        ids, vectors = [], []
        dim = self.index.dim
        for row in rows:
            vector = np.frombuffer(row.embedding, dtype="<f4") if row.embedding is not None else None
            if vector is None or vector.shape[0] != dim:
                continue
            ids.append(row.id)
            vectors.append(vector)
            self.attributes.set(row.id, row.source, row.type, row.author, row.namespace, _epoch(row.date),
                                        row.access_id)
        if ids:
            self.index.upsert(np.array(ids, np.int64), np.vstack(vectors))

    def load_attributes(self) -> None:
        """Fill the filter attributes of every chunk the index holds (after a load from disk)."""
        after = -1
        while True:
            rows = _attribute_rows(store_id=self.store_id, model=self.model, after_id=after, with_vectors=False)
            for row in rows:
                if row.id in self.index:
                    self.attributes.set(row.id, row.source, row.type, row.author, row.namespace, _epoch(row.date),
                                        row.access_id)
            if len(rows) < READ_BATCH:
                break
            after = rows[-1].id

    def catch_up(self) -> int:
        """Apply the changes logged since the last catch-up; returns how many chunks it touched."""
        with self._lock:
            query = select(CHANGES.c.version, CHANGES.c.chunk_id, CHANGES.c.created_at, CHANGES.c.op).where(
                CHANGES.c.vector_store_id == self.store_id)
            cutoff = None
            if db.engine.dialect.name == "postgresql":
                # Versions may commit out of order: read the recent past again as well.
                cutoff = datetime.now(timezone.utc) - timedelta(seconds=GAP_GRACE_SECONDS)
                query = query.where(or_(CHANGES.c.version > self.applied, CHANGES.c.created_at >= cutoff))
            else:
                query = query.where(CHANGES.c.version > self.applied)
            touched: set[int] = set()
            regranted: set[int] = set()   # only the document's readers changed: attributes alone
            for version, chunk_id, created_at, op in db.session.execute(query.order_by(CHANGES.c.version)):
                if version in self._seen or (version <= self.applied and cutoff is None):
                    continue
                self._seen[version] = created_at
                self.applied = max(self.applied, version)
                (regranted if op == "attr" else touched).add(chunk_id)
            regranted -= touched
            if cutoff is None:
                self._seen.clear()
                settled = self.applied
            else:
                # Forget what can no longer be read again; persist only a settled position.
                for version, created_at in list(self._seen.items()):
                    if created_at is not None and created_at < cutoff:
                        self.settled = max(self.settled, version)
                        del self._seen[version]
                settled = self.settled
            if touched:
                self._reconcile(sorted(touched))
                self.dirty = True
            if regranted:
                self._refresh_attributes(sorted(regranted))
            return_count = len(touched) + len(regranted)
            if self.index.version != settled:
                self.index.version = settled
                self.dirty = True
            return return_count

    def _refresh_attributes(self, chunk_ids: list[int]) -> None:
        """New filter attributes (a document's readers changed) for chunks the index holds; the
        vectors stay as they are."""
        for start in range(0, len(chunk_ids), READ_BATCH):
            rows = _attribute_rows(chunk_ids[start:start + READ_BATCH], store_id=self.store_id, model=self.model,
                                   with_vectors=False)
            for row in rows:
                if row.id in self.index:
                    self.attributes.set(row.id, row.source, row.type, row.author, row.namespace, _epoch(row.date),
                                        row.access_id)

    def _reconcile(self, chunk_ids: list[int]) -> None:
        present: set[int] = set()
        for start in range(0, len(chunk_ids), READ_BATCH):
            rows = _attribute_rows(chunk_ids[start:start + READ_BATCH], store_id=self.store_id, model=self.model)
            present.update(row.id for row in rows)
            self._store_rows(rows)
        gone = [i for i in chunk_ids if i not in present]
        if gone:
            self.index.remove(np.array(gone, np.int64))
            for chunk_id in gone:
                self.attributes.discard(chunk_id)

    def build(self) -> None:
        """Fill a fresh index from the stored embeddings (the caller's thread)."""
        # Start below anything that may still be in flight: reconciling it again is harmless.
        start = _settled_version(self.store_id)

        def batches():
            after = -1
            while True:
                rows = _attribute_rows(store_id=self.store_id, model=self.model, after_id=after)
                ids, vectors = [], []
                for row in rows:
                    vector = np.frombuffer(row.embedding, dtype="<f4") if row.embedding is not None else None
                    if vector is None or vector.shape[0] != self.index.dim:
                        continue
                    ids.append(row.id)
                    vectors.append(vector)
                    self.attributes.set(row.id, row.source, row.type, row.author, row.namespace,
                                        _epoch(row.date), row.access_id)
                if ids:
                    yield np.array(ids, np.int64), np.vstack(vectors)
                if len(rows) < READ_BATCH:
                    break
                after = rows[-1].id

        with _BuildThreads():
            self.index.rebuild(batches(), version=start)
        with self._lock:
            self.applied = self.settled = start
            self._seen.clear()
            self.dirty = True

    def save(self) -> None:
        self.index.save(self.path)
        self.dirty = False
        self.saved_at = time.monotonic()

    def stats(self) -> dict:
        return {**self.index.stats(), "applied": self.applied, "settled": self.settled}


def _settled_version(store_id: str) -> int:
    """A change-log position every transaction below which has surely committed or rolled back."""
    if db.engine.dialect.name != "postgresql":
        return int(db.session.scalar(select(func.max(CHANGES.c.version))
                                     .where(CHANGES.c.vector_store_id == store_id)) or 0)
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=GAP_GRACE_SECONDS)
    value = db.session.scalar(select(func.max(CHANGES.c.version)).where(
        CHANGES.c.vector_store_id == store_id, CHANGES.c.created_at < cutoff))
    return int(value or 0)


def _embedded_count(store_id: str, model: str) -> int:
    return int(db.session.scalar(select(func.count()).select_from(CHUNKS).where(
        CHUNKS.c.vector_store_id == store_id, CHUNKS.c.embedded_at.is_not(None), CHUNKS.c.model == model)) or 0)


class IndexManager:
    """This process's vector indexes (see the module docstring)."""

    def __init__(self, app) -> None:
        self.app = app
        self.directory = Path(app.config.get("INDEX_DIR") or Path(app.instance_path) / "indexes")
        self._indexes: dict[str, StoreIndex] = {}
        self._building: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- configuration --------------------------------------------------------------------------

    def _params(self) -> dict:
        config = self.app.config
        return {"hnsw_threshold": int(config.get("INDEX_HNSW_THRESHOLD") or 20_000)}

    def _model(self) -> tuple[str, int]:
        from .embeddings import configured_model_name, get_embedder

        embedder = get_embedder()
        return configured_model_name(), int(getattr(embedder, "dim", 384))

    def path(self, store_id: str) -> Path:
        return self.directory / store_id

    # -- access ---------------------------------------------------------------------------------

    def get(self, store_id: str, *, wait: bool = False) -> StoreIndex | None:
        """The store's index, caught up; None while a large one is being built in the background
        (``wait``: build it in this thread whatever its size)."""
        with self._lock:
            found = self._indexes.get(store_id)
        if found is not None:
            found.catch_up()
            return found
        model, dim = self._model()
        saved = self.path(store_id).with_name(self.path(store_id).name + ".json").exists()
        loaded = None if not saved else VectorIndex.load(self.path(store_id), expected_model=model, expected_dim=dim, **self._params())
        if loaded is not None:
            entry = StoreIndex(store_id, loaded, self.path(store_id))
            entry.load_attributes()
            entry.catch_up()
            return self._publish(entry)
        if wait or _embedded_count(store_id, model) <= SYNC_BUILD_LIMIT:
            entry = StoreIndex(store_id, VectorIndex(dim, model=model, **self._params()), self.path(store_id))
            entry.build()
            entry.catch_up()
            return self._publish(entry)
        self._build_in_background(store_id, model, dim)
        return None

    def _publish(self, entry: StoreIndex) -> StoreIndex:
        with self._lock:
            existing = self._indexes.get(entry.store_id)
            if existing is not None:
                return existing
            self._indexes[entry.store_id] = entry
            return entry

    def _build_in_background(self, store_id: str, model: str, dim: int) -> None:
        with self._lock:
            if store_id in self._building:
                return
            self._building.add(store_id)

        def run():
            try:
                with self.app.app_context():
                    try:
                        entry = StoreIndex(store_id, VectorIndex(dim, model=model, **self._params()),
                                           self.path(store_id))
                        entry.build()
                        entry.catch_up()
                        entry.save()
                        self._publish(entry)
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - the next query asks again
                log.exception("building the vector index of %s failed", store_id)
            finally:
                with self._lock:
                    self._building.discard(store_id)

        threading.Thread(target=run, name=f"index-build-{store_id}", daemon=True).start()

    def building(self, store_id: str) -> bool:
        with self._lock:
            return store_id in self._building

    def drop(self, store_id: str) -> None:
        """Forget a deleted store's index and its files."""
        with self._lock:
            self._indexes.pop(store_id, None)
        for file in self.directory.glob(f"{store_id}.*"):
            file.unlink(missing_ok=True)

    def loaded(self) -> list[StoreIndex]:
        with self._lock:
            return list(self._indexes.values())

    def forget_all(self) -> None:
        """Drop every loaded index from memory (a model change; tests)."""
        with self._lock:
            self._indexes.clear()

    # -- maintenance ----------------------------------------------------------------------------

    def maintain(self, *, force_save: bool = False) -> None:
        """Catch every loaded index up, rebuild those that ask for it, save the changed ones."""
        from .embeddings import model_status

        if not model_status(self.app.config).available:
            return  # no query can be embedded, so no index is read (said once at start-up)
        interval = float(self.app.config.get("INDEX_SAVE_SECONDS") or 60)
        model, _ = self._model()
        loaded = self.loaded()
        if loaded:
            existing = set(db.session.scalars(select(VectorStore.id).where(
                VectorStore.id.in_([e.store_id for e in loaded]))))
            for entry in loaded:
                if entry.store_id not in existing:  # deleted (by another process, maybe)
                    self.drop(entry.store_id)
        for entry in self.loaded():
            if entry.model != model:  # the configured model changed: start over
                with self._lock:
                    self._indexes.pop(entry.store_id, None)
                continue
            entry.catch_up()
            if entry.index.needs_rebuild and not entry.index.rebuilding:
                with _BuildThreads():
                    entry.index.rebuild()
            elif entry.index.needs_reduction:  # e.g. just loaded: its reduced copy is not saved
                entry.index.reduce()
            if entry.dirty and (force_save or time.monotonic() - entry.saved_at >= interval):
                entry.save()

    def start(self) -> "IndexManager":
        def loop():
            every = float(self.app.config.get("INDEX_REFRESH_SECONDS") or 2)
            while not self._stop.wait(every):
                try:
                    with self.app.app_context():
                        try:
                            self.maintain()
                        finally:
                            db.session.remove()
                except Exception:  # noqa: BLE001 - keep maintaining
                    log.exception("vector index maintenance failed")

        self._thread = threading.Thread(target=loop, name="index-maintenance", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        try:
            with self.app.app_context():
                try:
                    self.maintain(force_save=True)
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001 - a missing save costs a catch-up on start, nothing else
            log.exception("saving the vector indexes failed")


def manager(app=None) -> IndexManager:
    """The process's IndexManager (created on first use, kept in ``app.extensions``)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("index_manager")
    if found is None:
        found = app.extensions.setdefault("index_manager", IndexManager(app))
    return found
