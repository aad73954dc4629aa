"""POST /api/v1/connections in its four modes, and handle resolution."""
from sqlalchemy import func, select

from connections.models import Connection
from core.extensions import db

PIPEDRIVE_KEY = "sandbox-pipedrive-key"


def count_connections(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Connection))


def test_api_key_connect_verifies_then_stores_encrypted(app, api):
    response = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY,
                                                     "name": "Acme Pipedrive"})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["mode"] == "connected"
    connection = body["connection"]
    assert connection["status"] == "connected" and connection["name"] == "Acme Pipedrive"
    assert connection["kind"] == "first_party" and connection["scope"] == "business"
    assert connection["last_run"] is None and connection["health"] == "healthy"
    assert PIPEDRIVE_KEY not in response.get_data(as_text=True)
    with app.app_context():
        raw = db.session.execute(db.text("SELECT credentials FROM connections")).scalar_one()
        assert PIPEDRIVE_KEY not in raw and raw.startswith("gAAAAA")
        assert db.session.get(Connection, connection["id"]).credentials == {"api_key": PIPEDRIVE_KEY}


def test_bad_api_key_is_refused_and_nothing_is_stored(app, api):
    response = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": "wrong-key"})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_credentials"
    assert count_connections(app) == 0


def test_missing_api_key(api):
    response = api.post("/api/v1/connections", json={"connector_type": "pipedrive"})
    assert response.status_code == 422
    assert response.json["error"] == {"code": "missing_field", "message": "api_key is required.",
                                      "details": {"field": "api_key"}}


def test_provider_down_is_a_502_and_nothing_is_stored(app, api):
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": "http://127.0.0.1:9/api/v1"}}
    response = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})
    assert response.status_code == 502
    assert response.json["error"]["code"] == "provider_unavailable"
    assert count_connections(app) == 0


def test_oauth_connect_returns_authorize_url_with_pkce_and_a_pending_connection(app, api, sandbox_server):
    response = api.post("/api/v1/connections", json={"connector_type": "github", "name": "Eng GitHub"})
    assert response.status_code == 201
    body = response.json
    assert body["mode"] == "oauth_redirect"
    assert body["authorize_url"].startswith(f"{sandbox_server.url}/github/login/oauth/authorize?")
    assert "code_challenge_method=S256" in body["authorize_url"] and "code_challenge=" in body["authorize_url"]
    assert "state=" in body["authorize_url"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Foauth%2Fgithub%2Fcallback" in body["authorize_url"]
    assert body["connection"]["status"] == "pending"


def test_handle_connect_resolves_then_tracks(api):
    resolved = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "@acme"})
    assert resolved.status_code == 200, resolved.json
    account = resolved.json
    assert account["account_handle"] == "acme" and account["external_account_id"] == "1234567890"
    assert account["already_connected_id"] is None
    response = api.post("/api/v1/connections", json={
        "connector_type": "twitter", "account_handle": "acme", "external_account_id": account["external_account_id"],
        "display_name": account["display_name"], "followers": account["followers"]})
    assert response.status_code == 201
    connection = response.json["connection"]
    assert response.json["mode"] == "connected"
    assert connection["handle"] == "acme" and connection["external_account_id"] == "1234567890"
    assert connection["display_name"] and "avatar_url" in connection

    again = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                  "external_account_id": "1234567890"})
    assert again.status_code == 200
    assert again.json == {"mode": "already_connected", "existing_id": connection["id"]}
    assert api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}
                    ).json["already_connected_id"] == connection["id"]


def test_handle_alone_is_not_enough(api):
    response = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme"})
    assert response.status_code == 422
    assert response.json["error"]["details"]["field"] == "external_account_id"


def test_handle_with_the_wrong_account_id_is_refused(app, api):
    response = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                     "external_account_id": "999"})
    assert response.status_code == 422 and response.json["error"]["code"] == "handle_mismatch"
    assert count_connections(app) == 0


def test_unknown_handle(api):
    response = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter",
                                                             "account_handle": "nobody_here_42"})
    assert response.status_code == 404 and response.json["error"]["code"] == "handle_not_found"


def test_malformed_handle(api):
    response = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter",
                                                             "account_handle": "not a handle!"})
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_handle"


def test_webhook_connect_returns_url_and_secret_once(app, api):
    response = api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Billing events"})
    assert response.status_code == 201
    body = response.json
    assert body["mode"] == "webhook"
    assert body["signing_secret"].startswith("whsec_")
    connection_id = body["connection"]["id"]
    assert body["webhook_url"] == f"http://localhost/webhooks/{connection_id}"
    shown_later = api.get(f"/api/v1/connections/{connection_id}").get_data(as_text=True)
    assert body["signing_secret"] not in shown_later and body["webhook_url"] in shown_later


def test_coming_soon_connector_is_not_connectable(app, api):
    response = api.post("/api/v1/connections", json={"connector_type": "circleback", "api_key": "x"})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "connector_not_connectable" and error["details"]["reason_code"] == "coming_soon"
    assert count_connections(app) == 0


def test_unknown_connector_type(api):
    response = api.post("/api/v1/connections", json={"connector_type": "myspace"})
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_connector_type"


def test_body_must_be_json_object(api):
    response = api.post("/api/v1/connections", data="not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_json"
    response = api.post("/api/v1/connections", json=[1, 2])
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_body"


def test_invalid_scope_value(api):
    response = api.post("/api/v1/connections", json={"connector_type": "webhook", "scope": "global"})
    assert response.status_code == 422 and response.json["error"]["details"]["field"] == "scope"


def test_return_to_only_first_party(app, api):
    from connections.models import OAuthState

    api.post("/api/v1/connections", json={"connector_type": "github", "return_to": "https://evil.example/steal"})
    api.post("/api/v1/connections", json={"connector_type": "github", "return_to": "//evil.example/x"})
    api.post("/api/v1/connections", json={"connector_type": "github", "return_to": "/connections?tab=1"})
    api.post("/api/v1/connections", json={"connector_type": "github", "return_to": "http://localhost/connections"})
    with app.app_context():
        kept = sorted(filter(None, db.session.scalars(select(OAuthState.return_to))))
    assert kept == ["/connections?tab=1", "http://localhost/connections"]


def test_connect_writes_an_audit_event_without_secrets(app, api):
    from audit.models import AuditEvent

    api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "connection.connected")).all()
        assert len(events) == 1
        event = events[0]
        assert event.actor_type == "api_key" and event.target_type == "connection" and event.outcome == "success"
        assert event.client_address == "127.0.0.1"
        assert PIPEDRIVE_KEY not in str(event.details)


def test_personal_connector_through_an_api_key_names_its_owner(app, api, workspace):
    response = api.post("/api/v1/connections", json={"connector_type": "gmail"})
    assert response.status_code == 422 and response.json["error"]["details"]["field"] == "owner_user_id"
    _, user = workspace
    response = api.post("/api/v1/connections", json={"connector_type": "gmail", "owner_user_id": user.id})
    assert response.status_code == 201
    assert response.json["connection"]["owner_user_id"] == user.id
    assert response.json["connection"]["scope"] == "personal"


def test_json_body_is_read_whatever_the_content_type(api):
    response = api.post("/api/v1/connections", data='{"connector_type": "webhook"}',
                        headers={"Content-Type": "text/plain"})
    assert response.status_code == 201


def test_already_connected_needs_a_matching_handle(api):
    account = api.post("/api/v1/connections/resolve", json={"connector_type": "twitter", "account_handle": "acme"}).json
    body = {"connector_type": "twitter", "external_account_id": account["external_account_id"]}
    api.post("/api/v1/connections", json={**body, "account_handle": "acme"})
    bad = api.post("/api/v1/connections", json={**body, "account_handle": "not a handle"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_handle"
