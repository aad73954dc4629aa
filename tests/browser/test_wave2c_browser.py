"""Issue #18's walk through the console for Freshdesk, Intercom and Figma. Freshdesk: an admin connects
it with the demo's key and the helpdesk's domain on its connect form, sees its first sync on its
page, and an agent of the helpdesk who is a member finds one of its tickets with the search page's
source filter. Intercom: connected through the demo's consent page, its first sync, and a teammate
finds a conversation the same way. Both sync in the ``source`` access mode: their records are the
agents' and teammates' who see them there. Figma: its teams asked on the connect form, its consent
page, its first sync, a design file found."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from knowledge import embedding_queue
from knowledge.models import Document
from sync import worker
from tests.browser.helpers import sign_in
from tests.factories import add_member

pytestmark = pytest.mark.browser


def member(live_app, workspace, email):
    """A member of the workspace who is also someone at the provider (an agent, a teammate)."""
    with live_app.app_context():
        user = add_member(db.session.merge(workspace[0]), email=email)
        db.session.refresh(user)
        db.session.expunge_all()
        db.session.remove()
    return user


def first_sync_completes(live_app, page, screenshot, label):
    """The connection's page after connect: its first sync runs and completes."""
    expect(page).to_have_url(re.compile(r"/connections/conn_[a-z0-9]+$"))
    assert len(worker.drain(live_app)) == 1
    expect(page.locator("table.runs .badge-run-completed")).to_be_visible(timeout=15000)
    screenshot(f"wave2c_{label}_first_sync")
    embedding_queue.drain_embeddings(live_app)


def found_by_source(live_app, page, screenshot, name, kind, reader=None):
    """One synced document of ``kind`` found by its title with the search page's source filter,
    by ``reader`` (signed in for it) or by whoever is signed in."""
    with live_app.app_context():
        title = db.session.scalars(select(Document.title).where(Document.type == kind)
                                   .order_by(Document.id).limit(1)).one()
        db.session.remove()
    if reader is not None:
        page.context.clear_cookies()
        sign_in(page, reader)
    page.goto("/search")
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label(name, exact=True).check()
    page.get_by_role("searchbox", name="Search documents").fill(title)
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.locator("#search-results li.search-result")
    expect(results.filter(has_text=title).first).to_be_visible()
    for item in results.all():
        expect(item.locator(".search-result-meta").first).to_contain_text(name)
    screenshot(f"wave2c_search_{name.lower()}")


def test_freshdesk_connects_with_its_domain_syncs_and_an_agent_finds_a_ticket(live_app, workspace, page, screenshot):
    live_app.config["SYNC_ON_CONNECT"] = True
    agent = member(live_app, workspace, "ada@acme-sandbox.example")
    sign_in(page, workspace[1])
    page.goto("/connections/new/freshdesk")
    page.get_by_label("API key").fill("sandbox-freshdesk-key")
    page.get_by_label("Helpdesk domain").fill("globex")
    page.get_by_role("button", name="Connect Freshdesk").click()
    expect(page.get_by_text("Freshdesk has no helpdesk at globex.freshdesk.com.")).to_be_visible()
    screenshot("wave2c_freshdesk_unknown_domain")
    page.get_by_label("API key").fill("sandbox-freshdesk-key")
    page.get_by_label("Helpdesk domain").fill("acme.freshdesk.com")
    screenshot("wave2c_freshdesk_connect_form")
    page.get_by_role("button", name="Connect Freshdesk").click()
    expect(page.get_by_text("Freshdesk connected as Freshdesk (acme.freshdesk.com).")).to_be_visible()
    expect(page.locator("section.run-progress")).to_contain_text("full · on connect")
    first_sync_completes(live_app, page, screenshot, "freshdesk")
    found_by_source(live_app, page, screenshot, "Freshdesk", "ticket", reader=agent)


def test_intercom_connects_through_its_consent_page_syncs_and_a_teammate_finds_a_conversation(
        live_app, workspace, page, screenshot):
    live_app.config["SYNC_ON_CONNECT"] = True
    teammate = member(live_app, workspace, "chiara@acme-sandbox.example")
    sign_in(page, workspace[1])
    page.goto("/connections/new/intercom")
    page.get_by_role("button", name="Continue to Intercom").click()
    screenshot("wave2c_intercom_consent")
    page.locator("#authorize").click()
    expect(page.get_by_text(re.compile(r"^Intercom connected( as .+)?\.$"))).to_be_visible()
    first_sync_completes(live_app, page, screenshot, "intercom")
    found_by_source(live_app, page, screenshot, "Intercom", "conversation", reader=teammate)


def test_figma_asks_for_its_teams_connects_through_consent_syncs_and_is_found(live_app, workspace, page, screenshot):
    """Figma lists no teams: the connect form asks for their ids before sending the admin to
    Figma's consent page; Figma's documents are the workspace's (its API names no readers)."""
    live_app.config["SYNC_ON_CONNECT"] = True
    sign_in(page, workspace[1])
    page.goto("/connections/new/figma")
    page.get_by_label("Team ids").fill("1200000000000000001")
    screenshot("wave2c_figma_connect_form")
    page.get_by_role("button", name="Continue to Figma").click()
    page.locator("#authorize").click()
    expect(page.get_by_text(re.compile(r"^Figma connected( as .+)?\.$"))).to_be_visible()
    first_sync_completes(live_app, page, screenshot, "figma")
    found_by_source(live_app, page, screenshot, "Figma", "design_file")


def test_a_figma_team_refused_after_the_sign_in_is_named_on_the_connect_form(live_app, workspace, page, screenshot):
    """Figma checks each team after the sign-in: one the account cannot read fails the connect,
    and the admin lands back on Figma's connect form with that team named on the Team ids field
    (nothing was connected), not a sentence about "a setting"."""
    sign_in(page, workspace[1])
    page.goto("/connections/new/figma")
    page.get_by_label("Team ids").fill("1200000000000000001, 4242")
    page.get_by_role("button", name="Continue to Figma").click()
    page.locator("#authorize").click()
    expect(page).to_have_url(re.compile(r"/connections/new/figma\?refused=channels&value=4242$"))
    teams = page.get_by_label("Team ids")
    expect(teams).to_have_attribute("aria-invalid", "true")
    error = page.locator("#channels-error")
    expect(error).to_have_text(re.compile(r"^Figma accepted the sign-in but refused team 4242: the account you signed "
                                          r"in with cannot read it, or there is no such team\. Nothing was connected"))
    expect(page.get_by_text("1200000000000000001")).to_have_count(0)    # only the refused team is named
    screenshot("wave2c_figma_refused_team")
    page.goto("/connections")
    expect(page.locator("#inventory")).not_to_contain_text("Figma")
