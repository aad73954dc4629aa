"""Another workspace's connection id answers exactly like an id that does not exist."""
import pytest

from core.extensions import db
from tests.factories import Api, make_api_key, make_workspace

ENDPOINTS = [
    ("get", "/api/v1/connections/{id}", None),
    ("patch", "/api/v1/connections/{id}", {"name": "mine now"}),
    ("delete", "/api/v1/connections/{id}", None),
    ("post", "/api/v1/connections/{id}/reconnect", {"api_key": "sandbox-pipedrive-key"}),
    ("get", "/api/v1/connections/{id}/status", None),
    ("get", "/api/v1/connections/{id}/runs", None),
    ("post", "/api/v1/connections/{id}/sync", None),
    ("post", "/api/v1/connections/{id}/check", None),
]


@pytest.fixture
def foreign_connection(app, client):
    """A connection in workspace Globex, and an Acme key that must not see it."""
    with app.app_context():
        globex, globex_admin = make_workspace("Globex")
        acme, acme_admin = make_workspace("Acme")
        globex_api = Api(client, make_api_key(globex, globex_admin))
        acme_api = Api(client, make_api_key(acme, acme_admin))
    connection = globex_api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                              "api_key": "sandbox-pipedrive-key"}).json["connection"]
    globex_api.delete(f"/api/v1/connections/{connection['id']}")  # so reconnect would be allowed
    return acme_api, globex_api, connection["id"]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_cross_workspace_is_the_same_404_as_missing(foreign_connection, method, path, body):
    acme_api, globex_api, connection_id = foreign_connection
    call = getattr(acme_api, method)
    kwargs = {"json": body} if body is not None else {}
    foreign = call(path.format(id=connection_id), **kwargs)
    missing = call(path.format(id="conn_doesnotexist00"), **kwargs)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json["error"]["code"] == missing.json["error"]["code"] == "not_found"
    assert foreign.json["error"]["message"] == missing.json["error"]["message"]
    # and nothing changed on the owner's side
    owned = globex_api.get(f"/api/v1/connections/{connection_id}").json
    assert owned["name"] != "mine now" and owned["status"] == "disconnected"


def test_lists_only_show_own_workspace(foreign_connection):
    acme_api, globex_api, connection_id = foreign_connection
    assert acme_api.get("/api/v1/connections").json["connections"] == []
    assert [c["id"] for c in globex_api.get("/api/v1/connections").json["connections"]] == [connection_id]
