"""/api/v1/connections: the connections REST API (specs/connecting-data-sources.md)."""
from flask import current_app, jsonify, request

from connections import service
from connectors import registry

from . import bp
from .auth import current_actor, require_scope
from .body import json_body, query_flag


# A connection id, shaped like one (blueprints/inputs.py): /connections/catalog and
# /connections/resolve are never also read as a connection.
CONNECTION = '/connections/<id(prefix="conn"):connection_id>'


def _answer(result: dict, status: int = 200):
    """JSON; an answer that carries a signing secret (shown once) is never cached."""
    response = jsonify(result)
    response.status_code = status
    if "signing_secret" in result:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/connections/catalog")
@require_scope("connections:read")
def catalog():
    """The connector catalog: what can be connected, with `connectable` per entry."""
    return jsonify({"connectors": registry.catalog(current_app.config, request.args.get("category") or None)})


@bp.get("/connections")
@require_scope("connections:read")
def list_connections():
    """The workspace's connections, newest first: every one, or pages with `limit` / `cursor`;
    optionally narrowed by `status`, `health`, `connector_type` and `q`."""
    args = request.args
    paged = bool(args.get("limit") or args.get("cursor"))
    found = service.find(current_actor(), service.parse_filters(args), limit=args.get("limit"),
                         cursor=args.get("cursor") or None, paged=paged, count=False)
    return jsonify({"connections": found["connections"], "next_cursor": found["next_cursor"]})


@bp.post("/connections")
@require_scope("connections:write")
def connect():
    """Connect a source; the response depends on the connector's connect method."""
    result = service.connect(current_actor(), json_body())
    return _answer(result, 200 if result["mode"] == "already_connected" else 201)


@bp.post("/connections/resolve")
@require_scope("connections:write")
def resolve_handle():
    """Resolve a handle to the provider account (step one of a handle connect)."""
    return jsonify(service.resolve_handle(current_actor(), json_body()))


@bp.get(CONNECTION)
@require_scope("connections:read")
def get_connection(connection_id):
    return jsonify(service.serialize(service.get(current_actor(), connection_id)))


@bp.patch(CONNECTION)
@require_scope("connections:write")
def update_connection(connection_id):
    return jsonify(service.update(current_actor(), connection_id, json_body()))


@bp.delete(CONNECTION)
@require_scope("connections:write")
def disconnect(connection_id):
    return jsonify(service.disconnect(current_actor(), connection_id))


@bp.post(CONNECTION + "/reconnect")
@require_scope("connections:write")
def reconnect(connection_id):
    return _answer(service.reconnect(current_actor(), connection_id, json_body()))


@bp.post(CONNECTION + "/rotate-secret")
@require_scope("connections:write")
def rotate_secret(connection_id):
    """Issue a new webhook signing secret; the old one works for a grace period."""
    return _answer(service.rotate_signing_secret(current_actor(), connection_id, json_body()))


@bp.get(CONNECTION + "/status")
@require_scope("connections:read")
def connection_status(connection_id):
    return jsonify(service.status(current_actor(), connection_id))


@bp.get(CONNECTION + "/runs")
@require_scope("connections:read")
def connection_runs(connection_id):
    return jsonify(service.runs(current_actor(), connection_id, request.args.get("limit")))


@bp.post(CONNECTION + "/check")
@require_scope("connections:write")
def check(connection_id):
    """Verify the stored credentials with one cheap provider call."""
    return jsonify(service.check(current_actor(), connection_id))


@bp.post(CONNECTION + "/sync")
@require_scope("sync")
def sync(connection_id):
    """Queue an incremental (default) or full (`?full=true`) sync run."""
    result = service.request_sync(current_actor(), connection_id, full=query_flag("full"), triggered_by="api")
    return jsonify(result), 202
