"""Pipeline sync (specs/pipeline-sync.md): upserts and deletes from pipeline platforms, atomically,
into a named vector store.

One request is one transaction. Everything is validated before anything is written, so a bad
operation fails the request with a ``422`` that names it (``details.operation_index``, ``id``,
``field``) and nothing is stored; then every operation is written through the one ingest path
(``knowledge.ingest``: bulk statements, unchanged content skipped by hash) and committed
together with the ``PipelineSync`` record and the audit event. After the commit the index
worker is woken (``embedding_queue.wake()``): it cuts the new documents into chunks and
embeds them, off the request path.

Decisions (documented in the OpenAPI document too):

* ``organization_id`` must be the API key's workspace id; any other value (another workspace's
  or one that does not exist, alike) is ``403 organization_mismatch``.
* An id may appear once per namespace in a request: a second operation on the same
  ``(namespace, id)`` is refused (``422 duplicate_operation``), so the outcome never depends on
  the order operations are applied in and the counts are exact.
* ``full_refresh``: each namespace named by an operation ends up with exactly the request's
  upserted records. It is implemented as upsert + delete the namespace's other documents, the
  same end state as "clear, then insert" without rewriting (and re-embedding) unchanged ones.
* Counts are of operations: ``upserted`` (unchanged records included: they are stored as sent),
  ``deleted`` (deleting an id that is not stored is a no-op that still succeeds), ``failed``
  (always 0: a request is atomic). ``processed == upserted + deleted + failed``. The documents a
  ``full_refresh`` removed without a delete operation are recorded in the audit event.
* Rate limit: ``PIPELINE_RATE_LIMIT_PER_MINUTE`` (100) requests per organization in any sliding
  60 seconds, counted in the database so every process shares it. Every authenticated request
  counts (refused ones too), except those answered ``429``.
"""
from __future__ import annotations

import gc
import math
import time
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import ForeignKey, Index, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Workspace
from audit.service import record
from connectors.base import DocumentData
from core.actor import Actor
from core.errors import DomainError, Forbidden, NotFound, TooManyRequests
from core.extensions import db
from core.requests import validated
from core.timeutil import utcnow
from core.types import UTCDateTime

from . import embedding_queue, ingest
from .models import BIGINT, PipelineSync, VectorStore
# The request's model and limits (``knowledge.pipeline_request``).
from .pipeline_request import (MAX_AUTHOR, MAX_ID, MAX_OPERATIONS, MAX_READERS, MAX_TYPE,  # noqa: F401  (re-exported)
                               MAX_URL, NAMESPACE_PATTERN, REQUEST_FIELDS, SYNC_MODES, PipelineSyncRequest,
                               operation_refusal, parse_readers, parsed_timestamp,
                               timestamp as _timestamp)
from .pipeline_request import operations as validated_operations
# The request body; 5,000 operations of about 20 KB each.
MAX_BODY_BYTES = 100 * 1024 * 1024
RATE_WINDOW_SECONDS = 60
DEFAULT_TYPE = "document"
SOURCE = "pipeline"


class PipelineRequest(db.Model):
    """One pipeline-sync request of a workspace in the current rate-limit window (pruned as the
    window slides): the sliding-window counter every process shares."""

    __tablename__ = "pipeline_requests"
    __table_args__ = (Index("ix_pipeline_requests_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    created_at = mapped_column(UTCDateTime, nullable=False)


# -- rate limit -------------------------------------------------------------------------------

def admit(actor: Actor) -> None:
    """Count this request against the organization's sliding window, or refuse it with ``429``
    and ``Retry-After`` (a refused request is not counted).

    Serialized per workspace: on PostgreSQL by locking the workspace row; on SQLite the insert
    comes first, which takes the database's write lock until the commit.
    """
    limit = int(current_app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"])
    now = utcnow()
    window_start = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    try:
        # FOR NO KEY UPDATE: serializes admissions without blocking inserts that reference the workspace.
        db.session.scalar(select(Workspace.id).where(Workspace.id == actor.workspace_id)
                          .with_for_update(key_share=True))
        db.session.execute(PipelineRequest.__table__.insert().values(workspace_id=actor.workspace_id,
                                                                     created_at=now))
        db.session.execute(delete(PipelineRequest).where(PipelineRequest.workspace_id == actor.workspace_id,
                                                         PipelineRequest.created_at <= window_start)
                           .execution_options(synchronize_session=False))
        count, oldest = db.session.execute(
            select(func.count(), func.min(PipelineRequest.created_at))
            .where(PipelineRequest.workspace_id == actor.workspace_id)).one()
        if count > limit:
            db.session.rollback()
            retry_after = max(1, math.ceil((oldest - window_start).total_seconds()))
            raise TooManyRequests(
                f"Pipeline sync is limited to {limit} requests per minute per organization.",
                retry_after=retry_after, details={"limit": limit, "window_seconds": RATE_WINDOW_SECONDS})
        db.session.commit()
    except TooManyRequests:
        raise
    except Exception:
        db.session.rollback()
        raise


# -- validation -------------------------------------------------------------------------------

def _request_fields(body) -> dict:
    """The request's fields, validated by ``PipelineSyncRequest`` (its operations are ``plan``'s,
    after the organization and the store)."""
    request = validated(PipelineSyncRequest, body)
    operations = request.operations
    if len(operations) > MAX_OPERATIONS:
        raise DomainError(f"A request carries at most {MAX_OPERATIONS} operations; this one has "
                          f"{len(operations)}. Split it into several requests.", code="too_many_operations",
                          status=413, details={"limit": MAX_OPERATIONS, "received": len(operations)})
    return {"organization_id": request.organization_id, "vector_store_id": request.vector_store_id,
            "sync_mode": request.sync_mode, "sync_timestamp": _timestamp(request.sync_timestamp),
            "operations": operations}


def plan(operations: list) -> dict[str, dict]:
    """Validate every operation (``pipeline_request.operations``: the models) and group them by
    namespace, in order of first appearance: ``{namespace: {"upserts": [DocumentData], "deletes":
    [id]}}``. A second operation on a ``(namespace, id)`` is ``duplicate_operation``; of the
    refusals, the first operation's is answered. (Inline: 5,000 operations a request.)"""
    valid, refusal = validated_operations(operations)
    grouped: dict[str, dict] = {}
    seen: dict[tuple[str, str], int] = {}
    when = parsed_timestamp
    for index, op in enumerate(valid):
        namespace, external_id = op["namespace"], op["id"]
        first = seen.setdefault((namespace, external_id), index)
        if first != index:
            raise operation_refusal(index, operations[index], f"id {external_id!r} already has an operation in "
                                    f"namespace {namespace!r} (operation {first}); send one operation per id.",
                                    code="duplicate_operation", field="id", first_operation_index=first)
        group = grouped.get(namespace)
        if group is None:
            group = grouped[namespace] = {"upserts": [], "deletes": []}
        if op["action"] == "delete":
            group["deletes"].append(external_id)
            continue
        get = op.get
        created_at, updated_at, readers = get("created_at"), get("updated_at"), get("readers")
        group["upserts"].append(DocumentData(
            external_id=external_id, title=get("title") or "", content=get("content") or "",
            type=get("type") or DEFAULT_TYPE, url=get("url"), author=get("author"),
            created_at=when(created_at) if created_at is not None else None,
            updated_at=when(updated_at) if updated_at is not None else None, metadata=get("metadata") or {},
            readers=parse_readers(readers) if readers is not None else None))
    if refusal is not None:
        raise refusal
    return grouped


def _store(actor: Actor, store_id: str, *, lock: bool = False) -> VectorStore:
    query = select(VectorStore).where(VectorStore.id == store_id, VectorStore.workspace_id == actor.workspace_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    store = db.session.scalar(query)
    if store is None:
        raise NotFound("Vector store not found.", code="vector_store_not_found", details={"id": store_id})
    return store


# -- the sync ---------------------------------------------------------------------------------

def pipeline_sync(actor: Actor, body: dict, *, admitted: bool = False) -> dict:
    """Apply one pipeline-sync request atomically; return the spec's response.

    Checks, in order: the rate limit (``429``; skipped when the caller ``admitted`` the request
    already, before reading its body), the request's fields (``422``), the number of operations
    (``413``), ``organization_id`` (``403``), ``vector_store_id`` (``404``), then every operation
    (``422``, naming the first bad one).

    The cyclic garbage collector is paused meanwhile (``gc_paused``): the tens of thousands of
    short-lived objects of a large request (documents, rows) are freed by reference counting
    anyway, but made the collector run often and promote them, bringing on its full,
    whole-heap pass (~100 ms on the benchmark machine) in more requests. The endpoint pauses it
    already while the body is parsed (its tens of thousands of dicts and strings likewise).
    """
    with gc_paused():
        return _pipeline_sync(actor, body, admitted=admitted)


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (not reference counting: memory is freed as usual)
    for a block, then let it run again if it ran before (a block nested in another, or in
    another thread's, leaves it to the outer one)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _within_limits(actor: Actor, store_id: str, grouped: dict) -> None:
    """The operator's limits (``usage.service``): operations per UTC day, then the documents the
    upserts would add; refused whole (``409 limit_exceeded``) before anything is written."""
    from usage.service import check_limit, check_new_documents

    check_limit(actor.workspace_id, "pipeline_operations_per_day",
                sum(len(g["upserts"]) + len(g["deletes"]) for g in grouped.values()))
    check_new_documents(actor.workspace_id, store_id,
                        {namespace: {doc.external_id for doc in g["upserts"]} for namespace, g in grouped.items()})


def _pipeline_sync(actor: Actor, body: dict, *, admitted: bool) -> dict:
    from access.service import access_id

    started = time.perf_counter()
    if not admitted:
        admit(actor)
    fields = _request_fields(body)
    if fields["organization_id"] != actor.workspace_id:
        raise Forbidden("organization_id is not the organization of this API key.", code="organization_mismatch",
                        details={"field": "organization_id"})
    store_id = fields["vector_store_id"]
    _store(actor, store_id)
    grouped = plan(fields["operations"])
    _within_limits(actor, store_id, grouped)
    try:
        sync = PipelineSync(workspace_id=actor.workspace_id, vector_store_id=store_id,
                            api_key_id=actor.id if actor.type == "api_key" else None,
                            sync_mode=fields["sync_mode"], sync_timestamp=fields["sync_timestamp"])
        db.session.add(sync)
        # The first write: on SQLite it takes the write lock, so what follows is serialized.
        db.session.flush()
        _store(actor, store_id, lock=True)  # still there (a concurrent delete waits or wins)
        full = fields["sync_mode"] == "full_refresh"
        by_namespace, cleared, written = {}, 0, ingest.IngestResult()
        for namespace, group in grouped.items():
            scope = ingest.Scope(workspace_id=actor.workspace_id, origin_id=store_id, vector_store_id=store_id,
                                 namespace=namespace, source=SOURCE)
            if group["upserts"]:
                access = {doc.external_id: access_id(actor.workspace_id, doc.readers)
                          for doc in group["upserts"] if doc.readers is not None}
                written.add(ingest.upsert(scope, group["upserts"], access=access))
            if group["deletes"]:
                written.deleted += ingest.delete_ids(scope, group["deletes"])
            if full:
                cleared += ingest.keep_only(scope, {doc.external_id for doc in group["upserts"]})
            by_namespace[namespace] = {"upserted": len(group["upserts"]), "deleted": len(group["deletes"]),
                                       "failed": 0}
        upserted = sum(n["upserted"] for n in by_namespace.values())
        deleted = sum(n["deleted"] for n in by_namespace.values())
        sync.processed, sync.upserted, sync.deleted = upserted + deleted, upserted, deleted
        sync.by_namespace = by_namespace
        record(actor, "pipeline.sync", target_type="vector_store", target_id=store_id, details={
            "sync_id": sync.id, "sync_mode": sync.sync_mode, "processed": sync.processed, "upserted": upserted,
            "deleted": deleted, "namespaces": list(by_namespace), "documents_created": written.created,
            "documents_updated": written.updated, "documents_unchanged": written.unchanged,
            "documents_deleted": written.deleted + cleared, "documents_cleared_by_full_refresh": cleared})
        # Validation and writes, up to the commit (the figure the record keeps, too).
        elapsed_ms = sync.processing_time_ms = round((time.perf_counter() - started) * 1000)
        sync_id = sync.id
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    embedding_queue.wake()  # the index worker cuts the new documents into chunks
    return {
        "status": "success", "sync_id": sync_id, "processed": upserted + deleted,
        "results": {"upserted": upserted, "deleted": deleted, "failed": 0},
        "by_namespace": by_namespace,
        "processing_time_ms": elapsed_ms,
    }
