"""OAuth authorization-code flow with PKCE, through Authlib's requests client.

``start`` records a single-use ``OAuthState`` (bound to the pending connection and, from the
console, to the signed-in user) and returns the provider's authorize URL. ``finish`` handles
the callback: it consumes the state atomically (a replayed callback finds it used), exchanges
the code with the PKCE verifier, asks the provider who authorized, and stores the tokens
encrypted. ``access_token`` hands out a valid token, refreshing it before expiry with one
refresh at a time per connection.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from requests import RequestException
from sqlalchemy import delete, select, update

from audit.service import record
from connectors import registry
from connectors.errors import ProviderAuthError, ProviderError
from core.actor import Actor, system_actor
from core.errors import DomainError
from core.extensions import db
from core.ids import new_token
from core.timeutil import utcnow
from core.urls import external_url

from . import accounts
from .models import Connection, OAuthState

log = logging.getLogger(__name__)


def _endpoints(connector):
    settings, spec = connector.settings, connector.catalog.oauth
    return {
        "authorize": settings.get("authorize_url") or settings.url(spec.authorize),
        "token": settings.get("token_url") or settings.url(spec.token),
        "revoke": settings.get("revoke_url") or settings.url(spec.revoke),
        "refresh": settings.get("refresh_url") or settings.url(spec.refresh)
                   or settings.get("token_url") or settings.url(spec.token),
    }


class _JsonBodySession(OAuth2Session):
    """Token and revoke requests with their parameters as a JSON body, for a provider whose
    token endpoint takes JSON (``OAuthEndpoints.token_body == "json"``: Notion)."""

    def post(self, url, data=None, json=None, **kwargs):
        if isinstance(data, dict) and json is None:
            headers = {**(kwargs.pop("headers", None) or {}), "Content-Type": "application/json"}
            return super().post(url, json=data, headers=headers, **kwargs)
        return super().post(url, data=data, json=json, **kwargs)


def _session(connector, **kwargs) -> OAuth2Session:
    settings, spec = connector.settings, connector.catalog.oauth
    scopes = settings.get("scopes") or spec.scope_separator.join(spec.scopes)
    session = _JsonBodySession if spec.token_body == "json" else OAuth2Session
    return session(settings.get("client_id"), settings.get("client_secret"), scope=scopes,
                         token_endpoint_auth_method=spec.token_auth_method,
                         code_challenge_method="S256", timeout=settings.timeout, **kwargs)


def start(actor: Actor, connector, connection: Connection, *, purpose: str, return_to: str | None) -> str:
    """Begin an authorization; the caller commits."""
    redirect_uri = external_url("oauth.callback", connector_type=connector.catalog.type)
    connector = connector.for_connection(connection.settings)
    verifier = generate_token(64)
    state = new_token(32)
    client = _session(connector, redirect_uri=redirect_uri)
    url, _ = client.create_authorization_url(_endpoints(connector)["authorize"], state=state,
                                             code_verifier=verifier if connector.catalog.oauth.pkce else None,
                                             **connector.catalog.oauth.authorize_params)
    now = utcnow()
    db.session.add(OAuthState(
        state=state, connection_id=connection.id, workspace_id=connection.workspace_id,
        connector_type=connector.catalog.type, user_id=actor.user_id, purpose=purpose,
        code_verifier=verifier, redirect_uri=redirect_uri, return_to=return_to, created_at=now,
        expires_at=now + timedelta(seconds=int(current_app.config["OAUTH_STATE_TTL_SECONDS"]))))
    return url


def purge_abandoned() -> None:
    """Drop connections whose first authorization was never completed and has expired."""
    now = utcnow()
    stale = select(OAuthState.connection_id).where(OAuthState.purpose == "connect",
                                                   OAuthState.expires_at < now, OAuthState.consumed_at.is_(None))
    db.session.execute(delete(Connection).where(Connection.status == "pending", Connection.id.in_(stale))
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1)))


@dataclass
class Outcome:
    connector_type: str
    connection: Connection | None = None
    error_code: str | None = None
    message: str | None = None
    return_to: str | None = None
    # The authorized account was already connected: ``connection`` is that connection, updated
    # in place (the pending one this authorization started with is gone).
    already_connected: bool = False
    # On ``already_connected`` errors: the connection that holds the account; on a refused
    # setting (``invalid_setting``) of a reconnect, the connection reconnected.
    existing_id: str | None = None
    # On ``invalid_setting``: the setting the provider refused and the value it refused (a Figma
    # team id the account cannot read), as ``(setting, value)``.
    refused: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


class CallbackError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def finish(connector_type: str, args, *, session_user_id: str | None, client_address: str | None) -> Outcome:
    """Complete the callback. Never raises for provider or user errors: returns an Outcome."""
    value = args.get("state") or ""
    state = db.session.get(OAuthState, value) if value else None
    if state is None or state.connector_type != connector_type:
        return Outcome(connector_type, error_code="invalid_state",
                       message="This authorization link is invalid. Start the connection again.")
    return_to = state.return_to
    if state.user_id and state.user_id != session_user_id:
        return Outcome(connector_type, error_code="invalid_state", return_to=return_to,
                       message="This authorization was started in another session. Start it again.")
    # Consume atomically: of two concurrent callbacks with one state, exactly one proceeds.
    consumed = db.session.execute(update(OAuthState).where(OAuthState.state == value,
                                                           OAuthState.consumed_at.is_(None))
                                  .values(consumed_at=utcnow()))
    db.session.commit()
    if consumed.rowcount != 1:
        return Outcome(connector_type, error_code="invalid_state", return_to=return_to,
                       message="This authorization was already used. Start the connection again.")
    connection = db.session.get(Connection, state.connection_id)
    actor = Actor(type="user" if state.user_id else "system", id=state.user_id, label=None,
                  workspace_id=state.workspace_id, user_id=state.user_id, client_address=client_address)
    try:
        if connection is None:
            raise CallbackError("invalid_state", "The connection this authorization was for no longer exists.")
        if state.expires_at < utcnow():
            raise CallbackError("state_expired", "This authorization took too long. Start it again.")
        if args.get("error"):
            code = "access_denied" if args.get("error") == "access_denied" else "authorization_failed"
            raise CallbackError(code, "Authorization was denied at the provider." if code == "access_denied"
                                else f"The provider reported an error: {args.get('error')}.")
        if not args.get("code"):
            raise CallbackError("authorization_failed", "The provider sent no authorization code.")
        connector = registry.get_connector(current_app.config, connector_type).for_connection(connection.settings)
        token = _exchange(connector, state, args.get("code"))
        account = connector.token_account(token)
    except (CallbackError, DomainError) as exc:
        return _fail(actor, connection, state, exc, connector_type, return_to)
    try:
        connection, already = accounts.claim_or_retry(
            lambda: _hold_account(actor, connector, state, state.connection_id, token, account))
    except accounts.AccountTaken as exc:
        return _fail(actor, db.session.get(Connection, state.connection_id), state, exc, connector_type, return_to,
                     existing_id=exc.holder_id)
    from sync import service as sync_service

    sync_service.notify_workers()
    return Outcome(connector_type, connection=connection, return_to=return_to, already_connected=already)


def _hold_account(actor, connector, state: OAuthState, connection_id: str, token: dict, account):
    """Store the authorization on the connection that holds the account; commits.

    A first authorization of an account that the workspace already connected lands on that
    connection (updated in place; the pending one is dropped). A re-authorization that signs in
    as an account another connection holds, or a member authorizing a mailbox another member
    connected, is refused (``AccountTaken``). Returns ``(connection, already_connected)``.
    """
    connection = db.session.get(Connection, connection_id)
    purpose = state.purpose
    existing = accounts.holder(connection.workspace_id, connection.connector_type, account.external_id,
                               exclude_id=connection.id)
    name = connector.catalog.display_name
    if existing is not None and purpose == "reconnect":
        raise accounts.AccountTaken(existing, f"That {name} account is already connected here as "
                                              f"{existing.name!r}; sign in as the account this connection "
                                              "had to restore it.")
    if existing is not None and existing.scope == "personal" and existing.owner_user_id != connection.owner_user_id:
        raise accounts.AccountTaken(existing, f"That {name} account is already connected by another member.")
    target = existing or connection
    _store_token(target, token)
    accounts.claim(target, account.external_id)
    target.handle, target.display_name, target.avatar_url = account.handle, account.display_name, account.avatar_url
    first = purpose == "connect" and existing is None
    accounts.restore(target)
    if first and target.name == name and account.handle:
        target.name = f"{name} ({account.handle})"
    if actor.type == "user" and actor.user_id:
        # The member signed in to the provider themself: that account is verified to be theirs
        # (the documents its identity may read become the member's to read).
        from access.service import link_identity

        link_identity(target.workspace_id, actor.user_id, "provider_user",
                      f"{target.connector_type}:{account.identity or account.external_id}",
                      verified_via=f"oauth:{target.id}")
        if account.handle and "@" in account.handle:
            link_identity(target.workspace_id, actor.user_id, "email", account.handle,
                          verified_via=f"oauth:{target.id}")
    record(actor, "connection.connected" if first else "connection.reconnected", target_type="connection",
           target_id=target.id, details={"connector_type": target.connector_type, "method": "oauth_redirect",
                                         **({"already_connected": True} if existing is not None else {})})
    if existing is not None:
        db.session.delete(connection)  # the pending row this authorization started with
    if first:
        if current_app.config.get("SYNC_ON_CONNECT", True) and connector.syncs():
            from sync import service as sync_service

            sync_service.enqueue(actor, target, mode="full", triggered_by="connect")
    else:
        accounts.queue_sync(actor, target)
    db.session.commit()
    return target, existing is not None


def _exchange(connector, state: OAuthState, code: str) -> dict:
    client = _session(connector, redirect_uri=state.redirect_uri)
    try:
        token = client.fetch_token(_endpoints(connector)["token"], grant_type="authorization_code", code=code,
                                   **({"code_verifier": state.code_verifier} if connector.catalog.oauth.pkce else {}))
    except OAuthError as exc:
        raise CallbackError("token_exchange_failed",
                            f"The provider refused the authorization code ({exc.error}).") from None
    except (RequestException, ValueError) as exc:
        raise CallbackError("provider_unavailable",
                            f"The provider could not be reached to finish the authorization ({type(exc).__name__}).") from None
    if not token.get("access_token"):
        raise CallbackError("token_exchange_failed", "The provider answered without an access token.")
    return dict(token)


def _fail(actor, connection, state, exc, connector_type, return_to, existing_id=None) -> Outcome:
    code = getattr(exc, "code", "authorization_failed")
    message = getattr(exc, "message", str(exc))
    details = getattr(exc, "details", None) or {}
    refused = None
    if code == "invalid_setting" and details.get("setting") and details.get("value") is not None:
        refused = (str(details["setting"]), str(details["value"]))
    if connection is not None:
        if state.purpose == "connect" and connection.status == "pending":
            # A first authorization that failed leaves no connection behind.
            db.session.delete(connection)
        else:
            connection.last_error = f"Re-authorization failed: {message}"
            if refused is not None:         # the connection to fix the setting on
                existing_id = existing_id or connection.id
    record(actor, "connection.authorization_failed", outcome="failure", target_type="connection",
           target_id=state.connection_id, details={"connector_type": connector_type, "error_code": code})
    db.session.commit()
    return Outcome(connector_type, error_code=code, message=message, return_to=return_to, existing_id=existing_id,
                   refused=refused)


def _store_token(connection: Connection, token: dict) -> None:
    previous = connection.credentials or {}
    credentials = {
        "access_token": token["access_token"],
        "token_type": token.get("token_type", "bearer"),
        "scope": token.get("scope"),
        # Some providers omit the refresh token on refresh: keep the one we have.
        "refresh_token": token.get("refresh_token") or previous.get("refresh_token"),
    }
    cls = registry.connector_classes().get(connection.connector_type)
    spec = cls.catalog.oauth if cls is not None else None
    kept = spec.keep if spec is not None else ()
    credentials.update({name: token.get(name) or previous.get(name) for name in kept})
    connection.credentials = credentials
    expires_in = token.get("expires_in") or (spec.lifetime if spec is not None else None)
    connection.token_expires_at = utcnow() + timedelta(seconds=int(expires_in)) if expires_in else None


# -- tokens for provider calls -----------------------------------------------------------------

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(connection_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(connection_id, threading.Lock())


def _expiring(connection: Connection) -> bool:
    if connection.token_expires_at is None:
        return False
    margin = timedelta(seconds=int(current_app.config["TOKEN_REFRESH_MARGIN_SECONDS"]))
    return connection.token_expires_at - margin <= utcnow()


def access_token(connection_id: str) -> str:
    """A valid access token for the connection, refreshed first when it is about to expire.

    One refresh at a time per connection: a lock in this process, and the connection row
    locked (``SELECT ... FOR UPDATE`` on PostgreSQL) across processes; whoever waits re-reads
    the row and finds the fresh token. A refused refresh turns the connection to
    needs_reauth and raises ``ProviderAuthError``. Commits.
    """
    connection = db.session.get(Connection, connection_id)
    if connection is None or not (connection.credentials or {}).get("access_token"):
        raise ProviderAuthError("The connection holds no access token; reconnect it.")
    if not _expiring(connection):
        return connection.credentials["access_token"]
    with _lock_for(connection_id):
        db.session.commit()  # end any read transaction so the locked read below sees fresh data
        connection = db.session.scalars(select(Connection).where(Connection.id == connection_id)
                                        .with_for_update().execution_options(populate_existing=True)).one()
        if not _expiring(connection):
            db.session.commit()
            return connection.credentials["access_token"]
        return _refresh(connection)


def _refresh(connection: Connection) -> str:
    refresh_token = (connection.credentials or {}).get("refresh_token")
    if not refresh_token:
        mark_needs_reauth(connection, "The access token expired and the provider gave no refresh token; reconnect.")
        raise ProviderAuthError("Access token expired; reconnect needed.")
    connector = registry.get_connector(current_app.config, connection.connector_type).for_connection(
        connection.settings)
    client = _session(connector)
    try:
        token = client.refresh_token(_endpoints(connector)["refresh"], refresh_token=refresh_token)
    except OAuthError as exc:
        mark_needs_reauth(connection, f"The provider refused to refresh the access token ({exc.error}); reconnect.")
        raise ProviderAuthError("Token refresh refused; reconnect needed.") from None
    except (RequestException, ValueError) as exc:
        db.session.rollback()
        raise ProviderError(f"The provider could not be reached to refresh the token ({type(exc).__name__}).") from None
    _store_token(connection, dict(token))
    record(system_actor(connection.workspace_id), "connection.token_refreshed", target_type="connection",
           target_id=connection.id)
    db.session.commit()
    return connection.credentials["access_token"]


def mark_needs_reauth(connection: Connection, message: str) -> None:
    connection.needs_reauth, connection.status, connection.last_error = True, "error", message
    record(system_actor(connection.workspace_id), "connection.needs_reauth", target_type="connection",
           target_id=connection.id, outcome="failure")
    db.session.commit()


def revoke_quietly(connector_type: str, credentials: dict) -> None:
    """Best effort: tell the provider to revoke the tokens of a disconnected connection."""
    try:
        connector = registry.get_connector(current_app.config, connector_type)
        url = _endpoints(connector)["revoke"]
        if not url:
            return
        _session(connector).revoke_token(url, token=credentials.get("refresh_token") or credentials["access_token"])
    except Exception as exc:  # never let a provider hiccup undo a disconnect
        log.info("token revocation for %s failed: %s", connector_type, type(exc).__name__)


def provider_context(connection: Connection, connector, *, max_wait: float, **more):
    """What a connector needs to talk to the provider for ``connection`` (``SyncContext``): its
    credentials and settings, a token refreshed when needed (OAuth connectors), and its rate
    limiter, waiting at most ``max_wait`` seconds in all; ``more`` adds to it (a run's
    ``cancelled``). The sync engine and actions both build theirs here."""
    from connectors.base import SyncContext
    from connectors.ratelimit import RateLimiter

    token = None
    if connector.catalog.auth_method == "oauth_redirect":
        connection_id = connection.id

        def token():
            return access_token(connection_id)
    limiter = RateLimiter.for_connection(connector.catalog.rate_limits, connection.settings or {}, max_wait=max_wait)
    return SyncContext(connection_id=connection.id, connector_type=connection.connector_type,
                       credentials=dict(connection.credentials or {}), settings=dict(connection.settings or {}),
                       handle=connection.handle, external_account_id=connection.external_account_id,
                       access_token=token, limiter=limiter, **more)
