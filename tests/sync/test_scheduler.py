"""The scheduler: one leader, jobs reconciled from cadence and schedules, persistence."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from core.timeutil import utcnow
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


def test_legacy_per_type_jobs_are_removed(app, leader):
    """Earlier versions stored one job per connector type, which queued all its connections at
    once: reconcile drops them from the store."""
    from apscheduler.triggers.interval import IntervalTrigger

    leader.scheduler.add_job("sync.scheduler:reconcile_jobs", IntervalTrigger(minutes=15), id="incremental:github")
    leader.scheduler.add_job("sync.scheduler:reconcile_jobs", IntervalTrigger(days=1), id="full:github")
    leader.reconcile()
    assert job_ids(leader) == {"tick", "reconcile", "housekeeping", "reclaim_actions", "audit_full_walks"}
    assert leader.scheduler.get_job("tick").trigger.interval.total_seconds() == 10


def test_cadence_override_changes_the_period_the_tick_plans_with(app, leader, workspace):
    from sync import service
    from tests.factories import user_actor_for

    ws, user = workspace
    with app.app_context():
        actor = user_actor_for(ws, user)
        actor = actor.__class__(**{**actor.__dict__, "is_platform_admin": True})
        assert scheduler_mod.Planner(app.config, utcnow()).periods["pipedrive"] == 900
        service.set_cadence(actor, "pipedrive", "1h")
        assert scheduler_mod.Planner(app.config, utcnow()).periods["pipedrive"] == 3600
        service.set_cadence(actor, "pipedrive", None)
        assert scheduler_mod.Planner(app.config, utcnow()).periods["pipedrive"] == 900
        db.session.remove()


def test_jobs_persist_across_a_restart(app, leader):
    before = leader.scheduler.get_job("tick").next_run_time
    leader.stop()
    restarted = scheduler_mod.Scheduler(app).start(campaign=False)
    try:
        assert restarted.scheduler.get_job("tick").next_run_time == before
    finally:
        restarted.stop()


def _one_period(app, connection_id):
    """A window holding the connection's next incremental slot (one 15-min period)."""
    from connections.models import Connection

    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.connected_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        db.session.remove()
    now = utcnow()
    return now, now + timedelta(minutes=15)


def test_the_tick_queues_a_run_for_a_connected_connection_once(app, api):
    # No running scheduler here: its own tick (every 10 s) could queue the run first.
    created = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                    "api_key": "sandbox-pipedrive-key"}).json["connection"]
    start, end = _one_period(app, created["id"])
    # The nightly full slots are half a day from now, whatever the time the test runs at; and
    # no hourly permissions pass (Pipedrive connections read visibility at the source) may
    # fall in the window instead of the incremental slot.
    app.config["FULL_SYNC_CRON"] = f"0 {(start.hour + 12) % 24} * * *"
    app.config["PERMISSIONS_PASS_MINUTES"] = 0
    with app.app_context():
        assert scheduler_mod.Planner(app.config, end).queue_due(start, end) == 1
        assert scheduler_mod.Planner(app.config, end).queue_due(start, end) == 0  # one is already waiting
        db.session.remove()
    runs = api.get(f"/api/v1/connections/{created['id']}/runs").json["runs"]
    assert [(r["triggered_by"], r["mode"], r["status"]) for r in runs] == [("schedule", "incremental", "pending")]
    api.delete(f"/api/v1/connections/{created['id']}")
    with app.app_context():
        db.session.execute(db.delete(SyncRun))
        db.session.commit()
        assert scheduler_mod.Planner(app.config, end).queue_due(start, end) == 0  # disconnected: not scheduled
        db.session.remove()


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
