"""Bearer API-key authentication and scope checks for the JSON API."""
import logging
from functools import wraps

from flask import g, request

from accounts.service import actor_for_api_key, check_scope
from core.errors import Unauthorized


def current_actor():
    return g.actor


def require_scope(scope: str | None):
    """Authenticate the bearer key; with a ``scope``, also require it (``None``: any valid key)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.", code="missing_api_key")
            # Set before the scope check: a refused call is still a call of this key (count_api_call).
            g.actor = actor = actor_for_api_key(token.strip(), client_address=request.remote_addr)
            if scope is not None:
                check_scope(actor, scope)
            return view(*args, **kwargs)
        wrapped.required_scope = scope
        return wrapped
    return decorator


API_PATHS = ("/api/", "/v1/")


def count_api_call(response):
    """After every request authenticated with an API key (the JSON API, the sync-jobs and admin
    API, pipeline sync): count it in the key's hour (``usage_api_calls``), refused ones as errors.

    In a transaction of its own, after the view's: what the view left uncommitted (nothing, unless
    it failed half-way) is rolled back first. A failure to count is logged, never the caller's
    problem: the answer is already decided."""
    actor = getattr(g, "actor", None)
    if actor is None or actor.type != "api_key" or not request.path.startswith(API_PATHS):
        return response
    from core.extensions import db
    from usage.service import record_api_call

    try:
        db.session.rollback()
        record_api_call(actor.id, actor.workspace_id, failed=response.status_code >= 400)
        db.session.commit()
    except Exception:  # noqa: BLE001 - counting must not turn a served answer into an error
        db.session.rollback()
        logging.getLogger(__name__).warning("could not count an API call of key %s", actor.id, exc_info=True)
    return response
