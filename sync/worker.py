"""Workers: claim pending runs from the database and execute them.

Claiming is safe with any number of workers on any machines: PostgreSQL picks a pending run
with ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite serializes writers, so the guarded
``UPDATE ... WHERE status = 'pending'`` claims a run once. A unique partial index allows one
running run per connection: a worker that claims a second one marks it ``skipped_locked``.

A running run carries a heartbeat. A run whose heartbeat stopped (its worker died) goes back
to pending and the next worker resumes it from its last checkpoint. A run that made no progress
since its previous takeover counts a stalled attempt; after ``SYNC_MAX_ATTEMPTS`` of those in a
row it fails instead, so no run stays "running" forever, while one that keeps moving between
kills finishes however often its workers die.

Every claim draws a new claim token, which the engine checks with every write of the run
(``sync.engine.Attempt``): a worker that was only paused, not dead, and comes back after its
run was taken over writes nothing more.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import secrets
import uuid
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from core.extensions import db
from core.timeutil import utcnow

from . import engine
from .models import SyncRun, SyncRunUnit

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Claim(NamedTuple):
    """A claimed run and the token its writes are fenced by."""

    run_id: str
    token: str


def claim(worker_id: str) -> Claim | None:
    """Claim the oldest pending run; returns it, or None when there is none."""
    for _ in range(10):
        now = utcnow()
        token = secrets.token_hex(16)
        query = select(SyncRun.id, SyncRun.connection_id).where(SyncRun.status == "pending") \
            .order_by(SyncRun.created_at, SyncRun.id).limit(1)
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        try:
            row = db.session.execute(query).first()
            if row is None:
                db.session.rollback()
                return None
            run_id, connection_id = row
            claimed = db.session.execute(
                update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "pending")
                .values(status="running", worker_id=worker_id, claim_token=token, heartbeat_at=now,
                        attempts=SyncRun.attempts + 1,
                        started_at=db.func.coalesce(SyncRun.started_at, now))).rowcount
            db.session.commit()
        except IntegrityError:
            # Another run of this connection is running: this one is skipped.
            db.session.rollback()
            db.session.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "pending")
                               .values(status="skipped_locked", finished_at=now,
                                       error_message="Another sync of this connection was already running."))
            db.session.commit()
            continue
        except OperationalError:  # SQLite busy beyond its timeout: try again
            db.session.rollback()
            time.sleep(0.05)
            continue
        if claimed == 1:
            return Claim(run_id, token)
    return None


def recover_stale() -> int:
    """Put runs whose worker stopped heart-beating back to pending, or fail those that made no
    progress over ``SYNC_MAX_ATTEMPTS`` takeovers in a row."""
    limit = utcnow() - engine.stale_after()
    max_attempts = int(current_app.config["SYNC_MAX_ATTEMPTS"])
    finished_units = (select(func.count()).select_from(SyncRunUnit)
                      .where(SyncRunUnit.run_id == SyncRun.id, SyncRunUnit.status.in_(("completed", "failed")))
                      .scalar_subquery())
    stale = db.session.execute(select(SyncRun.id, SyncRun.attempts, SyncRun.progress_mark, SyncRun.stalled_attempts,
                                      SyncRun.progress_processed + finished_units).where(
        SyncRun.status == "running", SyncRun.heartbeat_at < limit)).all()
    for run_id, attempts, mark, stalled, progress in stale:
        progress = int(progress or 0)
        stalled = 0 if progress > (mark or 0) else (stalled or 0) + 1
        if stalled >= max_attempts:
            values = {"status": "failed", "finished_at": utcnow(), "error_reason": "unknown", "claim_token": None,
                      "error_message": f"The worker running this sync stopped {stalled} times in a row without "
                                       f"getting further ({attempts} attempts in all)."}
        else:
            values = {"status": "pending", "worker_id": None, "claim_token": None}
        db.session.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "running",
                                                 SyncRun.heartbeat_at < limit)
                           .values(progress_mark=progress, stalled_attempts=stalled, **values))
        log.warning("run %s lost its worker (%d attempts, %d without progress); %s", run_id, attempts, stalled,
                    values["status"])
    db.session.commit()
    return len(stale)


def reclaim_actions() -> None:
    """Reclaim the actions whose process died mid-run (``actions.service.reclaim_stale``), in the
    sweep that recovers sync runs."""
    from actions.service import reclaim_stale

    try:
        reclaim_stale()
    except Exception:  # noqa: BLE001 - the sync sweep goes on; the next sweep tries again
        log.exception("reclaiming stale action runs failed")
        db.session.rollback()


class Heartbeat:
    """Beats for a running run from a thread of its own, so a slow page never looks dead."""

    def __init__(self, app, claimed: Claim):
        self.app, self.claimed = app, claimed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{claimed.run_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _beat(self):
        interval = float(self.app.config["SYNC_HEARTBEAT_INTERVAL"])
        while not self._stop.wait(interval):
            with self.app.app_context():
                try:
                    db.session.execute(update(SyncRun).where(SyncRun.id == self.claimed.run_id,
                                                             SyncRun.claim_token == self.claimed.token,
                                                             SyncRun.status == "running")
                                       .values(heartbeat_at=utcnow()))
                    db.session.commit()
                except OperationalError:
                    db.session.rollback()
                finally:
                    db.session.remove()


def run_claimed(app, claimed: Claim) -> str:
    with Heartbeat(app, claimed):
        try:
            return engine.execute(claimed.run_id, claimed.token)
        except Exception:  # noqa: BLE001 - never leave a run running because of a bug
            log.exception("sync run %s crashed", claimed.run_id)
            db.session.rollback()
            db.session.execute(update(SyncRun).where(SyncRun.id == claimed.run_id, SyncRun.status == "running",
                                                     SyncRun.claim_token == claimed.token)
                               .values(status="failed", finished_at=utcnow(), error_reason="unknown",
                                       error_message="The sync crashed; the error is in the worker's log."))
            db.session.commit()
            return "failed"


def work_once(app, worker_id: str) -> str | None:
    """Claim and execute one run; returns its id, or None when the queue was empty."""
    with app.app_context():
        try:
            claimed = claim(worker_id)
            if claimed:
                run_claimed(app, claimed)
            return claimed.run_id if claimed else None
        finally:
            db.session.remove()


def drain(app, worker_id: str | None = None, *, limit: int = 1000) -> list[str]:
    """Execute pending runs until none is left (tests, `flask sync run-pending`)."""
    worker_id = worker_id or new_worker_id()
    done = []
    while len(done) < limit:
        run_id = work_once(app, worker_id)
        if run_id is None:
            return done
        done.append(run_id)
    return done


class WorkerPool:
    """N threads that claim and run syncs until stopped; one stale-run sweeper among them."""

    def __init__(self, app, threads: int = 2, worker_id: str | None = None):
        self.app, self.threads = app, threads
        self.worker_id = worker_id or new_worker_id()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def wake(self):
        """A run was queued: stop waiting for the next poll."""
        self._wake.set()

    def start(self):
        for index in range(self.threads):
            thread = threading.Thread(target=self._loop, args=(index,), name=f"sync-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10):
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, index: int):
        poll = float(self.app.config["WORKER_POLL_SECONDS"])
        sweep_every = float(self.app.config["SYNC_HEARTBEAT_INTERVAL"])
        last_sweep = 0.0
        while not self._stop.is_set():
            try:
                if index == 0 and time.monotonic() - last_sweep > sweep_every:
                    with self.app.app_context():
                        try:
                            recover_stale()
                            reclaim_actions()
                        finally:
                            db.session.remove()
                    last_sweep = time.monotonic()
                if work_once(self.app, f"{self.worker_id}/{index}") is None:
                    self._wake.wait(poll)
                    self._wake.clear()
            except Exception:  # noqa: BLE001 - a worker thread must survive a bad moment
                log.exception("sync worker loop error")
                self._stop.wait(poll)
