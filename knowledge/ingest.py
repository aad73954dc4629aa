"""The one ingest path: connector syncs and the pipeline-sync API both write documents here.

Documents are upserted by ``(origin_id, namespace, external_id)``. Each record's content hash
is compared with the stored one, so an unchanged record writes nothing (an incremental sync
that finds nothing new writes zero rows). Statements are Core bulk statements run in the
caller's transaction: the caller commits the page together with its checkpoint.

A stored or changed document is marked ``needs_chunking`` (a changed one loses its old chunks
in the same transaction); the index worker (``knowledge.embedding_queue``) cuts it into chunks
and embeds them after the commit, so ingest never pays for chunking or embedding. Callers
``embedding_queue.wake()`` after committing.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update

from connectors.base import DocumentData
from core.extensions import db
from core.timeutil import isoformat, utcnow

from .models import Chunk, Document

# SQLite allows 32,766 bound parameters; keep IN lists well under it.
CHUNK = 500
DOCUMENTS = Document.__table__


@dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def written(self) -> int:
        """Rows whose content changed: what a run reports as records written."""
        return self.created + self.updated + self.deleted

    def add(self, other: "IngestResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


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


# json.dumps(..., sort_keys=True, default=str, separators=(",", ":")) builds an encoder per
# call; one built once encodes the same bytes (the stored hashes stay valid).
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def content_hash(doc: DocumentData) -> str:
    payload = _HASH_ENCODER.encode([doc.title, doc.content, doc.type, doc.url, doc.author,
                                    isoformat(doc.created_at), isoformat(doc.updated_at), doc.metadata])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _new_ids(count: int, prefix: str = "doc") -> list[str]:
    """``count`` ids exactly as ``core.ids.new_id`` makes them (prefix + 80 random bits in
    lower-case base32), from one base32 pass: 10 random bytes are 16 base32 characters, so the
    encoding of ``count`` blocks is ``count`` ids side by side. (Per id, the pure-Python base32
    encoder cost a full sync as much as SQLite's own inserts.)"""
    raw = base64.b32encode(secrets.token_bytes(10 * count)).decode("ascii").lower()
    return [f"{prefix}_{raw[i:i + 16]}" for i in range(0, 16 * count, 16)]


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def upsert(scope: Scope, docs: Iterable[DocumentData], *, generation: str | None = None) -> IngestResult:
    """Insert new documents, update changed ones, leave unchanged ones alone.

    With a ``generation`` (a full read in progress) every document seen is marked with it,
    so the read can delete the unseen ones when it completes.
    """
    latest: dict[str, tuple[DocumentData, str]] = {}
    for doc in docs:  # the last version of a record within one page wins
        latest[doc.external_id] = (doc, content_hash(doc))
    result = IngestResult()
    if not latest:
        return result
    existing: dict[str, tuple[str, str, str | None]] = {}
    for keys in _chunks(list(latest)):
        rows = db.session.execute(select(Document.external_id, Document.id, Document.content_hash,
                                         Document.seen_generation)
                                  .where(Document.origin_id == scope.origin_id,
                                         Document.namespace == scope.namespace,
                                         Document.external_id.in_(keys)))
        existing.update({row[0]: (row[1], row[2], row[3]) for row in rows})
    now = utcnow()
    new, updates, touch = [], [], []
    for external_id, (doc, digest) in latest.items():
        found = existing.get(external_id)
        if found is None:
            new.append((doc, digest))
        elif found[1] != digest:
            row = _row(scope, doc, digest, generation, now, None)
            row.pop("created_at")
            row.pop("id")
            updates.append({"_id": found[0], **row})
        elif generation and found[2] != generation:
            touch.append(found[0])
    inserts = [_row(scope, doc, digest, generation, now, id_)
               for (doc, digest), id_ in zip(new, _new_ids(len(new)))]
    if inserts:
        # A Core executemany on the table: the ORM's bulk INSERT path spends more time building
        # its statements than SQLite spends writing the rows.
        db.session.connection().execute(insert(DOCUMENTS), inserts)
    if updates:
        # Bind names must differ from column names in a Core executemany UPDATE.
        columns = [k for k in updates[0] if k != "_id"]
        statement = (update(DOCUMENTS).where(DOCUMENTS.c.id == bindparam("_id"))
                     .values({c: bindparam("v_" + c) for c in columns}))
        db.session.connection().execute(statement, [
            {"_id": u["_id"], **{"v_" + c: u[c] for c in columns}} for u in updates])
    for ids in _chunks([u["_id"] for u in updates]):
        # The old chunks leave search now; the index worker cuts the new content.
        db.session.execute(delete(Chunk).where(Chunk.document_id.in_(ids)).execution_options(synchronize_session=False))
    for ids in _chunks(touch):
        db.session.execute(update(Document).where(Document.id.in_(ids)).values(seen_generation=generation)
                           .execution_options(synchronize_session=False))
    result.created, result.updated = len(inserts), len(updates)
    result.unchanged = len(latest) - len(inserts) - len(updates)
    return result


def _row(scope: Scope, doc: DocumentData, digest: str, generation: str | None, now, id_: str | None) -> dict:
    """A documents row keyed by column name (``metadata``, not the attribute ``metadata_``)."""
    return {
        "id": id_, "workspace_id": scope.workspace_id, "origin_id": scope.origin_id,
        "connection_id": scope.connection_id, "vector_store_id": scope.vector_store_id,
        "namespace": scope.namespace, "channel": scope.channel, "external_id": doc.external_id,
        "source": scope.source, "type": doc.type, "title": doc.title or "", "content": doc.content or "",
        "author": doc.author, "url": doc.url, "metadata": doc.metadata or {}, "content_hash": digest,
        "source_created_at": doc.created_at, "source_updated_at": doc.updated_at,
        "seen_generation": generation, "needs_chunking": True, "created_at": now, "updated_at": now,
    }


def delete_ids(scope: Scope, external_ids: Iterable[str]) -> int:
    deleted = 0
    for ids in _chunks(list(external_ids)):
        deleted += db.session.execute(delete(Document).where(
            Document.origin_id == scope.origin_id, Document.namespace == scope.namespace,
            Document.external_id.in_(ids)).execution_options(synchronize_session=False)).rowcount
    return deleted


def delete_unseen(scope: Scope, generation: str) -> int:
    """After a completed full read: remove the scope's documents that read did not see."""
    query = delete(Document).where(Document.origin_id == scope.origin_id, Document.namespace == scope.namespace,
                                   (Document.seen_generation != generation) | Document.seen_generation.is_(None))
    if scope.channel is not None:
        query = query.where(Document.channel == scope.channel)
    return db.session.execute(query.execution_options(synchronize_session=False)).rowcount


def keep_only(scope: Scope, current_ids: set[str]) -> int:
    """The prune pass: delete the scope's documents whose id the provider no longer lists."""
    query = select(Document.external_id).where(Document.origin_id == scope.origin_id,
                                               Document.namespace == scope.namespace)
    if scope.channel is not None:
        query = query.where(Document.channel == scope.channel)
    gone = [external_id for external_id in db.session.scalars(query) if external_id not in current_ids]
    return delete_ids(scope, gone)
