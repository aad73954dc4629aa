"""Bearer API-key authentication and scope checks for the JSON API."""
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
            actor = actor_for_api_key(token.strip(), client_address=request.remote_addr)
            if scope is not None:
                check_scope(actor, scope)
            g.actor = actor
            return view(*args, **kwargs)
        wrapped.required_scope = scope
        return wrapped
    return decorator
