"""The sync engine against the provider sandbox over real HTTP (Pipedrive streams)."""
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from knowledge.models import Document
from sync import worker
from sync.models import SyncRun, SyncState

KEY = "sandbox-pipedrive-key"


@pytest.fixture
def pipedrive(api):
    connection = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": KEY}).json
    return connection["connection"]["id"]


def sync(api, app, connection_id, *, full=False):
    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full={'true' if full else 'false'}").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    return api.get(f"/api/v1/connections/{connection_id}/runs?limit=1").json["runs"][0]


def documents(app, connection_id, namespace=None):
    with app.app_context():
        query = select(func.count()).select_from(Document).where(Document.connection_id == connection_id)
        if namespace:
            query = query.where(Document.namespace == namespace)
        return db.session.scalar(query)


def sandbox(sandbox_server, method, path, **kwargs):
    response = requests.request(method, f"{sandbox_server.url}{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response


def test_full_sync_brings_every_stream_in(app, api, pipedrive):
    run = sync(api, app, pipedrive, full=True)
    assert run["status"] == "completed", run
    assert run["streams_total"] == 4 and run["streams_failed"] == 0         # leads, deals, activities, notes
    total = documents(app, pipedrive)
    assert total > 0 and run["records_written"] == total
    for namespace in ("pipedrive_deals", "pipedrive_activities", "pipedrive_leads"):
        assert documents(app, pipedrive, namespace) > 0, namespace
    connection = api.get(f"/api/v1/connections/{pipedrive}").json
    assert connection["status"] == "connected" and connection["health"] == "healthy"
    assert connection["last_synced_at"] is not None and connection["last_run"]["id"] == run["id"]


def test_a_no_change_incremental_writes_nothing(app, api, pipedrive):
    sync(api, app, pipedrive, full=True)
    before = documents(app, pipedrive)
    with app.app_context():
        stamps = dict(db.session.execute(select(Document.id, Document.updated_at)).all())
    run = sync(api, app, pipedrive)
    assert run["status"] == "completed" and run["records_written"] == 0
    assert documents(app, pipedrive) == before
    with app.app_context():
        assert dict(db.session.execute(select(Document.id, Document.updated_at)).all()) == stamps


def test_a_second_full_sync_writes_nothing_either(app, api, pipedrive):
    sync(api, app, pipedrive, full=True)
    assert sync(api, app, pipedrive, full=True)["records_written"] == 0


def test_incremental_picks_up_a_change(app, api, pipedrive, sandbox_server):
    sync(api, app, pipedrive, full=True)
    sandbox(sandbox_server, "POST", "/_sandbox/clock", json={"advance_seconds": 60})
    sandbox(sandbox_server, "PUT", "/pipedrive/api/v1/deals/3", json={"title": "Renamed by the test"},
            headers={"x-api-token": KEY})
    run = sync(api, app, pipedrive)
    assert run["status"] == "completed" and run["records_written"] == 1
    with app.app_context():
        deal = db.session.scalars(select(Document).where(Document.namespace == "pipedrive_deals",
                                                         Document.title.contains("Renamed by the test"))).all()
        assert len(deal) == 1


def test_second_run_while_one_runs_is_skipped_locked(app, api, pipedrive):
    first = api.post(f"/api/v1/connections/{pipedrive}/sync").json["sync_run_id"]
    second = api.post(f"/api/v1/connections/{pipedrive}/sync").json["sync_run_id"]
    with app.app_context():
        assert worker.claim("w1").run_id == first
        assert worker.claim("w2") is None  # the second cannot run beside the first
        assert db.session.get(SyncRun, second).status == "skipped_locked"
        db.session.remove()
    assert api.get(f"/api/v1/connections/{pipedrive}").json["is_syncing"] is True


def test_cancel_a_pending_run(app, api, pipedrive):
    from sync import service

    run_id = api.post(f"/api/v1/connections/{pipedrive}/sync").json["sync_run_id"]
    with app.app_context():
        from core.actor import system_actor

        service.request_cancel(system_actor(), db.session.get(SyncRun, run_id))
    assert worker.drain(app) == []
    assert api.get(f"/api/v1/connections/{pipedrive}/runs").json["runs"][0]["status"] == "cancelled"


def test_cancel_a_running_run_stops_at_a_page_boundary(app, api, pipedrive):
    run_id = api.post(f"/api/v1/connections/{pipedrive}/sync?full=true").json["sync_run_id"]
    with app.app_context():
        assert worker.claim("w").run_id == run_id
        db.session.execute(update(SyncRun).where(SyncRun.id == run_id).values(cancel_requested_at=utcnow()))
        db.session.commit()
        from sync import engine

        assert engine.execute(run_id) == "cancelled"
        run = db.session.get(SyncRun, run_id)
        stored = db.session.scalar(select(func.count()).select_from(Document))
        assert run.progress_processed == stored and stored > 0  # the one page it stored is consistent
        assert db.session.get(Connection, pipedrive).status == "connected"
        db.session.remove()


def test_a_revoked_key_ends_the_run_as_auth_and_keeps_what_was_synced(app, api, pipedrive, sandbox_server):
    sync(api, app, pipedrive, full=True)
    before = documents(app, pipedrive)
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "pipedrive", "kind": "revoke_tokens"})
    run = sync(api, app, pipedrive)
    assert run["status"] == "failed" and run["error_reason"] == "auth" and run["streams_failed"] == 1
    connection = api.get(f"/api/v1/connections/{pipedrive}").json
    assert connection["health"] == "needs_reauth"
    assert documents(app, pipedrive) == before  # nothing purged


def test_a_run_whose_worker_died_is_taken_over_and_completes(app, api, pipedrive):
    run_id = api.post(f"/api/v1/connections/{pipedrive}/sync?full=true").json["sync_run_id"]
    with app.app_context():
        assert worker.claim("dead-worker").run_id == run_id
        db.session.execute(update(SyncRun).where(SyncRun.id == run_id)
                           .values(heartbeat_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
        assert worker.recover_stale() == 1
        assert db.session.get(SyncRun, run_id).status == "pending"
        db.session.remove()
    assert worker.drain(app) == [run_id]
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.status == "completed" and run.attempts == 2
        db.session.remove()


def _dies(app, run_id, **progress):
    """The run's worker claimed it, maybe got somewhere (``progress``), then stopped beating."""
    db.session.execute(update(SyncRun).where(SyncRun.id == run_id).values(
        status="running", attempts=SyncRun.attempts + 1, heartbeat_at=utcnow() - timedelta(hours=1), **progress))
    db.session.commit()
    worker.recover_stale()
    return db.session.get(SyncRun, run_id)


def test_a_run_that_keeps_losing_its_worker_without_progress_fails(app, api, pipedrive):
    run_id = api.post(f"/api/v1/connections/{pipedrive}/sync").json["sync_run_id"]
    limit = app.config["SYNC_MAX_ATTEMPTS"]
    with app.app_context():
        for _ in range(limit - 1):
            assert _dies(app, run_id).status == "pending"
        run = _dies(app, run_id)
        assert run.status == "failed" and run.finished_at is not None
        assert run.stalled_attempts == limit and f"{limit} times in a row" in run.error_message
        db.session.remove()


def test_a_run_that_gets_further_between_deaths_is_never_failed_for_them(app, api, pipedrive):
    """The issue's reproduction: 56 kills over a full sync that moved on between them. Only
    takeovers in a row without progress count against SYNC_MAX_ATTEMPTS."""
    run_id = api.post(f"/api/v1/connections/{pipedrive}/sync?full=true").json["sync_run_id"]
    limit = app.config["SYNC_MAX_ATTEMPTS"]
    with app.app_context():
        for kill in range(1, 3 * limit):
            run = _dies(app, run_id, progress_processed=100 * kill)
            assert run.status == "pending" and run.stalled_attempts == 0
        assert run.attempts == 3 * limit - 1
        for _ in range(limit - 1):  # then stuck: it counts from there
            assert _dies(app, run_id).status == "pending"
        assert _dies(app, run_id).status == "failed"
        db.session.remove()
    with app.app_context():  # and one that kept moving completes when a worker lives
        run_id = api.post(f"/api/v1/connections/{pipedrive}/sync?full=true").json["sync_run_id"]
        for kill in range(1, 2 * limit):
            _dies(app, run_id, progress_processed=10 * kill)
        db.session.remove()
    assert worker.drain(app) == [run_id]
    with app.app_context():
        assert db.session.get(SyncRun, run_id).status == "completed"
        db.session.remove()


def test_checkpoints_are_written_per_stream(app, api, pipedrive):
    sync(api, app, pipedrive, full=True)
    with app.app_context():
        states = {s.stream: s for s in db.session.scalars(select(SyncState).where(SyncState.connection_id == pipedrive))}
        assert set(states) == {"leads", "deals", "activities", "notes"}
        assert all(s.full_state is None and s.full_generation is None and s.last_full_at for s in states.values())
        db.session.remove()


def test_a_disconnect_cancels_the_queued_run_and_a_run_of_a_disconnected_connection_fails_as_config(
        app, api, pipedrive):
    run_id = api.post(f"/api/v1/connections/{pipedrive}/sync").json["sync_run_id"]
    api.delete(f"/api/v1/connections/{pipedrive}")
    assert worker.drain(app) == []
    run = api.get(f"/api/v1/connections/{pipedrive}/runs").json["runs"][0]
    assert run["id"] == run_id and run["status"] == "cancelled"
    # a run queued some other way (a schedule firing in the same instant) finds it disconnected
    with app.app_context():
        from sync import service as sync_service

        late = sync_service.enqueue(sync_service.system_actor(db.session.get(Connection, pipedrive).workspace_id),
                                    db.session.get(Connection, pipedrive), mode="incremental", triggered_by="schedule")
        db.session.commit()
        late_id = late.id
        db.session.remove()
    assert worker.drain(app) == [late_id]
    run = api.get(f"/api/v1/connections/{pipedrive}/runs").json["runs"][0]
    assert run["id"] == late_id and run["status"] == "failed" and run["error_reason"] == "config"


def test_progress_total_is_estimated_from_the_previous_run(app, api, pipedrive):
    first = sync(api, app, pipedrive, full=True)
    with app.app_context():
        seen = db.session.get(SyncRun, first["id"]).progress_processed
        db.session.remove()
    second = sync(api, app, pipedrive, full=True)
    with app.app_context():
        from sync.service import progress

        run = db.session.get(SyncRun, second["id"])
        assert run.progress_total == seen and progress(run)["percentage"] == 100
        db.session.remove()


def test_a_spent_rate_limit_budget_checkpoints_and_the_next_run_resumes(app, api, pipedrive, sandbox_server):
    app.config["SYNC_RATE_LIMIT_MAX_WAIT"] = 1  # seconds this run may wait on the provider
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "pipedrive", "kind": "rate_limit", "retry_after": 120, "count": 50,
        "path_prefix": "/pipedrive/api/v2/activities"})
    first = sync(api, app, pipedrive, full=True)
    assert first["status"] == "failed" and first["error_reason"] == "rate_limit"
    connection = api.get(f"/api/v1/connections/{pipedrive}").json
    assert connection["health"] == "rate_limited" and connection["status"] == "rate_limited"
    with app.app_context():
        states = {s.stream: s for s in db.session.scalars(select(SyncState).where(SyncState.connection_id == pipedrive))}
        generation = states["activities"].full_generation
        assert generation == first["id"]  # the interrupted full read waits to be resumed
        assert states["deals"].full_generation is None or states["deals"].last_full_at is not None
        deals_before = db.session.scalar(select(func.count()).select_from(Document)
                                         .where(Document.namespace == "pipedrive_deals"))
        db.session.remove()

    sandbox(sandbox_server, "DELETE", "/_sandbox/faults")
    second = sync(api, app, pipedrive)  # an incremental run finishes the interrupted full read
    assert second["status"] == "completed"
    with app.app_context():
        state = db.session.scalar(select(SyncState).where(SyncState.connection_id == pipedrive,
                                                          SyncState.stream == "activities"))
        assert state.full_generation is None and state.last_full_at is not None
        assert documents(app, pipedrive, "pipedrive_activities") > 0
        assert db.session.scalar(select(func.count()).select_from(Document)
                                 .where(Document.namespace == "pipedrive_deals")) == deals_before
        db.session.remove()
    assert api.get(f"/api/v1/connections/{pipedrive}").json["health"] == "healthy"


def _plant_a_deal_the_source_does_not_have(app, connection_id):
    """As if deleted at the source since the last sync."""
    from connectors.base import DocumentData
    from knowledge import ingest

    with app.app_context():
        ws = db.session.get(Connection, connection_id).workspace_id
        scope = ingest.Scope(workspace_id=ws, origin_id=connection_id, namespace="pipedrive_deals",
                             source="pipedrive", connection_id=connection_id)
        ingest.upsert(scope, [DocumentData(external_id="deal:999999", title="Gone", content="gone", type="deal")])
        db.session.commit()
        db.session.remove()


def test_a_full_sync_deletes_what_the_source_no_longer_has(app, api, pipedrive):
    sync(api, app, pipedrive, full=True)
    _plant_a_deal_the_source_does_not_have(app, pipedrive)
    before = documents(app, pipedrive, "pipedrive_deals")
    assert sync(api, app, pipedrive)["records_written"] == 0  # prune not due yet: kept for now
    full = sync(api, app, pipedrive, full=True)
    assert documents(app, pipedrive, "pipedrive_deals") == before - 1 and full["records_written"] == 1


def test_the_prune_pass_removes_deleted_records_between_full_syncs(app, api, pipedrive):
    sync(api, app, pipedrive, full=True)
    _plant_a_deal_the_source_does_not_have(app, pipedrive)
    before = documents(app, pipedrive, "pipedrive_deals")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    incremental = sync(api, app, pipedrive)
    assert incremental["mode"] == "incremental" and incremental["records_written"] == 1
    assert documents(app, pipedrive, "pipedrive_deals") == before - 1


def test_synced_documents_land_in_the_default_vector_store(app, api, pipedrive):
    sync(api, app, pipedrive, full=True)
    stores = api.get("/api/v1/vector-stores").json
    default = next(s for s in (stores["vector_stores"] if isinstance(stores, dict) else stores) if s["is_default"])
    with app.app_context():
        assert set(db.session.scalars(select(Document.vector_store_id))) == {default["id"]}
        db.session.remove()


def test_synced_documents_are_searchable_by_source_and_type(app, api, pipedrive):
    from knowledge import embedding_queue

    sync(api, app, pipedrive, full=True)
    with app.app_context():
        deal = db.session.scalars(select(Document).where(Document.connection_id == pipedrive,
                                                         Document.type == "deal").order_by(Document.external_id)).first()
        title, external_id = deal.title, deal.external_id
        while embedding_queue.chunk_pending():
            pass
        db.session.remove()
    answer = api.post("/api/v1/query", json={"query": f'"{title}"', "sources": ["pipedrive"], "types": ["deal"]}).json
    assert [r["metadata"]["external_id"] for r in answer["results"]][:1] == [external_id]
    assert answer["results"][0]["source"] == "pipedrive" and answer["results"][0]["metadata"]["connection_id"] == pipedrive
    assert api.post("/api/v1/query", json={"query": f'"{title}"', "sources": ["github"]}).json["results"] == []
