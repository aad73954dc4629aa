"""Every operation of the API, written once for both clients (``_transport``).

Each one builds the request (method, path, parameters, body) and names the generated model its
answer is read as. Adding one is a function here::

    @operation
    def get_usage(period: str = "month") -> Call[UsageMetrics]:
        \"\"\"GET /v1/usage\"\"\"
        return Call.get("/v1/usage", model(UsageMetrics), period=period)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from ._core import Call, Pages, body, field_of, model, page, timestamp, union
from ._models import (
    CatalogEntry,
    CheckResponse,
    Connection,
    ConnectionList,
    ConnectAlreadyConnected,
    ConnectConnected,
    ConnectOAuthRedirect,
    ConnectWebhook,
    Connector,
    ConnectorCreated,
    ConnectorList,
    ConnectorSyncAccepted,
    Catalog,
    DisconnectResponse,
    Document,
    DocumentDeleted,
    DocumentList,
    DocumentSummary,
    Me,
    PipelineSyncResponse,
    QueryResponse,
    ResolveResponse,
    RotateSecretResponse,
    RunList,
    Status,
    SyncAccepted,
    SyncJobCancelled,
    SyncJobHistory,
    SyncJobHistoryEntry,
    SyncJobStarted,
    SyncJobStatus,
    SyncRun,
    SyncSchedule,
    SyncScheduleList,
    UpdateResponse,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreList,
)
from ._transport import operation, paginated

ConnectAnswer = ConnectOAuthRedirect | ConnectConnected | ConnectWebhook | ConnectAlreadyConnected
ReconnectAnswer = ConnectOAuthRedirect | ConnectConnected | ConnectWebhook
Day = str | date | datetime
Filter = str | Sequence[str] | None


def _id(value: str) -> str:
    """A path segment: an id is sent as given, never read as more path."""
    return quote(value, safe="")


def _values(value: Filter) -> list[str] | None:
    return [value] if isinstance(value, str) else None if value is None else list(value)


def _pages(path: str, listing: type[BaseModel], items: str, page_size: int,
           filters: Mapping[str, str | None]) -> Pages[Any]:
    """A cursor listing of ``path``: pages of ``page_size``, read as ``listing`` (its ``items``)."""
    return Pages(lambda cursor: Call.get(path, page(listing, items), limit=page_size, cursor=cursor, **filters))


class Operations:
    """The API's operations; ``TributaryClient`` awaits them, ``SyncTributaryClient`` calls them."""

    # -- query -------------------------------------------------------------------------------

    @operation
    def query(query: str, *, limit: int = 10, include_reasoning: bool = False, sources: Filter = None,
              date_after: Day | None = None, date_before: Day | None = None, authors: Filter = None,
              types: Filter = None, namespaces: Filter = None, vector_store_id: str | None = None,
              offset: int = 0) -> Call[QueryResponse]:
        """Search what the workspace's sources hold (``POST /api/v1/query``, scope ``query``):
        the documents the key's member may read, best first. Filters narrow inside the search;
        ``offset`` pages through the first 400 results."""
        return Call("POST", "/api/v1/query", model(QueryResponse), idempotent=True, json=body(
            query=query, limit=limit, offset=offset or None, include_reasoning=include_reasoning or None,
            sources=_values(sources), types=_values(types), authors=_values(authors),
            namespaces=_values(namespaces), date_after=timestamp(date_after), date_before=timestamp(date_before),
            vector_store_id=vector_store_id))

    # -- connectors (the spec's /v1/connectors) ---------------------------------------------

    @operation
    def list_connectors() -> Call[list[Connector]]:
        """The workspace's connectors, newest first (``GET /v1/connectors``)."""
        return Call.get("/v1/connectors", field_of(ConnectorList, "connectors"))

    @operation
    def get_connector(connector_id: str) -> Call[Connector]:
        """One connector (``GET /v1/connectors/{id}``)."""
        return Call.get(f"/v1/connectors/{_id(connector_id)}", model(Connector))

    @operation
    def create_connector(connector_type: str, display_name: str | None = None,
                         credentials: Mapping[str, str] | None = None, settings: Mapping[str, Any] | None = None,
                         *, return_to: str | None = None, owner_user_id: str | None = None) -> Call[ConnectorCreated]:
        """Connect with a token the user holds (``credentials``, verified with the provider first),
        or, for an OAuth connector without credentials, start its authorization: the answer's
        ``oauth_url`` is where to send the user (``POST /v1/connectors``)."""
        return Call("POST", "/v1/connectors", model(ConnectorCreated), json=body(
            connector_type=connector_type, display_name=display_name,
            credentials=dict(credentials) if credentials is not None else None,
            settings=dict(settings) if settings is not None else None, return_to=return_to,
            owner_user_id=owner_user_id))

    @operation
    def get_oauth_url(connector_type: str, *, display_name: str | None = None,
                      return_to: str | None = None) -> Call[ConnectorCreated]:
        """Start an OAuth connector's authorization: the pending connector, with ``oauth_url``."""
        return Call("POST", "/v1/connectors", model(ConnectorCreated), json=body(
            connector_type=connector_type, display_name=display_name, return_to=return_to))

    @operation
    def sync_connector(connector_id: str, full: bool = False) -> Call[ConnectorSyncAccepted]:
        """Queue an incremental sync, or with ``full=True`` a full one (``POST .../sync``)."""
        return Call("POST", f"/v1/connectors/{_id(connector_id)}/sync", model(ConnectorSyncAccepted),
                    {"full": full})

    @operation
    def delete_connector(connector_id: str) -> Call[Connector]:
        """Disconnect: the credentials are dropped, the connector and its history kept."""
        return Call.delete(f"/v1/connectors/{_id(connector_id)}", model(Connector))

    # -- connections (/api/v1/connections) --------------------------------------------------

    @operation
    def get_catalog(category: str | None = None) -> Call[list[CatalogEntry]]:
        """The connector catalog: what can be connected, with ``connectable`` per entry."""
        return Call.get("/api/v1/connections/catalog", field_of(Catalog, "connectors"), category=category)

    @operation
    def list_connections(*, limit: int | None = None, cursor: str | None = None, status: str | None = None,
                         health: str | None = None, connector_type: str | None = None,
                         q: str | None = None) -> Call[ConnectionList]:
        """The workspace's connections, newest first: all of them, or a page with ``limit``."""
        return Call.get("/api/v1/connections", model(ConnectionList), limit=limit, cursor=cursor, status=status,
                        health=health, connector_type=connector_type, q=q)

    @paginated
    def iter_connections(*, status: str | None = None, health: str | None = None,
                         connector_type: str | None = None, q: str | None = None,
                         page_size: int = 50) -> Pages[Connection]:
        """Every matching connection, newest first, fetched ``page_size`` at a time."""
        return _pages("/api/v1/connections", ConnectionList, "connections", page_size,
                      {"status": status, "health": health, "connector_type": connector_type, "q": q})

    @operation
    def get_connection(connection_id: str) -> Call[Connection]:
        return Call.get(f"/api/v1/connections/{_id(connection_id)}", model(Connection))

    @operation
    def connect(connector_type: str, **fields: Any) -> Call[ConnectAnswer]:
        """Connect a source by its connect method (``POST /api/v1/connections``): ``api_key=``
        for API-key connectors, ``account_handle=`` / ``external_account_id=`` for handles, nothing
        for OAuth (the answer's ``authorize_url``) and webhooks. The answer's ``mode`` says which."""
        return Call("POST", "/api/v1/connections", union(ConnectAnswer),
                    json=body(connector_type=connector_type, **fields))

    @operation
    def resolve_handle(connector_type: str, account_handle: str) -> Call[ResolveResponse]:
        """Find the provider account behind a handle (step one of a handle connect)."""
        return Call("POST", "/api/v1/connections/resolve", model(ResolveResponse), idempotent=True,
                    json={"connector_type": connector_type, "account_handle": account_handle})

    @operation
    def update_connection(connection_id: str, **fields: Any) -> Call[UpdateResponse]:
        """Rename a connection, change its owner or access mode (``PATCH``)."""
        return Call("PATCH", f"/api/v1/connections/{_id(connection_id)}", model(UpdateResponse), json=fields,
                    idempotent=True)

    @operation
    def disconnect(connection_id: str) -> Call[DisconnectResponse]:
        return Call.delete(f"/api/v1/connections/{_id(connection_id)}", model(DisconnectResponse))

    @operation
    def reconnect(connection_id: str, **fields: Any) -> Call[ReconnectAnswer]:
        """Reconnect in place: ``api_key=`` for API-key connectors, else a new authorization."""
        return Call("POST", f"/api/v1/connections/{_id(connection_id)}/reconnect", union(ReconnectAnswer),
                    json=fields)

    @operation
    def rotate_webhook_secret(connection_id: str, *,
                              grace_period_seconds: int | None = None) -> Call[RotateSecretResponse]:
        return Call("POST", f"/api/v1/connections/{_id(connection_id)}/rotate-secret", model(RotateSecretResponse),
                    json=body(grace_period_seconds=grace_period_seconds))

    @operation
    def check_connection(connection_id: str) -> Call[CheckResponse]:
        """Verify the stored credentials with one cheap provider call."""
        return Call("POST", f"/api/v1/connections/{_id(connection_id)}/check", model(CheckResponse),
                    idempotent=True)

    @operation
    def get_connection_status(connection_id: str) -> Call[Status]:
        return Call.get(f"/api/v1/connections/{_id(connection_id)}/status", model(Status))

    @operation
    def list_runs(connection_id: str, *, limit: int | None = None) -> Call[list[SyncRun]]:
        """A connection's sync runs, newest first (default 25, at most 100)."""
        return Call.get(f"/api/v1/connections/{_id(connection_id)}/runs", field_of(RunList, "runs"), limit=limit)

    @operation
    def sync_connection(connection_id: str, *, full: bool = False) -> Call[SyncAccepted]:
        """Queue a sync run of a connection (``POST /api/v1/connections/{id}/sync``)."""
        return Call("POST", f"/api/v1/connections/{_id(connection_id)}/sync", model(SyncAccepted), {"full": full})

    @operation
    def me() -> Call[Me]:
        """The calling key: its workspace, id, name and scopes."""
        return Call.get("/api/v1/me", model(Me))

    # -- sync jobs (/api/sync*) -------------------------------------------------------------

    @operation
    def start_sync_job(channel_id: str, *, force: bool = False) -> Call[SyncJobStarted]:
        """Sync one channel (our ``chn_...`` id or the provider's), or a whole connection."""
        return Call("POST", "/api/sync", model(SyncJobStarted), json={"channel_id": channel_id, "force": force})

    @operation
    def get_sync_job_status(channel_id: str, *, job_id: str | None = None) -> Call[SyncJobStatus]:
        return Call.get("/api/sync/status", model(SyncJobStatus), channel_id=channel_id, job_id=job_id)

    @operation
    def get_sync_job_history(channel_id: str, *, limit: int | None = None) -> Call[list[SyncJobHistoryEntry]]:
        return Call.get("/api/sync/history", field_of(SyncJobHistory, "history"), channel_id=channel_id,
                        limit=limit)

    @operation
    def cancel_sync_job(job_id: str) -> Call[SyncJobCancelled]:
        return Call("POST", "/api/sync/cancel", model(SyncJobCancelled), json={"job_id": job_id}, idempotent=True)

    @operation
    def list_sync_schedules() -> Call[list[SyncSchedule]]:
        return Call.get("/api/sync/schedules", field_of(SyncScheduleList, "schedules"))

    @operation
    def update_sync_schedule(channel_id: str, schedule: str | None, *,
                             enabled: bool | None = None) -> Call[SyncSchedule]:
        """Set (or with ``None`` clear) a channel's cron schedule."""
        return Call("PUT", "/api/sync/schedules", model(SyncSchedule), idempotent=True,
                    json={"channel_id": channel_id, "schedule": schedule, **body(enabled=enabled)})

    # -- vector stores and documents ---------------------------------------------------------

    @operation
    def create_vector_store(name: str, description: str | None = None) -> Call[VectorStore]:
        return Call("POST", "/api/v1/vector-stores", model(VectorStore),
                    json=body(name=name, description=description))

    @operation
    def list_vector_stores() -> Call[list[VectorStore]]:
        """The workspace's stores, the default first."""
        return Call.get("/api/v1/vector-stores", field_of(VectorStoreList, "vector_stores"))

    @operation
    def get_vector_store(vector_store_id: str) -> Call[VectorStore]:
        return Call.get(f"/api/v1/vector-stores/{_id(vector_store_id)}", model(VectorStore))

    @operation
    def delete_vector_store(vector_store_id: str) -> Call[VectorStoreDeleted]:
        return Call.delete(f"/api/v1/vector-stores/{_id(vector_store_id)}", model(VectorStoreDeleted))

    @operation
    def list_documents(*, vector_store_id: str | None = None, namespace: str | None = None,
                       source: str | None = None, limit: int | None = None,
                       cursor: str | None = None) -> Call[DocumentList]:
        """One page of documents, newest first (default 50); ``next_cursor`` asks for the next."""
        return Call.get("/api/v1/documents", model(DocumentList), vector_store_id=vector_store_id,
                        namespace=namespace, source=source, limit=limit, cursor=cursor)

    @paginated
    def iter_documents(*, vector_store_id: str | None = None, namespace: str | None = None,
                       source: str | None = None, page_size: int = 50) -> Pages[DocumentSummary]:
        """Every matching document, newest first, fetched ``page_size`` at a time."""
        return _pages("/api/v1/documents", DocumentList, "documents", page_size,
                      {"vector_store_id": vector_store_id, "namespace": namespace, "source": source})

    @operation
    def get_document(document_id: str) -> Call[Document]:
        """A document with its content (only one the key's member may read)."""
        return Call.get(f"/api/v1/documents/{_id(document_id)}", model(Document))

    @operation
    def delete_document(document_id: str) -> Call[DocumentDeleted]:
        return Call.delete(f"/api/v1/documents/{_id(document_id)}", model(DocumentDeleted))

    # -- pipeline sync (/v1/pipeline/sync) ---------------------------------------------------

    @operation
    def pipeline_sync(organization_id: str, vector_store_id: str, operations: Sequence[Mapping[str, Any]], *,
                      sync_mode: Literal["incremental", "full_refresh"] = "incremental",
                      sync_timestamp: str | datetime | None = None) -> Call[PipelineSyncResponse]:
        """Upsert and delete records in a vector store, atomically (scope ``pipeline``).
        Retried like a read: applying the same operations twice leaves the same store."""
        stamp = timestamp(sync_timestamp) or datetime.now().astimezone().isoformat()
        return Call("POST", "/v1/pipeline/sync", model(PipelineSyncResponse), idempotent=True, json={
            "organization_id": organization_id, "vector_store_id": vector_store_id, "sync_mode": sync_mode,
            "operations": [dict(op) for op in operations], "sync_timestamp": stamp})
