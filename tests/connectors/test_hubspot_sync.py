"""HubSpot end to end through the sync engine against the sandbox (the layout of
test_notion_sync.py): connected through the consent page; a full sync through a 429 storm;
incremental runs with no change and with changes (an edit, a new record, an archived one as a
deletion); the search API's 10,000-result window never reached; a pass resumed from a mid-pass
checkpoint, and records archived and changed while a full read is under way; readers by owner in
the source access mode; an error in HubSpot's own words; a revoked token.
"""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.hubspot import HubSpotConnector
from connectors.settings import ConnectorSettings
from tests.connectors.walk import (changes_of, connect_oauth, counted, documents, own_sandbox, reset, revoked_run, sandbox,
                                   sync, to_source_mode)

SCALE = 9
# sandbox/providers/hubspot.py at that scale: 9 contacts, 5 companies, 5 deals, 5 tickets and 4
# of each engagement (notes, emails, calls, meetings).
COUNTS = {"contact": 9, "company": 5, "deal": 5, "ticket": 5, "note": 4, "email": 4, "call": 4, "meeting": 4}
hubspot_sandbox = own_sandbox(SCALE)


@pytest.fixture
def app_config(app_config, hubspot_sandbox):
    reset(hubspot_sandbox)
    return {**app_config, "SANDBOX_URL": hubspot_sandbox.url}


@pytest.fixture
def hubspot(app, api, client):
    return connect_oauth(app, api, client, "hubspot", expect="scope=oauth+crm.objects.contacts.read")


stored, record = documents, changes_of("hubspot")


def test_connect_full_incremental_changes_and_archived_records(app, api, hubspot, hubspot_sandbox):
    shown = api.get(f"/api/v1/connections/{hubspot}").json
    assert shown["external_account_id"] == "24681357"
    # A storm of 429s on search (HubSpot sends no Retry-After): the client backs off and goes on.
    sandbox(hubspot_sandbox, "POST", "/_sandbox/faults", json={
        "provider": "hubspot", "kind": "rate_limit", "count": 3, "path_prefix": "/hubspot/crm/v3/objects/deals/search"})
    first = sync(app, api, hubspot)
    assert first["status"] == "completed" and first["documents_created"] == sum(COUNTS.values())
    assert sandbox(hubspot_sandbox, "GET", "/_sandbox/stats")["rate_limited"]["hubspot"] == 3
    docs = stored(app, hubspot)
    assert counted(docs, COUNTS) == COUNTS
    deal = docs[("deal", "1")]
    company, contact = docs[("company", "1")].title, docs[("contact", "1")].title.split(" (")[0]
    assert f"Associated companies: {company}" in deal.content and f"Associated contacts: {contact}" in deal.content
    assert deal.url == "https://app.hubspot.com/contacts/24681357/record/0-3/1" and deal.author
    assert "<p>" not in docs[("note", "1")].content and f"Associated contacts: {contact}" in docs[("note", "1")].content

    quiet = sync(app, api, hubspot, full=False)
    assert quiet["status"] == "completed"
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    record(hubspot_sandbox, "PATCH", "contacts", "2", properties={"firstname": "Zanzibar", "lastname": "Quokka",
                                                                 "email": "zq@example.com"})
    record(hubspot_sandbox, "POST", "deals", properties={"dealname": "Kale Corp - pilot", "amount": "1500"},
           company="2", contact="3")
    record(hubspot_sandbox, "DELETE", "tickets", "4")       # archived: HubSpot lists it with archived=true
    later = sync(app, api, hubspot, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 1, 1)
    docs = stored(app, hubspot)
    assert docs[("contact", "2")].title == "Zanzibar Quokka (zq@example.com)"
    assert f"Associated companies: {docs[('company', '2')].title}" in docs[("deal", "6")].content
    assert ("ticket", "4") not in docs and len(docs) == sum(COUNTS.values())


def test_the_search_window_is_never_reached(app, api, hubspot, hubspot_sandbox, monkeypatch):
    """With a window of 4 results and pages of 2, a query paging on would be refused at the third
    page; the reader re-anchors its filter on every page instead and reads every contact."""
    from sandbox.providers import hubspot as emulation

    monkeypatch.setattr(emulation, "SEARCH_WINDOW", 4)
    app.config["CONNECTORS"] = {"hubspot": {"page_size": 2}}
    connector, ctx = reader_of(hubspot_sandbox, page_size=2)
    deep = requests.post(f"{hubspot_sandbox.url}/hubspot/crm/v3/objects/contacts/search", timeout=5,
                         json={"limit": 2, "after": "4"}, headers={"Authorization": f"Bearer {ctx.access_token()}"})
    assert deep.status_code == 400 and deep.json()["category"] == "VALIDATION_ERROR"
    pages = list(connector.read(ctx, connector.spec("contacts").catalog_stream(), state=None, mode="full"))
    assert sorted(int(r["id"]) for p in pages for r in p.records) == list(range(1, SCALE + 1))
    assert len(pages) >= SCALE // 2


def reader_of(hubspot_sandbox, **settings):
    """The connector against the sandbox with a token and a context of its own (no engine)."""
    token = sandbox(hubspot_sandbox, "POST", "/_sandbox/tokens", json={
        "provider": "hubspot", "scope": "oauth crm.objects.contacts.read crm.objects.owners.read"})["access_token"]
    connector = HubSpotConnector(ConnectorSettings("hubspot", {
        **HubSpotConnector.sandbox_settings(hubspot_sandbox.url), **settings}))
    return connector, SyncContext(connection_id="c", connector_type="hubspot", credentials={}, settings={},
                                  external_account_id="24681357", access_token=lambda: token)


def test_a_pass_resumes_from_its_checkpoint_and_records_changed_meanwhile_are_read(hubspot_sandbox):
    connector, ctx = reader_of(hubspot_sandbox, page_size=3)
    contacts = connector.spec("contacts").catalog_stream()
    reader = connector.read(ctx, contacts, state=None, mode="full")
    first = list(islice(reader, 1))
    reader.close()
    seen = {r["id"] for r in first[0].records}
    assert len(seen) == 3 and first[0].state.get("cursor")
    # While the pass is stopped: a contact it read is archived, one it did not read yet is edited.
    unread = next(str(i) for i in range(SCALE, 0, -1) if str(i) not in seen)
    record(hubspot_sandbox, "DELETE", "contacts", sorted(seen)[0])
    record(hubspot_sandbox, "PATCH", "contacts", unread, properties={"jobtitle": "Chief Quokka"})
    rest = list(connector.read(ctx, contacts, state=first[0].state, mode="full"))
    later = {r["id"]: r for p in rest for r in p.records}
    assert seen.isdisjoint(later) and len(seen) + len(later) == SCALE        # nothing twice, nothing lost
    assert later[unread]["properties"]["jobtitle"] == "Chief Quokka"
    # The prune's id listing no longer has the archived one, and fetching it confirms it is gone.
    assert sorted(seen)[0] not in set(connector.list_ids(ctx, contacts))
    assert connector.fetch_records(ctx, contacts, None, [sorted(seen)[0], unread])[0][0] == unread


def test_source_mode_readers_are_the_records_owners(app, api, hubspot, hubspot_sandbox, workspace):
    from sandbox.providers.hubspot import OWNERS
    from tests.connectors.test_slack_sync import members

    owner = OWNERS[0]
    people = members(app, api, workspace, (owner["email"], "someone@else.example"))
    run = to_source_mode(app, api, hubspot)
    docs = stored(app, hubspot)
    owned = {ext for (_, ext), d in docs.items() if d.metadata_["owner_id"] == owner["id"]}
    assert run["status"] == "completed" and run["records_hidden"] == 0      # every seeded record has an owner
    listed = people[owner["email"]].get("/api/v1/documents?source=hubspot&limit=500").json["documents"]
    assert owned and {d["external_id"] for d in listed} == owned
    assert people["someone@else.example"].get("/api/v1/documents?source=hubspot&limit=500").json["documents"] == []


def test_a_refusal_is_shown_in_hubspots_own_words(app, api, hubspot, monkeypatch):
    monkeypatch.setattr(HubSpotConnector, "page_size", 201)        # search takes 1..200
    run = sync(app, api, hubspot)
    assert (run["status"], run["error_reason"]) == ("failed", "config")
    details = run["error_details"]
    assert (details["provider_status"], details["provider_code"]) == (400, "VALIDATION_ERROR")
    assert details["provider_message"] == "limit must be between 1 and 200 (was 201)"


def test_a_revoked_token_asks_for_a_reconnect(app, api, hubspot, hubspot_sandbox):
    run = revoked_run(app, api, hubspot_sandbox, "hubspot", hubspot)
    assert run["error_details"]["provider_code"] == "INVALID_AUTHENTICATION"


def test_the_id_listing_pages_through_every_live_record(hubspot_sandbox):
    """``paging.next.after`` is where the next page starts: no record is skipped between pages."""
    connector, ctx = reader_of(hubspot_sandbox, page_size=2)
    contacts = connector.spec("contacts").catalog_stream()
    assert sorted(map(int, connector.list_ids(ctx, contacts))) == list(range(1, SCALE + 1))
