"""Finding connections: filters by status, health, connector and text decided in SQL (health by
the same rule as the badge), numbered pages and keyset cursors, and isolation between workspaces."""
import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from connections import service
from connections.models import Connection
from core.errors import ValidationError
from core.extensions import db
from core.timeutil import utcnow
from sync.models import SyncRun
from tests.factories import make_connection, make_workspace, user_actor_for

RUNS = {  # the most recent run of a connection, and an older one under it
    "none": [],
    "completed": ["completed"],
    "failed": ["completed", "failed"],
    "rate_limit": ["failed:rate_limit"],
    "partial": ["completed:partial"],
    "running": ["completed", "running"],
    "older_failure": ["failed", "completed"],
    # refused credentials: after the last (re)connect, and before it (which no longer counts)
    "auth": ["completed", "failed:auth"],
    "auth_before_reconnect": ["failed:auth_before_reconnect"],
}


@pytest.fixture
def acme(app, ctx):
    workspace, user = make_workspace("Acme")
    return workspace, user_actor_for(workspace, user)


def add_runs(connection, kinds, now):
    """Runs of ``connection``, oldest first (the last is the latest), added to the session."""
    for index, kind in enumerate(kinds):
        status, _, flavour = kind.partition(":")
        created = now - timedelta(minutes=60 - index)
        if flavour == "auth_before_reconnect":
            created = now - timedelta(days=12)  # before every connected_at below
        reason = {"rate_limit": "rate_limit", "auth": "auth", "auth_before_reconnect": "auth"}.get(flavour)
        db.session.add(SyncRun(
            workspace_id=connection.workspace_id, connection_id=connection.id, status=status, mode="incremental",
            triggered_by="schedule", created_at=created, started_at=created,
            finished_at=None if status == "running" else created + timedelta(seconds=5),
            error_reason=reason or ("transient" if status == "failed" else None),
            streams_total=3, streams_failed=1 if flavour == "partial" else 0))


def test_sql_health_agrees_with_the_badge_on_every_combination(app, acme):
    workspace, actor = acme
    now = utcnow()
    freshness = {"fresh": (now - timedelta(hours=1), now - timedelta(days=9)),
                 "stale": (now - timedelta(days=3), now - timedelta(days=9)),
                 "never_new": (None, now - timedelta(hours=2)),
                 "never_old": (None, now - timedelta(days=5))}
    combinations = itertools.product(("connected", "error", "rate_limited", "paused", "pending", "disconnected",
                                      "syncing"), (False, True), RUNS, freshness)
    for status, reauth, runs, fresh in combinations:
        synced, connected = freshness[fresh]
        connection = Connection(workspace_id=workspace.id, connector_type="pipedrive", settings={},
                                name=f"{status}-{reauth}-{runs}-{fresh}", status=status, needs_reauth=reauth,
                                last_synced_at=synced, connected_at=connected, created_at=connected)
        db.session.add(connection)
        db.session.flush()
        add_runs(connection, RUNS[runs], now)
    db.session.commit()
    badges = {c["name"]: c["health"] for c in service.list_connections(actor)}
    assert len(badges) == 7 * 2 * len(RUNS) * len(freshness)
    source, conditions, health = service._found_by(actor, service.Filters(), now=utcnow())
    table = Connection.__table__
    in_sql = dict(db.session.execute(select(table.c.name, health).select_from(source).where(*conditions)).all())
    disagreements = {name: (badge, in_sql[name]) for name, badge in badges.items() if in_sql[name] != badge}
    assert disagreements == {}
    # Every value occurs, so the comparison covered each branch of the rule.
    assert set(badges.values()) == {"disconnected", "needs_reauth", "syncing", "rate_limited", "error", "degraded",
                                    "stale", "healthy"}
    # And a health filter finds exactly the connections wearing that badge.
    for value in set(badges.values()):
        found = service.find(actor, service.Filters(health=value), limit=200)
        names = {c["name"] for c in found["connections"]}
        while len(names) < found["total"]:  # more than a page wears it
            more = service.find(actor, service.Filters(health=value), limit=200, offset=len(names))["connections"]
            assert more
            names |= {c["name"] for c in more}
        assert names == {name for name, badge in badges.items() if badge == value}
        assert found["total"] == len(names)


def test_filters_combine_and_text_matches_name_account_and_connector(app, acme):
    workspace, actor = acme
    make_connection(workspace.id, name="Sales", connector_type="pipedrive", display_name="Acme Sales Team")
    make_connection(workspace.id, name="Engineering", connector_type="github", handle="acme-eng")
    make_connection(workspace.id, name="Old engineering", connector_type="github", status="disconnected")
    make_connection(workspace.id, name="100%_literal", connector_type="webhook")

    def names(**filters):
        with app.test_request_context():  # a webhook connection's URL is built from the request
            return sorted(c["name"] for c in service.find(actor, service.Filters(**filters))["connections"])

    assert names(connector_type="github") == ["Engineering", "Old engineering"]
    assert names(connector_type="github", status="connected") == ["Engineering"]
    assert names(text="ENGINEER") == ["Engineering", "Old engineering"]
    assert names(text="acme-eng") == ["Engineering"]  # the account's handle
    assert names(text="sales team") == ["Sales"]  # the account's display name
    assert names(text="custom web") == ["100%_literal"]  # the connector's name
    assert names(text="0%_") == ["100%_literal"] and names(text="%") == ["100%_literal"]  # LIKE is escaped
    assert names(health="disconnected") == ["Old engineering"]
    assert names(text="nothing like it") == []


def test_numbered_pages_and_cursors_walk_every_connection_once(app, acme):
    workspace, actor = acme
    start = utcnow() - timedelta(days=1)
    for index in range(123):
        make_connection(workspace.id, name=f"c{index:03d}", created_at=start + timedelta(seconds=index // 2))
    first = service.find(actor, limit=50)
    assert first["total"] == 123 and len(first["connections"]) == 50
    assert first["connections"][0]["name"] == "c122"  # newest first
    seen, cursor = [], None
    while True:
        page = service.find(actor, limit=50, cursor=cursor)
        seen += [c["id"] for c in page["connections"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 123  # equal created_at pairs are ordered by id: none lost
    by_offset = [c["id"] for offset in (0, 50, 100) for c in service.find(actor, limit=50, offset=offset)["connections"]]
    assert by_offset == seen


def test_another_workspaces_connections_never_show(app, acme):
    workspace, actor = acme
    other, _ = make_workspace("Globex")
    make_connection(other.id, name="Globex secret", status="error")
    make_connection(workspace.id, name="Ours")
    found = service.find(actor, service.Filters(text="globex"), health_counts=True)
    assert found["connections"] == [] and found["total"] == 0
    assert service.find(actor, health_counts=True)["health_counts"]["error"] == 0


@pytest.mark.parametrize("args,field", [({"status": "broken"}, "status"), ({"health": "fine"}, "health"),
                                        ({"connector_type": "myspace"}, "connector_type"), ({"q": "x" * 201}, "q")])
def test_a_filter_outside_its_values_names_the_field(app, acme, args, field):
    with pytest.raises(ValidationError) as refused:
        service.parse_filters(args)
    assert refused.value.code == "invalid_filter" and refused.value.details["field"] == field
