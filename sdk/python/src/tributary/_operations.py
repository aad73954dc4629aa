"""Every operation of the API, written once for both clients (``_transport``).

Each one builds the request (method, path, parameters, body) and names the generated model its
answer is read as. Adding one is a function here::

    @operation
    def get_usage(period: str = "month") -> Call[UsageMetrics]:
        \"\"\"GET /v1/usage\"\"\"
        return Call.get("/v1/usage", model(UsageMetrics), period=period)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from ._core import Call, Pages, body, field_of, model, page, raw, timestamp, union
from ._models import (
    ActionList,
    ActionRun,
    ActionRunList,
    AuditLogEntry,
    AuditLogPage,
    CatalogEntry,
    ChainVerification,
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
    DryRun,
    FullVerificationStatus,
    InvitationRevoked,
    InviteResponse,
    Me,
    Member,
    MemberRemoved,
    PipelineSyncResponse,
    QueryResponse,
    ResolveResponse,
    RotateSecretResponse,
    RunList,
    Soc2Report,
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
    Subscription,
    UpdateResponse,
    UsageReport,
    UserList,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreList,
)
from ._transport import operation, paginated

ActionAnswer = DryRun | ActionRun
ConnectAnswer = ConnectOAuthRedirect | ConnectConnected | ConnectWebhook | ConnectAlreadyConnected
ReconnectAnswer = ConnectOAuthRedirect | ConnectConnected | ConnectWebhook
Day = str | date | datetime
Outcome = Literal["success", "failure"]
Role = Literal["admin", "member"]
T = TypeVar("T")
Filter = str | Sequence[str] | None


def _id(value: str) -> str:
    """A path segment: an id is sent as given, never read as more path."""
    return quote(value, safe="")


def _values(value: Filter) -> list[str] | None:
    return [value] if isinstance(value, str) else None if value is None else list(value)


def _run_path(connection_id: str, action_run_id: str) -> str:
    return f"/api/v1/connections/{_id(connection_id)}/actions/runs/{_id(action_run_id)}"


def _audit_filters(action: str | None, actor: str | None, target: str | None, outcome: Outcome | None,
                   start: Day | None, end: Day | None) -> dict[str, str | None]:
    return {"action": action, "actor": actor, "target": target, "outcome": outcome, "start": timestamp(start),
            "end": timestamp(end)}


def _soc2(start_date: Day, end_date: Day, parse: Callable[[Any], T], accept: str) -> Call[T]:
    return Call("GET", "/api/v1/audit-logs/soc2", parse, {"start_date": timestamp(start_date),
                                                         "end_date": timestamp(end_date)},
                idempotent=True, accept=accept)


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

    # -- actions (scope ``actions``) -----------------------------------------------------------

    @operation
    def execute_action(connector_id: str, intent: str, context: Mapping[str, Any] | None = None,
                       dry_run: bool = False, *, idempotency_key: str | None = None) -> Call[ActionAnswer]:
        """The spec's agentic execute (``POST /v1/connectors/{id}/execute``): ``intent`` in words,
        routed to one of the connector's allowed actions; ``context`` fills parameters the intent
        leaves out. A ``DryRun`` (``dry_run=True``: the exact provider requests, nothing sent) or
        an ``ActionRun`` (``succeeded``, ``failed``, or ``pending_approval``). Safe to retry: a
        repeated request answers the first one's run and sends nothing again."""
        return Call("POST", f"/v1/connectors/{_id(connector_id)}/execute", union(ActionAnswer), idempotent=True,
                    json=body(intent=intent, context=dict(context) if context is not None else None,
                              dry_run=dry_run or None, idempotency_key=idempotency_key))

    @operation
    def run_action(connection_id: str, action: str, parameters: Mapping[str, Any] | None = None, *,
                   dry_run: bool = False, idempotency_key: str | None = None) -> Call[ActionAnswer]:
        """Run one action by name with its parameters, the structured form
        (``POST /api/v1/connections/{id}/actions``); answers as ``execute_action`` does."""
        return Call("POST", f"/api/v1/connections/{_id(connection_id)}/actions", union(ActionAnswer),
                    idempotent=True, json=body(action=action, parameters=dict(parameters or {}),
                                               dry_run=dry_run or None, idempotency_key=idempotency_key))

    @operation
    def list_actions(connection_id: str) -> Call[ActionList]:
        """A connection's actions (their parameters' JSON schemas, phrasings) and its policy."""
        return Call.get(f"/api/v1/connections/{_id(connection_id)}/actions", model(ActionList))

    @operation
    def set_action_policy(connection_id: str, **policy: Sequence[str] | None) -> Call[ActionList]:
        """Which actions may run (``allowed_actions``, ``None``: every one), which wait for approval
        (``approval_required``, ``None``: the destructive ones) and which MCP exposes
        (``mcp_tools``); a field left out keeps its value. Scope ``admin``."""
        return Call("PUT", f"/api/v1/connections/{_id(connection_id)}/actions/policy", model(ActionList),
                    idempotent=True, json={name: None if value is None else list(value)
                                           for name, value in policy.items()})

    @operation
    def list_action_runs(connection_id: str, *, status: str | None = None) -> Call[list[ActionRun]]:
        """A connection's action runs, newest first (the latest 100); ``status="pending_approval"``
        lists what waits for a decision."""
        return Call.get(f"/api/v1/connections/{_id(connection_id)}/actions/runs", field_of(ActionRunList, "runs"),
                        status=status)

    @operation
    def get_action_run(connection_id: str, action_run_id: str) -> Call[ActionRun]:
        return Call.get(_run_path(connection_id, action_run_id), model(ActionRun))

    @operation
    def approve_action_run(connection_id: str, action_run_id: str) -> Call[ActionRun]:
        """Send a pending run's stored plan, exactly as it was shown (an admin key, or the
        connection owner's)."""
        return Call("POST", _run_path(connection_id, action_run_id) + "/approve", model(ActionRun))

    @operation
    def reject_action_run(connection_id: str, action_run_id: str) -> Call[ActionRun]:
        """Reject a pending run: nothing is sent."""
        return Call("POST", _run_path(connection_id, action_run_id) + "/reject", model(ActionRun))

    # -- usage, subscription and members (scope ``admin``) -------------------------------------

    @operation
    def get_usage(period: Literal["day", "week", "month"] | None = None, *, start: Day | None = None,
                  end: Day | None = None) -> Call[UsageReport]:
        """What the workspace stores now and did over ``period`` (``day``, ``week``, ``month``: 24
        hours, 7 or 30 days ending now; the default ``month``) or from ``start`` to ``end`` (ISO
        8601; at most 366 days), with a series per hour or day for charts (``GET /api/v1/usage``)."""
        return Call.get("/api/v1/usage", model(UsageReport), period=period, start=timestamp(start),
                        end=timestamp(end))

    @operation
    def get_subscription() -> Call[Subscription]:
        """The plan, the operator's limits and the workspace's usage against each."""
        return Call.get("/api/v1/subscription", model(Subscription))

    @operation
    def list_users() -> Call[UserList]:
        """The workspace's members (``users``) and its pending ``invitations``."""
        return Call.get("/api/v1/users", model(UserList))

    @operation
    def invite_user(email: str, role: Role = "member") -> Call[InviteResponse]:
        """Invite an address with a role: e-mailed over SMTP when configured, else the answer's
        ``invitation_url`` carries the link, this once. Inviting again replaces the earlier link,
        so it is not retried after a lost answer."""
        return Call("POST", "/api/v1/users/invite", model(InviteResponse), json={"email": email, "role": role})

    @operation
    def change_user_role(user_id: str, role: Role) -> Call[Member]:
        """Make a member an admin or an admin a member (the only admin stays one: ``409 last_admin``)."""
        return Call("PATCH", f"/api/v1/users/{_id(user_id)}", model(Member), json={"role": role}, idempotent=True)

    @operation
    def remove_user(user_id: str) -> Call[MemberRemoved]:
        """Remove a member from the workspace (their personal connections here are disconnected)."""
        return Call.delete(f"/api/v1/users/{_id(user_id)}", model(MemberRemoved))

    @operation
    def revoke_invitation(invitation_id: str) -> Call[InvitationRevoked]:
        """Its link stops working at once."""
        return Call.delete(f"/api/v1/users/invitations/{_id(invitation_id)}", model(InvitationRevoked))

    # -- the audit log (/api/v1/audit-logs, scope ``admin``) ------------------------------------

    @operation
    def get_audit_logs(*, limit: int | None = None, cursor: str | None = None, action: str | None = None,
                       actor: str | None = None, target: str | None = None, outcome: Outcome | None = None,
                       start: Day | None = None, end: Day | None = None) -> Call[AuditLogPage]:
        """One page of the workspace's audit entries, newest first (default 100, at most 1,000);
        ``next_cursor`` asks for the next. ``action`` is one action (``query.executed``) or a
        prefix (``connection.*``), ``actor`` an id or name, ``start`` / ``end`` ISO 8601 (a bare
        ``end`` date is the whole day) (``GET /api/v1/audit-logs``)."""
        return Call.get("/api/v1/audit-logs", model(AuditLogPage), limit=limit, cursor=cursor,
                        **_audit_filters(action, actor, target, outcome, start, end))

    @paginated
    def iter_audit_logs(*, action: str | None = None, actor: str | None = None, target: str | None = None,
                        outcome: Outcome | None = None, start: Day | None = None, end: Day | None = None,
                        page_size: int = 100) -> Pages[AuditLogEntry]:
        """Every matching audit entry, newest first, fetched ``page_size`` at a time."""
        return _pages("/api/v1/audit-logs", AuditLogPage, "entries", page_size,
                      _audit_filters(action, actor, target, outcome, start, end))

    @operation
    def get_audit_log(entry_id: str) -> Call[AuditLogEntry]:
        """One audit entry (``aud_...``)."""
        return Call.get(f"/api/v1/audit-logs/{_id(entry_id)}", model(AuditLogEntry))

    @operation
    def verify_audit_logs() -> Call[ChainVerification]:
        """Recompute the workspace's audit hash chain: ``intact``, or where it first breaks."""
        return Call.get("/api/v1/audit-logs/verify", model(ChainVerification))

    @operation
    def request_full_audit_verification() -> Call[FullVerificationStatus]:
        """Ask the server to walk the whole chain (every entry, every checkpoint) in the
        background; its outcome appears as ``verify_audit_logs().full_verification.last``."""
        return Call("POST", "/api/v1/audit-logs/verify/full", model(FullVerificationStatus), idempotent=True)

    @operation
    def export_soc2(start_date: Day, end_date: Day) -> Call[Soc2Report]:
        """The SOC 2 evidence of the workspace from ``start_date`` to ``end_date`` (both days
        included) (``GET /api/v1/audit-logs/soc2``). Each export is itself audited."""
        return _soc2(start_date, end_date, model(Soc2Report), "application/json")

    @operation
    def export_soc2_pdf(start_date: Day, end_date: Day) -> Call[bytes]:
        """The same report as a PDF to hand to an auditor: its bytes."""
        return _soc2(start_date, end_date, raw, "application/pdf")

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
