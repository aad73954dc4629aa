"""Every console page at a phone's width (390 px) and at desktop width: the navigation stays
compact (two rows on a phone: the brand with the workspace and sign-out, then the page links, the
less used ones under More), the workspace name stays in view, and nothing makes the page scroll
sideways."""
import pytest
from playwright.sync_api import expect

from core.extensions import db
from core.timeutil import utcnow
from tests.browser.helpers import DESKTOP, PHONE, at_both_widths, sign_in
from tests.factories import make_connection, make_run, make_workspace

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def nav_rows(page) -> int:
    """How many rows the header's items take (items whose tops are within 8 px share a row)."""
    tops = page.evaluate("""() => [...document.querySelectorAll('header.topbar nav > ul > li')]
        .filter(li => li.offsetParent !== null).map(li => li.getBoundingClientRect().top)""")
    rows = []
    for top in sorted(tops):
        if not rows or top - rows[-1] > 8:
            rows.append(top)
    return len(rows)


MAIN_LINKS = ("Connections", "Search")
MORE_LINKS = ("API keys", "Members", "Audit log", "Usage")  # an admin's (every test here signs in as one)


def check_links_fit(page, header, links):
    for link in links:
        item = header.get_by_role("link", name=link, exact=True)
        expect(item).to_be_visible()
        box = item.bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= page.viewport_size["width"], link


def check_header(page, workspace_name: str, *, phone: bool):
    header = page.locator("header.topbar")
    more = header.locator("summary", has_text="More")
    if phone:
        # Two rows (issue #12: the links wrapped to three and hid the workspace name): the
        # first two pages' links, then More, which opens on the others.
        check_links_fit(page, header, MAIN_LINKS)
        for link in MORE_LINKS:
            expect(header.get_by_role("link", name=link, exact=True)).to_have_count(0)
        assert nav_rows(page) == 2
        more.click()
        check_links_fit(page, header, MORE_LINKS)
        more.click()
        expect(header.get_by_role("link", name="Usage", exact=True)).to_have_count(0)
    else:
        expect(more).to_be_hidden()
        check_links_fit(page, header, MAIN_LINKS + MORE_LINKS)
        assert nav_rows(page) == 1
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    expect(header.get_by_text(workspace_name, exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_every_page_at_390_px_and_at_desktop_width(live_app, workspace, page, screenshot):
    now = utcnow()
    with live_app.app_context():
        ws_id = workspace[0].id
        connection = make_connection(ws_id, name="Sales Pipedrive with a rather long name", last_synced_at=now,
                                     display_name="Acme Sales", handle="acme-sales")
        make_run(connection, started_at=now, finished_at=now, records_written=1830, streams_total=3)
        connection_id = connection.id
    sign_in(page, workspace[1])
    pages = {
        "connections": "/connections",
        "catalog": "/connections/new",
        "connect_api_key": "/connections/new/pipedrive",
        "connect_oauth": "/connections/new/github",
        "connect_handle": "/connections/new/twitter",
        "connect_webhook": "/connections/new/webhook",
        "detail": f"/connections/{connection_id}",
        "disconnect": f"/connections/{connection_id}/disconnect",
        "search": "/search",
        "search_results": "/search?q=deals&include_reasoning=1",
        "api_keys": "/settings/api-keys",
        "members": "/settings/members",
        "usage": "/usage",
    }
    for name, path in pages.items():
        page.set_viewport_size(PHONE)
        page.goto(path)
        check_header(page, "Acme", phone=True)
        page.set_viewport_size(DESKTOP)
        check_header(page, "Acme", phone=False)
        at_both_widths(page, screenshot, f"layout_{name}")


def test_the_workspace_switcher_fits_at_390_px(live_app, workspace, page, screenshot):
    with live_app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        other, _ = make_workspace("Globex Corporation International")
        from accounts.models import Membership

        db.session.add(Membership(workspace_id=other.id, user_id=user.id, role="admin"))
        db.session.commit()
    sign_in(page, workspace[1])
    page.set_viewport_size(PHONE)
    switcher = page.get_by_label("Workspace")
    expect(switcher).to_be_visible()
    expect(switcher.locator("option:checked")).to_have_text("Acme")
    at_both_widths(page, screenshot, "layout_switcher")
    page.set_viewport_size(PHONE)
    assert nav_rows(page) == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_on_a_phone_more_holds_the_other_pages_and_marks_the_current_one(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    page.set_viewport_size(PHONE)
    page.goto("/settings/members")
    header = page.locator("header.topbar")
    more = header.locator("summary", has_text="More")
    expect(more).to_have_class("nav-more-current")  # the page shown is one of those under More
    more.click()
    current = header.get_by_role("link", name="Members", exact=True)
    expect(current).to_have_attribute("aria-current", "page")
    screenshot("layout_more_open_390")
    page.get_by_role("link", name="Audit log", exact=True).click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(header.locator("details.nav-menu")).not_to_have_attribute("open", "")  # a new page: closed
    page.goto("/search")
    expect(more).not_to_have_class("nav-more-current")
