"""The Actions page in a real browser (Chromium, CSRF on): an admin connects Slack through the
sandbox's consent page, makes post_message wait for approval, types an intent, sees the dry run's
exact request and requests the run; four-eyes: she cannot approve what she asked for (she may
withdraw it); a second admin, Bea, in a browser of her own, approves it from the pending list (plan
shown) and sees the message the provider created; the sandbox received exactly the planned request,
once."""
import re

import pytest
from playwright.sync_api import expect

from tests.actions.helpers import writes
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import at_both_widths, sign_in
from tests.factories import add_member

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def test_an_intent_through_dry_run_approval_and_execution(live_app, workspace, page, browser, base_url, screenshot,
                                                          sandbox_server):
    from core.extensions import db

    with live_app.app_context():
        bea = add_member(db.session.merge(workspace[0]), email="bea@acme.example", role="admin")
        db.session.refresh(bea)
        db.session.expunge(bea)
    sign_in(page, workspace[1])
    page.goto("/connections/new/slack")
    page.get_by_role("button", name="Continue to Slack").click()
    page.locator("#authorize").click()
    expect(page).to_have_url(re.compile(r"/connections/conn_[a-z0-9]+$"))
    page.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("heading", name="Actions", exact=True)).to_be_visible()

    page.get_by_label("approval post_message").check()
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Action policy saved.")).to_be_visible()

    page.get_by_label("Intent").fill("make it nice")
    page.get_by_role("button", name="Plan (dry run)").click()
    expect(page.get_by_role("alert")).to_contain_text("could_not_route")
    expect(page.get_by_role("alert")).to_contain_text("Send message to #general about deployment complete")
    screenshot("actions_could_not_route")

    before = len(writes(sandbox_server, "slack"))
    page.get_by_label("Intent").fill("Send message to #general about deployment complete")
    page.get_by_role("button", name="Plan (dry run)").click()
    plan = page.locator(".plan-card")
    expect(plan).to_contain_text("Plan: post_message")
    expect(plan).to_contain_text("/slack/api/chat.postMessage")
    expect(plan).to_contain_text('"text": "deployment complete"')
    expect(plan).to_contain_text("Authorization: [redacted]")
    at_both_widths(page, screenshot, "actions_dry_run")
    assert len(writes(sandbox_server, "slack")) == before, "a dry run sends nothing"

    page.get_by_role("button", name="Request approval").click()
    expect(page.get_by_role("heading", name=re.compile("post_message"))).to_contain_text("pending approval")
    pending = page.locator(".pending-run")
    expect(pending).to_contain_text("Send message to #general about deployment complete")
    expect(pending).to_contain_text("/slack/api/chat.postMessage")
    expect(pending.locator(".four-eyes")).to_contain_text("another admin or the connection's owner approves it")
    expect(pending.get_by_role("button", name="Approve and run")).to_have_count(0)
    expect(pending.get_by_role("button", name="Withdraw")).to_be_visible()
    screenshot("actions_pending_approval")
    assert len(writes(sandbox_server, "slack")) == before
    actions_page = page.url

    other = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    try:
        beas = other.new_page()
        sign_in(beas, bea)
        beas.goto(actions_page)
        waiting = beas.locator(".pending-run")
        expect(waiting).to_contain_text("Send message to #general about deployment complete")
        expect(waiting.locator(".four-eyes")).to_have_count(0)
        waiting.get_by_role("button", name="Approve and run").click()
        expect(beas.get_by_role("heading", name=re.compile("post_message"))).to_contain_text("succeeded")
        expect(beas.locator("#outcome-heading + p a[href^='https://acme-sandbox.slack.com/archives/C0GENERAL1/p']")
               ).to_be_visible()
        expect(beas.locator(".pending-run")).to_have_count(0)
        at_both_widths(beas, lambda name: beas.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True),
                       "actions_executed")
    finally:
        other.close()
    (sent,) = writes(sandbox_server, "slack")[before:]
    assert sent["body"] == {"channel": "general", "text": "deployment complete"}
