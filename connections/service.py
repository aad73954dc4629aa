"""Connections: list, connect (four methods), disconnect, reconnect, update, status, runs, sync.

The console and the JSON API both call these functions with an ``Actor``; every read and
write is scoped to ``actor.workspace_id``, and an id from another workspace is the same
``not_found`` as an id that does not exist. Each change commits once, with its audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, func, or_, select

from accounts.service import is_member
from audit.service import record
from connectors import registry
from connectors.errors import InvalidCredentials
from core.actor import Actor
from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.pagination import after, encode_cursor, parse_limit
from core.requests import validated
from core.timeutil import isoformat, utcnow
from core.urls import external_url, first_party
from sync import service as sync_service
from sync.models import SyncRun

from . import accounts, oauth, webhooks
from .health import HEALTH_VALUES, derive_health, health_sql
from .models import STATUSES, Connection
# The bodies these functions take are validated by the models of ``connections.requests``.
from .requests import (ACCESS_MODES, CONNECT_MODELS, EDITABLE, MAX_NAME, SCOPES,  # noqa: F401  (re-exported)
                       ConnectTarget, OAuthConnectRequest, ReconnectRequest, ResolveRequest, RotateSecretRequest,
                       UpdateRequest)


# -- reading --------------------------------------------------------------------------------

def get(actor: Actor, connection_id: str) -> Connection:
    connection = db.session.get(Connection, connection_id) if isinstance(connection_id, str) else None
    if connection is None or connection.workspace_id != actor.workspace_id:
        raise NotFound("Connection not found.", details={"id": connection_id})
    return connection


def serialize_many(connections: list[Connection]) -> list[dict]:
    ids = [c.id for c in connections]
    last = sync_service.latest_runs(ids)
    syncing = sync_service.syncing_connection_ids(ids)
    return [_serialize(c, last.get(c.id), c.id in syncing) for c in connections]


def serialize(connection: Connection) -> dict:
    return serialize_many([connection])[0]


def _serialize(connection: Connection, last_run, is_syncing: bool) -> dict:
    cls = registry.connector_classes().get(connection.connector_type)
    last_run_dict = sync_service.run_summary(last_run)
    health = derive_health(
        status=connection.status, needs_reauth=connection.needs_reauth, is_syncing=is_syncing,
        last_run=last_run_dict, last_synced_at=connection.last_synced_at,
        reference_time=connection.connected_at or connection.created_at, connected_at=connection.connected_at,
        now=utcnow(),
        stale_after=timedelta(hours=float(current_app.config["STALE_AFTER_HOURS"])))
    data = {
        "id": connection.id,
        "kind": connection.kind,
        "connector_type": connection.connector_type,
        "connector_name": cls.catalog.display_name if cls else connection.connector_type,
        "auth_method": cls.catalog.auth_method if cls else None,
        "name": connection.name,
        "status": connection.status,
        "scope": connection.scope,
        "health": health,
        "is_syncing": is_syncing,
        "needs_reauth": connection.needs_reauth,
        "last_synced_at": isoformat(connection.last_synced_at),
        "last_error": connection.last_error,
        "last_run": last_run_dict,
        "owner_user_id": connection.owner_user_id,
        # Who reads what it syncs: its owner (personal), every member (workspace), or each
        # record's readers at the source (source).
        "access_mode": "owner" if connection.scope == "personal" else connection.access_mode,
        "handle": connection.handle,
        "display_name": connection.display_name,
        "avatar_url": connection.avatar_url,
        "external_account_id": connection.external_account_id,
        "token_expires_at": isoformat(connection.token_expires_at),
        "created_at": isoformat(connection.created_at),
        "updated_at": isoformat(connection.updated_at),
        "connected_at": isoformat(connection.connected_at),
        "disconnected_at": isoformat(connection.disconnected_at),
    }
    if connection.connector_type == "webhook":
        data["webhook_url"] = external_url("webhooks.receive", connection_id=connection.id)
    return data


def list_connections(actor: Actor) -> list[dict]:
    """Every connection of the workspace, newest first."""
    rows = db.session.scalars(select(Connection).where(Connection.workspace_id == actor.workspace_id)
                              .order_by(Connection.created_at.desc(), Connection.id.desc()))
    return serialize_many(list(rows))


# -- finding connections: filters and pages (the inventory, GET /connections?limit=) ---------

PAGE_SIZE = 50  # the inventory's page, and the API's when a cursor comes without a limit
MAX_PAGE_SIZE = 200
MAX_TEXT = 200


@dataclass(frozen=True)
class Filters:
    """What the inventory narrows by: lifecycle status, derived health, connector type, and text
    found in the name, the account (handle, display name) or the connector's name."""

    status: str | None = None
    health: str | None = None
    connector_type: str | None = None
    text: str | None = None

    @property
    def active(self) -> bool:
        return any((self.status, self.health, self.connector_type, self.text))


def parse_filters(args) -> Filters:
    """Filters from a query string (console or API); a value outside the allowed set is a
    ValidationError naming the field and the allowed values."""
    def choice(name, allowed):
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value not in allowed:
            raise ValidationError(f"{name} is one of: {', '.join(allowed)}.", code="invalid_filter",
                                  details={"field": name, "allowed": list(allowed)})
        return value

    text = " ".join((args.get("q") or "").split())
    if len(text) > MAX_TEXT:
        raise ValidationError(f"q is at most {MAX_TEXT} characters.", code="invalid_filter", details={"field": "q"})
    return Filters(status=choice("status", STATUSES), health=choice("health", HEALTH_VALUES),
                   connector_type=choice("connector_type", tuple(registry.connector_classes())), text=text or None)


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _found_by(actor: Actor, filters: Filters, *, now):
    """(FROM clause, WHERE conditions, health expression) for the workspace's connections."""
    table = Connection.__table__
    runs = SyncRun.__table__
    last_run = runs.alias("last_run")
    latest_id = (select(runs.c.id).where(runs.c.connection_id == table.c.id)
                 .order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(1).correlate(table).scalar_subquery())
    running = exists().where(runs.c.connection_id == table.c.id, runs.c.status == "running").correlate(table)
    health = health_sql(table, last_run, is_syncing=running, now=now,
                        stale_after=timedelta(hours=float(current_app.config["STALE_AFTER_HOURS"])))
    conditions = [table.c.workspace_id == actor.workspace_id]
    if filters.status:
        conditions.append(table.c.status == filters.status)
    if filters.connector_type:
        conditions.append(table.c.connector_type == filters.connector_type)
    if filters.text:
        pattern = _like(filters.text)
        named = [t for t, cls in registry.connector_classes().items()
                 if filters.text.lower() in cls.catalog.display_name.lower()]
        conditions.append(or_(*(func.lower(column).like(pattern, escape="\\") for column in
                                (table.c.name, table.c.handle, table.c.display_name, table.c.connector_type)),
                              table.c.connector_type.in_(named)))
    return table.outerjoin(last_run, last_run.c.id == latest_id), conditions, health


def find(actor: Actor, filters: Filters = Filters(), *, limit=None, cursor: str | None = None,
         offset: int | None = None, paged: bool = True, count: bool = True, health_counts: bool = False) -> dict:
    """A page of the workspace's connections, newest first, narrowed by ``filters``.

    Everything is decided in SQL, health included (``health.health_sql``), so a page costs the
    page's rows, not the workspace's. Pages go by ``cursor`` (the API: keyset, stable under
    inserts) or by ``offset`` (the console's numbered pages); ``paged=False`` returns every
    match. Returns the page's connections, ``next_cursor`` (None on the last page), ``total``
    (matching connections, with ``count``) and, when asked, ``health_counts``: matching
    connections per health, the health filter aside.
    """
    limit = parse_limit(limit, default=PAGE_SIZE, maximum=MAX_PAGE_SIZE) if paged else None
    now = utcnow()
    source, conditions, health = _found_by(actor, filters, now=now)
    table = Connection.__table__
    matching = list(conditions)
    if filters.health:
        matching.append(health == filters.health)
    page = select(table.c.id).select_from(source).where(*matching)
    if cursor:
        page = page.where(after(table.c.created_at, table.c.id, cursor))
    page = page.order_by(table.c.created_at.desc(), table.c.id.desc())
    if limit is not None:
        page = page.limit(limit + 1).offset(offset or None)
    ids = list(db.session.scalars(page))
    more = limit is not None and len(ids) > limit
    ids = ids[:limit] if limit is not None else ids
    rows = {}
    for chunk in range(0, len(ids), 500):  # bound the IN list (every connection, unpaged)
        rows.update((c.id, c) for c in db.session.scalars(select(Connection).where(
            Connection.id.in_(ids[chunk:chunk + 500]))))
    connections = [rows[i] for i in ids if i in rows]
    result = {"connections": serialize_many(connections),
              "next_cursor": encode_cursor(connections[-1].created_at, connections[-1].id) if more else None}
    if count:
        counted = select(func.count()).select_from(source if filters.health else table).where(*matching)
        result["total"] = db.session.scalar(counted)
    if health_counts:
        by_health = dict(db.session.execute(select(health, func.count()).select_from(source)
                                            .where(*conditions).group_by(health)).all())
        result["health_counts"] = {value: by_health.get(value, 0) for value in HEALTH_VALUES}
    return result


def connector_types_in_use(actor: Actor) -> list[str]:
    """The connector types the workspace has connections of (not the connections themselves)."""
    return list(db.session.scalars(select(Connection.connector_type).where(
        Connection.workspace_id == actor.workspace_id).distinct()))


def status(actor: Actor, connection_id: str) -> dict:
    full = serialize(get(actor, connection_id))
    keys = ("id", "status", "health", "is_syncing", "needs_reauth", "last_synced_at", "last_error", "last_run")
    return {key: full[key] for key in keys}


def runs(actor: Actor, connection_id: str, limit=None) -> dict:
    connection = get(actor, connection_id)
    limit = _limit(limit)
    return {"runs": [sync_service.run_summary(r) for r in sync_service.runs_for(connection.id, limit)]}


def _limit(value) -> int:
    return parse_limit(value, default=sync_service.DEFAULT_RUNS_PAGE, maximum=sync_service.MAX_RUNS_PAGE)


# -- permissions ----------------------------------------------------------------------------

def can_manage(actor: Actor, *, scope: str, owner_user_id: str | None) -> bool:
    """Workspace connections are managed by admins; a personal one also by its owner.

    API keys are checked by scope at the API boundary, so they pass here.
    """
    if actor.type != "user" or actor.is_admin:
        return True
    return scope == "personal" and owner_user_id == actor.user_id


def _require_manage(actor: Actor, connection: Connection | None = None, *, personal: bool = False) -> None:
    if connection is None:
        allowed = personal or can_manage(actor, scope="business", owner_user_id=None)  # members connect their own
    else:
        allowed = can_manage(actor, scope=connection.scope, owner_user_id=connection.owner_user_id)
    if not allowed:
        raise Forbidden("Only a workspace admin (or the owner of a personal connection) can do this.",
                        code="admin_required")


# -- connecting -------------------------------------------------------------------------------

def connect(actor: Actor, params: dict, *, credentials=None) -> dict:
    """Connect a source; the response shape depends on the connector's connect method.

    ``params`` is the body of the connect method's model (``connections.requests``), its
    ``settings`` among them: checked against the connector (``requests.parse_settings``) before
    anything is stored, whoever connects (``/api/v1/connections``, ``/v1/connectors``, the console).
    ``credentials`` (the connectors API): a token the user already holds, verified with the
    provider and stored instead of the connect method's flow (``_connect_token``)."""
    connector_type = validated(ConnectTarget, params).connector_type
    cls = registry.connector_classes().get(connector_type)
    if cls is None:
        raise ValidationError(f"There is no connector type {connector_type!r} in the catalog.",
                              code="unknown_connector_type", details={"field": "connector_type"})
    entry = cls.catalog
    able = registry.connectability(current_app.config, connector_type)
    # A token the user holds does not go through the operator's OAuth app.
    token_instead = credentials is not None and able.reason_code == "oauth_app_not_configured"
    if not able.connectable and not token_instead:
        raise Conflict(f"{entry.display_name} cannot be connected: {able.reason}.", code="connector_not_connectable",
                       details={"connector_type": connector_type, "reason_code": able.reason_code,
                                "reason": able.reason})
    _require_manage(actor, personal=entry.ownership == "personal")
    # Before any provider call: a workspace at its connections limit connects nothing.
    from usage.service import check_limit

    check_limit(actor.workspace_id, "connections")
    # The rest of the body is the connect method's (a token the user holds replaces its fields).
    params = validated(OAuthConnectRequest if credentials is not None else CONNECT_MODELS[entry.auth_method], params)
    name = params.name
    scope = params.scope or entry.default_scope
    owner = _owner_for_new(actor, params, entry)
    settings = params.settings
    connector = registry.get_connector(current_app.config, connector_type).for_connection(settings)
    if credentials is not None:
        return _connect_token(actor, connector, name, scope, owner, credentials, settings)
    method = entry.auth_method
    if method == "oauth_redirect":
        return _connect_oauth(actor, connector, name, scope, owner, params, settings)
    if method == "api_key":
        return _connect_api_key(actor, connector, name, scope, owner, params, settings)
    if method == "handle":
        return _connect_handle(actor, connector, name, scope, params, settings)
    return _connect_webhook(actor, connector, name, scope, settings)


def _owner_for_new(actor: Actor, params, entry) -> str | None:
    if entry.ownership != "personal":
        return None
    requested = getattr(params, "owner_user_id", None)
    if requested is None:
        if actor.user_id is None:
            raise ValidationError(f"{entry.display_name} is a personal connector: name its owner with "
                                  "owner_user_id (a member of this workspace).", code="missing_field",
                                  details={"field": "owner_user_id"})
        return actor.user_id
    if not is_member(actor.workspace_id, requested):
        raise ValidationError("owner_user_id must be a member of this workspace.", code="not_a_member",
                              details={"field": "owner_user_id"})
    if actor.type == "user" and not actor.is_admin and requested != actor.user_id:
        raise Forbidden("Members connect personal sources for themselves only.", code="admin_required")
    return requested


def _new_connection(actor: Actor, connector, *, name, scope, owner, status, settings=None) -> Connection:
    now = utcnow()
    connection = Connection(
        workspace_id=actor.workspace_id, connector_type=connector.catalog.type,
        name=name or connector.catalog.display_name, scope=scope, status=status, owner_user_id=owner,
        created_by_user_id=actor.user_id, settings=dict(settings or {}),
        # A connector that reads each record's readers keeps them by default.
        access_mode="source" if connector.catalog.permissions else "workspace",
        connected_at=now if status == "connected" else None)
    db.session.add(connection)
    db.session.flush()
    return connection


def _connect_oauth(actor, connector, name, scope, owner, params, settings=None) -> dict:
    oauth.purge_abandoned()
    connection = _new_connection(actor, connector, name=name, scope=scope, owner=owner, status="pending",
                                 settings=settings)
    url = oauth.start(actor, connector, connection, purpose="connect", return_to=first_party(params.return_to))
    record(actor, "connection.authorization_started", target_type="connection", target_id=connection.id,
           details={"connector_type": connector.catalog.type})
    db.session.commit()
    return {"mode": "oauth_redirect", "authorize_url": url, "connection": serialize(connection)}


def _secret(value, field: str) -> str:
    """A key or token the user typed: present, a string, and short enough to be one."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required.", code="missing_field", details={"field": field})
    if len(value) > 2000:
        raise InvalidCredentials("That does not look like an API key or token.", details={"field": field})
    return value.strip()


def _connect_api_key(actor, connector, name, scope, owner, params, settings=None) -> dict:
    key = params.api_key
    account = connector.check(key, settings)  # raises invalid_credentials before anything is stored
    return _store_api_key(actor, connector, name, scope, owner, key, account, settings)


def _store_api_key(actor, connector, name, scope, owner, key, account, settings) -> dict:
    connection = _new_connection(actor, connector, name=name, scope=scope, owner=owner, status="connected",
                                 settings=settings)
    connection.credentials = connector.stored_credentials(key)
    _apply_account(connection, account)
    if not name and account.display_name:
        connection.name = f"{connector.catalog.display_name} ({account.display_name})"
    record(actor, "connection.connected", target_type="connection", target_id=connection.id,
           details={"connector_type": connector.catalog.type, "method": "api_key"})
    start_first_sync(actor, connection)
    db.session.commit()
    return {"mode": "connected", "connection": serialize(connection)}


def _connect_token(actor, connector, name, scope, owner, credentials, settings) -> dict:
    """Connect with a token the user already holds (``CatalogEntry.accepted_token``): verified
    with one provider call (``Connector.verify_token``) before anything is stored.

    An API-key connector's token is its API key. An OAuth connector's token stands in for the
    authorization: the connection holds the provider account like an authorized one, so an
    account already connected here is ``409 already_connected`` and a disconnected connection
    of the same account comes back in place, history intact."""
    entry = connector.catalog
    accepted = entry.accepted_token
    if accepted is None:
        raise ValidationError(f"{entry.display_name} does not take credentials: connect it without them "
                              f"(its connect method is {entry.auth_method}).", code="credentials_not_accepted",
                              details={"field": "credentials", "auth_method": entry.auth_method})
    if not isinstance(credentials, dict):
        raise ValidationError("credentials must be an object.", code="invalid_field", details={"field": "credentials"})
    unknown = sorted(set(credentials) - {accepted.name})
    if unknown:
        raise ValidationError(f"{entry.display_name} takes credentials.{accepted.name} only, not "
                              f"{', '.join(unknown)}.", code="unknown_credential",
                              details={"field": f"credentials.{unknown[0]}", "accepted": [accepted.name]})
    token = _secret(credentials.get(accepted.name), f"credentials.{accepted.name}")
    account = connector.verify_token(token, settings)  # raises invalid_credentials before anything is stored
    if entry.auth_method == "api_key":
        return _store_api_key(actor, connector, name, scope, owner, token, account, settings)

    def hold():
        existing = accounts.holder(actor.workspace_id, entry.type, account.external_id)
        if existing is not None and existing.status != "disconnected":
            raise accounts.AccountTaken(existing, f"That {entry.display_name} account is already connected here "
                                                  f"as {existing.name!r}.")
        if existing is not None:
            connection, action = existing, "connection.reconnected"
            accounts.restore(connection)
            connection.name = name or connection.name
            connection.settings = settings or connection.settings
        else:
            connection, action = _new_connection(actor, connector, name=name, scope=scope, owner=owner,
                                                 status="connected", settings=settings), "connection.connected"
            if not name and account.handle:
                connection.name = f"{entry.display_name} ({account.handle})"
        connection.credentials, connection.token_expires_at = connector.stored_credentials(token), None
        _apply_account(connection, account)
        accounts.claim(connection, account.external_id)
        record(actor, action, target_type="connection", target_id=connection.id,
               details={"connector_type": entry.type, "method": "token"})
        if existing is None:
            start_first_sync(actor, connection)
        else:
            accounts.queue_sync(actor, connection)
        db.session.commit()
        return connection

    connection = accounts.claim_or_retry(hold)
    sync_service.notify_workers()
    return {"mode": "connected", "connection": serialize(connection)}


def _apply_account(connection: Connection, account) -> None:
    connection.external_account_id = account.external_id
    connection.handle = account.handle
    connection.display_name = account.display_name
    connection.avatar_url = account.avatar_url
    if account.followers is not None:
        connection.followers = account.followers


def resolve_handle(actor: Actor, params: dict) -> dict:
    """Step one of a handle connect: who is this handle? (Nothing is stored.)"""
    params = validated(ResolveRequest, params)
    connector_type = params.connector_type
    cls = registry.connector_classes().get(connector_type)
    if cls is None or cls.catalog.auth_method != "handle":
        raise ValidationError("connector_type must be a handle connector (twitter, linkedin).",
                              code="unknown_connector_type", details={"field": "connector_type"})
    able = registry.connectability(current_app.config, connector_type)
    if not able.connectable:
        raise Conflict(f"{cls.catalog.display_name} cannot be connected: {able.reason}.",
                       code="connector_not_connectable",
                       details={"connector_type": connector_type, "reason_code": able.reason_code, "reason": able.reason})
    account = registry.get_connector(current_app.config, connector_type).resolve_handle(params.account_handle)
    existing = accounts.holder(actor.workspace_id, connector_type, account.external_id)
    return {"connector_type": connector_type, "account_handle": account.handle,
            "external_account_id": account.external_id, "display_name": account.display_name,
            "avatar_url": account.avatar_url, "followers": account.followers,
            "already_connected_id": existing.id if existing and existing.status != "disconnected" else None}


def _connect_handle(actor, connector, name, scope, params, settings=None) -> dict:
    external_id = str(params.external_account_id)
    account = connector.resolve_handle(params.account_handle)
    if account.external_id != external_id:
        raise ValidationError(f"@{account.handle} resolves to account {account.external_id}, not {external_id}.",
                              code="handle_mismatch", details={"field": "external_account_id"})
    display_name = params.display_name

    def track():
        existing = accounts.holder(actor.workspace_id, connector.catalog.type, external_id)
        if existing is not None and existing.status != "disconnected":
            return None, existing
        if existing is not None:
            # A disconnected tracking of the same account comes back in place, history intact.
            connection = existing
            accounts.restore(connection)
            if name:
                connection.name = name
            action = "connection.reconnected"
        else:
            connection = _new_connection(actor, connector, name=name or f"@{account.handle}", scope=scope,
                                         owner=None, status="connected", settings=settings)
            action = "connection.connected"
        _apply_account(connection, account)
        accounts.claim(connection, account.external_id)
        if display_name and not account.display_name:
            connection.display_name = display_name
        record(actor, action, target_type="connection", target_id=connection.id,
               details={"connector_type": connector.catalog.type, "method": "handle", "handle": account.handle})
        if existing is None:
            start_first_sync(actor, connection)
        else:
            accounts.queue_sync(actor, connection)
        db.session.commit()
        return connection, None

    connection, existing = accounts.claim_or_retry(track)
    if existing is not None:
        return {"mode": "already_connected", "existing_id": existing.id}
    sync_service.notify_workers()
    return {"mode": "connected", "connection": serialize(connection)}


def start_first_sync(actor: Actor, connection: Connection) -> None:
    """Queue the first (full) sync of a newly connected source, unless turned off."""
    if current_app.config.get("SYNC_ON_CONNECT", True) and _syncs(connection):
        sync_service.enqueue(actor, connection, mode="full", triggered_by="connect")


def _syncs(connection: Connection) -> bool:
    cls = registry.connector_classes().get(connection.connector_type)
    return bool(cls and cls.syncs())


def _connect_webhook(actor, connector, name, scope, settings=None) -> dict:
    connection = _new_connection(actor, connector, name=name, scope=scope, owner=None, status="connected",
                                 settings=settings)
    secret = webhooks.new_signing_secret()
    connection.credentials = {"signing_secret": secret}
    record(actor, "connection.connected", target_type="connection", target_id=connection.id,
           details={"connector_type": connector.catalog.type, "method": "webhook"})
    db.session.commit()
    return _webhook_response(connection, secret)


def _webhook_response(connection: Connection, secret: str) -> dict:
    data = serialize(connection)
    # The signing secret is shown this once; it is stored encrypted and never returned again.
    return {"mode": "webhook", "webhook_url": data["webhook_url"], "signing_secret": secret, "connection": data}


# -- changing -------------------------------------------------------------------------------

def disconnect(actor: Actor, connection_id: str) -> dict:
    """Disconnect: credentials are dropped (and revoked at the provider where it can), the
    row and its sync history stay for a later reconnect."""
    connection = get(actor, connection_id)
    _require_manage(actor, connection)
    revoke = None
    if connection.status != "disconnected":
        credentials = connection.credentials or {}
        if _revocable(credentials):
            revoke = (connection.connector_type, credentials)
        connection.status, connection.disconnected_at = "disconnected", utcnow()
        connection.credentials, connection.token_expires_at = None, None
        connection.needs_reauth = False
        stopped = sync_service.cancel_active(connection.id)   # a run under way stops at its next page
        record(actor, "connection.disconnected", target_type="connection", target_id=connection.id,
               details={"connector_type": connection.connector_type, **({"runs_cancelled": stopped} if stopped else {})})
        db.session.commit()
    if revoke:
        oauth.revoke_quietly(*revoke)
    return {"disconnected": True, "id": connection.id}


def disconnect_personal_of(actor: Actor, user_id: str) -> tuple[list[str], list[tuple]]:
    """Disconnect every personal connection ``user_id`` owns in the actor's workspace, inside the
    caller's transaction (a member is being removed). Returns the ids disconnected and the token
    revocations to make once the caller has committed (``revoke_after_commit``)."""
    owned = db.session.scalars(select(Connection).where(
        Connection.workspace_id == actor.workspace_id, Connection.owner_user_id == user_id,
        Connection.scope == "personal", Connection.status != "disconnected").order_by(Connection.id))
    ids, revocations = [], []
    for connection in owned:
        credentials = connection.credentials or {}
        if _revocable(credentials):
            revocations.append((connection.connector_type, credentials))
        connection.status, connection.disconnected_at = "disconnected", utcnow()
        connection.credentials, connection.token_expires_at, connection.needs_reauth = None, None, False
        record(actor, "connection.disconnected", target_type="connection", target_id=connection.id,
               details={"connector_type": connection.connector_type, "reason": "owner_removed"})
        ids.append(connection.id)
    return ids, revocations


def _revocable(credentials: dict) -> bool:
    """An OAuth token we were granted is revoked at disconnect; a token the user gave us
    (``kind``: a personal access token) is only dropped: it is theirs to revoke."""
    return bool(credentials.get("access_token")) and not credentials.get("kind")


def revoke_after_commit(revocations: list[tuple]) -> None:
    for connector_type, credentials in revocations:
        oauth.revoke_quietly(connector_type, credentials)


def reconnect(actor: Actor, connection_id: str, params: dict | None = None) -> dict:
    """Restore a connection in place (same id, same history); refuses a healthy one."""
    params = validated(ReconnectRequest, params or {})
    connection = get(actor, connection_id)
    _require_manage(actor, connection)
    if connection.status in ("connected", "syncing") and not connection.needs_reauth:
        raise Conflict("This connection is healthy; there is nothing to restore. Disconnect it first "
                       "to re-authorize or replace its credentials.", code="connection_healthy",
                       details={"status": connection.status})
    able = registry.connectability(current_app.config, connection.connector_type)
    if not able.connectable:
        raise Conflict(f"This connector cannot be connected right now: {able.reason}.",
                       code="connector_not_connectable",
                       details={"reason_code": able.reason_code, "reason": able.reason})
    connector = registry.get_connector(current_app.config, connection.connector_type).for_connection(
        connection.settings)
    method = connector.catalog.auth_method
    if method == "oauth_redirect":
        url = oauth.start(actor, connector, connection, purpose="reconnect",
                          return_to=first_party(params.return_to))
        record(actor, "connection.authorization_started", target_type="connection", target_id=connection.id,
               details={"connector_type": connection.connector_type, "purpose": "reconnect"})
        db.session.commit()
        return {"mode": "oauth_redirect", "authorize_url": url, "connection": serialize(connection)}
    secret = None
    if method == "api_key":
        key = params.api_key
        if key is None:
            raise ValidationError("api_key is required.", code="missing_field", details={"field": "api_key"})
        account = connector.check(key, connection.settings)
        connection.credentials = {"api_key": key}
        _apply_account(connection, account)
    elif method == "webhook":
        secret = webhooks.new_signing_secret()
        connection.credentials = {"signing_secret": secret}
    # Handle connectors have nothing to replace: the spec's reconnect clears the error and syncs.
    accounts.restore(connection)
    record(actor, "connection.reconnected", target_type="connection", target_id=connection.id,
           details={"connector_type": connection.connector_type, "method": method})
    accounts.queue_sync(actor, connection)
    db.session.commit()
    sync_service.notify_workers()
    if secret:
        return _webhook_response(connection, secret)
    return {"mode": "connected", "connection": serialize(connection)}


def rotate_signing_secret(actor: Actor, connection_id: str, params: dict | None = None) -> dict:
    """Issue a new signing secret for a connected webhook source, keeping the current one
    accepted for ``grace_period_seconds`` (default ``WEBHOOK_SECRET_GRACE_SECONDS``; 0 refuses
    it at once). The new secret is in the answer this once, like at connect."""
    grace = validated(RotateSecretRequest, params or {}).grace_period_seconds
    if grace is None:
        grace = current_app.config["WEBHOOK_SECRET_GRACE_SECONDS"]
    connection = get(actor, connection_id)
    _require_manage(actor, connection)
    if connection.connector_type != "webhook":
        raise Conflict("Only a webhook source has a signing secret to rotate.", code="not_a_webhook",
                       details={"connector_type": connection.connector_type})
    if connection.status == "disconnected":
        raise Conflict("This connection is disconnected; reconnect it, which issues a new secret.",
                       code="connection_disconnected")
    connection.credentials, secret, expires = webhooks.rotated_credentials(
        connection.credentials, timedelta(seconds=grace), utcnow())
    record(actor, "connection.secret_rotated", target_type="connection", target_id=connection.id,
           details={"grace_period_seconds": grace, "previous_secret_expires_at": isoformat(expires)})
    db.session.commit()
    return {**_webhook_response(connection, secret), "grace_period_seconds": grace,
            "previous_secret_expires_at": isoformat(expires)}


def update(actor: Actor, connection_id: str, params: dict) -> dict:
    """PATCH: the display ``name``; ``owner_user_id`` on personal connectors only (access moves
    with it: a personal connection's documents are readable by its owner, whoever that is);
    ``access_mode`` (admins, not on personal connections), which re-reads the connection."""
    request = validated(UpdateRequest, params)
    sent = request.model_fields_set
    connection = get(actor, connection_id)
    _require_manage(actor, connection)
    changes = {}
    if "name" in sent:
        changes["name"] = connection.name = request.name
    if "owner_user_id" in sent:
        owner = request.owner_user_id
        if connection.scope != "personal":
            raise ValidationError("owner_user_id can only be set on a personal connection.",
                                  code="owner_not_allowed", details={"field": "owner_user_id"})
        if owner is not None and not is_member(actor.workspace_id, owner):
            raise ValidationError("owner_user_id must be a member of this workspace.", code="not_a_member",
                                  details={"field": "owner_user_id"})
        changes["owner_user_id"] = owner
        connection.owner_user_id = owner
    resync = None
    if "access_mode" in sent:
        mode = request.access_mode
        if connection.scope == "personal":
            raise ValidationError("A personal connection's documents are its owner's; it has no access mode.",
                                  code="access_mode_not_allowed", details={"field": "access_mode"})
        if not actor.is_admin:
            raise Forbidden("Only a workspace admin can change who reads a connection's documents.",
                            code="admin_required")
        if mode != connection.access_mode:
            changes["access_mode"] = connection.access_mode = mode
            # Every document's readers are worked out again by a full read (contents that did
            # not change are not embedded again).
            if connection.status not in ("disconnected", "pending"):
                from sync.service import enqueue_unless_pending

                resync = enqueue_unless_pending(connection, mode="full", triggered_by="api", actor=actor)
    record(actor, "connection.updated", target_type="connection", target_id=connection.id, details=changes)
    db.session.commit()
    if resync is not None:
        from sync.service import notify_workers

        notify_workers()
    return {"updated": True, "connection": serialize(connection)}


def request_sync(actor: Actor, connection_id: str, *, full: bool, triggered_by: str = "manual",
                 channel: str | None = None) -> dict:
    """Queue a sync run (``pending``); the sync engine picks it up."""
    connection = get(actor, connection_id)
    _require_manage(actor, connection)
    if connection.status == "disconnected":
        raise Conflict("This connection is disconnected; reconnect it before syncing.",
                       code="connection_disconnected")
    if connection.status == "pending":
        raise Conflict("This connection has not finished connecting yet.", code="connection_pending")
    if not _syncs(connection):
        raise Conflict("This connector connects but cannot sync yet.", code="sync_not_supported")
    run = sync_service.enqueue(actor, connection, mode="full" if full else "incremental",
                               triggered_by=triggered_by, channel=channel)
    db.session.commit()
    sync_service.notify_workers()
    return {"status": "syncing", "sync_run_id": run.id, "connector_id": connection.id,
            "connection_id": connection.id, "sync_type": run.mode, "run_status": run.status}


def check(actor: Actor, connection_id: str) -> dict:
    """Verify the stored credentials with one cheap provider call.

    A refused credential (revoked token, deleted key) turns the connection to needs_reauth,
    exactly as a sync would; an unreachable provider changes nothing. Handle connectors read
    with the operator's token, so a refusal there is a deployment problem, not the
    connection's. Returns ``ok`` and, when not ok, the error.
    """
    from connectors.errors import HandleNotFound, ProviderAuthError

    connection = get(actor, connection_id)
    _require_manage(actor, connection)
    if connection.status in ("disconnected", "pending"):
        raise Conflict("Only a connected connection can be checked.",
                       code="connection_disconnected" if connection.status == "disconnected" else "connection_pending")
    connector = registry.get_connector(current_app.config, connection.connector_type).for_connection(
        connection.settings)
    method = connector.catalog.auth_method
    credentials = connection.credentials or {}
    error = None
    try:
        if method == "oauth_redirect":
            account = connector.account(oauth.access_token(connection.id))
        elif method == "api_key":
            account = connector.check(credentials.get("api_key", ""), connection.settings)
        elif method == "handle":
            account = connector.resolve_handle(connection.handle or "")
        else:
            account = None
    except (ProviderAuthError, InvalidCredentials) as exc:
        connection = get(actor, connection_id)
        if method == "handle":
            error = {"code": "provider_credentials_invalid",
                     "message": "The provider refused this deployment's credentials (an operator setting)."}
        else:
            if not connection.needs_reauth:
                oauth.mark_needs_reauth(connection, "The provider refused the stored credentials; reconnect.")
            error = {"code": "needs_reauth", "message": exc.message}
    except HandleNotFound as exc:
        connection.status, connection.last_error = "error", exc.message
        error = {"code": exc.code, "message": exc.message}
    except ValidationError as exc:      # a setting the provider no longer accepts (a Figma team left)
        if exc.code != "invalid_setting":
            raise                       # the request's own fault (an X handle that cannot be one): 422
        error = {"code": "invalid_setting", "message": exc.message}
    else:
        if account is not None:
            _apply_account(connection, account)
    record(actor, "connection.checked", target_type="connection", target_id=connection.id,
           outcome="failure" if error else "success", details={"error_code": error["code"]} if error else {})
    db.session.commit()
    return {"ok": error is None, "error": error, "connection": serialize(connection)}
