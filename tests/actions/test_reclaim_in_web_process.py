"""A web process alone reclaims action runs whose process died: its embedded worker threads
sweep for them, and so does the scheduler's leader (for a web process that runs no worker
threads, ``EMBEDDED_WORKERS=0``, and no ``flask worker``). The real APScheduler job fires; the
real worker pool's thread sweeps."""
from datetime import timedelta

import pytest

from core.extensions import db
from core.timeutil import utcnow
from sync import scheduler as scheduler_mod
from sync.worker import WorkerPool
from tests.actions.test_reclaim import crashed, row
from tests.polling import wait_for


@pytest.fixture
def stale_run(app, api):
    """A Pipedrive deal moved to Won whose process died with the write on its way (idempotent:
    a reclaim sends it again)."""
    pipedrive = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                      "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]
    return crashed(app, pipedrive, "move_deal_stage", {"deal_id": 5, "stage": "Won"}, sending=0)


def test_the_scheduler_leader_reclaims_expired_action_leases(app, stale_run):
    app.config["SCHEDULER_RECONCILE_SECONDS"] = 3600
    leader = scheduler_mod.Scheduler(app).start(campaign=False)
    try:
        assert leader.is_leader
        job = leader.scheduler.get_job("reclaim_actions")
        assert job.trigger.interval == timedelta(seconds=app.config["SYNC_HEARTBEAT_INTERVAL"])
        assert row(app, stale_run).status == "running"
        job.modify(next_run_time=utcnow())      # fire it now rather than in 10 s
        assert wait_for(lambda: row(app, stale_run).status == "succeeded", timeout=10, interval=0.05)
    finally:
        leader.stop()
        with app.app_context():     # the job store's table outlives a test: empty it
            db.session.execute(db.text("DELETE FROM apscheduler_jobs"))
            db.session.commit()
            db.session.remove()
    assert "sets a state, so sending it again changes nothing" in row(app, stale_run).result["note"]


def test_the_embedded_worker_threads_reclaim_expired_action_leases(app, stale_run):
    pool = WorkerPool(app, threads=1).start()
    try:
        assert wait_for(lambda: row(app, stale_run).status == "succeeded", timeout=10, interval=0.05)
    finally:
        pool.stop()
