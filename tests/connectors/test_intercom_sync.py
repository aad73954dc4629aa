"""Intercom end to end through the sync engine against the sandbox (the layout of test_gitlab_sync.py):
connect through the consent page, full (conversations with their parts, contacts, articles), readers
(teammates; published articles the workspace's), a no-change incremental that writes nothing,
changes (a new reply, an edited contact, a deleted conversation and article), a 429 storm waited
out, Intercom's words for a refusal, and a revoked token.

The sandbox holds SEED 42, SCALE 25: workspace Acme with five teammates (ada, bruno, chiara, dev,
emeka @acme-sandbox.example), 50 contacts, 50 conversations and 25 articles (every fourth a draft).
"""
import pytest

from connections.models import Connection
from tests.connectors.walk import sandbox
from tests.factories import detached, synced
from tests.oauth_helpers import consent, local_path

from .test_slack_sync import members, stored


@pytest.fixture
def intercom(app, api, client):
    started = api.post("/api/v1/connections", json={"connector_type": "intercom"}).json
    assert "/intercom/oauth?" in started["authorize_url"]
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection = api.get(f"/api/v1/connections/{started['connection']['id']}").json
    assert connection["status"] == "connected" and connection["handle"] == "ada@acme-sandbox.example"
    return started["connection"]["id"]


def listed(member, kind):
    return {d["external_id"] for d in member.get("/api/v1/documents?source=intercom&limit=500").json["documents"]
            if d["type"] == kind}


def test_full_readers_incremental_changes_and_deletion(app, api, intercom, workspace, sandbox_server):
    people = members(app, api, workspace, ("chiara@acme-sandbox.example", "lena0@customer.example"))
    first = synced(app, api, intercom)
    assert first["status"] == "completed", first
    conversations, articles = stored(app, intercom, type="conversation"), stored(app, intercom, type="article")
    assert len(conversations) == 50 and len(stored(app, intercom, type="contact")) == 50 and len(articles) == 25
    # Parts are read per conversation (search answers carry none): replies and notes, not assignments.
    assert any("Note by " in d.content for d in conversations.values())
    assert all("<p>" not in d.content for d in [*conversations.values(), *articles.values()])

    teammate, customer = people["chiara@acme-sandbox.example"], people["lena0@customer.example"]
    published = {i for i, d in articles.items() if d.metadata_["state"] == "published"}
    assert len(published) == 19
    assert listed(teammate, "conversation") == set(conversations) and listed(teammate, "article") == set(articles)
    assert listed(customer, "conversation") == set() and listed(customer, "article") == published

    quiet = synced(app, api, intercom, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["documents_deleted"]) == (0, 0, 0)

    sandbox(sandbox_server, "POST", "/_sandbox/collections/intercom/parts",
            json={"conversation": "7", "body": "Zanzibar refund sent", "kind": "comment", "admin": 2})
    sandbox(sandbox_server, "PATCH", "/_sandbox/collections/intercom/contacts/5", json={"name": "Wilhelmina Berg"})
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/intercom/conversations/9")
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/intercom/articles/2")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    later = synced(app, api, intercom, full=False)
    assert later["status"] == "completed", later
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (0, 2, 2)
    conversations = stored(app, intercom, type="conversation")
    assert "Zanzibar refund sent" in conversations["7"].content and "9" not in conversations
    assert "2" not in stored(app, intercom, type="article")
    assert any(d.title.startswith("Wilhelmina Berg <") for d in stored(app, intercom, type="contact").values())


@pytest.mark.slow           # three Retry-After waits of a second, and their backoff
def test_a_429_storm_is_waited_out_and_a_refusal_keeps_intercoms_words(app, api, intercom, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "intercom", "kind": "rate_limit", "retry_after": 1, "count": 3,
        "path_prefix": "/intercom/api/conversations/search"})
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "intercom", "kind": "client_error", "status": 403, "count": 20,
        "path_prefix": "/intercom/api/articles"})
    run = synced(app, api, intercom)
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["intercom"] == 3
    assert len(stored(app, intercom, type="conversation")) == 50
    failed = {u["stream"]: u for u in run["failed_units"]}
    assert set(failed) == {"articles"}
    assert failed["articles"]["error_details"]["provider_code"] == "forbidden"


def test_a_revoked_token_asks_for_reconnection(app, api, intercom, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "intercom", "kind": "revoke_tokens"})
    run = synced(app, api, intercom)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert "Access Token Invalid" in run["error_message"]
    assert detached(app, Connection, intercom).needs_reauth is True
