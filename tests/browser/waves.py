"""Connecting connectors through the demo's consent pages, as a person does: each one's first sync
seen on its page, then one search per source filter finding a document that source synced (issue
#14's walk for wave 1, issue #18's for wave 2)."""
import re

from playwright.sync_api import expect
from sqlalchemy import select

from connectors import registry
from core.extensions import db
from knowledge import embedding_queue
from knowledge.models import Document
from sync import worker
from tests.browser.helpers import sign_in


def results(page):
    return page.locator("#search-results li.search-result")


def a_title_of(app, workspace, connector_type: str) -> str:
    """One synced document's title of this source that the signed-in member may read (what a
    person would remember and type); records hidden at the source are not theirs to find. A
    document with no parent: a comment's title repeats its page's, and the results show it
    under its page, without its own title."""
    from access import service as access
    from connections.models import Connection
    from tests.factories import user_actor_for

    with app.app_context():
        try:
            lists = access.allowed(user_actor_for(*workspace))
            return db.session.scalars(
                select(Document.title).join(Connection, Connection.id == Document.connection_id)
                .where(Connection.connector_type == connector_type, Document.title != "",
                       Document.parent_id.is_(None), access.readable(Document.access_id, lists))
                .order_by(Document.id).limit(1)).one()
        finally:
            db.session.remove()


def connect_sync_and_search(live_app, workspace, page, screenshot, types: tuple[str, ...], label: str,
                            keys: dict | None = None, fields: dict | None = None) -> None:
    """Connect each of ``types`` through its consent page (or with its key from ``keys``; ``fields``:
    {type: {label: value}}, the connect form's settings, Zendesk's subdomain), see its first sync
    complete, then find one of its documents with the search page's source filter; screenshots
    named ``<label>_...``."""
    keys, fields = keys or {}, fields or {}
    live_app.config["SYNC_ON_CONNECT"] = True
    sign_in(page, workspace[1])
    for connector_type in types:
        name = registry.get_class(connector_type).catalog.display_name
        page.goto(f"/connections/new/{connector_type}")
        for field_label, value in fields.get(connector_type, {}).items():
            page.get_by_label(field_label).fill(value)
            screenshot(f"{label}_{connector_type}_connect_form")
        if connector_type in keys:          # a token pasted into the form (Discord's bot token)
            page.get_by_label("API key").fill(keys[connector_type])
            page.get_by_role("button", name=f"Connect {name}").click()
        else:
            page.get_by_role("button", name=f"Continue to {name}").click()
            page.locator("#authorize").click()
        expect(page).to_have_url(re.compile(r"/connections/conn_[a-z0-9]+$"))
        expect(page.get_by_text(re.compile(rf"^{re.escape(name)} connected( as .+)?\.$"))).to_be_visible()
        progress = page.locator("section.run-progress")
        expect(progress).to_contain_text("full · on connect")
        screenshot(f"{label}_{connector_type}_first_sync")
        assert len(worker.drain(live_app)) == 1
        expect(page.locator("table.runs .badge-run-completed")).to_be_visible(timeout=15000)
    embedding_queue.drain_embeddings(live_app)

    page.goto("/search")
    for connector_type in types:
        name = registry.get_class(connector_type).catalog.display_name
        title = a_title_of(live_app, workspace, connector_type)
        page.goto("/search")
        page.get_by_text("Filters", exact=True).click()
        page.get_by_label(name, exact=True).check()
        page.get_by_role("searchbox", name="Search documents").fill(title)
        page.get_by_role("button", name="Search", exact=True).click()
        expect(results(page).filter(has_text=title[:40]).first).to_be_visible()
        for item in results(page).all():
            expect(item.locator(".search-result-meta").first).to_contain_text(name)
        screenshot(f"{label}_search_{connector_type}")
