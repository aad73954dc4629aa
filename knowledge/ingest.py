"""The one ingest path: connector syncs and the pipeline-sync API both write documents here.

Documents are upserted by ``(origin_id, namespace, external_id)``. Each record's content hash
is compared with the stored one, so an unchanged record writes nothing (an incremental sync
that finds nothing new writes zero rows). Statements are bulk statements run in the caller's
transaction: the caller commits the page together with its checkpoint. On SQLite the documents
are written with plain multi-row SQL and values already in their stored form (``_SQLiteRows``:
the same stored values as the Core statements other databases get, at a fraction of the cost).

A stored or changed document is marked ``needs_chunking`` (a changed one loses its old chunks
in the same transaction); the index worker (``knowledge.embedding_queue``) cuts it into chunks
and embeds them after the commit, so ingest never pays for chunking or embedding. Callers
``embedding_queue.wake()`` after committing.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from itertools import chain
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, insert, literal, or_, select, update

from connectors.base import DocumentData
from core.extensions import db
from core.timeutil import isoformat, utcnow

from .models import Chunk, ChunkChange, Document

# SQLite allows 32,766 bound parameters; keep IN lists well under it.
CHUNK = 500
DOCUMENTS = Document.__table__


@dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    # External ids of the documents created or changed (their children may need re-deriving).
    changed_ids: list = field(default_factory=list)
    # Unchanged documents whose readers changed (a new access list, no re-embedding).
    regranted: int = 0

    @property
    def written(self) -> int:
        """Rows whose content changed: what a run reports as records written."""
        return self.created + self.updated + self.deleted

    def add(self, other: "IngestResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.changed_ids.extend(other.changed_ids)
        self.regranted += other.regranted


@dataclass(frozen=True)
class Scope:
    """Where documents land: who owns them and under which namespace (and channel)."""

    workspace_id: str
    origin_id: str
    namespace: str
    source: str
    connection_id: str | None = None
    vector_store_id: str | None = None
    channel: str | None = None


# json.dumps(..., sort_keys=True, default=str, separators=(",", ":")): the content hash's encoding.
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))
# json.dumps(value) with its defaults: what the JSON column stores on SQLite.
_STORE_ENCODER = json.JSONEncoder()


def _c_encoder(reference: json.JSONEncoder):
    """``reference.encode``, minus its per-call setup (which cost more than the encoding of a
    document's fields): the C encoder built once, without the circular-reference check; a value
    it fails on goes to ``reference.encode``, which raises what it always raised. ``None`` where
    the C encoder is missing or encodes anything differently."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder = make(None, reference.default, json.encoder.encode_basestring_ascii, None,
                       reference.key_separator, reference.item_separator, reference.sort_keys,
                       reference.skipkeys, reference.allow_nan)
        samples = ({}, {"b": [1, 2.5, None, True], "a": {"é": "ü\n\"x\u2028", "z": -0.0}}, [], "x", 3, None,
                   ["t", "ü 🚀", None, 7, {"y": 1, "x": [{}]}])
        if any("".join(encoder(sample, 0)) != reference.encode(sample) for sample in samples):
            return None
    except Exception:
        return None

    def encode(value) -> str:
        try:
            return "".join(encoder(value, 0))
        except Exception:
            return reference.encode(value)

    return encode


_hash_json = _c_encoder(_HASH_ENCODER) or _HASH_ENCODER.encode
_store_json = _c_encoder(_STORE_ENCODER) or _STORE_ENCODER.encode


def content_hash(doc: DocumentData) -> str:
    """SHA-256 of ``json.dumps([title, content, type, url, author, created_at, updated_at,
    metadata], sort_keys=True, default=str, separators=(",", ":"))``, datetimes as ``isoformat``
    (unchanged definition: stored hashes stay valid; the encoder is only built once)."""
    return _digest(doc, isoformat)


def _digest(doc: DocumentData, iso) -> str:
    """``content_hash`` with ``iso`` for ``isoformat`` (``upsert`` passes a memoized one)."""
    payload = _hash_json([doc.title, doc.content, doc.type, doc.url, doc.author, iso(doc.created_at),
                          iso(doc.updated_at), doc.metadata])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _memo(function):
    """``function`` called once per distinct (hashable) argument; for the datetimes of a page,
    where equal values (equal instants) give equal results."""
    done: dict = {}

    def memoized(value):
        try:
            return done[value]
        except KeyError:
            done[value] = result = function(value)
            return result

    return memoized


# byte -> a lower-case base32 letter, by its low 5 bits: a random byte gives 5 random bits.
_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[i & 31] for i in range(256))


def _new_ids(count: int, prefix: str = "doc") -> list[str]:
    """``count`` ids of the form ``core.ids.new_id`` makes (prefix + 80 random bits as 16
    lower-case base32 characters): 16 random bytes per id, each mapped by its low 5 bits to a
    base32 character in one ``bytes.translate`` (the pure-Python base32 encoder, even in one
    pass over all the ids, cost a 5,000-document sync more than 10 ms)."""
    raw = secrets.token_bytes(16 * count).translate(_BASE32).decode("ascii")
    return [f"{prefix}_{raw[i:i + 16]}" for i in range(0, 16 * count, 16)]


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# The columns an upsert writes, in the order of ``_values``; an update writes all but ``id``
# and ``created_at``.
COLUMNS = ("id", "workspace_id", "origin_id", "connection_id", "vector_store_id", "namespace", "channel",
           "external_id", "source", "type", "title", "content", "author", "url", "metadata", "content_hash",
           "source_created_at", "source_updated_at", "seen_generation", "needs_chunking", "created_at",
           "updated_at", "parent_id", "access_id")
UPDATE_COLUMNS = tuple(c for c in COLUMNS if c not in ("id", "created_at"))


def _values(scope: Scope, doc: DocumentData, digest: str, generation: str | None, now, id_: str,
            access: int | None = None) -> tuple:
    """A documents row as Python values, in ``COLUMNS`` order."""
    return (id_, scope.workspace_id, scope.origin_id, scope.connection_id, scope.vector_store_id, scope.namespace,
            scope.channel, doc.external_id, scope.source, doc.type, doc.title or "", doc.content or "",
            doc.author, doc.url, doc.metadata or {}, digest, doc.created_at, doc.updated_at, generation, True,
            now, now, doc.parent_id, access)


def upsert(scope: Scope, docs: Iterable[DocumentData], *, generation: str | None = None,
           access: dict[str, int | None] | None = None) -> IngestResult:
    """Insert new documents, update changed ones, leave unchanged ones alone.

    With a ``generation`` (a full read in progress) every document seen is marked with it,
    so the read can delete the unseen ones when it completes. ``access``: each document's
    access list (``access.service``; a missing id or None is workspace-wide). A document whose
    content is unchanged but whose readers changed gets its new access list alone: it is not cut
    or embedded again, and the indexes are told to refresh its chunks' filter attributes.
    """
    access = access or {}
    latest: dict[str, DocumentData] = {}
    for doc in docs:  # the last version of a record within one page wins
        latest[doc.external_id] = doc
    result = IngestResult()
    if not latest:
        return result
    connection, fast = _session_connection()
    if fast is not None:
        existing = fast.existing(connection, scope, list(latest))
        created, updated, touch, changed_ids, regrant = fast.write(connection, scope, generation,
                                                                    list(latest.values()), existing, access)
        fast.delete_chunks(connection, updated)
    else:
        iso = _memo(isoformat)
        hashed = [(doc, _digest(doc, iso)) for doc in latest.values()]
        existing = {}
        c = DOCUMENTS.c
        for keys in _chunks(list(latest)):
            rows = connection.execute(select(c.external_id, c.id, c.content_hash, c.seen_generation, c.access_id)
                                      .where(c.origin_id == scope.origin_id, c.namespace == scope.namespace,
                                             c.external_id.in_(keys))).all()
            existing.update({row[0]: (row[1], row[2], row[3], row[4]) for row in rows})
        new, updates, touch, regrant = [], [], [], []
        for doc, digest in hashed:
            found = existing.get(doc.external_id)
            if found is None:
                new.append((doc, digest))
            elif found[1] != digest:
                updates.append((doc, digest, found[0]))
            else:
                if generation and found[2] != generation:
                    touch.append(found[0])
                if found[3] != access.get(doc.external_id):
                    regrant.append((found[0], access.get(doc.external_id)))
        if new or updates:
            inserts = [(doc, digest, id_) for (doc, digest), id_ in zip(new, _new_ids(len(new)))]
            _write(connection, scope, generation, utcnow(), inserts, updates, access)
        created, updated = len(new), [u[2] for u in updates]
        changed_ids = [doc.external_id for doc, _ in new] + [doc.external_id for doc, _, _ in updates]
        # The old chunks of changed documents leave search now; the index worker cuts the new content.
        for ids in _chunks(updated):
            connection.execute(delete(Chunk.__table__).where(Chunk.__table__.c.document_id.in_(ids)))
    for ids in _chunks(touch):
        connection.execute(update(DOCUMENTS).where(DOCUMENTS.c.id.in_(ids)).values(seen_generation=generation))
    if regrant:
        regranted(connection, regrant)
    result.created, result.updated = created, len(updated)
    result.unchanged = len(latest) - created - len(updated)
    result.changed_ids = changed_ids
    result.regranted = len(regrant)
    return result


def regrant_seen(scope: Scope, docs: Iterable[DocumentData], *, generation: str | None = None,
                 access: dict[str, int | None] | None = None) -> IngestResult:
    """A permissions pass's page: the stored documents among ``docs`` get their access lists
    (``access``, as for ``upsert``) and are marked seen by ``generation``; nothing else of them
    is written, whatever the records say (the pass may not have read their content: see
    ``SyncContext.content_wanted``), and records not stored yet are left for the next
    incremental read, which the pass does not move. ``unchanged`` counts the stored ones."""
    access = access or {}
    keys = list(dict.fromkeys(doc.external_id for doc in docs))
    c = DOCUMENTS.c
    touch, regrant = [], []
    result = IngestResult()
    for batch in _chunks(keys):
        for id_, external_id, seen, access_id in db.session.execute(
                select(c.id, c.external_id, c.seen_generation, c.access_id)
                .where(c.origin_id == scope.origin_id, c.namespace == scope.namespace, c.external_id.in_(batch))):
            result.unchanged += 1
            if generation and seen != generation:
                touch.append(id_)
            if access_id != access.get(external_id):
                regrant.append((id_, access.get(external_id)))
    connection, _fast = _session_connection()
    for ids in _chunks(touch):
        connection.execute(update(DOCUMENTS).where(DOCUMENTS.c.id.in_(ids)).values(seen_generation=generation))
    if regrant:
        regranted(connection, regrant)
    result.regranted = len(regrant)
    return result


def regrant_scope(scope: Scope, access_id: int | None) -> int:
    """Give every document of the scope (of its channel, if it has one) this access list, in
    bulk (a repository whose collaborators changed); returns how many changed."""
    c = DOCUMENTS.c
    query = select(c.id).where(c.origin_id == scope.origin_id, c.namespace == scope.namespace,
                               c.access_id.is_not(None) if access_id is None
                               else or_(c.access_id.is_(None), c.access_id != access_id))
    if scope.channel is not None:
        query = query.where(c.channel == scope.channel)
    ids = list(db.session.scalars(query))
    if ids:
        connection, _fast = _session_connection()
        regranted(connection, [(document_id, access_id) for document_id in ids])
    return len(ids)


def regranted(connection, changes: list[tuple[str, int | None]]) -> None:
    """Give documents (by id) a new access list, and log their embedded chunks as changed in
    attributes only, so every process's index refreshes their filter columns (no re-embedding)."""
    from core.timeutil import utcnow as now_

    by_access: dict = {}
    for document_id, access_id in changes:
        by_access.setdefault(access_id, []).append(document_id)
    chunks, changes_table = Chunk.__table__, ChunkChange.__table__
    stamp = now_()
    for access_id, ids in by_access.items():
        for batch in _chunks(ids):
            connection.execute(update(DOCUMENTS).where(DOCUMENTS.c.id.in_(batch)).values(access_id=access_id))
            connection.execute(insert(changes_table).from_select(
                ["vector_store_id", "chunk_id", "op", "created_at"],
                select(chunks.c.vector_store_id, chunks.c.id, literal("attr"), literal(stamp, type_=changes_table.c.created_at.type))
                .where(chunks.c.document_id.in_(batch), chunks.c.embedded_at.is_not(None))))


def _write(connection, scope: Scope, generation: str | None, now, inserts: list, updates: list,
           access: dict) -> None:
    """Insert and update documents, ``(doc, digest, id)`` each (a new id, or the stored row's),
    with Core executemany statements (the ORM's bulk INSERT path spends more time building its
    statements than the database spends writing the rows). Not on SQLite: ``_SQLiteRows``."""
    if inserts:
        connection.execute(insert(DOCUMENTS), [dict(zip(COLUMNS, _values(scope, doc, digest, generation, now, id_,
                                                                         access.get(doc.external_id))))
                                               for doc, digest, id_ in inserts])
    if updates:
        # Bind names must differ from column names in a Core executemany UPDATE.
        statement = (update(DOCUMENTS).where(DOCUMENTS.c.id == bindparam("_id"))
                     .values({name: bindparam("v_" + name) for name in UPDATE_COLUMNS}))
        rows = []
        for doc, digest, id_ in updates:
            row = dict(zip(COLUMNS, _values(scope, doc, digest, generation, now, id_, access.get(doc.external_id))))
            rows.append({"_id": id_, **{"v_" + name: row[name] for name in UPDATE_COLUMNS}})
        connection.execute(statement, rows)


class _SQLiteRows:
    """The SQLite write path: documents turned into exactly the parameters SQLAlchemy binds,
    written with plain SQL.

    Every value goes through its column type's own bind processor for the dialect, so stored
    values are identical (``UTCDateTime`` -> SQLite ``DATETIME`` text, ``JSON`` -> ``json.dumps``
    text, ``Boolean`` -> 1), but a value shared by many rows is processed once: the scope's
    columns, the generation and ``now`` once per call, datetimes once per distinct value. Only
    ``metadata`` is serialized per row (``json.dumps``'s C encoder, built once).

    Rows are written by batches (``write``), as multi-row statements of as many rows as SQLite's
    bound-parameter limit allows: an ``INSERT ... VALUES (...), (...)`` and an ``UPDATE ...
    FROM (VALUES ...)``, each one step of SQLite's, during which a worker thread prepares the
    next batch. The update finds rows by rowid (read with the stored hashes) and sets the
    ``_NARROW`` columns, those a changed record changes, guarded by the stored row's id and
    ``_GUARD`` columns (scope and identity) holding what the full update would write, so SQLite
    leaves the indexes on those alone (about a third of the update's cost); if any row's differ
    (a record that moved channel), the full update runs for all, the same end state.

    ``get`` says no (the Core path is used) unless the table is what this path writes: the
    columns of ``COLUMNS`` and no others with a Python-side default, plain strings; and SQLite
    is 3.33 or later.
    """

    _cache: dict = {}
    _PLAIN = ("id", "workspace_id", "origin_id", "connection_id", "vector_store_id", "namespace", "channel",
              "external_id", "source", "type", "title", "content", "author", "url", "content_hash",
              "seen_generation", "parent_id", "access_id")
    # What an update changes; and what it would rewrite with the values the row already holds.
    _NARROW = ("type", "title", "content", "author", "url", "metadata", "content_hash", "source_created_at",
               "source_updated_at", "seen_generation", "needs_chunking", "updated_at", "parent_id", "access_id")
    _GUARD = ("workspace_id", "connection_id", "vector_store_id", "channel", "source", "origin_id", "namespace",
              "external_id")

    @classmethod
    def get(cls, dialect) -> "_SQLiteRows | None":
        if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
            return None
        found = cls._cache.get(id(dialect))
        if found is None or found[0] is not dialect:
            found = cls._cache[id(dialect)] = (dialect, cls._build(dialect))
        return found[1]

    @classmethod
    def _build(cls, dialect) -> "_SQLiteRows | None":
        if getattr(dialect.dbapi, "sqlite_version_info", (0,)) < (3, 33, 0):  # UPDATE ... FROM
            return None
        if not DOCUMENTS.dialect_options["sqlite"]["with_rowid"]:  # the update finds rows by rowid
            return None
        columns = DOCUMENTS.c
        if any(name not in columns for name in COLUMNS) or any(
                column.name not in COLUMNS and (column.default is not None or column.onupdate is not None)
                for column in columns):
            return None
        processors = {name: columns[name].type.dialect_impl(dialect).bind_processor(dialect) for name in COLUMNS}
        if any(processors[name] is not None for name in cls._PLAIN):
            return None
        return cls(dialect, processors)

    def __init__(self, dialect, processors: dict):
        assert set(self._NARROW) | set(self._GUARD) == set(UPDATE_COLUMNS)
        self.processors = {name: process or (lambda value: value) for name, process in processors.items()}
        samples = ({}, {"b": [1, 2.5, None, True], "a": {"é": "ü\n\"x"}}, [], "x", None)
        if all(self.processors["metadata"](sample) == _store_json(sample) for sample in samples):
            self.processors["metadata"] = _store_json  # json.dumps, minus its per-call setup
        quote = dialect.identifier_preparer.quote
        self.table = table = dialect.identifier_preparer.format_table(DOCUMENTS)
        self.chunks = dialect.identifier_preparer.format_table(Chunk.__table__)
        self.row_sql = "(" + ", ".join("?" for _ in COLUMNS) + ")"
        self.insert_head = f"INSERT INTO {table} ({', '.join(quote(c) for c in COLUMNS)}) VALUES "
        self.update_sql = (f"UPDATE {table} SET {', '.join(quote(c) + ' = ?' for c in UPDATE_COLUMNS)} "
                           f"WHERE {quote('id')} = ?")
        # The narrow update: (the _NARROW values, id, the _GUARD values, rowid) per row.
        self.narrow_width = len(self._NARROW) + 1 + len(self._GUARD) + 1
        self.narrow_row_sql = "(" + ", ".join("?" for _ in range(self.narrow_width)) + ")"
        column = {name: f"v.column{i + 1}" for i, name in enumerate((*self._NARROW, "id", *self._GUARD, "rowid"))}
        self.update_head = (f"UPDATE {table} SET " + ", ".join(f"{quote(c)} = {column[c]}" for c in self._NARROW)
                            + " FROM (VALUES ")
        self.update_tail = (f") AS v WHERE {table}.rowid = {column['rowid']} AND "
                            + " AND ".join(f"{table}.{quote(c)} IS {column[c]}" for c in ("id", *self._GUARD)))
        self.statements: dict[tuple[str, int], str] = {}

    @staticmethod
    def _max_params(connection) -> int:
        """SQLite's limit on bound parameters per statement (32,766 since 3.32)."""
        try:
            import sqlite3

            limit = connection.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except Exception:  # before Python 3.11: the historical minimum
            limit = 999
        return min(limit, 32766)

    def existing(self, connection, scope: Scope, external_ids: list) -> dict[str, tuple]:
        """``{external_id: (id, content_hash, seen_generation, rowid, access_id)}`` of the scope's
        stored documents (the rowid spares the update a lookup in the primary-key index)."""
        found: dict[str, tuple] = {}
        size = self._max_params(connection) - 2
        for start in range(0, len(external_ids), size):
            keys = external_ids[start:start + size]
            rows = connection.exec_driver_sql(
                f"SELECT external_id, id, content_hash, seen_generation, rowid, access_id FROM {self.table} "
                f"WHERE origin_id = ? AND namespace = ? AND external_id IN ({', '.join('?' * len(keys))})",
                (scope.origin_id, scope.namespace, *keys)).all()
            found.update({row[0]: (row[1], row[2], row[3], row[4], row[5]) for row in rows})
        return found

    def external_ids(self, connection, scope: Scope) -> list[str]:
        """The external ids of the scope's stored documents (of its channel, if it has one)."""
        sql = f"SELECT external_id FROM {self.table} WHERE origin_id = ? AND namespace = ?"
        params = (scope.origin_id, scope.namespace)
        if scope.channel is not None:
            sql, params = sql + " AND channel = ?", (*params, scope.channel)
        return [row[0] for row in connection.exec_driver_sql(sql, params).all()]

    def delete_ids(self, connection, scope: Scope, external_ids: list) -> int:
        deleted = 0
        size = self._max_params(connection) - 2
        for start in range(0, len(external_ids), size):
            keys = external_ids[start:start + size]
            deleted += connection.exec_driver_sql(
                f"DELETE FROM {self.table} WHERE origin_id = ? AND namespace = ? "
                f"AND external_id IN ({', '.join('?' * len(keys))})",
                (scope.origin_id, scope.namespace, *keys)).rowcount
        return deleted

    def delete_chunks(self, connection, document_ids: list) -> None:
        size = self._max_params(connection)
        for start in range(0, len(document_ids), size):
            ids = document_ids[start:start + size]
            connection.exec_driver_sql(f"DELETE FROM {self.chunks} WHERE document_id IN ({', '.join('?' * len(ids))})",
                                       tuple(ids))

    def _statement(self, kind: str, rows: int) -> str:
        """The multi-row INSERT, or UPDATE ... FROM (VALUES ...), of ``rows`` rows."""
        sql = self.statements.get((kind, rows))
        if sql is None:
            if kind == "insert":
                sql = self.insert_head + ", ".join([self.row_sql] * rows)
            else:
                sql = self.update_head + ", ".join([self.narrow_row_sql] * rows) + self.update_tail
            if len(self.statements) >= 8:  # full-size batches repeat; remainders vary
                self.statements.clear()
            self.statements[(kind, rows)] = sql
        return sql

    def write(self, connection, scope: Scope, generation: str | None, docs: list[DocumentData],
              existing: dict, access: dict) -> tuple[int, list, list, list, list]:
        """Hash ``docs`` (one per external id), sort them out against ``existing`` and write
        them; return (documents created, ids of those updated, ids whose generation to mark,
        external ids of those created or updated, (id, access) of unchanged ones whose access changed).

        In batches of as many rows as one statement may bind: each batch is hashed and turned
        into parameters on a worker thread while SQLite writes the batch before it (the sqlite3
        module releases the GIL while SQLite works), and written as one multi-row ``INSERT``
        and one multi-row ``UPDATE ... FROM (VALUES ...)`` (the narrow update, see the class).
        """
        now = utcnow()
        iso = _memo(isoformat)
        p = self.processors
        ws, origin, conn, store = scope.workspace_id, scope.origin_id, scope.connection_id, scope.vector_store_id
        namespace, channel, source, gen = scope.namespace, scope.channel, scope.source, generation
        needs, stamp_created, stamp = p["needs_chunking"](True), p["created_at"](now), p["updated_at"](now)
        metadata, created, updated = p["metadata"], _memo(p["source_created_at"]), _memo(p["source_updated_at"])
        limit = self._max_params(connection)
        per = max(1, min(limit // len(COLUMNS), limit // self.narrow_width))

        def prepare(batch: list[DocumentData]):
            new, changed, touch, regrant = [], [], [], []
            for doc in batch:
                digest = _digest(doc, iso)
                found = existing.get(doc.external_id)
                if found is None:
                    new.append((doc, digest))
                elif found[1] != digest:
                    changed.append((doc.type, doc.title or "", doc.content or "", doc.author, doc.url,
                                    metadata(doc.metadata or {}), digest, created(doc.created_at),
                                    updated(doc.updated_at), gen, needs, stamp, doc.parent_id,
                                    access.get(doc.external_id), found[0], ws, conn, store, channel, source, origin,
                                    namespace, doc.external_id, found[3]))
                else:
                    if generation and found[2] != generation:
                        touch.append(found[0])
                    if found[4] != access.get(doc.external_id):
                        regrant.append((found[0], access.get(doc.external_id)))
            inserts = []
            add = inserts.extend
            for (doc, digest), id_ in zip(new, _new_ids(len(new))):
                add((id_, ws, origin, conn, store, namespace, channel, doc.external_id, source, doc.type,
                     doc.title or "", doc.content or "", doc.author, doc.url, metadata(doc.metadata or {}), digest,
                     created(doc.created_at), updated(doc.updated_at), gen, needs, stamp_created, stamp,
                     doc.parent_id, access.get(doc.external_id)))
            return (len(new), tuple(inserts), changed, tuple(chain.from_iterable(changed)), touch,
                    [doc.external_id for doc, _ in new], regrant)

        # The first batch is prepared while nothing else runs: small ones first, each at most
        # twice its predecessor (SQLite writes a row in about twice the time it takes to prepare).
        batches, start, size = [], 0, min(per, 256)
        while start < len(docs):
            batches.append(docs[start:start + size])
            start, size = start + size, min(per, size * 2)
        total_created, changed, touch, narrowed, created_ids, regrant = 0, [], [], 0, [], []
        with closing(_pipelined(prepare, batches)) as prepared:
            for count, inserts, batch_changed, update_params, batch_touch, batch_created, batch_regrant in prepared:
                if count:
                    connection.exec_driver_sql(self._statement("insert", count), inserts)
                if batch_changed:
                    narrowed += connection.exec_driver_sql(self._statement("update", len(batch_changed)),
                                                           update_params).rowcount
                total_created += count
                changed.extend(batch_changed)
                touch.extend(batch_touch)
                created_ids.extend(batch_created)
                regrant.extend(batch_regrant)
        if narrowed != len(changed):
            # Some stored rows are not in the writing scope (a record that moved channel): the
            # full update, for all (rewriting the others with what they hold is harmless).
            connection.exec_driver_sql(self.update_sql, [
                (r[15], r[20], r[16], r[17], r[21], r[18], r[22], r[19], *r[:14], r[14]) for r in changed])
        return total_created, [r[14] for r in changed], touch, created_ids + [r[22] for r in changed], regrant


def _pipelined(prepare, batches: list):
    """``prepare(batch)`` for each batch, in order, yielded one after the other; from the second
    batch on, a worker thread prepares the next batch while the caller handles the one yielded."""
    if len(batches) < 2:
        for batch in batches:
            yield prepare(batch)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as pool:
        ahead = None
        try:
            ahead = pool.submit(prepare, batches[0])
            for batch in batches[1:]:
                ready = ahead.result()
                ahead = pool.submit(prepare, batch)
                yield ready
            ready, ahead = ahead.result(), None
            yield ready
        finally:
            if ahead is not None:
                ahead.cancel()


def _session_connection():
    """The session's connection, after the autoflush the session's own statements would do
    first, and the SQLite write path for it (``None`` elsewhere)."""
    if db.session.autoflush:
        db.session.flush()
    connection = db.session.connection()
    return connection, _SQLiteRows.get(connection.dialect)


def delete_ids(scope: Scope, external_ids: Iterable[str]) -> int:
    connection, fast = _session_connection()
    if fast is not None:
        return fast.delete_ids(connection, scope, list(external_ids))
    deleted = 0
    for ids in _chunks(list(external_ids)):
        deleted += db.session.execute(delete(Document).where(
            Document.origin_id == scope.origin_id, Document.namespace == scope.namespace,
            Document.external_id.in_(ids)).execution_options(synchronize_session=False)).rowcount
    return deleted


def unseen_ids(scope: Scope, generation: str) -> list[str]:
    """The scope's documents a full read (``generation``) did not see: candidates for
    deletion, each to be confirmed gone at the source first."""
    query = select(Document.external_id).where(
        Document.origin_id == scope.origin_id, Document.namespace == scope.namespace,
        (Document.seen_generation != generation) | Document.seen_generation.is_(None))
    if scope.channel is not None:
        query = query.where(Document.channel == scope.channel)
    return list(db.session.scalars(query))


def delete_unseen(scope: Scope, generation: str, external_ids: Iterable[str]) -> int:
    """Delete those of ``external_ids`` that the full read ``generation`` still has not seen
    (one seen since, by the read or by a confirmation, stays)."""
    deleted = 0
    for ids in _chunks(list(external_ids)):
        query = delete(Document).where(
            Document.origin_id == scope.origin_id, Document.namespace == scope.namespace,
            Document.external_id.in_(ids),
            (Document.seen_generation != generation) | Document.seen_generation.is_(None))
        if scope.channel is not None:
            query = query.where(Document.channel == scope.channel)
        deleted += db.session.execute(query.execution_options(synchronize_session=False)).rowcount
    return deleted


def stored_ids(scope: Scope) -> list[str]:
    """The external ids of the scope's stored documents (of its channel, if it has one)."""
    connection, fast = _session_connection()
    if fast is not None:
        return fast.external_ids(connection, scope)
    query = select(Document.external_id).where(Document.origin_id == scope.origin_id,
                                               Document.namespace == scope.namespace)
    if scope.channel is not None:
        query = query.where(Document.channel == scope.channel)
    return list(db.session.scalars(query))


def keep_only(scope: Scope, current_ids: set[str]) -> int:
    """Delete the scope's documents whose id is not in ``current_ids`` (the pipeline's
    full_refresh: the caller's list is the truth)."""
    return delete_ids(scope, [external_id for external_id in stored_ids(scope) if external_id not in current_ids])


def _stored(where, keys: list[str]) -> list[tuple[str | None, int | None, DocumentData]]:
    """Stored documents as ``(channel, access_id, DocumentData)``; ``where(ids)`` selects them,
    ``keys`` in batches."""
    found = []
    c = DOCUMENTS.c
    for ids in _chunks(keys):
        rows = db.session.execute(select(
            c.channel, c.external_id, c.title, c.content, c.type, c.url, c.author, c.source_created_at,
            c.source_updated_at, c["metadata"], c.parent_id, c.access_id).where(*where(ids))).all()
        found.extend((row[0], row[11], DocumentData(
            external_id=row[1], title=row[2], content=row[3], type=row[4], url=row[5], author=row[6],
            created_at=row[7], updated_at=row[8], metadata=row[9] or {}, parent_id=row[10])) for row in rows)
    return found


def children_of(origin_id: str, namespace: str, parent_ids: list[str]) -> list[tuple[str | None, int | None, DocumentData]]:
    """The stored documents of ``namespace`` whose parent is one of ``parent_ids``, as
    ``(channel, access_id, DocumentData)`` (what ``Connector.rederive`` takes, and what the
    rewritten child keeps)."""
    c = DOCUMENTS.c
    return _stored(lambda ids: (c.origin_id == origin_id, c.namespace == namespace, c.parent_id.in_(ids)), parent_ids)


def documents_by_id(origin_id: str, namespaces: list[str], external_ids: list[str]) -> dict[str, DocumentData]:
    """The stored documents of these namespaces with these external ids, by external id (a
    child's parents: ``sync.engine`` derives a new child from its stored parent)."""
    c = DOCUMENTS.c
    return {doc.external_id: doc for _, _, doc in _stored(
        lambda ids: (c.origin_id == origin_id, c.namespace.in_(namespaces), c.external_id.in_(ids)), external_ids)}
