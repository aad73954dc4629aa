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


def test_the_members_page_marks_expired_invitations_and_resend_re_issues_them(app, client, workspace, admin):
    import re
    from datetime import timedelta

    from accounts.models import Invitation
    from core.timeutil import utcnow

    invite(app, workspace, "live@example.com")
    invite(app, workspace, "lapsed@example.com")
    with app.app_context():
        lapsed = db.session.query(Invitation).filter_by(email="lapsed@example.com").one()
        lapsed.expires_at = utcnow() - timedelta(days=2)
        db.session.commit()
        lapsed_id = lapsed.id
        assert invitations.sweep_expired() == 1

    page = text_of(client.get("/settings/members"))
    rows = dict(re.findall(r'<tr data-invitation-id="(inv_[^"]+)" data-status="(\w+)"', page))
    assert rows[lapsed_id] == "expired" and sorted(rows.values()) == ["expired", "pending"]
    expired_row = page.split(f'data-invitation-id="{lapsed_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Expired" in expired_row and "Remove" in expired_row and "Resend" in expired_row

    resent = client.post(f"/settings/invitations/{lapsed_id}/resend")
    assert resent.status_code == 200 and "Renewed the invitation to lapsed@example.com" in text_of(resent)
    link = re.search(r'http://localhost/invitations/([A-Za-z0-9_-]+)', text_of(resent)).group(1)
    page = text_of(client.get("/settings/members"))
    assert f'data-invitation-id="{lapsed_id}" data-status="pending"' in page
    with app.app_context():
        assert invitations.find(link).id == lapsed_id

    with app.app_context():
        again = db.session.get(Invitation, lapsed_id)
        again.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    removed = client.post(f"/settings/invitations/{lapsed_id}/revoke", follow_redirects=True)
    assert "Removed the expired invitation of lapsed@example.com" in text_of(removed)
    assert lapsed_id not in text_of(client.get("/settings/members"))
