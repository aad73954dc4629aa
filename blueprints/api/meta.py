"""The OpenAPI document and who-am-I."""
import json
from functools import cache

from flask import current_app, jsonify

from . import bp
from .auth import current_actor, require_scope
from .openapi import build_openapi


@cache
def _openapi_json() -> str:
    """The document, built and serialized once per process (it only changes with the code)."""
    return json.dumps(build_openapi(), ensure_ascii=False)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of the whole JSON API."""
    return current_app.response_class(_openapi_json(), mimetype="application/json")


@bp.get("/me")
@require_scope("connections:read")
def me():
    """The workspace and scopes of the calling API key."""
    actor = current_actor()
    return jsonify({"workspace_id": actor.workspace_id, "api_key_id": actor.id, "name": actor.label,
                    "scopes": sorted(actor.scopes)})
