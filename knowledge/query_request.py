"""A query request: the one model that validates ``POST /api/v1/query``, the console's Search
form and the MCP search tool (``core.requests``), and what it becomes (``QueryParams``).

The codes are the query's own where it has them: ``query_required`` (absent, ``null``, not a
string or blank), ``query_too_long``, ``invalid_date_range``; otherwise ``unknown_field`` and
``invalid_field`` naming the field. ``null`` is the same as absent for every optional field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, WithJsonSchema, WrapValidator, model_validator

from core.requests import RequestModel, refuse, validated, worded

from .indexes import Filters

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
# Results a query can page through (offset + limit): the candidates the retrievers hand over.
MAX_RESULTS = 400
MAX_QUERY_CHARS = 2000
MAX_FILTER_VALUES = 100
VECTOR_STORE_ID_EXAMPLE = "vs_u6qtwlc35tlax2mv"

_VALUE = {"type": "string", "pattern": "\\S"}


def _query_text(value, handler):
    if not isinstance(value, str) or not value.strip():
        raise refuse("query_required", "query is required: the text to search for.")
    if len(value) > MAX_QUERY_CHARS:
        raise refuse("query_too_long", f"query is at most {MAX_QUERY_CHARS} characters.")
    return handler(value)


def _offset(value, handler, info: ValidationInfo):
    """``offset + limit`` is at most ``MAX_RESULTS`` (``limit`` is checked first, as it comes first)."""
    if value is None:
        return None
    limit = info.data.get("limit") or DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RESULTS - limit:
        raise refuse("invalid_field", f"offset must be an integer from 0 to {MAX_RESULTS} minus limit "
                                      f"({MAX_RESULTS - limit} with this limit): a query pages through its first "
                                      f"{MAX_RESULTS} results.")
    return handler(value)


def _values(value, info: ValidationInfo) -> tuple[str, ...]:
    """A list filter: one non-blank string or a list of them (trimmed, each once), or ``null``."""
    name = info.field_name
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise refuse("invalid_field", f"{name} must be a list of non-empty strings.")
    if len(value) > MAX_FILTER_VALUES:
        raise refuse("invalid_field", f"{name} takes at most {MAX_FILTER_VALUES} values.")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _filter(description: str, example: str):
    return Field(description=description + f" A list of values (any of them matches; at most {MAX_FILTER_VALUES}), "
                                           "or one string as a list of one; `null` is the same as absent.",
                 json_schema_extra={"anyOf": [_VALUE, {"type": "array", "maxItems": MAX_FILTER_VALUES,
                                                       "items": _VALUE}, {"type": "null"}],
                                    "examples": [[example]]})


Filter = Annotated[Any, AfterValidator(_values), WithJsonSchema({})]


def moment(text: str | None, *, end_of_day: bool) -> datetime | None:
    """An ISO 8601 date (``2026-01-31``: the whole day counts) or date-time (UTC if no offset);
    ``ValueError`` if it is neither."""
    if not text:
        return None
    if len(text) == 10:
        day = datetime.fromisoformat(text).date()
        return datetime.combine(day, dtime.max if end_of_day else dtime.min, tzinfo=timezone.utc)
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _date(value, handler, info: ValidationInfo):
    name = info.field_name
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise refuse("invalid_field", f"{name} must be an ISO 8601 date or date-time string.")
    try:
        moment(value.strip(), end_of_day=False)
    except ValueError:
        raise refuse("invalid_field", f"{name} must be an ISO 8601 date or date-time, e.g. 2026-01-31.") from None
    return handler(value.strip())


def _bound(description: str, examples: list):
    return Field(examples=examples, description=description + (
        " An ISO 8601 date (`2026-03-01`: the whole day counts, in UTC) or date-time (without an offset: UTC); `null` "
        "or `\"\"` is the same as absent. Compared with each document's date: when it was last updated at its "
        "source, else when it was created there, else when Tributary stored it."))


DateBound = Annotated[str | None, WrapValidator(_date)]


class QueryRequest(RequestModel):
    """A query: the text, and optionally filters. Unknown fields are refused; `null` is the same
    as absent."""

    missing_codes = {"query": ("query_required", "query is required: the text to search for.")}

    query: Annotated[str, Field(
        description=f"The text to search for (at most {MAX_QUERY_CHARS:,} characters; trimmed). Words are "
                    "optional and rank results; text in double quotes is a phrase every result must contain "
                    "(`\"connection reset\"`).", min_length=1, max_length=MAX_QUERY_CHARS, pattern="\\S",
        examples=["database connections exhausted"]), WrapValidator(_query_text)]
    limit: Annotated[int | None, Field(
        ge=1, le=MAX_LIMIT,
        description=f"How many documents to return, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}; "
                    "`null` is the default). A larger value is refused, not capped."),
        worded(f"limit must be an integer from 1 to {MAX_LIMIT}.")] = DEFAULT_LIMIT
    offset: Annotated[int | None, Field(
        ge=0, le=MAX_RESULTS - 1,
        description=f"Skip this many results: `offset: 10, limit: 10` is the second page of ten. `offset + limit` is "
                    f"at most {MAX_RESULTS} (a query pages through its first {MAX_RESULTS} results); "
                    "`null` is 0. A page past the last result is empty."), WrapValidator(_offset)] = 0
    include_reasoning: Annotated[bool | None, Field(
        description="Also return `reasoning`: how the answer came about, in words."),
        worded("include_reasoning must be true or false.")] = False
    audit_access: Annotated[bool | None, Field(
        description="Admins, where the deployment allows it (`ACCESS_ADMIN_OVERRIDE`): search every document, past "
                    "what the sources let the asker read. Every such query is audited (`access.override`). "
                    "Otherwise results are only documents the asker may read (an API key reads as the member who "
                    "created it; a service key, workspace-wide documents only)."),
        worded("audit_access must be true or false.")] = False
    sources: Annotated[Filter, _filter("Only documents from these sources: `pipeline` or a connector type "
                                       "(case-insensitive).", "pipeline")] = None
    types: Annotated[Filter, _filter("Only documents of these types (case-insensitive).", "task")] = None
    authors: Annotated[Filter, _filter("Only documents by these authors (case-insensitive, whole value).",
                                       "ada@example.com")] = None
    namespaces: Annotated[Filter, _filter("Only documents in these namespaces (exact).", "clickup_tasks")] = None
    date_after: Annotated[DateBound, _bound("Only documents dated at or after this moment (inclusive).",
                                            ["2026-04-01", "2026-04-01T09:00:00Z"])] = None
    date_before: Annotated[DateBound, _bound("Only documents dated at or before this moment (inclusive; a date "
                                             "means until the end of that day).",
                                             ["2026-04-30", "2026-04-30T18:00:00+02:00"])] = None
    vector_store_id: Annotated[str | None, Field(
        min_length=1, examples=[VECTOR_STORE_ID_EXAMPLE],
        description="Search this store only (the default store's id includes the connector documents). Absent or "
                    "`null`: every store of the workspace."),
        worded("vector_store_id must be a vector store id.")] = None

    @model_validator(mode="after")
    def _date_range(self):
        after = moment(self.date_after, end_of_day=False)
        before = moment(self.date_before, end_of_day=True)
        if after and before and after > before:
            raise refuse("invalid_date_range", "date_after must not be later than date_before.", field="date_after")
        return self


@dataclass
class QueryParams:
    query: str
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    include_reasoning: bool = False
    vector_store_id: str | None = None
    filters: Filters = field(default_factory=Filters)
    # An admin reading past document access (off unless ACCESS_ADMIN_OVERRIDE; audited).
    audit_access: bool = False


def parse(body) -> QueryParams:
    """A query request (a JSON body, the Search form, the MCP tool's arguments) validated by
    ``QueryRequest``, as the search takes it; raises ValidationError naming the field."""
    request = validated(QueryRequest, body)
    filters = Filters(sources=tuple(s.lower() for s in request.sources or ()), types=request.types or (),
                      authors=request.authors or (), namespaces=request.namespaces or (),
                      date_after=moment(request.date_after, end_of_day=False),
                      date_before=moment(request.date_before, end_of_day=True))
    return QueryParams(query=request.query.strip(), limit=request.limit or DEFAULT_LIMIT, offset=request.offset or 0,
                       include_reasoning=bool(request.include_reasoning), vector_store_id=request.vector_store_id,
                       filters=filters, audit_access=bool(request.audit_access))
