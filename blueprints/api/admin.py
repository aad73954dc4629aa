"""/api/admin: platform-admin settings that apply to every workspace (connector cadence)."""
from flask import jsonify

from core.errors import ValidationError
from sync import service

from .auth import current_actor, require_scope
from .body import json_body
from .sync_jobs import bp


@bp.get("/admin/connector-cadence")
@require_scope("admin")
def list_connector_cadences():
    """The effective incremental sync cadence of every connector type."""
    return jsonify({"cadences": service.platform_cadences(current_actor())})


@bp.put("/admin/connector-cadence/<connector_type>")
@require_scope("admin")
def set_connector_cadence(connector_type):
    """Override (or with `null` clear) a connector type's cadence, for every workspace."""
    actor = current_actor()
    service.require_platform_admin(actor)  # before reading the body: others learn nothing from it
    body = json_body()
    if "preset" not in body:
        raise ValidationError("preset is required: one of 1m, 10m, 30m, 1h, 6h, 1d, or null for the default.",
                              code="missing_field", details={"field": "preset"})
    return jsonify(service.set_cadence(actor, connector_type, body["preset"]))
