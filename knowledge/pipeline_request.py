"""A pipeline-sync request (specs/pipeline-sync.md) as models (``core.requests``).

``PipelineSyncRequest`` is what ``POST /v1/pipeline/sync`` declares and what
``knowledge.pipeline.pipeline_sync`` validates a request with: its fields' presence, types and
``sync_mode``, ``sync_timestamp`` and the ``operations`` list (an array of at least one) are
refused by the model, with ``unknown_field``, ``missing_field`` and ``invalid_field`` naming the
field. More than ``MAX_OPERATIONS`` is ``413 too_many_operations`` (a size, not a shape),
answered by the domain after the model.

The operations are ``PipelineUpsertOperation`` and ``PipelineDeleteOperation`` (``Operation``,
told apart by ``action``), validated by ``operations()``: one ``TypeAdapter`` over the whole list,
so up to 5,000 of them are checked by pydantic-core in one call and only what it cannot say
(names without control characters, timestamps, readers, content or title) runs Python. That
happens after the organization and the store are checked (the documented order), so the
request model's ``operations`` validator hands the list over unread; its schema is the one
``operations()`` validates with. A refusal is ``invalid_operation`` with the operation's index,
id and field (``operation_refusal``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Annotated, Literal, Union

import pydantic
from pydantic import (AfterValidator, ConfigDict, Field, InstanceOf, TypeAdapter, WrapValidator, model_validator,
                      with_config)
from typing_extensions import NotRequired, TypedDict

from core.errors import ValidationError
from core.requests import RequestModel, refuse
from core.text import unsafe_character, unsafe_message

MAX_OPERATIONS = 5000
MAX_ID = 500
MAX_AUTHOR = 500
MAX_TYPE = 64
MAX_URL = 4096
MAX_READERS = 100
# A pipeline document's readers: members by id or verified e-mail, or a service API key.
READER_PREFIXES = {"member:": "member", "email:": "email", "api_key:": "api_key"}
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


# ``timestamp`` of a string, remembered: the records of a sync often share their timestamps, and
# an operation's are parsed when it is validated and again when it becomes a document.
parsed_timestamp = lru_cache(maxsize=4096)(timestamp)


def parse_readers(value):
    """``readers`` as a pipeline operation or a webhook delivery names them: a non-empty list of
    ``member:<user id>``, ``email:<address>`` or ``api_key:<key id>`` strings, as
    ``access.service.Readers``; ``ValueError`` saying what is wrong otherwise."""
    from access.service import Readers

    if type(value) is not list or not value:
        raise ValueError("readers is a non-empty list of 'member:<user id>', 'email:<address>' or "
                         "'api_key:<key id>' strings; leave it out for a workspace-wide document.")
    if len(value) > MAX_READERS:
        raise ValueError(f"readers takes at most {MAX_READERS} entries.")
    entries = []
    for entry in value:
        kind = next((k for p, k in READER_PREFIXES.items() if type(entry) is str and entry.startswith(p)), None)
        target = entry.split(":", 1)[1].strip() if kind else ""
        if kind is None or not target or len(target) > 320 or not target.isprintable():
            raise ValueError(f"{entry!r} is not a reader: use 'member:<user id>', 'email:<address>' or "
                             "'api_key:<key id>'.")
        entries.append((kind, target.lower() if kind == "email" else target))
    return Readers.of(*entries)


# -- the operations -------------------------------------------------------------------------------
# Their fields' types, lengths and patterns are checked by pydantic-core, and its refusals worded
# by ``_words``. What a schema cannot say is checked in Python, once per operation (``_upsert``,
# ``_delete``: not one validator per field, 5,000 operations a request, each call counts).

def _names(op: dict, fields: tuple[str, ...]) -> None:
    """Ids and names (``core.text``): no control, line-break or bidirectional formatting character."""
    for field in fields:
        value = op.get(field)
        if value is not None and (unsafe := unsafe_character(value)):
            raise refuse("invalid_operation", unsafe_message(field, unsafe), field=field, character=unsafe)


def _readers(value, handler):
    """``parse_readers``' rules and words (shared with webhook deliveries), before the schema's."""
    if value is not None:
        try:
            parse_readers(value)
        except ValueError as exc:
            raise refuse("invalid_operation", str(exc)) from None
    return handler(value)


Namespace = Annotated[str, Field(pattern=NAMESPACE_PATTERN, examples=["clickup_tasks"])]
# An id or a name: not blank (and, checked by ``_names``, single-line text without control characters).
Name = Annotated[str, Field(min_length=1, pattern="\\S")]


def _text(description: str, **constraints):
    return Field(description=description, **constraints)


# The operations are typed dicts validated by pydantic (a ``TypedDict`` with its config), not
# ``BaseModel`` instances: the same schema and checks, at about half the cost per operation (no
# model instance to build), 5,000 of them a request.
_OPERATION = ConfigDict(strict=True, extra="forbid")


@with_config(ConfigDict(**_OPERATION, json_schema_extra={"anyOf": [
    {"required": ["title"], "properties": {"title": {"type": "string", "pattern": "\\S"}}},
    {"required": ["content"], "properties": {"content": {"type": "string", "pattern": "\\S"}}}]}))
class PipelineUpsertOperation(TypedDict):
    """Insert or replace a record. It needs `content` or `title` (a non-blank string); `null`
    fields are treated as absent. Unknown fields are refused."""

    action: Literal["upsert"]
    id: Annotated[Name, Field(description="The record's id, unique within its namespace.", max_length=MAX_ID,
                              examples=["task_123"])]
    namespace: Annotated[Namespace, Field(description="Where the record belongs in the store.")]
    title: NotRequired[Annotated[str | None, _text("The record's title.")]]
    content: NotRequired[Annotated[str | None, _text("The record's text: what search finds and embeds.")]]
    url: NotRequired[Annotated[str | None, _text("Where the record lives at its source.", max_length=MAX_URL)]]
    author: NotRequired[Annotated[str | None, _text("Who wrote it.", max_length=MAX_AUTHOR)]]
    type: NotRequired[Annotated[Name | None, _text("The kind of record; default `document`.", max_length=MAX_TYPE)]]
    created_at: NotRequired[Annotated[str | None, _text(
        "When it was created at its source: ISO 8601 (without an offset: UTC).")]]
    updated_at: NotRequired[Annotated[str | None, _text(
        "When it was last updated at its source: ISO 8601 (without an offset: UTC).")]]
    # An instance check: the object is stored as sent (the body's parser already made it JSON).
    metadata: NotRequired[Annotated[InstanceOf[dict] | None, _text(
        "Free-form metadata, stored as sent (standard JSON: no `NaN` or `Infinity`, at most 64 levels deep).")]]
    readers: NotRequired[Annotated[list[Annotated[str, Field(pattern="^(member|email|api_key):.+$")]] | None, Field(
        min_length=1, max_length=100, examples=[["email:ada@example.com", "member:usr_abc123"]],
        description="Who may read the document: `member:<user id>`, `email:<address>` (a member's verified "
                    "address) or `api_key:<key id>` (a service key). Without it (or `null`) every member may."),
        WrapValidator(_readers)]]


def _upsert(op: dict) -> dict:
    """An upsert beyond its schema, in the order a reader fixes it: id, content or title, type,
    the timestamps, author (the names' common case, all printable, checked at once)."""
    get = op.get
    doc_type, author = get("type"), get("author")
    names = op["id"].isprintable() and (doc_type is None or doc_type.isprintable()) and (
        author is None or author.isprintable())
    if not names:
        _names(op, ("id",))
    title, content = get("title"), get("content")
    if not ((title and not title.isspace()) or (content and not content.isspace())):
        raise refuse("invalid_operation", "an upsert needs content or title (a non-blank string).", field="content")
    if not names:
        _names(op, ("type",))
    for field in ("created_at", "updated_at"):
        value = get(field)
        if value is not None and parsed_timestamp(value) is None:
            raise refuse("invalid_operation", f"{field} must be an ISO 8601 timestamp.", field=field)
    if not names:
        _names(op, ("author",))
    return op


@with_config(_OPERATION)
class PipelineDeleteOperation(TypedDict):
    """Remove a record. A delete carries only `action`, `id` and `namespace`."""

    action: Literal["delete"]
    id: Annotated[Name, Field(description="The record to remove.", max_length=MAX_ID, examples=["task_122"])]
    namespace: Namespace


def _delete(op: dict) -> dict:
    if not op["id"].isprintable():
        _names(op, ("id",))
    return op


Operation = Annotated[Union[Annotated[PipelineUpsertOperation, AfterValidator(_upsert)],
                            Annotated[PipelineDeleteOperation, AfterValidator(_delete)]], Field(discriminator="action")]
_OPERATIONS = TypeAdapter(list[Operation])
# An operation's refusal in words, by field, where pydantic's will not do; a field not named here
# says "<field> must be a string.", "<field> is at most N characters." or "<field> must not be blank.".
_FIELD_WORDS = {
    "id": "id must be a non-empty string.",
    "namespace": "namespace is 1 to 128 characters: lowercase letters, digits, '_', '.' and '-', starting with a "
                 "letter or digit.",
    "created_at": "created_at must be an ISO 8601 timestamp.",
    "updated_at": "updated_at must be an ISO 8601 timestamp.",
    "metadata": "metadata must be an object.",
}
# Refusals of an operation as a whole (not an object, no or an unknown action): (field, words).
_OPERATION_WORDS = {
    "union_tag_not_found": ("action", "action is required."),
    "union_tag_invalid": ("action", "action is upsert or delete."),
}
_NOT_AN_OBJECT = (None, "an operation is an object with action, id and namespace.")


def _words(error: dict) -> tuple[str | None, str, dict]:
    """One refusal of an operation as ``(field, message, details)``."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    if len(loc) < 3:  # the operation as a whole
        refusal = ctx.get("refusal")
        if refusal is not None:  # a model validator's
            return refusal.get("field"), error["msg"], {k: v for k, v in refusal.items() if k != "field"}
        if kind == "union_tag_invalid" and error["input"].get("action") is None:  # "action": null
            kind = "union_tag_not_found"
        return (*_OPERATION_WORDS.get(kind, _NOT_AN_OBJECT), {})
    action, field = loc[1], str(loc[2])
    if kind == "extra_forbidden":
        allowed = sorted({"upsert": PipelineUpsertOperation, "delete": PipelineDeleteOperation}[action].__annotations__)
        return field, (f"unknown field {field!r} for a {action} operation (a {action} carries "
                       + ", ".join(allowed) + ")."), {}
    if "refusal" in ctx:  # a field validator's own words (readers')
        return field, error["msg"], ctx["refusal"]
    if kind == "string_too_long":
        return field, f"{field} is at most {ctx['max_length']} characters.", {}
    if field in _FIELD_WORDS:
        return field, _FIELD_WORDS[field], {}
    if kind == "string_type":
        return field, f"{field} must be a string.", {}
    return field, f"{field} must not be blank.", {}


# The order an operation's fields are checked in, which decides the one refusal answered (the
# identity first, then the record's text, then its details).
_FIELD_ORDER = ("action", "id", "namespace", "title", "content", "type", "created_at", "updated_at", "metadata", "url",
                "author", "readers")


def _first(errors: list[dict]) -> dict:
    """The refusal to answer: the first bad operation's, and of its refusals the one a reader
    fixes first: the operation as a whole, then an unknown field (the first by name), then its
    fields in ``_FIELD_ORDER``."""
    def rank(error):
        loc = error["loc"]
        if len(loc) < 3:
            return loc[0], 0, 0, ""
        if error["type"] == "extra_forbidden":
            return loc[0], 1, 0, str(loc[2])
        return loc[0], 2, _FIELD_ORDER.index(loc[2]), ""
    return min(errors, key=rank)


def operation_refusal(index: int, raw, message: str, *, code: str = "invalid_operation", field: str | None,
                      **details) -> ValidationError:
    """The ``422`` naming an operation: its index, its id (when it has a string one) and field."""
    op_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    return ValidationError(f"Operation {index}" + (f" (id {op_id!r})" if op_id is not None else "")
                           + f": {message} Nothing was written.", code=code,
                           details={"operation_index": index, "id": op_id, "field": field, **details})


def operations(raw: list) -> tuple[list[PipelineUpsertOperation | PipelineDeleteOperation], ValidationError | None]:
    """The operations, validated in one call (as new dicts); if one is bad, those before the first
    bad one and its refusal (so that the caller's own checks of the earlier operations, such as
    duplicates, can come first, as they would one by one)."""
    try:
        return _OPERATIONS.validate_python(raw), None
    except pydantic.ValidationError as exc:
        error = _first(exc.errors(include_url=False))
    index = error["loc"][0]
    field, message, details = _words(error)
    return _OPERATIONS.validate_python(raw[:index]), operation_refusal(index, raw[index], message, field=field,
                                                                        **details)


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
    """An array of at least one; its operations are validated by ``operations()``, with the
    schema declared here, once the organization and the store are checked."""
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
    operations: Annotated[list[Operation], Field(
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
