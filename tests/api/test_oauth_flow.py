"""The OAuth redirect flow against the provider sandbox: success and every failure path."""
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from connections import oauth
from audit.models import AuditEvent
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


def test_a_google_token_lasts_an_hour_and_is_refreshed_before_it_ends(app, api, client, workspace,
                                                                     sandbox_server):
    """Google's access tokens live an hour ("expires_in": 3599) and a refresh does not rotate
    the refresh token: inside the margin the connection refreshes, keeps its refresh token, and
    the new access token opens the API."""
    ws, user = workspace
    started = start(api, "gmail", owner_user_id=user.id)
    with client.session_transaction() as session:     # the owner's browser comes back
        session["user_id"], session["workspace_id"] = user.id, ws.id
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection_id = started["connection"]["id"]
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        assert timedelta(minutes=59) < connection.token_expires_at - utcnow() <= timedelta(seconds=3599)
        before = dict(connection.credentials)
    _expire_token(app, connection_id)
    with app.app_context():
        token = oauth.access_token(connection_id)
        after = db.session.get(Connection, connection_id).credentials
        assert token == after["access_token"] != before["access_token"]
        assert after["refresh_token"] == before["refresh_token"]
    profile = requests.get(f"{sandbox_server.url}/google/gmail/v1/users/me/profile",
                           headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert profile.status_code == 200
    assert stats(sandbox_server)["token_grants"]["google"]["refresh_token"] == 1


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

    app.config["SYNC_ON_CONNECT"] = True
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
        # The member signed in as that mailbox: its address and Google account are verified theirs.
        from access.models import IdentityLink

        links = {(l.kind, l.user_id) for l in db.session.scalars(select(IdentityLink))}
        assert links == {("email", member_id), ("provider_user", member_id)}
        # Its first, full sync was queued for its owner's mailbox.
        from sync.models import SyncRun

        [run] = db.session.scalars(select(SyncRun)).all()
        assert (run.connection_id, run.mode) == (connection.id, "full")


# -- the same provider account connected again ---------------------------------------------------

def _connections(app):
    with app.app_context():
        rows = db.session.scalars(select(Connection).order_by(Connection.created_at)).all()
        result = [(c.id, c.status, c.external_account_id) for c in rows]
        db.session.remove()
        return result


def test_connecting_an_account_again_updates_its_connection_in_place(app, api, client):
    """Clicking Connect GitHub again for the same GitHub account never makes a second row."""
    first_id, _, _ = connect_github(api, client)
    with app.app_context():
        first_token = db.session.get(Connection, first_id).credentials["access_token"]
    pending_ids = []
    for _ in range(3):
        started = start(api, return_to="/connections")
        pending_ids.append(started["connection"]["id"])
        response = client.get(local_path(consent(started["authorize_url"])))
        assert response.status_code == 302
        assert response.headers["Location"] == (f"/connections?connected=github&connection_id={first_id}"
                                                "&already_connected=1")
    assert [(cid, status) for cid, status, _ in _connections(app)] == [(first_id, "connected")]
    for pending_id in pending_ids:
        assert api.get(f"/api/v1/connections/{pending_id}").status_code == 404
    with app.app_context():
        connection = db.session.get(Connection, first_id)
        assert connection.credentials["access_token"] != first_token  # the fresh authorization is kept
        events = [e.action for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.target_id == first_id).order_by(AuditEvent.created_at))]
    assert events.count("connection.reconnected") == 3


def test_the_callback_page_says_the_account_was_already_connected(app, api, client):
    first_id, _, _ = connect_github(api, client)
    started = start(api)
    response = client.get(local_path(consent(started["authorize_url"])))
    assert response.status_code == 200
    assert b"already connected" in response.data and first_id.encode() in response.data
    assert len(_connections(app)) == 1


def test_connecting_a_disconnected_account_brings_its_connection_back(app, api, client):
    first_id, _, _ = connect_github(api, client)
    api.delete(f"/api/v1/connections/{first_id}")
    started = start(api, return_to="/connections")
    response = client.get(local_path(consent(started["authorize_url"])))
    assert "already_connected=1" in response.headers["Location"]
    restored = api.get(f"/api/v1/connections/{first_id}").json
    assert restored["status"] == "connected" and restored["disconnected_at"] is None
    assert [cid for cid, _, _ in _connections(app)] == [first_id]


def test_two_callbacks_for_one_account_at_once_leave_one_connection(app, api, sandbox_server, monkeypatch):
    """Two tabs authorize the same account and their callbacks race: one row, never two."""
    from connectors.github import GitHubConnector

    callbacks = [local_path(consent(start(api)["authorize_url"])) for _ in range(2)]
    real_account = GitHubConnector.account
    # Both callbacks have exchanged their codes and learned the account before either stores it.
    barrier = threading.Barrier(2, timeout=20)

    def account(self, access_token):
        found = real_account(self, access_token)
        barrier.wait()
        return found

    monkeypatch.setattr(GitHubConnector, "account", account)
    statuses, errors = [], []

    def callback(path):
        try:
            statuses.append(app.test_client().get(path).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=callback, args=(path,)) for path in callbacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(statuses) == [200, 200]
    rows = _connections(app)
    assert len(rows) == 1 and rows[0][1] == "connected"


def test_reconnecting_as_an_account_another_connection_holds_is_refused(app, api, client):
    holder_id, _, _ = connect_github(api, client)
    with app.app_context():
        other = Connection(workspace_id=db.session.get(Connection, holder_id).workspace_id, connector_type="github",
                           name="GitHub (someone-else)", status="error", needs_reauth=True,
                           external_account_id="424242", last_error="The provider refused the token.")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    again = api.post(f"/api/v1/connections/{other_id}/reconnect", json={"return_to": "/connections"}).json
    response = client.get(local_path(consent(again["authorize_url"])))
    assert response.headers["Location"] == f"/connections?connection_error=already_connected&connection_id={holder_id}"
    with app.app_context():
        other = db.session.get(Connection, other_id)
        assert other.external_account_id == "424242" and other.needs_reauth  # untouched
        assert "already connected" in other.last_error
    assert len(_connections(app)) == 2


def test_a_mailbox_another_member_connected_is_not_taken_over(app, client, workspace):
    from connections import service
    from core.actor import Actor

    def connect_gmail_as(user_id):
        with app.app_context(), app.test_request_context():
            actor = Actor(type="user", id=user_id, label=None, workspace_id=ws.id, user_id=user_id, role="member")
            started = service.connect(actor, {"connector_type": "gmail", "return_to": "/connections"})
        with client.session_transaction() as session:
            session["user_id"], session["workspace_id"] = user_id, ws.id
        return started, client.get(local_path(consent(started["authorize_url"])))

    ws, _ = workspace
    with app.app_context():
        from tests.factories import add_member

        bea = add_member(db.session.merge(ws), email="bea@example.com").id
        cal = add_member(db.session.merge(ws), email="cal@example.com").id
    first, _ = connect_gmail_as(bea)
    second, response = connect_gmail_as(cal)
    assert response.headers["Location"] == ("/connections?connection_error=already_connected"
                                            f"&connection_id={first['connection']['id']}")
    with app.app_context():
        rows = db.session.scalars(select(Connection)).all()
        assert [(c.id, c.owner_user_id) for c in rows] == [(first["connection"]["id"], bea)]
