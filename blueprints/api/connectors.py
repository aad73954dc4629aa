"""/v1/connectors: the connectors API (specs/connectors-and-sync.md).

The same connections as ``/api/v1/connections``, with the spec's field names and states
(``connections.connectors_api``); bearer API keys and scopes as the rest of the API. The
spec's execute route runs an intent through ``actions.service`` (as ``/api/v1/connections/{id}/actions``).
"""
from flask import Blueprint, jsonify

from actions import service as actions_service
from connections import connectors_api

from .auth import current_actor, require_scope
from .body import json_body, limit_body_size, query_flag

bp = Blueprint("connectors", __name__, url_prefix="/v1")
bp.before_request(limit_body_size)

CONNECTOR = '/connectors/<id(prefix="conn"):connector_id>'


@bp.get("/connectors")
@require_scope("connections:read")
def list_connectors():
    """The workspace's connectors (connections), newest first."""
    return jsonify({"connectors": connectors_api.list_connectors(current_actor())})


@bp.post("/connectors")
@require_scope("connections:write")
def create_connector():
    """Connect with a token the user holds, or start an OAuth connector's authorization."""
    return jsonify(connectors_api.create_connector(current_actor(), json_body())), 201


@bp.get(CONNECTOR)
@require_scope("connections:read")
def get_connector(connector_id):
    return jsonify(connectors_api.get_connector(current_actor(), connector_id))


@bp.post(CONNECTOR + "/sync")
@require_scope("sync")
def sync_connector(connector_id):
    """Queue an incremental (default) or full (`?full=true`) sync."""
    return jsonify(connectors_api.sync_connector(current_actor(), connector_id, full=query_flag("full"))), 202


@bp.post(CONNECTOR + "/execute")
@require_scope("actions")
def execute(connector_id):
    """Route an intent to one of the connector's actions and run it (or plan it: `dry_run`)."""
    from .actions import ExecuteIntentRequest, answer, parsed

    body = parsed(ExecuteIntentRequest)
    return answer(actions_service.execute_intent(current_actor(), connector_id, body.intent, body.context,
                                                 dry_run=body.dry_run, idempotency_key=body.idempotency_key))


@bp.delete(CONNECTOR)
@require_scope("connections:write")
def delete_connector(connector_id):
    """Disconnect: credentials dropped, the connection and its history kept."""
    return jsonify(connectors_api.delete_connector(current_actor(), connector_id))
