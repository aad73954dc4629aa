"""Actions on a connection: list them, run one (structured or from an intent), approve, reject,
and the connection's action policy; and the connectors spec's ``POST /v1/connectors/{id}/execute``
(on the connectors API's blueprint). The shapes are the pydantic models below; the OpenAPI
document takes its schemas from them (``openapi_actions``, hand-kept until folded into
``@endpoint`` declarations)."""
from __future__ import annotations

from typing import Any, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from actions import service
from actions.models import ROUTERS, RUN_STATUSES
from core.errors import ValidationError

from . import bp
from .auth import current_actor, require_scope
from .connectors import CONNECTOR, bp as connectors_bp
from .body import json_body

ACTIONS = '/connections/<id(prefix="conn"):connection_id>/actions'
RUN = ACTIONS + '/runs/<id(prefix="act"):action_run_id>'


# -- request bodies ---------------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ExecuteActionRequest(_Body):
    """Run one action with its parameters (the structured form)."""

    action: str = Field(description="The action's name (`GET .../actions` lists them).", min_length=1, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict, description="The action's parameters (its JSON schema).")
    dry_run: bool = Field(False, description="Only plan: answer the exact provider requests; nothing is sent or "
                                             "stored.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200, description=(
        "A repeated request with the same key gets the first one's outcome and sends nothing. Without one, the key "
        "is derived from the action and its parameters (to send the same thing again, give a new key)."))


class ExecuteIntentRequest(_Body):
    """The connectors spec's execute: a free-text intent, routed to one action."""

    intent: str = Field(min_length=1, max_length=2000, description="What to do, in words.",
                        examples=["Send message to #general about deployment complete"])
    context: dict[str, Any] = Field(default_factory=dict, description=(
        "Facts the intent may leave out (`{\"channel\": \"general\"}`): they fill parameters the intent does not "
        "name."))
    dry_run: bool = Field(False, description="Only plan and show the provider requests.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200,
                                        description="As for the structured form.")


class PolicyUpdate(_Body):
    """A connection's action policy; a field left out keeps its value."""

    allowed_actions: list[str] | None = Field(None, description="The actions that may run; null: every one.")
    approval_required: list[str] | None = Field(None, description="The actions that wait for an admin's or the "
                                                                  "owner's approval; null: the destructive ones.")
    mcp_tools: list[str] = Field(default_factory=list, description="The actions exposed as MCP tools (none by "
                                                                   "default).")


# -- answers ------------------------------------------------------------------------------------------

class ConnectorAction(BaseModel):
    """An action a connector declares (the catalog lists them)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    parameters: dict[str, Any] = Field(description="A JSON schema (draft 2020-12) of the parameters.")
    provider_scope: str = Field(description="The provider scope or capability the connection's grant needs.")
    destructive: bool = Field(description="It closes or removes something.")
    externally_visible: bool = Field(description="People outside the workspace's tools may see it (a message, an "
                                                 "e-mail).")
    phrasings: list[str] = Field(description="Sentences the deterministic router understands.")


class ActionDescription(ConnectorAction):
    """An action of a connection, with what the connection's policy says of it."""

    allowed: bool
    requires_approval: bool
    exposed_over_mcp: bool


class ActionPolicy(BaseModel):
    allowed_actions: list[str] | None
    approval_required: list[str] | None
    mcp_tools: list[str]


class ActionList(BaseModel):
    connection_id: str
    connector_type: str
    policy: ActionPolicy
    actions: list[ActionDescription]


class PlannedRequest(BaseModel):
    """One provider request exactly as it is (or would be) sent; header values redacted."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None


class DryRun(BaseModel):
    dry_run: Literal[True]
    connection_id: str
    action: str
    parameters: dict[str, Any]
    router: Literal[ROUTERS]
    intent: str | None
    requires_approval: bool
    plan: list[PlannedRequest]


class ActionRun(BaseModel):
    id: str
    connection_id: str
    action: str
    parameters: dict[str, Any]
    status: Literal[RUN_STATUSES]
    router: Literal[ROUTERS]
    intent: str | None
    idempotency_key: str
    replayed: bool = Field(description="True when this answers a repeated request: nothing was sent again.")
    plan: list[PlannedRequest] = Field(description="The stored plan: what was (or will be) sent, exactly.")
    result: dict[str, Any] | None = Field(description="What the provider created (ids, URLs).")
    error: dict[str, Any] | None = Field(description="The provider's refusal, in its own words.")
    requested_by: str | None
    decided_by: str | None
    decided_at: str | None
    created_at: str
    finished_at: str | None


class ActionRunList(BaseModel):
    runs: list[ActionRun]


MODELS = (ExecuteActionRequest, ExecuteIntentRequest, PolicyUpdate, ActionList, DryRun, ActionRun, ActionRunList)


def parsed(model: type[BaseModel]):
    """The JSON body (strictly parsed) as ``model``; the first problem is a 422 naming the field."""
    try:
        return model.model_validate(json_body())
    except PydanticError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or None
        code = "unknown_field" if error["type"] == "extra_forbidden" else "invalid_field"
        raise ValidationError(f"{field}: {error['msg']}.", code=code, details={"field": field}) from None


def answer(result: tuple[dict, int]):
    body, status = result
    return jsonify(body), status


# -- routes -----------------------------------------------------------------------------------------------

@bp.get(ACTIONS)
@require_scope("actions")
def list_actions(connection_id):
    """The connection's actions, with what its policy says of each."""
    return jsonify(service.list_actions(current_actor(), connection_id))


@bp.post(ACTIONS)
@require_scope("actions")
def execute_action(connection_id):
    """Run (or plan, or hold for approval) one action with its parameters."""
    body = parsed(ExecuteActionRequest)
    routed = service.Routed(body.action, body.parameters)
    return answer(service.execute(current_actor(), connection_id, routed, dry_run=body.dry_run,
                                  idempotency_key=body.idempotency_key))


@bp.get(ACTIONS + "/runs")
@require_scope("actions")
def list_action_runs(connection_id):
    """The connection's action runs, newest first (100), optionally by `status`."""
    return jsonify(service.list_runs(current_actor(), connection_id, request.args.get("status") or None))


@bp.get(RUN)
@require_scope("actions")
def get_action_run(connection_id, action_run_id):
    return jsonify(service.serialize_run(service.get_run(current_actor(), connection_id, action_run_id)))


@bp.post(RUN + "/approve")
@require_scope("actions")
def approve_action_run(connection_id, action_run_id):
    """Send a pending run's stored plan, as it was shown."""
    return answer(service.decide(current_actor(), connection_id, action_run_id, approve=True))


@bp.post(RUN + "/reject")
@require_scope("actions")
def reject_action_run(connection_id, action_run_id):
    return answer(service.decide(current_actor(), connection_id, action_run_id, approve=False))


@bp.put(ACTIONS + "/policy")
@require_scope("admin")
def set_action_policy(connection_id):
    """Set which actions may run, which wait for approval, which are MCP tools."""
    body = parsed(PolicyUpdate)
    return jsonify(service.set_policy(current_actor(), connection_id, body.model_dump(exclude_unset=True)))


@connectors_bp.post(CONNECTOR + "/execute")
@require_scope("actions")
def execute_intent(connector_id):
    """Route an intent to one of the connector's actions and run it (or plan it: `dry_run`)."""
    body = parsed(ExecuteIntentRequest)
    return answer(service.execute_intent(current_actor(), connector_id, body.intent, body.context,
                                         dry_run=body.dry_run, idempotency_key=body.idempotency_key))
