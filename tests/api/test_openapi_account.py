"""Contract tests of the account surfaces (usage, subscription, users) and of the limits the
connect, pipeline-sync and query operations enforce: real requests checked against the document
(``test_openapi``'s ``Contract``), their ``@covers`` counted by its completeness test."""
import json
from pathlib import Path

from accounts.models import Invitation
from blueprints.api.openapi import build_openapi
from core.extensions import db
from tests.api.test_openapi import (MISSING_ID, contract, covers, key_with, sync_body, upsert_op)  # noqa: F401
from tests.factories import add_member, make_api_key, make_connection, make_workspace

MISSING_USER = "usr_doesnotexist0000"
MISSING_INVITATION = "inv_doesnotexist0000"


@covers("GET /api/v1/usage 200", "GET /api/v1/usage 422", "GET /api/v1/subscription 200")
def test_usage_and_subscription(app, contract):
    body = contract.call("GET /api/v1/usage", 200, query={"period": "week"}).get_json()
    assert body["period"] == "week" and len(body["queries"]["series"]) in (7, 8)
    contract.call("GET /api/v1/usage", 200, query={"start": "2026-11-01", "end": "2026-11-02"})
    for query, code in (({"period": "year"}, "invalid_parameter"), ({"end": "soon"}, "invalid_parameter"),
                        ({"start": "2026-11-02", "end": "2026-11-01"}, "invalid_date_range")):
        assert contract.call("GET /api/v1/usage", 422, query=query).get_json()["error"]["code"] == code
    app.config["LIMIT_CONNECTIONS"] = 4
    body = contract.call("GET /api/v1/subscription", 200).get_json()
    assert body["limits"][0] == {"name": "connections", "limit": 4, "used": 0, "period": None, "percent": 0.0,
                                 "status": "ok"}


@covers("GET /api/v1/users 200", "POST /api/v1/users/invite 201", "POST /api/v1/users/invite 409",
        "POST /api/v1/users/invite 422", "DELETE /api/v1/users/invitations/{invitation_id} 200",
        "DELETE /api/v1/users/invitations/{invitation_id} 404")
def test_invitations(app, workspace, contract):
    invited = contract.call("POST /api/v1/users/invite", 201, json={"email": "bob@example.com", "role": "member"})
    invitation = invited.get_json()["invitation"]["id"]
    listed = contract.call("GET /api/v1/users", 200).get_json()
    assert [i["id"] for i in listed["invitations"]] == [invitation]
    assert contract.call("POST /api/v1/users/invite", 409,
                         json={"email": workspace[1].email}).get_json()["error"]["code"] == "already_member"
    for body, code in (({}, "missing_field"), ({"email": "nope"}, "invalid_email"),
                       ({"email": "x@example.com", "role": "owner"}, "invalid_role"),
                       ({"email": ["x@example.com"]}, "invalid_field"),
                       ({"email": "x@example.com", "name": "X"}, "unknown_field")):
        assert contract.call("POST /api/v1/users/invite", 422, json=body).get_json()["error"]["code"] == code
    path = {"invitation_id": invitation}
    assert contract.call("DELETE /api/v1/users/invitations/{invitation_id}", 200, path=path).get_json()["revoked"]
    with app.app_context():
        globex, their_admin = make_workspace("Globex")
        theirs = Invitation(workspace_id=globex.id, email="eve@example.com", role="member", token_hash="0" * 64,
                            expires_at=db.func.now(), send_count=0)
        db.session.add(theirs)
        db.session.commit()
        theirs_id = theirs.id
    for missing in (MISSING_INVITATION, theirs_id):
        contract.call("DELETE /api/v1/users/invitations/{invitation_id}", 404, path={"invitation_id": missing})


@covers("PATCH /api/v1/users/{user_id} 200", "PATCH /api/v1/users/{user_id} 404", "PATCH /api/v1/users/{user_id} 409",
        "PATCH /api/v1/users/{user_id} 422", "DELETE /api/v1/users/{user_id} 200",
        "DELETE /api/v1/users/{user_id} 404", "DELETE /api/v1/users/{user_id} 409")
def test_roles_and_removal(app, workspace, contract):
    ws, admin = workspace
    with app.app_context():
        mia = add_member(db.session.merge(ws), email="mia@example.com").id
        _globex, stranger = make_workspace("Globex")
        stranger_id = stranger.id
    me = {"user_id": admin.id}
    assert contract.call("PATCH /api/v1/users/{user_id}", 409, path=me,
                         json={"role": "member"}).get_json()["error"]["code"] == "last_admin"
    assert contract.call("DELETE /api/v1/users/{user_id}", 409, path=me).get_json()["error"]["details"] == {
        "user_id": admin.id}
    for body, code in (({}, "missing_field"), ({"role": "owner"}, "invalid_role"), ({"role": 1}, "invalid_field"),
                       ({"role": "admin", "name": "x"}, "unknown_field")):
        assert contract.call("PATCH /api/v1/users/{user_id}", 422, path={"user_id": mia},
                             json=body).get_json()["error"]["code"] == code
    for missing in (MISSING_USER, stranger_id):
        contract.call("PATCH /api/v1/users/{user_id}", 404, path={"user_id": missing}, json={"role": "admin"})
        contract.call("DELETE /api/v1/users/{user_id}", 404, path={"user_id": missing})
    assert contract.call("PATCH /api/v1/users/{user_id}", 200, path={"user_id": mia},
                         json={"role": "admin"}).get_json()["role"] == "admin"
    assert contract.call("DELETE /api/v1/users/{user_id}", 200, path={"user_id": mia}).get_json()["removed"] is True


@covers("POST /api/v1/connections 409", "POST /v1/connectors 409", "POST /v1/pipeline/sync 409",
        "POST /api/v1/query 409")
def test_limits_are_documented_where_they_are_enforced(app, workspace, contract):
    ws = workspace[0]
    app.config.update(LIMIT_CONNECTIONS=1, LIMIT_QUERIES_PER_DAY=1, LIMIT_PIPELINE_OPERATIONS_PER_DAY=1)
    with app.app_context():
        make_connection(ws.id)
    for operation, body in (("POST /api/v1/connections", {"connector_type": "pipedrive", "api_key": "k"}),
                            ("POST /v1/connectors", {"connector_type": "pipedrive", "credentials": {"api_key": "k"}})):
        error = contract.call(operation, 409, json=body).get_json()["error"]
        assert error["code"] == "limit_exceeded" and error["details"]["limit"] == "connections"
    contract.call("POST /api/v1/query", 200, json={"query": "first"})
    assert contract.call("POST /api/v1/query", 409, json={"query": "second"}).get_json()["error"]["details"][
        "limit"] == "queries_per_day"
    store = contract.call("GET /api/v1/vector-stores", 200).get_json()["vector_stores"][0]["id"]
    body = sync_body(ws.id, store, [upsert_op("a"), upsert_op("b")])
    error = contract.call("POST /v1/pipeline/sync", 409, json=body).get_json()["error"]
    assert error["details"]["limit"] == "pipeline_operations_per_day" and error["details"]["requested"] == 2


# What blueprints/api/openapi_account.py wrote by hand for these operations and their schemas, as
# the document served it before they were declared with @endpoint (kept to compare with).
HAND_KEPT = Path(__file__).with_name("openapi_account_hand_kept.json")


def _in_document_conventions(node):
    """The hand-kept schemas as the generator writes every schema: no generated ``title``, and
    a nullable value as ``type: [..., "null"]`` rather than ``anyOf`` with ``null``."""
    if isinstance(node, list):
        return [_in_document_conventions(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _in_document_conventions(value) for key, value in node.items() if key != "title"}
    options = node.get("anyOf")
    if options and len(options) == 2 and options[1] == {"type": "null"} and "$ref" not in options[0]:
        inner = dict(options[0])
        node.pop("anyOf")
        if "const" in inner:
            inner["enum"] = [inner.pop("const")]
        if "enum" in inner:
            inner["enum"] = [*inner["enum"], None]
        node.update(inner, type=[inner["type"], "null"])
    return node


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_account_operations_say_what_the_hand_kept_ones_said():
    """Declared with @endpoint, the usage, subscription and users operations document the same
    parameters, bodies, answers, examples and error codes as the hand-kept ones did, and their
    schemas are the same models. The differences are the improvements listed here: the
    invitation's ``role`` may be ``null`` (the default, as the server always took it), and the
    error table says that an address longer than 254 characters is ``invalid_field``."""
    old = json.loads(HAND_KEPT.read_text())
    new = build_openapi()
    for path, item in old["paths"].items():
        assert set(new["paths"][path]) == set(item), path
        for method, operation in item.items():
            generated = new["paths"][path][method]
            if method == "parameters":
                assert generated == operation
                continue
            expected = dict(operation, description=_words(operation["description"]))
            expected["description"] = expected["description"].replace(
                "| `invalid_field` | `email` or `role` is not a string;",
                "| `invalid_field` | `email` is not a string or longer than 254 characters, or `role` is not a string;")
            assert dict(generated, description=_words(generated["description"])) == expected, (method, path)
    schemas = new["components"]["schemas"]
    for name, schema in old["schemas"].items():
        expected = _in_document_conventions(schema)
        if name == "InviteRequest":
            expected["properties"]["role"] = {
                "default": "member", "description": "The role they get on accepting (`null`: `member`).",
                "enum": ["admin", "member", None], "type": ["string", "null"]}
        assert schemas[name] == expected, name
