"""Schedules: APScheduler enqueues sync runs; exactly one process runs it.

Every process that may schedule (the embedded web process, each ``flask worker``) tries to
become the leader: a PostgreSQL advisory lock held on a dedicated connection, or on the
embedded SQLite default an exclusive lock on ``instance/scheduler.lock``. Only the leader
starts APScheduler, so each job fires once however many processes run. Jobs persist in the
same database (``SQLAlchemyJobStore``), so schedules survive restarts.

Connection schedules are spread, not fired per connector type. Each connection has a stable
offset per mode, derived from a hash of its id: its incremental runs fall at that offset within
every cadence period (15 min by default), its full runs at that offset within
``FULL_SYNC_SPREAD_MINUTES`` after each ``FULL_SYNC_CRON`` fire. One APScheduler job, ``tick``,
runs every ``SCHEDULER_TICK_SECONDS`` and queues the runs whose slot fell since the previous
tick, so 1,000 connections are 1,000 slots over the window rather than 1,000 runs in the same
second, and still one job (not one per connection: see ``Planner``). Missed fires are
coalesced: after downtime (or a tick more than ``MISSED_AFTER`` late) a connection gets one run
however many of its slots passed, at its next incremental slot (at most one period late), and
its missed full run at its offset within the spread window from when the scheduler is back.
Push-only connectors (the custom webhook source) get no pull schedule.

Cadence overrides and channel schedules live in our own tables, written by the API and the
console from any process; the tick reads cadences as it runs and the leader reconciles the
channels' cron jobs every ``SCHEDULER_RECONCILE_SECONDS``. Channel schedules keep the exact
cron times a user chose. The jobs only enqueue runs: workers execute them. The leader also
reclaims action runs whose process died (``reclaim_actions``), as the workers' sweep does, so a
web process alone reclaims them.
"""
from __future__ import annotations

import bisect
import fcntl
import functools
import hashlib
import logging
import os
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, text
from sqlalchemy.pool import NullPool

from core.extensions import db
from core.timeutil import utcnow

log = logging.getLogger(__name__)

LOCK_KEY = zlib.crc32(b"tributary-scheduler")  # the advisory lock's key
SCHEDULABLE = ("connected", "error", "rate_limited", "syncing")

_app = None  # the app job functions run in (jobs are stored as "module:function" references)
clock = utcnow  # what time the tick plans for (tests drive a simulated timeline through it)

# A slot the tick sees later than this was missed (the scheduler was down, or the tick stalled):
# it is coalesced and spread instead of queued at once with every other missed slot.
MISSED_AFTER = timedelta(seconds=60)
# How far back the tick looks for a connection's last full slot it may still owe (a weekly cron
# is covered; a missed monthly full sync waits for its next fire).
FULL_LOOKBACK = timedelta(days=35)
AUDIT_WALK_POLL_SECONDS = 60  # how often the leader looks for a due full walk of an audit chain


# -- job functions ----------------------------------------------------------------------------

def tick() -> int:
    """Queue the runs whose slots fell since the previous tick; returns how many were queued."""
    if _leader is None:
        return 0
    with _app.app_context():
        try:
            now = clock()
            start = _leader.window_start(now)
            queued = Planner(_app.config, now).queue_due(start, now)
            _leader.last_tick = now
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
    """Drop abandoned OAuth attempts and webhook signing secrets past their grace period, mark
    invitations that expired unused (``invitation.expired``), remove audit entries past
    ``AUDIT_RETENTION_DAYS`` (keeping each chain's anchor), and checkpoint each audit chain that
    grew (verified from its last checkpoint, then signed: ``audit.chain.checkpoint``)."""
    from accounts import invitations
    from audit import chain
    from connections import oauth, webhooks

    with _app.app_context():
        try:
            oauth.purge_abandoned()
            webhooks.forget_expired_secrets()
            db.session.commit()
            invitations.sweep_expired()
            chain.remove_expired(float(_app.config.get("AUDIT_RETENTION_DAYS") or 0))
            chain.checkpoint_all()
        finally:
            db.session.remove()


def reclaim_actions() -> None:
    """Reclaim the action runs whose process died mid-run (``actions.service.reclaim_stale``).
    Worker threads sweep for them too; the leader does it as well, so they are reclaimed when
    no worker runs (a web process with ``EMBEDDED_WORKERS=0`` and no ``flask worker``). Two
    sweeps never take one run: each claims it first."""
    from .worker import reclaim_actions as sweep

    with _app.app_context():
        try:
            sweep()
        finally:
            db.session.remove()


def audit_full_walks() -> None:
    """Walk fully the audit chains that are due (``AUDIT_FULL_VERIFY_DAYS``, or an admin's
    request) and record each outcome in its chain. One job, so at most one walk at a time."""
    from audit import chain

    with _app.app_context():
        try:
            chain.run_due_full_walks()
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
        self.last_tick: datetime | None = None  # the end of the last window the tick planned

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
        self.scheduler.add_job("sync.scheduler:reclaim_actions", IntervalTrigger(
            seconds=float(self.app.config["SYNC_HEARTBEAT_INTERVAL"])), id="reclaim_actions", replace_existing=True)
        self.scheduler.add_job("sync.scheduler:audit_full_walks", IntervalTrigger(seconds=AUDIT_WALK_POLL_SECONDS),
                               id="audit_full_walks", replace_existing=True)
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

    def window_start(self, now: datetime) -> datetime:
        """Where this tick's window starts: the previous tick, or, for this leader's first tick or
        after a stall, ``MISSED_AFTER`` ago. Slots before it were missed (see ``Planner``)."""
        if self.last_tick is None:
            return now - timedelta(seconds=float(self.app.config["SCHEDULER_TICK_SECONDS"]))
        return min(now, max(self.last_tick, now - MISSED_AFTER))

    def desired_jobs(self) -> dict[str, tuple]:
        """job id -> (function reference, trigger, args), from configuration and our tables."""
        from .models import Channel

        config = self.app.config
        jobs = {}
        with self.app.app_context():
            try:
                jobs["tick"] = ("sync.scheduler:tick",
                                IntervalTrigger(seconds=float(config["SCHEDULER_TICK_SECONDS"])), ())
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
        # ("incremental:<type>" and "full:<type>" are the per-type jobs of earlier versions, which
        # queued every connection of a type at once: removed when found.)
        current = {job.id: job for job in self.scheduler.get_jobs()
                   if job.id.split(":", 1)[0] in ("tick", "incremental", "full", "channel")}
        for job_id, job in current.items():
            if job_id not in desired:
                job.remove()
        for job_id, (func, trigger, args) in desired.items():
            job = current.get(job_id)
            if job is not None and str(job.trigger) == str(trigger) and tuple(job.args) == tuple(args):
                continue
            self.scheduler.add_job(func, trigger, args=args, id=job_id, replace_existing=True)


_leader: Scheduler | None = None


# -- spreading ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1 << 17)
def slot_fraction(connection_id: str, mode: str) -> float:
    """Where in each cadence window this connection's ``mode`` runs fall, as a fraction in
    [0, 1): a hash of its id, so it is the same in every process, across restarts and versions,
    and the connections of a workspace are spread evenly."""
    digest = hashlib.sha256(f"{connection_id}:{mode}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds(moment: datetime) -> float:
    return (moment - _EPOCH).total_seconds()


@dataclass
class _Schedulable:
    id: str
    connector_type: str
    since: datetime  # when it was (last) connected: no slot before it counts
    source_permissions: bool = False  # reads each record's readers: gets permissions passes


class Planner:
    """Which connections are due in a tick's window, and queueing their runs.

    One tick job plans for every connection: per tick it reads the schedulable connections
    (one query) and hashes their ids, O(connections) in memory, and queues the few that are
    due. The alternative, an APScheduler job per connection and mode, measured on this
    project's machine with ``SQLAlchemyJobStore``: adding 2,000 jobs (1,000 connections) took
    7.5 s (SQLite; 6.0 s PostgreSQL) and every reconcile's ``get_jobs`` 60-140 ms; 20,000 jobs
    took 197 s to add and 2.2-2.5 s per ``get_jobs``, and jobs would have to follow every
    connect and disconnect.

    Incremental slots: ``k * period + offset`` (epoch-aligned), ``offset = fraction * period``.
    Full slots: ``fire + offset`` for every ``FULL_SYNC_CRON`` fire, ``offset = fraction *
    spread``. A slot in the window (``start``, ``now``] is queued. A slot before the window was
    missed: an incremental one is made up by the connection's next slot (at most a period
    later), a full one at the next moment congruent to its offset modulo the spread (so missed
    full runs are spread over the window after the scheduler is back as well), unless a full
    run of the connection was created since that slot.
    """

    def __init__(self, config, now: datetime):
        from . import service

        self.config, self.now = config, now
        self.periods = {t: float(service.CADENCE_SECONDS[c["effective"]]) for t, c in service.cadences().items()}
        self.cron = CronTrigger.from_crontab(config["FULL_SYNC_CRON"], timezone="UTC")
        # The fires around now: two days back is enough unless the cron fires less than daily.
        self.fires = self._fires(now - timedelta(days=2), now + timedelta(days=1))
        if len([f for f in self.fires if f <= now]) < 2:
            self.fires = self._fires(now - FULL_LOOKBACK, now + timedelta(days=1))
        gaps = [(b - a).total_seconds() for a, b in zip(self.fires, self.fires[1:])]
        self.spread = min(float(config["FULL_SYNC_SPREAD_MINUTES"]) * 60, min(gaps) if gaps else 86400.0)

    def _fires(self, start: datetime, end: datetime) -> list[datetime]:
        fires, moment = [], self.cron.get_next_fire_time(None, start)
        while moment is not None and moment <= end:
            fires.append(moment)
            moment = self.cron.get_next_fire_time(moment, moment + timedelta(seconds=1))
        return fires

    # -- which connections ---------------------------------------------------------------------
    def schedulable(self) -> list[_Schedulable]:
        """Connections that pull on a schedule: implemented, not push-only, connected or
        failing in a way the next run may fix, credentials not refused."""
        from connections.models import Connection
        from connectors.registry import connector_classes

        pulled = [t for t, cls in connector_classes().items() if cls.syncs() and not cls.push_only]
        rows = db.session.execute(select(Connection.id, Connection.connector_type, Connection.connected_at,
                                         Connection.created_at, Connection.scope, Connection.access_mode).where(
            Connection.connector_type.in_(pulled), Connection.status.in_(SCHEDULABLE),
            Connection.needs_reauth.is_(False)))
        return [_Schedulable(row.id, row.connector_type, row.connected_at or row.created_at,
                             row.scope != "personal" and row.access_mode == "source") for row in rows]

    # -- slots -------------------------------------------------------------------------------------
    def incremental_slot(self, connection: _Schedulable, start: datetime, end: datetime) -> datetime | None:
        """The connection's latest incremental slot in (start, end], if any."""
        period = self.periods.get(connection.connector_type)
        if not period:
            return None
        offset = slot_fraction(connection.id, "incremental") * period
        latest = (int((_seconds(end) - offset) // period)) * period + offset
        slot = _EPOCH + timedelta(seconds=latest)
        return slot if start < slot <= end and slot >= connection.since else None

    def permissions_slot(self, connection: _Schedulable, start: datetime, end: datetime) -> datetime | None:
        """The connection's latest permissions-pass slot in (start, end] (source access mode
        only): every ``PERMISSIONS_PASS_MINUTES``, at its own offset like its incremental runs."""
        period = float(self.config.get("PERMISSIONS_PASS_MINUTES") or 0) * 60
        if not connection.source_permissions or period <= 0:
            return None
        offset = slot_fraction(connection.id, "permissions") * period
        latest = (int((_seconds(end) - offset) // period)) * period + offset
        slot = _EPOCH + timedelta(seconds=latest)
        return slot if start < slot <= end and slot >= connection.since else None

    def full_offset(self, connection: _Schedulable) -> timedelta:
        return timedelta(seconds=slot_fraction(connection.id, "full") * self.spread)

    def latest_full_slot(self, connection: _Schedulable, at: datetime) -> datetime | None:
        offset = self.full_offset(connection)
        index = bisect.bisect_right(self.fires, at - offset) - 1
        return self.fires[index] + offset if index >= 0 else None

    def full_release(self, connection: _Schedulable, start: datetime, end: datetime) -> bool:
        """Is a moment congruent to the connection's full offset (mod spread) in (start, end]?"""
        offset = self.full_offset(connection).total_seconds()
        first = _seconds(start) + (offset - _seconds(start)) % self.spread
        if first == _seconds(start):
            first += self.spread
        return first <= _seconds(end)

    def due(self, start: datetime, end: datetime) -> list[tuple[str, str, datetime | None]]:
        """``(connection id, mode, missed slot or None)`` for every run due in (start, end]."""
        due, owed = [], []
        for connection in self.schedulable():
            slot = self.latest_full_slot(connection, end)
            if slot is not None and slot >= connection.since:
                if slot > start:
                    due.append((connection.id, "full", None))
                    continue
                if self.full_release(connection, start, end):
                    owed.append((connection.id, slot))  # missed; queued below unless served since
            if self.incremental_slot(connection, start, end) is not None:
                due.append((connection.id, "incremental", None))
            if self.permissions_slot(connection, start, end) is not None:
                due.append((connection.id, "permissions", None))
        if owed:
            served = self._full_runs_since({cid: slot for cid, slot in owed})
            due.extend((cid, "full", slot) for cid, slot in owed if cid not in served)
        return due

    def _full_runs_since(self, slots: dict[str, datetime]) -> set[str]:
        from .models import SyncRun

        rows = db.session.execute(select(SyncRun.connection_id, func.max(SyncRun.created_at))
                                  .where(SyncRun.connection_id.in_(list(slots)), SyncRun.mode == "full")
                                  .group_by(SyncRun.connection_id))
        return {cid for cid, latest in rows if latest is not None and latest >= slots[cid]}

    # -- queueing ---------------------------------------------------------------------------------
    def queue_due(self, start: datetime, end: datetime) -> int:
        """Queue the due runs (a connection with a run already waiting keeps that one); commits."""
        from connections.models import Connection

        from . import service
        from .models import SyncRun

        due = self.due(start, end)
        if not due:
            return 0
        wanted: dict[str, str] = {}
        rank = {"incremental": 0, "permissions": 1, "full": 2}
        for connection_id, mode, _missed in due:
            # A full run covers whatever else is due with it (it reads every record and its
            # readers); a permissions pass goes before an incremental one, which comes next period.
            if rank[mode] >= rank.get(wanted.get(connection_id), -1):
                wanted[connection_id] = mode
        connections = {c.id: c for c in db.session.scalars(select(Connection).where(Connection.id.in_(list(wanted))))}
        # A connection with a run already waiting keeps that one (a second would be skipped).
        waiting = set(db.session.scalars(select(SyncRun.connection_id).where(
            SyncRun.connection_id.in_(list(wanted)), SyncRun.status == "pending")))
        queued = 0
        for connection_id, mode in wanted.items():
            if connection_id not in connections or connection_id in waiting:
                continue
            run = service.enqueue(service.system_actor(connections[connection_id].workspace_id),
                                  connections[connection_id], mode=mode, triggered_by="schedule")
            # Stamped with the planner's time, which decides whether a slot was served.
            run.created_at = end
            queued += 1
        db.session.commit()
        if queued:
            service.notify_workers()
        return queued


def jobs_snapshot() -> list[dict]:
    """The leader's jobs (for the admin and tests): id, trigger, next run."""
    if _leader is None or _leader.scheduler is None:
        return []
    return [{"id": job.id, "trigger": str(job.trigger), "next_run_time": job.next_run_time}
            for job in _leader.scheduler.get_jobs()]
