"""The actions endpoints in the OpenAPI document: their paths, their schemas (generated from the
pydantic models of ``blueprints/api/actions.py``) and their error codes. ``openapi.build_openapi``
adds ``paths(enums)`` and ``schemas(enums)``; the codes join ``ERROR_CODES``/``ERROR_EXAMPLES``.
(Until the document is generated from typed models everywhere, this module keeps the actions'
part apart from the hand-kept one.)"""
from __future__ import annotations

from actions.models import RUN_STATUSES

from .openapi import BODY_ERRORS, CONNECTION_ID, CONNECTION_ID_EXAMPLE, CONNECTOR_ID, _body, _ok, _operation

ERROR_CODES = {
    "unknown_action": "The connection's connector has no such action; `details.actions` lists its actions.",
    "invalid_action_parameter": "A parameter is missing, unknown or invalid for the action (its JSON schema), or "
                                "names something the provider does not have (a Jira transition, a Confluence "
                                "space); `details.parameter` names it.",
    "could_not_route": "Neither router could map the intent to an action: `details.router` says which one tried "
                       "(`rules` or `model`), `details.actions` lists the actions with their parameters and example "
                       "sentences.",
    "router_unavailable": "The operator's routing model could not be reached or did not answer a chat completion.",
    "action_not_allowed": "The connection's policy does not allow this action (`details.allowed_actions`).",
    "not_connection_owner": "The connection is personal: only its owner runs its actions.",
    "approver_required": "Only a workspace admin (a key with the `admin` scope) or the connection's owner approves "
                         "or rejects its actions.",
    "connection_not_connected": "The connection is pending or disconnected: reconnect it first.",
    "idempotency_key_reused": "The idempotency key was used on this connection for another action or other "
                              "parameters; `details.action_run_id` names that run.",
    "not_pending": "The action run is not waiting for approval (`details.status`).",
    "provider_refused": "The provider refused the request (in its own words: `message`, "
                        "`details.provider_message`, `details.provider_status`); `details.action_run_id` names the "
                        "stored run when it was sent.",
    "provider_not_found": "The provider has no such record (an issue, a page, a deal), in its own words.",
}
ERROR_EXAMPLES = {
    "unknown_action": ("slack has no action 'delete_channel'.", {"parameter": "action", "actions": ["post_message"]}),
    "invalid_action_parameter": ("post_message: parameter 'channel' is required.",
                                 {"parameter": "channel", "action": "post_message"}),
    "could_not_route": ("Could not route this intent to an action (No action's phrasing matches this intent.) ...",
                        {"router": "rules", "actions": [{"name": "post_message", "description": "Post a message.",
                                                         "parameters": {"channel": "The channel.", "text": "The text."},
                                                         "required": ["channel", "text"],
                                                         "examples": ["Send message to #general about the deploy"]}]}),
    "router_unavailable": ("The action router's model answered 503.", {"model_status": 503}),
    "action_not_allowed": ("The policy of this connection does not allow close_issue.",
                           {"action": "close_issue", "allowed_actions": ["comment"]}),
    "not_connection_owner": ("Only the owner of a personal connection can run its actions.", {}),
    "approver_required": ("Only a workspace admin or the connection's owner can approve or reject its actions.", {}),
    "connection_not_connected": ("This connection is not connected: reconnect it before running actions.",
                                 {"status": "disconnected"}),
    "idempotency_key_reused": ("This idempotency_key was used for another request on this connection.",
                               {"action_run_id": "act_7c2k9x0v7m2p1a8b"}),
    "not_pending": ("This action run is succeeded, not waiting for approval.", {"status": "succeeded"}),
    "provider_refused": ("Jira refused POST /rest/api/3/issue (400): project: valid project is required",
                         {"provider": "Jira", "provider_status": 400, "action_run_id": "act_7c2k9x0v7m2p1a8b"}),
    "provider_not_found": ("GitHub refused POST /repos/acme/api/issues/99/comments (404): Not Found",
                           {"provider": "GitHub", "provider_status": 404, "provider_message": "Not Found"}),
}

RUN_ID = {"name": "action_run_id", "in": "path", "required": True,
          "description": "An action run id (`act_...`) of this connection.", "schema": {"type": "string"}}
SCHEMA_NAMES = ("ExecuteActionRequest", "ExecuteIntentRequest", "PolicyUpdate", "ActionList", "DryRun", "ActionRun",
                "ActionRunList")


def schemas(enums: dict) -> dict:
    """The pydantic models' JSON schemas (and the models they name), as components."""
    from .actions import MODELS

    found = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    found["ActionRunOrPlan"] = {"anyOf": [{"$ref": "#/components/schemas/DryRun"},
                                          {"$ref": "#/components/schemas/ActionRun"}],
                                "description": "A dry run's plan, or a stored run."}
    return found


PROVIDER_ANSWERS = {
    422: [("provider_refused", ERROR_CODES["provider_refused"]), ("provider_not_found", ERROR_CODES["provider_not_found"]),
          "CHANNEL_NOT_FOUND"],
    429: ["provider_rate_limited"],
    502: ["provider_unavailable", "provider_auth_failed"],
}


def _with(errors: dict, more: dict) -> dict:
    merged = {status: list(codes) for status, codes in errors.items()}
    for status, codes in more.items():
        merged[status] = merged.get(status, []) + list(codes)
    return merged


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
   the connection's owner approves it (its stored plan is sent as shown) or rejects it.
4. The plan is sent through the connection's paced client: `201` with what the provider created (`result`: ids,
   URLs), or the provider's refusal in its own words (`422 provider_refused`, `provider_not_found`,
   `CHANNEL_NOT_FOUND`; `details.action_run_id` names the stored run).

Every intent, plan, approval, execution and provider answer is an audit event (`action.*`).
"""


def paths(enums: dict) -> dict:
    base = "/api/v1/connections/{connection_id}/actions"
    run_answers = {200: _ok("A dry run's plan, or a repeated request's stored run (nothing sent again).",
                            "ActionRunOrPlan", examples={"dry_run": {"value": DRY_RUN_EXAMPLE},
                                                         "replayed": {"value": {**RUN_EXAMPLE, "replayed": True}}}),
                   201: _ok("Executed: what the provider created.", "ActionRun", example=RUN_EXAMPLE),
                   202: _ok("Held for approval (`pending_approval`).", "ActionRun",
                            example={**RUN_EXAMPLE, "status": "pending_approval", "result": None,
                                     "finished_at": None})}
    run_errors = _with({403: [("action_not_allowed", ERROR_CODES["action_not_allowed"]),
                              ("not_connection_owner", ERROR_CODES["not_connection_owner"])],
                        404: ["not_found"],
                        409: [("connection_not_connected", ERROR_CODES["connection_not_connected"]),
                              ("idempotency_key_reused", ERROR_CODES["idempotency_key_reused"])],
                        422: BODY_ERRORS + ["invalid_field", "unknown_field",
                                            ("unknown_action", ERROR_CODES["unknown_action"]),
                                            ("invalid_action_parameter", ERROR_CODES["invalid_action_parameter"])]},
                       PROVIDER_ANSWERS)
    decide_errors = {403: [("approver_required", ERROR_CODES["approver_required"])], 404: ["not_found"],
                     409: [("not_pending", ERROR_CODES["not_pending"])]}
    return {
        base: {
            "parameters": [CONNECTION_ID],
            "get": _operation(
                operation_id="listActions", tag="Actions", scope="actions", summary="List a connection's actions",
                behaviour="The actions the connection's connector declares (name, description, JSON schema of the "
                          "parameters, provider scope, destructive / externally visible, example phrasings) with "
                          "what the connection's policy says of each, and the policy.",
                responses={200: _ok("The actions.", "ActionList")}, errors={404: ["not_found"]}),
            "post": _operation(
                operation_id="executeAction", tag="Actions", scope="actions", summary="Run an action",
                behaviour="Runs one action with its parameters (the structured form; "
                          "`POST /v1/connectors/{id}/execute` takes an intent in words).\n" + RUN_BEHAVIOUR,
                request_body=_body("ExecuteActionRequest", examples={"post": {"value": {
                    "action": "post_message", "parameters": {"channel": "#general", "text": "Deployment complete"},
                    "dry_run": True}}}),
                responses=run_answers, errors=run_errors),
        },
        base + "/runs": {
            "parameters": [CONNECTION_ID],
            "get": _operation(
                operation_id="listActionRuns", tag="Actions", scope="actions", summary="List action runs",
                behaviour="The connection's action runs, newest first (the latest 100), optionally only those of "
                          "one `status` (`pending_approval` lists what waits for a decision).",
                parameters=[{"name": "status", "in": "query", "required": False,
                             "schema": {"type": "string", "enum": list(RUN_STATUSES)}}],
                responses={200: _ok("The runs.", "ActionRunList")},
                errors={404: ["not_found"], 422: ["invalid_parameter"]}),
        },
        base + "/runs/{action_run_id}": {
            "parameters": [CONNECTION_ID, RUN_ID],
            "get": _operation(
                operation_id="getActionRun", tag="Actions", scope="actions", summary="Get an action run",
                behaviour="One action run: its plan, status, decision and the provider's answer.",
                responses={200: _ok("The run.", "ActionRun", example=RUN_EXAMPLE)}, errors={404: ["not_found"]}),
        },
        base + "/runs/{action_run_id}/approve": {
            "parameters": [CONNECTION_ID, RUN_ID],
            "post": _operation(
                operation_id="approveActionRun", tag="Actions", scope="actions", summary="Approve an action run",
                behaviour="Sends a pending run's stored plan, exactly as it was shown. An admin (a key with the "
                          "`admin` scope) or the connection's owner (a member key of theirs) decides. `201` with what "
                          "the provider created, or its refusal.",
                responses={201: _ok("Executed.", "ActionRun", example={**RUN_EXAMPLE, "decided_by": "Ada"})},
                errors=_with(decide_errors, {**PROVIDER_ANSWERS, 409: [
                    ("connection_not_connected", ERROR_CODES["connection_not_connected"])]})),
        },
        base + "/runs/{action_run_id}/reject": {
            "parameters": [CONNECTION_ID, RUN_ID],
            "post": _operation(
                operation_id="rejectActionRun", tag="Actions", scope="actions", summary="Reject an action run",
                behaviour="Rejects a pending run: nothing is sent, the run ends `rejected`.",
                responses={200: _ok("Rejected.", "ActionRun", example={**RUN_EXAMPLE, "status": "rejected",
                                                                       "result": None})},
                errors=decide_errors),
        },
        base + "/policy": {
            "parameters": [CONNECTION_ID],
            "put": _operation(
                operation_id="setActionPolicy", tag="Actions", scope="admin", summary="Set the action policy",
                behaviour="Which actions may run (`allowed_actions`, null: every one), which wait for an admin's or "
                          "the owner's approval (`approval_required`, null: the destructive ones) and which are "
                          "exposed as MCP tools (`mcp_tools`, none by default: the MCP surface is read-only unless an "
                          "admin chooses otherwise). A field left out keeps its value. Audited.",
                request_body=_body("PolicyUpdate", examples={"approve": {"value": {
                    "allowed_actions": ["post_message"], "approval_required": ["post_message"]}}}),
                responses={200: _ok("The connection's actions under the new policy.", "ActionList")},
                errors={404: ["not_found"], 422: BODY_ERRORS + ["invalid_field", "unknown_field",
                                                                ("unknown_action", ERROR_CODES["unknown_action"])]}),
        },
        "/v1/connectors/{connector_id}/execute": {
            "parameters": [CONNECTOR_ID],
            "post": _operation(
                operation_id="executeIntent", tag="Connectors", scope="actions", summary="Execute an intent",
                behaviour="The connectors spec's agentic execute: `intent` in words, routed to one of the "
                          "connector's allowed actions by the operator's OpenAI-compatible model when one is "
                          "configured (`ACTIONS_MODEL_BASE_URL`, `ACTIONS_MODEL`), else by the deterministic router "
                          "of each action's phrasings; `context` fills parameters the intent leaves out. The answer's "
                          "`router` says which decided (`model` or `rules`). An intent neither maps is "
                          "`422 could_not_route` with the actions and their parameters.\n" + RUN_BEHAVIOUR,
                request_body=_body("ExecuteIntentRequest", examples={"spec": {"value": {
                    "intent": "Send message to #general about deployment complete",
                    "context": {"channel": "general", "priority": "high"}, "dry_run": False}}}),
                responses=run_answers,
                errors=_with(run_errors, {422: [("could_not_route", ERROR_CODES["could_not_route"])],
                                          502: [("router_unavailable", ERROR_CODES["router_unavailable"])]})),
        },
    }
