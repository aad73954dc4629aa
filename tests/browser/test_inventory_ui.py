"""The Connections inventory in a real browser: one badge where status and health agree, filters
and pages, and the layout at a phone's width."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.extensions import db
from core.timeutil import utcnow
from tests.browser.helpers import PHONE, at_both_widths, sign_in
from tests.factories import make_connection, make_run

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def row(page, name):
    return page.locator("#inventory tbody tr", has=page.get_by_role("link", name=name, exact=True))


def test_status_and_health_that_agree_show_one_badge(live_app, workspace, page, screenshot):
    now = utcnow()
    with live_app.app_context():
        ws_id = workspace[0].id
        healthy = make_connection(ws_id, name="Sales Pipedrive", last_synced_at=now)
        make_run(healthy, started_at=now, finished_at=now)
        make_connection(ws_id, name="Broken Pipedrive", status="error", last_error="The provider said no.")
        make_connection(ws_id, name="Old GitHub", connector_type="github", status="disconnected",
                        disconnected_at=now)
        syncing = make_connection(ws_id, name="Busy GitHub", connector_type="github", status="syncing")
        make_run(syncing, status="running", started_at=now - timedelta(seconds=5))
    sign_in(page, workspace[1])

    # Different words: both badges, each labelled for screen readers.
    badges = row(page, "Sales Pipedrive").locator(".badge")
    expect(badges).to_have_count(2)
    expect(badges.nth(0)).to_have_text("Status: connected")
    expect(badges.nth(1)).to_have_text("Health: healthy")
    # The same word: one badge that says it is both.
    for name, word in (("Broken Pipedrive", "error"), ("Old GitHub", "disconnected"), ("Busy GitHub", "syncing")):
        badges = row(page, name).locator(".badge")
        expect(badges).to_have_count(1)
        expect(badges).to_have_text(f"Status and health: {word}")
        expect(row(page, name)).not_to_contain_text(f"{word} {word}")
    at_both_widths(page, screenshot, "inventory_badges")

    # The detail page uses the same macro.
    row(page, "Broken Pipedrive").get_by_role("link", name="Broken Pipedrive").click()
    expect(page.locator("#connection-detail .detail-badges .badge")).to_have_count(1)
    expect(page.locator("#connection-detail .detail-badges")).to_have_text("Status and health: error")
