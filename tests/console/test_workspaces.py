"""A user in several workspaces switches between them; each shows only its own connections."""
from core.extensions import db
from tests.factories import PASSWORD, Api, make_api_key, make_workspace


def sign_in(client, email):
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302


def test_switching_workspaces_scopes_what_the_console_shows(app, client):
    from accounts.models import Membership

    with app.app_context():
        acme, ada = make_workspace("Acme", email="ada@example.com")
        globex, globex_admin = make_workspace("Globex")
        db.session.add(Membership(workspace_id=globex.id, user_id=ada.id, role="member"))
        db.session.commit()
        acme_id, globex_id = acme.id, globex.id
        acme_api = Api(client, make_api_key(acme, ada))
        globex_api = Api(client, make_api_key(globex, globex_admin))
    acme_api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Acme hook"})
    globex_api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Globex hook"})

    sign_in(client, "ada@example.com")
    page = client.get("/connections").get_data(as_text=True)
    assert "Acme hook" in page and "Globex hook" not in page
    assert 'name="workspace_id"' in page  # the switcher shows when there is more than one

    response = client.post("/workspaces/switch", data={"workspace_id": globex_id})
    assert response.status_code == 302
    page = client.get("/connections").get_data(as_text=True)
    assert "Globex hook" in page and "Acme hook" not in page

    client.post("/workspaces/switch", data={"workspace_id": "org_notmine000000"})
    page = client.get("/connections").get_data(as_text=True)
    assert "Globex hook" in page  # refused: still in Globex
    with client.session_transaction() as session:
        assert session["workspace_id"] == globex_id != acme_id


def test_creating_a_workspace_makes_you_its_admin_and_switches_to_it(app, client):
    with app.app_context():
        make_workspace("Acme", email="ada@example.com")
    sign_in(client, "ada@example.com")
    response = client.post("/workspaces/new", data={"name": "Side project"})
    assert response.status_code == 302
    page = client.get("/connections").get_data(as_text=True)
    assert "Side project" in page and "No connections yet" in page
