"""/v1/connectors: the connectors API (specs/connectors-and-sync.md).

The same connections as ``/api/v1/connections``, with the spec's field names and states
(``connections.connectors_api``); bearer API keys and scopes as the rest of the API. The
spec's execute route belongs to actions and is not here. Each endpoint is declared once
(``endpoints.endpoint``): its models validate the body and generate the OpenAPI document.
"""
from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify
from pydantic import ConfigDict, Field

from connections import connectors_api
from connections.connectors_api import CONNECTOR_STATUSES
from connections.requests import MAX_CHANNEL_LENGTH, MAX_CHANNELS

from .auth import current_actor
from .body import limit_body_size
from .endpoints import Flag, Ok, QueryModel, RequestModel, ResponseModel, endpoint, schema_ref
from .shapes import CONNECTION_ID_EXAMPLE, CONNECTION_ID_PARAMETER, RUN_ID_EXAMPLE, limit_reached, timestamp

bp = Blueprint("connectors", __name__, url_prefix="/v1")
bp.before_request(limit_body_size)

CONNECTOR = '/connectors/<id(prefix="conn"):connector_id>'
CONNECTOR_ID = {**CONNECTION_ID_PARAMETER, "name": "connector_id",
                "description": "A connector (connection) id. An id from another workspace is answered exactly like "
                               "one that does not exist (`404 not_found`)."}
TAG = "Connectors"

STATES_TABLE = """| state | when (first match wins) |
| --- | --- |
| `disconnected` | the connection is disconnected |
| `connecting` | an OAuth authorization is under way (`pending`) |
| `paused` | the connection is paused |
| `error` | the provider refused the stored credentials (reconnect), or the last sync failed (`error`) |
| `syncing` | a sync run is running |
| `rate_limited` | the last sync stopped on the provider's rate limit |
| `idle` | connected, and a sync has succeeded |
| `connected` | connected, no sync has succeeded yet |"""


# -- models ----------------------------------------------------------------------------------------

class ConnectorSettings(ResponseModel):
    """Connection settings. Every connector takes `requests_per_minute` and `requests_per_hour`;
    `channels` where it syncs per channel; a connector may declare more, among them where its
    account is, asked at connect: `subdomain` (Zendesk: `acme` for acme.zendesk.com, its host or
    URL), `domain` (Freshdesk: `acme.freshdesk.com`); Figma's teams are its `channels` (ids or
    team URLs). Any other name is `422 unknown_setting`."""

    model_config = ConfigDict(extra="allow")

    channels: Annotated[list[Annotated[str, Field(min_length=1, max_length=MAX_CHANNEL_LENGTH)]], Field(
        min_length=1, max_length=MAX_CHANNELS,
        description="Only these channels (GitHub: `owner/name` repositories), as written; each is looked up on its "
                    "own, and one that is not there fails its part of the run. Without it: every channel the "
                    "account can read. Only connectors that sync per channel take it.")] = None
    requests_per_minute: Annotated[int, Field(ge=0, description="This connection's pace toward the provider, "
                                                                "replacing the catalog's (`0`: no limit per "
                                                                "minute).")] = None
    requests_per_hour: Annotated[int, Field(ge=0, description="As `requests_per_minute`, per hour.")] = None


class Connector(ResponseModel):
    """A connection, as the connectors spec shows it."""

    connector_id: Annotated[str, Field(description="The connection's id (the same as in `/api/v1/connections`).",
                                       examples=[CONNECTION_ID_EXAMPLE])]
    connector_type: Annotated[str, Field(description="The connector type.")]
    display_name: Annotated[str, Field(description="The connection's name (`name` in `/api/v1/connections`).")]
    status: Annotated[Literal[CONNECTOR_STATUSES], Field(
        description="The spec's connector state, mapped from the lifecycle status:\n\n" + STATES_TABLE)]
    last_sync_at: Annotated[str | None, timestamp("The last successful sync; `null` before the first")]
    document_count: Annotated[int, Field(ge=0, description="Its documents the calling key may read.")]
    settings: ConnectorSettings
    created_at: Annotated[str, timestamp("When it was connected first")]


class ConnectorList(ResponseModel):
    connectors: list[Connector]


class ConnectorCreated(Connector):
    """The new connector."""

    oauth_url: Annotated[str | None, Field(
        description="For an OAuth connector connected without credentials: where to send the user to authorize "
                    "(PKCE); the connector is `connecting` until the provider's callback. `null` otherwise.",
        json_schema_extra={"format": "uri"})]


def _token_connectors(schema: dict) -> None:
    """The connectors that take a token, read from the registry when the document is built."""
    from connectors import registry

    tokens = {connector_type: cls.catalog.accepted_token.name
              for connector_type, cls in sorted(registry.connector_classes().items())
              if cls.implemented and cls.catalog.accepted_token is not None}
    schema["description"] = (
        "A token the user already holds, verified with the provider before it is stored: "
        + ", ".join(f"`{t}` (`{name}`)" for t, name in tokens.items())
        + ". Required for API-key connectors; without it an OAuth connector answers `oauth_url`.")


class ConnectorCreateRequest(RequestModel):
    connector_type: Annotated[str, Field(description="The connector type (catalog).")]
    display_name: Annotated[str | None, Field(
        max_length=200, description="The connection's name (default: the connector's, with the account).")] = None
    credentials: Annotated[dict[str, Annotated[str, Field(min_length=1, max_length=2000)]] | None, Field(
        min_length=1, max_length=1, json_schema_extra=_token_connectors)] = None
    # What a connector honours is the connector's to say (``connections.requests.parse_settings``:
    # unknown_setting, invalid_setting), so the model only documents the shape.
    settings: Annotated[Any, schema_ref("ConnectorSettings", nullable=True)] = None
    return_to: Annotated[str | None, Field(
        description="OAuth without credentials: a first-party path the callback returns the browser to.")] = None
    owner_user_id: Annotated[str | None, Field(
        description="Personal connectors: the member who owns it (default: the key's creator).")] = None


class ConnectorSyncAccepted(ResponseModel):
    status: Literal["syncing"]
    connector_id: str
    sync_type: Literal["incremental", "full"]
    sync_run_id: Annotated[str, Field(description="The queued sync run (`/api/v1/connections/{id}/runs`).")]


class SyncQuery(QueryModel):
    full: Annotated[Flag, Field(description="Full resync instead of incremental. Also accepted: `1`/`0`, "
                                            "`yes`/`no` (any case).")] = False


def _example(**overrides) -> dict:
    example = {"connector_id": CONNECTION_ID_EXAMPLE, "connector_type": "github", "display_name": "Eng GitHub",
               "status": "idle", "last_sync_at": "2026-01-20T01:00:00Z", "document_count": 15420,
               "settings": {"channels": ["acme/api"]}, "created_at": "2026-01-12T09:30:00Z"}
    example.update(overrides)
    return example


_CREATED = _example(status="connected", last_sync_at=None, document_count=0)


# -- endpoints -------------------------------------------------------------------------------------

@endpoint(bp, "GET", "/connectors", scope="connections:read", operation_id="listConnectors", tag=TAG,
          summary="List connectors",
          behaviour="Every connection of the key's workspace, newest first, with the spec's field names and "
                    "connector state.",
          responses={200: Ok("The connectors.", ConnectorList, example={"connectors": [_example()]})})
def list_connectors():
    """The workspace's connectors (connections), newest first."""
    return jsonify({"connectors": connectors_api.list_connectors(current_actor())})


@endpoint(bp, "POST", "/connectors", scope="connections:write", operation_id="createConnector", tag=TAG,
          summary="Create a connector",
          behaviour="""
Connects a source, as `POST /api/v1/connections` does (the same connection, audit event and first sync):

* **With `credentials`**: a token the user already holds (a GitHub personal access token, an API key), verified
  with one provider call before anything is stored (`422 invalid_credentials` otherwise), then stored encrypted.
  A token for an OAuth connector holds its provider account like an authorization does: an account already
  connected here is `409 already_connected`; a disconnected connection of it comes back in place.
* **Without `credentials`**, an OAuth connector answers `oauth_url`; the connector is `connecting` until the
  provider's callback finishes it.

`settings` are checked first and stored with the connection; the sync engine reads them (`channels`, the rate
limits). Handle and webhook connectors are connected with `POST /api/v1/connections`.
""",
          body=ConnectorCreateRequest,
          body_examples={
              "token": {"summary": "A token the user holds", "value": {
                  "connector_type": "github", "display_name": "Eng GitHub", "credentials": {"token": "ghp_..."},
                  "settings": {"channels": ["acme/api"], "requests_per_minute": 60}}},
              "api_key": {"summary": "An API key", "value": {
                  "connector_type": "pipedrive", "credentials": {"api_key": "<provider-key>"}}},
              "oauth": {"summary": "OAuth, without credentials", "value": {
                  "connector_type": "github", "display_name": "Eng GitHub"}},
          },
          responses={201: Ok("Created (or, for a token, connected in place).", ConnectorCreated, examples={
              "connected": {"value": {**_CREATED, "oauth_url": None}},
              "oauth": {"value": {**_CREATED, "status": "connecting", "oauth_url":
                                  "https://github.com/login/oauth/authorize?response_type=code&client_id=...&state=..."
                                  "&code_challenge=...&code_challenge_method=S256"}},
          })},
          errors={
              409: ["connector_not_connectable", "already_connected", limit_reached("connections")],
              422: [("missing_field", "`connector_type` is absent or blank, or an API-key connector came without "
                                      "`credentials.api_key`; `details.field` names it."),
                    ("invalid_field", "`connector_type`, `display_name`, `credentials` or `settings` has the wrong "
                                      "type or length, or a name has a control, line-break or bidirectional "
                                      "formatting character; `details.field` names it."),
                    "unknown_field", "unknown_connector_type", "not_a_member", "invalid_credentials",
                    "unknown_credential", "credentials_not_accepted", "connect_method_unsupported",
                    "unknown_setting", "invalid_setting"],
              429: ["provider_rate_limited"],
              502: ["provider_unavailable"],
          })
def create_connector(body: ConnectorCreateRequest):
    """Connect with a token the user holds, or start an OAuth connector's authorization."""
    return jsonify(connectors_api.create_connector(current_actor(), body.model_dump(exclude_unset=True))), 201


@endpoint(bp, "GET", CONNECTOR, scope="connections:read", operation_id="getConnector", tag=TAG,
          summary="Get a connector", behaviour="One connector of the key's workspace.",
          path_parameters=[CONNECTOR_ID],
          responses={200: Ok("The connector.", Connector, example=_example())},
          errors={404: ["not_found"]})
def get_connector(connector_id):
    return jsonify(connectors_api.get_connector(current_actor(), connector_id))


@endpoint(bp, "POST", CONNECTOR + "/sync", scope="sync", operation_id="syncConnector", tag=TAG,
          summary="Trigger a sync",
          behaviour="Queues an incremental sync (`full=true`: a full resync), as "
                    "`POST /api/v1/connections/{id}/sync`; `202` with the spec's answer and the run's id.",
          path_parameters=[CONNECTOR_ID], query=SyncQuery,
          responses={202: Ok("Queued.", ConnectorSyncAccepted, example={
              "status": "syncing", "connector_id": CONNECTION_ID_EXAMPLE, "sync_type": "incremental",
              "sync_run_id": RUN_ID_EXAMPLE})},
          errors={404: ["not_found"], 409: ["connection_disconnected", "connection_pending", "sync_not_supported"]})
def sync_connector(connector_id, query: SyncQuery):
    """Queue an incremental (default) or full (`?full=true`) sync."""
    return jsonify(connectors_api.sync_connector(current_actor(), connector_id, full=query.full)), 202


@endpoint(bp, "DELETE", CONNECTOR, scope="connections:write", operation_id="deleteConnector", tag=TAG,
          summary="Delete (disconnect) a connector",
          behaviour="Disconnects it, as `DELETE /api/v1/connections/{id}`: its credentials are dropped (an OAuth "
                    "grant is revoked at the provider where it can be; a token the user gave is theirs to revoke), "
                    "the connection and its history stay (`disconnected`), so connecting the same account again "
                    "brings it back in place. Deleting a disconnected connector changes nothing.",
          path_parameters=[CONNECTOR_ID],
          responses={200: Ok("The connector, now disconnected.", Connector, example=_example(status="disconnected"))},
          errors={404: ["not_found"]})
def delete_connector(connector_id):
    """Disconnect: credentials dropped, the connection and its history kept."""
    return jsonify(connectors_api.delete_connector(current_actor(), connector_id))
