"""The custom webhook source's ``events`` stream: accepted deliveries of the connection, in the
order received, after the state cursor; payloads mapped to documents."""
import json
import time
from datetime import datetime, timedelta, timezone
from itertools import islice

import pytest

from connections.webhooks import sign
from connectors.base import SyncContext
from connectors.registry import get_connector


@pytest.fixture
def make_hook(api):
    def make(name="Billing"):
        body = api.post("/api/v1/connections", json={"connector_type": "webhook", "name": name}).json
        return body["connection"]["id"], body["signing_secret"]
    return make


@pytest.fixture
def hook(make_hook):
    return make_hook()


@pytest.fixture
def webhook(app):
    with app.app_context():
        connector = get_connector(app.config, "webhook")
    connector.page_size = 3
    connector.settle = timedelta(0)
    return connector


def deliver(client, hook, payload):
    connection_id, secret = hook
    body = json.dumps(payload).encode()
    response = client.post(f"/webhooks/{connection_id}", data=body,
                           headers={"Content-Type": "application/json", "Tributary-Signature": sign(secret, body)})
    assert response.status_code == 202, response.json


def context(hook):
    return SyncContext(connection_id=hook[0], connector_type="webhook", credentials={}, settings={})


def events(connector):
    return connector.catalog.streams[0]


def read(app, connector, hook, *, state=None, mode="full", pages=None):
    with app.app_context():
        reader = connector.read(context(hook), events(connector), state=state, mode=mode)
        got = list(islice(reader, pages)) if pages else list(reader)
        reader.close()
    return [r for p in got for r in p.records], [p.state for p in got]


def external_ids(connector, records):
    return [connector.to_document(events(connector), r).external_id for r in records]


def test_a_full_read_returns_every_delivery_in_received_order(app, client, hook, webhook):
    for n in range(7):
        deliver(client, hook, {"id": f"evt_{n}", "type": "invoice.paid", "amount": n})
    deliver(client, hook, [{"id": "batch_a", "title": "A"}, {"title": "no id"}])   # a batch
    records, states = read(app, webhook, hook)
    assert len(states) == 3                 # 8 deliveries, 3 a page
    got = external_ids(webhook, records)
    assert got[:7] == [f"evt_{n}" for n in range(7)] and got[7] == "batch_a"
    assert got[8] == f"{records[8]['delivery_id']}#1"
    assert "resume" not in states[-1] and states[-1]["cursor"]["id"] == records[-1]["delivery_id"]


def test_the_checkpoint_after_page_two_resumes_at_page_three(app, client, hook, webhook):
    for n in range(8):
        deliver(client, hook, {"id": f"evt_{n}"})
    everything, _ = read(app, webhook, hook)
    first, states = read(app, webhook, hook, pages=2)
    rest, _ = read(app, webhook, hook, state=states[-1], mode="full")
    assert external_ids(webhook, first) + external_ids(webhook, rest) == external_ids(webhook, everything)
    assert len(first) == 6 and len(rest) == 2


def test_an_incremental_read_returns_only_new_deliveries(app, client, hook, webhook):
    for n in range(4):
        deliver(client, hook, {"id": f"old_{n}"})
    _, states = read(app, webhook, hook)
    nothing, same = read(app, webhook, hook, state=states[-1], mode="incremental")
    assert nothing == [] and same[-1]["cursor"] == states[-1]["cursor"]
    deliver(client, hook, {"id": "new_1"})
    deliver(client, hook, {"id": "new_2"})
    fresh, _ = read(app, webhook, hook, state=states[-1], mode="incremental")
    assert external_ids(webhook, fresh) == ["new_1", "new_2"]
    everything, _ = read(app, webhook, hook, state=states[-1], mode="full")
    assert len(everything) == 6


def test_only_the_connections_own_deliveries_are_read(app, client, make_hook, webhook):
    billing, support = make_hook("Billing"), make_hook("Support")
    deliver(client, billing, {"id": "bill_1"})
    deliver(client, support, {"id": "ticket_1"})
    records, _ = read(app, webhook, support)
    assert external_ids(webhook, records) == ["ticket_1"]


def test_a_read_waits_for_deliveries_still_being_committed(app, client, hook, webhook):
    """A delivery gets its received_at before it commits: one received just before a read started
    but committed while it waits is read, not passed over by the cursor; one received after the
    read started is left for the next read (its delivery queued that one)."""
    import threading

    from connections.models import WebhookDelivery
    from core.extensions import db

    deliver(client, hook, {"id": "evt_early"})
    webhook.settle = timedelta(seconds=1)
    got = {}

    def read_in_thread():
        got["records"], got["states"] = read(app, webhook, hook, mode="incremental")

    reader = threading.Thread(target=read_in_thread)
    started = datetime.now(timezone.utc)
    reader.start()
    time.sleep(0.3)
    with app.app_context():
        db.session.add_all([
            WebhookDelivery(connection_id=hook[0], workspace_id="org_x", fingerprint="f-late-commit",
                            payload={"id": "evt_committed_late"}, received_at=started - timedelta(milliseconds=50)),
            WebhookDelivery(connection_id=hook[0], workspace_id="org_x", fingerprint="f-after-start",
                            payload={"id": "evt_after_start"}, received_at=started + timedelta(seconds=0.2))])
        db.session.commit()
        db.session.remove()
    reader.join(10)
    assert sorted(external_ids(webhook, got["records"])) == ["evt_committed_late", "evt_early"]
    assert datetime.now(timezone.utc) - started >= timedelta(seconds=1)
    webhook.settle = timedelta(0)
    later, _ = read(app, webhook, hook, state=got["states"][-1], mode="incremental")
    assert external_ids(webhook, later) == ["evt_after_start"]


def test_a_payload_with_known_fields_maps_to_a_document(app, client, hook, webhook):
    deliver(client, hook, {"id": "evt_42", "title": "Invoice paid", "content": "Invoice 1042 was paid.",
                           "author": {"name": "Billing bot"}, "url": "https://billing.example/i/1042",
                           "created_at": "2025-03-01T10:00:00Z", "updated_at": "2025-03-02T10:00:00Z",
                           "amount": 1200, "currency": "EUR"})
    records, _ = read(app, webhook, hook)
    doc = webhook.to_document(events(webhook), records[0])
    assert (doc.external_id, doc.title, doc.content, doc.type) == ("evt_42", "Invoice paid", "Invoice 1042 was paid.", "event")
    assert doc.author == "Billing bot" and doc.url == "https://billing.example/i/1042"
    assert doc.created_at == datetime(2025, 3, 1, 10, tzinfo=timezone.utc)
    assert doc.updated_at == datetime(2025, 3, 2, 10, tzinfo=timezone.utc)
    assert doc.metadata["amount"] == 1200 and doc.metadata["currency"] == "EUR"
    assert "title" not in doc.metadata and doc.metadata["delivery_id"] == records[0]["delivery_id"]


def test_a_bare_payload_falls_back_to_its_json_and_the_delivery(app, client, hook, webhook):
    deliver(client, hook, {"event": "user.signed_up", "user": "ada@example.com", "timestamp": 1740823200,
                           "plan": "pro"})
    records, _ = read(app, webhook, hook)
    doc = webhook.to_document(events(webhook), records[0])
    assert doc.external_id == records[0]["delivery_id"] and doc.title == "user.signed_up"
    assert json.loads(doc.content)["plan"] == "pro"
    assert doc.author == "ada@example.com" and doc.url is None
    assert doc.created_at == datetime(2025, 3, 1, 10, tzinfo=timezone.utc) == doc.updated_at
    nothing = {"value": 3}
    deliver(client, hook, [3])
    more, _ = read(app, webhook, hook)
    plain = webhook.to_document(events(webhook), more[-1])
    assert more[-1]["payload"] == nothing and plain.created_at.tzinfo is not None
    assert plain.created_at.isoformat() == more[-1]["received_at"]


def test_webhook_streams_list_no_ids(app, hook, webhook):
    assert webhook.list_ids(context(hook), events(webhook)) is None
