"""List, get, patch, delete, reconnect, status, runs and sync of connections."""
from datetime import timedelta

import pytest

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from sync.models import SyncRun
from tests.factories import add_member

PIPEDRIVE_KEY = "sandbox-pipedrive-key"


def connect_pipedrive(api, name=None):
    response = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY,
                                                     **({"name": name} if name else {})})
    assert response.status_code == 201, response.json
    return response.json["connection"]


def connect_webhook(api, name="Hook"):
    return api.post("/api/v1/connections", json={"connector_type": "webhook", "name": name}).json["connection"]


LIST_FIELDS = {"id", "kind", "connector_type", "name", "status", "scope", "last_synced_at", "last_error",
               "is_syncing", "health", "last_run", "owner_user_id", "handle", "display_name", "avatar_url"}


def test_list_is_newest_first_with_every_spec_field(app, api):
    first = connect_pipedrive(api, "first")
    second = connect_webhook(api, "second")
    with app.app_context():  # make the order independent of clock resolution
        db.session.get(Connection, first["id"]).created_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
    listed = api.get("/api/v1/connections").json["connections"]
    assert [c["id"] for c in listed] == [second["id"], first["id"]]
    for connection in listed:
        assert LIST_FIELDS <= set(connection)


def test_empty_list(api):
    assert api.get("/api/v1/connections").json == {"connections": [], "next_cursor": None}


def test_get_one(api):
    created = connect_pipedrive(api)
    got = api.get(f"/api/v1/connections/{created['id']}")
    assert got.status_code == 200 and got.json["id"] == created["id"]


def test_patch_name(api):
    created = connect_pipedrive(api)
    response = api.patch(f"/api/v1/connections/{created['id']}", json={"name": "Acme Pipedrive (prod)"})
    assert response.status_code == 200
    assert response.json["updated"] is True and response.json["connection"]["name"] == "Acme Pipedrive (prod)"


@pytest.mark.parametrize("body,code", [
    ({"sync_interval": "1h"}, "field_not_editable"),
    ({"name": ""}, "missing_field"),
    ({"name": 5}, "invalid_field"),
    ({}, "invalid_body"),
    ({"owner_user_id": None}, "owner_not_allowed"),
])
def test_patch_errors(api, body, code):
    created = connect_pipedrive(api)
    response = api.patch(f"/api/v1/connections/{created['id']}", json=body)
    assert response.status_code == 422 and response.json["error"]["code"] == code


def _personal_connection(app, workspace):
    """A connected Gmail connection owned by the workspace admin (as after its OAuth flow)."""
    with app.app_context():
        ws, user = workspace
        connection = Connection(workspace_id=ws.id, connector_type="gmail", name="Mail", scope="personal",
                                status="connected", owner_user_id=user.id, settings={},
                                credentials={"access_token": "t"}, connected_at=utcnow())
        db.session.add(connection)
        db.session.commit()
        return connection.id


def test_patch_owner_on_personal_connection(app, api, workspace):
    connection_id = _personal_connection(app, workspace)
    with app.app_context():
        member = add_member(db.session.merge(workspace[0]), email="bea@example.com")
        member_id = member.id
    response = api.patch(f"/api/v1/connections/{connection_id}", json={"owner_user_id": member_id})
    assert response.status_code == 200 and response.json["connection"]["owner_user_id"] == member_id
    cleared = api.patch(f"/api/v1/connections/{connection_id}", json={"owner_user_id": None})
    assert cleared.json["connection"]["owner_user_id"] is None


def test_patch_owner_must_be_a_member(app, api, workspace):
    from tests.factories import make_workspace

    connection_id = _personal_connection(app, workspace)
    with app.app_context():
        _, outsider = make_workspace("Other")
        outsider_id = outsider.id
    response = api.patch(f"/api/v1/connections/{connection_id}", json={"owner_user_id": outsider_id})
    assert response.status_code == 422 and response.json["error"]["code"] == "not_a_member"


def test_disconnect_keeps_the_row_and_history_and_drops_credentials(app, api):
    created = connect_pipedrive(api)
    run_id = api.post(f"/api/v1/connections/{created['id']}/sync").json["sync_run_id"]
    response = api.delete(f"/api/v1/connections/{created['id']}")
    assert response.status_code == 200 and response.json == {"disconnected": True, "id": created["id"]}
    got = api.get(f"/api/v1/connections/{created['id']}").json
    assert got["status"] == "disconnected" and got["health"] == "disconnected"
    assert [r["id"] for r in api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]] == [run_id]
    with app.app_context():
        assert db.session.get(Connection, created["id"]).credentials is None
    assert api.delete(f"/api/v1/connections/{created['id']}").status_code == 200  # idempotent


def test_reconnect_refuses_a_healthy_connection(api):
    created = connect_pipedrive(api)
    response = api.post(f"/api/v1/connections/{created['id']}/reconnect", json={"api_key": PIPEDRIVE_KEY})
    assert response.status_code == 409 and response.json["error"]["code"] == "connection_healthy"


def test_reconnect_api_key_in_place(app, api):
    created = connect_pipedrive(api)
    api.delete(f"/api/v1/connections/{created['id']}")
    bad = api.post(f"/api/v1/connections/{created['id']}/reconnect", json={"api_key": "wrong"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_credentials"
    assert api.get(f"/api/v1/connections/{created['id']}").json["status"] == "disconnected"
    response = api.post(f"/api/v1/connections/{created['id']}/reconnect", json={"api_key": PIPEDRIVE_KEY})
    assert response.status_code == 200
    assert response.json["mode"] == "connected" and response.json["connection"]["id"] == created["id"]
    assert response.json["connection"]["status"] == "connected"
    assert len(api.get("/api/v1/connections").json["connections"]) == 1  # no duplicate row


def test_reconnect_handle_clears_error_and_queues_a_sync(app, api):
    account = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}).json
    created = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                    "external_account_id": account["external_account_id"]}).json["connection"]
    with app.app_context():
        connection = db.session.get(Connection, created["id"])
        connection.status, connection.last_error = "error", "X answered 503"
        db.session.commit()
    response = api.post(f"/api/v1/connections/{created['id']}/reconnect")
    assert response.status_code == 200 and response.json["connection"]["status"] == "connected"
    assert response.json["connection"]["last_error"] is None
    runs = api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]
    assert len(runs) == 1 and runs[0]["triggered_by"] == "connect" and runs[0]["status"] == "pending"


def test_reconnect_webhook_rotates_the_signing_secret(api):
    body = api.post("/api/v1/connections", json={"connector_type": "webhook"}).json
    api.delete(f"/api/v1/connections/{body['connection']['id']}")
    again = api.post(f"/api/v1/connections/{body['connection']['id']}/reconnect").json
    assert again["mode"] == "webhook" and again["signing_secret"] != body["signing_secret"]


def test_reconnect_oauth_returns_a_fresh_authorize_url(app, api, workspace):
    connection_id = _personal_connection(app, workspace)
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.needs_reauth, connection.status = True, "error"
        db.session.commit()
    response = api.post(f"/api/v1/connections/{connection_id}/reconnect", json={"return_to": "/connections"})
    assert response.status_code == 200 and response.json["mode"] == "oauth_redirect"
    assert "/google/o/oauth2/v2/auth?" in response.json["authorize_url"]
    assert response.json["connection"]["id"] == connection_id


def test_status(api):
    created = connect_pipedrive(api)
    status = api.get(f"/api/v1/connections/{created['id']}/status").json
    assert status == {"id": created["id"], "status": "connected", "health": "healthy", "is_syncing": False,
                      "needs_reauth": False, "last_synced_at": None, "last_error": None, "last_run": None}


def test_sync_creates_a_pending_run(app, api):
    created = connect_pipedrive(api)
    response = api.post(f"/api/v1/connections/{created['id']}/sync?full=true")
    assert response.status_code == 202
    body = response.json
    assert body["sync_type"] == "full" and body["sync_run_id"].startswith("run_")
    assert body["connector_id"] == created["id"]
    runs = api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]
    assert runs[0]["id"] == body["sync_run_id"] and runs[0]["status"] == "pending"
    assert runs[0]["triggered_by"] == "api" and runs[0]["mode"] == "full"
    assert api.post(f"/api/v1/connections/{created['id']}/sync").json["sync_type"] == "incremental"


def test_sync_full_flag_must_be_boolean(api):
    created = connect_pipedrive(api)
    response = api.post(f"/api/v1/connections/{created['id']}/sync?full=maybe")
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_parameter"


def test_sync_refused_when_disconnected(api):
    created = connect_pipedrive(api)
    api.delete(f"/api/v1/connections/{created['id']}")
    response = api.post(f"/api/v1/connections/{created['id']}/sync")
    assert response.status_code == 409 and response.json["error"]["code"] == "connection_disconnected"


def test_runs_limit_default_25_capped_at_100(app, api):
    created = connect_pipedrive(api)
    with app.app_context():
        base = utcnow()
        db.session.add_all([SyncRun(workspace_id=created_ws(app, created["id"]), connection_id=created["id"],
                                    status="completed", triggered_by="schedule", mode="incremental",
                                    created_at=base - timedelta(minutes=i)) for i in range(120)])
        db.session.commit()
    runs = api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]
    assert len(runs) == 25
    assert [r["created_at"] for r in runs] == sorted((r["created_at"] for r in runs), reverse=True)
    assert len(api.get(f"/api/v1/connections/{created['id']}/runs?limit=500").json["runs"]) == 100
    assert len(api.get(f"/api/v1/connections/{created['id']}/runs?limit=3").json["runs"]) == 3
    bad = api.get(f"/api/v1/connections/{created['id']}/runs?limit=zero")
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_limit"


def created_ws(app, connection_id):
    return db.session.get(Connection, connection_id).workspace_id


def test_health_and_last_run_follow_runs(app, api):
    created = connect_pipedrive(api)
    with app.app_context():
        ws = created_ws(app, created["id"])
        db.session.add(SyncRun(workspace_id=ws, connection_id=created["id"], status="completed",
                               triggered_by="manual", mode="full", streams_total=3, streams_failed=1,
                               records_written=120, started_at=utcnow(), finished_at=utcnow()))
        db.session.commit()
    connection = api.get(f"/api/v1/connections/{created['id']}").json
    assert connection["health"] == "degraded"
    assert connection["last_run"]["streams_failed"] == 1 and connection["last_run"]["records_written"] == 120
    with app.app_context():
        db.session.add(SyncRun(workspace_id=ws, connection_id=created["id"], status="running",
                               triggered_by="manual", mode="incremental", started_at=utcnow()))
        db.session.commit()
    connection = api.get(f"/api/v1/connections/{created['id']}").json
    assert connection["is_syncing"] is True and connection["health"] == "syncing"


def test_check_passes_for_good_credentials(api):
    created = connect_pipedrive(api)
    response = api.post(f"/api/v1/connections/{created['id']}/check")
    assert response.status_code == 200 and response.json["ok"] is True and response.json["error"] is None


def test_check_turns_a_revoked_key_to_needs_reauth(api, sandbox_server):
    import requests

    created = connect_pipedrive(api)
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "pipedrive", "kind": "revoke_tokens"},
                  timeout=5)
    body = api.post(f"/api/v1/connections/{created['id']}/check").json
    assert body["ok"] is False and body["error"]["code"] == "needs_reauth"
    assert body["connection"]["health"] == "needs_reauth" and body["connection"]["status"] == "error"
    # reconnect with a (re-issued) key restores it in place
    requests.post(f"{sandbox_server.url}/_sandbox/pipedrive/keys", json={"api_key": "fresh-key"}, timeout=5)
    restored = api.post(f"/api/v1/connections/{created['id']}/reconnect", json={"api_key": "fresh-key"}).json
    assert restored["connection"]["health"] == "healthy" and restored["connection"]["id"] == created["id"]


def test_check_oauth_with_a_revoked_token(app, api, client, sandbox_server):
    import requests

    from tests.oauth_helpers import consent, local_path

    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    client.get(local_path(consent(started["authorize_url"])))
    connection_id = started["connection"]["id"]
    assert api.post(f"/api/v1/connections/{connection_id}/check").json["ok"] is True
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "github", "kind": "revoke_tokens"},
                  timeout=5)
    body = api.post(f"/api/v1/connections/{connection_id}/check").json
    assert body["ok"] is False and body["connection"]["health"] == "needs_reauth"


def test_check_refuses_disconnected(api):
    created = connect_pipedrive(api)
    api.delete(f"/api/v1/connections/{created['id']}")
    response = api.post(f"/api/v1/connections/{created['id']}/check")
    assert response.status_code == 409 and response.json["error"]["code"] == "connection_disconnected"


def test_check_of_a_handle_with_a_refused_operator_token_does_not_blame_the_connection(api, sandbox_server):
    import requests

    account = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}).json
    created = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                    "external_account_id": account["external_account_id"]}).json
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "x", "kind": "revoke_tokens"}, timeout=5)
    body = api.post(f"/api/v1/connections/{created['connection']['id']}/check").json
    assert body["ok"] is False and body["error"]["code"] == "provider_credentials_invalid"
    assert body["connection"]["needs_reauth"] is False and body["connection"]["health"] == "healthy"
