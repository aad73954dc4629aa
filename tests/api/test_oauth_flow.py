"""The OAuth redirect flow against the provider sandbox: success and every failure path."""
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from connections import oauth
from connections.models import Connection, OAuthState
from connectors.errors import ProviderAuthError
from core.extensions import db
from core.timeutil import utcnow
from tests.oauth_helpers import consent, local_path


def start(api, connector_type="github", **body):
    response = api.post("/api/v1/connections", json={"connector_type": connector_type, **body})
    assert response.status_code == 201, response.json
    return response.json


def stats(sandbox_server):
    return requests.get(f"{sandbox_server.url}/_sandbox/stats", timeout=5).json()


def connect_github(api, client, **body):
    started = start(api, **body)
    callback = consent(started["authorize_url"])
    response = client.get(local_path(callback))
    return started["connection"]["id"], callback, response


def test_github_connect_end_to_end(app, api, client):
    connection_id, callback, response = connect_github(api, client)
    assert urlsplit(callback).path == "/oauth/github/callback"
    assert response.status_code == 200 and b"Connected" in response.data
    connection = api.get(f"/api/v1/connections/{connection_id}").json
    assert connection["status"] == "connected" and connection["health"] == "healthy"
    assert connection["handle"] == "octo-sandbox" and connection["name"] == "GitHub (octo-sandbox)"
    assert connection["token_expires_at"] is not None
    with app.app_context():
        credentials = db.session.get(Connection, connection_id).credentials
        assert credentials["access_token"].startswith("ghu_") and credentials["refresh_token"].startswith("ghr_")
        raw = db.session.execute(db.text("SELECT credentials FROM connections")).scalar_one()
        assert credentials["access_token"] not in raw
    page = api.get(f"/api/v1/connections/{connection_id}").get_data(as_text=True)
    assert credentials["access_token"] not in page and credentials["refresh_token"] not in page


def test_return_to_gets_connected_flag_and_the_connection_id(api, client):
    connection_id, _, response = connect_github(api, client, return_to="/connections")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/connections?connected=github&connection_id={connection_id}"


def test_denied_consent_leaves_no_connection(app, api, client):
    started = start(api, return_to="/connections")
    callback = consent(started["authorize_url"], approve=False)
    assert parse_qs(urlsplit(callback).query)["error"] == ["access_denied"]
    response = client.get(local_path(callback))
    assert response.headers["Location"] == "/connections?connection_error=access_denied"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Connection)) == 0


def test_bad_state_is_refused(app, client):
    response = client.get("/oauth/github/callback?code=abc&state=forged")
    assert response.status_code == 400 and b"invalid_state" in response.data


def test_state_for_another_connector_type_is_refused(api, client):
    started = start(api)
    callback = consent(started["authorize_url"])
    response = client.get(local_path(callback).replace("/oauth/github/", "/oauth/gmail/"))
    assert response.status_code == 400 and b"invalid_state" in response.data


def test_replayed_callback_is_refused_and_leaves_one_connection(app, api, client):
    connection_id, callback, first = connect_github(api, client)
    assert first.status_code == 200
    second = client.get(local_path(callback))
    assert second.status_code == 400 and b"already used" in second.data
    assert [c["id"] for c in api.get("/api/v1/connections").json["connections"]] == [connection_id]
    assert api.get(f"/api/v1/connections/{connection_id}").json["status"] == "connected"


def test_replayed_code_is_refused_by_the_provider(app, api, client):
    """A code used once cannot finish a second authorization, even with a fresh state."""
    _, callback, _ = connect_github(api, client)
    used_code = parse_qs(urlsplit(callback).query)["code"][0]
    second = start(api)
    state = parse_qs(urlsplit(second["authorize_url"]).query)["state"][0]
    response = client.get(f"/oauth/github/callback?code={used_code}&state={state}")
    assert response.status_code == 400 and b"token_exchange_failed" in response.data
    with app.app_context():
        assert db.session.get(Connection, second["connection"]["id"]) is None


def test_expired_state_is_refused(app, api, client):
    started = start(api, return_to="/connections")
    callback = consent(started["authorize_url"])
    with app.app_context():
        for row in db.session.scalars(select(OAuthState)):
            row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get(local_path(callback))
    assert response.headers["Location"] == "/connections?connection_error=state_expired"


def test_state_is_bound_to_the_console_session(app, client, workspace):
    from connections import service
    from tests.factories import user_actor_for

    with app.app_context(), app.test_request_context():
        ws, user = workspace
        actor = user_actor_for(ws, user)
        authorize_url = service.connect(actor, {"connector_type": "github"})["authorize_url"]
    callback = consent(authorize_url)
    response = client.get(local_path(callback))  # no session: someone else's browser
    assert response.status_code == 400 and b"another session" in response.data
    with client.session_transaction() as session:
        session["user_id"] = "usr_someoneelse"
    assert client.get(local_path(callback)).status_code == 400


def _expire_token(app, connection_id):
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.token_expires_at = utcnow() + timedelta(seconds=10)  # inside the refresh margin
        db.session.commit()


def test_token_refresh_rotates_and_stores_the_new_refresh_token(app, api, client, sandbox_server):
    connection_id, _, _ = connect_github(api, client)
    with app.app_context():
        before = dict(db.session.get(Connection, connection_id).credentials)
    _expire_token(app, connection_id)
    with app.app_context():
        token = oauth.access_token(connection_id)
        after = db.session.get(Connection, connection_id)
        assert token == after.credentials["access_token"] != before["access_token"]
        assert after.credentials["refresh_token"] != before["refresh_token"]
        assert after.token_expires_at > utcnow() + timedelta(hours=1)
        assert oauth.access_token(connection_id) == token  # fresh: no second refresh
    assert stats(sandbox_server)["token_grants"]["github"]["refresh_token"] == 1


def test_concurrent_syncs_refresh_once(app, api, client, sandbox_server):
    connection_id, _, _ = connect_github(api, client)
    _expire_token(app, connection_id)
    tokens, errors = [], []
    barrier = threading.Barrier(4)

    def worker():
        with app.app_context():
            try:
                barrier.wait()
                tokens.append(oauth.access_token(connection_id))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(set(tokens)) == 1 and len(tokens) == 4
    assert stats(sandbox_server)["token_grants"]["github"]["refresh_token"] == 1


def test_refused_refresh_turns_the_connection_to_needs_reauth(app, api, client, sandbox_server):
    connection_id, _, _ = connect_github(api, client)
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "github", "kind": "revoke_tokens"},
                  timeout=5)
    _expire_token(app, connection_id)
    with app.app_context():
        with pytest.raises(ProviderAuthError):
            oauth.access_token(connection_id)
    connection = api.get(f"/api/v1/connections/{connection_id}").json
    assert connection["health"] == "needs_reauth" and connection["status"] == "error"
    assert "reconnect" in connection["last_error"]
    # and reconnect brings it back in place
    again = api.post(f"/api/v1/connections/{connection_id}/reconnect", json={"return_to": "/connections"}).json
    response = client.get(local_path(consent(again["authorize_url"])))
    assert response.headers["Location"] == f"/connections?connected=github&connection_id={connection_id}"
    restored = api.get(f"/api/v1/connections/{connection_id}").json
    assert restored["health"] == "healthy" and restored["needs_reauth"] is False


def test_a_refresh_response_without_refresh_token_keeps_the_old_one(app, ctx):
    connection = Connection(credentials={"access_token": "a1", "refresh_token": "r1"})
    oauth._store_token(connection, {"access_token": "a2", "expires_in": 3600})
    assert connection.credentials["refresh_token"] == "r1" and connection.credentials["access_token"] == "a2"


def test_gmail_is_personal_and_owned_by_the_member_who_connects(app, client, workspace):
    from connections import service
    from tests.factories import add_member, user_actor_for

    with app.app_context(), app.test_request_context():
        ws, _ = workspace
        member = add_member(db.session.merge(ws), email="bea@example.com")
        actor = user_actor_for(ws, member, role="member")
        started = service.connect(actor, {"connector_type": "gmail"})
        member_id = member.id
    assert "access_type=offline" in started["authorize_url"]
    with client.session_transaction() as session:
        session["user_id"], session["workspace_id"] = member_id, ws.id
    response = client.get(local_path(consent(started["authorize_url"])))
    assert response.status_code == 200, response.data
    with app.app_context():
        connection = db.session.get(Connection, started["connection"]["id"])
        assert connection.scope == "personal" and connection.owner_user_id == member_id
        assert connection.status == "connected" and "@" in connection.handle  # the mailbox address
