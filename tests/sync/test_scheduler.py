"""The scheduler: one leader, jobs reconciled from cadence and schedules, persistence."""
import pytest
from sqlalchemy import select

from core.extensions import db
from sync import scheduler as scheduler_mod
from sync.models import SyncRun


@pytest.fixture
def leader(app):
    app.config["SCHEDULER_RECONCILE_SECONDS"] = 3600
    sched = scheduler_mod.Scheduler(app).start(campaign=False)
    yield sched
    sched.stop()
    with app.app_context():  # the job store's table outlives a test: empty it
        db.session.execute(db.text("DELETE FROM apscheduler_jobs"))
        db.session.commit()
        db.session.remove()


def job_ids(sched):
    return {job.id for job in sched.scheduler.get_jobs()}


def test_only_one_process_leads(app, leader):
    assert leader.is_leader
    second = scheduler_mod.Scheduler(app).start(campaign=False)
    try:
        assert not second.is_leader
    finally:
        second.stop()


def test_leadership_passes_on_when_the_leader_stops(app, leader):
    leader.stop()
    successor = scheduler_mod.Scheduler(app).start(campaign=False)
    try:
        assert successor.is_leader
    finally:
        successor.stop()


def test_default_jobs_for_implemented_connectors(leader):
    ids = job_ids(leader)
    for connector_type in ("github", "pipedrive", "twitter", "webhook", "gmail"):
        assert f"incremental:{connector_type}" in ids and f"full:{connector_type}" in ids
    assert "incremental:slack" not in ids  # not implemented: nothing to schedule
    job = leader.scheduler.get_job("incremental:pipedrive")
    assert job.trigger.interval.total_seconds() == 15 * 60
    assert "hour='3'" in str(leader.scheduler.get_job("full:pipedrive").trigger)


def test_cadence_override_is_reconciled(app, leader, workspace):
    from sync import service
    from tests.factories import user_actor_for

    ws, user = workspace
    with app.app_context():
        actor = user_actor_for(ws, user)
        actor = actor.__class__(**{**actor.__dict__, "is_platform_admin": True})
        service.set_cadence(actor, "pipedrive", "1h")
        db.session.remove()
    leader.reconcile()
    assert leader.scheduler.get_job("incremental:pipedrive").trigger.interval.total_seconds() == 3600
    with app.app_context():
        service.set_cadence(actor, "pipedrive", None)
        db.session.remove()
    leader.reconcile()
    assert leader.scheduler.get_job("incremental:pipedrive").trigger.interval.total_seconds() == 900


def test_jobs_persist_across_a_restart(app, leader):
    before = leader.scheduler.get_job("full:github").next_run_time
    leader.stop()
    restarted = scheduler_mod.Scheduler(app).start(campaign=False)
    try:
        assert restarted.scheduler.get_job("full:github").next_run_time == before
    finally:
        restarted.stop()


def test_the_job_enqueues_runs_for_connected_connections_once(app, api, leader):
    created = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                    "api_key": "sandbox-pipedrive-key"}).json["connection"]
    assert scheduler_mod.enqueue_type("pipedrive", "incremental") == 1
    assert scheduler_mod.enqueue_type("pipedrive", "incremental") == 0  # one is already waiting
    runs = api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]
    assert [(r["triggered_by"], r["mode"], r["status"]) for r in runs] == [("schedule", "incremental", "pending")]
    api.delete(f"/api/v1/connections/{created['id']}")
    with app.app_context():
        db.session.execute(db.delete(SyncRun))
        db.session.commit()
        db.session.remove()
    assert scheduler_mod.enqueue_type("pipedrive", "incremental") == 0  # disconnected: not scheduled


def test_channel_schedules_become_cron_jobs_that_queue_channel_runs(app, api, leader):
    from sync import service
    from sync.models import Channel
    from connections.models import Connection
    from core.actor import system_actor

    created = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                    "api_key": "sandbox-pipedrive-key"}).json["connection"]
    with app.app_context():
        connection = db.session.get(Connection, created["id"])
        channel = Channel(workspace_id=connection.workspace_id, connection_id=connection.id,
                          external_id="pipeline-1", name="Pipeline 1", kind="pipeline")
        db.session.add(channel)
        db.session.commit()
        channel_id = channel.id
        service.set_schedule(system_actor(connection.workspace_id), channel, schedule="0 */4 * * *", enabled=True)
        db.session.remove()
    leader.reconcile()
    job = leader.scheduler.get_job(f"channel:{channel_id}")
    assert job is not None and "hour='*/4'" in str(job.trigger) and job.next_run_time.minute == 0

    assert scheduler_mod.enqueue_channel(channel_id) is True
    runs = api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]
    assert [(r["channel"], r["triggered_by"]) for r in runs] == [("pipeline-1", "schedule")]

    with app.app_context():
        channel = db.session.get(Channel, channel_id)
        service.set_schedule(system_actor(channel.workspace_id), channel, schedule="0 */4 * * *", enabled=False)
        db.session.remove()
    leader.reconcile()
    assert leader.scheduler.get_job(f"channel:{channel_id}") is None
    assert scheduler_mod.enqueue_channel(channel_id) is False  # paused: a late fire queues nothing
