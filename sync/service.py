"""Sync runs as durable rows. Running them (workers, schedules) is the sync engine's part."""
from __future__ import annotations

from sqlalchemy import func, select

from audit.service import record
from core.actor import Actor, system_actor
from core.errors import Conflict
from core.extensions import db
from core.timeutil import utcnow

from .models import SyncRun

MAX_RUNS_PAGE = 100
DEFAULT_RUNS_PAGE = 25


def enqueue(actor: Actor, connection, *, mode: str, triggered_by: str, channel: str | None = None) -> SyncRun:
    """Create a pending run. The caller's transaction commits it."""
    run = SyncRun(workspace_id=connection.workspace_id, connection_id=connection.id, status="pending",
                  triggered_by=triggered_by, mode=mode, channel=channel, requested_by=actor.id)
    db.session.add(run)
    db.session.flush()
    record(actor, "sync.requested", target_type="connection", target_id=connection.id,
           details={"sync_run_id": run.id, "mode": mode, "triggered_by": triggered_by, "channel": channel})
    return run


def enqueue_unless_pending(connection, *, mode: str, triggered_by: str) -> SyncRun | None:
    """Queue a run unless the connection already has one waiting (webhook bursts, schedules)."""
    waiting = db.session.scalar(select(SyncRun.id).where(SyncRun.connection_id == connection.id,
                                                         SyncRun.status == "pending").limit(1))
    if waiting:
        return None
    return enqueue(system_actor(connection.workspace_id), connection, mode=mode, triggered_by=triggered_by)


def request_cancel(actor: Actor, run: SyncRun) -> SyncRun:
    """Cancel a run: a pending one at once, a running one at its next page boundary."""
    now = utcnow()
    if run.status == "pending":
        run.status, run.finished_at, run.cancel_requested_at = "cancelled", now, now
    elif run.status == "running":
        run.cancel_requested_at = run.cancel_requested_at or now
    else:
        raise Conflict(f"This sync already ended ({run.status}).", code="run_not_active",
                       details={"status": run.status})
    record(actor, "sync.cancel_requested", target_type="sync_run", target_id=run.id,
           details={"connection_id": run.connection_id})
    db.session.commit()
    return run


_wakeups: list = []


def notify_workers() -> None:
    """Wake embedded workers now instead of at their next poll."""
    for wake in _wakeups:
        wake()


def runs_for(connection_id: str, limit: int) -> list[SyncRun]:
    return list(db.session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id)
                                   .order_by(SyncRun.created_at.desc(), SyncRun.id.desc()).limit(limit)))


def latest_runs(connection_ids: list[str]) -> dict[str, SyncRun]:
    """The most recent run of each connection, in one query."""
    if not connection_ids:
        return {}
    ranked = (select(SyncRun.id, func.row_number().over(
        partition_by=SyncRun.connection_id,
        order_by=(SyncRun.created_at.desc(), SyncRun.id.desc())).label("rank"))
        .where(SyncRun.connection_id.in_(connection_ids)).subquery())
    rows = db.session.scalars(select(SyncRun).join(ranked, ranked.c.id == SyncRun.id).where(ranked.c.rank == 1))
    return {run.connection_id: run for run in rows}


def syncing_connection_ids(connection_ids: list[str]) -> set[str]:
    if not connection_ids:
        return set()
    return set(db.session.scalars(select(SyncRun.connection_id).where(
        SyncRun.connection_id.in_(connection_ids), SyncRun.status == "running").distinct()))


def run_summary(run: SyncRun | None) -> dict | None:
    """A run as the connections API shows it (``last_run`` and ``/runs`` entries)."""
    from core.timeutil import isoformat

    if run is None:
        return None
    return {
        "id": run.id,
        "status": run.status,
        "triggered_by": run.triggered_by,
        "mode": run.mode,
        "channel": run.channel,
        "created_at": isoformat(run.created_at),
        "started_at": isoformat(run.started_at),
        "finished_at": isoformat(run.finished_at),
        "streams_total": run.streams_total,
        "streams_failed": run.streams_failed,
        "records_written": run.records_written,
        "error_reason": run.error_reason,
        "error_message": run.error_message,
    }
