"""GET /api/v1/audit-logs (and /verify, /{entry_id}): filters, paging, scopes, tenant isolation,
and the query.executed entry every query writes."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from audit.models import AuditEvent
from core.extensions import db
from knowledge.models import QueryLog
from tests.audit.helpers import entry, key_actor, member_actor
from tests.factories import Api, make_api_key, make_workspace

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def trail(app, client):
    """Acme with a known trail of eight entries (one a minute from T0), Globex with its own; an
    Acme admin key, a Globex admin key and an Acme key without the admin scope."""
    with app.app_context():
        acme, alice = make_workspace("Acme")
        globex, gus = make_workspace("Globex")
        acme_key = make_api_key(acme, alice, name="acme admin")
        query_key = make_api_key(acme, alice, scopes=["query", "connections:read"], name="reader")
        globex_key = make_api_key(globex, gus, name="globex admin")
        db.session.execute(text("DELETE FROM audit_events"))  # the keys' own entries: start from a known trail
        db.session.execute(text("DELETE FROM audit_chain_heads"))
        db.session.commit()
        me = member_actor(acme.id, alice)
        bot = key_actor(acme.id, "key_bot0000000000000", "nightly export")
        plan = [(me, "connection.connected", "conn_a", "success"), (me, "connection.updated", "conn_a", "success"),
                (bot, "sync.requested", "conn_a", "success"), (me, "connection.disconnected", "conn_b", "success"),
                (bot, "query.executed", "qry_1", "success"), (me, "auth.sign_in", None, "success"),
                (bot, "connection.checked", "conn_b", "failure"), (me, "api_key.created", "key_x", "success")]
        ids = [entry(actor, action, target_type="thing" if target else None, target_id=target, outcome=outcome,
                     at=T0 + timedelta(minutes=n), details={"n": n}).id
               for n, (actor, action, target, outcome) in enumerate(plan)]
        foreign = entry(member_actor(globex.id, gus), "connection.connected", target_type="connection",
                        target_id="conn_a", at=T0).id
        return {"acme": Api(client, acme_key), "reader": Api(client, query_key), "globex": Api(client, globex_key),
                "ids": ids, "foreign": foreign, "alice": alice.id, "gus": gus.id, "acme_id": acme.id}


def actions(response):
    assert response.status_code == 200, response.json
    return [e["action"] for e in response.json["entries"]]


def test_entries_newest_first_with_their_fields(trail):
    page = trail["acme"].get("/api/v1/audit-logs").json
    assert [e["id"] for e in page["entries"]] == [f"aud_{i}" for i in reversed(trail["ids"])]
    assert page["next_cursor"] is None
    newest = page["entries"][0]
    assert newest == {**newest, "action": "api_key.created", "time": "2026-03-02T09:07:00Z", "outcome": "success",
                      "actor": {"type": "user", "id": trail["alice"], "name": "acme-admin@example.com"},
                      "target": {"type": "thing", "id": "key_x"}, "client_address": "203.0.113.7",
                      "details": {"n": 7}, "seq": 8}
    assert newest["prev_hash"] == page["entries"][1]["hash"]
    key_entry = page["entries"][1]
    assert key_entry["actor"] == {"type": "api_key", "id": "key_bot0000000000000", "name": "nightly export"}


def test_paging_with_the_cursor_neither_repeats_nor_skips(trail):
    api, seen, cursor = trail["acme"], [], None
    while True:
        page = api.get("/api/v1/audit-logs", query_string={"limit": 3, **({"cursor": cursor} if cursor else {})}).json
        assert len(page["entries"]) <= 3
        seen += [e["id"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"aud_{i}" for i in reversed(trail["ids"])]
    assert api.get("/api/v1/audit-logs?limit=5000").status_code == 200  # read as the maximum, 1,000


@pytest.mark.parametrize("query, expected", [
    ({"action": "connection.*"}, ["connection.checked", "connection.disconnected", "connection.updated",
                                  "connection.connected"]),
    ({"action": "query.executed"}, ["query.executed"]),
    ({"actor": "nightly export"}, ["connection.checked", "query.executed", "sync.requested"]),
    ({"actor": "key_bot0000000000000", "outcome": "failure"}, ["connection.checked"]),
    ({"target": "conn_b"}, ["connection.checked", "connection.disconnected"]),
    ({"outcome": "success", "action": "connection.*", "actor": "acme-admin@example.com"},
     ["connection.disconnected", "connection.updated", "connection.connected"]),
    ({"start": "2026-03-02T09:02:00Z", "end": "2026-03-02T09:04:00Z"},
     ["query.executed", "connection.disconnected", "sync.requested"]),
    ({"start": "2026-03-02T10:05:00+01:00"}, ["api_key.created", "connection.checked", "auth.sign_in"]),
    ({"end": "2026-03-01"}, []),
    ({"end": "2026-03-02", "action": "api_key.*"}, ["api_key.created"]),  # a bare end date is the whole day
])
def test_filters(trail, query, expected):
    assert actions(trail["acme"].get("/api/v1/audit-logs", query_string=query)) == expected


@pytest.mark.parametrize("query, code, parameter", [
    ({"action": "connection.teleported"}, "invalid_parameter", "action"),
    ({"action": "nothing.*"}, "invalid_parameter", "action"),
    ({"outcome": "maybe"}, "invalid_parameter", "outcome"),
    ({"start": "last tuesday"}, "invalid_parameter", "start"),
    ({"end": "2026-13-01"}, "invalid_parameter", "end"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "invalid_cursor", "cursor"),
    ({"limit": "0"}, "invalid_limit", None),
    ({"limit": "many"}, "invalid_limit", None),
])
def test_bad_parameters_are_refused(trail, query, code, parameter):
    response = trail["acme"].get("/api/v1/audit-logs", query_string=query)
    assert response.status_code == 422 and response.json["error"]["code"] == code
    if parameter:
        assert response.json["error"]["details"]["parameter"] == parameter


def test_a_start_after_the_end_is_refused(trail):
    response = trail["acme"].get("/api/v1/audit-logs?start=2026-03-03&end=2026-03-02T00:00:00Z")
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_date_range"


def test_only_admin_keys_read_the_log(trail):
    for path in ("/api/v1/audit-logs", "/api/v1/audit-logs/verify", f"/api/v1/audit-logs/aud_{trail['ids'][0]}",
                 "/api/v1/audit-logs/soc2?start_date=2026-03-01&end_date=2026-03-31"):
        error = trail["reader"].get(path).json["error"]
        assert error["code"] == "insufficient_scope" and error["details"]["required_scope"] == "admin", path


def test_another_workspaces_entries_never_appear(trail):
    acme, globex = trail["acme"], trail["globex"]
    everything = acme.get("/api/v1/audit-logs?limit=1000").json["entries"]
    assert f"aud_{trail['foreign']}" not in {e["id"] for e in everything}
    assert acme.get("/api/v1/audit-logs", query_string={"actor": trail["gus"]}).json["entries"] == []
    assert [e["actor"]["id"] for e in acme.get("/api/v1/audit-logs?target=conn_a").json["entries"]] == [
        "key_bot0000000000000", trail["alice"], trail["alice"]]
    assert [e["id"] for e in globex.get("/api/v1/audit-logs").json["entries"]] == [f"aud_{trail['foreign']}"]


def test_another_workspaces_entry_id_is_the_same_404_as_a_missing_one(trail):
    acme = trail["acme"]
    mine = acme.get(f"/api/v1/audit-logs/aud_{trail['ids'][2]}")
    assert mine.status_code == 200 and mine.json["action"] == "sync.requested"
    theirs = acme.get(f"/api/v1/audit-logs/aud_{trail['foreign']}")
    missing = acme.get("/api/v1/audit-logs/aud_999999999")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json["error"]["code"] == missing.json["error"]["code"] == "not_found"
    assert acme.get("/api/v1/audit-logs/aud_abc").status_code == 404


def test_verify_reports_the_chain(app, trail):
    acme = trail["acme"]
    intact = acme.get("/api/v1/audit-logs/verify").json
    assert intact == {**intact, "intact": True, "entries_checked": 8, "head_seq": 8, "anchor_seq": 0,
                      "first_bad_entry_id": None, "reason": None}
    with app.app_context():
        db.session.execute(text("UPDATE audit_events SET outcome = 'failure' WHERE id = :id"), {"id": trail["ids"][3]})
        db.session.commit()
    result = acme.get("/api/v1/audit-logs/verify").json
    assert (result["intact"], result["first_bad_entry_id"], result["first_bad_seq"]) == (False, trail["ids"][3], 4)
    assert trail["globex"].get("/api/v1/audit-logs/verify").json["intact"]


def test_every_query_is_an_entry_with_its_filters_and_result_count(app, client, trail):
    from tests.api.test_pipeline_sync import URL, upsert

    with app.app_context():
        from accounts.models import User, Workspace
        from knowledge import stores
        from tests.factories import user_actor_for

        ws, alice = db.session.get(Workspace, trail["acme_id"]), db.session.get(User, trail["alice"])
        pipeline_key = make_api_key(ws, alice, scopes=["pipeline"], name="pipeline")
        store_id = stores.create_store(user_actor_for(ws, alice), "notes").id
    payload = {"organization_id": trail["acme_id"], "sync_mode": "incremental", "vector_store_id": store_id,
               "sync_timestamp": "2026-04-13T10:30:00Z",
               "operations": [upsert(f"t{n}", content=f"Quarterly planning notes {n}") for n in range(3)]}
    assert client.post(URL, json=payload, headers={"X-API-Key": pipeline_key}).status_code == 200
    answer = trail["acme"].post("/api/v1/query", json={"query": '"quarterly planning"', "limit": 2,
                                                      "namespaces": ["clickup_tasks"]}).json
    assert len(answer["results"]) == 2
    logged = trail["acme"].get("/api/v1/audit-logs?action=query.executed&actor=acme admin").json["entries"]
    assert len(logged) == 1
    executed = logged[0]
    assert executed["target"] == {"type": "query", "id": answer["query_id"]}
    assert executed["details"] == {"via": "api", "query": '"quarterly planning"', "limit": 2, "result_count": 2,
                                   "filters": {"namespaces": ["clickup_tasks"]}}
    assert not any(r["id"] in str(executed) for r in answer["results"])  # never what came back
    with app.app_context():  # written with the query log, in its commit
        row = db.session.get(QueryLog, answer["query_id"])
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.target_id == answer["query_id"]))
        assert row is not None and event.workspace_id == trail["acme_id"]
