"""/api/v1/usage and /api/v1/subscription: what a workspace uses, and the operator's limits.

Both need the ``admin`` scope. Each is declared once (``endpoints.endpoint``): the models below
generate the OpenAPI document, and every answer is built through them (an undeclared field
cannot slip out). The window's query parameters are parsed by ``usage.service.parse_window``,
which the console's Usage page shares (its codes: ``invalid_parameter`` with ``details.allowed``,
``invalid_date_range``), so their model documents them with ``checked_later``.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import jsonify
from pydantic import BaseModel, Field

from usage import service

from . import bp
from .auth import current_actor
from .endpoints import Ok, QueryModel, ResponseModel, checked_later, endpoint
from .shapes import CONNECTION_ID_EXAMPLE

TAG = "Account"
ADMIN_ONLY = "Needs the `admin` scope: usage, limits and membership are the workspace administrators' business."
Timestamp = Field(json_schema_extra={"format": "date-time"})


class Closed(ResponseModel):
    """A response shape of the account surfaces (every field present, nothing else)."""


class Point(Closed):
    """One bucket of a series: its start (the UTC hour or day) and its value."""

    start: str = Timestamp
    value: int | float


class StorageBytes(Closed):
    text: int = Field(description="Bytes of the documents' titles and content (UTF-8).")
    embeddings: int = Field(description="Bytes of the stored embeddings (float32 vectors).")
    total: int


class Storage(Closed):
    """What the workspace stores now (not limited to the window)."""

    documents: int
    chunks: int
    embedded_chunks: int
    chunking_backlog: int = Field(description="Documents waiting to be cut into chunks.")
    embedding_backlog: int = Field(description="Chunks waiting to be embedded (found by lexical search meanwhile).")
    bytes: StorageBytes


class Latency(Closed):
    p50: float | None = Field(description="Median latency in milliseconds (nearest rank); null without queries.")
    p95: float | None = Field(description="95th percentile latency in milliseconds (nearest rank).")


class Queries(Closed):
    count: int
    latency_ms: Latency
    series: list[Point] = Field(description="Queries per bucket.")


class ConnectionSyncs(Closed):
    connection_id: str
    name: str
    connector_type: str
    runs: int
    failed_runs: int
    records_written: int


class Syncs(Closed):
    runs: int
    failed_runs: int
    records_written: int
    connections: list[ConnectionSyncs] = Field(description="Per connection with runs in the window, most records "
                                                           "written first.")
    series: list[Point] = Field(description="Records written per bucket.")


class KeyCalls(Closed):
    api_key_id: str
    name: str | None = Field(description="null when the key no longer exists.")
    prefix: str | None
    revoked: bool
    calls: int
    errors: int = Field(description="Calls answered with a 4xx or 5xx status.")


class ApiCalls(Closed):
    calls: int
    errors: int
    keys: list[KeyCalls] = Field(description="Per key, most calls first.")
    series: list[Point] = Field(description="Calls per bucket.")


class PipelineUsage(Closed):
    requests: int
    operations: int
    upserted: int
    deleted: int
    series: list[Point] = Field(description="Operations per bucket.")


class UsageReport(Closed):
    """A workspace's usage over a window."""

    workspace_id: str
    period: Literal["day", "week", "month"] | None = Field(description="null for an explicit start/end window.")
    start: str = Timestamp
    end: str = Timestamp
    bucket: Literal["hour", "day"] = Field(description="The series' step: hours for windows up to two days, "
                                                       "else days.")
    storage: Storage
    queries: Queries
    sync: Syncs
    api_calls: ApiCalls
    pipeline: PipelineUsage


class Limit(Closed):
    name: Literal["connections", "documents", "queries_per_day", "pipeline_operations_per_day"]
    limit: int | None = Field(description="The operator's limit; null is unlimited.")
    used: int
    period: Literal["day"] | None = Field(description="`day`: counted per UTC day; null: at any time.")
    percent: float | None = Field(description="used / limit in percent; null when unlimited.")
    status: Literal["ok", "near_limit", "reached"] = Field(description="`near_limit` from 80 %.")


class Subscription(Closed):
    """A self-hosted deployment's plan: the limits its operator configured."""

    plan: Literal["self_hosted"]
    workspace_id: str
    limits: list[Limit]
    resets_at: str = Field(json_schema_extra={"format": "date-time"},
                           description="When the daily limits start counting again (next UTC midnight).")


def respond(model: type[BaseModel], data: dict, status: int = 200):
    """Serialize ``data`` through ``model`` (validated: a field the model lacks is an error)."""
    return jsonify(model.model_validate(data).model_dump(mode="json")), status


class UsageQuery(QueryModel):
    """The window of GET /api/v1/usage (parsed by ``usage.service.parse_window``)."""

    period: Annotated[Any, checked_later({"type": "string", "enum": list(service.PERIODS)}), Field(
        description="`day`, `week` or `month` (default).")] = None
    start: Annotated[Any, checked_later({"type": "string"}), Field(description="The window's start (ISO 8601).")] = None
    end: Annotated[Any, checked_later({"type": "string"}), Field(
        description="The window's end (ISO 8601; default now).")] = None


def _series(values, start_day=1):
    return [{"start": f"2026-12-0{start_day + i}T00:00:00Z", "value": v} for i, v in enumerate(values)]


USAGE_EXAMPLE = {
    "workspace_id": "org_a8bd3kq9x0v7m2p1", "period": "week", "start": "2026-11-29T12:00:00Z",
    "end": "2026-12-06T12:00:00Z", "bucket": "day",
    "storage": {"documents": 412000, "chunks": 1230000, "embedded_chunks": 1229942, "chunking_backlog": 3,
                "embedding_backlog": 58, "bytes": {"text": 802000000, "embeddings": 1889190912,
                                                   "total": 2691190912}},
    "queries": {"count": 5, "latency_ms": {"p50": 41.2, "p95": 180.5}, "series": _series([1, 0, 2, 0, 1, 0, 1])},
    "sync": {"runs": 3, "failed_runs": 1, "records_written": 157,
             "connections": [{"connection_id": CONNECTION_ID_EXAMPLE, "name": "GitHub", "connector_type": "github",
                              "runs": 2, "failed_runs": 1, "records_written": 150}],
             "series": _series([0, 120, 0, 30, 0, 0, 7])},
    "api_calls": {"calls": 42, "errors": 2, "keys": [{"api_key_id": "key_u6qtwlc35tlax2mv", "name": "ingest",
                                                      "prefix": "trb_3kq9x0v7", "revoked": False, "calls": 42,
                                                      "errors": 2}],
                  "series": _series([6, 6, 6, 6, 6, 6, 6])},
    "pipeline": {"requests": 2, "operations": 30, "upserted": 28, "deleted": 2, "series": _series([0, 0, 0, 30, 0, 0, 0])},
}
SUBSCRIPTION_EXAMPLE = {
    "plan": "self_hosted", "workspace_id": "org_a8bd3kq9x0v7m2p1", "resets_at": "2026-12-07T00:00:00Z",
    "limits": [
        {"name": "connections", "limit": 25, "used": 21, "period": None, "percent": 84.0, "status": "near_limit"},
        {"name": "documents", "limit": None, "used": 412000, "period": None, "percent": None, "status": "ok"},
        {"name": "queries_per_day", "limit": 10000, "used": 1250, "period": "day", "percent": 12.5, "status": "ok"},
        {"name": "pipeline_operations_per_day", "limit": None, "used": 30, "period": "day", "percent": None,
         "status": "ok"}],
}


@endpoint(bp, "GET", "/usage", operation_id="getUsage", tag=TAG, scope="admin", summary="The workspace's usage",
          query=UsageQuery,
          behaviour=f"""
What the key's workspace stores now (documents, chunks, chunks waiting to be embedded, bytes of text and embeddings)
and what it did over a window: queries with their p50 / p95 latency (nearest rank), sync runs and records written
per connection, API calls per key (refused ones counted as `errors`), pipeline-sync requests and operations. Each
activity has a `series` per `bucket` (hours for windows up to two days, else days; every bucket present, zeros
included), for charts.

The window is `period` (`day`, `week`, `month` = 24 hours, 7 days, 30 days; default `month`) ending now, or an
explicit `start` and/or `end` (ISO 8601; without an offset, UTC; a missing `start` is `end` minus the period), at
most {service.MAX_SPAN.days} days. Every figure is counted from the database's own records of each thing
(`query_log`, sync runs, pipeline syncs, one row per key and hour of API calls; stored documents from a rollup that
database triggers keep in the writing transaction). {ADMIN_ONLY}
""",
          responses={200: Ok("The usage.", UsageReport, example=USAGE_EXAMPLE)},
          errors={422: [("invalid_parameter", "`period` is not `day`, `week` or `month`, or `start` / `end` is "
                                              "not ISO 8601 (or has NUL); `details.parameter` names it."),
                        ("invalid_date_range", "`start` is not before `end`, or the window spans more than "
                                               f"{service.MAX_SPAN.days} days; `details.field` is `start`.")]})
def usage(query: UsageQuery):
    """The workspace's usage over a period (or start/end)."""
    return respond(UsageReport, service.report(current_actor(), service.parse_window(query.model_dump())))


@endpoint(bp, "GET", "/subscription", operation_id="getSubscription", tag=TAG, scope="admin",
          summary="The plan, its limits and the usage against each",
          behaviour="A self-hosted deployment's plan is `self_hosted`. `limits` lists the four limits its operator "
                    "can configure (`LIMIT_CONNECTIONS`, `LIMIT_DOCUMENTS`, `LIMIT_QUERIES_PER_DAY`, "
                    "`LIMIT_PIPELINE_OPERATIONS_PER_DAY`; `null`, the default, is unlimited), each with the "
                    "workspace's usage, the percentage and a `status` (`near_limit` from 80 %, `reached` at 100 %). "
                    "Connections count those not disconnected; daily limits count the UTC day (`resets_at`). "
                    "Passing a limit is refused where the thing is made: connecting, pipeline sync and queries "
                    "answer `409 limit_exceeded` naming it. " + ADMIN_ONLY,
          responses={200: Ok("The subscription.", Subscription, example=SUBSCRIPTION_EXAMPLE)})
def subscription():
    """The plan, the operator's limits and the usage against each."""
    return respond(Subscription, service.subscription(current_actor()))
