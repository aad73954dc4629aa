"""Records deleted at the source while a full read is under way, for Freshdesk's tickets,
Intercom's conversations and Figma's components (the walk of test_deletion_mid_read.py): the first
two are read by a keyset on the update time that asks again from the newest update it handed over,
Figma's by a cursor naming the last component handed over, so a record that goes shifts nothing
unread out of view (none recovered), those ahead of the read are confirmed gone by id, and the
next full sync leaves exactly what is still there."""
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


def test_figma_components_by_cursor(app, api, client, sandbox_server, monkeypatch):
    """The team library's 25 components, 5 a page by Figma's ``meta.cursor.after`` (the last
    component's place, not an offset): components deleted behind the read shift nothing; those
    ahead are confirmed gone by ``GET /v1/components/{key}`` (404)."""
    from connectors.figma import FigmaConnector
    from tests.connectors.test_figma_sync import TEAM
    from tests.factories import configure

    only(monkeypatch, FigmaConnector, "components", page_size=5)
    figma = consented(api, client, "figma", settings={"channels": [TEAM]})
    configure(app, figma, channels=[TEAM], requests_per_minute=0)   # Tier 1's pace, not the test's
    queue(api, figma)
    number = lambda key: int(key[1:])  # noqa: E731   a component's key is c<its number>
    deletions = Deletions(sandbox_server, "figma/components", order=number, record_id=number)
    seen = full_read_with_deletions(app, api, sandbox_server, figma, "components", deletions,
                                    slow=slowed("figma", f"/figma/api/v1/teams/{TEAM}/components", latency_ms=40))
    deletions.check(seen)
