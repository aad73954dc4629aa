"""Scale-out: two real `flask worker` processes share the database; one is killed mid-run.

The survivor takes the run over once the dead worker's heartbeat goes stale and resumes it
from the last checkpoint: the run completes with every record stored exactly once. Runs on
the suite's database (PostgreSQL in CI's second pass, SQLite otherwise).
"""
import os
import signal
import subprocess
import sys

import pytest
import requests
from sqlalchemy import func, select

from core.extensions import db
from knowledge.models import Document
from sync.models import SyncRun
from tests.conftest import LiveServer
from tests.polling import wait_for

pytestmark = pytest.mark.slow

SCALE = 3000


@pytest.fixture
def big_sandbox():
    from sandbox import create_app as create_sandbox

    server = LiveServer(create_sandbox({"SEED": 7, "SCALE": SCALE}))
    yield server
    server.stop()


def start_worker(database_url, fernet_keys, sandbox_url, instance, name):
    env = {**os.environ,
           "TRIBUTARY_DATABASE_URL": database_url, "TRIBUTARY_FERNET_KEYS": ",".join(fernet_keys),
           "TRIBUTARY_SECRET_KEY": "test-secret", "TRIBUTARY_SANDBOX_URL": sandbox_url,
           "TRIBUTARY_INSTANCE_PATH": str(instance), "TRIBUTARY_AUTO_MIGRATE": "false",
           "TRIBUTARY_SCHEDULER_ENABLED": "false", "TRIBUTARY_SYNC_HEARTBEAT_INTERVAL": "0.5",
           "TRIBUTARY_SYNC_HEARTBEAT_TIMEOUT": "3", "TRIBUTARY_WORKER_POLL_SECONDS": "0.2"}
    log = open(instance / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "1"],
                               cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    return process


def run_row(app, run_id):
    with app.app_context():
        try:
            return db.session.get(SyncRun, run_id)
        finally:
            db.session.expunge_all()
            db.session.remove()


def test_a_killed_worker_s_run_is_resumed_by_the_other(app, api, database_url, fernet_keys, big_sandbox, tmp_path):
    connection_id = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                          "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]
    # Slow pages down so the run is still going when its worker dies.
    requests.post(f"{big_sandbox.url}/_sandbox/faults", json={"provider": "pipedrive", "kind": "latency",
                                                              "latency_ms": 250, "count": 10000}, timeout=5)
    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full=true").json["sync_run_id"]

    first = start_worker(database_url, fernet_keys, big_sandbox.url, tmp_path, "first")
    second = None
    try:
        claimed = wait_for(lambda: (r := run_row(app, run_id)).status == "running" and r.progress_processed >= 500 and r,
                           timeout=60, interval=0.1)
        assert claimed, "the run was not claimed and under way within 60 s"
        victim_id = claimed.worker_id
        os.killpg(first.pid, signal.SIGKILL)  # no goodbye: the heartbeat simply stops
        first.wait(10)
        processed_at_death = run_row(app, run_id).progress_processed
        assert run_row(app, run_id).status == "running"

        second = start_worker(database_url, fernet_keys, big_sandbox.url, tmp_path, "second")
        done = wait_for(lambda: (r := run_row(app, run_id)).status in ("completed", "failed") and r, timeout=120,
                        interval=0.1)
        assert done, "the run did not finish within 120 s"
        assert done.status == "completed", (done.error_reason, done.error_message)
        assert done.attempts == 2 and done.worker_id != victim_id
        assert done.progress_processed >= processed_at_death
    finally:
        for process in filter(None, (first, second)):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
            process.log.close()

    with app.app_context():
        per_namespace = dict(db.session.execute(select(Document.namespace, func.count())
                                                .where(Document.connection_id == connection_id)
                                                .group_by(Document.namespace)).all())
        distinct = db.session.scalar(select(func.count(func.distinct(Document.external_id + Document.namespace)))
                                     .where(Document.connection_id == connection_id))
        db.session.remove()
    # Everything the source holds is stored once: deals and activities at SCALE each.
    assert per_namespace["pipedrive_deals"] == SCALE and per_namespace["pipedrive_activities"] >= SCALE
    assert sum(per_namespace.values()) == distinct
