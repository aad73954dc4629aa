"""POST /v1/pipeline/sync (specs/pipeline-sync.md): atomic upserts and deletes into a vector store."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from audit.models import AuditEvent
from core.extensions import db
from core.timeutil import utcnow
from knowledge import ingest, pipeline
from knowledge.models import Document, PipelineSync
from knowledge.pipeline import PipelineRequest
from tests.factories import make_api_key, make_workspace, user_actor_for

URL = "/v1/pipeline/sync"
SPEC_KEYS = {"status", "sync_id", "processed", "results", "by_namespace", "processing_time_ms"}


@pytest.fixture
def org(app, workspace):
    """(organization id, pipeline key, store id): a pipeline-scoped key and a named store."""
    from knowledge import stores

    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        key = make_api_key(ws, user, scopes=["pipeline"], name="pipeline")
        store = stores.create_store(user_actor_for(ws, user), "clickup")
        return ws.id, key, store.id


def body(org, operations, mode="incremental", **overrides):
    organization_id, _key, store_id = org
    return {"organization_id": organization_id, "sync_mode": mode, "operations": operations,
            "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store_id, **overrides}


def upsert(external_id, namespace="clickup_tasks", **fields):
    return {"action": "upsert", "id": external_id, "namespace": namespace, "title": f"Task {external_id}",
            "content": f"Body of {external_id}", **fields}


def delete(external_id, namespace="clickup_tasks"):
    return {"action": "delete", "id": external_id, "namespace": namespace}


def post(client, org, payload, *, key=None, bearer=False):
    key = key or org[1]
    headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    return client.post(URL, json=payload, headers=headers)


def stored(app, store_id, namespace=None) -> dict[str, Document]:
    with app.app_context():
        query = select(Document).where(Document.origin_id == store_id)
        if namespace:
            query = query.where(Document.namespace == namespace)
        documents = {d.external_id: d for d in db.session.scalars(query)}
        db.session.expunge_all()
        return documents


def counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Document)),
                db.session.scalar(select(func.count()).select_from(PipelineSync)))


# -- the happy paths ------------------------------------------------------------------------------

def test_incremental_sync_has_the_specs_answer_and_stores_the_records(app, client, org):
    operations = [
        upsert("task_123", url="https://app.clickup.com/t/task_123", author="ada@example.com", type="task",
               created_at="2026-04-01T09:00:00Z", updated_at="2026-04-13T12:29:00+02:00",
               metadata={"status": "open", "points": 3}),
        upsert("task_124"),
        {"action": "upsert", "id": "space_9", "namespace": "clickup_spaces", "content": "Platform team"},
        delete("task_100"),
    ]
    response = post(client, org, body(org, operations))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert set(answer) == SPEC_KEYS
    assert answer["status"] == "success" and answer["sync_id"].startswith("sync_")
    assert answer["processed"] == 4
    assert answer["results"] == {"upserted": 3, "deleted": 1, "failed": 0}
    assert answer["by_namespace"] == {"clickup_tasks": {"upserted": 2, "deleted": 1, "failed": 0},
                                      "clickup_spaces": {"upserted": 1, "deleted": 0, "failed": 0}}
    assert isinstance(answer["processing_time_ms"], int) and answer["processing_time_ms"] >= 0

    documents = stored(app, org[2])
    assert set(documents) == {"task_123", "task_124", "space_9"}
    task = documents["task_123"]
    assert (task.workspace_id, task.vector_store_id, task.source, task.type) == (org[0], org[2], "pipeline", "task")
    assert (task.title, task.content, task.url, task.author) == (
        "Task task_123", "Body of task_123", "https://app.clickup.com/t/task_123", "ada@example.com")
    assert task.metadata_ == {"status": "open", "points": 3}
    assert task.source_created_at.isoformat() == "2026-04-01T09:00:00+00:00"
    assert task.source_updated_at.isoformat() == "2026-04-13T10:29:00+00:00"  # normalised to UTC
    space = documents["space_9"]
    assert (space.title, space.type, space.namespace, space.connection_id) == ("", "document", "clickup_spaces", None)

    with app.app_context():
        sync = db.session.get(PipelineSync, answer["sync_id"])
        assert (sync.workspace_id, sync.vector_store_id, sync.sync_mode) == (org[0], org[2], "incremental")
        assert (sync.processed, sync.upserted, sync.deleted) == (4, 3, 1)
        assert sync.by_namespace == answer["by_namespace"] and sync.api_key_id.startswith("key_")
        assert sync.sync_timestamp.isoformat() == "2026-04-13T10:30:00+00:00"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "pipeline.sync"))
        assert event.target_id == org[2] and event.actor_type == "api_key"
        assert event.details["sync_id"] == answer["sync_id"] and event.details["documents_created"] == 3


def test_bearer_and_admin_keys_work_too(app, client, workspace, org):
    assert post(client, org, body(org, [upsert("a")]), bearer=True).status_code == 200
    with app.app_context():
        admin = make_api_key(*(db.session.merge(x) for x in workspace))
    assert post(client, org, body(org, [upsert("b")]), key=admin).status_code == 200


def test_the_default_store_takes_pipeline_data_too(app, client, org):
    from knowledge import stores

    with app.app_context():
        default_id = stores.default_store(org[0]).id
        db.session.commit()
    assert post(client, org, body(org, [upsert("a")], vector_store_id=default_id)).status_code == 200
    assert set(stored(app, default_id)) == {"a"}


def test_updates_rewrite_changed_records_and_leave_unchanged_ones_alone(app, client, org):
    post(client, org, body(org, [upsert("same"), upsert("changing"), upsert("gone")]))
    before = stored(app, org[2])
    again = post(client, org, body(org, [upsert("same"), upsert("changing", content="New body"), delete("gone")]))
    assert again.get_json()["results"] == {"upserted": 2, "deleted": 1, "failed": 0}
    after = stored(app, org[2])
    assert set(after) == {"same", "changing"}
    # The unchanged record was not rewritten: same row, same hash, same updated_at.
    assert (after["same"].id, after["same"].content_hash, after["same"].updated_at) == (
        before["same"].id, before["same"].content_hash, before["same"].updated_at)
    assert after["changing"].id == before["changing"].id
    assert after["changing"].content == "New body" and after["changing"].content_hash != before["changing"].content_hash
    assert after["changing"].updated_at > before["changing"].updated_at
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "pipeline.sync")
                                   .order_by(AuditEvent.id.desc())).first()
        assert {k: event.details[k] for k in ("documents_created", "documents_updated", "documents_unchanged",
                                              "documents_deleted")} == {
            "documents_created": 0, "documents_updated": 1, "documents_unchanged": 1, "documents_deleted": 1}


def test_deleting_an_id_that_is_not_stored_succeeds(app, client, org):
    response = post(client, org, body(org, [delete("never_was")]))
    assert response.status_code == 200
    assert response.get_json()["results"] == {"upserted": 0, "deleted": 1, "failed": 0}


def test_full_refresh_leaves_exactly_the_requests_records_in_the_named_namespaces(app, client, org):
    post(client, org, body(org, [upsert("x"), upsert("y"), upsert("z"), upsert("keep", namespace="other")]))
    before = stored(app, org[2])
    response = post(client, org, body(org, [upsert("y"), upsert("w", content="new")], mode="full_refresh"))
    assert response.status_code == 200
    assert response.get_json()["by_namespace"] == {"clickup_tasks": {"upserted": 2, "deleted": 0, "failed": 0}}
    after = stored(app, org[2])
    assert set(stored(app, org[2], "clickup_tasks")) == {"y", "w"}
    assert set(stored(app, org[2], "other")) == {"keep"}  # a namespace the request did not name is untouched
    # Same end state as "clear, then insert", without rewriting the unchanged record.
    assert (after["y"].id, after["y"].updated_at) == (before["y"].id, before["y"].updated_at)
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "pipeline.sync")
                                   .order_by(AuditEvent.id.desc())).first()
        assert event.details["documents_cleared_by_full_refresh"] == 2 and event.details["sync_mode"] == "full_refresh"


def test_full_refresh_with_only_deletes_empties_the_namespace(app, client, org):
    post(client, org, body(org, [upsert("x"), upsert("y")]))
    assert post(client, org, body(org, [delete("x")], mode="full_refresh")).status_code == 200
    assert stored(app, org[2], "clickup_tasks") == {}


# -- atomicity --------------------------------------------------------------------------------------

def test_a_bad_operation_in_the_middle_of_5000_writes_nothing(app, client, org):
    post(client, org, body(org, [upsert("existing")]))
    operations = [upsert(f"t{i}") for i in range(5000)]
    operations[0] = delete("existing")
    operations[2500] = {"action": "upsert", "id": "t2500", "namespace": "clickup_tasks", "title": "ok",
                        "created_at": "yesterday"}
    before = counts(app)
    response = post(client, org, body(org, operations))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_operation"
    assert error["details"] == {"operation_index": 2500, "id": "t2500", "field": "created_at"}
    assert "Operation 2500" in error["message"] and "Nothing was written" in error["message"]
    assert counts(app) == before
    assert set(stored(app, org[2])) == {"existing"}


def test_a_failure_while_writing_rolls_every_operation_back(app, client, org, monkeypatch):
    post(client, org, body(org, [upsert("existing")]))
    before = counts(app)

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest, "delete_ids", fail)  # after the upserts of the namespace ran
    response = post(client, org, body(org, [upsert("new"), upsert("existing", content="changed"),
                                            delete("existing2")]))
    assert response.status_code == 500
    assert counts(app) == before
    assert stored(app, org[2])["existing"].content == "Body of existing"


def test_5000_operations_are_accepted_and_5001_refused(app, client, org):
    ok = post(client, org, body(org, [upsert(f"t{i}") for i in range(5000)]))
    assert ok.status_code == 200 and ok.get_json()["results"]["upserted"] == 5000
    assert len(stored(app, org[2])) == 5000
    too_many = post(client, org, body(org, [delete(f"t{i}") for i in range(5001)]))
    assert too_many.status_code == 413
    error = too_many.get_json()["error"]
    assert error["code"] == "too_many_operations" and error["details"] == {"limit": 5000, "received": 5001}
    assert len(stored(app, org[2])) == 5000


# -- every refusal ----------------------------------------------------------------------------------

ABSENT = object()


def _op_case(op, field, code="invalid_operation", index=1):
    return ({"operations": [upsert("fine"), op]}, 422, code, {"operation_index": index, "field": field})


REFUSALS = {
    "unknown top-level field": ({"mode": "x"}, 422, "unknown_field", {"field": "mode"}),
    "missing organization_id": ({"organization_id": ABSENT}, 422, "missing_field", {"field": "organization_id"}),
    "null organization_id": ({"organization_id": None}, 422, "missing_field", {"field": "organization_id"}),
    "numeric organization_id": ({"organization_id": 7}, 422, "invalid_field", {"field": "organization_id"}),
    "missing sync_mode": ({"sync_mode": ""}, 422, "missing_field", {"field": "sync_mode"}),
    "missing operations": ({"operations": None}, 422, "missing_field", {"field": "operations"}),
    "missing sync_timestamp": ({"sync_timestamp": ABSENT}, 422, "missing_field", {"field": "sync_timestamp"}),
    "missing vector_store_id": ({"vector_store_id": " "}, 422, "missing_field", {"field": "vector_store_id"}),
    "bad sync_mode": ({"sync_mode": "sometimes"}, 422, "invalid_field", {"field": "sync_mode"}),
    "sync_mode not a string": ({"sync_mode": 1}, 422, "invalid_field", {"field": "sync_mode"}),
    "bad sync_timestamp": ({"sync_timestamp": "13/04/2026"}, 422, "invalid_field", {"field": "sync_timestamp"}),
    "operations not a list": ({"operations": {"a": 1}}, 422, "invalid_field", {"field": "operations"}),
    "no operations": ({"operations": []}, 422, "invalid_field", {"field": "operations"}),
    "operation not an object": _op_case("upsert", None),
    "missing action": _op_case({"id": "a", "namespace": "n", "title": "t"}, "action"),
    "bad action": _op_case({"action": "merge", "id": "a", "namespace": "n", "title": "t"}, "action"),
    "missing id": _op_case({"action": "delete", "namespace": "n"}, "id"),
    "blank id": _op_case({"action": "delete", "id": "  ", "namespace": "n"}, "id"),
    "numeric id": _op_case({"action": "delete", "id": 7, "namespace": "n"}, "id"),
    "long id": _op_case({"action": "delete", "id": "x" * 501, "namespace": "n"}, "id"),
    "missing namespace": _op_case({"action": "delete", "id": "a"}, "namespace"),
    "uppercase namespace": _op_case({"action": "delete", "id": "a", "namespace": "Tasks"}, "namespace"),
    "namespace with a space": _op_case({"action": "delete", "id": "a", "namespace": "my tasks"}, "namespace"),
    "namespace starting with _": _op_case({"action": "delete", "id": "a", "namespace": "_tasks"}, "namespace"),
    "namespace of 129": _op_case({"action": "delete", "id": "a", "namespace": "n" * 129}, "namespace"),
    "namespace with a newline": _op_case({"action": "delete", "id": "a", "namespace": "tasks\n"}, "namespace"),
    "unknown op field": _op_case({**upsert("a"), "colour": "red"}, "colour"),
    "delete with data": _op_case({**delete("a"), "title": "t"}, "title"),
    "upsert without content or title": _op_case({"action": "upsert", "id": "a", "namespace": "n"}, "content"),
    "upsert with blank content and title": _op_case({**upsert("a"), "title": " ", "content": ""}, "content"),
    "content not a string": _op_case({**upsert("a"), "content": 5}, "content"),
    "title not a string": _op_case({**upsert("a"), "title": ["t"]}, "title"),
    "url not a string": _op_case({**upsert("a"), "url": 5}, "url"),
    "author too long": _op_case({**upsert("a"), "author": "a" * 501}, "author"),
    "blank type": _op_case({**upsert("a"), "type": " "}, "type"),
    "bad created_at": _op_case({**upsert("a"), "created_at": "yesterday"}, "created_at"),
    "numeric updated_at": _op_case({**upsert("a"), "updated_at": 1712999999}, "updated_at"),
    "metadata not an object": _op_case({**upsert("a"), "metadata": ["x"]}, "metadata"),
    "duplicate id in a namespace": _op_case(upsert("fine"), "id", code="duplicate_operation"),
    "upsert then delete of one id": _op_case(delete("fine"), "id", code="duplicate_operation"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_problem_and_write_nothing(app, client, org, case):
    overrides, status, code, details = REFUSALS[case]
    before = counts(app)
    payload = {**body(org, [upsert("fine")]), **overrides}
    response = post(client, org, {key: value for key, value in payload.items() if value is not ABSENT})
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code, error
    assert details.items() <= error["details"].items(), error
    assert counts(app) == before


def test_the_same_id_in_two_namespaces_is_two_records(app, client, org):
    response = post(client, org, body(org, [upsert("a"), upsert("a", namespace="other")]))
    assert response.status_code == 200
    assert set(stored(app, org[2], "clickup_tasks")) == set(stored(app, org[2], "other")) == {"a"}


def test_a_duplicate_names_both_operations(client, org):
    error = post(client, org, body(org, [upsert("a"), upsert("b"), delete("a")])).get_json()["error"]
    assert error["details"] == {"operation_index": 2, "id": "a", "field": "id", "first_operation_index": 0}


def test_an_invalid_json_body_is_refused(client, org):
    response = client.post(URL, data="{", headers={"X-API-Key": org[1], "Content-Type": "application/json"})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_json"
    response = post(client, org, [1, 2])
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_body"


def test_timestamps_without_an_offset_are_utc(app, client, org):
    post(client, org, body(org, [upsert("a", updated_at="2026-04-13T10:29:00")], sync_timestamp="2026-04-13"))
    assert stored(app, org[2])["a"].source_updated_at.isoformat() == "2026-04-13T10:29:00+00:00"


# -- authentication -------------------------------------------------------------------------------

def test_authentication_and_scope(app, client, workspace, org):
    payload = body(org, [upsert("a")])
    missing = client.post(URL, json=payload)
    assert missing.status_code == 401 and missing.get_json()["error"]["code"] == "missing_api_key"
    assert "X-API-Key" in missing.get_json()["error"]["message"]
    unknown = client.post(URL, json=payload, headers={"X-API-Key": "trb_nope"})
    assert unknown.status_code == 401 and unknown.get_json()["error"]["code"] == "invalid_api_key"
    basic = client.post(URL, json=payload, headers={"Authorization": f"Basic {org[1]}"})
    assert basic.status_code == 401 and basic.get_json()["error"]["code"] == "missing_api_key"
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        query_key = make_api_key(ws, user, scopes=["query", "sync"])
    forbidden = client.post(URL, json=payload, headers={"X-API-Key": query_key})
    assert forbidden.status_code == 403
    assert forbidden.get_json()["error"]["details"] == {"required_scope": "pipeline", "key_scopes": ["query", "sync"]}
    from accounts import service as accounts
    from accounts.models import ApiKey

    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.name == "pipeline"))
        accounts.revoke_api_key(user_actor_for(ws, user), key_id)
    revoked = post(client, org, payload)
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "invalid_api_key"
    assert counts(app)[0] == 0


# -- tenant isolation ------------------------------------------------------------------------------

def test_another_organizations_store_and_id_are_refused(app, client, org):
    from knowledge import stores

    with app.app_context():
        globex, admin = make_workspace("Globex")
        theirs = stores.create_store(user_actor_for(globex, admin), "theirs").id
        globex_id = globex.id
    foreign_store = post(client, org, body(org, [upsert("a")], vector_store_id=theirs))
    assert foreign_store.status_code == 404
    assert foreign_store.get_json()["error"]["code"] == "vector_store_not_found"
    missing_store = post(client, org, body(org, [upsert("a")], vector_store_id="vs_doesnotexist0000"))
    assert missing_store.get_json() == {**foreign_store.get_json(), "error": {
        **foreign_store.get_json()["error"], "details": {"id": "vs_doesnotexist0000"}}}
    for organization_id in (globex_id, "org_doesnotexist0000"):
        mismatch = post(client, org, body(org, [upsert("a")], organization_id=organization_id))
        assert mismatch.status_code == 403
        assert mismatch.get_json()["error"] == {
            "code": "organization_mismatch", "message": "organization_id is not the organization of this API key.",
            "details": {"field": "organization_id"}}
    # And the other organization's key cannot write into ours.
    with app.app_context():
        globex, admin = make_workspace("Initech")
        their_key = make_api_key(globex, admin, scopes=["pipeline"])
        their_org = globex.id
    crossing = post(client, org, body(org, [upsert("a")], organization_id=their_org), key=their_key)
    assert crossing.status_code == 404 and counts(app)[0] == 0


# -- the rate limit --------------------------------------------------------------------------------

def test_the_rate_limit_answers_429_with_retry_after_and_slides(app, client, workspace, org):
    app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] = 3
    assert post(client, org, body(org, [upsert("a")])).status_code == 200
    assert post(client, org, body(org, [upsert("a", namespace="BAD")])).status_code == 422  # counts too
    client.post(URL, json=body(org, [upsert("a")]))  # unauthenticated: not counted
    assert post(client, org, body(org, [upsert("b")])).status_code == 200
    limited = post(client, org, body(org, [upsert("c")]))
    assert limited.status_code == 429
    error = limited.get_json()["error"]
    assert error["code"] == "rate_limited" and error["details"]["limit"] == 3
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and error["details"]["retry_after"] == retry_after
    assert post(client, org, body(org, [upsert("c")])).status_code == 429  # a refused request does not count
    assert "c" not in stored(app, org[2])
    # Another organization has its own window.
    with app.app_context():
        globex, admin = make_workspace("Globex")
        other = (globex.id, make_api_key(globex, admin, scopes=["pipeline"]), None)
    other_store = client.post("/api/v1/vector-stores", json={"name": "g"},
                              headers={"Authorization": f"Bearer {other[1]}"}).get_json()["id"]
    other = (other[0], other[1], other_store)
    assert post(client, other, body(other, [upsert("a")])).status_code == 200
    # The window slides: once the oldest requests are a minute old, requests are admitted again.
    with app.app_context():
        db.session.execute(update(PipelineRequest).where(PipelineRequest.workspace_id == org[0])
                           .values(created_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
    assert post(client, org, body(org, [upsert("c")])).status_code == 200
    with app.app_context():  # and the old entries were pruned
        assert db.session.scalar(select(func.count()).select_from(PipelineRequest)
                                 .where(PipelineRequest.workspace_id == org[0])) == 1


def test_the_limit_is_100_a_minute_by_default(app):
    assert app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] == 100
    assert pipeline.RATE_WINDOW_SECONDS == 60 and pipeline.MAX_OPERATIONS == 5000


def test_the_101st_request_in_a_minute_is_refused(app, client, org):
    with app.app_context():  # 100 requests in the last minute, as another process would have counted them
        now = utcnow()
        db.session.execute(PipelineRequest.__table__.insert(), [
            {"workspace_id": org[0], "created_at": now - timedelta(seconds=50 - i * 0.1)} for i in range(100)])
        db.session.commit()
    response = post(client, org, body(org, [upsert("a")]))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) in (10, 11)


def test_concurrent_requests_never_exceed_the_limit(app, org):
    """Admissions are serialized per organization in the database: of 12 requests racing from
    12 connections (as from several processes), exactly the limit get through."""
    import threading

    from accounts.service import actor_for_api_key
    from core.errors import TooManyRequests

    app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] = 5
    with app.app_context():
        actor = actor_for_api_key(org[1])
    outcomes, start = [], threading.Barrier(12)

    def request():
        with app.app_context():
            start.wait()
            try:
                pipeline.admit(actor)
                outcomes.append("admitted")
            except TooManyRequests:
                outcomes.append("limited")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["admitted"] * 5 + ["limited"] * 7


def test_concurrent_syncs_into_one_namespace_serialize(app, org):
    """Overlapping syncs into the same namespace from several connections do not trip over each
    other's inserts: each request is one serialized transaction (the store row is locked on
    PostgreSQL; SQLite's write lock is taken by the request's first write)."""
    import threading

    outcomes, start = [], threading.Barrier(4)

    def request(n):
        client = app.test_client()
        start.wait()
        response = post(client, org, body(org, [upsert(f"t{i}", content=f"v{n}") for i in range(300)]))
        outcomes.append(response.status_code)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert outcomes == [200] * 4
    documents = stored(app, org[2])
    assert len(documents) == 300 and len({d.content for d in documents.values()}) == 1
