"""/v1/pipeline/sync: the pipeline-sync endpoint (specs/pipeline-sync.md).

Authenticated with a workspace API key carrying the ``pipeline`` scope, sent as ``X-API-Key``
(the spec's header) or as ``Authorization: Bearer`` like the rest of the API. Declared once
(``endpoints.endpoint``). The body's model is ``knowledge.pipeline_request.PipelineSyncRequest``,
which ``knowledge.pipeline.pipeline_sync`` validates it with once the rate limit has counted the
request (so the view reads the body itself); the operations are validated by their models
(``PipelineUpsertOperation``, ``PipelineDeleteOperation``) in ``knowledge.pipeline.plan``, after
the organization and the store (atomic, with the operation's index in every refusal).
"""
from functools import wraps
from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, request
from pydantic import Field

from accounts.service import actor_for_api_key
from core.errors import Forbidden, Unauthorized
from knowledge import pipeline
from knowledge.pipeline import MAX_BODY_BYTES, MAX_OPERATIONS
from knowledge.pipeline_request import NAMESPACE_PATTERN, ORGANIZATION_ID_EXAMPLE, PipelineSyncRequest

from .auth import current_actor
from .body import json_body
from .endpoints import Ok, ResponseModel, endpoint
from .shapes import VECTOR_STORE_ID_EXAMPLE, limit_reached

bp = Blueprint("pipeline", __name__, url_prefix="/v1")

API_KEY_HEADER = "X-API-Key"


def require_key(scope: str):
    """Authenticate ``X-API-Key`` (or a bearer key) and require ``scope``."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = request.headers.get(API_KEY_HEADER, "").strip()
            if not token:
                kind, _, bearer = request.headers.get("Authorization", "").partition(" ")
                token = bearer.strip() if kind.lower() == "bearer" else ""
            if not token:
                raise Unauthorized(f"Send a pipeline API key as `{API_KEY_HEADER}: <key>` (or "
                                   "`Authorization: Bearer <key>`).", code="missing_api_key")
            g.actor = actor = actor_for_api_key(token, client_address=request.remote_addr)
            if not actor.has_scope(scope):
                raise Forbidden(f"This API key lacks the {scope!r} scope.", code="insufficient_scope",
                                details={"required_scope": scope, "key_scopes": sorted(actor.scopes)})
            return view(*args, **kwargs)
        wrapped.required_scope = scope
        return wrapped
    return decorator


# -- models ----------------------------------------------------------------------------------------

Count = Annotated[int, Field(ge=0)]


class PipelineSyncCounts(ResponseModel):
    upserted: Annotated[Count, Field(description="Upsert operations applied (a record sent unchanged counts: it is "
                                                 "stored as sent).")]
    deleted: Annotated[Count, Field(description="Delete operations applied (deleting an id that is not stored is a "
                                                "no-op and counts).")]
    failed: Annotated[Count, Field(description="Operations that failed: always 0, a request is atomic (one bad "
                                               "operation fails the whole request with a `422`).")]


class PipelineSyncResponse(ResponseModel):
    """The outcome of a pipeline sync (the spec's response)."""

    status: Annotated[Literal["success"], Field(description="Always `success`: every operation was committed (a "
                                                            "request that fails writes nothing and answers an "
                                                            "error).")]
    sync_id: Annotated[str, Field(description="This sync's id, as the audit trail records it.",
                                  pattern="^sync_[a-z0-9]+$", examples=["sync_gsv55ral43a6ixke"])]
    processed: Annotated[Count, Field(description="Operations processed: `upserted + deleted + failed`.")]
    results: PipelineSyncCounts
    by_namespace: Annotated[dict[str, PipelineSyncCounts], Field(
        description="The same counts per namespace.",
        json_schema_extra={"propertyNames": {"pattern": NAMESPACE_PATTERN}})]
    processing_time_ms: Annotated[Count, Field(description="Time spent validating and writing, up to the commit, in "
                                                           "milliseconds.")]


SYNC_EXAMPLE = {"organization_id": ORGANIZATION_ID_EXAMPLE, "sync_mode": "incremental",
                "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": VECTOR_STORE_ID_EXAMPLE,
                "operations": [
                    {"action": "upsert", "id": "task_123", "namespace": "clickup_tasks",
                     "title": "Ship the pipeline API", "content": "Wire /v1/pipeline/sync to the ingest path.",
                     "url": "https://app.clickup.com/t/task_123", "author": "ada@example.com",
                     "type": "task", "created_at": "2026-04-01T09:00:00Z",
                     "updated_at": "2026-04-13T10:29:00Z", "metadata": {"status": "open"}},
                    {"action": "delete", "id": "task_122", "namespace": "clickup_tasks"},
                    {"action": "upsert", "id": "space_9", "namespace": "clickup_spaces", "title": "Platform"}]}


@endpoint(bp, "POST", "/pipeline/sync", scope="pipeline", auth=require_key, operation_id="pipelineSync",
          tag="Pipeline sync", security=[{"pipelineApiKey": []}, {"bearerAuth": []}],
          summary="Sync records from a pipeline platform",
          behaviour=f"""
The unified endpoint of the pipeline-sync spec: upserts and deletes records in a vector store, **atomically**.
Authenticate with a pipeline API key (a workspace key with the `pipeline` scope) in `{API_KEY_HEADER}`;
`Authorization: Bearer` works too.

**Atomic.** Every operation of a request is committed in one transaction, or none is. Everything is validated
before anything is written: a bad operation fails the whole request with `422` and `details.operation_index`,
`details.id` and `details.field` naming it. So `status` is always `success` and `failed` always `0` in an answer.

**Operations.** `action` is `upsert` or `delete`; `id` (1 to 500 characters) and `namespace`
(`{NAMESPACE_PATTERN}`) name the record. `id`, `type` and `author` are names: no control, line-break or
bidirectional formatting character (`422 invalid_operation` with `details.character`). An upsert carries the record: `content` and/or `title` (at least one
non-blank), and optionally `url`, `author`, `type` (default `document`), `created_at` / `updated_at` (ISO 8601;
without an offset, UTC) and `metadata` (an object); `null` is the same as absent. A delete carries nothing else.
Unknown fields are refused, in the body and in operations. An `id` may appear once per namespace in a request
(`422 duplicate_operation` otherwise), so the result never depends on the order of operations. Deleting an id
that is not stored is a no-op and succeeds. An upsert whose record is unchanged (same content hash) writes
nothing. Records land in the store as documents with `source: pipeline`; they are chunked and embedded after the
commit, on the embedding queue.

**Modes.** `incremental` applies the operations. `full_refresh` clears each namespace named by an operation and
writes the request's records: the namespace ends up with exactly the upserted records. It is done as upsert plus
deleting the namespace's other documents, the same end state without rewriting (and re-embedding) unchanged
records. Namespaces not named in the request are untouched.

**Counts.** `processed` is the number of operations, `upserted` and `deleted` count upsert and delete operations
(all of them), in total and per namespace (`by_namespace`). The documents a `full_refresh` removed without a
delete operation are recorded in the audit trail (`pipeline.sync`, with `sync_id`).

**Limits.** At most {MAX_OPERATIONS:,} operations per request (`413 too_many_operations`) and a body of at most
{MAX_BODY_BYTES // (1024 * 1024)} MiB (`413 payload_too_large`). At most 100 requests per minute per organization,
in any sliding 60 seconds, shared by every process (`429 rate_limited` with `Retry-After`): every authenticated
request counts, refused ones included, except those answered `429`.

**Organization and store.** `organization_id` must be the key's organization (workspace) id; any other value is
`403 organization_mismatch` (whether or not that organization exists). `vector_store_id` must name a store of the
key's workspace (the default store or a named one); another workspace's store is `404 vector_store_not_found`,
like one that does not exist.

Checks run in this order: the key (`401`, `403 insufficient_scope`), the rate limit (`429`), the body and its
fields (`413 payload_too_large`, `422`), the number of operations (`413 too_many_operations`), `organization_id`
(`403`), `vector_store_id` (`404`), then the operations in order (`422`).
""",
          body=PipelineSyncRequest,
          body_examples={
              "incremental": {"value": SYNC_EXAMPLE},
              "full_refresh": {"value": {**SYNC_EXAMPLE, "sync_mode": "full_refresh",
                                         "operations": SYNC_EXAMPLE["operations"][:1]}}},
          responses={200: Ok("Every operation was committed.", PipelineSyncResponse, example={
              "status": "success", "sync_id": "sync_gsv55ral43a6ixke", "processed": 3,
              "results": {"upserted": 2, "deleted": 1, "failed": 0},
              "by_namespace": {"clickup_tasks": {"upserted": 1, "deleted": 1, "failed": 0},
                               "clickup_spaces": {"upserted": 1, "deleted": 0, "failed": 0}},
              "processing_time_ms": 12})},
          errors={
              401: [("missing_api_key", f"No `{API_KEY_HEADER}` header (and no "
                                        "`Authorization: Bearer <key>`), or an empty one."),
                    "invalid_api_key"],
              403: ["organization_mismatch"],
              404: ["vector_store_not_found"],
              409: [limit_reached("pipeline_operations_per_day` or `documents")],
              413: ["too_many_operations",
                    ("payload_too_large", f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB.")],
              422: [
                  "unknown_field",
                  ("missing_field", "A field of the body is absent, `null` or blank: `organization_id`, "
                                    "`sync_mode`, `operations`, `sync_timestamp` or `vector_store_id`; "
                                    "`details.field` names it."),
                  ("invalid_field", "A field of the body has the wrong type or value: `sync_mode` is not "
                                    "`incremental` or `full_refresh` (`details.allowed` lists them), "
                                    "`sync_timestamp` is not ISO 8601, `operations` is not a non-empty array; "
                                    "`details.field` names it."),
                  "invalid_operation", "duplicate_operation"],
              429: ["rate_limited"],
          })
def sync():
    """Upsert and delete records in a vector store, atomically."""
    actor = current_actor()
    pipeline.admit(actor)  # the rate limit counts the request before its body is read
    request.max_content_length = pipeline.MAX_BODY_BYTES
    with pipeline.gc_paused():  # parsing a large body makes as many objects as writing it
        return jsonify(pipeline.pipeline_sync(actor, json_body(), admitted=True))
