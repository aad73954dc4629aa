"""Members in a real browser (CSRF on): an admin changes roles and removes members with htmx and
without JavaScript; the only admin can be neither demoted nor removed, and is told why."""
import re

import pytest
from playwright.sync_api import expect

from accounts import service as accounts
from core.extensions import db
from tests.browser.helpers import at_both_widths, sign_in
from tests.factories import add_member, make_connection

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


@pytest.fixture
def team(live_app, workspace):
    """Acme's admin (the workspace fixture's user) plus Mia and Max, members; Mia has a mailbox."""
    with live_app.app_context():
        ws = db.session.merge(workspace[0])
        mia = add_member(ws, email="mia@example.com")
        max_ = add_member(ws, email="max@example.com")
        make_connection(ws.id, connector_type="gmail", name="Mia's mailbox", scope="personal", owner_user_id=mia.id)
        return {"mia": mia.id, "max": max_.id}


def member_row(page, name):
    return page.locator("#members tbody tr", has=page.get_by_text(name, exact=True))


def test_an_admin_changes_roles_and_removes_a_member(live_app, workspace, team, page, screenshot):
    sign_in(page, workspace[1])
    page.get_by_role("link", name="Members").click()
    me = member_row(page, "Acme admin (you)")

    # Alone as admin: no role form, no Remove, and the reason.
    expect(me.get_by_role("combobox")).to_have_count(0)
    expect(me.get_by_role("button", name=re.compile("Remove"))).to_have_count(0)
    expect(me).to_contain_text("The only admin: make someone else an admin before changing this role or removing yourself.")
    at_both_widths(page, screenshot, "members_only_admin")

    # Make Mia an admin (htmx swaps the list and says so).
    mia = member_row(page, "mia")
    mia.get_by_label("Role of mia").select_option("admin")
    mia.get_by_role("button", name="Change the role of mia").click()
    expect(page.get_by_text("mia is now an admin.")).to_be_visible()
    expect(member_row(page, "mia").get_by_label("Role of mia")).to_have_value("admin")
    # Now there are two admins: mine can change too.
    expect(member_row(page, "Acme admin (you)").get_by_role("combobox")).to_have_count(1)

    # Remove Max: a confirmation first; dismissing it keeps him.
    page.once("dialog", lambda dialog: dialog.dismiss())
    member_row(page, "max").get_by_role("button", name="Remove max").click()
    expect(member_row(page, "max")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    member_row(page, "max").get_by_role("button", name="Remove max").click()
    expect(page.get_by_text("Removed max (max@example.com) from this workspace.")).to_be_visible()
    expect(member_row(page, "max")).to_have_count(0)
    at_both_widths(page, screenshot, "members_after_changes")

    with live_app.app_context():
        assert accounts.membership(team["max"], workspace[0].id) is None
        assert accounts.membership(team["mia"], workspace[0].id).role == "admin"


def test_demoting_the_last_admin_is_refused_with_the_reason(live_app, workspace, team, page, screenshot):
    """Two admins; one steps down in another tab meanwhile: the other's stale form is refused."""
    with live_app.app_context():
        ws, me = (db.session.merge(x) for x in workspace)
        from tests.factories import user_actor_for

        accounts.change_role(user_actor_for(ws, me), team["mia"], "admin")
    sign_in(page, workspace[1])
    page.goto("/settings/members")
    with live_app.app_context():  # Mia is made a member again elsewhere
        accounts.change_role(user_actor_for(db.session.merge(workspace[0]), db.session.merge(workspace[1])),
                             team["mia"], "member")
    me = member_row(page, "Acme admin (you)")
    me.get_by_label("Role of Acme admin").select_option("member")
    page.once("dialog", lambda dialog: dialog.accept())
    me.get_by_role("button", name="Change the role of Acme admin").click()
    error = page.locator("#member-error")
    expect(error).to_contain_text("is this workspace's only admin and cannot be made a member")
    expect(error).to_contain_text("(last_admin)")
    expect(member_row(page, "Acme admin (you)")).to_contain_text("The only admin")
    at_both_widths(page, screenshot, "members_last_admin_refused")


def test_removing_a_member_without_javascript_confirms_on_a_page(live_app, workspace, team, browser, base_url):
    context = browser.new_context(java_script_enabled=False, base_url=base_url)
    page = context.new_page()
    try:
        sign_in(page, workspace[1])
        page.goto("/settings/members")
        member_row(page, "mia").get_by_role("button", name="Remove mia").click()
        expect(page).to_have_url(re.compile(rf"/settings/members/{team['mia']}/remove$"))
        expect(page.get_by_role("heading", name="Remove mia?")).to_be_visible()
        expect(page.get_by_text("Mia's mailbox")).to_be_visible()
        page.get_by_role("button", name="Remove mia").click()
        expect(page).to_have_url(re.compile(r"/settings/members$"))
        expect(page.get_by_text("Removed mia (mia@example.com) from this workspace. Their 1 personal "
                                "connection was disconnected.")).to_be_visible()
        expect(member_row(page, "mia")).to_have_count(0)
    finally:
        context.close()
