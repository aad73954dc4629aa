"""The Usage page: admins only, charts drawn on the server, the figures as text, limit warnings."""
import re

from core.extensions import db
from knowledge.models import QueryLog
from tests.console.conftest import text_of


def test_admins_see_usage_with_server_drawn_charts(app, client, admin):
    with app.app_context():
        db.session.add(QueryLog(workspace_id=admin[0], via="console", query="q", filters={}, result_limit=10,
                                result_ids=[], candidates={}, latency_ms=12.5))
        db.session.commit()
    page = text_of(client.get("/usage?period=day"))
    assert page.count("<svg class=\"usage-chart-svg\"") == 4
    assert re.search(r"1 query in 2[45] hours; the most, 1, at \d\d:00\.", page)
    assert "12.5 / 12.5 ms" in page and "<script" not in page.split("<main", 1)[1]
    assert "unlimited" in page and 'aria-current="page">Last 24 hours' in page


def test_members_are_refused(member_client):
    response = member_client.get("/usage")
    assert response.status_code == 403 and "admin_required" in text_of(response)
    assert "/usage" not in text_of(member_client.get("/settings/members"))


def test_a_warning_near_a_limit_on_every_page(app, client, admin):
    app.config["LIMIT_QUERIES_PER_DAY"] = 5
    with app.app_context():
        for _ in range(4):
            db.session.add(QueryLog(workspace_id=admin[0], via="api", query="q", filters={}, result_limit=10,
                                    result_ids=[], candidates={}, latency_ms=1))
        db.session.commit()
    page = text_of(client.get("/connections"))
    assert "This workspace is at 80.0 % of its limit of 5 queries per day (UTC day)." in page
    app.config["LIMIT_QUERIES_PER_DAY"] = 100
    assert "limit-warning" not in text_of(client.get("/connections"))


def test_htmx_fragments_carry_no_limit_warning(app, client, admin):
    app.config["LIMIT_CONNECTIONS"] = 1
    from tests.factories import make_connection

    with app.app_context():
        make_connection(admin[0])
    assert "limit-warning" in text_of(client.get("/connections"))
    assert "limit-warning" not in text_of(client.get("/settings/members", headers={"HX-Request": "true"}))
