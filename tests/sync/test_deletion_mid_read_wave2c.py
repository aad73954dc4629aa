"""Records deleted at the source while a full read is under way, for Freshdesk's tickets and
Intercom's conversations (the walk of test_deletion_mid_read.py): both are read by a keyset on the
update time that asks again from the newest update it handed over, so a ticket or conversation
that goes shifts nothing unread out of view (none recovered), those ahead of the read are confirmed
gone by id, and the next full sync leaves exactly what is still there."""
import requests

from tests.sync.runs import full_read_with_deletions, queue

from .test_deletion_mid_read import Deletions, consented, only, slowed

FRESHDESK = ("sandbox-freshdesk-key", "X")


def read_order(ids: list) -> dict[str, int]:
    return {str(i): place for place, i in enumerate(ids)}


def test_freshdesk_tickets_by_update_time(app, api, sandbox_server, monkeypatch):
    """Page numbers under the keyset; the last ticket ahead is trashed (the listing leaves it
    out, ``GET /tickets/{id}`` answers it ``deleted``), the others purged."""
    from connectors.freshdesk import FreshdeskConnector

    only(monkeypatch, FreshdeskConnector, "tickets", page_size=5)
    answer = api.post("/v1/connectors", json={"connector_type": "freshdesk", "settings": {"domain": "acme"},
                                              "credentials": {"api_key": FRESHDESK[0]}})
    assert answer.status_code == 201, answer.json
    freshdesk = answer.json["connector_id"]
    queue(api, freshdesk)
    listed = requests.get(f"{sandbox_server.url}/freshdesk/acme/api/v2/tickets", auth=FRESHDESK, timeout=5, params={
        "updated_since": "1970-01-01T00:00:00Z", "order_by": "updated_at", "order_type": "asc", "per_page": 100})
    place = read_order([t["id"] for t in listed.json()])
    deletions = Deletions(sandbox_server, "freshdesk/tickets", order=place.__getitem__, trash={"deleted": True})
    seen = full_read_with_deletions(app, api, sandbox_server, freshdesk, "tickets", deletions,
                                    slow=slowed("freshdesk", "/freshdesk/acme/api/v2/tickets", latency_ms=40))
    deletions.check(seen)


def test_intercom_conversations_by_search(app, api, client, sandbox_server, monkeypatch):
    """``POST /conversations/search`` sorted by ``updated_at``, ``starting_after`` pages."""
    from connectors.intercom import IntercomConnector

    only(monkeypatch, IntercomConnector, "conversations", page_size=5)
    intercom = consented(api, client, "intercom")
    queue(api, intercom)
    token = requests.post(f"{sandbox_server.url}/_sandbox/tokens", json={"provider": "intercom", "scope": ""},
                          timeout=5).json()["access_token"]
    found = requests.post(f"{sandbox_server.url}/intercom/api/conversations/search", timeout=5,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"query": {"field": "updated_at", "operator": ">", "value": 0},
                                "sort": {"field": "updated_at", "order": "ascending"}, "pagination": {"per_page": 150}})
    place = read_order([c["id"] for c in found.json()["conversations"]])
    deletions = Deletions(sandbox_server, "intercom/conversations", order=place.__getitem__)
    seen = full_read_with_deletions(app, api, sandbox_server, intercom, "conversations", deletions,
                                    slow=slowed("intercom", "/intercom/api/conversations", latency_ms=40))
    deletions.check(seen)
