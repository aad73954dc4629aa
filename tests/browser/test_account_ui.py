"""The Usage page and the invitation flow in a real browser (CSRF on): an admin sees usage as
server-drawn charts with the figures as text and a warning near a limit; an admin invites someone,
the link is opened in a fresh browser context, a password is set and the person lands in the
workspace; pending invitations are resent and revoked from the Members page."""
import re

import pytest
from playwright.sync_api import expect

from core.extensions import db
from knowledge.models import QueryLog
from tests.browser.helpers import at_both_widths, sign_in
from tests.factories import make_connection, make_run

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def test_an_admin_reads_usage_and_is_warned_near_a_limit(live_app, workspace, page, screenshot):
    ws = workspace[0]
    live_app.config["LIMIT_QUERIES_PER_DAY"] = 10
    with live_app.app_context():
        for latency in (12, 18, 25, 31, 40, 55, 70, 90, 140):
            db.session.add(QueryLog(workspace_id=ws.id, via="console", query="q", filters={}, result_limit=10,
                                    result_ids=[], candidates={}, latency_ms=latency))
        github = make_connection(ws.id, connector_type="github", name="Acme GitHub")
        make_run(github, records_written=420)
        make_run(github, records_written=35, status="failed")
        db.session.commit()
    sign_in(page, workspace[1])
    warning = page.locator(".limit-warning")
    expect(warning).to_contain_text("This workspace is at 90.0 % of its limit of 10 queries per day (UTC day).")
    page.get_by_role("link", name="Usage").first.click()
    expect(page).to_have_url(re.compile(r"/usage$"))
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    expect(page.locator("svg.usage-chart-svg")).to_have_count(4)
    expect(page.locator("svg.usage-chart-svg rect.bar").first).to_be_attached()
    figures = page.locator(".figures").nth(1)
    expect(figures).to_contain_text("Queries9")
    expect(figures).to_contain_text("40.0 / 140.0 ms")
    expect(page.locator("[data-limit=queries_per_day]")).to_contain_text("90.0 %")
    expect(page.get_by_role("link", name="Acme GitHub")).to_be_visible()
    at_both_widths(page, screenshot, "usage_week")
    page.get_by_role("button", name="Last 24 hours").click()
    expect(page).to_have_url(re.compile(r"period=day"))
    expect(page.locator("figure.usage-chart figcaption").first).to_have_text("Queries")
    screenshot("usage_day_desktop")


def test_the_whole_invitation_flow(live_app, workspace, page, browser, base_url, screenshot):
    sign_in(page, workspace[1])
    page.get_by_role("link", name="Members").click()
    page.get_by_label("E-mail to invite").fill("bob@example.com")
    page.locator("#invite-role").select_option("member")
    page.get_by_role("button", name="Invite", exact=True).click()
    link = page.get_by_label("Invitation link")
    expect(link).to_be_visible()
    url = link.input_value()
    assert re.fullmatch(re.escape(base_url) + r"/invitations/[A-Za-z0-9_-]{40,}", url), url
    expect(page.locator("table.invitations")).to_contain_text("bob@example.com")
    at_both_widths(page, screenshot, "invitation_link_shown_once")
    # Shown once: the page reloaded does not show it again.
    page.goto("/settings/members")
    expect(page.get_by_label("Invitation link")).to_have_count(0)

    # Bob, in a browser of his own, opens the link, sets a password and lands in Acme.
    bob_context = browser.new_context(base_url=base_url)
    bob = bob_context.new_page()
    bob.goto(url)
    expect(bob.get_by_role("heading", name="Join Acme")).to_be_visible()
    bob.get_by_label("Your name").fill("Bob Builder")
    bob.get_by_label("Password").fill("short")
    bob.get_by_role("button", name="Join Acme").click()
    expect(bob.locator("#password-error")).to_contain_text("at least 10 characters")
    bob.screenshot(path=str(__import__("tests.browser.conftest", fromlist=["SCREENSHOTS"]).SCREENSHOTS
                            / "invitation_weak_password.png"), full_page=True)
    bob.get_by_label("Your name").fill("Bob Builder")
    bob.get_by_label("Password").fill("a long enough password")
    bob.get_by_role("button", name="Join Acme").click()
    expect(bob).to_have_url(re.compile(r"/connections$"))
    expect(bob.get_by_text("Welcome to Acme.")).to_be_visible()
    expect(bob.locator(".workspace-name")).to_have_text("Acme")
    bob.screenshot(path=str(__import__("tests.browser.conftest", fromlist=["SCREENSHOTS"]).SCREENSHOTS
                            / "invitation_landed.png"), full_page=True)
    # The link works once.
    bob.goto(url)
    expect(bob.get_by_text("This invitation link is not valid")).to_be_visible()
    bob_context.close()

    # The admin sees Bob among the members and no pending invitation.
    page.goto("/settings/members")
    expect(page.locator("#members")).to_contain_text("bob@example.com")
    expect(page.locator("table.invitations")).to_have_count(0)


def test_resend_and_revoke(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/settings/members")
    page.get_by_label("E-mail to invite").fill("carol@example.com")
    page.get_by_role("button", name="Invite", exact=True).click()
    first = page.get_by_label("Invitation link").input_value()
    page.get_by_role("button", name="Resend the invitation of carol@example.com").click()
    second = page.get_by_label("Invitation link").input_value()
    assert first != second
    expect(page.get_by_role("heading", name="Renewed the invitation to carol@example.com")).to_be_visible()
    page.get_by_role("button", name="Revoke the invitation of carol@example.com").click()
    expect(page.get_by_text("Revoked the invitation of carol@example.com")).to_be_visible()
    expect(page.locator("table.invitations")).to_have_count(0)
    screenshot("invitation_revoked_desktop")
    page.goto(second)
    expect(page.get_by_text("This invitation link is not valid")).to_be_visible()


def test_an_expired_invitation_is_marked_and_resend_re_issues_it(live_app, workspace, page, screenshot):
    from datetime import timedelta

    from accounts import invitations
    from accounts.models import Invitation
    from core.timeutil import utcnow

    sign_in(page, workspace[1])
    page.goto("/settings/members")
    for email in ("dave@example.com", "erin@example.com"):
        page.get_by_label("E-mail to invite").fill(email)
        page.get_by_role("button", name="Invite", exact=True).click()
        expect(page.get_by_label("Invitation link")).to_be_visible()
    with live_app.app_context():
        lapsed = db.session.query(Invitation).filter_by(email="dave@example.com").one()
        lapsed.expires_at = utcnow() - timedelta(days=2)
        db.session.commit()
        assert invitations.sweep_expired() == 1
    page.goto("/settings/members")
    row = page.locator("tr[data-invitation-id]", has_text="dave@example.com")
    expect(row.locator(".chip-expired")).to_have_text("Expired")
    expect(row.get_by_role("button", name="Remove the invitation of dave@example.com")).to_be_visible()
    expect(page.locator("tr[data-status=pending]", has_text="erin@example.com")).to_be_visible()
    at_both_widths(page, screenshot, "invitation_expired")
    row.get_by_role("button", name="Resend the invitation of dave@example.com").click()
    expect(page.get_by_role("heading", name="Renewed the invitation to dave@example.com")).to_be_visible()
    link = page.get_by_label("Invitation link").input_value()
    expect(page.locator("tr[data-status=pending]", has_text="dave@example.com")).to_be_visible()
    page.goto(link)
    expect(page.get_by_text("This invitation link is not valid")).to_have_count(0)
