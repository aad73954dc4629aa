"""/api/v1/documents: list with keyset pages, fetch and delete one by one."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from audit.models import AuditEvent
from core.extensions import db
from core.timeutil import utcnow
from knowledge import documents as documents_service
from knowledge.models import Chunk, ChunkChange, Document
from tests.factories import Api, make_api_key, make_workspace

DOCS = "/api/v1/documents"


@pytest.fixture
def kb(app, client, workspace):
    """(api with query + pipeline scopes, organization id, a named store id)."""
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        api = Api(client, make_api_key(ws, user, scopes=["query", "pipeline"]))
    store = api.post("/api/v1/vector-stores", json={"name": "kb"}).get_json()["id"]
    return api, workspace[0].id, store


def sync(kb, operations, store=None):
    api, organization_id, store_id = kb
    response = api.client.post("/v1/pipeline/sync", json={
        "organization_id": organization_id, "sync_mode": "incremental", "operations": operations,
        "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store or store_id},
        headers={"X-API-Key": api.key})
    assert response.status_code == 200, response.get_json()


def upserts(ids, namespace="tasks", **fields):
    return [{"action": "upsert", "id": i, "namespace": namespace, "title": f"Title {i}",
             "content": f"Content of {i}", **fields} for i in ids]


def connector_documents(app, organization_id, count):
    """Documents as the sync engine writes them (a connection's, no store id yet)."""
    with app.app_context():
        now = utcnow()
        db.session.add_all([Document(workspace_id=organization_id, origin_id="conn_x", namespace="github_issues",
                                     external_id=str(i), source="github", type="issue", title=f"#{i}", content="x",
                                     content_hash="h", created_at=now, updated_at=now) for i in range(count)])
        db.session.commit()


def all_pages(api, limit, **params):
    seen, cursor, pages = [], None, 0
    while True:
        query = {**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = api.get(DOCS, query_string=query)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert len(page["documents"]) <= limit
        seen += page["documents"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages


def test_pages_cover_every_document_once_in_a_stable_order(app, kb):
    api = kb[0]
    sync(kb, upserts([f"t{i}" for i in range(25)]))  # one statement: all share one created_at
    seen, pages = all_pages(api, 7)
    ids = [d["id"] for d in seen]
    assert pages == 4 and len(ids) == 25 == len(set(ids))
    keys = [(d["created_at"], d["id"]) for d in seen]
    assert keys == sorted(keys, reverse=True)
    assert all_pages(api, 7)[0] == seen  # the same walk twice is the same


def test_documents_added_while_paging_are_neither_repeated_nor_skipping_others(app, kb):
    api = kb[0]
    sync(kb, upserts([f"old{i}" for i in range(10)]))
    first = api.get(DOCS, query_string={"limit": "4"}).get_json()
    sync(kb, upserts([f"new{i}" for i in range(5)]))  # newer: they belong before the cursor
    walked, cursor = list(first["documents"]), first["next_cursor"]
    while cursor:
        page = api.get(DOCS, query_string={"limit": "4", "cursor": cursor}).get_json()
        walked += page["documents"]
        cursor = page["next_cursor"]
    assert sorted(d["external_id"] for d in walked) == sorted(f"old{i}" for i in range(10))
    fresh, _pages = all_pages(api, 50)
    assert len(fresh) == 15


def test_the_limit_defaults_to_50_and_is_capped_at_200(app, kb):
    api, organization_id, _store = kb
    connector_documents(app, organization_id, 230)
    assert len(api.get(DOCS).get_json()["documents"]) == 50
    capped = api.get(DOCS, query_string={"limit": "1000"}).get_json()
    assert len(capped["documents"]) == 200 and capped["next_cursor"]
    for bad in ("0", "-1", "many"):
        response = api.get(DOCS, query_string={"limit": bad})
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_limit"


def test_filters(app, kb):
    api, organization_id, store = kb
    other = api.post("/api/v1/vector-stores", json={"name": "other"}).get_json()["id"]
    sync(kb, upserts(["a", "b"]) + upserts(["c"], namespace="spaces"))
    sync(kb, upserts(["d"]), store=other)
    connector_documents(app, organization_id, 2)
    default = api.get("/api/v1/vector-stores").get_json()["vector_stores"][0]["id"]

    def ids(**params):
        return sorted(d["external_id"] for d in api.get(DOCS, query_string={**params, "limit": "200"})
                      .get_json()["documents"])

    assert ids() == ["0", "1", "a", "b", "c", "d"]
    assert ids(vector_store_id=store) == ["a", "b", "c"]
    assert ids(vector_store_id=store, namespace="tasks") == ["a", "b"]
    assert ids(vector_store_id=other) == ["d"]
    assert ids(vector_store_id=default) == ["0", "1"]  # the default store holds the connector documents
    assert ids(source="github") == ["0", "1"]
    assert ids(source="pipeline", namespace="spaces") == ["c"]
    assert ids(namespace="nothing") == []
    listed = api.get(DOCS, query_string={"vector_store_id": default}).get_json()["documents"]
    assert {d["vector_store_id"] for d in listed} == {default}


def test_a_page_shows_no_content_and_a_document_does(app, kb):
    api = kb[0]
    sync(kb, upserts(["a"], url="https://example.com/a", author="ada", type="task", metadata={"k": 1},
                     created_at="2026-04-01T09:00:00Z", updated_at="2026-04-02T09:00:00Z"))
    [summary] = api.get(DOCS).get_json()["documents"]
    assert "content" not in summary
    assert {k: summary[k] for k in ("vector_store_id", "namespace", "external_id", "source", "type", "title", "url",
                                    "author", "metadata", "connection_id", "channel", "source_created_at",
                                    "source_updated_at")} == {
        "vector_store_id": kb[2], "namespace": "tasks", "external_id": "a", "source": "pipeline", "type": "task",
        "title": "Title a", "url": "https://example.com/a", "author": "ada", "metadata": {"k": 1},
        "connection_id": None, "channel": None, "source_created_at": "2026-04-01T09:00:00Z",
        "source_updated_at": "2026-04-02T09:00:00Z"}
    document = api.get(f"{DOCS}/{summary['id']}").get_json()
    assert document == {**summary, "content": "Content of a", "chunk_count": 0}


def test_a_bad_cursor_is_refused(kb):
    api = kb[0]
    for cursor in ("nonsense", "WyJub3QgYSBkYXRlIiwgImRvY194Il0", "e30"):
        response = api.get(DOCS, query_string={"cursor": cursor})
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_cursor"


def test_cursor_round_trip():
    stamp = utcnow()
    assert documents_service.decode_cursor(documents_service.encode_cursor(stamp, "doc_x")) == (stamp, "doc_x")


def test_delete_removes_the_document_and_its_chunks_at_once(app, kb):
    api, organization_id, store = kb
    sync(kb, upserts(["a", "b"]))
    listed = {d["external_id"]: d["id"] for d in api.get(DOCS).get_json()["documents"]}
    with app.app_context():
        now = utcnow()
        chunks = [Chunk(document_id=listed[name], workspace_id=organization_id, vector_store_id=store, position=p,
                        text=f"zebra {name} {p}", start=0, end=5, token_count=3, embedding=b"\0" * 8 if p else None,
                        embedded_at=now - timedelta(seconds=1) if p else None)
                  for name in ("a", "b") for p in (0, 1)]
        db.session.add_all(chunks)
        db.session.commit()
        embedded_a = next(c.id for c in chunks if c.document_id == listed["a"] and c.position == 1)
    assert api.get(f"{DOCS}/{listed['a']}").get_json()["chunk_count"] == 2
    response = api.delete(f"{DOCS}/{listed['a']}")
    assert response.status_code == 200 and response.get_json() == {"deleted": True, "id": listed["a"]}
    assert api.get(f"{DOCS}/{listed['a']}").status_code == 404
    assert [d["external_id"] for d in api.get(DOCS).get_json()["documents"]] == ["b"]
    with app.app_context():
        remaining = db.session.scalars(select(Chunk.document_id)).all()
        assert set(remaining) == {listed["b"]} and len(remaining) == 2
        # The trigger logged the embedded chunk's removal for the vector indexes (not the unembedded one).
        changes = db.session.execute(select(ChunkChange.chunk_id, ChunkChange.op)).all()
        assert changes == [(embedded_a, "remove")]
        if db.engine.dialect.name == "sqlite":  # lexical search no longer finds it
            hits = db.session.execute(text("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'zebra'")).all()
            assert len(hits) == 2
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.deleted"))
        assert event.target_id == listed["a"] and event.details["external_id"] == "a"
        assert db.session.scalar(select(func.count()).select_from(Document)) == 1


def test_scopes(app, client, workspace, kb):
    sync(kb, upserts(["a"]))
    document = kb[0].get(DOCS).get_json()["documents"][0]["id"]
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        reader = Api(client, make_api_key(ws, user, scopes=["query"]))
        writer = Api(client, make_api_key(ws, user, scopes=["pipeline"]))
    assert reader.get(DOCS).status_code == 200 and reader.get(f"{DOCS}/{document}").status_code == 200
    forbidden = reader.delete(f"{DOCS}/{document}")
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["details"]["required_scope"] == "pipeline"
    assert writer.get(DOCS).status_code == 403
    assert writer.delete(f"{DOCS}/{document}").status_code == 200


def test_another_workspaces_documents_are_invisible(app, client, kb):
    sync(kb, upserts(["mine"]))
    with app.app_context():
        globex, admin = make_workspace("Globex")
        theirs = Api(client, make_api_key(globex, admin, scopes=["query", "pipeline"]))
    mine = kb[0].get(DOCS).get_json()["documents"][0]["id"]
    assert theirs.get(DOCS).get_json() == {"documents": [], "next_cursor": None}
    for response in (theirs.get(f"{DOCS}/{mine}"), theirs.delete(f"{DOCS}/{mine}")):
        assert response.status_code == 404
        assert response.get_json()["error"] == {"code": "document_not_found", "message": "Document not found.",
                                                "details": {"id": mine}}
    response = theirs.get(DOCS, query_string={"vector_store_id": kb[2]})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "vector_store_not_found"
    assert kb[0].get(f"{DOCS}/{mine}").status_code == 200
