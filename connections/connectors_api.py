"""The connectors API's view of connections (``/v1/connectors``, specs/connectors-and-sync.md).

The Metalogue spec calls a connection a "connector": these are the same rows as
``/api/v1/connections``, read and changed through ``connections.service`` (the same checks,
transactions and audit events), shown with the spec's field names and its status vocabulary:

========================  ==================================================================
spec field                 Tributary
========================  ==================================================================
``connector_id``           the connection's id (``conn_...``)
``connector_type``         the connector type (``github``, ``pipedrive``)
``display_name``           the connection's ``name`` (what the console lists it as; not the
                           provider account's display name, which ``/api/v1`` shows)
``status``                 ``connector_status()`` of the connection's lifecycle status
``last_sync_at``           the last successful sync (``last_synced_at``)
``document_count``         its documents the asker may read
``oauth_url``              on create, for an OAuth connector connected without credentials:
                           where to send the user (``authorize_url``)
``sync_type``              ``incremental`` or ``full``, on a sync request
========================  ==================================================================
"""
from __future__ import annotations

from sqlalchemy import select

from connectors import registry
from core.actor import Actor
from core.errors import ValidationError
from core.extensions import db
from core.timeutil import isoformat
from knowledge.documents import counts_by_connection
from sync import service as sync_service

from . import service
from .models import Connection

# The spec's "Connector States", in its order.
CONNECTOR_STATUSES = ("disconnected", "connecting", "connected", "syncing", "idle", "error", "rate_limited",
                      "paused")
CREATE_FIELDS = ("connector_type", "display_name", "credentials", "settings", "return_to", "owner_user_id")


def connector_status(status: str, *, needs_reauth: bool, is_syncing: bool, has_synced: bool) -> str:
    """The spec's connector state of a connection. First match wins:

    1. ``disconnected`` → ``disconnected`` (nothing else matters: it holds no credentials);
    2. ``pending`` (an authorization under way) → ``connecting``;
    3. ``paused`` → ``paused`` (a manual pause outranks what a finishing run does);
    4. the provider refused the stored credentials (``needs_reauth``) → ``error``, whatever
       the lifecycle status says: nothing syncs until it is reconnected;
    5. a run is running (``is_syncing``, or the lifecycle status ``syncing``) → ``syncing``
       (a retry after an error or a rate limit is syncing again, as the health badge has it);
    6. ``rate_limited`` → ``rate_limited``; ``error`` → ``error``;
    7. ``connected`` → ``idle`` once a sync has succeeded (``has_synced``), else ``connected``
       (ready, its first sync not finished yet).
    """
    if status == "disconnected":
        return "disconnected"
    if status == "pending":
        return "connecting"
    if status == "paused":
        return "paused"
    if needs_reauth:
        return "error"
    if is_syncing or status == "syncing":
        return "syncing"
    if status in ("rate_limited", "error"):
        return status
    if status == "connected":
        return "idle" if has_synced else "connected"
    raise ValueError(f"unknown connection status {status!r}")


def describe_many(actor: Actor, connections: list[Connection]) -> list[dict]:
    ids = [c.id for c in connections]
    syncing = sync_service.syncing_connection_ids(ids)
    counts = counts_by_connection(actor, ids)
    return [{
        "connector_id": c.id,
        "connector_type": c.connector_type,
        "display_name": c.name,
        "status": connector_status(c.status, needs_reauth=c.needs_reauth, is_syncing=c.id in syncing,
                                   has_synced=c.last_synced_at is not None),
        "last_sync_at": isoformat(c.last_synced_at),
        "document_count": counts.get(c.id, 0),
        "settings": dict(c.settings or {}),
        "created_at": isoformat(c.created_at),
    } for c in connections]


def describe(actor: Actor, connection: Connection) -> dict:
    return describe_many(actor, [connection])[0]


def list_connectors(actor: Actor) -> list[dict]:
    """Every connection of the workspace, newest first."""
    rows = db.session.scalars(select(Connection).where(Connection.workspace_id == actor.workspace_id)
                              .order_by(Connection.created_at.desc(), Connection.id.desc()))
    return describe_many(actor, list(rows))


def get_connector(actor: Actor, connector_id: str) -> dict:
    return describe(actor, service.get(actor, connector_id))


def create_connector(actor: Actor, body: dict) -> dict:
    """Connect: with ``credentials`` (a token the user holds, verified first), or an OAuth
    connector without them (the answer's ``oauth_url`` starts the authorization).

    Handle and webhook connectors are connected through ``/api/v1/connections``: their connect
    needs a resolved account or answers a signing secret, which this shape has no room for."""
    unknown = sorted(set(body) - set(CREATE_FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field {unknown[0]!r}; the fields are {', '.join(CREATE_FIELDS)}.",
                              code="unknown_field", details={"field": unknown[0]})
    cls = registry.connector_classes().get(body.get("connector_type")) if isinstance(
        body.get("connector_type"), str) else None
    credentials = body.get("credentials")
    if cls is not None and cls.catalog.auth_method in ("handle", "webhook"):
        raise ValidationError(f"{cls.catalog.display_name} is connected with POST /api/v1/connections "
                              f"(its connect method is {cls.catalog.auth_method}).",
                              code="connect_method_unsupported",
                              details={"field": "connector_type", "auth_method": cls.catalog.auth_method})
    if cls is not None and credentials is None and cls.catalog.auth_method != "oauth_redirect":
        name = cls.catalog.accepted_token.name
        raise ValidationError(f"credentials.{name} is required: {cls.catalog.accepted_token.description}",
                              code="missing_field", details={"field": f"credentials.{name}"})
    params = {"connector_type": body.get("connector_type"), "name": body.get("display_name"),
              "return_to": body.get("return_to"), "owner_user_id": body.get("owner_user_id"),
              "settings": body.get("settings")}
    try:
        result = service.connect(actor, params, credentials=credentials)
    except ValidationError as exc:
        if exc.details.get("field") == "name":  # the spec's name for it
            exc.details["field"] = "display_name"
            exc.message = exc.message.replace("name", "display_name", 1)
        raise
    connection = service.get(actor, result["connection"]["id"])
    return {**describe(actor, connection), "oauth_url": result.get("authorize_url")}


def sync_connector(actor: Actor, connector_id: str, *, full: bool) -> dict:
    result = service.request_sync(actor, connector_id, full=full, triggered_by="api")
    return {"status": "syncing", "connector_id": result["connector_id"], "sync_type": result["sync_type"],
            "sync_run_id": result["sync_run_id"]}


def delete_connector(actor: Actor, connector_id: str) -> dict:
    """Disconnect (``service.disconnect``): credentials dropped, the row and its history kept."""
    service.disconnect(actor, connector_id)
    return describe(actor, service.get(actor, connector_id))
