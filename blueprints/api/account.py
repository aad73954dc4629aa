"""/api/v1/usage and /api/v1/subscription: what a workspace uses, and the operator's limits.

Both need the ``admin`` scope. The shapes are the pydantic models below: every answer is built
through them (an undeclared field cannot slip out) and ``openapi_account`` documents them from
their JSON schemas.
"""
from __future__ import annotations

from typing import Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from usage import service

from . import bp
from .auth import current_actor, require_scope

Timestamp = Field(json_schema_extra={"format": "date-time"})


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


@bp.get("/usage")
@require_scope("admin")
def usage():
    """The workspace's usage over a period (or start/end)."""
    return respond(UsageReport, service.report(current_actor(), service.parse_window(request.args)))


@bp.get("/subscription")
@require_scope("admin")
def subscription():
    """The plan, the operator's limits and the usage against each."""
    return respond(Subscription, service.subscription(current_actor()))
