"""API keys: bearer authentication, scopes, revocation."""
import pytest

from accounts import service as accounts
from core.extensions import db
from tests.factories import Api, make_api_key, user_actor_for

READ_ENDPOINTS = [("get", "/api/v1/connections"), ("get", "/api/v1/connections/catalog")]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer   "])
def test_missing_key_is_401_with_a_stable_code(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/connections", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "missing_api_key"


def test_unknown_key_is_401(client):
    response = client.get("/api/v1/connections", headers={"Authorization": "Bearer trb_nope"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_api_key"


def test_key_is_stored_hashed_and_shown_once(app, workspace):
    with app.app_context():
        ws, user = workspace
        key, clear = accounts.create_api_key(user_actor_for(ws, user), name="ci", scopes=["connections:read"])
        assert clear.startswith("trb_") and len(clear) > 40
        assert key.key_hash != clear and clear not in key.key_hash
        assert key.prefix == clear[:12]
        stored = db.session.execute(db.text("SELECT * FROM api_keys")).mappings().one()
        assert clear not in str(dict(stored))


def test_revoked_key_is_refused(app, client, workspace):
    with app.app_context():
        ws, user = workspace
        key, clear = accounts.create_api_key(user_actor_for(ws, user), name="ci", scopes=["connections:read"])
        assert Api(client, clear).get("/api/v1/connections").status_code == 200
        accounts.revoke_api_key(user_actor_for(ws, user), key.id)
    response = Api(client, clear).get("/api/v1/connections")
    assert response.status_code == 401 and response.json["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("method,path,scope", [
    ("get", "/api/v1/connections", "connections:read"),
    ("get", "/api/v1/connections/catalog", "connections:read"),
    ("post", "/api/v1/connections", "connections:write"),
    ("post", "/api/v1/connections/resolve", "connections:write"),
    ("patch", "/api/v1/connections/conn_x", "connections:write"),
    ("delete", "/api/v1/connections/conn_x", "connections:write"),
    ("post", "/api/v1/connections/conn_x/reconnect", "connections:write"),
    ("get", "/api/v1/connections/conn_x/status", "connections:read"),
    ("get", "/api/v1/connections/conn_x/runs", "connections:read"),
    ("post", "/api/v1/connections/conn_x/sync", "sync"),
])
def test_a_key_without_the_scope_gets_403(app, client, workspace, method, path, scope):
    with app.app_context():
        ws, user = workspace
        other_scope = "query" if scope != "query" else "pipeline"
        clear = make_api_key(db.session.merge(ws), db.session.merge(user), scopes=[other_scope])
    response = getattr(Api(client, clear), method)(path)
    assert response.status_code == 403
    body = response.json["error"]
    assert body["code"] == "insufficient_scope"
    assert body["details"]["required_scope"] == scope


def test_admin_scope_implies_every_scope(api):
    assert api.get("/api/v1/connections").status_code == 200


def test_invalid_scopes_are_refused(app, workspace):
    from core.errors import ValidationError

    with app.app_context():
        ws, user = workspace
        with pytest.raises(ValidationError) as info:
            accounts.create_api_key(user_actor_for(ws, user), name="x", scopes=["connections:read", "root"])
        assert info.value.code == "invalid_scopes"


def test_members_cannot_create_keys(app, workspace):
    from core.errors import Forbidden
    from tests.factories import add_member

    with app.app_context():
        ws, _ = workspace
        member = add_member(db.session.merge(ws), email="m@example.com")
        with pytest.raises(Forbidden):
            accounts.create_api_key(user_actor_for(ws, member, role="member"), name="x", scopes=["query"])


def test_errors_are_json_with_code_message_details(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert set(response.json["error"]) == {"code", "message", "details"}
    assert response.json["error"]["code"] == "not_found"
