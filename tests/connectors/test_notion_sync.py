"""Notion end to end through the sync engine against the sandbox, in the layout of
test_twitter_sync.py: connected through the consent page; a full sync that waits out a 429;
incremental runs with no change, with changes (one within the cursor's minute), with pages
trashed (tombstones) and deleted for good (confirmed by id); readers in the source access mode;
an error body in Notion's words; a revoked token.
"""
import pytest
import requests
from sqlalchemy import select

from connections.models import Connection
from core.extensions import db
from knowledge.models import Document
from sandbox.providers.notion import nid
from sync import worker
from tests.connectors.walk import sandbox, sync
from tests.oauth_helpers import consent, local_path

SCALE = 8
# sandbox/providers/notion.py at that scale: 8 pages (odd ids), 8 rows (even ids) of 2 data
# sources, and 8 comments, two to a page, on pages 1, 3, 5 and 7; page 7 is published to the web.
PAGES, ROWS, SOURCES, DISCUSSED = 8, 8, 2, 4


@pytest.fixture(scope="module")
def notion_sandbox():
    """A sandbox of this module's own, at a small scale: a full sync makes one request per page
    and per nested block, and the shared one's scale would take the walk past its time budget."""
    from sandbox import create_app as create_sandbox
    from tests.conftest import LiveServer

    server = LiveServer(create_sandbox({"SEED": 42, "SCALE": SCALE}))
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, notion_sandbox):
    requests.post(f"{notion_sandbox.url}/_sandbox/reset", timeout=5).raise_for_status()
    return {**app_config, "SANDBOX_URL": notion_sandbox.url}


@pytest.fixture
def notion(app, api, client):
    """A connection made as the console makes it: the consent page, then the callback."""
    started = api.post("/api/v1/connections", json={"connector_type": "notion"}).json
    # Notion's authorize takes owner=user and documents no PKCE (its token endpoint checks its JSON).
    assert "owner=user" in started["authorize_url"] and "code_challenge" not in started["authorize_url"]
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    with app.app_context():
        connection = db.session.get(Connection, started["connection"]["id"])
        # Notion allows 180 requests a minute, fewer than these walks make in all: the tests
        # lift this connection's limit (a connection setting), so a walk takes seconds.
        connection.settings = {"requests_per_minute": 0}
        db.session.commit()
        db.session.remove()
    return started["connection"]["id"]


def stored(app, connection_id) -> dict[tuple[str, str], str]:
    """(type, external id) -> content of every document the connection holds."""
    with app.app_context():
        try:
            rows = db.session.execute(select(Document.type, Document.external_id, Document.content)
                                      .where(Document.connection_id == connection_id))
            return {(kind, ext): content for kind, ext, content in rows}
        finally:
            db.session.remove()


def page(n: int) -> str:
    return nid("page", n)


def test_connect_full_incremental_changes_and_deletions(app, api, notion, notion_sandbox):
    shown = api.get(f"/api/v1/connections/{notion}").json
    assert shown["name"] == "Notion (Sandbox Labs)" and shown["external_account_id"] == nid("workspace", 1)
    # Page 1 edited now: the newest last_edited_time, so the minute the first sync's cursor holds.
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/1", json={"title": "Kale rollout"})
    sandbox(notion_sandbox, "POST", "/_sandbox/faults", json={"provider": "notion", "kind": "rate_limit",
                                                             "retry_after": 1, "path_prefix": "/notion/v1/search"})
    first = sync(app, api, notion)
    assert first["status"] == "completed" and first["documents_created"] == PAGES + SOURCES + ROWS + DISCUSSED
    assert sandbox(notion_sandbox, "GET", "/_sandbox/stats")["rate_limited"]["notion"] == 1
    docs = stored(app, notion)
    for structure in ("# Plan: ", "\n- [", "\n  - ", "\n1. Ship it", "\n```", "| Metric | Target |\n| --- | --- |",
                      "\n  > ", "\nPage: "):          # headings, to-dos, nesting, code, tables, subpages
        assert structure in docs[("page", page(1))], structure
    assert "Status: " in docs[("database_entry", page(2))]

    quiet = sync(app, api, notion, full=False)
    assert quiet["status"] == "completed"
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    # Page 1 edited again, within the cursor's minute (the same last_edited_time; only its content
    # moved); a row changed; pages trashed (tombstones) and one deleted for good (404, by id).
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/1",
            json={"blocks": [{"type": "paragraph", "text": "Rollout moved to Thursday"}]})
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/2", json={"status": "Done"})
    before = set(stored(app, notion))
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/3", json={"in_trash": True})
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/4", json={"in_trash": True})
    sandbox(notion_sandbox, "DELETE", "/_sandbox/collections/notion/pages/5")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0        # the incremental run also lists ids, then confirms
    later = sync(app, api, notion, full=False)
    gone = {("page", page(3)), ("comment", page(3)), ("database_entry", page(4)), ("page", page(5)),
            ("comment", page(5))}
    assert later["status"] == "completed"
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (0, 2, len(gone))
    assert set(stored(app, notion)) == before - gone
    assert stored(app, notion)[("page", page(1))].startswith("Rollout moved to Thursday\nPage: ")
    assert "Status: Done" in stored(app, notion)[("database_entry", page(2))]


def test_source_mode_shows_only_pages_published_to_the_web(app, api, notion, notion_sandbox):
    # Page 7 is published to the web (public_url); page 9 is not, and Notion will not say who reads it.
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/7", json={"title": "Zanzibar handbook"})
    sandbox(notion_sandbox, "PATCH", "/_sandbox/collections/notion/pages/9", json={"title": "Zanzibar secrets"})
    assert api.patch(f"/api/v1/connections/{notion}", json={"access_mode": "source"}).status_code == 200
    [run_id] = worker.drain(app)     # the full read a change of access mode queues
    run = next(r for r in api.get(f"/api/v1/connections/{notion}/runs").json["runs"] if r["id"] == run_id)
    published = {("page", page(7)), ("comment", page(7))}
    assert run["status"] == "completed"
    assert run["records_hidden"] == len(stored(app, notion)) - len(published)
    found = api.post("/api/v1/query", json={"query": "Zanzibar", "sources": ["notion"], "limit": 10}).json
    assert {(r["metadata"]["type"], r["metadata"]["external_id"]) for r in found["results"]} == {
        ("page", page(7)), ("comment", page(7))}


def test_a_refusal_is_shown_in_notions_own_words(app, api, notion, monkeypatch):
    from connectors.notion import NotionConnector

    monkeypatch.setattr(NotionConnector, "page_size", 101)        # Notion takes 1..100
    run = sync(app, api, notion)
    assert (run["status"], run["error_reason"]) == ("failed", "config")     # listing the databases, first
    details = run["error_details"]
    assert (details["provider_status"], details["provider_code"]) == (400, "validation_error")
    assert details["provider_message"] == "body failed validation: body.page_size should be ≤ `100`, instead was `101`."


def test_a_revoked_token_asks_for_a_reconnect(app, api, notion, notion_sandbox):
    sandbox(notion_sandbox, "POST", "/_sandbox/faults", json={"provider": "notion", "kind": "revoke_tokens"})
    run = sync(app, api, notion)
    assert (run["status"], run["error_reason"]) == ("failed", "auth")
    assert run["error_details"]["provider_code"] == "unauthorized"
    assert api.get(f"/api/v1/connections/{notion}").json["health"] == "needs_reauth"
