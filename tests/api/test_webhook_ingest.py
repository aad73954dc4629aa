"""A delivered webhook event is searchable within seconds, without anyone pressing Sync now:
the delivery queues a run and wakes the workers, and that run reads it."""
import json
import time

import pytest

from connections.webhooks import sign
from sync import service as sync_service
from sync.worker import WorkerPool, drain


@pytest.fixture
def hook(api):
    body = api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Billing"}).json
    return body["connection"]["id"], body["signing_secret"]


def deliver(client, hook, payload):
    connection_id, secret = hook
    body = json.dumps(payload).encode()
    response = client.post(f"/webhooks/{connection_id}", data=body,
                           headers={"Content-Type": "application/json", "Tributary-Signature": sign(secret, body)})
    assert response.status_code == 202, response.json
    return response


def found(api, phrase):
    answer = api.post("/api/v1/query", json={"query": f'"{phrase}"', "sources": ["webhook"]}).json
    return [r["metadata"]["external_id"] for r in answer["results"]]


def test_the_run_a_delivery_queues_reads_that_delivery(app, api, client, hook):
    deliver(client, hook, {"id": "evt_1042", "title": "Invoice 1042 paid",
                           "content": "Invoice 1042 for Globex Corporation was paid in full."})
    drain(app)  # the run the delivery queued, at once: its delivery is not left for a later run
    assert found(api, "Globex Corporation") == ["evt_1042"]
    runs = api.get(f"/api/v1/connections/{hook[0]}/runs").json["runs"]
    assert runs[0]["status"] == "completed" and runs[0]["records_written"] == 1


def test_a_delivery_is_searchable_within_seconds_with_workers_running(app, api, client, hook):
    pool = WorkerPool(app, threads=1).start()
    sync_service._wakeups.append(pool.wake)
    try:
        drain(app)  # nothing else waiting
        delivered = time.monotonic()
        deliver(client, hook, {"id": "evt_7", "title": "Refund issued",
                               "content": "A refund for the Zanzibar order was issued."})
        while not found(api, "Zanzibar order") and time.monotonic() - delivered < 15:
            time.sleep(0.25)
        elapsed = time.monotonic() - delivered
    finally:
        sync_service._wakeups.remove(pool.wake)
        pool.stop()
    assert found(api, "Zanzibar order") == ["evt_7"]
    assert elapsed < 6, elapsed  # the run waits ~2 s for deliveries still committing, then reads
