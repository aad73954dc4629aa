"""GET /api/v1/usage: figures computed from what the database records, per workspace."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from core.extensions import db
from core.timeutil import utcnow
from knowledge.models import Document, QueryLog
from tests.factories import make_api_key, make_connection, make_run, make_workspace
from usage.models import ApiKeyUsage, StoredDocuments
from usage.service import recount_storage


def default_store(api) -> str:
    return next(s["id"] for s in api.get("/api/v1/vector-stores").json["vector_stores"] if s["is_default"])


def pipeline(api, workspace_id, store_id, operations, mode="incremental"):
    return api.post("/v1/pipeline/sync", json={"organization_id": workspace_id, "sync_mode": mode,
                                               "vector_store_id": store_id, "operations": operations,
                                               "sync_timestamp": "2026-04-13T10:30:00Z"})


def upsert(external_id, content="text", namespace="notes"):
    return {"action": "upsert", "id": external_id, "namespace": namespace, "title": f"T{external_id}",
            "content": content}


def naive_storage(workspace_id):
    """What the rollup must equal: a full scan of the documents."""
    length = func.octet_length if db.engine.dialect.name == "postgresql" else (
        lambda c: func.length(func.cast(c, db.LargeBinary)))
    count, size = db.session.execute(select(func.count(), func.coalesce(
        func.sum(length(Document.title) + length(Document.content)), 0)).where(
        Document.workspace_id == workspace_id)).one()
    return int(count), int(size)


def rollup(workspace_id):
    count, size = db.session.execute(select(func.coalesce(func.sum(StoredDocuments.documents), 0),
                                            func.coalesce(func.sum(StoredDocuments.text_bytes), 0))
                                     .where(StoredDocuments.workspace_id == workspace_id)).one()
    return int(count), int(size)


def test_the_stored_documents_rollup_follows_every_write_and_cascade(app, api, workspace):
    """Inserts, content updates (multi-byte text too), deletes, a full refresh and a store's
    cascade delete: the trigger-kept rollup always equals a full scan of the documents."""
    ws = workspace[0].id
    store = default_store(api)
    named = api.post("/api/v1/vector-stores", json={"name": "notes"}).json["id"]
    checks = []

    def check():
        with app.app_context():
            checks.append((naive_storage(ws), rollup(ws)))
            assert checks[-1][0] == checks[-1][1]

    assert pipeline(api, ws, store, [upsert(str(i)) for i in range(30)]).status_code == 200
    assert pipeline(api, ws, named, [upsert(str(i), "é" * 7) for i in range(12)]).status_code == 200
    check()
    assert pipeline(api, ws, store, [upsert("3", "changed text, longer — ✓"), upsert("4", "")]).status_code == 200
    check()
    assert pipeline(api, ws, store, [{"action": "delete", "id": "5", "namespace": "notes"}]).status_code == 200
    check()
    assert pipeline(api, ws, store, [upsert("1"), upsert("2")], mode="full_refresh").status_code == 200
    check()
    assert api.delete(f"/api/v1/vector-stores/{named}").status_code == 200
    check()
    assert checks[-1][0][0] == 2
    with app.app_context():
        db.session.execute(text("UPDATE usage_stored_documents SET documents = 999"))
        db.session.commit()
        recount_storage(ws)
        assert rollup(ws) == naive_storage(ws)


def test_usage_reports_storage_queries_syncs_calls_and_pipeline(app, api, workspace):
    ws, admin = workspace
    store = default_store(api)
    assert pipeline(api, ws.id, store, [upsert(str(i), "alpha beta") for i in range(4)]).status_code == 200
    with app.app_context():
        now = utcnow()
        for latency in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100):
            db.session.add(QueryLog(workspace_id=ws.id, via="api", query="q", filters={}, result_limit=10,
                                    result_ids=[], candidates={}, latency_ms=latency, created_at=now))
        db.session.add(QueryLog(workspace_id=ws.id, via="api", query="old", filters={}, result_limit=10,
                                result_ids=[], candidates={}, latency_ms=5000, created_at=now - timedelta(days=40)))
        db.session.commit()
        github = make_connection(ws.id, connector_type="github", name="GitHub")
        slack = make_connection(ws.id, connector_type="slack", name="Slack")
        make_run(github, records_written=120)
        make_run(github, records_written=30, status="failed")
        make_run(slack, records_written=7)
        make_run(slack, records_written=1000, created_at=now - timedelta(days=40))  # outside the month
    assert api.get("/api/v1/documents/doc_nope").status_code == 404  # a refused call counts as an error

    body = api.get("/api/v1/usage?period=month").json
    assert body["period"] == "month" and body["bucket"] == "day" and len(body["queries"]["series"]) in (30, 31)
    assert body["storage"]["documents"] == 4 and body["storage"]["bytes"]["text"] == 4 * (len("T0") + len("alpha beta"))
    assert body["storage"]["chunking_backlog"] == 4  # no index worker ran
    assert body["queries"]["count"] == 10
    assert body["queries"]["latency_ms"] == {"p50": 50.0, "p95": 100.0}
    assert sum(p["value"] for p in body["queries"]["series"]) == 10
    assert body["sync"]["runs"] == 3 and body["sync"]["failed_runs"] == 1 and body["sync"]["records_written"] == 157
    assert [(c["name"], c["runs"], c["records_written"]) for c in body["sync"]["connections"]] == [
        ("GitHub", 2, 150), ("Slack", 1, 7)]
    assert body["pipeline"] == {**body["pipeline"], "requests": 1, "operations": 4, "upserted": 4, "deleted": 0}
    # The calls so far: the store listing, the pipeline sync, the refused GET (this report counts
    # after it is answered).
    (key,) = body["api_calls"]["keys"]
    assert key["calls"] == 3 and key["errors"] == 1 and body["api_calls"]["calls"] == 3
    again = api.get("/api/v1/usage?period=day").json
    assert again["bucket"] == "hour" and again["api_calls"]["calls"] == 4
    assert again["sync"]["runs"] == 3


def test_calls_are_counted_per_key_in_the_database(app, client, workspace):
    ws, admin = workspace
    with app.app_context():
        first = make_api_key(db.session.merge(ws), db.session.merge(admin), scopes=["query"], name="reader")
        second = make_api_key(db.session.merge(ws), db.session.merge(admin), scopes=["admin"], name="ops")
    for _ in range(3):
        assert client.get("/api/v1/vector-stores", headers={"Authorization": f"Bearer {first}"}).status_code == 200
    assert client.get("/api/v1/usage", headers={"Authorization": f"Bearer {first}"}).status_code == 403
    body = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {second}"}).json
    assert [(k["name"], k["calls"], k["errors"]) for k in body["api_calls"]["keys"]] == [("reader", 4, 1)]
    with app.app_context():
        rows = db.session.scalars(select(ApiKeyUsage)).all()
        assert sorted(r.calls for r in rows) == [1, 4]  # the report itself is counted after it answered


def test_another_workspace_is_not_counted(app, api, workspace):
    ws = workspace[0]
    with app.app_context():
        globex, _ = make_workspace("Globex")
        make_run(make_connection(globex.id, name="Theirs"), records_written=99)
        db.session.add(QueryLog(workspace_id=globex.id, via="api", query="q", filters={}, result_limit=10,
                                result_ids=[], candidates={}, latency_ms=1))
        db.session.add(StoredDocuments(workspace_id=globex.id, origin_id="vs_x", documents=10, text_bytes=10))
        db.session.commit()
    body = api.get("/api/v1/usage").json
    assert body["workspace_id"] == ws.id
    assert body["sync"]["runs"] == 0 and body["queries"]["count"] == 0 and body["storage"]["documents"] == 0


@pytest.mark.parametrize("query, code, parameter", [
    ("period=year", "invalid_parameter", "period"),
    ("start=yesterday", "invalid_parameter", "start"),
    ("start=2026-12-02&end=2026-12-01", "invalid_date_range", None),
    ("start=2020-01-01&end=2026-01-01", "invalid_date_range", None),
])
def test_bad_windows_are_refused(api, query, code, parameter):
    response = api.get(f"/api/v1/usage?{query}")
    assert response.status_code == 422 and response.json["error"]["code"] == code
    if parameter:
        assert response.json["error"]["details"]["parameter"] == parameter


def test_an_explicit_window(api):
    body = api.get("/api/v1/usage?start=2026-11-01&end=2026-11-02T12:00:00Z").json
    assert body["period"] is None and body["bucket"] == "hour"
    assert body["start"] == "2026-11-01T00:00:00Z" and body["end"] == "2026-11-02T12:00:00Z"
    assert len(body["queries"]["series"]) == 36


def test_an_end_too_early_for_any_window(api):
    response = api.get("/api/v1/usage?end=0001-01-02")
    assert response.status_code == 422 and response.json["error"]["details"]["parameter"] == "end"


def test_the_rollup_follows_a_cascade_from_a_deleted_connection(app, ctx, workspace):
    """Documents removed by ``ON DELETE CASCADE`` (a connection's) leave the rollup too: the
    database fires the triggers for cascaded deletes on both SQLite and PostgreSQL."""
    from connections.models import Connection

    ws = workspace[0].id
    connection = make_connection(ws, connector_type="github", name="Repo")
    db.session.add_all([Document(workspace_id=ws, origin_id=connection.id, connection_id=connection.id,
                                 namespace="github_issues", external_id=str(i), source="github", type="issue",
                                 title=f"Issue {i}", content="ünïcode body", content_hash=str(i), metadata_={})
                        for i in range(5)])
    db.session.commit()
    assert rollup(ws) == naive_storage(ws) and rollup(ws)[0] == 5
    connection_id = connection.id
    db.session.execute(text("DELETE FROM connections WHERE id = :id"), {"id": connection_id})
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(Connection, connection_id) is None
    assert rollup(ws) == naive_storage(ws) == (0, 0)


def test_percentiles_are_nearest_rank_on_both_databases(app, api, workspace):
    """Seven latencies in no order: p50 is the 4th smallest, p95 the 7th (ceil(0.95 x 7))."""
    with app.app_context():
        for latency in (70, 10, 40, 30, 60, 20, 50):
            db.session.add(QueryLog(workspace_id=workspace[0].id, via="api", query="q", filters={}, result_limit=10,
                                    result_ids=[], candidates={}, latency_ms=latency))
        db.session.commit()
    assert api.get("/api/v1/usage?period=day").json["queries"]["latency_ms"] == {"p50": 40.0, "p95": 70.0}


def test_the_stored_chunks_rollup_follows_every_write_and_cascade(app, api, workspace):
    """Chunks cut by the chunk queue (and cut again after an update, which deletes the old ones),
    a document's delete, a full refresh and a store's cascade delete: the trigger-kept count always equals ``count(*)`` of the workspace's chunks, and the report
    says the same."""
    from knowledge.embedding_queue import chunk_pending
    from knowledge.models import Chunk
    from usage.models import StoredChunks

    ws = workspace[0].id
    store = default_store(api)
    named = api.post("/api/v1/vector-stores", json={"name": "notes"}).json["id"]
    long_text = " ".join(f"Paragraph {n}. " + "words " * 300 for n in range(6))  # several chunks
    checks = []

    def check():
        with app.app_context():
            while chunk_pending():
                pass
            scanned = db.session.scalar(select(func.count()).select_from(Chunk).where(Chunk.workspace_id == ws))
            kept = db.session.scalar(select(func.coalesce(func.sum(StoredChunks.chunks), 0))
                                     .where(StoredChunks.workspace_id == ws))
            checks.append((scanned, kept))
            assert scanned == kept
        assert api.get("/api/v1/usage").json["storage"]["chunks"] == checks[-1][0]

    assert pipeline(api, ws, store, [upsert(str(i)) for i in range(20)]).status_code == 200
    assert pipeline(api, ws, named, [upsert(str(i), long_text) for i in range(3)]).status_code == 200
    check()
    assert checks[-1][0] > 23  # the long documents were cut into several chunks each
    assert pipeline(api, ws, named, [upsert("1", "now short")]).status_code == 200  # re-cut: fewer chunks
    check()
    assert pipeline(api, ws, store, [{"action": "delete", "id": "5", "namespace": "notes"}]).status_code == 200
    check()
    assert pipeline(api, ws, store, [upsert("1"), upsert("2")], mode="full_refresh").status_code == 200
    check()
    assert api.delete(f"/api/v1/vector-stores/{named}").status_code == 200
    check()
    assert checks[-1][0] == 2 and len({c for c, _ in checks}) == 5  # every step changed the count
    with app.app_context():
        db.session.execute(text("UPDATE usage_stored_chunks SET chunks = 999"))
        db.session.commit()
        recount_storage(ws)
        assert db.session.get(StoredChunks, ws).chunks == 2
