"""By default a new connection queues its first, full sync (triggered_by connect)."""
import pytest

from tests.oauth_helpers import consent, local_path


@pytest.fixture
def sync_on_connect(app_config):
    app_config["SYNC_ON_CONNECT"] = True


def only_run(api, connection_id):
    runs = api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"]
    assert len(runs) == 1
    return runs[0]


def test_api_key_connect_queues_a_full_first_sync(sync_on_connect, api):
    connection = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                       "api_key": "sandbox-pipedrive-key"}).json["connection"]
    run = only_run(api, connection["id"])
    assert (run["status"], run["mode"], run["triggered_by"]) == ("pending", "full", "connect")
    assert connection["last_run"]["id"] == run["id"]


def test_oauth_connect_queues_the_first_sync_at_the_callback(sync_on_connect, api, client):
    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    assert api.get(f"/api/v1/connections/{started['connection']['id']}/runs").json["runs"] == []
    client.get(local_path(consent(started["authorize_url"])))
    run = only_run(api, started["connection"]["id"])
    assert (run["mode"], run["triggered_by"]) == ("full", "connect")


def test_handle_connect_queues_the_first_sync(sync_on_connect, api):
    account = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}).json
    connection = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                       "external_account_id": account["external_account_id"]}).json
    assert only_run(api, connection["connection"]["id"])["triggered_by"] == "connect"


def test_turned_off_connect_starts_nothing(api):
    connection = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                       "api_key": "sandbox-pipedrive-key"}).json["connection"]
    assert api.get(f"/api/v1/connections/{connection['id']}/runs").json["runs"] == []
