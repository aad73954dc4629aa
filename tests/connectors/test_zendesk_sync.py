"""Zendesk end to end through the sync engine against the sandbox (the layout of
test_hubspot_sync.py): connected through the consent page; a full sync through a 429 on the
incremental export; incremental runs with no change and with changes (an edited ticket with a new
comment, a deleted ticket from the export's status, an archived article confirmed by id); a pass
resumed from its checkpoint; readers (a ticket's group and assignee, public articles); a refusal in
Zendesk's own words; a revoked token.
"""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.settings import ConnectorSettings
from connectors.zendesk import ZendeskConnector
from tests.connectors.walk import (changes_of, connect_oauth, counted, documents, own_sandbox, reset, revoked_run, sandbox,
                                   sync, to_source_mode)

SCALE = 8
# sandbox/providers/zendesk.py at that scale: 8 tickets (two comments each), 9 users (1 admin and
# 3 agents, in groups 1 and 2 by parity of their id), 5 articles (every fourth, from the first,
# restricted to a user segment).
COUNTS = {"ticket": 8, "user": 9, "article": 5}
zendesk_sandbox = own_sandbox(SCALE)


@pytest.fixture
def app_config(app_config, zendesk_sandbox):
    reset(zendesk_sandbox)
    return {**app_config, "SANDBOX_URL": zendesk_sandbox.url}


@pytest.fixture
def zendesk(app, api, client):
    return connect_oauth(app, api, client, "zendesk", expect="scope=tickets%3Aread+users%3Aread+hc%3Aread",
                         asked={"subdomain": "acme-sandbox"})


stored, record = documents, changes_of("zendesk")


def test_connect_full_incremental_changes_and_deletions(app, api, zendesk, zendesk_sandbox):
    assert api.get(f"/api/v1/connections/{zendesk}").json["external_account_id"] == "acme-sandbox"
    sandbox(zendesk_sandbox, "POST", "/_sandbox/faults", json={
        "provider": "zendesk", "kind": "rate_limit", "retry_after": 1, "count": 1,
        "path_prefix": "/zendesk/acme-sandbox/api/v2/incremental/tickets/cursor.json"})
    first = sync(app, api, zendesk)
    assert first["status"] == "completed" and first["documents_created"] == sum(COUNTS.values())
    assert sandbox(zendesk_sandbox, "GET", "/_sandbox/stats")["rate_limited"]["zendesk"] == 1
    docs = stored(app, zendesk)
    assert counted(docs, COUNTS) == COUNTS
    ticket = docs[("ticket", "1")]
    assert ticket.title.startswith("#1 ") and ticket.content.count("**") == 4 and ticket.author     # two comments
    assert ticket.url == "https://acme-sandbox.zendesk.com/agent/tickets/1"

    quiet = sync(app, api, zendesk, full=False)
    assert (quiet["status"], quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (
        "completed", 0, 0, 0)

    record(zendesk_sandbox, "POST", "comments", ticket="2", author_id=1, body="Zanzibar fix deployed", public=True)
    record(zendesk_sandbox, "PATCH", "tickets", "2", status="solved")    # a comment moves its ticket's updated_at
    record(zendesk_sandbox, "DELETE", "tickets", "3")                   # the export lists it as deleted
    record(zendesk_sandbox, "DELETE", "articles", "2")                  # gone from the listing, 404 by id
    app.config["PRUNE_INTERVAL_MINUTES"] = 0            # the incremental run also lists ids, then confirms
    early = sync(app, api, zendesk, full=False)         # the export leaves the last minute's changes for later
    assert (early["documents_updated"], early["documents_deleted"]) == (0, 1)        # only the article, by id
    sandbox(zendesk_sandbox, "POST", "/_sandbox/clock", json={"advance_seconds": 61})
    later = sync(app, api, zendesk, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (0, 1, 1)
    docs = stored(app, zendesk)
    assert "Zanzibar fix deployed" in docs[("ticket", "2")].content and "Status: solved" in docs[("ticket", "2")].content
    assert ("ticket", "3") not in docs and ("article", "2") not in docs


def reader_of(server, *, fresh=True, **settings):
    if fresh:
        reset(server)
    token = sandbox(server, "POST", "/_sandbox/tokens", json={"provider": "zendesk", "scope": "read"})["access_token"]
    connector = ZendeskConnector(ConnectorSettings("zendesk", {**ZendeskConnector.sandbox_settings(server.url),
                                                               **settings}))
    return connector, SyncContext(connection_id="c", connector_type="zendesk", credentials={},
                                  settings={"subdomain": "acme-sandbox"},
                                  access_token=lambda: token, readers_wanted=False)


def test_an_export_resumes_from_its_checkpoint(zendesk_sandbox):
    connector, ctx = reader_of(zendesk_sandbox, page_size=3)
    tickets = connector.spec("tickets").catalog_stream()
    reader = connector.read(ctx, tickets, state=None, mode="full")
    first = list(islice(reader, 1))
    reader.close()
    seen = {r["id"] for r in first[0].records}
    assert len(seen) == 3 and first[0].state["resume"]["page"]["cursor"]
    record(zendesk_sandbox, "DELETE", "tickets", "8")          # deleted while the export is stopped
    sandbox(zendesk_sandbox, "POST", "/_sandbox/clock", json={"advance_seconds": 61})     # past the export's minute
    rest = list(connector.read(ctx, tickets, state=first[0].state, mode="full"))
    later = {r["id"] for p in rest for r in p.records}
    assert seen.isdisjoint(later) and seen | later == set(range(1, SCALE)) and [p.deleted for p in rest][-1] == ["8"]
    assert rest[-1].state["cursor"] and "resume" not in rest[-1].state          # where the next pass starts


def test_source_mode_readers_are_the_tickets_group_and_assignee(app, api, zendesk, zendesk_sandbox, workspace):
    from tests.connectors.test_slack_sync import members

    connector, ctx = reader_of(zendesk_sandbox, fresh=False)
    shown = connector.api(ctx).get("/api/v2/users/show_many.json", {"ids": "2,3"})["users"]
    agents = {u["id"]: u for u in shown}
    people = members(app, api, workspace, [a["email"] for a in agents.values()] + ["customer@else.example"])
    run = to_source_mode(app, api, zendesk)
    assert run["status"] == "completed", run
    docs = stored(app, zendesk)
    for n, agent in agents.items():
        group = 1 + n % 2                                     # the sandbox's agent n is in group 1 + n % 2
        theirs = {ext for (kind, ext), d in docs.items() if kind == "ticket" and (
            d.metadata_["group_id"] == group or d.metadata_["assignee_id"] == n)}
        listed = people[agent["email"]].get("/api/v1/documents?source=zendesk&type=ticket&limit=500").json["documents"]
        assert theirs and {d["external_id"] for d in listed if d["type"] == "ticket"} == theirs
    outsider = people["customer@else.example"].get("/api/v1/documents?source=zendesk&limit=500").json["documents"]
    assert {d["type"] for d in outsider} == {"user", "article"}         # the directory and public articles
    assert {d["external_id"] for d in outsider if d["type"] == "article"} == {"2", "3", "4"}    # 1, 5: a segment's


def test_a_refusal_is_shown_in_zendesks_own_words(app, api, zendesk, zendesk_sandbox):
    sandbox(zendesk_sandbox, "POST", "/_sandbox/faults", json={
        "provider": "zendesk", "kind": "client_error", "status": 403, "count": 1,
        "path_prefix": "/zendesk/acme-sandbox/api/v2/help_center/incremental/articles.json"})
    run = sync(app, api, zendesk)
    failed = {u["stream"]: u for u in run["failed_units"]}
    assert set(failed) == {"articles"}
    details = failed["articles"]["error_details"]
    assert (details["provider_status"], details["provider_code"]) == (403, "Forbidden")
    assert details["provider_message"] == "Resource not accessible by integration"


def test_a_revoked_token_asks_for_a_reconnect(app, api, zendesk, zendesk_sandbox):
    run = revoked_run(app, api, zendesk_sandbox, "zendesk", zendesk)
    assert run["error_details"]["provider_message"] == "Couldn't authenticate you"


def test_the_subdomain_is_asked_at_connect_and_checked(app, api, zendesk_sandbox):
    missing = api.post("/v1/connectors", json={"connector_type": "zendesk"})
    assert missing.status_code == 422 and missing.json["error"]["details"]["field"] == "settings.subdomain"
    for wrong in ("-acme", "acme_corp", "a" * 64, "acme/../x", "acme.zendesk.com.evil.example", "acme corp"):
        refused = api.post("/v1/connectors", json={"connector_type": "zendesk", "settings": {"subdomain": wrong}})
        assert refused.status_code == 422, wrong
        assert (refused.json["error"]["code"], refused.json["error"]["details"]["field"]) == (
            "invalid_setting", "settings.subdomain"), wrong
        assert "acme for acme.zendesk.com" in refused.json["error"]["message"]
    started = api.post("/v1/connectors", json={"connector_type": "zendesk",
                                               "settings": {"subdomain": "https://Globex-2.zendesk.com/"}}).json
    # Zendesk's OAuth is the account's own: https://{subdomain}.zendesk.com/oauth/authorizations/new
    assert started["oauth_url"].startswith(f"{zendesk_sandbox.url}/zendesk/globex-2/oauth/authorizations/new?")
    assert api.get(f"/v1/connectors/{started['connector_id']}").json["settings"]["subdomain"] == "globex-2"


def test_two_accounts_by_subdomain_sync_their_own_records(app, api, client, zendesk, zendesk_sandbox):
    """Two connections, two Zendesk accounts: each reads its own subdomain's records, with its own
    token (the sandbox refuses a token at another account, as Zendesk does)."""
    globex = connect_oauth(app, api, client, "zendesk", asked={"subdomain": "globex"})
    assert api.get(f"/api/v1/connections/{globex}").json["external_account_id"] == "globex"
    assert api.post(f"/api/v1/connections/{globex}/check").json["ok"] is True      # asked at its own account
    assert sync(app, api, zendesk)["status"] == sync(app, api, globex)["status"] == "completed"
    acme, other = stored(app, zendesk), stored(app, globex)
    assert counted(acme, COUNTS) == counted(other, COUNTS) == COUNTS           # the same shape, seeded apart
    assert other[("ticket", "1")].url == "https://globex.zendesk.com/agent/tickets/1"
    titles = lambda docs: {d.title for (kind, _), d in docs.items() if kind == "ticket"}  # noqa: E731
    assert titles(acme) != titles(other)

    record(zendesk_sandbox, "PATCH", "tickets@globex", "1", subject="Quokka outage at Globex")
    sandbox(zendesk_sandbox, "POST", "/_sandbox/clock", json={"advance_seconds": 61})
    assert sync(app, api, globex, full=False)["documents_updated"] == 1
    assert sync(app, api, zendesk, full=False)["documents_updated"] == 0
    assert stored(app, globex)[("ticket", "1")].title == "#1 Quokka outage at Globex"
    assert "Quokka" not in stored(app, zendesk)[("ticket", "1")].title

    with app.app_context():
        from connections import oauth
        from core.extensions import db

        token = oauth.access_token(globex)
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{zendesk_sandbox.url}/zendesk/globex/api/v2/users/me.json", headers=headers,
                        timeout=5).status_code == 200
    assert requests.get(f"{zendesk_sandbox.url}/zendesk/acme-sandbox/api/v2/users/me.json", headers=headers,
                        timeout=5).status_code == 401


def expire_tokens(app, zendesk_sandbox, *connection_ids):
    """The access tokens' hour is over, at Zendesk (its clock) and as the connections know it."""
    from datetime import timedelta

    from connections.models import Connection
    from core.extensions import db
    from core.timeutil import utcnow

    sandbox(zendesk_sandbox, "POST", "/_sandbox/clock", json={"advance_seconds": 3601})
    with app.app_context():
        for connection_id in connection_ids:
            connection = db.session.get(Connection, connection_id)
            assert connection.token_expires_at is not None and connection.credentials["refresh_token"]
            connection.token_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()


def test_an_expired_token_is_refreshed_at_its_own_subdomain_and_the_sync_goes_on(app, api, client, zendesk_sandbox):
    """Zendesk's tokens expire when its OAuth client says so (here: an hour, as the sandbox's
    lifetime for Zendesk) and come with a refresh token: each connection refreshes at its own
    account (the sandbox refuses a refresh token at another subdomain) and syncs on."""
    sandbox(zendesk_sandbox, "POST", "/_sandbox/config", json={"access_token_ttl": {"zendesk": 3600}})
    acme = connect_oauth(app, api, client, "zendesk", asked={"subdomain": "acme-sandbox"})
    globex = connect_oauth(app, api, client, "zendesk", asked={"subdomain": "globex"})
    with app.app_context():
        from connections import oauth
        from core.extensions import db

        before = {c: oauth.access_token(c) for c in (acme, globex)}
        db.session.remove()
    expire_tokens(app, zendesk_sandbox, acme, globex)
    for connection_id in (acme, globex):
        run = sync(app, api, connection_id)
        assert (run["status"], run["documents_created"]) == ("completed", sum(COUNTS.values())), run
    assert sandbox(zendesk_sandbox, "GET", "/_sandbox/stats")["token_grants"]["zendesk"]["refresh_token"] == 2
    with app.app_context():
        after = {c: oauth.access_token(c) for c in (acme, globex)}      # fresh: no second refresh
        db.session.remove()
    assert all(after[c] != before[c] for c in (acme, globex))
    headers = {"Authorization": f"Bearer {after[globex]}"}
    assert requests.get(f"{zendesk_sandbox.url}/zendesk/globex/api/v2/users/me.json", headers=headers,
                        timeout=5).status_code == 200
    assert requests.get(f"{zendesk_sandbox.url}/zendesk/acme-sandbox/api/v2/users/me.json", headers=headers,
                        timeout=5).status_code == 401
    assert other_documents_kept(app, acme, globex)


def other_documents_kept(app, acme, globex) -> bool:
    """Each account's documents are its own after the refreshed runs (no mix-up of subdomains)."""
    ours, theirs = stored(app, acme), stored(app, globex)
    return (ours[("ticket", "1")].url == "https://acme-sandbox.zendesk.com/agent/tickets/1"
            and theirs[("ticket", "1")].url == "https://globex.zendesk.com/agent/tickets/1")


def test_a_revoked_refresh_token_asks_for_a_reconnect(app, api, client, zendesk_sandbox):
    sandbox(zendesk_sandbox, "POST", "/_sandbox/config", json={"access_token_ttl": {"zendesk": 3600}})
    globex = connect_oauth(app, api, client, "zendesk", asked={"subdomain": "globex"})
    expire_tokens(app, zendesk_sandbox, globex)
    sandbox(zendesk_sandbox, "POST", "/_sandbox/faults", json={"provider": "zendesk", "kind": "revoke_tokens"})
    run = sync(app, api, globex)
    assert (run["status"], run["error_reason"]) == ("failed", "auth"), run
    connection = api.get(f"/api/v1/connections/{globex}").json
    assert (connection["health"], connection["needs_reauth"]) == ("needs_reauth", True)
    assert "refresh refused" in connection["last_error"]
    assert sandbox(zendesk_sandbox, "GET", "/_sandbox/stats")["token_errors"]["zendesk"] == {"invalid_grant": 1}
