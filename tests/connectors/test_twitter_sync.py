"""X end to end through the sync engine against the sandbox: the test layout every kit connector
copies (one walk per behaviour, small seeded scale, a few seconds per database).

full -> incremental with no change -> a new post -> deletion detection (id listing, then
confirmation by id) -> readers (source access mode) -> a 429 with Retry-After survived -> an
error body surfaced in the provider's own words.
"""
import pytest
from sqlalchemy import select

from core.extensions import db
from knowledge.models import Document
from sync import worker
from tests.connectors.walk import sandbox, sync

SCALE = 25      # tests/conftest.py seeds the sandbox with 25 posts per account


@pytest.fixture
def x(api):
    """A connection tracking @acme (what the console's connect form does: resolve, then connect)."""
    account = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}).json
    connected = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                      "external_account_id": account["external_account_id"]}).json
    return connected["connection"]["id"]


def stored(app, connection_id) -> set[str]:
    with app.app_context():
        try:
            return set(db.session.scalars(select(Document.external_id).where(Document.connection_id == connection_id)))
        finally:
            db.session.remove()


def test_full_incremental_and_deletion_detection(app, api, x, sandbox_server):
    first = sync(app, api, x)
    assert first["status"] == "completed" and first["documents_created"] == SCALE
    assert len(stored(app, x)) == SCALE

    quiet = sync(app, api, x, full=False)
    assert quiet["status"] == "completed"
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    post = sandbox(sandbox_server, "POST", "/_sandbox/x/posts", json={"username": "acme", "text": "Shipped the kit"})
    gone = sorted(stored(app, x), key=int)[:2]
    for post_id in gone:
        sandbox(sandbox_server, "DELETE", f"/_sandbox/x/posts/{post_id}")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0        # the incremental run also lists ids, then confirms
    later = sync(app, api, x, full=False)
    assert (later["documents_created"], later["documents_deleted"]) == (1, 2)
    assert stored(app, x) == (stored(app, x) | {post["id"]}) - set(gone) and post["id"] in stored(app, x)


def test_public_posts_are_read_by_the_whole_workspace(app, api, x, sandbox_server):
    post = sandbox(sandbox_server, "POST", "/_sandbox/x/posts", json={"username": "acme", "text": "Zanzibar launch day"})
    assert api.patch(f"/api/v1/connections/{x}", json={"access_mode": "source"}).status_code == 200
    worker.drain(app)               # the permissions pass a change of access mode queues
    run = sync(app, api, x)
    assert run["status"] == "completed" and run["records_hidden"] == 0      # readers declared: none hidden
    found = api.post("/api/v1/query", json={"query": "Zanzibar", "sources": ["twitter"], "limit": 5}).json
    assert [r["metadata"]["external_id"] for r in found["results"]] == [post["id"]]
    listed = api.get("/api/v1/documents?source=twitter&limit=100").json["documents"]
    assert len(listed) == SCALE + 1


def test_a_429_with_retry_after_is_waited_out(app, api, x, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "x", "kind": "rate_limit", "retry_after": 1,
                                                             "count": 1, "path_prefix": "/x/2/users/"})
    run = sync(app, api, x)
    assert run["status"] == "completed" and run["documents_created"] == SCALE
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["x"] == 1


def test_a_refusal_is_shown_in_the_providers_own_words(app, api, x, monkeypatch):
    from connectors.twitter import TwitterConnector

    monkeypatch.setattr(TwitterConnector, "page_size", 3)        # X takes 5..100 posts a page
    run = sync(app, api, x)
    [unit] = run["failed_units"]
    assert (unit["error_reason"], unit["error_code"]) == ("config", "provider_refused")
    details = unit["error_details"]
    assert details["provider_status"] == 400
    assert details["provider_message"] == "One or more parameters to your request was invalid."
    assert "is not between 5 and 100" in details["provider_errors"][0]["message"]
