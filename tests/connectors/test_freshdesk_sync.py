"""Freshdesk end to end through the sync engine against the sandbox (the layout of
test_gitlab_sync.py): connect with an API key and the helpdesk's domain, full (tickets with their
conversations, contacts, agents), readers from the agents' ticket scopes, a no-change incremental
that writes nothing, changes (an edit, a new reply, a trashed ticket, an edited and a purged
contact), a 429 storm waited out, Freshdesk's own words for a refusal, and a revoked key.

The sandbox holds SEED 42, SCALE 25: helpdesk ``acme`` with 50 tickets, 50 contacts and six agents
-- Ada (1) and Emeka (5) global, Bruno (2) the Billing group (101), Chiara (3) Technical (102),
Dev (4) restricted, Fatima (6) both groups.
"""
import pytest

from connections.models import Connection
from tests.connectors.walk import sandbox
from tests.factories import detached, synced

from .test_slack_sync import members, stored

KEY = "sandbox-freshdesk-key"


def connect(api, **body):
    return api.post("/v1/connectors", json={"connector_type": "freshdesk", **body})


@pytest.fixture
def freshdesk(app, api):
    answer = connect(api, credentials={"api_key": KEY}, settings={"domain": "acme.freshdesk.com"})
    assert answer.status_code == 201, answer.json
    connection = api.get(f"/api/v1/connections/{answer.json['connector_id']}").json
    assert connection["status"] == "connected" and connection["handle"] == "ada@acme-sandbox.example"
    assert KEY not in str(connection)
    return answer.json["connector_id"]


def test_connecting_needs_the_helpdesk_domain_and_a_key_freshdesk_accepts(app, api):
    missing = connect(api, credentials={"api_key": KEY})
    assert missing.status_code == 422 and missing.json["error"]["details"]["field"] == "settings.domain"
    wrong = connect(api, credentials={"api_key": "nope"}, settings={"domain": "acme"})
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "invalid_credentials"
    assert wrong.json["error"]["details"]["provider_message"] == "You have to be logged in to perform this action."
    elsewhere = connect(api, credentials={"api_key": KEY}, settings={"domain": "globex"})
    assert elsewhere.status_code == 422 and elsewhere.json["error"]["details"]["field"] == "settings.domain"
    assert "no helpdesk at globex.freshdesk.com" in elsewhere.json["error"]["message"]
    garbled = connect(api, credentials={"api_key": KEY}, settings={"domain": "acme/../x"})
    assert garbled.status_code == 422 and garbled.json["error"]["details"]["field"] == "settings.domain"
    assert api.get("/api/v1/connections").json["connections"] == []


def listed(member, kind):
    return {d["external_id"] for d in member.get("/api/v1/documents?source=freshdesk&limit=500").json["documents"]
            if d["type"] == kind}


def test_full_readers_incremental_changes_and_deletion(app, api, freshdesk, workspace, sandbox_server):
    people = members(app, api, workspace, ("chiara@acme-sandbox.example", "dev@acme-sandbox.example",
                                           "lena.berg0@customer.example"))
    first = synced(app, api, freshdesk)
    assert first["status"] == "completed", first
    tickets = stored(app, freshdesk, type="ticket")
    assert len(tickets) == 50 and len(stored(app, freshdesk, type="contact")) == 50
    assert len(stored(app, freshdesk, type="agent")) == 6
    # Tickets created long ago are there: a full pass does not take Freshdesk's 30-day default.
    assert tickets["22"].title.startswith("#22: ") and "Customer (" in tickets["22"].content
    assert any("Note (" in d.content for d in tickets.values())         # private notes: agents read them

    # Chiara (group scope, Technical) reads Technical's tickets and those assigned to her; Dev
    # (restricted) only his own; a customer who is a workspace member reads no ticket.
    group = {i for i, d in tickets.items() if d.metadata_["group_id"] == 102 or d.metadata_["responder_id"] == 3}
    own = {i for i, d in tickets.items() if d.metadata_["responder_id"] == 4}
    assert group and own and group != set(tickets)
    assert listed(people["chiara@acme-sandbox.example"], "ticket") == group
    assert listed(people["dev@acme-sandbox.example"], "ticket") == own
    assert listed(people["lena.berg0@customer.example"], "ticket") == set()
    assert len(listed(people["dev@acme-sandbox.example"], "contact")) == 50

    quiet = synced(app, api, freshdesk, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["documents_deleted"]) == (0, 0, 0)

    sandbox(sandbox_server, "PATCH", "/_sandbox/collections/freshdesk/tickets/40", json={"subject": "Quokka refund"})
    sandbox(sandbox_server, "POST", "/_sandbox/collections/freshdesk/conversations",
            json={"ticket": "41", "body": "Zanzibar reply sent", "incoming": False, "private": False, "agent": 2})
    sandbox(sandbox_server, "PATCH", "/_sandbox/collections/freshdesk/tickets/42", json={"deleted": True})
    sandbox(sandbox_server, "PATCH", "/_sandbox/collections/freshdesk/contacts/3", json={"name": "Wilhelmina Berg"})
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/freshdesk/contacts/4")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    later = synced(app, api, freshdesk, full=False)
    assert later["status"] == "completed", later
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (0, 3, 2)
    tickets = stored(app, freshdesk, type="ticket")
    assert tickets["40"].title == "#40: Quokka refund" and "Zanzibar reply sent" in tickets["41"].content
    assert "42" not in tickets
    contacts = stored(app, freshdesk, type="contact")
    assert contacts["3"].title.startswith("Wilhelmina Berg <") and "4" not in contacts


@pytest.mark.slow           # three Retry-After waits of a second, and their backoff
def test_a_429_storm_is_waited_out_and_a_refusal_keeps_freshdesks_words(app, api, freshdesk, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "freshdesk", "kind": "rate_limit", "retry_after": 1, "count": 3,
        "path_prefix": "/freshdesk/acme/api/v2/tickets"})
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "freshdesk", "kind": "client_error", "status": 403, "count": 20,
        "path_prefix": "/freshdesk/acme/api/v2/contacts"})
    run = synced(app, api, freshdesk)
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["freshdesk"] == 3
    assert len(stored(app, freshdesk, type="ticket")) == 50
    failed = {u["stream"]: u for u in run["failed_units"]}
    assert set(failed) == {"contacts"}
    assert failed["contacts"]["error_details"]["provider_code"] == "access_denied"
    assert failed["contacts"]["error_message"].startswith("Freshdesk refused: ")


def test_a_revoked_key_asks_for_reconnection(app, api, freshdesk, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "freshdesk", "kind": "revoke_tokens"})
    run = synced(app, api, freshdesk)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert detached(app, Connection, freshdesk).needs_reauth is True
