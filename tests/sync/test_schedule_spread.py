"""Scheduled runs do not stampede: each connection's runs fall at its own stable offset within
its cadence window, missed fires come back as one run per connection (spread too), and
push-only connections get no pull syncs.

The leader's jobs are the real APScheduler jobs with their real triggers. ``drive`` fires them
the way APScheduler does, at each of their triggers' fire times in order, but on a simulated
timeline (the scheduler module's ``clock``), so a night of schedules takes seconds.
``test_the_running_scheduler_spreads_runs_over_its_ticks`` lets the BackgroundScheduler fire
them on its own.
"""
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from connections.models import Connection
from core.extensions import db
from sync import scheduler as scheduler_mod
from sync.models import SyncRun
from tests.factories import make_workspace

HOUR = timedelta(hours=1)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(datetime.now(timezone.utc))
    monkeypatch.setattr(scheduler_mod, "clock", clock, raising=False)
    return clock


@pytest.fixture
def leader(app, clock):
    app.config.update(SCHEDULER_RECONCILE_SECONDS=3600, SCHEDULER_TICK_SECONDS=60)
    sched = scheduler_mod.Scheduler(app).start(campaign=False)
    sched.scheduler.pause()  # the test fires the jobs on its simulated timeline (drive)
    yield sched
    sched.stop()
    with app.app_context():
        db.session.execute(db.text("DELETE FROM apscheduler_jobs"))
        db.session.commit()
        db.session.remove()


def make_connections(app, count, connector_type="pipedrive", *, since):
    """``count`` connected connections with fixed ids (so their offsets are the same every run),
    connected at ``since``."""
    with app.app_context():
        workspace, _ = make_workspace(f"Load {connector_type}", email=f"load-{connector_type}@example.com")
        db.session.execute(insert(Connection), [
            {"id": f"conn_{connector_type[:4]}{i:06d}", "workspace_id": workspace.id,
             "connector_type": connector_type, "name": f"{connector_type} {i}", "kind": "first_party",
             "scope": "business", "status": "connected", "needs_reauth": False, "settings": {},
             "created_at": since, "updated_at": since, "connected_at": since}
            for i in range(count)])
        db.session.commit()
        db.session.remove()


def scheduled_runs(app):
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(SyncRun)
                                     .where(SyncRun.triggered_by == "schedule"))
        finally:
            db.session.remove()


def run_times(app, mode):
    """When (on the simulated timeline) each scheduled run of ``mode`` was queued."""
    with app.app_context():
        try:
            return list(db.session.scalars(select(SyncRun.created_at).where(SyncRun.triggered_by == "schedule",
                                                                          SyncRun.mode == mode)))
        finally:
            db.session.remove()


def busiest_minute(times):
    return max(Counter(int(t.timestamp()) // 60 for t in times).values())


def runs_by_connection(app, mode=None):
    with app.app_context():
        query = select(SyncRun.connection_id).where(SyncRun.triggered_by == "schedule")
        if mode:
            query = query.where(SyncRun.mode == mode)
        try:
            return Counter(db.session.scalars(query))
        finally:
            db.session.remove()


def finish_pending(app):
    """Play the workers' part: every queued run ran (so the next fire may queue again)."""
    with app.app_context():
        db.session.execute(db.update(SyncRun).where(SyncRun.status == "pending")
                           .values(status="completed", finished_at=datetime.now(timezone.utc)))
        db.session.commit()
        db.session.remove()


def drive(app, leader, clock, start, end, *, finish_runs=True):
    """Fire the leader's sync jobs at their triggers' fire times in [start, end], in order, with
    the clock at each fire time; returns [(fire time, runs that fire queued)]."""
    fires = []
    for job in leader.scheduler.get_jobs():
        if job.id in ("reconcile", "housekeeping", "reclaim_actions", "audit_full_walks"):
            continue
        moment = job.trigger.get_next_fire_time(None, start)
        while moment is not None and moment <= end:
            fires.append((moment, job.id, job))
            moment = job.trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    fires.sort(key=lambda fire: (fire[0], fire[1]))
    queued = []
    before = scheduled_runs(app)
    for moment, _job_id, job in fires:
        clock.now = moment
        job.func(*job.args, **job.kwargs)
        after = scheduled_runs(app)
        queued.append((moment, after - before))
        before = after
        if finish_runs:
            finish_pending(app)
    return queued


def next_at(hour, minute=0, *, after=None):
    after = after or datetime.now(timezone.utc)
    moment = after.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return moment if moment > after else moment + timedelta(days=1)


def per_window(queued, seconds):
    """Runs queued per window of ``seconds`` (by fire time)."""
    buckets = Counter()
    for moment, count in queued:
        buckets[int(moment.timestamp()) // seconds] += count
    return buckets


@pytest.mark.slow
def test_the_nightly_full_sync_is_spread_over_the_spread_window(app, leader, clock):
    app.config["SYNC_CADENCE_DEFAULTS"] = {"pipedrive": "1d"}  # keep incremental runs out of the way
    night = next_at(3)
    make_connections(app, 1000, since=night - 2 * HOUR)
    drive(app, leader, clock, night - timedelta(minutes=5), night + 4 * HOUR + timedelta(minutes=5))
    fulls = runs_by_connection(app, "full")
    assert len(fulls) == 1000 and set(fulls.values()) == {1}       # every connection, once
    times = run_times(app, "full")
    # 1,000 runs over 4 h is ~4.2 a minute; before, all 1,000 came in the same second.
    assert busiest_minute(times) <= 15, busiest_minute(times)
    assert min(times) < night + timedelta(minutes=5) and max(times) > night + 3.9 * HOUR  # the whole window


def test_incremental_runs_fall_at_each_connections_offset_in_the_cadence(app, leader, clock):
    start = leader.scheduler.get_job("tick").trigger.get_next_fire_time(None, next_at(12))
    make_connections(app, 600, since=start - 2 * HOUR)
    # The first tick plans (start - 60 s, start]; 15 ticks of 60 s are one 15-min period.
    drive(app, leader, clock, start, start + timedelta(minutes=14))
    incrementals = runs_by_connection(app, "incremental")
    assert len(incrementals) == 600 and set(incrementals.values()) == {1}
    # 600 over 15 min is 40 a minute; a stampede would be 600 in one.
    assert busiest_minute(run_times(app, "incremental")) <= 70
    # Offsets are stable: the next period queues every connection at the same place again.
    first = {cid: t for cid, t in _queued_at(app, "incremental").items()}
    finish_pending(app)
    drive(app, leader, clock, start + timedelta(minutes=15), start + timedelta(minutes=29))
    later = _queued_at(app, "incremental", after=start + timedelta(minutes=14, seconds=30))
    assert len(later) == 600
    assert {cid: t - timedelta(minutes=15) for cid, t in later.items()} == first


def _queued_at(app, mode, after=None):
    with app.app_context():
        query = select(SyncRun.connection_id, SyncRun.created_at).where(SyncRun.mode == mode,
                                                                        SyncRun.triggered_by == "schedule")
        if after is not None:
            query = query.where(SyncRun.created_at > after)
        try:
            return dict(db.session.execute(query).all())
        finally:
            db.session.remove()


def test_missed_fires_after_downtime_are_coalesced_and_spread(app, leader, clock):
    app.config["SYNC_CADENCE_DEFAULTS"] = {"pipedrive": "1h"}
    night = next_at(3)
    make_connections(app, 200, since=night - 3 * HOUR)
    drive(app, leader, clock, night - timedelta(minutes=40), night - timedelta(minutes=30))
    before = scheduled_runs(app)
    # Down from 02:30 to 05:30: three hours of hourly incremental slots and most full slots are missed.
    leader.last_tick = None  # a restarted leader knows no previous tick
    back = night + 2.5 * HOUR
    drive(app, leader, clock, back, back + 4 * HOUR)
    fulls = runs_by_connection(app, "full")
    assert len(fulls) == 200 and set(fulls.values()) == {1}     # one full run each, missed or not
    times = run_times(app, "full")
    assert busiest_minute(times) <= 15, busiest_minute(times)   # the missed ones are spread too
    # Coming back, a connection's three missed hourly incrementals are one run at its next slot,
    # spread over the hour (a full run due at the same tick covers it).
    with app.app_context():
        first_hour = db.session.execute(select(SyncRun.connection_id, SyncRun.created_at).where(
            SyncRun.mode == "incremental", SyncRun.created_at > back - timedelta(minutes=1),
            SyncRun.created_at <= back + HOUR)).all()
        db.session.remove()
    per_connection = Counter(cid for cid, _ in first_hour)
    assert set(per_connection.values()) == {1} and len(per_connection) >= 150, len(per_connection)
    assert busiest_minute([t for _, t in first_hour]) <= 12        # 200 an hour is ~3.3 a minute
    assert scheduled_runs(app) > before


def test_a_full_run_held_up_by_a_waiting_run_is_made_up_later(app, leader, clock):
    """The full slot came while an incremental run was still waiting (so none was queued):
    the full run is owed, and comes at the connection's next release in the spread window."""
    app.config["SYNC_CADENCE_DEFAULTS"] = {"pipedrive": "1d"}
    night = next_at(3)
    make_connections(app, 50, since=night - 2 * HOUR)
    with app.app_context():
        for connection in db.session.scalars(select(Connection)):
            db.session.add(SyncRun(workspace_id=connection.workspace_id, connection_id=connection.id,
                                   status="pending", triggered_by="manual", mode="incremental",
                                   created_at=night - HOUR))
        db.session.commit()
        db.session.remove()
    drive(app, leader, clock, night - timedelta(minutes=5), night + 4 * HOUR, finish_runs=False)
    assert runs_by_connection(app, "full") == Counter()           # every slot found a waiting run
    finish_pending(app)
    drive(app, leader, clock, night + 4 * HOUR + timedelta(minutes=1), night + 8 * HOUR + timedelta(minutes=2))
    fulls = runs_by_connection(app, "full")
    assert len(fulls) == 50 and set(fulls.values()) == {1}


def test_push_only_connections_get_no_pull_schedule(app, leader, clock):
    night = next_at(3)
    make_connections(app, 20, "webhook", since=night - 2 * HOUR)
    make_connections(app, 20, "pipedrive", since=night - 2 * HOUR)
    drive(app, leader, clock, night - timedelta(minutes=30), night + 4 * HOUR + timedelta(minutes=1))
    by_connection = runs_by_connection(app)
    assert by_connection and all(cid.startswith("conn_pipe") for cid in by_connection)


def test_the_leader_runs_one_tick_job_not_one_per_type(leader):
    ids = {job.id for job in leader.scheduler.get_jobs()}
    assert ids == {"tick", "reconcile", "housekeeping", "reclaim_actions", "audit_full_walks"}


def test_the_running_scheduler_spreads_runs_over_its_ticks(app, clock, monkeypatch):
    """The real BackgroundScheduler fires the tick on its own (every 0.2 s); the clock runs at
    150x, so its 600-s cadence passes in 4 s."""
    from apscheduler.events import EVENT_JOB_EXECUTED

    app.config.update(SCHEDULER_RECONCILE_SECONDS=3600, SCHEDULER_TICK_SECONDS=0.2,
                      SYNC_CADENCE_DEFAULTS={"pipedrive": "10m"},
                      # full slots half a day away, whatever the time the test runs at
                      FULL_SYNC_CRON=f"0 {(datetime.now(timezone.utc).hour + 12) % 24} * * *")
    monkeypatch.setattr(scheduler_mod, "MISSED_AFTER", timedelta(minutes=5))  # a late tick is 0.2 s x 150
    make_connections(app, 60, since=datetime.now(timezone.utc) - 2 * HOUR)
    epoch, started = datetime.now(timezone.utc), time.monotonic()
    monkeypatch.setattr(scheduler_mod, "clock",
                        lambda: epoch + timedelta(seconds=(time.monotonic() - started) * 150))
    per_tick = []
    sched = scheduler_mod.Scheduler(app).start(campaign=False)
    sched.scheduler.add_listener(lambda event: event.job_id == "tick" and per_tick.append(event.retval),
                                 EVENT_JOB_EXECUTED)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and scheduler_mod.clock() < epoch + timedelta(seconds=600 - 45):
            time.sleep(0.1)
    finally:
        sched.stop()
        with app.app_context():
            db.session.execute(db.text("DELETE FROM apscheduler_jobs"))
            db.session.commit()
            db.session.remove()
    # Most of one period (its first and last moments are not planned: the scaled clock runs ahead
    # of the first tick, and the loop stops 45 s short): no connection twice, spread over ticks.
    incrementals = runs_by_connection(app, "incremental")
    assert set(incrementals.values()) == {1} and len(incrementals) >= 40, len(incrementals)
    assert sum(1 for n in per_tick if n) >= 10 and max(per_tick) <= 12, per_tick
