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


def many_connections(app, workspace_id, count=120):
    """``count`` connections, every fifth one in error and every seventh a GitHub one."""
    from connections.models import Connection

    start = utcnow() - timedelta(hours=2)
    with app.app_context():
        for index in range(count):
            db.session.add(Connection(
                workspace_id=workspace_id, connector_type="github" if index % 7 == 0 else "pipedrive",
                name=f"{'Sales' if index % 3 == 0 else 'Ops'} source {index:03d}", settings={},
                status="error" if index % 5 == 0 else "connected", last_synced_at=utcnow(),
                created_at=start + timedelta(seconds=index), connected_at=start))
        db.session.commit()


def test_inventory_filters_apply_as_they_change_and_pages_hold_fifty(live_app, workspace, page, screenshot):
    many_connections(live_app, workspace[0].id)
    sign_in(page, workspace[1])
    rows = page.locator("#inventory tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#inventory-count")).to_have_text("120 connections · showing 1–50")
    expect(rows.first).to_contain_text("source 119")  # newest first
    expect(page.locator(".health-summary")).to_contain_text("error 24")
    # With htmx the form applies as it changes: no Filter button to press.
    expect(page.locator(".inventory-filters").get_by_role("button", name="Filter")).to_be_hidden()
    at_both_widths(page, screenshot, "inventory_page_1")

    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"/connections\?page=2$"))
    expect(page.locator("#inventory-count")).to_have_text("120 connections · showing 51–100")
    expect(rows.first).to_contain_text("source 069")
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()

    page.get_by_label("Health", exact=True).select_option("error")
    expect(page.locator("#inventory-count")).to_have_text("24 connections match the filters")
    expect(page).to_have_url(re.compile(r"health=error"))
    expect(rows).to_have_count(24)
    for name in rows.locator(".conn-name").all_inner_texts():
        assert int(name.rsplit(" ", 1)[1]) % 5 == 0

    page.get_by_label("Find").fill("sales")
    expect(page.locator("#inventory-count")).to_have_text("8 connections match the filters")
    page.get_by_label("Connector").select_option("github")
    expect(page.locator("#inventory-count")).to_have_text("2 connections match the filters")
    expect(rows).to_have_count(2)
    expect(rows.locator(".conn-name")).to_have_text(["Sales source 105", "Sales source 000"])
    at_both_widths(page, screenshot, "inventory_filtered")

    page.get_by_label("Find").fill("nothing like this")
    expect(page.get_by_role("heading", name="No connection matches")).to_be_visible()
    page.get_by_role("button", name="Clear the filters").click()
    expect(page.locator("#inventory-count")).to_have_text("120 connections · showing 1–50")

    # A reload keeps what the address says.
    page.goto("/connections?health=error&page=2")
    expect(page.get_by_label("Health", exact=True)).to_have_value("error")
    expect(page.locator("#inventory-count")).to_have_text("24 connections match the filters")  # clamped to page 1


def test_inventory_filters_work_without_javascript(live_app, workspace, browser, base_url):
    many_connections(live_app, workspace[0].id, count=60)
    context = browser.new_context(java_script_enabled=False, base_url=base_url)
    page = context.new_page()
    try:
        sign_in(page, workspace[1])
        page.get_by_label("Status").select_option("error")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"status=error"))
        expect(page.locator("#inventory-count")).to_have_text("12 connections match the filters")
        page.goto("/connections")
        page.get_by_role("link", name="Next →").click()
        expect(page.locator("#inventory-count")).to_have_text("60 connections · showing 51–60")
    finally:
        context.close()
