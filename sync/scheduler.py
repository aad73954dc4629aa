"""Schedules: APScheduler enqueues sync runs; exactly one process runs it.

Every process that may schedule (the embedded web process, each ``flask worker``) tries to
become the leader: a PostgreSQL advisory lock held on a dedicated connection, or on the
embedded SQLite default an exclusive lock on ``instance/scheduler.lock``. Only the leader
starts APScheduler, so each job fires once however many processes run. Jobs persist in the
same database (``SQLAlchemyJobStore``), so schedules and missed runs survive restarts.

Cadence overrides and channel schedules live in our own tables, written by the API and the
console from any process; the leader reconciles its jobs from them every
``SCHEDULER_RECONCILE_SECONDS``. The jobs only enqueue runs: workers execute them.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import zlib

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, text
from sqlalchemy.pool import NullPool

from core.extensions import db

log = logging.getLogger(__name__)

LOCK_KEY = zlib.crc32(b"tributary-scheduler")  # the advisory lock's key
SCHEDULABLE = ("connected", "error", "rate_limited", "syncing")

_app = None  # the app job functions run in (jobs are stored as "module:function" references)


# -- job functions ----------------------------------------------------------------------------

def enqueue_type(connector_type: str, mode: str) -> int:
    """Queue a run for every schedulable connection of ``connector_type``."""
    from connections.models import Connection

    from . import service

    with _app.app_context():
        try:
            connections = db.session.scalars(select(Connection).where(
                Connection.connector_type == connector_type, Connection.status.in_(SCHEDULABLE),
                Connection.needs_reauth.is_(False))).all()
            queued = sum(1 for c in connections
                         if service.enqueue_unless_pending(c, mode=mode, triggered_by="schedule") is not None)
            db.session.commit()
            if queued:
                service.notify_workers()
            return queued
        finally:
            db.session.remove()


def enqueue_channel(channel_id: str) -> bool:
    """A channel's cron schedule fired: queue a run of that channel."""
    from connections.models import Connection

    from . import service
    from .models import Channel

    with _app.app_context():
        try:
            channel = db.session.get(Channel, channel_id)
            if channel is None or not channel.schedule_enabled:
                return False
            connection = db.session.get(Connection, channel.connection_id)
            if connection is None or connection.status not in SCHEDULABLE or connection.needs_reauth:
                return False
            run = service.enqueue(service.system_actor(connection.workspace_id), connection, mode="incremental",
                                  triggered_by="schedule", channel=channel.external_id)
            db.session.commit()
            service.notify_workers()
            return run is not None
        finally:
            db.session.remove()


def housekeeping() -> None:
    """Drop abandoned OAuth attempts."""
    from connections import oauth

    with _app.app_context():
        try:
            oauth.purge_abandoned()
            db.session.commit()
        finally:
            db.session.remove()


def reconcile_jobs() -> None:
    if _leader is not None:
        _leader.reconcile()


# -- the leader -------------------------------------------------------------------------------

class Leadership:
    """Try to hold the one scheduler lock for this deployment."""

    def __init__(self, app):
        self.app = app
        self._connection = None
        self._file = None

    def acquire(self) -> bool:
        with self.app.app_context():
            if db.engine.dialect.name == "postgresql":
                connection = db.engine.connect()
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar()
                connection.commit()
                if got:
                    self._connection = connection
                else:
                    connection.close()
                return bool(got)
        path = os.path.join(self.app.instance_path, "scheduler.lock")
        handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the leadership
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Scheduler:
    """Campaigns for leadership; once leader, runs APScheduler with the reconciled jobs."""

    def __init__(self, app):
        self.app = app
        self.leadership = Leadership(app)
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    def start(self, *, campaign: bool = True) -> "Scheduler":
        """Try to lead now; with ``campaign``, keep trying in the background until stopped."""
        if not self._try_lead() and campaign:
            self._thread = threading.Thread(target=self._campaign, name="scheduler-campaign", daemon=True)
            self._thread.start()
        return self

    def _campaign(self):
        interval = float(self.app.config["SCHEDULER_RECONCILE_SECONDS"])
        while not self._stop.wait(interval):
            if self._try_lead():
                return

    def _try_lead(self) -> bool:
        global _app, _leader
        if not self.leadership.acquire():
            return False
        _app, _leader = self.app, self
        with self.app.app_context():
            # An engine of its own (the job store disposes its engine when the scheduler stops),
            # without a pool: its few queries must leave no connection open behind them.
            options = {k: v for k, v in self.app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "pool_pre_ping"}
            store = SQLAlchemyJobStore(url=db.engine.url.render_as_string(hide_password=False),
                                       tablename="apscheduler_jobs", engine_options={**options, "poolclass": NullPool})
        self.scheduler = BackgroundScheduler(
            jobstores={"default": store}, timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600})
        self.scheduler.start()
        self.reconcile()
        self.scheduler.add_job("sync.scheduler:reconcile_jobs", IntervalTrigger(
            seconds=float(self.app.config["SCHEDULER_RECONCILE_SECONDS"])), id="reconcile", replace_existing=True)
        self.scheduler.add_job("sync.scheduler:housekeeping", IntervalTrigger(hours=1), id="housekeeping",
                               replace_existing=True)
        log.info("this process leads the scheduler")
        return True

    def stop(self) -> None:
        global _leader
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if _leader is self:
            _leader = None
        self.leadership.release()

    def desired_jobs(self) -> dict[str, tuple]:
        """job id -> (function reference, trigger, args), from configuration and our tables."""
        from . import service
        from .models import Channel

        config = self.app.config
        jobs = {}
        with self.app.app_context():
            try:
                for connector_type, cadence in service.cadences().items():
                    if not cadence["implemented"]:
                        continue
                    seconds = service.CADENCE_SECONDS[cadence["effective"]]
                    jobs[f"incremental:{connector_type}"] = (
                        "sync.scheduler:enqueue_type", IntervalTrigger(seconds=seconds), (connector_type, "incremental"))
                    jobs[f"full:{connector_type}"] = (
                        "sync.scheduler:enqueue_type", CronTrigger.from_crontab(config["FULL_SYNC_CRON"], timezone="UTC"),
                        (connector_type, "full"))
                for channel in db.session.scalars(select(Channel).where(Channel.schedule_enabled.is_(True),
                                                                        Channel.schedule.isnot(None))):
                    jobs[f"channel:{channel.id}"] = (
                        "sync.scheduler:enqueue_channel", CronTrigger.from_crontab(channel.schedule, timezone="UTC"),
                        (channel.id,))
            finally:
                db.session.remove()
        return jobs

    def reconcile(self) -> None:
        """Make the stored jobs match the desired ones; unchanged jobs keep their next run time."""
        if self.scheduler is None:
            return
        desired = self.desired_jobs()
        current = {job.id: job for job in self.scheduler.get_jobs()
                   if job.id.split(":", 1)[0] in ("incremental", "full", "channel")}
        for job_id, job in current.items():
            if job_id not in desired:
                job.remove()
        for job_id, (func, trigger, args) in desired.items():
            job = current.get(job_id)
            if job is not None and str(job.trigger) == str(trigger) and tuple(job.args) == tuple(args):
                continue
            self.scheduler.add_job(func, trigger, args=args, id=job_id, replace_existing=True)


_leader: Scheduler | None = None


def jobs_snapshot() -> list[dict]:
    """The leader's jobs (for the admin and tests): id, trigger, next run."""
    if _leader is None or _leader.scheduler is None:
        return []
    return [{"id": job.id, "trigger": str(job.trigger), "next_run_time": job.next_run_time}
            for job in _leader.scheduler.get_jobs()]
