"""/api/v1/connections: the connections REST API (specs/connecting-data-sources.md).

Each endpoint is declared once (``endpoints.endpoint``): the response models below generate the
document and the contract tests hold the answers to them. The request bodies are the models of
``connections.requests``: the endpoint validates a body with its model and hands the model to
``connections.service``, which validates the console's forms with the same models. A connect
body is one of four models, by its connector's connect method, so the service picks the model
once it has looked the connector up (``unknown_connector_type`` and ``connector_not_connectable``
come first); ``ConnectRequest`` documents the four as a ``oneOf``.
"""
from typing import Annotated, Any, Literal, Union

from flask import current_app, jsonify
from pydantic import ConfigDict, Field, RootModel, create_model

from connections import service
from connections.webhooks import MAX_GRACE_SECONDS
from connections.requests import (CONNECT_MODELS, ReconnectRequest, ResolveRequest, RotateSecretRequest, Scope,
                                  UpdateRequest, connector_types)
from connections.health import HEALTH_VALUES
from connections.models import STATUSES
from connections.service import MAX_PAGE_SIZE as MAX_CONNECTION_PAGE, PAGE_SIZE as CONNECTION_PAGE
from connectors import registry
from connectors.base import AUTH_METHODS, AVAILABILITY, CATEGORIES, DIRECTIONS, OWNERSHIPS
from sync.models import ERROR_REASONS, MODES, RUN_STATUSES, TRIGGERS

from . import bp
from .actions import ConnectorAction
from .auth import current_actor
from .endpoints import (Flag, Ok, QueryModel, ResponseModel, checked_later, component, component_ref,
                        endpoint)
from .shapes import CONNECTION_ID_EXAMPLE, CONNECTION_ID_PARAMETER as CONNECTION_ID, RUN_ID_EXAMPLE, ProviderSaid, \
    limit_reached, timestamp

# A connection id, shaped like one (blueprints/inputs.py): /connections/catalog and
# /connections/resolve are never also read as a connection id.
CONNECTION = '/connections/<id(prefix="conn"):connection_id>'

Count = Annotated[int, Field(ge=0)]
URI = Field(json_schema_extra={"format": "uri"})
SECRET = Field(pattern="^whsec_")


# -- sync runs -------------------------------------------------------------------------------------

RunChannel = Annotated[str | None, Field(description="The channel (a repository, ...), or `null` for a stream "
                                                     "without channels.")]
Stream = Annotated[str, Field(description="The stream (`issues`, `deals`, ...).")]


class FailedUnit(ResponseModel):
    """One stream × channel unit of a run that failed."""

    stream: Stream
    channel: RunChannel
    error_reason: Literal[ERROR_REASONS] | None
    error_code: Annotated[str | None, Field(description="e.g. `CHANNEL_NOT_FOUND`, `provider_refused`, "
                                                        "`provider_not_found`.")]
    error_message: Annotated[str | None, Field(description="The failure in words.")]
    error_details: ProviderSaid | None


class HiddenUnit(ResponseModel):
    """A unit of a run whose records were stored hidden from every member (fail closed)."""

    stream: Stream
    channel: RunChannel
    hidden: Annotated[Count, Field(description="Records of this unit hidden from everyone.")]
    error_code: Annotated[str | None, Field(description="`READERS_UNKNOWN` when the provider refused to say who may "
                                                        "read the channel, else `null` (records without readers of "
                                                        "their own).")]
    error_message: Annotated[str | None, Field(description="Why, in words (the provider's own message included).")]
    error_details: ProviderSaid | None


class SyncRun(ResponseModel):
    """A sync run, as `last_run` on a connection and as the entries of
    `GET /api/v1/connections/{connection_id}/runs` show it."""

    id: Annotated[str, Field(description="The run id.", pattern="^run_[a-z0-9]+$", examples=[RUN_ID_EXAMPLE])]
    status: Annotated[Literal[RUN_STATUSES], Field(description="`pending` (queued), `running`, or a terminal "
                                                               "outcome.")]
    triggered_by: Annotated[Literal[TRIGGERS], Field(
        description="What kicked the run off: `connect`, `manual` (console), `schedule` or `api` "
                    "(`POST /connections/{connection_id}/sync`).")]
    mode: Annotated[Literal[MODES], Field(
        description="`incremental`, `full`, or `permissions` (the scheduled light pass of a connection in the source "
                    "access mode: brings every document's readers up to date without rewriting its content).")]
    channel: Annotated[str | None, Field(description="The one channel (repository, Slack channel, ...) the run is "
                                                     "limited to, or `null` for the whole connection.")]
    created_at: Annotated[str, timestamp("When the run was requested")]
    started_at: Annotated[str | None, timestamp("When the run started, or `null` while it is queued")]
    finished_at: Annotated[str | None, timestamp("When the run reached a terminal outcome, or `null` while it is "
                                                 "still queued or running")]
    streams_total: Annotated[Count, Field(
        description="Streams the run attempted, counted per channel: its stream × channel units (a GitHub run of 5 "
                    "streams over 25 repositories attempts 125; a connector without channels counts its streams).")]
    streams_failed: Annotated[Count, Field(description="How many of those units failed (see `failed_units`).")]
    records_written: Annotated[Count, Field(description="Rows written by the run.")]
    error_reason: Annotated[Literal[ERROR_REASONS] | None, Field(
        description="Bucketed failure reason, or `null` when the run did not fail: `auth` (the provider refused the "
                    "credentials), `rate_limit`, `config` (the provider refused the request: 400/403/422, or a "
                    "channel that is not there), `transient` (5xx, timeouts, resets) or `unknown`.")]
    error_code: Annotated[str | None, Field(description="A finer code where one applies, e.g. `CHANNEL_NOT_FOUND`, "
                                                        "or `null`.")]
    error_message: Annotated[str | None, Field(description="The failure in words (the provider's own message "
                                                           "included), or `null`.")]
    error_details: ProviderSaid | None
    failed_units: Annotated[list[FailedUnit], Field(
        max_length=20, description="The units that failed (at most 20), each with the provider's own words; empty "
                                   "when none did. A run whose units partly failed still `completed`; the "
                                   "connection's `health` is then `degraded`.")]
    records_hidden: Annotated[Count, Field(
        description="Records the run stored hidden from every member because the provider would not say who may "
                    "read them (a connection in the `source` access mode fails closed), e.g. a GitHub repository "
                    "whose collaborators the token may not list.")]
    hidden_units: Annotated[list[HiddenUnit], Field(
        max_length=20, description="Where those records are and why (at most 20 units); empty when none.")]


# -- connections -----------------------------------------------------------------------------------

ConnectionId = Annotated[str, Field(description="The connection id.", pattern="^conn_[a-z0-9]+$",
                                    examples=[CONNECTION_ID_EXAMPLE])]
LifecycleStatus = Annotated[Literal[STATUSES], Field(description="The coarse lifecycle state.")]
Health = Annotated[Literal[HEALTH_VALUES], Field(
    description="The derived badge; in precedence order (first that applies wins): `disconnected`, `needs_reauth`, "
                "`syncing`, `rate_limited`, `error`, `degraded`, `stale`, `healthy`.")]
IsSyncing = Annotated[bool, Field(description="A sync run is in flight right now.")]
NeedsReauth = Annotated[bool, Field(description="The provider refused the stored credentials; reconnect.")]
LastSyncedAt = Annotated[str | None, timestamp("The last successful sync, or `null`")]
LastError = Annotated[str | None, Field(description="The last error in words, or `null`.")]


class Connection(ResponseModel):
    """An established connection. Credentials (tokens, API keys, signing secrets) are never
    returned. `webhook_url` is present exactly on `webhook` connections."""

    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"connector_type": {"type": "string", "const": "webhook"}}},
        "then": {"required": ["webhook_url"]},
        "else": {"not": {"required": ["webhook_url"]}}})

    id: ConnectionId
    kind: Annotated[Literal[("first_party",)], Field(description="Always `first_party` (tracked X / LinkedIn "
                                                                 "accounts included).")]
    connector_type: Annotated[str, Field(description="The connector type from the catalog (`github`, `pipedrive`, "
                                                     "`twitter`, ...).", examples=["pipedrive"])]
    connector_name: Annotated[str, Field(description="The connector's display name (the type itself if it left the "
                                                     "catalog).", examples=["Pipedrive"])]
    auth_method: Annotated[Literal[AUTH_METHODS] | None, Field(
        description="The connector's connect method (`null` if the connector type left the catalog).")]
    name: Annotated[str, Field(description="The display name.")]
    status: LifecycleStatus
    scope: Annotated[Scope, Field(description="`business` or `personal`.")]
    health: Health
    is_syncing: IsSyncing
    needs_reauth: NeedsReauth
    last_synced_at: LastSyncedAt
    last_error: LastError
    last_run: SyncRun | None
    owner_user_id: Annotated[str | None, Field(description="The member a personal connection belongs to, or "
                                                           "`null`.")]
    access_mode: Annotated[Literal["owner", "workspace", "source"], Field(
        description="Who reads what it syncs: `owner` (a personal connection: its owner only), `workspace` (every "
                    "member), `source` (each record's readers as the provider says them; a record whose permissions "
                    "cannot be read is hidden).")]
    handle: Annotated[str | None, Field(description="The provider account's handle / login (X handle, GitHub login, "
                                                    "Pipedrive user e-mail), or `null`.")]
    display_name: Annotated[str | None, Field(description="The provider account's display name, or `null`.")]
    avatar_url: Annotated[str | None, Field(description="The provider account's avatar, or `null`.")]
    external_account_id: Annotated[str | None, Field(description="The provider's id of the account behind the "
                                                                 "connection, or `null`.")]
    token_expires_at: Annotated[str | None, timestamp("When the stored OAuth access token expires, or `null`")]
    created_at: Annotated[str, timestamp("When the connection was created")]
    updated_at: Annotated[str, timestamp("When the connection last changed")]
    connected_at: Annotated[str | None, timestamp("When it was last connected, or `null` (pending)")]
    disconnected_at: Annotated[str | None, timestamp("When it was disconnected, or `null`")]
    webhook_url: Annotated[str, Field(description="Custom webhook connections only: the URL to POST signed "
                                                  "deliveries to.", json_schema_extra={"format": "uri"})] = None


# Just the sync state of one connection: these fields of Connection, as they are there.
Status = create_model(
    "Status", __base__=ResponseModel, __doc__="Just the sync state of one connection (a subset of `Connection`).",
    **{name: (Connection.model_fields[name].annotation, Connection.model_fields[name])
       for name in ("id", "status", "health", "is_syncing", "needs_reauth", "last_synced_at", "last_error",
                    "last_run")})


class ConnectionList(ResponseModel):
    """Newest first."""

    connections: list[Connection]
    next_cursor: Annotated[str | None, Field(description="Pass it as `cursor` for the next page; `null` on the last "
                                                         "page and when the list was not paged.")]


class RunList(ResponseModel):
    """Newest first."""

    runs: list[SyncRun]


# -- the catalog -----------------------------------------------------------------------------------

class NotConnectableReason(ResponseModel):
    """Why a catalog entry is not connectable (`null` when it is)."""

    code: Literal["coming_soon", "oauth_app_not_configured", "provider_credentials_not_configured"]
    message: str


class Stream(ResponseModel):
    """One kind of data a connector brings in."""

    name: Annotated[str, Field(examples=["deals"])]
    document_type: Annotated[str, Field(examples=["deal"])]
    description: str
    channel_kind: Annotated[str | None, Field(description="What one channel of the stream is (`repository`, "
                                                          "`channel`, ...), when it can be synced channel by channel.")]


class RateLimits(ResponseModel):
    """The provider's documented request budget."""

    requests_per_minute: Count | None
    requests_per_hour: Count | None


class CatalogEntry(ResponseModel):
    """One connector of the catalog: what can be connected, and how."""

    type: Annotated[str, Field(description="The connector type, the `connector_type` to connect with.",
                               examples=["pipedrive"])]
    kind: Literal[("first_party",)]
    display_name: Annotated[str, Field(examples=["Pipedrive"])]
    category: Literal[CATEGORIES]
    description: str
    auth_method: Annotated[Literal[AUTH_METHODS], Field(description="The connect method; it decides the body of "
                                                                    "`POST /api/v1/connections`.")]
    ownership: Annotated[Literal[OWNERSHIPS], Field(description="`workspace` (one org-wide connection) or "
                                                                "`personal` (each member connects their own).")]
    default_scope: Annotated[Scope, Field(description="The `scope` a new connection gets when the body names none.")]
    direction: Literal[DIRECTIONS]
    availability: Annotated[Literal[AVAILABILITY], Field(
        description="`available` when Tributary syncs this connector today; `coming_soon` when the entry is listed "
                    "for discovery with no live puller behind it (never connectable). An available connector may "
                    "still be not connectable on this deployment: see `connectable`.")]
    connectable: Annotated[bool, Field(description="Whether a connect can succeed on this deployment.")]
    not_connectable_reason: NotConnectableReason | None
    streams: list[Stream]
    rate_limits: RateLimits
    docs_url: Annotated[str, Field(description="The provider's API documentation.",
                                   json_schema_extra={"format": "uri"})]
    actions: Annotated[list[ConnectorAction], Field(
        description="What an agent may execute on a connection of it (empty: read-only).")]


class Catalog(ResponseModel):
    connectors: list[CatalogEntry]


# -- connect and reconnect answers -----------------------------------------------------------------

AuthorizeUrl = Annotated[str, Field(description="Send the user's browser here; the provider's callback finishes the "
                                                "connection.", json_schema_extra={"format": "uri"})]


class ConnectOAuthRedirect(ResponseModel):
    """An OAuth connector: the connection exists in `pending` status until the callback lands."""

    mode: Literal["oauth_redirect"]
    authorize_url: AuthorizeUrl
    connection: Connection


class ConnectConnected(ResponseModel):
    """An API-key or handle connector: verified and connected immediately."""

    mode: Literal["connected"]
    connection: Connection


class ConnectAlreadyConnected(ResponseModel):
    """A handle connector whose account is already tracked (not disconnected) in this workspace.
    Nothing is created. (OAuth connectors learn the account only at the callback, which updates
    the existing connection in place instead: see `connect`.)"""

    mode: Literal["already_connected"]
    existing_id: Annotated[str, Field(description="The id of the connection that already tracks this account.",
                                      examples=[CONNECTION_ID_EXAMPLE])]


class ConnectWebhook(ResponseModel):
    """A custom webhook source: the URL and the signing secret to configure at the sender."""

    mode: Literal["webhook"]
    webhook_url: Annotated[str, URI, Field(description="Where the source POSTs its signed deliveries.")]
    signing_secret: Annotated[str, SECRET, Field(description="The HMAC signing secret. Shown this once: it is stored "
                                                             "encrypted and never returned again.")]
    connection: Connection


class ConnectResponse(RootModel[Annotated[Union[ConnectOAuthRedirect, ConnectConnected, ConnectWebhook,
                                                ConnectAlreadyConnected], Field(discriminator="mode")]]):
    """The answer to a connect; `mode` says which. `201` carries `oauth_redirect`, `connected` or
    `webhook`; `200` carries `already_connected`."""


class ReconnectResponse(RootModel[Annotated[Union[ConnectOAuthRedirect, ConnectConnected, ConnectWebhook],
                                            Field(discriminator="mode")]]):
    """The answer to a reconnect; `mode` says which, by the connector's connect method."""


GraceSeconds = Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS)]


class RotateSecretResponse(ConnectWebhook):
    """The new signing secret (the URL is unchanged), and how long the one it replaced keeps
    working."""

    grace_period_seconds: GraceSeconds
    previous_secret_expires_at: Annotated[str | None, Field(
        description="Until when the replaced secret is still accepted; `null` when it was refused at once.",
        json_schema_extra={"format": "date-time"})]


class CheckError(ResponseModel):
    """Why the check failed, or `null` when `ok`."""

    code: Annotated[Literal["needs_reauth", "handle_not_found", "provider_credentials_invalid", "invalid_setting"],
                    Field(
        description="`needs_reauth`: the provider refused the credentials (reconnect); `handle_not_found`: the "
                    "tracked handle no longer exists; `provider_credentials_invalid`: a handle connector's provider "
                    "refused the operator's token (a deployment setting, not this connection); `invalid_setting`: "
                    "the credentials are accepted but a connection setting is not (a Figma team id the user cannot "
                    "read, named in the message).")]
    message: str


class CheckResponse(ResponseModel):
    """The outcome of a credential check and the connection after it."""

    model_config = ConfigDict(json_schema_extra={"if": {"properties": {"ok": {"const": True}}},
                                                 "then": {"properties": {"error": {"type": "null"}}},
                                                 "else": {"properties": {"error": {"type": "object"}}}})

    ok: Annotated[bool, Field(description="The provider accepted the stored credentials.")]
    error: CheckError | None
    connection: Connection


class ResolveResponse(ResponseModel):
    """The provider account a handle resolves to. Nothing is stored."""

    connector_type: Annotated[str, Field(json_schema_extra=connector_types("handle"))]
    account_handle: Annotated[str, Field(description="The handle as the provider spells it (without `@`).")]
    external_account_id: Annotated[str, Field(description="Send this back as `external_account_id` to connect.")]
    display_name: str | None
    avatar_url: str | None
    followers: Count | None
    already_connected_id: Annotated[str | None, Field(description="The connection that already tracks this account "
                                                                  "(not disconnected), or `null`.")]


class UpdateResponse(ResponseModel):
    updated: Literal[True]
    connection: Connection


class DisconnectResponse(ResponseModel):
    disconnected: Literal[True]
    id: Annotated[str, Field(examples=[CONNECTION_ID_EXAMPLE])]


class SyncAccepted(ResponseModel):
    status: Annotated[Literal["syncing"], Field(description="Always `syncing`: a run was queued. The run's own status "
                                                            "is `run_status`.")]
    sync_run_id: Annotated[str, Field(description="The queued run; find it in `/runs`.", pattern="^run_[a-z0-9]+$")]
    connector_id: Annotated[str, Field(description="The connection id (kept for clients of the older API; same as "
                                                   "`connection_id`).")]
    connection_id: str
    sync_type: Literal[MODES]
    run_status: Annotated[Literal[RUN_STATUSES], Field(description="The run's status when queued (`pending`).")]


# -- requests (the models of connections.requests, which the console shares) ---------------------

for _model in CONNECT_MODELS.values():  # the connect bodies, each a schema the ConnectRequest oneOf names
    component(_model)

_VARIANTS = {method: model.__name__ for method, model in CONNECT_MODELS.items()}


def _connect_request_schema(schema: dict) -> None:
    """One of the four bodies, by the connect method of `connector_type` (read from the registry)."""
    schema.clear()
    schema["description"] = ("`connector_type` plus the parameters of its connect method (see the catalog's "
                             "`auth_method`). Unknown fields are ignored.")
    schema["oneOf"] = [component_ref(name) for name in _VARIANTS.values()]
    schema["discriminator"] = {"propertyName": "connector_type", "mapping": {
        t: f"#/components/schemas/{_VARIANTS[cls.catalog.auth_method]}"
        for t, cls in sorted(registry.connector_classes().items())}}


class ConnectRequest(RootModel[dict[str, Any]]):
    """The body of a connect: an object, validated by ``connections.service.connect`` as the model
    of its connector's connect method (``connections.requests.CONNECT_MODELS``) once the
    connector is looked up."""

    model_config = ConfigDict(json_schema_extra=_connect_request_schema)


# -- query parameters ------------------------------------------------------------------------------

class CatalogQuery(QueryModel):
    category: Annotated[Any, checked_later({"type": "string", "enum": list(CATEGORIES)}), Field(
        description="Only connectors of this category. An empty value means all.")] = None


class ConnectionsQuery(QueryModel):
    limit: Annotated[Any, checked_later({"type": "integer", "minimum": 1}), Field(
        description=f"Page size, at least 1 (more than {MAX_CONNECTION_PAGE} is treated as {MAX_CONNECTION_PAGE}). "
                    "Without it and without `cursor`: every connection.")] = None
    cursor: Annotated[str, Field(description="The `next_cursor` of the previous page.")] = None
    status: Annotated[Any, checked_later({"type": "string", "enum": list(STATUSES)}), Field(
        description="Only this status.")] = None
    health: Annotated[Any, checked_later({"type": "string", "enum": list(HEALTH_VALUES)}), Field(
        description="Only this health.")] = None
    connector_type: Annotated[Any, checked_later({"type": "string"}), Field(
        description="Only connections of this connector type.", json_schema_extra=connector_types())] = None
    q: Annotated[Any, checked_later({"type": "string", "maxLength": 200}), Field(
        description="Text in the name, the account or the connector's name (at most 200 characters).")] = None


class RunsQuery(QueryModel):
    # Parsed after the connection is found (the id is checked first).
    limit: Annotated[Any, checked_later({"type": "integer", "minimum": 1, "default": 25}), Field(
        description="How many runs, at least 1 (default 25; more than 100 is treated as 100).")] = 25


class SyncQuery(QueryModel):
    full: Annotated[Flag, Field(description="A full instead of an incremental sync. Also accepted: `1`/`0`, "
                                            "`yes`/`no` (any case).")] = False


# -- examples --------------------------------------------------------------------------------------

def connection_example(**overrides) -> dict:
    example = {
        "id": CONNECTION_ID_EXAMPLE, "kind": "first_party", "connector_type": "pipedrive",
        "connector_name": "Pipedrive", "auth_method": "api_key", "name": "Acme Pipedrive", "status": "connected",
        "scope": "business", "health": "healthy", "is_syncing": False, "needs_reauth": False,
        "last_synced_at": None, "last_error": None, "last_run": None, "owner_user_id": None, "access_mode": "workspace",
        "handle": "ops@acme.example", "display_name": "Acme Inc", "avatar_url": None,
        "external_account_id": "7001", "token_expires_at": None, "created_at": "2025-03-01T09:30:00.000000Z",
        "updated_at": "2025-03-01T09:30:00.000000Z", "connected_at": "2025-03-01T09:30:00.000000Z",
        "disconnected_at": None,
    }
    example.update(overrides)
    return example


RUN_EXAMPLE = {
    "id": RUN_ID_EXAMPLE, "status": "completed", "triggered_by": "schedule", "mode": "incremental",
    "channel": None, "created_at": "2025-03-02T06:00:00.000000Z", "started_at": "2025-03-02T06:00:01.000000Z",
    "finished_at": "2025-03-02T06:02:10.000000Z", "streams_total": 3, "streams_failed": 0,
    "records_written": 412, "error_reason": None, "error_code": None, "error_message": None,
    "error_details": None, "failed_units": [], "records_hidden": 0, "hidden_units": [],
}
WEBHOOK_EXAMPLE = connection_example(
    connector_type="webhook", connector_name="Custom webhook", auth_method="webhook", name="Billing events",
    handle=None, display_name=None, external_account_id=None,
    webhook_url=f"https://tributary.example.com/webhooks/{CONNECTION_ID_EXAMPLE}")
CONNECTED_X = connection_example(
    connector_type="twitter", connector_name="X (Twitter)", auth_method="handle", name="@acme", handle="acme",
    display_name="Acme", avatar_url="https://pbs.example/acme.png", external_account_id="1234567890")
PENDING_GITHUB = connection_example(
    connector_type="github", connector_name="GitHub", auth_method="oauth_redirect", name="Eng GitHub",
    status="pending", handle=None, display_name=None, external_account_id=None, connected_at=None)


def _answer(result: dict, status: int = 200):
    """JSON; an answer that carries a signing secret (shown once) is never cached."""
    response = jsonify(result)
    response.status_code = status
    if "signing_secret" in result:
        response.headers["Cache-Control"] = "no-store"
    return response


# -- endpoints -------------------------------------------------------------------------------------

@endpoint(bp, "GET", "/connections/catalog",
          operation_id="listCatalog", tag="Catalog", scope="connections:read",
          summary="List the connector catalog",
          behaviour="Every connector that *can* be connected (not what *is* connected), with its connect "
                    "method, ownership, direction, streams, rate limits, documentation link and whether it "
                    "is `connectable` on this deployment (with the reason when not). Optional `category` narrows "
                    "the list (`social` for X / LinkedIn).",
          query=CatalogQuery,
          responses={200: Ok("The catalog.", Catalog)},
          errors={422: ["invalid_category"]})
def catalog(query: CatalogQuery):
    """The connector catalog: what can be connected, with `connectable` per entry."""
    return jsonify({"connectors": registry.catalog(current_app.config, query.category)})


@endpoint(bp, "GET", "/connections",
          operation_id="listConnections", tag="Connections", scope="connections:read",
          summary="List the workspace's connections",
          behaviour=f"""
Every connection of the key's workspace, newest first, each with its derived `health` and a summary of its most
recent sync run (`last_run`, `null` before the first run). Without `limit` and `cursor` the answer holds every
connection (and `next_cursor` is `null`), as the connections spec has it.

**Pages** (optional): with `limit` (1 to {MAX_CONNECTION_PAGE}; more is treated as {MAX_CONNECTION_PAGE}) the answer
is one page; pass its `next_cursor` back as `cursor` (with the same filters) for the next one, until `next_cursor` is
`null`. A `cursor` alone pages by {CONNECTION_PAGE}. Pages are keyset pages: a page starts strictly after the last
connection of the previous one, so paging never repeats or skips a connection.

**Filters** (optional, combined with AND): `status`, `health` (the derived badge, decided in the database),
`connector_type`, and `q`, text found in the name, the account's handle or display name, or the connector's
name (case aside).
""",
          query=ConnectionsQuery,
          responses={200: Ok("The connections, newest first.", ConnectionList,
                             example={"connections": [connection_example()], "next_cursor": None})},
          errors={422: ["invalid_limit", "invalid_cursor", "invalid_filter"]})
def list_connections(query: ConnectionsQuery):
    """The workspace's connections, newest first: every one, or pages with `limit` / `cursor`;
    optionally narrowed by `status`, `health`, `connector_type` and `q`."""
    paged = bool(query.limit or query.cursor)
    found = service.find(current_actor(), service.parse_filters(query.model_dump()), limit=query.limit,
                         cursor=query.cursor, paged=paged, count=False)
    return jsonify({"connections": found["connections"], "next_cursor": found["next_cursor"]})


@endpoint(bp, "POST", "/connections",
          operation_id="connect", tag="Connections", scope="connections:write",
          summary="Connect a source",
          behaviour="""
The body carries `connector_type` plus the parameters of that connector's connect method (the catalog's
`auth_method`); the answer's `mode` says what happened:

* **OAuth redirect** (e.g. `github`, `gmail`): `201` with `mode: oauth_redirect`, an `authorize_url` (PKCE) and
  the connection in `pending` status. Send the user to `authorize_url`; the provider's callback finishes the
  connection. An optional first-party `return_to` is where the callback sends the browser afterwards. A provider
  account is connected once per workspace: when the account the user authorizes is already connected here
  (or was, and is now disconnected), the callback stores the new authorization on that connection, in place,
  clears its error, queues a sync and drops the `pending` one; the redirect then carries
  `connection_id=<that connection>&already_connected=1`. A personal connection (a mailbox) another member holds
  is not taken over: the callback answers `connection_error=already_connected`.
* **API key** (e.g. `pipedrive`): the key is verified with the provider first and stored encrypted only if it
  works; `201` with `mode: connected`.
* **Handle** (e.g. `twitter`): resolve the handle first (`POST /api/v1/connections/resolve`) and send its
  `external_account_id` along; `201` with `mode: connected`, or `200` with `mode: already_connected` and the
  `existing_id` when that account is already tracked (a disconnected tracking of the same account is brought
  back in place instead, history intact).
* **Webhook** (`webhook`): `201` with `mode: webhook`, the `webhook_url` and the `signing_secret`, which is shown
  this once.

`name` and `scope` (`business` | `personal`) are optional; `scope` defaults from the catalog. Connecting stores
the connection but does not start a sync. Personal connectors (Gmail, Outlook) take an optional
`owner_user_id` (a workspace member).

`settings` are the connection's, checked against the connector before anything is stored or any provider is
called, exactly as `POST /v1/connectors` checks them: where the account is, for a connector that asks
(`subdomain`: Zendesk; `domain`: Freshdesk; the team ids or URLs as `channels`: Figma), the rate limits, and
`channels` where the connector syncs per channel. A connector that asks for a setting refuses a connect without it
(`422 missing_field`, `details.field`: `settings.subdomain`); a name the connector does not know is
`422 unknown_setting`, a value it cannot read `422 invalid_setting`, each naming it in `details.setting`.
""",
          body=ConnectRequest, body_examples={
              "oauth_redirect": {"summary": "OAuth redirect connector", "value": {
                  "connector_type": "github", "name": "Eng GitHub", "scope": "business",
                  "return_to": "/connections"}},
              "api_key": {"summary": "API-key connector", "value": {
                  "connector_type": "pipedrive", "api_key": "<provider-key>", "name": "Acme Pipedrive"}},
              "oauth_with_settings": {"summary": "OAuth connector that asks where the account is", "value": {
                  "connector_type": "zendesk", "name": "Acme support", "settings": {"subdomain": "acme"},
                  "return_to": "/connections"}},
              "api_key_with_settings": {"summary": "API-key connector that asks where the account is", "value": {
                  "connector_type": "freshdesk", "api_key": "<provider-key>",
                  "settings": {"domain": "acme.freshdesk.com", "requests_per_minute": 100}}},
              "handle": {"summary": "Handle connector (after resolving the handle)", "value": {
                  "connector_type": "twitter", "account_handle": "acme",
                  "external_account_id": "1234567890", "display_name": "Acme", "followers": 4200}},
              "webhook": {"summary": "Custom webhook", "value": {
                  "connector_type": "webhook", "name": "Billing events"}},
          },
          responses={
              200: Ok("A handle connector whose account is already tracked: nothing was created "
                       "(`mode: already_connected`).", ConnectAlreadyConnected,
                       example={"mode": "already_connected", "existing_id": CONNECTION_ID_EXAMPLE}),
              201: Ok("Created: `mode` is `oauth_redirect`, `connected` or `webhook`.", ConnectResponse,
                       examples={
                           "oauth_redirect": {"value": {
                               "mode": "oauth_redirect", "connection": PENDING_GITHUB,
                               "authorize_url": "https://github.com/login/oauth/authorize?response_type=code"
                                                "&client_id=...&state=...&code_challenge=..."
                                                "&code_challenge_method=S256"}},
                           "connected": {"value": {"mode": "connected", "connection": CONNECTED_X}},
                           "webhook": {"value": {
                               "mode": "webhook", "webhook_url": WEBHOOK_EXAMPLE["webhook_url"],
                               "signing_secret": "whsec_Q2k1...", "connection": WEBHOOK_EXAMPLE}},
                       }),
          },
          errors={
              404: ["handle_not_found"],
              409: ["connector_not_connectable", limit_reached("connections")],
              422: [
                  ("missing_field", "A required field is absent or blank: `connector_type`, `api_key` (API-key "
                                    "connectors), `account_handle` or `external_account_id` (handle "
                                    "connectors), or a setting the connector asks for at connect "
                                    "(`settings.subdomain`: Zendesk; `settings.domain`: Freshdesk; "
                                    "`settings.channels`: Figma's teams); `details.field` names it."),
                  ("invalid_field", "`connector_type`, `name`, `scope`, `account_handle` or `display_name` "
                                    "has the wrong type or length or a control, line-break or bidirectional "
                                    "formatting character (`details.character`), `scope` is neither "
                                    "`business` nor `personal`, or `settings` is not an object; `details.field` "
                                    "names it."),
                  ("unknown_setting", "`settings` names a setting the connector does not honour; `details.setting` "
                                      "names it, `details.known` lists the connector's."),
                  ("invalid_setting", "A setting's value is not one the connector can read (a subdomain that cannot "
                                      "be one, a negative rate limit, a Figma team that is no team id or URL); "
                                      "`details.setting` names it."),
                  "unknown_connector_type", "not_a_member", "invalid_credentials", "invalid_handle",
                  "handle_mismatch"],
              429: ["provider_rate_limited"],
              502: ["provider_unavailable", "provider_auth_failed"],
          })
def connect(body: ConnectRequest):
    """Connect a source; the response depends on the connector's connect method."""
    result = service.connect(current_actor(), body.root)
    return _answer(result, 200 if result["mode"] == "already_connected" else 201)


@endpoint(bp, "POST", "/connections/resolve",
          operation_id="resolveHandle", tag="Connections", scope="connections:write",
          summary="Resolve a handle to its provider account",
          behaviour="Step one of a handle connect (X / LinkedIn): asks the provider who the handle is and returns "
                    "the account, including the `external_account_id` to connect with and, when the account is "
                    "already tracked in this workspace, `already_connected_id`. Nothing is stored.",
          body=ResolveRequest,
          body_examples={"x": {"value": {"connector_type": "twitter", "account_handle": "@acme"}}},
          responses={200: Ok("The resolved account.", ResolveResponse, example={
              "connector_type": "twitter", "account_handle": "acme", "external_account_id": "1234567890",
              "display_name": "Acme", "avatar_url": "https://pbs.example/acme.png", "followers": 4200,
              "already_connected_id": None})},
          errors={
              404: ["handle_not_found"],
              409: ["connector_not_connectable"],
              422: [
                  ("missing_field", "`connector_type` or `account_handle` is absent or blank; `details.field` "
                                    "names it."),
                  ("invalid_field", "`connector_type` or `account_handle` is not a string or too long; "
                                    "`details.field` names it."),
                  ("unknown_connector_type", "`connector_type` is not a handle connector (`twitter`, "
                                             "`linkedin`)."),
                  "invalid_handle"],
              429: ["provider_rate_limited"],
              502: ["provider_unavailable", "provider_auth_failed"],
          })
def resolve_handle(body: ResolveRequest):
    """Resolve a handle to the provider account (step one of a handle connect)."""
    return jsonify(service.resolve_handle(current_actor(), body))


@endpoint(bp, "GET", CONNECTION, path_parameters=[CONNECTION_ID],
          operation_id="getConnection", tag="Connections", scope="connections:read",
          summary="Get one connection",
          behaviour="One connection of the key's workspace. A non-existent or cross-workspace id is the "
                    "same `404 not_found`, which never reveals whether the id exists elsewhere.",
          responses={200: Ok("The connection.", Connection, example=connection_example())},
          errors={404: ["not_found"]})
def get_connection(connection_id):
    return jsonify(service.serialize(service.get(current_actor(), connection_id)))


@endpoint(bp, "PATCH", CONNECTION, path_parameters=[CONNECTION_ID],
          operation_id="updateConnection", tag="Connections", scope="connections:write",
          summary="Update a connection",
          behaviour="Changes the display `name` and, on a **personal** connection (Gmail / Outlook), "
                    "`owner_user_id` (a member of the workspace; `null` clears it) and, for admins on a "
                    "connection that is not personal, `access_mode`. Nothing else is "
                    "editable: sync cadence is a per-connector-type setting, not a connection field. "
                    "The body is checked before the id: an empty or malformed body is a `422` even for an "
                    "unknown id. A non-existent or cross-workspace id is `404 not_found`.",
          body=UpdateRequest, body_examples={
              "rename": {"value": {"name": "Acme Pipedrive (prod)"}},
              "owner": {"summary": "Re-attribute a personal connection",
                        "value": {"owner_user_id": "usr_7m2p1a8bd3kq9x0v"}}},
          responses={200: Ok("Updated.", UpdateResponse,
                             example={"updated": True,
                                      "connection": connection_example(name="Acme Pipedrive (prod)")})},
          errors={
              404: ["not_found"],
              422: [("invalid_body", "The body is empty, `{}`, or not a JSON object: send `name` and/or "
                                     "`owner_user_id`."),
                    "field_not_editable",
                    ("missing_field", "`name` is `null` or blank."),
                    ("invalid_field", "`name` is not a string, longer than 200 characters, or has a control, "
                                      "line-break or bidirectional formatting character (`details.character`, "
                                      "e.g. `U+202E`), or `owner_user_id` is neither a string nor `null`."),
                    "owner_not_allowed", "not_a_member", "invalid_access_mode", "access_mode_not_allowed"],
          })
def update_connection(connection_id, body: UpdateRequest):
    return jsonify(service.update(current_actor(), connection_id, body))


@endpoint(bp, "DELETE", CONNECTION, path_parameters=[CONNECTION_ID],
          operation_id="disconnect", tag="Connections", scope="connections:write",
          summary="Disconnect a connection",
          behaviour="Drops the credentials (revoking an OAuth token at the provider where it can) and marks "
                    "the connection `disconnected`. The row and its sync history stay, so it can be "
                    "reconnected in place later. Idempotent: disconnecting a disconnected connection answers "
                    "the same. A non-existent or cross-workspace id is `404 not_found`.",
          responses={200: Ok("Disconnected.", DisconnectResponse,
                             example={"disconnected": True, "id": CONNECTION_ID_EXAMPLE})},
          errors={404: ["not_found"]})
def disconnect(connection_id):
    return jsonify(service.disconnect(current_actor(), connection_id))


@endpoint(bp, "POST", CONNECTION + "/reconnect", path_parameters=[CONNECTION_ID],
          operation_id="reconnect", tag="Connections", scope="connections:write",
          summary="Reconnect a connection in place",
          behaviour="""
Restores a connection that has gone bad (`error`, needs re-authorization, `disconnected`, `paused`,
`rate_limited`, or a `pending` OAuth connect that was never finished) **in place**: same id, same sync history,
no duplicate row. The flow follows the connector's connect method:

* **OAuth redirect**: `mode: oauth_redirect` with a fresh `authorize_url` (optional first-party `return_to`).
  The callback restores the connection. Signing in as an account another connection of the workspace holds is
  refused there (`connection_error=already_connected&connection_id=<holder>`), leaving this one unchanged.
* **API key**: send the replacement key as `{"api_key": "..."}`; it is verified, re-stored and the connection
  flips back to `connected` (`mode: connected`).
* **Handle**: nothing to replace; `mode: connected`.
* **Webhook**: issues a new signing secret (the old one stops working at once), `mode: webhook`; shown this once.
  To change the secret of a working webhook without losing deliveries, rotate it instead (`rotate-secret`).

A successful reconnect, by any method (for OAuth: when the callback lands), clears the error (`last_error` `null`,
`needs_reauth` `false`, `status` `connected`) and queues an incremental sync run (`triggered_by: connect`) unless
one is already waiting, so reconnecting twice queues one run. A run that failed on the replaced credentials
(`error_reason: auth`) no longer counts toward `health`.

Reconnect refuses a healthy connection (`connected` or `syncing` and not needing re-authorization) with
`409 connection_healthy`: there is nothing to restore, so disconnect it first to re-authorize or replace its
credentials. A non-existent or cross-workspace id is `404 not_found`.
""",
          body=ReconnectRequest, body_required=False, body_examples={
              "api_key": {"value": {"api_key": "<new-provider-key>"}},
              "oauth": {"value": {"return_to": "/connections"}}},
          responses={200: Ok("Restored, or the OAuth authorization restarted.", ReconnectResponse,
                             example={"mode": "connected", "connection": connection_example()})},
          errors={
              404: ["not_found",
                    ("unknown_connector_type", "The connection's connector type is no longer in the catalog.")],
              409: ["connection_healthy",
                    ("connector_not_connectable", "The connector cannot be connected on this deployment "
                                                  "right now; `details.reason_code` and `details.reason` "
                                                  "say why.")],
              422: [
                  ("missing_field", "API-key connectors: `api_key` is absent or blank."),
                  "invalid_credentials"],
              429: ["provider_rate_limited"],
              502: ["provider_unavailable"],
          })
def reconnect(connection_id, body: ReconnectRequest):
    return _answer(service.reconnect(current_actor(), connection_id, body))


@endpoint(bp, "POST", CONNECTION + "/rotate-secret", path_parameters=[CONNECTION_ID],
          operation_id="rotateWebhookSecret", tag="Connections", scope="connections:write",
          summary="Rotate a webhook source's signing secret",
          behaviour="""
Issues a new signing secret for a connected custom webhook source, without disconnecting it. The new secret is
accepted at once and returned this once (stored encrypted, never shown again). The secret it replaces stays
accepted for `grace_period_seconds` (default: the deployment's `WEBHOOK_SECRET_GRACE_SECONDS`, 24 h; `0` refuses
it at once; at most 7 days) so the sender can switch over without losing deliveries; during that time a sender
may sign with either, or send both as two `v1=` values. Only one replaced secret is kept: rotating again ends the
older one's grace at once. The rotation is audited (`connection.secret_rotated`, without the secrets).

Only a webhook source rotates (`409 not_a_webhook`); a disconnected one is reconnected instead, which issues a
new secret (`409 connection_disconnected`). A non-existent or cross-workspace id is `404 not_found`.
""",
          body=RotateSecretRequest, body_required=False, body_examples={
              "default": {"summary": "The default grace period", "value": {}},
              "leaked": {"summary": "The old secret leaked: refuse it now",
                         "value": {"grace_period_seconds": 0}}},
          responses={200: Ok("Rotated.", RotateSecretResponse, example={
              "mode": "webhook", "webhook_url": WEBHOOK_EXAMPLE["webhook_url"],
              "signing_secret": "whsec_Q2k1...", "grace_period_seconds": 86400,
              "previous_secret_expires_at": "2025-03-03T06:02:10.000000Z", "connection": WEBHOOK_EXAMPLE})},
          errors={
              404: ["not_found"],
              409: ["not_a_webhook",
                    ("connection_disconnected", "The webhook source is disconnected: reconnect it instead, "
                                                "which issues a new signing secret.")],
              422: [
                  ("invalid_field", "`grace_period_seconds` is not a whole number from 0 to 604800; "
                                    "`details.field` names it.")],
          })
def rotate_secret(connection_id, body: RotateSecretRequest):
    """Issue a new webhook signing secret; the old one works for a grace period."""
    return _answer(service.rotate_signing_secret(current_actor(), connection_id, body))


@endpoint(bp, "POST", CONNECTION + "/check", path_parameters=[CONNECTION_ID],
          operation_id="checkConnection", tag="Connections", scope="connections:write",
          summary="Check a connection's stored credentials",
          behaviour="""
Verifies the stored credentials with one cheap provider call (OAuth: who the token belongs to, refreshing it
first when it is about to expire; API key: the key check; handle: resolving the tracked handle; webhook: nothing
to call) and refreshes the account details (`handle`, `display_name`, ...) from the answer.

A refused credential is not an error of this call: it answers `200` with `ok: false`,
`error.code: needs_reauth`, and turns the connection to `needs_reauth` (status `error`), exactly as a sync would.
A tracked handle the provider no longer knows answers `ok: false` with `error.code: handle_not_found` and sets the
connection to `error`. A setting the provider refuses while accepting the credentials (a Figma team the user left)
answers `ok: false` with `error.code: invalid_setting`, its message naming the setting's value. A provider that cannot be reached or is rate limited changes nothing and is an error of
the call (`502` / `429`). Only a connected connection can be checked: a disconnected one is
`409 connection_disconnected`, one whose OAuth connect has not finished `409 connection_pending`. A non-existent or
cross-workspace id is `404 not_found`.
""",
          responses={200: Ok("Checked; `ok` says whether the provider accepted the credentials.", CheckResponse,
                             examples={
                                  "ok": {"value": {"ok": True, "error": None,
                                                   "connection": connection_example()}},
                                  "refused": {"value": {
                                      "ok": False,
                                      "error": {"code": "needs_reauth",
                                                "message": "Pipedrive did not accept this key: it is wrong, "
                                                           "expired or revoked."},
                                      "connection": connection_example(
                                          status="error", needs_reauth=True, health="needs_reauth",
                                          last_error="The provider refused the stored credentials; "
                                                     "reconnect.")}}})},
          errors={
              404: ["not_found",
                    ("unknown_connector_type", "The connection's connector type is no longer in the catalog.")],
              409: ["connection_disconnected", "connection_pending"],
              422: [("invalid_handle", "Handle connections: the stored handle is not a well-formed handle.")],
              429: ["provider_rate_limited"],
              502: ["provider_unavailable"],
          })
def check(connection_id):
    """Verify the stored credentials with one cheap provider call."""
    return jsonify(service.check(current_actor(), connection_id))


@endpoint(bp, "GET", CONNECTION + "/status", path_parameters=[CONNECTION_ID],
          operation_id="getConnectionStatus", tag="Connections", scope="connections:read",
          summary="Get a connection's sync state",
          behaviour="Just the sync state of one connection: `status`, `health`, `is_syncing`, "
                    "`needs_reauth`, the last good sync, the last error and the last run. Poll it to watch a "
                    "connection settle. A non-existent or cross-workspace id is `404 not_found`.",
          responses={200: Ok("The sync state.", Status, example={
              "id": CONNECTION_ID_EXAMPLE, "status": "connected", "health": "healthy", "is_syncing": False,
              "needs_reauth": False, "last_synced_at": "2025-03-02T06:02:10.000000Z", "last_error": None,
              "last_run": RUN_EXAMPLE})},
          errors={404: ["not_found"]})
def connection_status(connection_id):
    return jsonify(service.status(current_actor(), connection_id))


@endpoint(bp, "GET", CONNECTION + "/runs", path_parameters=[CONNECTION_ID], query=RunsQuery,
          operation_id="listRuns", tag="Sync", scope="connections:read",
          summary="List a connection's sync runs",
          behaviour="The connection's recent sync runs, newest first. `limit` defaults to 25; values above "
                    "100 are capped at 100 (not refused). A non-existent or cross-workspace id is "
                    "`404 not_found` (checked before `limit`).",
          responses={200: Ok("The runs, newest first.", RunList, example={"runs": [RUN_EXAMPLE]})},
          errors={404: ["not_found"], 422: ["invalid_limit"]})
def connection_runs(connection_id, query: RunsQuery):
    return jsonify(service.runs(current_actor(), connection_id, query.limit))


@endpoint(bp, "POST", CONNECTION + "/sync", path_parameters=[CONNECTION_ID], query=SyncQuery,
          operation_id="requestSync", tag="Sync", scope="sync",
          summary="Queue a sync run",
          behaviour="Queues an incremental sync run (`full=true`: a full one) in `pending` status, "
                    "`triggered_by: api`, and answers `202` with its `sync_run_id`; the sync engine picks "
                    "it up. A disconnected connection is refused (`409 connection_disconnected`), and so is "
                    "one whose OAuth connect has not finished (`409 connection_pending`). `full` is checked "
                    "before the id. A non-existent or cross-workspace id is `404 not_found`.",
          responses={202: Ok("Queued.", SyncAccepted, example={
              "status": "syncing", "sync_run_id": RUN_ID_EXAMPLE, "connector_id": CONNECTION_ID_EXAMPLE,
              "connection_id": CONNECTION_ID_EXAMPLE, "sync_type": "full", "run_status": "pending"})},
          errors={404: ["not_found"], 409: ["connection_disconnected", "connection_pending",
                                            "sync_not_supported"],
                  422: ["invalid_parameter"]})
def sync(connection_id, query: SyncQuery):
    """Queue an incremental (default) or full (`?full=true`) sync run."""
    result = service.request_sync(current_actor(), connection_id, full=query.full, triggered_by="api")
    return jsonify(result), 202
