"""/api/v1/vector-stores: the default store, named stores, and their documents."""
import pytest
from sqlalchemy import func, select

from audit.models import AuditEvent
from core.extensions import db
from core.timeutil import utcnow
from knowledge import stores
from knowledge.models import Chunk, ChunkChange, Document, VectorStore
from tests.factories import Api, make_api_key, make_workspace, user_actor_for

STORES = "/api/v1/vector-stores"


@pytest.fixture
def pipeline_api(app, client, workspace):
    """A key with the scopes a pipeline integration gets: query (reads) and pipeline (writes)."""
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        return Api(client, make_api_key(ws, user, scopes=["query", "pipeline"]))


def sync(api, organization_id, store_id, operations):
    response = api.client.post("/v1/pipeline/sync", json={
        "organization_id": organization_id, "sync_mode": "incremental", "operations": operations,
        "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store_id}, headers={"X-API-Key": api.key})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def upserts(*ids, namespace="tasks"):
    return [{"action": "upsert", "id": i, "namespace": namespace, "content": f"text {i}"} for i in ids]


def test_the_default_store_exists_once_and_is_listed_first(app, pipeline_api, workspace):
    first = pipeline_api.get(STORES)
    assert first.status_code == 200
    [default] = first.get_json()["vector_stores"]
    assert (default["name"], default["is_default"], default["document_count"]) == ("default", True, 0)
    assert default["id"].startswith("vs_") and default["created_at"].endswith("Z")
    pipeline_api.post(STORES, json={"name": "alpha"})
    again = pipeline_api.get(STORES).get_json()["vector_stores"]
    assert [s["name"] for s in again] == ["default", "alpha"] and again[0]["id"] == default["id"]
    with app.app_context():
        assert stores.default_store(workspace[0].id).id == default["id"]
        assert db.session.scalar(select(func.count()).select_from(VectorStore)
                                 .where(VectorStore.is_default.is_(True))) == 1
        created = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "vector_store.created")
                                     .order_by(AuditEvent.id)).all()  # as recorded (PostgreSQL's heap has no order)
        assert [(e.actor_type, e.details["name"]) for e in created] == [("system", "default"), ("api_key", "alpha")]


def test_default_store_is_race_safe(app, workspace, monkeypatch):
    """Two processes creating the default store at once: the loser's insert is a no-op and it gets
    the winner's row."""
    with app.app_context():
        winner = stores.default_store(workspace[0].id)
        db.session.commit()
        looked_up = []
        real = stores.find_default

        def first_miss(workspace_id):  # the loser looked before the winner committed
            looked_up.append(workspace_id)
            return None if len(looked_up) == 1 else real(workspace_id)

        monkeypatch.setattr(stores, "find_default", first_miss)
        assert stores.default_store(workspace[0].id).id == winner.id
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(VectorStore)) == 1


def test_create_and_get(pipeline_api):
    created = pipeline_api.post(STORES, json={"name": "  support  ", "description": "Help center"})
    assert created.status_code == 201
    store = created.get_json()
    assert store == {"id": store["id"], "name": "support", "description": "Help center", "is_default": False,
                     "document_count": 0, "chunking_backlog": 0, "embedding_backlog": 0,
                     "semantic_search": {"available": True, "model": "all-MiniLM-L6-v2", "reason": None, "fix": None},
                     "created_at": store["created_at"]}
    assert pipeline_api.get(f"{STORES}/{store['id']}").get_json() == store


@pytest.mark.parametrize("payload, status, code, field", [
    ({}, 422, "missing_field", "name"),
    ({"name": "   "}, 422, "missing_field", "name"),
    ({"name": 5}, 422, "invalid_field", "name"),
    ({"name": "x" * 121}, 422, "invalid_field", "name"),
    ({"name": "tab\there"}, 422, "invalid_field", "name"),
    ({"name": "ok", "description": 3}, 422, "invalid_field", "description"),
    ({"name": "ok", "description": "d" * 2001}, 422, "invalid_field", "description"),
])
def test_create_validates(pipeline_api, payload, status, code, field):
    response = pipeline_api.post(STORES, json=payload)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code and response.get_json()["error"]["details"]["field"] == field


def test_names_are_unique_per_workspace(app, client, pipeline_api):
    assert pipeline_api.post(STORES, json={"name": "support"}).status_code == 201
    for name in ("support", "default"):
        conflict = pipeline_api.post(STORES, json={"name": name})
        assert conflict.status_code == 409
        assert conflict.get_json()["error"] == {
            "code": "vector_store_exists", "details": {"name": name},
            "message": f"A vector store named {name!r} already exists in this workspace."}
    assert pipeline_api.post(STORES, json={"name": "Support"}).status_code == 201  # case-sensitive
    with app.app_context():
        globex, admin = make_workspace("Globex")
        other = Api(client, make_api_key(globex, admin, scopes=["pipeline"]))
    assert other.post(STORES, json={"name": "support"}).status_code == 201  # another workspace


def test_scopes(app, client, workspace, pipeline_api):
    store = pipeline_api.post(STORES, json={"name": "s"}).get_json()["id"]
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        reader = Api(client, make_api_key(ws, user, scopes=["query"]))
        writer = Api(client, make_api_key(ws, user, scopes=["pipeline"]))
    assert reader.get(STORES).status_code == 200 and reader.get(f"{STORES}/{store}").status_code == 200
    for response in (reader.post(STORES, json={"name": "t"}), reader.delete(f"{STORES}/{store}")):
        assert response.status_code == 403
        assert response.get_json()["error"]["details"]["required_scope"] == "pipeline"
    assert writer.get(STORES).status_code == 403
    assert writer.delete(f"{STORES}/{store}").status_code == 200
    assert client.get(STORES).status_code == 401


def test_another_workspaces_store_is_not_found(app, client, pipeline_api):
    with app.app_context():
        globex, admin = make_workspace("Globex")
        theirs = stores.create_store(user_actor_for(globex, admin), "theirs").id
        their_default = stores.default_store(globex.id).id
        db.session.commit()
    for store_id in (theirs, their_default, "vs_doesnotexist0000"):
        for response in (pipeline_api.get(f"{STORES}/{store_id}"), pipeline_api.delete(f"{STORES}/{store_id}")):
            assert response.status_code == 404
            assert response.get_json()["error"] == {"code": "vector_store_not_found", "message": "Vector store not found.",
                                                    "details": {"id": store_id}}
    names = [s["name"] for s in pipeline_api.get(STORES).get_json()["vector_stores"]]
    assert names == ["default"]
    with app.app_context():
        assert db.session.get(VectorStore, theirs) is not None


def test_the_default_store_cannot_be_deleted(pipeline_api):
    default = pipeline_api.get(STORES).get_json()["vector_stores"][0]["id"]
    response = pipeline_api.delete(f"{STORES}/{default}")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "default_store"
    assert pipeline_api.get(f"{STORES}/{default}").status_code == 200


def test_deleting_a_store_deletes_its_documents_and_their_chunks(app, pipeline_api, workspace):
    organization_id = workspace[0].id
    doomed = pipeline_api.post(STORES, json={"name": "doomed"}).get_json()["id"]
    kept = pipeline_api.post(STORES, json={"name": "kept"}).get_json()["id"]
    sync(pipeline_api, organization_id, doomed, upserts("a", "b", "c"))
    sync(pipeline_api, organization_id, kept, upserts("a"))
    assert pipeline_api.get(f"{STORES}/{doomed}").get_json()["document_count"] == 3
    with app.app_context():
        document = db.session.scalar(select(Document).where(Document.origin_id == doomed, Document.external_id == "a"))
        db.session.add(Chunk(document_id=document.id, workspace_id=organization_id, vector_store_id=doomed,
                             position=0, text="text a", start=0, end=6, token_count=2, embedding=b"\0" * 8,
                             embedded_at=utcnow()))
        db.session.commit()
    response = pipeline_api.delete(f"{STORES}/{doomed}")
    assert response.status_code == 200
    assert response.get_json() == {"deleted": True, "id": doomed, "documents_deleted": 3}
    assert pipeline_api.get(f"{STORES}/{doomed}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Document).where(Document.origin_id == doomed)) == 0
        assert db.session.scalar(select(func.count()).select_from(Chunk)) == 0
        assert [c.op for c in db.session.scalars(select(ChunkChange).where(ChunkChange.vector_store_id == doomed))] \
            == ["remove"]
        assert db.session.scalar(select(func.count()).select_from(Document).where(Document.origin_id == kept)) == 1
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "vector_store.deleted"))
        assert event.target_id == doomed and event.details == {"name": "doomed", "documents_deleted": 3}


def test_document_counts_include_connector_documents_in_the_default_store(app, pipeline_api, workspace):
    organization_id = workspace[0].id
    named = pipeline_api.post(STORES, json={"name": "named"}).get_json()["id"]
    sync(pipeline_api, organization_id, named, upserts("a", "b"))
    with app.app_context():  # as the sync engine writes connector data: no store id (yet)
        now = utcnow()
        db.session.add_all([Document(workspace_id=organization_id, origin_id="conn_x", namespace="github_issues",
                                     external_id=str(i), source="github", type="issue", title=f"#{i}", content="",
                                     content_hash="h", created_at=now, updated_at=now) for i in range(3)])
        db.session.commit()
    listed = {s["name"]: s["document_count"] for s in pipeline_api.get(STORES).get_json()["vector_stores"]}
    assert listed == {"default": 3, "named": 2}
    default = pipeline_api.get(STORES).get_json()["vector_stores"][0]["id"]
    assert pipeline_api.get(f"{STORES}/{default}").get_json()["document_count"] == 3
