"""The Members page over HTTP: role changes and removals, their refusals and their audit trail."""
from sqlalchemy import select

from accounts import service as accounts
from audit.models import AuditEvent
from core.extensions import db
from tests.console.conftest import text_of
from tests.factories import add_member, make_workspace

HTMX = {"HX-Request": "true"}


def member_id(app, workspace, email):
    with app.app_context():
        return add_member(db.session.merge(workspace[0]), email=email).id


def test_the_last_admin_cannot_be_demoted_or_removed_over_plain_forms(app, client, admin, workspace):
    _, me = admin
    response = client.post(f"/settings/members/{me}/role", data={"role": "member"})
    assert response.status_code == 409
    assert "only admin" in text_of(response) and "(last_admin)" in text_of(response)
    response = client.post(f"/settings/members/{me}/remove", headers=HTMX)
    assert response.status_code == 409 and "HX-Request" in response.headers["Vary"]
    assert '<section id="members"' in text_of(response) and "<html" not in text_of(response)
    with app.app_context():
        assert accounts.membership(me, workspace[0].id).role == "admin"


def test_role_change_and_removal_redirect_without_js_and_swap_with_htmx(app, client, admin, workspace):
    mia = member_id(app, workspace, "mia@example.com")
    max_ = member_id(app, workspace, "max@example.com")
    response = client.post(f"/settings/members/{mia}/role", data={"role": "admin"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings/members")
    assert "mia is now an admin." in text_of(client.get("/settings/members"))
    response = client.post(f"/settings/members/{max_}/remove", headers=HTMX)
    assert response.status_code == 200 and "Removed max (max@example.com)" in text_of(response)
    assert "max@example.com</td>" not in text_of(response)
    with app.app_context():
        assert accounts.membership(max_, workspace[0].id) is None
        assert {"member.role_changed", "member.removed"} <= set(db.session.scalars(select(AuditEvent.action)))


def test_an_admin_stepping_down_gets_the_page_as_a_member_sees_it(app, client, admin, workspace):
    _, me = admin
    mia = member_id(app, workspace, "mia@example.com")
    client.post(f"/settings/members/{mia}/role", data={"role": "admin"})
    response = client.post(f"/settings/members/{me}/role", data={"role": "member"}, headers=HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/settings/members"
    page = text_of(client.get("/settings/members"))
    assert "is now a member." in page and "Change the role" not in page and "Add a member" not in page


def test_members_and_strangers_cannot_manage_members(app, client, admin, workspace, member_client):
    _, me = admin
    response = member_client.post(f"/settings/members/{me}/remove")
    assert response.status_code == 403 and "admin_required" in text_of(response)
    with app.app_context():
        _other, stranger = make_workspace("Globex")
        stranger_id = stranger.id
    assert client.post(f"/settings/members/{stranger_id}/remove").status_code == 404
    assert client.get(f"/settings/members/{stranger_id}/remove").status_code == 404
    assert client.post(f"/settings/members/{stranger_id}/role", data={"role": "member"}).status_code == 404
    response = client.post(f"/settings/members/{me}/role", data={"role": "owner"})
    assert response.status_code == 422 and "Role is admin or member." in text_of(response)
