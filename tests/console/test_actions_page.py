"""The Actions page without JavaScript (plain forms, CSRF off here; the browser test runs it with
htmx and CSRF): plan then run, a plan submitted twice posts once, could_not_route explained, and
what a plain member may do (run workspace actions, not set the policy, not approve)."""
import json
import re

import pytest

from tests.actions.helpers import connect_oauth, writes
from tests.console.conftest import text_of


@pytest.fixture
def slack(app, client, workspace, admin):
    return connect_oauth(app, client, workspace, "slack")


def planned_form(page: str) -> dict:
    """The hidden fields of the plan's Run form, as the browser would post them."""
    import html

    form = page[page.index('class="card plan-card"'):]
    return {name: html.unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form)
            if name in ("action", "parameters", "router", "intent", "idempotency_key")}


def test_plan_then_run_posts_once(client, slack, sandbox_server):
    page = client.post(f"/connections/{slack}/actions/plan", data={"intent": "Post a message in #random: lunch is here"})
    assert page.status_code == 200
    body = text_of(page)
    assert "Plan: post_message" in body and "/slack/api/chat.postMessage" in body and "Authorization: [redacted]" in body
    form = planned_form(body)
    assert json.loads(form["parameters"]) == {"channel": "#random", "text": "lunch is here"}
    before = len(writes(sandbox_server, "slack"))
    first = client.post(f"/connections/{slack}/actions/run", data=form)
    assert first.status_code == 200 and "succeeded" in text_of(first)
    again = client.post(f"/connections/{slack}/actions/run", data=form)       # the form sent twice
    assert again.status_code == 200 and len(writes(sandbox_server, "slack")) == before + 1


def test_an_intent_it_cannot_route_says_how_to_say_it(client, slack):
    page = client.post(f"/connections/{slack}/actions/plan", data={"intent": "tidy up"})
    assert page.status_code == 422
    assert "could_not_route" in text_of(page) and "Send message to #general about deployment complete" in text_of(page)


def test_a_member_runs_but_neither_sets_the_policy_nor_approves(app, client, member_client, slack, sandbox_server):
    client.post(f"/connections/{slack}/actions/policy", data={"allowed_post_message": "1",
                                                             "approval_post_message": "1"})
    page = text_of(member_client.get(f"/connections/{slack}/actions"))
    assert "A workspace admin sets the policy." in page
    assert re.search(r'name="approval_post_message"[^>]*checked disabled', page)
    assert member_client.post(f"/connections/{slack}/actions/policy", data={}).status_code == 403
    planned = member_client.post(f"/connections/{slack}/actions/plan",
                                 data={"intent": "Send message to #general about the deploy"})
    held = member_client.post(f"/connections/{slack}/actions/run", data=planned_form(text_of(planned)))
    assert "pending approval" in text_of(held)
    run_id = re.search(r'id="run-(act_\w+)"', text_of(held)).group(1)
    refused = member_client.post(f"/connections/{slack}/actions/runs/{run_id}/approve")
    assert refused.status_code == 403 and "approver_required" in text_of(refused)
    before = len(writes(sandbox_server, "slack"))
    assert "succeeded" in text_of(client.post(f"/connections/{slack}/actions/runs/{run_id}/approve"))
    assert len(writes(sandbox_server, "slack")) == before + 1


def test_four_eyes_the_admin_does_not_approve_what_she_asked_for(app, client, workspace, slack, sandbox_server):
    """Her own pending run shows no Approve button but a Withdraw one, and an approval posted
    anyway is refused (nothing sent); a second admin approves it. With self-approval allowed in the
    policy (its checkbox), she approves her own."""
    from core.extensions import db
    from tests.console.conftest import sign_in
    from tests.factories import add_member

    client.post(f"/connections/{slack}/actions/policy", data={"allowed_post_message": "1",
                                                             "approval_post_message": "1"})
    planned = client.post(f"/connections/{slack}/actions/plan", data={"intent": "Send message to #general about v3"})
    held = text_of(client.post(f"/connections/{slack}/actions/run", data=planned_form(text_of(planned))))
    run_id = re.search(r'id="run-(act_\w+)"', held).group(1)
    pending = held[held.index(f'id="run-{run_id}"'):]
    pending = pending[:pending.index("</article>")]
    assert "You asked for this: another admin or the connection's owner approves it (four-eyes)." in pending
    assert "Approve and run" not in pending and ">Withdraw</button>" in pending
    before = len(writes(sandbox_server, "slack"))
    refused = client.post(f"/connections/{slack}/actions/runs/{run_id}/approve")
    assert refused.status_code == 403 and "self_approval_not_allowed" in text_of(refused)
    assert len(writes(sandbox_server, "slack")) == before

    with app.app_context():
        ws = db.session.merge(workspace[0])
        bea_id = add_member(ws, email="bea@example.com", role="admin").id
    bea = app.test_client()
    sign_in(bea, bea_id, workspace[0].id)
    theirs = text_of(bea.get(f"/connections/{slack}/actions"))
    assert "Approve and run" in theirs and "four-eyes)." not in theirs
    approved = bea.post(f"/connections/{slack}/actions/runs/{run_id}/approve")
    assert approved.status_code == 200 and "succeeded" in text_of(approved)
    assert len(writes(sandbox_server, "slack")) == before + 1

    client.post(f"/connections/{slack}/actions/policy", data={"allowed_post_message": "1", "approval_post_message": "1",
                                                             "self_approval": "1"})
    assert re.search(r'name="self_approval" value="1" checked', text_of(client.get(f"/connections/{slack}/actions")))
    planned = client.post(f"/connections/{slack}/actions/plan", data={"intent": "Send message to #general about v4"})
    mine = text_of(client.post(f"/connections/{slack}/actions/run", data=planned_form(text_of(planned))))
    own_id = re.search(r'id="run-(act_\w+)"', mine).group(1)
    assert "succeeded" in text_of(client.post(f"/connections/{slack}/actions/runs/{own_id}/approve"))
    assert len(writes(sandbox_server, "slack")) == before + 2
