"""The console's Audit log page and its CSV download (Flask test client; the browser test drives it too)."""
import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from audit.service import csv_cell
from core.actor import Actor
from core.extensions import db
from tests.audit.helpers import entry, member_actor
from tests.console.conftest import sign_in
from tests.factories import add_member, make_workspace

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def people(app):
    """Acme's admin Ada and member Mia, each with entries; Globex's admin with one; 60 of Ada's."""
    with app.app_context():
        acme, ada = make_workspace("Acme")
        mia = add_member(acme, email="mia@acme.test")
        globex, gus = make_workspace("Globex")
        db.session.execute(text("DELETE FROM audit_events"))
        db.session.commit()
        a, m = member_actor(acme.id, ada), member_actor(acme.id, mia, role="member")
        for n in range(60):
            entry(a, "connection.checked", target_type="connection", target_id=f"conn_{n:02d}", commit=False,
                  at=T0 + timedelta(minutes=n))
        db.session.commit()
        entry(m, "auth.sign_in", at=T0 + timedelta(hours=2))
        entry(m, "query.executed", target_type="query", target_id="qry_mia", details={"result_count": 3},
              at=T0 + timedelta(hours=3))
        # A label a spreadsheet would run as a formula.
        entry(Actor(type="api_key", id="key_evil00000000000", label="=HYPERLINK(\"http://x\")", workspace_id=acme.id),
              "sync.requested", target_id="@conn", details={"note": "+1"}, at=T0 + timedelta(hours=4))
        entry(member_actor(globex.id, gus), "connection.connected", target_id="conn_globex", at=T0)
        return {"acme": acme.id, "ada": ada.id, "mia": mia.id}


def page_of(client, **query):
    response = client.get("/audit-log", query_string=query)
    return response, response.get_data(as_text=True)


def test_an_admin_sees_the_workspace_trail_with_filters_and_paging(app, people):
    client = app.test_client()
    sign_in(client, people["ada"], people["acme"])
    response, html = page_of(client)
    assert response.status_code == 200
    assert html.count('data-entry-id="') == 50 and "Older →" in html
    assert "qry_mia" in html and "conn_globex" not in html
    older = html.split('id="audit-older" ')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    _, rest = page_of(client, **dict(p.split("=", 1) for p in older.split("?", 1)[1].split("&")))
    assert rest.count('data-entry-id="') == 13 and "Older →" not in rest and "← Newest" in rest

    _, filtered = page_of(client, action="auth.*", actor="mia@acme.test")
    assert filtered.count('data-entry-id="') == 1 and "auth.sign_in" in filtered
    _, window = page_of(client, start="2026-03-02T09:10:00", end="2026-03-02T09:14:59")
    assert window.count('data-entry-id="') == 5
    bad, shown = page_of(client, action="teleport.*")
    assert bad.status_code == 422 and "invalid_parameter" in shown and 'name="action"' in shown


def test_a_member_sees_only_their_own_actions(app, people):
    client = app.test_client()
    sign_in(client, people["mia"], people["acme"])
    _, html = page_of(client)
    assert html.count('data-entry-id="') == 2
    assert "qry_mia" in html and "conn_00" not in html and 'name="actor"' not in html
    _, others = page_of(client, actor=people["ada"])  # asking for another member's changes nothing
    assert others.count('data-entry-id="') == 0
    rows = list(csv.reader(io.StringIO(client.get("/audit-log.csv").get_data(as_text=True))))
    assert [r[5] for r in rows[1:]] == ["audit.exported", "query.executed", "auth.sign_in"]


def test_the_csv_is_the_filtered_view_and_safe_to_open(app, people):
    client = app.test_client()
    sign_in(client, people["ada"], people["acme"])
    response = client.get("/audit-log.csv", query_string={"action": "sync.*"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "time", "actor_type", "actor_id", "actor_name", "action", "target_type", "target_id",
                       "outcome", "client_address", "details", "hash"]
    assert len(rows) == 2
    assert rows[1][4] == "'=HYPERLINK(\"http://x\")" and rows[1][7] == "'@conn" and rows[1][5] == "sync.requested"
    everything = list(csv.reader(io.StringIO(client.get("/audit-log.csv").get_data(as_text=True))))
    assert len(everything) == 1 + 63 + 2  # every entry (not one page), and both exports, this one included
    _, html = page_of(client, action="audit.exported")
    assert html.count('data-entry-id="') == 2 and '"format": "csv"' in html


@pytest.mark.parametrize("value, cell", [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
                                         ("\t=x", "'\t=x"), ("plain", "plain"), (None, ""), ({"a": "=b"}, '{"a": "=b"}')])
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell
