"""/v1/pipeline/sync: the pipeline-sync endpoint (specs/pipeline-sync.md).

Authenticated with a workspace API key carrying the ``pipeline`` scope, sent as ``X-API-Key``
(the spec's header) or as ``Authorization: Bearer`` like the rest of the API.
"""
from functools import wraps

from flask import Blueprint, g, jsonify, request

from accounts.service import actor_for_api_key
from core.errors import Forbidden, Unauthorized
from knowledge import pipeline

from .auth import current_actor
from .body import json_body

bp = Blueprint("pipeline", __name__, url_prefix="/v1")

API_KEY_HEADER = "X-API-Key"


def require_key(scope: str):
    """Authenticate ``X-API-Key`` (or a bearer key) and require ``scope``."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = request.headers.get(API_KEY_HEADER, "").strip()
            if not token:
                kind, _, bearer = request.headers.get("Authorization", "").partition(" ")
                token = bearer.strip() if kind.lower() == "bearer" else ""
            if not token:
                raise Unauthorized(f"Send a pipeline API key as `{API_KEY_HEADER}: <key>` (or "
                                   "`Authorization: Bearer <key>`).", code="missing_api_key")
            g.actor = actor = actor_for_api_key(token, client_address=request.remote_addr)
            if not actor.has_scope(scope):
                raise Forbidden(f"This API key lacks the {scope!r} scope.", code="insufficient_scope",
                                details={"required_scope": scope, "key_scopes": sorted(actor.scopes)})
            return view(*args, **kwargs)
        wrapped.required_scope = scope
        return wrapped
    return decorator


@bp.post("/pipeline/sync")
@require_key("pipeline")
def sync():
    """Upsert and delete records in a vector store, atomically."""
    actor = current_actor()
    pipeline.admit(actor)  # the rate limit counts the request before its body is read
    request.max_content_length = pipeline.MAX_BODY_BYTES
    with pipeline.gc_paused():  # parsing a large body makes as many objects as writing it
        return jsonify(pipeline.pipeline_sync(actor, json_body(), admitted=True))
