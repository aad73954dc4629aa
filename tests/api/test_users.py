"""/api/v1/users: members, invitations, roles; the last-admin rule; every step audited."""
import pytest
from sqlalchemy import select

from accounts.models import Invitation, Membership
from audit.models import AuditEvent
from core.extensions import db
from tests.factories import add_member, make_api_key, make_workspace


def actions(app, workspace_id):
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.workspace_id == workspace_id).order_by(AuditEvent.id))]


@pytest.fixture
def mia(app, workspace):
    with app.app_context():
        return add_member(db.session.merge(workspace[0]), email="mia@example.com").id


def test_list_members_with_roles_joined_and_last_sign_in(api, workspace, mia):
    body = api.get("/api/v1/users").json
    assert [(u["email"], u["role"]) for u in body["users"]] == [("acme-admin@example.com", "admin"),
                                                                ("mia@example.com", "member")]
    assert all(u["joined_at"].endswith("Z") and u["last_sign_in_at"] is None for u in body["users"])
    assert body["invitations"] == []


def test_invite_without_smtp_returns_the_link_once(app, api, workspace):
    response = api.post("/api/v1/users/invite", json={"email": " Bob@Example.com ", "role": "admin"})
    assert response.status_code == 201
    body = response.json
    assert body["delivery"] == "link" and body["invitation"]["email"] == "bob@example.com"
    token = body["invitation_url"].rsplit("/invitations/", 1)[1]
    with app.app_context():
        stored = db.session.get(Invitation, body["invitation"]["id"])
        assert token not in (stored.token_hash, stored.email) and len(stored.token_hash) == 64
    listed = api.get("/api/v1/users").json["invitations"]
    assert [i["id"] for i in listed] == [body["invitation"]["id"]]
    assert "invitation_url" not in listed[0]
    assert "invitation.created" in actions(app, workspace[0].id)


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "missing_field"),
    ({"email": "not-an-address"}, 422, "invalid_email"),
    ({"email": "x@example.com", "role": "owner"}, 422, "invalid_role"),
    ({"email": 7}, 422, "invalid_field"),
    ({"email": "x@example.com", "team": "a"}, 422, "unknown_field"),
    ({"email": "acme-admin@example.com"}, 409, "already_member"),
])
def test_bad_invitations(api, body, status, code):
    response = api.post("/api/v1/users/invite", json=body)
    assert response.status_code == status and response.json["error"]["code"] == code


def test_reinviting_replaces_the_pending_invitation(app, api):
    first = api.post("/api/v1/users/invite", json={"email": "bob@example.com"}).json["invitation"]["id"]
    second = api.post("/api/v1/users/invite", json={"email": "bob@example.com"}).json["invitation"]["id"]
    assert [i["id"] for i in api.get("/api/v1/users").json["invitations"]] == [second]
    with app.app_context():
        assert db.session.get(Invitation, first).revoked_at is not None


def test_role_changes_and_the_last_admin_rule(app, api, workspace, mia):
    admin_id = workspace[1].id
    response = api.patch(f"/api/v1/users/{admin_id}", json={"role": "member"})
    assert response.status_code == 409 and response.json["error"]["code"] == "last_admin"
    response = api.delete(f"/api/v1/users/{admin_id}")
    assert response.status_code == 409 and response.json["error"]["code"] == "last_admin"
    assert api.patch(f"/api/v1/users/{mia}", json={"role": "owner"}).json["error"]["code"] == "invalid_role"
    promoted = api.patch(f"/api/v1/users/{mia}", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json["role"] == "admin"
    # Now there are two admins: the first may step down, and then Mia is the last.
    assert api.patch(f"/api/v1/users/{admin_id}", json={"role": "member"}).json["role"] == "member"
    assert api.delete(f"/api/v1/users/{mia}").json["error"]["code"] == "last_admin"
    removed = api.delete(f"/api/v1/users/{admin_id}")
    assert removed.status_code == 200 and removed.json == {"removed": True, "user_id": admin_id,
                                                           "disconnected_connection_ids": []}
    with app.app_context():
        assert db.session.scalars(select(Membership.role).where(
            Membership.workspace_id == workspace[0].id)).all() == ["admin"]
    assert actions(app, workspace[0].id)[-3:] == ["member.role_changed", "member.role_changed", "member.removed"]


def test_another_workspaces_ids_are_the_same_404(app, api, workspace):
    with app.app_context():
        globex, their_admin = make_workspace("Globex")
        their_key = make_api_key(globex, their_admin)
        their_admin_id = their_admin.id
    from tests.factories import Api

    theirs = Api(api.client, their_key)
    invitation = theirs.post("/api/v1/users/invite", json={"email": "eve@example.com"}).json["invitation"]["id"]
    for response in (api.patch(f"/api/v1/users/{their_admin_id}", json={"role": "member"}),
                     api.delete(f"/api/v1/users/{their_admin_id}"),
                     api.delete(f"/api/v1/users/invitations/{invitation}")):
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    missing = (api.delete("/api/v1/users/usr_doesnotexist0000"), api.delete("/api/v1/users/invitations/inv_nope"))
    assert [m.json["error"]["message"] for m in missing] == [
        "There is no such member in this workspace.", "There is no such invitation in this workspace."]
    assert [u["email"] for u in api.get("/api/v1/users").json["users"]] == ["acme-admin@example.com"]
    assert api.get("/api/v1/users").json["invitations"] == []
    assert len(theirs.get("/api/v1/users").json["invitations"]) == 1


def test_revoke(app, api, workspace):
    invitation = api.post("/api/v1/users/invite", json={"email": "bob@example.com"}).json["invitation"]["id"]
    response = api.delete(f"/api/v1/users/invitations/{invitation}")
    assert response.status_code == 200 and response.json["revoked"] is True
    assert api.get("/api/v1/users").json["invitations"] == []
    assert api.delete(f"/api/v1/users/invitations/{invitation}").status_code == 200  # already: no change
    assert actions(app, workspace[0].id).count("invitation.revoked") == 1


@pytest.mark.parametrize("method, path", [("get", "/api/v1/users"), ("post", "/api/v1/users/invite"),
                                          ("patch", "/api/v1/users/usr_x"), ("delete", "/api/v1/users/usr_x"),
                                          ("delete", "/api/v1/users/invitations/inv_x"),
                                          ("get", "/api/v1/usage"), ("get", "/api/v1/subscription")])
def test_only_admin_keys(app, client, workspace, method, path):
    with app.app_context():
        key = make_api_key(db.session.merge(workspace[0]), db.session.merge(workspace[1]),
                           scopes=["connections:read", "connections:write", "sync", "query", "actions", "pipeline"])
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {key}"}, json={})
    assert response.status_code == 403 and response.json["error"]["details"]["required_scope"] == "admin"
