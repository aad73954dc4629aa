"""Documents of the knowledge store: list (keyset pages), fetch and delete one by one.

Every read and write is scoped to ``actor.workspace_id`` and to what the actor may read
(``access.service``): a document of another workspace, or one its asker may not read, is
answered exactly like one that does not exist.

Pages are newest first, ordered by ``(created_at, id)`` descending, and the opaque cursor
carries the last row's pair: a page starts strictly after it, so paging never repeats or skips
a document that exists throughout (documents created meanwhile appear on a fresh listing;
updates keep ``created_at``, so an updated document does not move).
"""
from __future__ import annotations

from sqlalchemy import and_, delete, func, or_, select

from audit.service import record
from core.actor import Actor
from core.errors import NotFound
from core.pagination import decode_cursor, encode_cursor, parse_limit
from core.extensions import db
from core.timeutil import isoformat

from . import stores
from .models import Chunk, Document

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# Everything but the content: what a list shows.
SUMMARY_COLUMNS = (Document.id, Document.workspace_id, Document.vector_store_id, Document.namespace,
                   Document.external_id, Document.source, Document.type, Document.title, Document.url,
                   Document.author, Document.metadata_, Document.content_hash, Document.connection_id,
                   Document.channel, Document.source_created_at, Document.source_updated_at,
                   Document.created_at, Document.updated_at)


def _limit(value) -> int:
    return parse_limit(value, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)


def _store_ids(rows, workspace_id: str) -> dict:
    """Connector documents without a store are the default store's: its id, when needed."""
    if any(row.vector_store_id is None for row in rows):
        default = stores.find_default(workspace_id)
        return {None: default.id if default else None}
    return {}


def _summary(row, store_ids: dict) -> dict:
    return {
        "id": row.id,
        "vector_store_id": row.vector_store_id if row.vector_store_id is not None else store_ids.get(None),
        "namespace": row.namespace, "external_id": row.external_id, "source": row.source, "type": row.type,
        "title": row.title, "url": row.url, "author": row.author, "metadata": row.metadata_ or {},
        "content_hash": row.content_hash, "connection_id": row.connection_id, "channel": row.channel,
        "source_created_at": isoformat(row.source_created_at), "source_updated_at": isoformat(row.source_updated_at),
        "created_at": isoformat(row.created_at), "updated_at": isoformat(row.updated_at),
    }


def list_documents(actor: Actor, vector_store_id: str | None = None, namespace: str | None = None,
                   source: str | None = None, limit=DEFAULT_LIMIT, cursor: str | None = None) -> dict:
    """A page of the workspace's documents, newest first, optionally narrowed to one store, one
    namespace and one source. ``next_cursor`` is ``None`` on the last page."""
    from access.service import allowed, readable

    limit = _limit(limit)
    after = decode_cursor(cursor) if cursor else None
    query = select(*SUMMARY_COLUMNS).where(Document.workspace_id == actor.workspace_id,
                                           readable(Document.access_id, allowed(actor)))
    if vector_store_id:
        query = query.where(stores.in_store(stores.get_store(actor, vector_store_id)))
    if namespace:
        query = query.where(Document.namespace == namespace)
    if source:
        query = query.where(Document.source == source)
    if after:
        created_at, document_id = after
        query = query.where(or_(Document.created_at < created_at,
                                and_(Document.created_at == created_at, Document.id < document_id)))
    rows = db.session.execute(query.order_by(Document.created_at.desc(), Document.id.desc())
                              .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    store_ids = _store_ids(rows, actor.workspace_id)
    return {"documents": [_summary(row, store_ids) for row in rows],
            "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more else None}


def _get(actor: Actor, document_id) -> Document:
    """A document of the actor's workspace that the actor may read; any other is the same
    not-found as one that does not exist."""
    from access.service import allowed, may_read

    document = db.session.get(Document, document_id) if isinstance(document_id, str) else None
    if (document is None or document.workspace_id != actor.workspace_id
            or not may_read(allowed(actor), document.access_id)):
        raise NotFound("Document not found.", code="document_not_found", details={"id": document_id})
    return document


def get_document(actor: Actor, document_id: str) -> dict:
    """One document with its content and how many chunks it has (embedded or not yet)."""
    document = _get(actor, document_id)
    result = _summary(document, _store_ids([document], actor.workspace_id))
    result["content"] = document.content
    result["chunk_count"] = db.session.scalar(select(func.count()).select_from(Chunk)
                                              .where(Chunk.document_id == document.id))
    return result


def delete_document(actor: Actor, document_id: str) -> dict:
    """Delete one document. Its chunks go with it (``ON DELETE CASCADE``), so it leaves lexical
    search at once, and the database trigger on chunks logs each embedded chunk's removal to
    ``chunk_changes`` for the vector indexes in the same transaction.

    A connector's document comes back if the provider still has it and a later sync reads it
    again (the next full sync at the latest)."""
    document = _get(actor, document_id)
    details = {"namespace": document.namespace, "external_id": document.external_id[:200],
               "source": document.source, "vector_store_id": document.vector_store_id}
    db.session.execute(delete(Document).where(Document.id == document.id)
                       .execution_options(synchronize_session=False))
    db.session.expunge(document)
    record(actor, "document.deleted", target_type="document", target_id=document_id, details=details)
    db.session.commit()
    return {"deleted": True, "id": document_id}


def counts_by_connection(actor: Actor, connection_ids: list[str]) -> dict[str, int]:
    """How many documents of each connection ``actor`` may read (a connection with none is
    absent): a count never includes a document its asker may not read."""
    from access.service import allowed, readable

    if not connection_ids:
        return {}
    lists = allowed(actor)
    counts: dict[str, int] = {}
    for start in range(0, len(connection_ids), 500):  # bound the IN list
        counts.update(db.session.execute(
            select(Document.connection_id, func.count()).where(
                Document.workspace_id == actor.workspace_id,
                Document.connection_id.in_(connection_ids[start:start + 500]),
                readable(Document.access_id, lists)).group_by(Document.connection_id)).all())
    return counts
