"""The Audit log page in a real browser: an admin filters with the form (htmx), pages, downloads
the filtered CSV; a member sees only their own actions."""
import csv
import io
import re
from pathlib import Path
from types import SimpleNamespace
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from core.actor import Actor
from core.extensions import db
from tests.audit.helpers import entry, member_actor
from tests.browser.helpers import at_both_widths, sign_in
from tests.factories import add_member

pytestmark = pytest.mark.browser
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


@pytest.fixture
def trail(live_app, workspace):
    """Acme's trail: 55 connection checks by its admin, a key's sync with a formula-like name, and Mia's query."""
    with live_app.app_context():
        ws = db.session.merge(workspace[0])
        admin = db.session.merge(workspace[1])
        mia = add_member(ws, email="mia@example.com")
        a, m = member_actor(ws.id, admin), member_actor(ws.id, mia, role="member", address="198.51.100.4")
        for n in range(55):
            entry(a, "connection.checked", target_type="connection", target_id=f"conn_{n:02d}", commit=False,
                  outcome="failure" if n % 10 == 0 else "success", details={"ok": n % 10 != 0},
                  at=T0 + timedelta(minutes=n))
        db.session.commit()
        entry(Actor(type="api_key", id="key_nightly000000000", label="=nightly", workspace_id=ws.id),
              "sync.requested", target_type="connection", target_id="conn_01", details={"mode": "full"},
              at=T0 + timedelta(hours=2))
        entry(m, "query.executed", target_type="query", target_id="qry_mia", at=T0 + timedelta(hours=3),
              details={"via": "console", "query": "refund policy", "filters": {}, "limit": 10, "result_count": 4})
        return SimpleNamespace(email=mia.email)


def rows(page):
    return page.locator("#audit-entries tbody tr")


def test_an_admin_filters_pages_and_downloads_the_audit_log(live_app, workspace, trail, page, screenshot):
    sign_in(page, workspace[1])
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(rows(page)).to_have_count(50)
    expect(rows(page).first).to_contain_text("auth.sign_in")  # this very sign-in, newest
    at_both_widths(page, screenshot, "audit_log")

    page.get_by_role("link", name="Older →").click()
    expect(rows(page)).to_have_count(8)  # 58 in all: the 55, the key's, Mia's, this sign-in
    expect(page.get_by_role("link", name="← Newest")).to_be_visible()

    page.goto("/audit-log")
    # Each field committed as a person leaves it (Tab): a field still focused would fire its
    # change later, on the click below, and the list it refreshes replaces the CSV link mid-click.
    page.get_by_label("Action").fill("connection.*")
    page.get_by_label("Action").press("Tab")
    page.get_by_label("Outcome").select_option("failure")  # a change: htmx applies the form
    expect(rows(page)).to_have_count(6)
    expect(page).to_have_url(re.compile(r"action=connection\.\*.*outcome=failure"))
    screenshot("audit_log_filtered")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(lines) == 7 and {line[5] for line in lines[1:]} == {"connection.checked"}
    assert {line[8] for line in lines[1:]} == {"failure"}

    page.get_by_label("Action").fill("sync.requested")
    page.get_by_label("Action").press("Tab")
    page.get_by_label("Outcome").select_option("")
    expect(page).to_have_url(re.compile(r"action=sync\.requested.*outcome=(&|$)"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("=nightly")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert lines[1][4] == "'=nightly"  # escaped: a spreadsheet shows it, never runs it

    page.get_by_label("Action").fill("teleport.*")
    page.get_by_label("Action").press("Enter")
    expect(page.locator("#audit-error")).to_contain_text("invalid_parameter")
    expect(page.get_by_role("button", name="Download CSV")).to_be_hidden()  # nothing to download
    screenshot("audit_log_bad_filter")
    page.reload()  # the same refused filter as a whole page
    expect(page.locator("#audit-error")).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV")).to_be_hidden()
    page.get_by_label("Action").fill("sync.*")
    page.get_by_label("Action").press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()


def test_the_csv_link_takes_the_filter_typed_but_not_yet_applied(live_app, workspace, trail, page):
    """A person types a filter and goes straight to Download CSV, without leaving the field: the
    CSV is the one of what they typed, and the list's refresh (leaving the field starts it) does
    not swallow the click."""
    sign_in(page, workspace[1])
    page.goto("/audit-log")
    expect(rows(page)).to_have_count(50)
    page.get_by_label("Action").fill("sync.requested")  # still focused: no change event yet
    link = page.get_by_role("button", name="Download CSV")
    expect(link).to_have_attribute("href", re.compile(r"^/audit-log\.csv\?action=sync\.requested$"))
    with page.expect_download() as download:
        link.hover()
        page.mouse.down()  # focus leaves the field: its change refreshes the list meanwhile
        expect(rows(page)).to_have_count(1)
        page.mouse.up()
    lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [line[5] for line in lines[1:]] == ["sync.requested"]
    expect(link).to_have_attribute("href", re.compile(r"action=sync\.requested"))


def test_a_member_sees_their_own_actions(live_app, trail, page, screenshot):
    sign_in(page, trail)
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("Your own actions in this workspace")).to_be_visible()
    expect(rows(page)).to_have_count(2)  # this sign-in and the query
    expect(page.locator("#audit-entries")).not_to_contain_text("connection.checked")
    expect(page.get_by_label("Actor")).to_have_count(0)
    at_both_widths(page, screenshot, "audit_log_member")


def test_an_admin_requests_a_full_verification_and_sees_where_the_chain_broke(live_app, workspace, trail, page,
                                                                               screenshot):
    from audit import chain
    from tests.audit.helpers import edit_entry

    sign_in(page, workspace[1])
    page.goto("/audit-log")
    panel = page.locator("#audit-chain")
    expect(panel).to_contain_text("Full verification: none yet.")
    page.get_by_role("button", name="Verify the whole chain").click()
    expect(page.locator("#flashes")).to_contain_text("A full verification of the audit chain is queued")
    expect(panel).to_contain_text("waits for the scheduler")
    expect(page.get_by_role("button", name="Verify the whole chain")).to_have_count(0)
    with live_app.app_context():
        ws = workspace[0].id
        edit_entry(ws, 11)
        chain.run_due_full_walks()  # the scheduler leader's part
        db.session.remove()
    page.reload()
    expect(panel).to_contain_text("broken")
    expect(panel).to_contain_text("the chain breaks at place 11")
    expect(page.get_by_role("button", name="Verify the whole chain")).to_be_visible()
    at_both_widths(page, screenshot, "audit_log_full_verification")
