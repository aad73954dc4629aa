"""A setting the provider refuses after the sign-in (a Figma team the account cannot read) is named
where it is fixed: on the connection's page after a reconnect, on the connect form after a first
connect (tests/browser/test_wave2c_browser.py walks that one in Chromium). An address that does
not name a setting of the connector, or names another workspace's connection, falls back to the
inventory's generic sentence."""
from html import unescape

import pytest

from connections.models import Connection
from core.extensions import db
from tests.console.conftest import text_of
from tests.factories import make_workspace
from tests.oauth_helpers import consent, local_path

TEAM = "1200000000000000001"


def test_a_reconnect_that_figma_refuses_a_team_for_lands_on_the_connection_naming_it(app, client, admin):
    started = client.post("/connections/new/figma", data={"channels": TEAM})
    back = client.get(local_path(consent(started.headers["Location"])))
    connection_id = back.headers["Location"].split("connection_id=")[1]
    with app.app_context():     # the account left a team it named; Figma asks for a new sign-in
        connection = db.session.get(Connection, connection_id)
        connection.settings = {"channels": [TEAM, "4242"]}
        connection.status, connection.needs_reauth = "error", True
        db.session.commit()
        db.session.remove()
    again = client.post(f"/connections/{connection_id}/reconnect")
    callback = client.get(local_path(consent(again.headers["Location"])))
    assert callback.headers["Location"] == (f"/connections?connection_error=invalid_setting&connection_id="
                                            f"{connection_id}&connector=figma&setting=channels&value=4242")
    landing = client.get(callback.headers["Location"])
    assert landing.status_code == 303 and landing.headers["Location"] == f"/connections/{connection_id}"
    page = unescape(text_of(client.get(landing.headers["Location"])))
    assert ("Figma accepted the sign-in but refused team 4242: the account you signed in with cannot read it, or "
            "there is no such team. The connection keeps its previous authorization") in page
    assert f"refused team {TEAM}" not in page


@pytest.mark.parametrize("query", [
    "connector=figma&setting=channels&value=%3Cscript%3E",       # no id: shown by no page
    "connector=figma&setting=colour&value=4242",                 # no setting of Figma's
    "connector=nope&setting=channels&value=4242",
    "setting=channels&value=4242",
])
def test_an_address_that_names_no_setting_of_the_connector_keeps_the_generic_sentence(client, admin, query):
    response = client.get(f"/connections?connection_error=invalid_setting&{query}")
    assert response.status_code == 200
    page = unescape(text_of(response))
    assert "refused a setting of the connection" in page and "refused team" not in page
    assert "<script>" not in page


def test_another_workspaces_connection_is_not_opened(app, client, admin):
    with app.app_context():
        other, _ = make_workspace("Globex")
        foreign = Connection(workspace_id=other.id, connector_type="figma", name="Theirs", status="error",
                             settings={"channels": ["4242"]})
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
        db.session.remove()
    response = client.get(f"/connections?connection_error=invalid_setting&connection_id={foreign_id}"
                          "&connector=figma&setting=channels&value=4242")
    # Not theirs to open: the connect form names the team, as after a first connect.
    assert response.status_code == 303
    assert response.headers["Location"] == "/connections/new/figma?refused=channels&value=4242"
    assert foreign_id not in text_of(client.get(response.headers["Location"]))
