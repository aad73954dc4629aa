"""Sync runs as durable rows. Running them (workers, schedules) is the sync engine's part."""
from __future__ import annotations

from sqlalchemy import func, select

from audit.service import record
from core.actor import Actor
from core.extensions import db

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
