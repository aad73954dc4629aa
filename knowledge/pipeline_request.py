"""A pipeline-sync request (specs/pipeline-sync.md) as models (``core.requests``).

``PipelineSyncRequest`` is what ``POST /v1/pipeline/sync`` declares and what
``knowledge.pipeline.pipeline_sync`` validates a request with: its fields' presence, types and
``sync_mode``, ``sync_timestamp`` and the ``operations`` list (an array of at least one) are
refused by the model, with ``unknown_field``, ``missing_field`` and ``invalid_field`` naming the
field. The operations themselves are documented by ``PipelineUpsertOperation`` and
``PipelineDeleteOperation`` and checked by ``knowledge.pipeline.plan``: up to 5,000 of them are
validated on the request path by plain checks written for speed, each refusal
``invalid_operation`` / ``duplicate_operation`` with the operation's index and id; the model's
``operations`` validator hands them over unread. More than ``MAX_OPERATIONS`` is ``413
too_many_operations`` (a size, not a shape), answered by the domain after the model.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, WrapValidator, model_validator

from core.requests import RequestModel, refuse

MAX_OPERATIONS = 5000
MAX_ID = 500
MAX_AUTHOR = 500
MAX_TYPE = 64
MAX_URL = 4096
SYNC_MODES = ("incremental", "full_refresh")
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,127}$"
REQUEST_FIELDS = ("organization_id", "sync_mode", "operations", "sync_timestamp", "vector_store_id")
ORGANIZATION_ID_EXAMPLE = "org_a8bd3kq9x0v7m2p1"
VECTOR_STORE_ID_EXAMPLE = "vs_u6qtwlc35tlax2mv"


def timestamp(value) -> datetime | None:
    """ISO 8601 (``Z`` or an offset; without one, UTC) -> aware UTC datetime; ``None`` if invalid."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


Namespace = Annotated[str, Field(pattern=NAMESPACE_PATTERN, examples=["clickup_tasks"])]


def _text(description: str, **constraints):
    return Field(description=description, **constraints)


class PipelineUpsertOperation(RequestModel):
    """Insert or replace a record. It needs `content` or `title` (a non-blank string); `null`
    fields are treated as absent. Unknown fields are refused."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["title"], "properties": {"title": {"type": "string", "pattern": "\\S"}}},
        {"required": ["content"], "properties": {"content": {"type": "string", "pattern": "\\S"}}}]})

    action: Literal["upsert"]
    id: Annotated[str, Field(description="The record's id, unique within its namespace.", min_length=1,
                             max_length=MAX_ID, examples=["task_123"])]
    namespace: Annotated[Namespace, Field(description="Where the record belongs in the store.")]
    title: Annotated[str | None, _text("The record's title.")] = None
    content: Annotated[str | None, _text("The record's text: what search finds and embeds.")] = None
    url: Annotated[str | None, _text("Where the record lives at its source.", max_length=MAX_URL)] = None
    author: Annotated[str | None, _text("Who wrote it.", max_length=MAX_AUTHOR)] = None
    type: Annotated[str | None, _text("The kind of record; default `document`.", min_length=1,
                                      max_length=MAX_TYPE)] = None
    created_at: Annotated[str | None, _text("When it was created at its source: ISO 8601 (without an offset: "
                                            "UTC).")] = None
    updated_at: Annotated[str | None, _text("When it was last updated at its source: ISO 8601 (without an offset: "
                                            "UTC).")] = None
    metadata: Annotated[dict | None, _text("Free-form metadata, stored as sent (standard JSON: no `NaN` or "
                                           "`Infinity`, at most 64 levels deep).")] = None
    readers: Annotated[list[Annotated[str, Field(pattern="^(member|email|api_key):.+$")]] | None, Field(
        min_length=1, max_length=100, examples=[["email:ada@example.com", "member:usr_abc123"]],
        description="Who may read the document: `member:<user id>`, `email:<address>` (a member's verified "
                    "address) or `api_key:<key id>` (a service key). Without it (or `null`) every member may.")] = None


class PipelineDeleteOperation(RequestModel):
    """Remove a record. A delete carries only `action`, `id` and `namespace`."""

    action: Literal["delete"]
    id: Annotated[str, Field(description="The record to remove.", min_length=1, max_length=MAX_ID,
                             examples=["task_122"])]
    namespace: Namespace


def _present(value, name: str) -> None:
    """Absent, ``null`` or blank is ``missing_field``, whatever else is wrong with it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise refuse("missing_field", f"{name} is required.")


def _string(value, handler, info):
    _present(value, info.field_name)
    if not isinstance(value, str):
        raise refuse("invalid_field", f"{info.field_name} must be a string.")
    return handler(value)


def _sync_mode(value, handler):
    _present(value, "sync_mode")
    if not isinstance(value, str):
        raise refuse("invalid_field", "sync_mode must be a string.")
    if value not in SYNC_MODES:
        raise refuse("invalid_field", "sync_mode is incremental or full_refresh.", allowed=list(SYNC_MODES))
    return handler(value)


def _sync_timestamp(value, handler):
    _present(value, "sync_timestamp")
    if not isinstance(value, str):
        raise refuse("invalid_field", "sync_timestamp must be a string.")
    if timestamp(value) is None:
        raise refuse("invalid_field", "sync_timestamp must be an ISO 8601 timestamp, e.g. 2026-04-13T10:30:00Z.")
    return handler(value)


def _operations(value, handler):
    """An array of at least one; its operations are ``plan``'s to check (not the handler's: the
    schema documents them, the plain checks validate 5,000 of them faster)."""
    _present(value, "operations")
    if not isinstance(value, list) or not value:
        raise refuse("invalid_field", "operations must be a non-empty list of operations.")
    return value


Text = WrapValidator(_string)


class PipelineSyncRequest(RequestModel):
    """Unknown fields are refused."""

    organization_id: Annotated[str, Field(description="The organization (workspace) id of the API key (`org_...`).",
                                          examples=[ORGANIZATION_ID_EXAMPLE]), Text]
    sync_mode: Annotated[Literal[SYNC_MODES], Field(
        description="`incremental`: apply the operations. `full_refresh`: each namespace named by an operation ends "
                    "up with exactly the request's upserted records (the others are deleted)."),
        WrapValidator(_sync_mode)]
    operations: Annotated[list[Annotated[Union[PipelineUpsertOperation, PipelineDeleteOperation],
                                         Field(discriminator="action")]], Field(
        min_length=1, max_length=MAX_OPERATIONS,
        description=f"At most {MAX_OPERATIONS:,} operations; one per `(namespace, id)`."), WrapValidator(_operations)]
    sync_timestamp: Annotated[str, Field(description="When the sync was initiated: ISO 8601 (without an offset: UTC).",
                                         examples=["2026-04-13T10:30:00Z"]), WrapValidator(_sync_timestamp)]
    vector_store_id: Annotated[str, Field(description="The store to sync into (the default store's id is fine too).",
                                          examples=[VECTOR_STORE_ID_EXAMPLE]), Text]

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data):
        unknown = sorted(set(data) - set(REQUEST_FIELDS)) if isinstance(data, dict) else []
        if unknown:
            raise refuse("unknown_field", f"Unknown field {unknown[0]!r}; a request has "
                         + ", ".join(REQUEST_FIELDS) + ".", field=unknown[0])
        return data
