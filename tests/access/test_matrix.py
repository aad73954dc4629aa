"""Document access, member by member and key by key: each asker's queries, document reads and
counts return exactly the documents it may read (issue #13's matrix). Pipeline documents with
readers, identity and group readers, a personal connection (its owner changed, then cleared), a
service key, a revoked reader, and the admin override."""
import pytest
from sqlalchemy import select

from access import service as access
from access.models import GroupMember, IdentityLink
from audit.models import AuditEvent
from connections.models import Connection
from connectors.base import DocumentData
from core.extensions import db
from knowledge import embedding_queue, ingest
from knowledge.models import Chunk, Document
from tests.factories import Api, add_member, make_api_key

WORDS = "quarterly roadmap review"


@pytest.fixture
def world(app, client, workspace):
    """Ada (admin), Bob and Cara (members), their member keys, a service key, and documents."""
    from accounts import service as accounts
    from tests.factories import user_actor_for

    with app.app_context():
        ws, ada = (db.session.merge(x) for x in workspace)
        bob = add_member(ws, email="bob@acme.example")
        cara = add_member(ws, email="cara@acme.example")
        keys = {"ada": make_api_key(ws, ada, scopes=["admin"], name="ada"),
                "bob": make_api_key(ws, bob, scopes=["query", "connections:read"], name="bob"),
                "cara": make_api_key(ws, cara, scopes=["query", "connections:read"], name="cara")}
        service, keys["service"] = accounts.create_api_key(user_actor_for(ws, ada), name="exporter",
                                                           scopes=["query"], kind="service")
        personal = Connection(workspace_id=ws.id, connector_type="gmail", name="Bob's mail", status="connected",
                              scope="personal", owner_user_id=bob.id)
        db.session.add(personal)
        # Cara signed in to GitHub as user 42 (verified), and GitHub team "core" lists user 42.
        github = Connection(workspace_id=ws.id, connector_type="github", name="GitHub", status="connected")
        db.session.add(github)
        db.session.flush()
        db.session.add(IdentityLink(workspace_id=ws.id, user_id=cara.id, kind="provider_user", value="github:42",
                                    verified_via="oauth:test"))
        db.session.add(GroupMember(workspace_id=ws.id, connection_id=github.id, group_key=f"github:{github.id}:core",
                                   member_kind="provider_user", member_value="github:42"))
        ids = {"ws": ws.id, "ada": ada.id, "bob": bob.id, "cara": cara.id, "service": service.id,
               "personal": personal.id, "github": github.id}
        db.session.commit()
    apis = {name: Api(client, key) for name, key in keys.items()}
    store = apis["ada"].post("/api/v1/vector-stores", json={"name": "kb"}).get_json()["id"]
    pipeline_key = keys["ada"]

    def push(operations):
        response = client.post("/v1/pipeline/sync", headers={"X-API-Key": pipeline_key}, json={
            "organization_id": ids["ws"], "sync_mode": "incremental", "operations": operations,
            "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store})
        assert response.status_code == 200, response.get_json()

    def op(external_id, readers=None):
        body = {"action": "upsert", "id": external_id, "namespace": "notes", "title": f"{external_id} {WORDS}",
                "content": f"The {WORDS} for {external_id}."}
        return {**body, "readers": readers} if readers else body

    push([op("everyone"), op("bob-only", [f"member:{ids['bob']}"]), op("cara-mail", ["email:cara@acme.example"]),
          op("for-the-exporter", [f"api_key:{ids['service']}"])])
    with app.app_context():
        def connector_docs(connection_id, namespace, docs_and_readers):
            scope = ingest.Scope(workspace_id=ids["ws"], origin_id=connection_id, connection_id=connection_id,
                                 namespace=namespace, source=namespace.split("_")[0])
            docs = [DocumentData(external_id=e, title=f"{e} {WORDS}", content=f"The {WORDS} of {e}.", type="note")
                    for e, _ in docs_and_readers]
            ingest.upsert(scope, docs, access={e: access.access_id(ids["ws"], r) for e, r in docs_and_readers})

        connector_docs(ids["personal"], "gmail_messages", [("bob-mail", access.owner_only(ids["personal"]))])
        connector_docs(ids["github"], "github_issues", [
            ("private-42", access.Readers.of(("provider_user", "github:42"))),
            ("team-core", access.Readers.of(("provider_group", f"github:{ids['github']}:core"))),
            ("nobody", access.Readers.nobody())])
        db.session.commit()
    embedding_queue.drain_embeddings(app)
    return apis, ids, push, op


EVERYONE = {"everyone"}
EXPECTED = {
    "ada": EVERYONE,                                   # an admin reads what the sources let her
    "bob": EVERYONE | {"bob-only", "bob-mail"},
    "cara": EVERYONE | {"cara-mail", "private-42", "team-core"},
    "service": EVERYONE | {"for-the-exporter"},
}


def found(api, **params):
    answer = api.post("/api/v1/query", json={"query": WORDS, "limit": 50, "include_reasoning": True, **params})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    return {r["metadata"]["external_id"] for r in body["results"]}, body


def listed(api):
    return {d["external_id"] for d in api.get("/api/v1/documents?limit=200").get_json()["documents"]}


def counted(api):
    return sum(s["document_count"] for s in api.get("/api/v1/vector-stores").get_json()["vector_stores"])


@pytest.mark.parametrize("who", list(EXPECTED))
def test_each_asker_finds_lists_and_counts_exactly_what_it_may_read(app, world, who):
    apis, *_ = world
    results, body = found(apis[who])
    assert results == EXPECTED[who]
    # nothing in the answer tells of the others: the candidates are the readable ones
    assert body["reasoning"].count("nobody") == 0
    assert listed(apis[who]) == EXPECTED[who]
    assert counted(apis[who]) == len(EXPECTED[who])


def test_a_hidden_document_is_the_same_not_found_as_a_missing_one(app, world):
    apis, *_ = world
    with app.app_context():
        hidden = db.session.scalar(select(Document.id).where(Document.external_id == "bob-only"))
        db.session.remove()
    for asker in ("cara", "service", "ada"):
        answer = apis[asker].get(f"/api/v1/documents/{hidden}")
        missing = apis[asker].get("/api/v1/documents/doc_doesnotexist0000")
        assert answer.status_code == missing.status_code == 404
        assert answer.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "document_not_found"
    assert apis["ada"].delete(f"/api/v1/documents/{hidden}").status_code == 404  # an admin key cannot either
    assert apis["bob"].get(f"/api/v1/documents/{hidden}").status_code == 200


def test_a_filtered_query_still_fills_its_limit_from_what_is_readable(app, world):
    apis, ids, push, op = world
    push([op(f"bob-{i}", [f"member:{ids['bob']}"]) for i in range(20)] + [op(f"pub-{i}") for i in range(5)])
    embedding_queue.drain_embeddings(app)
    results, _ = found(apis["cara"], limit=5)
    assert len(results) == 5 and not any(r.startswith("bob-") for r in results)


def test_a_revoked_reader_stops_seeing_it_and_nothing_is_embedded_again(app, world):
    apis, ids, push, op = world
    with app.app_context():
        document = db.session.scalar(select(Document).where(Document.external_id == "bob-only"))
        chunks_before = set(db.session.scalars(select(Chunk.id).where(Chunk.document_id == document.id)))
        db.session.remove()
    assert chunks_before
    push([op("bob-only", [f"member:{ids['cara']}"])])          # same text, other reader
    assert "bob-only" not in found(apis["bob"])[0] and "bob-only" in found(apis["cara"])[0]
    # the semantic side too: the index's filter column followed without a new vector
    assert "bob-only" not in found(apis["bob"], types=["document"])[0]
    with app.app_context():
        document = db.session.scalar(select(Document).where(Document.external_id == "bob-only"))
        assert not document.needs_chunking
        assert set(db.session.scalars(select(Chunk.id).where(Chunk.document_id == document.id))) == chunks_before
        db.session.remove()
    push([op("bob-only")])                                       # no readers: workspace-wide again
    assert "bob-only" in found(apis["ada"])[0]


def test_a_personal_connections_documents_move_with_its_owner_and_hide_when_it_has_none(app, world):
    apis, ids, *_ = world
    personal = ids["personal"]
    assert apis["ada"].patch(f"/api/v1/connections/{personal}", json={"owner_user_id": ids["cara"]}).status_code == 200
    assert "bob-mail" not in found(apis["bob"])[0] and "bob-mail" in found(apis["cara"])[0]
    assert apis["ada"].patch(f"/api/v1/connections/{personal}", json={"owner_user_id": None}).status_code == 200
    for asker in ("ada", "bob", "cara", "service"):
        assert "bob-mail" not in found(apis[asker])[0]


def test_the_admin_override_is_off_unless_configured_and_audited_when_used(app, world):
    apis, ids, *_ = world
    refused = apis["ada"].post("/api/v1/query", json={"query": WORDS, "audit_access": True})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "access_override_disabled"
    app.config["ACCESS_ADMIN_OVERRIDE"] = True
    assert apis["bob"].post("/api/v1/query", json={"query": WORDS, "audit_access": True}).status_code == 403
    everything, _ = found(apis["ada"], audit_access=True)
    assert everything == set().union(*EXPECTED.values()) | {"nobody"}
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.override")).all()
        assert len(events) == 1 and events[0].actor_id is not None
        db.session.remove()


def test_a_member_key_reads_as_its_creator_only_while_they_are_a_member(app, world):
    from accounts.models import Membership

    apis, ids, *_ = world
    assert found(apis["bob"])[0] == EXPECTED["bob"]
    with app.app_context():
        db.session.execute(Membership.__table__.delete().where(Membership.user_id == ids["bob"]))
        db.session.commit()
        db.session.remove()
    assert found(apis["bob"])[0] == EVERYONE


def test_readers_in_a_pipeline_operation_are_checked(app, world):
    apis, ids, push, op = world
    from tests.factories import Api  # noqa: F401

    client = apis["ada"].client
    for readers in ([], ["somebody"], ["member:"], "member:x", [f"member:{'x' * 400}"]):
        response = client.post("/v1/pipeline/sync", headers={"X-API-Key": apis["ada"].key}, json={
            "organization_id": ids["ws"], "sync_mode": "incremental",
            "operations": [{**op("bad"), "readers": readers}], "sync_timestamp": "2026-04-13T10:30:00Z",
            "vector_store_id": apis["ada"].get("/api/v1/vector-stores").get_json()["vector_stores"][1]["id"]})
        assert response.status_code == 422 and response.get_json()["error"]["details"]["field"] == "readers", readers


def test_the_search_page_backlog_counts_only_what_the_member_may_read(app, world, client):
    """The Search page's "waiting to be embedded" note counts chunks of readable documents only."""
    from knowledge import stores
    from tests.factories import user_actor_for

    apis, ids, push, op = world
    push([op(f"bob-secret-{i}", [f"member:{ids['bob']}"]) for i in range(3)])  # not embedded yet
    with app.app_context():
        from accounts.models import User, Workspace

        ws, bob, cara = (db.session.get(Workspace, ids["ws"]), db.session.get(User, ids["bob"]),
                         db.session.get(User, ids["cara"]))
        embedding_queue.chunk_pending()
        db.session.commit()
        waiting = {name: sum(s["embedding_backlog"] for s in stores.list_stores(user_actor_for(ws, user, "member")))
                   for name, user in (("bob", bob), ("cara", cara))}
        db.session.remove()
    assert waiting["bob"] > 0 and waiting["cara"] == 0
