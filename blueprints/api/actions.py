"""Actions on a connection: list them, run one (structured or from an intent), approve, reject,
and the connection's action policy; and the connectors spec's ``POST /v1/connectors/{id}/execute``
(on the connectors API's blueprint). Each endpoint is declared once (``endpoints.endpoint``): the
models, prose and error codes below are what the OpenAPI document is generated from; the codes'
meanings are in ``action_errors``."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import jsonify
from pydantic import BaseModel, ConfigDict, Field, RootModel

from actions import service
from actions.models import ROUTERS, RUN_STATUSES

from . import bp
from .auth import current_actor
from .connectors import CONNECTOR, CONNECTOR_ID, bp as connectors_bp
from .endpoints import Ok, QueryModel, RequestModel, checked_later, endpoint
from .shapes import CONNECTION_ID_EXAMPLE, CONNECTION_ID_PARAMETER as CONNECTION_ID

ACTIONS = '/connections/<id(prefix="conn"):connection_id>/actions'
RUN = ACTIONS + '/runs/<id(prefix="act"):action_run_id>'
RUN_ID = {"name": "action_run_id", "in": "path", "required": True,
          "description": "An action run id (`act_...`) of this connection.", "schema": {"type": "string"}}


# -- request bodies ---------------------------------------------------------------------------------

class ExecuteActionRequest(RequestModel):
    """Run one action with its parameters (the structured form)."""

    action: str = Field(description="The action's name (`GET .../actions` lists them).", min_length=1, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict, description="The action's parameters (its JSON schema).")
    dry_run: bool = Field(False, description="Only plan: answer the exact provider requests; nothing is sent or "
                                             "stored.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200, description=(
        "A repeated request with the same key gets the first one's outcome and sends nothing. Without one, the key "
        "is derived from the action and its parameters (to send the same thing again, give a new key)."))


class ExecuteIntentRequest(RequestModel):
    """The connectors spec's execute: a free-text intent, routed to one action."""

    intent: str = Field(min_length=1, max_length=2000, description="What to do, in words.",
                        examples=["Send message to #general about deployment complete"])
    context: dict[str, Any] = Field(default_factory=dict, description=(
        "Facts the intent may leave out (`{\"channel\": \"general\"}`): they fill parameters the intent does not "
        "name."))
    dry_run: bool = Field(False, description="Only plan and show the provider requests.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200,
                                        description="As for the structured form.")


class PolicyUpdate(RequestModel):
    """A connection's action policy; a field left out keeps its value."""

    allowed_actions: list[str] | None = Field(None, description="The actions that may run; null: every one.")
    approval_required: list[str] | None = Field(None, description="The actions that wait for an admin's or the "
                                                                  "owner's approval; null: the destructive ones.")
    mcp_tools: list[str] = Field(default_factory=list, description="The actions exposed as MCP tools (none by "
                                                                   "default).")
    self_approval: bool = Field(False, description="Whether whoever requested an action may approve it themselves; "
                                                   "false (the default) is four-eyes: another admin or the owner "
                                                   "approves.")


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
    self_approval: bool


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


class ActionRunOrPlan(RootModel[DryRun | ActionRun]):
    """A dry run's plan, or a stored run."""


class ActionRunsQuery(QueryModel):
    status: Annotated[Any, checked_later({"type": "string", "enum": list(RUN_STATUSES)}), Field(
        description="Only the runs in this status (`pending_approval`: what waits for a decision).")] = None


# -- examples, errors and prose --------------------------------------------------------------------------

RUN_EXAMPLE = {"id": "act_7c2k9x0v7m2p1a8b", "connection_id": CONNECTION_ID_EXAMPLE, "action": "post_message",
               "parameters": {"channel": "#general", "text": "Deployment complete"}, "status": "succeeded",
               "router": "rules", "intent": "Send message to #general about deployment complete",
               "idempotency_key": "derived:5f1c...", "replayed": False,
               "plan": [{"method": "POST", "url": "https://slack.com/api/chat.postMessage",
                         "headers": {"Authorization": "[redacted]"},
                         "body": {"channel": "general", "text": "Deployment complete"}}],
               "result": {"id": "1733480000.000100", "channel": "C0GENERAL1", "ts": "1733480000.000100",
                          "url": "https://acme.slack.com/archives/C0GENERAL1/p1733480000000100"},
               "error": None, "requested_by": "ci key", "decided_by": None, "decided_at": None,
               "created_at": "2026-12-06T11:00:00Z", "finished_at": "2026-12-06T11:00:01Z"}
DRY_RUN_EXAMPLE = {"dry_run": True, "connection_id": CONNECTION_ID_EXAMPLE, "action": "post_message",
                   "parameters": RUN_EXAMPLE["parameters"], "router": "rules", "intent": RUN_EXAMPLE["intent"],
                   "requires_approval": False, "plan": RUN_EXAMPLE["plan"]}

RUN_BEHAVIOUR = """
What happens (`actions.service`):

1. The parameters are checked against the action's JSON schema (`422 invalid_action_parameter` names the parameter);
   the connection's policy must allow the action (`403 action_not_allowed`); a personal connection (Gmail, Outlook)
   runs actions for its owner only (`403 not_connection_owner`).
2. The plan is built: the exact provider requests (method, URL, headers with values redacted, JSON body). With
   `dry_run` it is the answer (`200`) and nothing is sent or stored. The same code builds the plan and sends it.
3. Otherwise the run is stored with its plan under the idempotency key (given, or derived from the action and its
   parameters) in one transaction: a repeated request finds it and gets its outcome (`200`, `replayed: true`;
   nothing is sent twice). An action the policy holds for approval answers `202` (`pending_approval`); an admin or
   the connection's owner other than the requester (four-eyes, unless the policy allows `self_approval`) approves
   it (its stored plan is sent as shown), or rejects it.
4. The plan is sent through the connection's paced client: `201` with what the provider created (`result`: ids,
   URLs), or the provider's refusal in its own words (`422 provider_refused`, `provider_not_found`,
   `CHANNEL_NOT_FOUND`; `details.action_run_id` names the stored run).
5. A run whose process died mid-run (its lease, renewed before every provider request, ran out) is reclaimed by the
   workers' sweep: the rest of its plan is sent when no write of it can have reached the provider or the write is
   idempotent; otherwise the provider is asked whether it arrived (then `succeeded`, or `failed` with
   `action_interrupted`), and when it cannot be asked the run ends `unknown`, with a note of what to check. Nothing
   is sent twice; a repeated request gets that outcome.

Every intent, plan, approval, execution and provider answer is an audit event (`action.*`).
"""


PROVIDER_ANSWERS = {422: ["provider_refused", "provider_not_found", "CHANNEL_NOT_FOUND"],
                    429: ["provider_rate_limited"], 502: ["provider_unavailable", "provider_auth_failed"]}
RUN_ERRORS = {403: ["action_not_allowed", "not_connection_owner"], 404: ["not_found"],
              409: ["connection_not_connected", "idempotency_key_reused", "action_interrupted"],
              422: ["unknown_action", "invalid_action_parameter", *PROVIDER_ANSWERS[422]],
              429: PROVIDER_ANSWERS[429], 502: PROVIDER_ANSWERS[502]}
DECIDE_ERRORS = {403: ["approver_required"], 404: ["not_found"], 409: ["not_pending"]}
RUN_ANSWERS = {
    200: Ok("A dry run's plan, or a repeated request's stored run (nothing sent again).", ActionRunOrPlan,
            examples={"dry_run": {"value": DRY_RUN_EXAMPLE}, "replayed": {"value": {**RUN_EXAMPLE, "replayed": True}}}),
    201: Ok("Executed: what the provider created.", ActionRun, example=RUN_EXAMPLE),
    202: Ok("Held for approval (`pending_approval`).", ActionRun,
            example={**RUN_EXAMPLE, "status": "pending_approval", "result": None, "finished_at": None}),
}


def answer(result: tuple[dict, int]):
    body, status = result
    return jsonify(body), status


# -- routes -----------------------------------------------------------------------------------------------

@endpoint(bp, "GET", ACTIONS, operation_id="listActions", tag="Actions", scope="actions",
          summary="List a connection's actions", path_parameters=[CONNECTION_ID],
          behaviour="The actions the connection's connector declares (name, description, JSON schema of the "
                    "parameters, provider scope, destructive / externally visible, example phrasings) with what the "
                    "connection's policy says of each, and the policy.",
          responses={200: Ok("The actions.", ActionList)}, errors={404: ["not_found"]})
def list_actions(connection_id):
    """The connection's actions, with what its policy says of each."""
    return jsonify(service.list_actions(current_actor(), connection_id))


@endpoint(bp, "POST", ACTIONS, operation_id="executeAction", tag="Actions", scope="actions",
          summary="Run an action", path_parameters=[CONNECTION_ID],
          behaviour="Runs one action with its parameters (the structured form; `POST /v1/connectors/{id}/execute` "
                    "takes an intent in words).\n" + RUN_BEHAVIOUR,
          body=ExecuteActionRequest, body_examples={"post": {"value": {
              "action": "post_message", "parameters": {"channel": "#general", "text": "Deployment complete"},
              "dry_run": True}}},
          responses=RUN_ANSWERS, errors=RUN_ERRORS)
def execute_action(connection_id, body: ExecuteActionRequest):
    """Run (or plan, or hold for approval) one action with its parameters."""
    routed = service.Routed(body.action, body.parameters)
    return answer(service.execute(current_actor(), connection_id, routed, dry_run=body.dry_run,
                                  idempotency_key=body.idempotency_key))


@endpoint(bp, "GET", ACTIONS + "/runs", operation_id="listActionRuns", tag="Actions", scope="actions",
          summary="List action runs", path_parameters=[CONNECTION_ID], query=ActionRunsQuery,
          behaviour="The connection's action runs, newest first (the latest 100), optionally only those of one "
                    "`status` (`pending_approval` lists what waits for a decision).",
          responses={200: Ok("The runs.", ActionRunList)}, errors={404: ["not_found"]})
def list_action_runs(connection_id, query: ActionRunsQuery):
    """The connection's action runs, newest first (100), optionally by `status`."""
    return jsonify(service.list_runs(current_actor(), connection_id, query.status))


@endpoint(bp, "GET", RUN, operation_id="getActionRun", tag="Actions", scope="actions",
          summary="Get an action run", path_parameters=[CONNECTION_ID, RUN_ID],
          behaviour="One action run: its plan, status, decision and the provider's answer.",
          responses={200: Ok("The run.", ActionRun, example=RUN_EXAMPLE)}, errors={404: ["not_found"]})
def get_action_run(connection_id, action_run_id):
    return jsonify(service.serialize_run(service.get_run(current_actor(), connection_id, action_run_id)))


@endpoint(bp, "POST", RUN + "/approve", operation_id="approveActionRun", tag="Actions", scope="actions",
          summary="Approve an action run", path_parameters=[CONNECTION_ID, RUN_ID],
          behaviour="Sends a pending run's stored plan, exactly as it was shown. An admin (a key with the `admin` "
                    "scope) or the connection's owner (a member key of theirs) decides, and not the one who requested "
                    "it (four-eyes: `403 self_approval_not_allowed`) unless the policy allows `self_approval`. `201` "
                    "with what the provider created, or its refusal.",
          responses={201: Ok("Executed.", ActionRun, example={**RUN_EXAMPLE, "decided_by": "Ada"})},
          errors={**PROVIDER_ANSWERS, **DECIDE_ERRORS, 403: [*DECIDE_ERRORS[403], "self_approval_not_allowed"],
                  409: ["not_pending", "connection_not_connected"]})
def approve_action_run(connection_id, action_run_id):
    """Send a pending run's stored plan, as it was shown."""
    return answer(service.decide(current_actor(), connection_id, action_run_id, approve=True))


@endpoint(bp, "POST", RUN + "/reject", operation_id="rejectActionRun", tag="Actions", scope="actions",
          summary="Reject an action run", path_parameters=[CONNECTION_ID, RUN_ID],
          behaviour="Rejects a pending run: nothing is sent, the run ends `rejected`.",
          responses={200: Ok("Rejected.", ActionRun, example={**RUN_EXAMPLE, "status": "rejected", "result": None})},
          errors=DECIDE_ERRORS)
def reject_action_run(connection_id, action_run_id):
    return answer(service.decide(current_actor(), connection_id, action_run_id, approve=False))


@endpoint(bp, "PUT", ACTIONS + "/policy", operation_id="setActionPolicy", tag="Actions", scope="admin",
          summary="Set the action policy", path_parameters=[CONNECTION_ID],
          behaviour="Which actions may run (`allowed_actions`, null: every one), which wait for an admin's or the "
                    "owner's approval (`approval_required`, null: the destructive ones) and which are exposed as MCP "
                    "tools (`mcp_tools`, none by default: the MCP surface is read-only unless an admin chooses "
                    "otherwise), and whether a requester may approve their own request (`self_approval`, false by "
                    "default: four-eyes). A field left out keeps its value. Audited.",
          body=PolicyUpdate, body_examples={"approve": {"value": {"allowed_actions": ["post_message"],
                                                                  "approval_required": ["post_message"]}}},
          responses={200: Ok("The connection's actions under the new policy.", ActionList)},
          errors={404: ["not_found"], 422: ["unknown_action"]})
def set_action_policy(connection_id, body: PolicyUpdate):
    """Set which actions may run, which wait for approval, which are MCP tools."""
    return jsonify(service.set_policy(current_actor(), connection_id, body.model_dump(exclude_unset=True)))


@endpoint(connectors_bp, "POST", CONNECTOR + "/execute", operation_id="executeIntent", tag="Connectors",
          scope="actions", summary="Execute an intent", path_parameters=[CONNECTOR_ID],
          behaviour="The connectors spec's agentic execute: `intent` in words, routed to one of the connector's "
                    "allowed actions by the operator's OpenAI-compatible model when one is configured "
                    "(`ACTIONS_MODEL_BASE_URL`, `ACTIONS_MODEL`), else by the deterministic router of each action's "
                    "phrasings; `context` fills parameters the intent leaves out. The answer's `router` says which "
                    "decided (`model` or `rules`). An intent neither maps is `422 could_not_route` with the actions "
                    "and their parameters.\n" + RUN_BEHAVIOUR,
          body=ExecuteIntentRequest, body_examples={"spec": {"value": {
              "intent": "Send message to #general about deployment complete",
              "context": {"channel": "general", "priority": "high"}, "dry_run": False}}},
          responses=RUN_ANSWERS,
          errors={**RUN_ERRORS, 422: [*RUN_ERRORS[422], "could_not_route"],
                  502: [*RUN_ERRORS[502], "router_unavailable"]})
def execute_intent(connector_id, body: ExecuteIntentRequest):
    """Route an intent to one of the connector's actions and run it (or plan it: `dry_run`)."""
    return answer(service.execute_intent(current_actor(), connector_id, body.intent, body.context,
                                         dry_run=body.dry_run, idempotency_key=body.idempotency_key))
