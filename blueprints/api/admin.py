"""/api/admin: platform-admin settings that apply to every workspace (connector cadence)."""
from typing import Annotated, Any, Literal

from flask import jsonify
from pydantic import ConfigDict, Field

from sync import service
from sync.service import CADENCE_PRESETS

from .auth import current_actor
from .endpoints import Ok, RequestModel, ResponseModel, checked_later, endpoint, parse_body
from .sync_jobs import bp

TAG = "Platform admin"
PLATFORM_ADMIN_ONLY = ["platform_admin_required"]


class ConnectorCadence(ResponseModel):
    """How often a connector type's incremental sync runs, for every workspace."""

    connector_type: Annotated[str, Field(examples=["github"])]
    default: Annotated[str, Field(description="The built-in cadence of this type (deployment setting).",
                                  examples=["15m"])]
    override: Annotated[Literal[tuple(CADENCE_PRESETS)] | None, Field(description="The platform admin's override, or "
                                                                           "`null`.")]
    effective: Annotated[str, Field(description="What applies: the override, else the default.", examples=["1h"])]
    implemented: Annotated[bool, Field(description="Whether this connector type can sync yet (a cadence only "
                                                   "matters then).")]


class ConnectorCadenceList(ResponseModel):
    """Every connector type of the catalog, by type."""

    cadences: list[ConnectorCadence]


class ConnectorCadenceUpdate(RequestModel):
    """Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    # Checked by sync.service.set_cadence after the connector type (invalid_preset).
    preset: Annotated[Any, checked_later({"type": ["string", "null"], "enum": [*CADENCE_PRESETS, None]}), Field(
        description="The new cadence; `null` clears the override (the default applies again).")]


@endpoint(bp, "GET", "/admin/connector-cadence", scope="admin", operation_id="listConnectorCadences", tag=TAG,
          summary="List every connector type's sync cadence",
          behaviour="How often each connector type's incremental sync runs, for every workspace of this "
                    "installation: its built-in `default`, the platform admin's `override` (or `null`) and the "
                    "`effective` cadence. Platform admin only.",
          responses={200: Ok("The cadences, by connector type.", ConnectorCadenceList, example={"cadences": [
              {"connector_type": "github", "default": "15m", "override": "1h", "effective": "1h", "implemented": True},
              {"connector_type": "pipedrive", "default": "15m", "override": None, "effective": "15m",
               "implemented": True}]})},
          errors={403: PLATFORM_ADMIN_ONLY})
def list_connector_cadences():
    """The effective incremental sync cadence of every connector type."""
    return jsonify({"cadences": service.platform_cadences(current_actor())})


@endpoint(bp, "PUT", "/admin/connector-cadence/<connector_type>", scope="admin", operation_id="setConnectorCadence",
          tag=TAG, summary="Set a connector type's sync cadence",
          behaviour="""
Sets how often every connection of this connector type syncs incrementally, in every workspace: one of the
presets `1m`, `10m`, `30m`, `1h`, `6h`, `1d`, or `null` to clear the override so the type's default applies
again. Cadence is an operational, per-type decision: it is not a connection setting and not on MCP. Platform
admin only. Checks run in this order: the caller (`403`), the body (`422`), the connector type (`404`), the
preset (`422`).
""",
          path_parameters=[{"name": "connector_type", "in": "path", "required": True,
                            "description": "A connector type of the catalog (`github`, `pipedrive`, ...).",
                            "schema": {"type": "string", "examples": ["github"]}}],
          body=ConnectorCadenceUpdate,
          body_examples={"hourly": {"value": {"preset": "1h"}}, "default": {"value": {"preset": None}}},
          responses={200: Ok("The type's cadence now.", ConnectorCadence, example={
              "connector_type": "github", "default": "15m", "override": "1h", "effective": "1h",
              "implemented": True})},
          errors={
              403: PLATFORM_ADMIN_ONLY,
              404: [("unknown_connector_type", "There is no such connector type in the catalog.")],
              422: [("missing_field", "`preset` is absent (send `null` to clear the override)."), "invalid_preset"],
          })
def set_connector_cadence(connector_type):
    """Override (or with `null` clear) a connector type's cadence, for every workspace."""
    actor = current_actor()
    service.require_platform_admin(actor)  # before reading the body: others learn nothing from it
    body = parse_body(ConnectorCadenceUpdate)
    return jsonify(service.set_cadence(actor, connector_type, body.preset))
