"""/v1/connectors: the spec's connectors API over the same connections as /api/v1/connections.

One GitHub walk with a personal access token against the sandbox (connect, settings honoured,
sync, states, disconnect, reconnect in place), the API-key path (Pipedrive), OAuth without
credentials, the refusals, tenant isolation, and the status mapping over every combination.
"""
import itertools
from dataclasses import replace

import pytest
import requests
from sqlalchemy import func, select

from connections.connectors_api import CONNECTOR_STATUSES, connector_status
from connections.models import STATUSES, Connection
from connectors.github import GitHubConnector
from connectors import registry
from core.extensions import db
from knowledge.models import Document
from sync import engine, worker
from sync.models import SyncRun
from tests.factories import Api, make_api_key, make_connection, make_workspace

REPO = "octo-sandbox/atlas-etl"
PIPEDRIVE_KEY = "sandbox-pipedrive-key"
MISSING_ID = "conn_doesnotexist0000"


# -- the status mapping -----------------------------------------------------------------------

# The spec's "Connector States" table, in its order.
SPEC_STATES = ("disconnected", "connecting", "connected", "syncing", "idle", "error", "rate_limited", "paused")
# What each lifecycle status reads as when nothing else is going on (no refused credentials, no
# running run); ``connected`` depends on whether a sync ever succeeded.
QUIET = {"disconnected": "disconnected", "pending": "connecting", "paused": "paused", "syncing": "syncing",
         "error": "error", "rate_limited": "rate_limited"}
# Statuses whose state no flag changes.
SETTLED = {"disconnected", "pending", "paused"}


def expected_state(status, needs_reauth, is_syncing, has_synced):
    if status in SETTLED:
        return QUIET[status]
    if needs_reauth:
        return "error"
    if is_syncing:
        return "syncing"
    if status == "connected":
        return "idle" if has_synced else "connected"
    return QUIET[status]


def test_every_status_and_flag_combination_maps_to_a_spec_state():
    assert CONNECTOR_STATUSES == SPEC_STATES
    seen = set()
    for status, needs_reauth, is_syncing, has_synced in itertools.product(STATUSES, (False, True), (False, True),
                                                                          (False, True)):
        state = connector_status(status, needs_reauth=needs_reauth, is_syncing=is_syncing, has_synced=has_synced)
        assert state == expected_state(status, needs_reauth, is_syncing, has_synced), (
            status, needs_reauth, is_syncing, has_synced, state)
        seen.add(state)
    assert seen == set(SPEC_STATES)  # every state of the spec is reachable
    with pytest.raises(ValueError):
        connector_status("archived", needs_reauth=False, is_syncing=False, has_synced=False)


# -- helpers ------------------------------------------------------------------------------------

def personal_access_token(sandbox_server) -> str:
    response = requests.post(f"{sandbox_server.url}/_sandbox/tokens", timeout=5,
                             json={"provider": "github", "kind": "personal", "scope": "repo read:org"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def stored(app, connection_id):
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        db.session.expunge(connection)
        return connection


def count_connections(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Connection))


@pytest.fixture
def few_streams(monkeypatch):
    """Repositories and issues only: enough for the walk, at a fraction of the requests."""
    streams = tuple(s for s in GitHubConnector.catalog.streams if s.name in ("repositories", "issues"))
    monkeypatch.setattr(GitHubConnector, "catalog", replace(GitHubConnector.catalog, streams=streams))


# -- GitHub with a personal access token ---------------------------------------------------------

def test_github_personal_access_token_walk(app, api, sandbox_server, few_streams):
    token = personal_access_token(sandbox_server)
    assert token.startswith("ghp_")
    # a deployment without a GitHub OAuth app still connects a token the user holds
    app.config["CONNECTORS"] = {"github": {"client_id": ""}}
    refused = api.post("/v1/connectors", json={"connector_type": "github"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "connector_not_connectable"
    response = api.post("/v1/connectors", json={
        "connector_type": "github", "display_name": "Eng GitHub", "credentials": {"token": token},
        "settings": {"channels": [REPO], "requests_per_minute": 120, "requests_per_hour": 0}})
    assert response.status_code == 201, response.json
    created = response.json
    assert token not in response.get_data(as_text=True)
    connector_id = created["connector_id"]
    assert created == {"connector_id": connector_id, "connector_type": "github", "display_name": "Eng GitHub",
                       "status": "connected", "last_sync_at": None, "document_count": 0, "oauth_url": None,
                       "settings": {"channels": [REPO], "requests_per_minute": 120, "requests_per_hour": 0},
                       "created_at": created["created_at"]}
    connection = stored(app, connector_id)
    assert connection.credentials["access_token"] == token and connection.token_expires_at is None
    assert connection.handle == "octo-sandbox" and connection.account_key == connection.external_account_id
    with app.app_context():
        raw = db.session.execute(db.text("SELECT credentials FROM connections")).scalar_one()
        assert token not in raw
    # the limiter a sync run of this connection paces with: its own limits replace the
    # catalog's 900 a minute and 5,000 an hour (0: none per hour)
    with app.app_context():
        ctx = engine._context(db.session.get(Connection, connector_id),
                              registry.get_connector(app.config, "github"), SyncRun(id="run_x"))
        assert (ctx.limiter.requests_per_minute, ctx.limiter.requests_per_hour) == (120, None)
        assert ctx.settings["channels"] == [REPO]

    # the same connection, seen through /api/v1/connections
    assert api.get(f"/api/v1/connections/{connector_id}").json["name"] == "Eng GitHub"
    assert [c["connector_id"] for c in api.get("/v1/connectors").json["connectors"]] == [connector_id]

    synced = api.post(f"/v1/connectors/{connector_id}/sync?full=true")
    assert synced.status_code == 202
    assert synced.json == {"status": "syncing", "connector_id": connector_id, "sync_type": "full",
                           "sync_run_id": synced.json["sync_run_id"]}
    assert worker.drain(app) == [synced.json["sync_run_id"]]
    after = api.get(f"/v1/connectors/{connector_id}").json
    with app.app_context():
        channels = set(db.session.scalars(select(Document.channel).where(Document.connection_id == connector_id)))
        documents = db.session.scalar(select(func.count()).select_from(Document)
                                      .where(Document.connection_id == connector_id))
    assert channels == {REPO}  # settings.channels: the named repository only
    assert after["status"] == "idle" and after["last_sync_at"] is not None
    assert after["document_count"] == documents > 0
    assert api.post(f"/v1/connectors/{connector_id}/sync").json["sync_type"] == "incremental"

    # the account is connected once per workspace
    again = api.post("/v1/connectors", json={"connector_type": "github", "credentials": {"token": token}})
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_connected"
    assert again.json["error"]["details"] == {"existing_id": connector_id}

    deleted = api.delete(f"/v1/connectors/{connector_id}")
    assert deleted.status_code == 200 and deleted.json["status"] == "disconnected"
    assert stored(app, connector_id).credentials is None
    # a token the user gave is theirs: dropped here, not revoked at the provider
    user = requests.get(f"{sandbox_server.url}/github/api/user", headers={"Authorization": f"Bearer {token}"},
                        timeout=5)
    assert user.status_code == 200

    back = api.post("/v1/connectors", json={"connector_type": "github", "credentials": {"token": token}})
    assert back.status_code == 201 and back.json["connector_id"] == connector_id  # in place, history kept
    assert back.json["status"] == "idle" and back.json["settings"]["channels"] == [REPO]


def test_api_key_as_credentials_and_oauth_without_them(app, api, sandbox_server):
    """An API-key connector takes its key as credentials; an OAuth connector without
    credentials answers where to send the user."""
    response = api.post("/v1/connectors", json={"connector_type": "pipedrive", "display_name": "Sales",
                                                "credentials": {"api_key": PIPEDRIVE_KEY},
                                                "settings": {"requests_per_hour": "500"}})
    assert response.status_code == 201, response.json
    assert response.json["status"] == "connected" and response.json["oauth_url"] is None
    connection = stored(app, response.json["connector_id"])
    assert connection.credentials == {"api_key": PIPEDRIVE_KEY}
    assert connection.settings == {"requests_per_hour": 500}

    response = api.post("/v1/connectors", json={"connector_type": "github", "display_name": "Eng GitHub"})
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "connecting"
    assert body["oauth_url"].startswith(f"{sandbox_server.url}/github/login/oauth/authorize?")
    assert "code_challenge=" in body["oauth_url"] and "state=" in body["oauth_url"]


REFUSALS = [
    ({"connector_type": "github", "credentials": {"token": "ghp_wrong"}}, 422, "invalid_credentials",
     {"field": "credentials.token"}),
    ({"connector_type": "pipedrive", "credentials": {"api_key": "wrong"}}, 422, "invalid_credentials", None),
    ({"connector_type": "pipedrive"}, 422, "missing_field", {"field": "credentials.api_key"}),
    ({"connector_type": "pipedrive", "credentials": {"token": PIPEDRIVE_KEY}}, 422, "unknown_credential",
     {"field": "credentials.token", "accepted": ["api_key"]}),
    ({"connector_type": "pipedrive", "credentials": {"api_key": PIPEDRIVE_KEY}, "settings": {"channels": ["x"]}},
     422, "unknown_setting", {"field": "settings.channels", "setting": "channels", "unknown": ["channels"],
                              "known": ["requests_per_minute", "requests_per_hour"]}),
    ({"connector_type": "github", "settings": {"sync_private": False, "channels": [REPO]}}, 422, "unknown_setting",
     None),
    ({"connector_type": "github", "settings": {"requests_per_minute": -1}}, 422, "invalid_setting",
     {"field": "settings.requests_per_minute", "setting": "requests_per_minute"}),
    ({"connector_type": "github", "settings": {"channels": "octo-sandbox/atlas-etl"}}, 422, "invalid_setting",
     {"field": "settings.channels", "setting": "channels"}),
    ({"connector_type": "github", "settings": {"channels": ["acme/\u202eapi"]}}, 422, "invalid_setting",
     {"field": "settings.channels", "setting": "channels", "character": "U+202E"}),
    ({"connector_type": "gmail", "owner_user_id": "OWNER", "credentials": {"token": "t"}}, 422,
     "credentials_not_accepted", {"field": "credentials", "auth_method": "oauth_redirect"}),
    ({"connector_type": "twitter"}, 422, "connect_method_unsupported", None),
    ({"connector_type": "github", "name": "x"}, 422, "unknown_field", {"field": "name"}),
    ({"connector_type": "nope"}, 422, "unknown_connector_type", None),
]


def test_refusals_name_what_is_wrong_and_store_nothing(app, api, workspace):
    for body, status, code, details in REFUSALS:
        if body.get("owner_user_id") == "OWNER":
            body = {**body, "owner_user_id": workspace[1].id}
        response = api.post("/v1/connectors", json=body)
        assert response.status_code == status, (body, response.json)
        error = response.json["error"]
        assert error["code"] == code, (body, error)
        if details is not None:
            assert error["details"] == details, (body, error)
        if code == "unknown_setting" and details is None:
            assert error["details"]["setting"] == "sync_private"
    assert count_connections(app) == 0


def test_another_workspaces_connector_is_the_same_404_as_a_missing_one(app, api, client):
    with app.app_context():
        other_ws, other_user = make_workspace("Other", email="other@example.com")
        theirs = make_connection(other_ws.id, name="Theirs").id
        other = Api(client, make_api_key(other_ws, other_user))
    assert other.get(f"/v1/connectors/{theirs}").status_code == 200
    for connector_id in (theirs, MISSING_ID):
        for call in (lambda: api.get(f"/v1/connectors/{connector_id}"),
                     lambda: api.post(f"/v1/connectors/{connector_id}/sync"),
                     lambda: api.delete(f"/v1/connectors/{connector_id}")):
            response = call()
            assert response.status_code == 404
            assert response.json["error"]["code"] == "not_found"
            assert response.json["error"]["details"] == {"id": connector_id}
    assert api.get("/v1/connectors").json == {"connectors": []}
    assert stored(app, theirs).status == "connected"
