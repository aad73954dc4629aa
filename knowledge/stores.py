"""Vector stores: named indexes of a workspace, and the documents in them.

Every workspace has one default store (``is_default``, named ``default``): connections write
into it. Named stores are created through the API and receive pipeline-sync data. A document
of a store is owned by it (``origin_id == vector_store_id == store.id``); connector documents
belong to their connection and, until the sync engine stamps them with a store, carry no
``vector_store_id``: they count as the default store's.

Every read and write is scoped to ``actor.workspace_id``; a store of another workspace is the
same ``404 vector_store_not_found`` as one that does not exist. Each change commits once,
with its audit event.
"""
from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from audit.service import record
from core.actor import Actor, system_actor
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.ids import new_id
from core.text import check_name
from core.timeutil import isoformat, utcnow

from .models import Document, VectorStore

DEFAULT_NAME = "default"
MAX_NAME = 120
MAX_DESCRIPTION = 2000


# -- the default store ------------------------------------------------------------------------

def _insert_ignoring_conflict(table, values: dict):
    """``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL: a concurrent creator of
    the same row makes this a no-op instead of an error (and on PostgreSQL waits for it)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return db.session.execute(insert(table).values(values).on_conflict_do_nothing())


def find_default(workspace_id: str) -> VectorStore | None:
    return db.session.scalar(select(VectorStore).where(VectorStore.workspace_id == workspace_id,
                                                       VectorStore.is_default.is_(True)))


def default_store(workspace_id: str) -> VectorStore:
    """The workspace's default store, created on first use.

    Race-safe: two processes creating it at once insert the same ``(workspace_id, "default")``
    row; the unique constraint and ``ON CONFLICT DO NOTHING`` leave exactly one. Runs in the
    caller's transaction (the caller commits).
    """
    store = find_default(workspace_id)
    if store is not None:
        return store
    store_id = new_id("vs")
    inserted = _insert_ignoring_conflict(VectorStore.__table__, {
        "id": store_id, "workspace_id": workspace_id, "name": DEFAULT_NAME, "is_default": True,
        "description": "The workspace's default store: connections write into it.", "created_at": utcnow(),
    }).rowcount
    if inserted:
        record(system_actor(workspace_id), "vector_store.created", target_type="vector_store",
               target_id=store_id, details={"name": DEFAULT_NAME, "is_default": True})
    store = find_default(workspace_id)
    if store is None:  # pragma: no cover - a non-default row named "default" (not creatable by API)
        raise Conflict("A vector store named 'default' exists but is not the default store.",
                       code="vector_store_exists", details={"name": DEFAULT_NAME})
    return store


# -- reading ----------------------------------------------------------------------------------

def _get(actor: Actor, store_id) -> VectorStore:
    store = db.session.get(VectorStore, store_id) if isinstance(store_id, str) else None
    if store is None or store.workspace_id != actor.workspace_id:
        raise NotFound("Vector store not found.", code="vector_store_not_found", details={"id": store_id})
    return store


def in_store(store: VectorStore):
    """The documents of ``store``: its own, plus (for the default store) the connector documents
    that carry no store yet."""
    if store.is_default:
        return (Document.workspace_id == store.workspace_id) & or_(
            Document.vector_store_id == store.id, Document.vector_store_id.is_(None))
    return (Document.workspace_id == store.workspace_id) & (Document.vector_store_id == store.id)


def _document_counts(workspace_id: str, lists=None) -> dict[str | None, int]:
    """Documents per store, of those the asker may read (``lists``: ``access.service.allowed``)."""
    from access.service import readable

    rows = db.session.execute(select(Document.vector_store_id, func.count()).where(
        Document.workspace_id == workspace_id, readable(Document.access_id, lists)).group_by(Document.vector_store_id))
    return {store_id: count for store_id, count in rows}


def serialize(store: VectorStore, document_count: int, backlog: dict | None = None) -> dict:
    """A store as the API shows it. ``chunking_backlog``: its documents waiting to be cut into
    chunks; ``embedding_backlog``: its chunks waiting to be embedded (until then, found by
    lexical search only). ``semantic_search``: whether this deployment can embed at all (when
    not, why, and the command that fixes it), since without it the backlog never drains."""
    from .embeddings import model_status

    backlog = backlog if backlog is not None else backlogs(store.workspace_id)
    waiting = backlog.get(store.id, (0, 0))
    return {"id": store.id, "name": store.name, "description": store.description,
            "is_default": bool(store.is_default), "document_count": document_count,
            "chunking_backlog": waiting[0], "embedding_backlog": waiting[1],
            "semantic_search": model_status().public(), "created_at": isoformat(store.created_at)}


def backlogs(workspace_id: str, lists=None) -> dict[str, tuple[int, int]]:
    """store id -> (documents waiting to be chunked, chunks waiting to be embedded), of the
    documents the asker may read (``lists``: ``access.service.allowed``)."""
    from access.service import readable

    from .embedding_queue import backlog as embedding_backlog

    default = find_default(workspace_id)
    chunking: dict[str, int] = {}
    for store_id, count in db.session.execute(
            select(Document.vector_store_id, func.count()).where(
                Document.workspace_id == workspace_id, Document.needs_chunking.is_(True),
                readable(Document.access_id, lists))
            .group_by(Document.vector_store_id)):
        key = store_id if store_id is not None else (default.id if default else None)
        chunking[key] = chunking.get(key, 0) + count
    embedding = embedding_backlog(workspace_id, lists)
    return {store_id: (chunking.get(store_id, 0), embedding.get(store_id, 0))
            for store_id in set(chunking) | set(embedding) if store_id is not None}


def _count_for(store: VectorStore, counts: dict) -> int:
    return counts.get(store.id, 0) + (counts.get(None, 0) if store.is_default else 0)


def list_stores(actor: Actor) -> list[dict]:
    """Every store of the workspace, the default first, then by name, with document counts."""
    if find_default(actor.workspace_id) is None:
        default_store(actor.workspace_id)
        db.session.commit()
    stores = db.session.scalars(select(VectorStore).where(VectorStore.workspace_id == actor.workspace_id)
                                .order_by(VectorStore.is_default.desc(), VectorStore.name, VectorStore.id))
    from access.service import allowed

    lists = allowed(actor)  # counts of what the asker may read: nothing hidden shows
    counts = _document_counts(actor.workspace_id, lists)
    waiting = backlogs(actor.workspace_id, lists)
    return [serialize(store, _count_for(store, counts), waiting) for store in stores]


def get_store(actor: Actor, store_id: str) -> VectorStore:
    return _get(actor, store_id)


def describe(actor: Actor, store: VectorStore) -> dict:
    """One store, with the counts of what the asker may read."""
    from access.service import allowed, readable

    lists = allowed(actor)
    count = db.session.scalar(select(func.count()).select_from(Document).where(
        in_store(store), readable(Document.access_id, lists)))
    return serialize(store, count, backlogs(store.workspace_id, lists))


# -- changing ---------------------------------------------------------------------------------

def _name(params: dict) -> str:
    value = params.get("name")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("name is required.", code="missing_field", details={"field": "name"})
    if not isinstance(value, str):
        raise ValidationError("name must be a string.", code="invalid_field", details={"field": "name"})
    value = value.strip()
    if len(value) > MAX_NAME:
        raise ValidationError(f"name is at most {MAX_NAME} characters.", code="invalid_field",
                              details={"field": "name"})
    return check_name(value, "name")


def _description(params: dict) -> str | None:
    value = params.get("description")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationError(f"description is a string of at most {MAX_DESCRIPTION} characters.",
                              code="invalid_field", details={"field": "description"})
    return value.strip() or None


def create_store(actor: Actor, name, description=None) -> VectorStore:
    """A named store. Names are unique in a workspace (exactly, case-sensitive); ``default`` is
    the default store's."""
    params = {"name": name, "description": description}
    name, description = _name(params), _description(params)
    exists = Conflict(f"A vector store named {name!r} already exists in this workspace.",
                      code="vector_store_exists", details={"name": name})
    if name == DEFAULT_NAME or db.session.scalar(select(VectorStore.id).where(
            VectorStore.workspace_id == actor.workspace_id, VectorStore.name == name)):
        raise exists
    store = VectorStore(workspace_id=actor.workspace_id, name=name, description=description, is_default=False)
    db.session.add(store)
    try:
        db.session.flush()
    except IntegrityError:  # created concurrently under the same name
        db.session.rollback()
        raise exists from None
    record(actor, "vector_store.created", target_type="vector_store", target_id=store.id,
           details={"name": name})
    db.session.commit()
    return store


def delete_store(actor: Actor, store_id: str) -> dict:
    """Delete a named store and its documents (their chunks cascade; a trigger logs the removal
    of embedded chunks for the vector indexes). The default store cannot be deleted."""
    store = _get(actor, store_id)
    if store.is_default:
        raise Conflict("The default vector store cannot be deleted: connections write into it.",
                       code="default_store", details={"id": store.id})
    # Lock the row first (PostgreSQL), so a pipeline sync into this store either finished before
    # or waits and then finds the store gone: no document outlives its store.
    db.session.scalar(select(VectorStore.id).where(VectorStore.id == store.id).with_for_update())
    removed = db.session.execute(delete(Document).where(in_store(store))
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.execute(delete(VectorStore).where(VectorStore.id == store.id)
                       .execution_options(synchronize_session=False))
    record(actor, "vector_store.deleted", target_type="vector_store", target_id=store.id,
           details={"name": store.name, "documents_deleted": removed})
    db.session.commit()
    from flask import current_app

    from .indexes import manager

    manager(current_app).drop(store_id)  # this process's copy; others drop it at their next upkeep
    return {"deleted": True, "id": store_id, "documents_deleted": removed}
