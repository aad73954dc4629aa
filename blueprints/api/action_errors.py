"""The actions' stable error codes, what each means and a realistic body of each: they join
``openapi.ERROR_CODES`` / ``ERROR_EXAMPLES``. (The endpoints are declared with ``@endpoint`` in
``actions.py``; this catalogue is apart so that ``openapi.py`` reads it without importing views.)"""
from __future__ import annotations

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
    "self_approval_not_allowed": "Four-eyes: whoever requested the action (the same key, or another key of the "
                                 "same member) does not approve it; another admin or the connection's owner does, "
                                 "unless the connection's policy allows `self_approval`. `details.requested_by`.",
    "action_interrupted": "The process running the action stopped while its write was on its way, and the provider, "
                          "asked, has no trace of it: nothing was written (`details.in_flight`). Run it again with a "
                          "new idempotency key.",
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
    "self_approval_not_allowed": ("You requested this action: another admin or the connection's owner must approve "
                                  "it (four-eyes; an admin may allow self-approval in the connection's action "
                                  "policy).", {"requested_by": "Ada"}),
    "action_interrupted": ("The process running create_issue stopped while POST /repos/acme/api/issues was on its "
                           "way, and the provider has no trace of it: nothing was written. Run it again with a new "
                           "idempotency key.", {"in_flight": "POST /repos/acme/api/issues", "looked_up": True,
                                                "action_run_id": "act_7c2k9x0v7m2p1a8b", "replayed": True}),
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
