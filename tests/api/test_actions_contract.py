"""The actions API against its OpenAPI document (every answer validated by ``Contract``) and the
sandbox's Slack: list, dry run, run, idempotent retries, approvals, policy refusals, scopes,
tenant isolation, personal connections, provider errors (a refusal, a rate limit, an outage),
and the audit trail. ``test_openapi.test_every_documented_response_is_exercised`` reads this
module's ``@covers`` too."""
import pytest
import requests
from sqlalchemy import select

from audit.models import AuditEvent
from core.extensions import db
from tests.actions.helpers import writes
from tests.api.test_openapi import MISSING_ACTION_RUN, MISSING_ID, contract, covers, key_with  # noqa: F401
from tests.connectors.atlassian_walk import connect as connect_oauth
from tests.factories import add_member, make_api_key, make_workspace

ACTIONS = "/api/v1/connections/{connection_id}/actions"
RUNS, RUN = ACTIONS + "/runs", ACTIONS + "/runs/{action_run_id}"
LIST, RUN_ACTION, POLICY = f"GET {ACTIONS}", f"POST {ACTIONS}", f"PUT {ACTIONS}/policy"
APPROVE, REJECT, EXECUTE = f"POST {RUN}/approve", f"POST {RUN}/reject", "POST /v1/connectors/{connector_id}/execute"
HELLO = {"action": "post_message", "parameters": {"channel": "#general", "text": "Deployment complete"}}


@pytest.fixture
def slack(app, client, workspace):
    return connect_oauth(app, client, workspace, "slack")


def at(connection_id, run_id=None):
    return {"connection_id": connection_id, "connector_id": connection_id, "action_run_id": run_id or MISSING_ACTION_RUN}


def fault(server, **spec):
    requests.post(f"{server.url}/_sandbox/faults", json={"provider": "slack", "count": 1, **spec},
                  timeout=5).raise_for_status()


def second_admin(app, workspace, email="bea@example.com") -> str:
    """A key of another admin of the workspace: the second person four-eyes asks for."""
    with app.app_context():
        ws = db.session.merge(workspace[0])
        return make_api_key(ws, add_member(ws, email=email, role="admin"), scopes=("admin",), name=email)


def audited(app, workspace_id) -> list[str]:
    with app.app_context():
        try:
            return [e.action for e in db.session.scalars(select(AuditEvent).where(
                AuditEvent.workspace_id == workspace_id, AuditEvent.action.like("action.%")).order_by(AuditEvent.id))]
        finally:
            db.session.remove()


@covers(f"{LIST} 200", f"{LIST} 404", f"{RUN_ACTION} 200", f"{RUN_ACTION} 201", f"{RUN_ACTION} 404",
        f"{RUN_ACTION} 409", f"{RUN_ACTION} 422", f"GET {RUNS} 200", f"GET {RUNS} 404", f"GET {RUNS} 422",
        f"GET {RUN} 200", f"GET {RUN} 404")
def test_list_plan_run_and_retry_without_posting_twice(app, workspace, contract, slack, sandbox_server):
    listed = contract.call(LIST, 200, path=at(slack)).get_json()
    (post,) = listed["actions"]
    assert post["name"] == "post_message" and post["provider_scope"] == "chat:write" and post["externally_visible"]
    assert post["allowed"] and not post["requires_approval"] and not post["exposed_over_mcp"]
    contract.call(LIST, 404, path=at(MISSING_ID))

    before = len(writes(sandbox_server, "slack"))
    plan = contract.call(RUN_ACTION, 200, path=at(slack), json={**HELLO, "dry_run": True}).get_json()
    assert plan["plan"][0]["url"].endswith("/slack/api/chat.postMessage") and len(writes(sandbox_server, "slack")) == before
    done = contract.call(RUN_ACTION, 201, path=at(slack), json=HELLO).get_json()
    again = contract.call(RUN_ACTION, 200, path=at(slack), json=HELLO).get_json()
    assert (again["id"], again["replayed"], again["result"]) == (done["id"], True, done["result"])
    assert len(writes(sandbox_server, "slack")) == before + 1, "a retried request never posts twice"
    keyed = {**HELLO, "idempotency_key": "deploy-2.4.1"}
    first = contract.call(RUN_ACTION, 201, path=at(slack), json=keyed).get_json()
    assert first["id"] != done["id"] and len(writes(sandbox_server, "slack")) == before + 2
    reused = contract.call(RUN_ACTION, 409, path=at(slack), json={**keyed, "parameters": {"channel": "general",
                                                                                           "text": "Other"}})
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"

    missing = contract.call(RUN_ACTION, 422, path=at(slack), json={"action": "post_message",
                                                                   "parameters": {"channel": "#general"}})
    assert missing.get_json()["error"]["details"]["parameter"] == "text"
    extra = contract.call(RUN_ACTION, 422, path=at(slack), json={**HELLO, "parameters": {**HELLO["parameters"],
                                                                                         "colour": "red"}})
    assert extra.get_json()["error"]["details"]["parameter"] == "colour"
    wrong = contract.call(RUN_ACTION, 422, path=at(slack), json={"action": "delete_channel"})
    assert wrong.get_json()["error"]["code"] == "unknown_action"
    refused = contract.call(RUN_ACTION, 422, path=at(slack), json={"action": "post_message", "parameters": {
        "channel": "engineering", "text": "hi"}}).get_json()["error"]
    assert refused["code"] == "CHANNEL_NOT_FOUND" and refused["details"]["provider_code"] == "not_in_channel"
    contract.call(RUN_ACTION, 404, path=at(MISSING_ID), json=HELLO)

    runs = contract.call(f"GET {RUNS}", 200, path=at(slack), query={"status": "failed"}).get_json()["runs"]
    assert [r["id"] for r in runs] == [refused["details"]["action_run_id"]]
    assert runs[0]["error"]["details"]["provider_code"] == "not_in_channel"
    contract.call(f"GET {RUNS}", 422, path=at(slack), query={"status": "sideways"})
    contract.call(f"GET {RUNS}", 404, path=at(MISSING_ID))
    shown = contract.call(f"GET {RUN}", 200, path=at(slack, done["id"])).get_json()
    assert shown["status"] == "succeeded" and shown["plan"][0]["method"] == "POST"
    contract.call(f"GET {RUN}", 404, path=at(slack))

    with app.app_context():
        from connections.models import Connection

        db.session.get(Connection, slack).status = "disconnected"
        db.session.commit()
    assert contract.call(RUN_ACTION, 409, path=at(slack), json={**HELLO, "idempotency_key": "after"}).get_json()[
        "error"]["code"] == "connection_not_connected"
    trail = audited(app, workspace[0].id)
    assert trail.count("action.executed") == 2 and trail.count("action.failed") == 1
    assert trail.count("action.planned") == 4       # the dry run, the two runs, the refused one


@covers(f"{RUN_ACTION} 202", f"{APPROVE} 201", f"{APPROVE} 404", f"{APPROVE} 409", f"{APPROVE} 422",
        f"{REJECT} 200", f"{REJECT} 404", f"{REJECT} 409", f"{POLICY} 200", f"{POLICY} 404", f"{POLICY} 422")
def test_policy_approval_and_rejection(app, workspace, contract, slack, sandbox_server):
    policy = contract.call(POLICY, 200, path=at(slack), json={"approval_required": ["post_message"]}).get_json()
    assert policy["actions"][0]["requires_approval"] and policy["policy"]["approval_required"] == ["post_message"]
    contract.call(POLICY, 404, path=at(MISSING_ID), json={})
    assert contract.call(POLICY, 422, path=at(slack), json={"mcp_tools": ["nope"]}).get_json()["error"]["code"] == \
        "unknown_action"

    before = len(writes(sandbox_server, "slack"))
    pending = contract.call(RUN_ACTION, 202, path=at(slack), json=HELLO).get_json()
    assert pending["status"] == "pending_approval" and len(writes(sandbox_server, "slack")) == before
    bea = second_admin(app, workspace)
    approved = contract.call(APPROVE, 201, path=at(slack, pending["id"]), key=bea).get_json()
    assert approved["status"] == "succeeded" and approved["decided_by"] == "bea@example.com"
    sent = writes(sandbox_server, "slack")[before:]
    assert [w["body"] for w in sent] == [pending["plan"][0]["body"]], "approval sends the plan as it was shown"
    contract.call(APPROVE, 409, path=at(slack, pending["id"]), key=bea)
    contract.call(APPROVE, 404, path=at(slack), key=bea)

    waiting = contract.call(RUN_ACTION, 202, path=at(slack), json={**HELLO, "idempotency_key": "k2"}).get_json()
    rejected = contract.call(REJECT, 200, path=at(slack, waiting["id"])).get_json()
    assert rejected["status"] == "rejected" and len(writes(sandbox_server, "slack")) == before + 1
    contract.call(REJECT, 409, path=at(slack, waiting["id"]))
    contract.call(REJECT, 404, path=at(slack))

    outside = contract.call(RUN_ACTION, 202, path=at(slack), json={"action": "post_message", "parameters": {
        "channel": "engineering", "text": "hi"}}).get_json()
    assert contract.call(APPROVE, 422, path=at(slack, outside["id"]), key=bea).get_json()["error"]["details"][
        "provider_code"] == "not_in_channel"

    contract.call(POLICY, 200, path=at(slack), json={"allowed_actions": []})
    refused = contract.call(RUN_ACTION, 403, path=at(slack), json={**HELLO, "idempotency_key": "k3"}).get_json()
    assert refused["error"]["code"] == "action_not_allowed"
    trail = audited(app, workspace[0].id)
    for step in ("action.policy_updated", "action.approval_requested", "action.approved", "action.executed",
                 "action.rejected", "action.failed", "action.refused"):
        assert step in trail, step


@covers(f"{RUN_ACTION} 429", f"{RUN_ACTION} 502", f"{APPROVE} 429", f"{APPROVE} 502")
def test_provider_rate_limits_and_outages(app, workspace, contract, slack, sandbox_server):
    bea = second_admin(app, workspace)
    fault(sandbox_server, kind="rate_limit", retry_after=120)
    limited = contract.call(RUN_ACTION, 429, path=at(slack), json=HELLO).get_json()["error"]
    assert limited["code"] == "provider_rate_limited"
    fault(sandbox_server, kind="server_error", status=503)
    down = contract.call(RUN_ACTION, 502, path=at(slack), json={**HELLO, "idempotency_key": "b"}).get_json()["error"]
    assert down["code"] == "provider_unavailable" and down["details"]["action_run_id"]
    # The retry of a request whose outcome is unknown (a 503 on a POST) is answered from the store.
    assert contract.call(RUN_ACTION, 502, path=at(slack), json={**HELLO, "idempotency_key": "b"}).get_json()[
        "error"]["details"]["replayed"] is True
    contract.call(POLICY, 200, path=at(slack), json={"approval_required": ["post_message"]})
    for kind, status, spec in (("c", 429, {"kind": "rate_limit", "retry_after": 120}),
                               ("d", 502, {"kind": "server_error", "status": 500})):
        pending = contract.call(RUN_ACTION, 202, path=at(slack), json={**HELLO, "idempotency_key": kind}).get_json()
        fault(sandbox_server, **spec)
        contract.call(APPROVE, status, path=at(slack, pending["id"]), key=bea)


@covers(f"{RUN_ACTION} 403", f"{APPROVE} 403", f"{EXECUTE} 404")
def test_scopes_owners_approvers_and_tenant_isolation(app, client, workspace, contract, slack):
    ws, admin = workspace
    with app.app_context():
        member = add_member(db.session.merge(ws), email="mo@example.com")
        member_key = make_api_key(db.session.merge(ws), member, scopes=("actions",))
        other_ws, other_admin = make_workspace("Globex")
        stranger = make_api_key(other_ws, other_admin, scopes=("admin",))
        from connections.models import Connection
        from core.timeutil import utcnow

        mail = Connection(workspace_id=ws.id, connector_type="gmail", name="Ada's mail", scope="personal",
                          status="connected", owner_user_id=admin.id, settings={}, credentials={"access_token": "t"},
                          connected_at=utcnow())
        db.session.add(mail)
        db.session.commit()
        mail_id = mail.id
    draft = {"action": "create_draft", "parameters": {"to": ["a@example.com"], "subject": "Hi", "body": "Hello"},
             "dry_run": True}
    assert contract.call(RUN_ACTION, 403, path=at(mail_id), json=draft, key=member_key).get_json()["error"][
        "code"] == "not_connection_owner"
    assert contract.call(RUN_ACTION, 200, path=at(mail_id), json=draft).get_json()["plan"][0]["url"].endswith(
        "/gmail/v1/users/me/drafts")

    contract.call(POLICY, 200, path=at(slack), json={"approval_required": ["post_message"]})
    pending = contract.call(RUN_ACTION, 202, path=at(slack), json=HELLO, key=member_key).get_json()
    assert pending["requested_by"] == "test key"
    assert contract.call(APPROVE, 403, path=at(slack, pending["id"]), key=member_key).get_json()["error"][
        "code"] == "approver_required"
    readonly = key_with(app, workspace, ["connections:read"])
    assert contract.call(LIST, 403, path=at(slack), key=readonly).get_json()["error"]["code"] == "insufficient_scope"
    assert contract.call(POLICY, 403, path=at(slack), json={}, key=member_key).get_json()["error"]["details"][
        "required_scope"] == "admin"

    for operation, status in ((LIST, 404), (RUN_ACTION, 404), (f"GET {RUN}", 404), (APPROVE, 404), (EXECUTE, 404)):
        body = {"intent": "Send message to #general about x"} if operation == EXECUTE else HELLO
        answer = contract.call(operation, status, path=at(slack, pending["id"]), key=stranger,
                               **({"json": body} if operation.startswith("POST") and operation != APPROVE else {}))
        assert answer.get_json()["error"]["code"] == "not_found", operation


@covers(f"{EXECUTE} 200", f"{EXECUTE} 201", f"{EXECUTE} 202", f"{EXECUTE} 409", f"{EXECUTE} 422", f"{EXECUTE} 429",
        f"{EXECUTE} 502")
def test_execute_an_intent_as_the_connectors_spec_says(app, contract, slack, sandbox_server):
    spec = {"intent": "Send message to #general about deployment complete",
            "context": {"channel": "general", "priority": "high"}}
    plan = contract.call(EXECUTE, 200, path=at(slack), json={**spec, "dry_run": True}).get_json()
    assert (plan["router"], plan["action"]) == ("rules", "post_message")
    assert plan["parameters"] == {"channel": "#general", "text": "deployment complete"}
    done = contract.call(EXECUTE, 201, path=at(slack), json=spec).get_json()
    assert done["router"] == "rules" and done["intent"] == spec["intent"] and done["result"]["channel"] == "C0GENERAL1"
    unclear = contract.call(EXECUTE, 422, path=at(slack), json={"intent": "make it nice"}).get_json()["error"]
    assert unclear["code"] == "could_not_route" and unclear["details"]["router"] == "rules"
    assert unclear["details"]["actions"][0]["required"] == ["channel", "text"]
    fault(sandbox_server, kind="rate_limit", retry_after=120)
    contract.call(EXECUTE, 429, path=at(slack), json={**spec, "idempotency_key": "limited"})
    contract.call(POLICY, 200, path=at(slack), json={"approval_required": ["post_message"]})
    assert contract.call(EXECUTE, 202, path=at(slack), json={**spec, "idempotency_key": "held"}).get_json()[
        "status"] == "pending_approval"
    first = contract.call(EXECUTE, 202, path=at(slack), json={**spec, "idempotency_key": "same"}).get_json()
    assert contract.call(EXECUTE, 409, path=at(slack), json={"intent": "Send message to #random about lunch",
                                                             "idempotency_key": "same"}).get_json()["error"][
        "details"]["action_run_id"] == first["id"]
    app.config.update(ACTIONS_MODEL_BASE_URL="http://127.0.0.1:9/v1", ACTIONS_MODEL="local")
    assert contract.call(EXECUTE, 502, path=at(slack), json=spec).get_json()["error"]["code"] == "router_unavailable"


def test_four_eyes_the_requester_does_not_approve_their_own_request(app, workspace, contract, slack, sandbox_server):
    """An action held for approval is approved by another person: not the key that asked, nor
    another key of the same member; rejecting one's own request (withdrawing it) is allowed. An
    admin may allow self-approval in the connection's policy."""
    contract.call(POLICY, 200, path=at(slack), json={"approval_required": ["post_message"]})
    before = len(writes(sandbox_server, "slack"))
    pending = contract.call(RUN_ACTION, 202, path=at(slack), json=HELLO).get_json()
    own = contract.call(APPROVE, 403, path=at(slack, pending["id"])).get_json()["error"]
    assert own["code"] == "self_approval_not_allowed" and own["details"]["requested_by"] == "test key"
    same_member = key_with(app, workspace, ["admin"])           # another key of the same admin
    assert contract.call(APPROVE, 403, path=at(slack, pending["id"]), key=same_member).get_json()["error"][
        "code"] == "self_approval_not_allowed"
    assert len(writes(sandbox_server, "slack")) == before, "nothing was sent"
    assert contract.call(f"GET {RUN}", 200, path=at(slack, pending["id"])).get_json()["status"] == "pending_approval"
    approved = contract.call(APPROVE, 201, path=at(slack, pending["id"]), key=second_admin(app, workspace)).get_json()
    assert approved["status"] == "succeeded" and len(writes(sandbox_server, "slack")) == before + 1

    withdrawn = contract.call(RUN_ACTION, 202, path=at(slack), json={**HELLO, "idempotency_key": "w"}).get_json()
    assert contract.call(REJECT, 200, path=at(slack, withdrawn["id"])).get_json()["status"] == "rejected"

    assert contract.call(POLICY, 422, path=at(slack), json={"self_approval": "yes"}).get_json()["error"][
        "details"]["field"] == "self_approval"
    allowed = contract.call(POLICY, 200, path=at(slack), json={"self_approval": True}).get_json()
    assert allowed["policy"]["self_approval"] is True and allowed["policy"]["approval_required"] == ["post_message"]
    mine = contract.call(RUN_ACTION, 202, path=at(slack), json={**HELLO, "idempotency_key": "self"}).get_json()
    assert contract.call(APPROVE, 201, path=at(slack, mine["id"])).get_json()["decided_by"] == "test key"
    assert len(writes(sandbox_server, "slack")) == before + 2
