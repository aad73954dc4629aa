"""A successful reconnect, by any connect method, clears the error and queues a sync, and the
health badge agrees with the status at once."""
import requests

from connections.models import Connection
from core.extensions import db
from sync.worker import drain
from tests.oauth_helpers import consent, local_path

PIPEDRIVE_KEY = "sandbox-pipedrive-key"


def revoke(sandbox_server, provider):
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": provider, "kind": "revoke_tokens"},
                  timeout=5).raise_for_status()


def runs(api, connection_id):
    return api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"]


def assert_restored(api, connection_id):
    connection = api.get(f"/api/v1/connections/{connection_id}").json
    assert connection["status"] == "connected" and connection["needs_reauth"] is False
    assert connection["last_error"] is None
    assert connection["health"] == "healthy", connection["health"]
    latest = runs(api, connection_id)[0]
    assert (latest["status"], latest["triggered_by"]) == ("pending", "connect")
    return connection


def test_github_reconnected_after_its_token_was_refused_syncs_again(app, api, client, sandbox_server):
    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    connection_id = started["connection"]["id"]
    client.get(local_path(consent(started["authorize_url"])))
    revoke(sandbox_server, "github")
    api.post(f"/api/v1/connections/{connection_id}/sync")
    drain(app)
    api.post(f"/api/v1/connections/{connection_id}/check")
    broken = api.get(f"/api/v1/connections/{connection_id}").json
    assert broken["health"] == "needs_reauth" and broken["last_run"]["status"] == "failed"

    again = api.post(f"/api/v1/connections/{connection_id}/reconnect", json={"return_to": "/connections"}).json
    client.get(local_path(consent(again["authorize_url"])))
    assert_restored(api, connection_id)
    drain(app)
    synced = api.get(f"/api/v1/connections/{connection_id}").json
    assert synced["last_run"]["status"] == "completed" and synced["health"] == "healthy"


def test_api_key_reconnect_queues_a_sync(app, api, sandbox_server):
    created = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY}).json
    connection_id = created["connection"]["id"]
    revoke(sandbox_server, "pipedrive")
    api.post(f"/api/v1/connections/{connection_id}/sync")
    drain(app)
    assert api.get(f"/api/v1/connections/{connection_id}").json["health"] == "needs_reauth"
    requests.post(f"{sandbox_server.url}/_sandbox/pipedrive/keys", json={"api_key": "fresh-key"}, timeout=5)
    response = api.post(f"/api/v1/connections/{connection_id}/reconnect", json={"api_key": "fresh-key"})
    assert response.status_code == 200
    assert_restored(api, connection_id)


def test_handle_reconnect_queues_a_sync(app, api):
    account = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}).json
    created = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                    "external_account_id": account["external_account_id"]}).json
    connection_id = created["connection"]["id"]
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.status, connection.last_error = "error", "X answered 503"
        db.session.commit()
    assert api.post(f"/api/v1/connections/{connection_id}/reconnect").status_code == 200
    assert_restored(api, connection_id)


def test_webhook_reconnect_queues_a_sync(app, api):
    created = api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Billing"}).json
    connection_id = created["connection"]["id"]
    api.delete(f"/api/v1/connections/{connection_id}")
    assert api.post(f"/api/v1/connections/{connection_id}/reconnect").json["mode"] == "webhook"
    assert_restored(api, connection_id)


def test_reconnecting_twice_queues_one_run(app, api, sandbox_server):
    created = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY}).json
    connection_id = created["connection"]["id"]
    for _ in range(2):
        api.delete(f"/api/v1/connections/{connection_id}")
        api.post(f"/api/v1/connections/{connection_id}/reconnect", json={"api_key": PIPEDRIVE_KEY})
    # the first reconnect's run was cancelled by the second disconnect: one run waits
    assert [r["status"] for r in runs(api, connection_id)] == ["pending", "cancelled"]
