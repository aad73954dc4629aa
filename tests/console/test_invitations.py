"""The invitation pages on the test client: who may invite, and joining with an account one has."""
from accounts import invitations
from accounts.models import Membership
from core.extensions import db
from tests.console.conftest import sign_in, text_of
from tests.factories import PASSWORD, make_workspace, user_actor_for


def invite(app, workspace, email):
    with app.app_context():
        ws, admin = (db.session.merge(x) for x in workspace)
        _invitation, token, _sent = invitations.invite(user_actor_for(ws, admin), email=email,
                                                       base_url="http://localhost/")
        return token


def test_members_cannot_invite(member_client):
    response = member_client.post("/settings/members/invite", data={"email": "x@example.com", "role": "member"})
    assert response.status_code == 403 and "Only a workspace admin" in text_of(response)
    assert "Invite someone" not in text_of(member_client.get("/settings/members"))


def test_an_existing_account_joins_with_its_password(app, client, workspace):
    with app.app_context():
        _globex, carol = make_workspace("Globex", email="carol@example.com")
        carol_id = carol.id
    token = invite(app, workspace, "carol@example.com")
    page = client.get(f"/invitations/{token}")
    assert "already has an account here" in text_of(page)
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    wrong = client.post(f"/invitations/{token}", data={"password": "not it at all"})
    assert wrong.status_code == 401 and "do not match" in text_of(wrong)
    joined = client.post(f"/invitations/{token}", data={"password": PASSWORD})
    assert joined.status_code == 303 and joined.headers["Location"].endswith("/connections")
    with app.app_context():
        assert db.session.query(Membership).filter_by(user_id=carol_id, workspace_id=workspace[0].id).one()
    assert client.get(f"/invitations/{token}").status_code == 404


def test_signed_in_as_the_invited_account_one_click_joins(app, client, workspace):
    with app.app_context():
        globex, carol = make_workspace("Globex", email="carol@example.com")
        ids = carol.id, globex.id
    sign_in(client, *ids)
    token = invite(app, workspace, "carol@example.com")
    assert "You are signed in as carol@example.com" in text_of(client.get(f"/invitations/{token}"))
    assert client.post(f"/invitations/{token}").status_code == 303


def test_an_unknown_link(client):
    response = client.get("/invitations/not-a-token")
    assert response.status_code == 404 and "invitation_invalid" in text_of(response)
