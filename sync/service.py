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


def enqueue_unless_pending(connection, *, mode: str, triggered_by: str, actor: Actor | None = None) -> SyncRun | None:
    """Queue a run unless the connection already has one waiting (webhook bursts, schedules,
    reconnects): a second pending run would only be skipped once the first one runs."""
    waiting = db.session.scalar(select(SyncRun.id).where(SyncRun.connection_id == connection.id,
                                                         SyncRun.status == "pending").limit(1))
    if waiting:
        return None
    return enqueue(actor or system_actor(connection.workspace_id), connection, mode=mode, triggered_by=triggered_by)


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


def cancel_active(connection_id: str) -> int:
    """Cancel the connection's queued runs and ask its running one to stop at its next page
    boundary, in the caller's transaction (a disconnect: no data is read after it); returns how
    many runs that touched."""
    now = utcnow()
    runs = db.session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id,
                                                    SyncRun.status.in_(("pending", "running")))).all()
    for run in runs:
        if run.status == "pending":
            run.status, run.finished_at = "cancelled", now
        run.cancel_requested_at = run.cancel_requested_at or now
    return len(runs)


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
        "error_code": run.error_code,
        "error_message": run.error_message,
        "error_details": run.error_details,
        "failed_units": failed_units(run) if run.streams_failed else [],
        **hidden_records(run),
    }


def hidden_records(run: SyncRun) -> dict:
    """``records_hidden``: records the run stored hidden from every member because the provider
    would not say who may read them (fail closed); ``hidden_units``: where, and why (at most 20)."""
    from sqlalchemy import or_

    from .models import SyncRunUnit

    rows = db.session.execute(select(SyncRunUnit.stream, SyncRunUnit.channel, SyncRunUnit.hidden,
                                     SyncRunUnit.error_code, SyncRunUnit.error_message, SyncRunUnit.error_details)
                              .where(SyncRunUnit.run_id == run.id, SyncRunUnit.status != "failed",
                                     or_(SyncRunUnit.hidden > 0, SyncRunUnit.error_code == "READERS_UNKNOWN"))
                              .order_by(SyncRunUnit.position)).all()
    return {"records_hidden": sum(r.hidden or 0 for r in rows),
            "hidden_units": [{"stream": r.stream, "channel": r.channel or None, "hidden": r.hidden or 0,
                              "error_code": r.error_code, "error_message": r.error_message,
                              "error_details": r.error_details} for r in rows[:20]]}


def failed_units(run: SyncRun, limit: int = 20) -> list[dict]:
    """The run's failed stream x channel units, with what the provider said (at most ``limit``)."""
    from .models import SyncRunUnit

    rows = db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run.id, SyncRunUnit.status == "failed")
                              .order_by(SyncRunUnit.position).limit(limit))
    return [{"stream": u.stream, "channel": u.channel or None, "error_reason": u.error_reason,
             "error_code": u.error_code, "error_message": u.error_message, "error_details": u.error_details}
            for u in rows]


# -- runs, channels, schedules, cadence: shared by the sync-jobs API and the console --------

CADENCE_PRESETS = {"1m": 60, "10m": 600, "30m": 1800, "1h": 3600, "6h": 21600, "1d": 86400}
# The built-in default, not a preset an admin can choose.
CADENCE_SECONDS = {**CADENCE_PRESETS, "15m": 900}


def get_run(actor: Actor, run_id: str) -> SyncRun:
    """A run of the actor's workspace; another workspace's id is the same not_found."""
    from core.errors import NotFound

    run = db.session.get(SyncRun, run_id) if isinstance(run_id, str) else None
    if run is None or run.workspace_id != actor.workspace_id:
        raise NotFound("Sync job not found.", code="not_found", details={"job_id": run_id})
    return run


def cancel_run(actor: Actor, run_id: str) -> SyncRun:
    """Cancel a run of the actor's workspace, if the actor may manage its connection."""
    from connections.models import Connection
    from connections.service import can_manage
    from core.errors import Forbidden

    run = get_run(actor, run_id)
    connection = db.session.get(Connection, run.connection_id)
    if not can_manage(actor, scope=connection.scope, owner_user_id=connection.owner_user_id):
        raise Forbidden("Only a workspace admin (or the owner of a personal connection) can cancel this sync.",
                        code="admin_required")
    return request_cancel(actor, run)


def progress(run: SyncRun) -> dict:
    """Progress of a run: totals, percentage and an estimated completion time.

    ``total`` is the run's expected record count (see ``sync.engine``): known exactly once the
    run is over, an estimate while it runs (``estimated``): the providers' own counts where
    they give them, what the previous run of the same mode read per stream and channel, the
    documents already stored, and the mean of the units finished so far for the rest. Unknown
    (``None``, no percentage) until something is known. A running run never shows 100 %.
    """
    from core.timeutil import isoformat

    processed = run.progress_processed or 0
    total = run.progress_total
    if run.status == "completed":
        total = max(total or 0, processed)
    percentage = None
    if run.status == "completed":
        percentage = 100
    elif total:
        percentage = min(99 if run.status == "running" else 100, round(100 * processed / total))
    estimated = None
    if run.status == "running" and run.started_at and total and 0 < processed < total:
        elapsed = utcnow() - run.started_at
        estimated = isoformat(run.started_at + elapsed * (total / processed))
    return {"total": total, "processed": processed, "failing": run.progress_failing or 0,
            "percentage": percentage, "estimated_completion": estimated,
            "estimated": bool(run.progress_estimated) and run.status in ("pending", "running"),
            "current_stage": run.current_stage or ("queued" if run.status == "pending" else None),
            "current_stream": run.current_stream}


def channels_of(actor: Actor, connection_id: str) -> list:
    from connections.service import get as get_connection

    from .models import Channel

    connection = get_connection(actor, connection_id)
    return list(db.session.scalars(select(Channel).where(Channel.connection_id == connection.id)
                                   .order_by(Channel.name)))


def get_channel(actor: Actor, channel_ref: str):
    """A channel by our id (``chn_...``) or by the provider's id when that is unambiguous."""
    from core.errors import NotFound

    from .models import Channel

    if not isinstance(channel_ref, str) or not channel_ref:
        raise NotFound("Channel not found.", code="CHANNEL_NOT_FOUND", details={"channel_id": channel_ref})
    channel = db.session.get(Channel, channel_ref)
    if channel is None or channel.workspace_id != actor.workspace_id:
        matches = db.session.scalars(select(Channel).where(Channel.workspace_id == actor.workspace_id,
                                                           Channel.external_id == channel_ref).limit(2)).all()
        channel = matches[0] if len(matches) == 1 else None
    if channel is None:
        raise NotFound("Channel not found.", code="CHANNEL_NOT_FOUND", details={"channel_id": channel_ref})
    return channel


def sync_channel(actor: Actor, channel, *, full: bool, triggered_by: str = "api") -> SyncRun:
    """Queue a run of just this channel's streams."""
    from connections.service import request_sync

    result = request_sync(actor, channel.connection_id, full=full, triggered_by=triggered_by,
                          channel=channel.external_id)
    return db.session.get(SyncRun, result["sync_run_id"])


def validate_cron(expression: str):
    """A five-field cron expression as APScheduler reads it; raises validation_error."""
    from apscheduler.triggers.cron import CronTrigger

    from core.errors import ValidationError

    if not isinstance(expression, str) or len(expression.split()) != 5:
        raise ValidationError("schedule is a five-field cron expression, e.g. '0 */4 * * *'.",
                              code="invalid_schedule", details={"field": "schedule"})
    try:
        return CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValidationError(f"schedule is not a valid cron expression: {exc}.", code="invalid_schedule",
                              details={"field": "schedule"}) from None


def next_fire(expression: str | None, after=None):
    if not expression:
        return None
    trigger = validate_cron(expression)
    now = after or utcnow()
    return trigger.get_next_fire_time(None, now)


def set_schedule(actor: Actor, channel, *, schedule: str | None, enabled: bool):
    """Set (or clear, with ``schedule=None``) a channel's cron schedule."""
    from connections.service import get as get_connection, can_manage
    from core.errors import Forbidden, ValidationError

    connection = get_connection(actor, channel.connection_id)
    if not can_manage(actor, scope=connection.scope, owner_user_id=connection.owner_user_id):
        raise Forbidden("Only a workspace admin can schedule syncs.", code="admin_required")
    if schedule is not None:
        validate_cron(schedule)
    if not isinstance(enabled, bool):
        raise ValidationError("enabled is true or false.", code="invalid_field", details={"field": "enabled"})
    channel.schedule, channel.schedule_enabled = schedule, bool(enabled and schedule)
    record(actor, "sync.schedule_updated", target_type="channel", target_id=channel.id,
           details={"schedule": schedule, "enabled": channel.schedule_enabled})
    db.session.commit()
    return channel


def schedules(actor: Actor) -> list:
    """Every channel of the workspace that has a schedule."""
    from .models import Channel

    return list(db.session.scalars(select(Channel).where(Channel.workspace_id == actor.workspace_id,
                                                         Channel.schedule.isnot(None)).order_by(Channel.name)))


def default_cadence(connector_type: str) -> str:
    from flask import current_app

    return (current_app.config.get("SYNC_CADENCE_DEFAULTS") or {}).get(connector_type) \
        or current_app.config["SYNC_DEFAULT_CADENCE"]


def cadences() -> dict[str, dict]:
    """Effective incremental cadence per implemented connector type."""
    from connectors.registry import connector_classes

    from .models import ConnectorCadence

    overrides = {c.connector_type: c.preset for c in db.session.scalars(select(ConnectorCadence))}
    result = {}
    for connector_type, cls in connector_classes().items():
        default = default_cadence(connector_type)
        result[connector_type] = {"connector_type": connector_type, "default": default,
                                  "override": overrides.get(connector_type),
                                  "effective": overrides.get(connector_type) or default,
                                  "implemented": cls.implemented}
    return result


def set_cadence(actor: Actor, connector_type: str, preset: str | None) -> dict:
    """Platform admin: override (or with ``None`` clear) a connector type's incremental cadence."""
    from connectors.registry import get_class
    from core.errors import Forbidden, ValidationError

    from .models import ConnectorCadence

    if not actor.is_platform_admin:
        raise Forbidden("Only the platform admin can set sync cadence.", code="platform_admin_required")
    get_class(connector_type)  # unknown type -> not_found
    # isinstance first: a list or an object is unhashable, and `in` on the presets would raise.
    if preset is not None and (not isinstance(preset, str) or preset not in CADENCE_PRESETS):
        raise ValidationError("preset is one of 1m, 10m, 30m, 1h, 6h, 1d, or null for the default.",
                              code="invalid_preset", details={"allowed": list(CADENCE_PRESETS)})
    row = db.session.get(ConnectorCadence, connector_type)
    if preset is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(ConnectorCadence(connector_type=connector_type, preset=preset, updated_by=actor.id))
    else:
        row.preset, row.updated_at, row.updated_by = preset, utcnow(), actor.id
    record(actor, "sync.cadence_updated", target_type="connector_type", target_id=connector_type,
           workspace_id=actor.workspace_id, details={"preset": preset})
    db.session.commit()
    return cadences()[connector_type]


# -- the sync-jobs API (/api/sync*): what a channel_id names, and its runs ---------------------

def job_target(actor: Actor, channel_ref: str):
    """``(connection, channel)`` named by a sync-jobs ``channel_id``.

    A channel by our id (``chn_...``) or the provider's (see ``get_channel``); failing that, a
    connection id (``conn_...``) names the whole connection, with ``channel`` None. An unknown
    id, or one of another workspace, is ``CHANNEL_NOT_FOUND`` either way.
    """
    from connections.models import Connection
    from core.errors import NotFound

    try:
        channel = get_channel(actor, channel_ref)
    except NotFound:
        is_connection_id = isinstance(channel_ref, str) and channel_ref.startswith("conn_")
        connection = db.session.get(Connection, channel_ref) if is_connection_id else None
        if connection is None or connection.workspace_id != actor.workspace_id:
            raise
        return connection, None
    return db.session.get(Connection, channel.connection_id), channel


def _target_runs(connection, channel):
    """Runs of exactly this target: a channel's own runs, or a connection's whole-connection runs."""
    return select(SyncRun).where(SyncRun.connection_id == connection.id,
                                 SyncRun.channel == channel.external_id if channel is not None
                                 else SyncRun.channel.is_(None))


def is_target_run(run: SyncRun, connection, channel) -> bool:
    return run.connection_id == connection.id and run.channel == (channel.external_id if channel else None)


def target_runs(connection, channel, limit: int) -> list[SyncRun]:
    """The target's runs, newest first."""
    return list(db.session.scalars(_target_runs(connection, channel)
                                   .order_by(SyncRun.created_at.desc(), SyncRun.id.desc()).limit(limit)))


def last_completed_run(connection, channel) -> SyncRun | None:
    return db.session.scalar(_target_runs(connection, channel).where(SyncRun.status == "completed")
                             .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc()).limit(1))


def sync_target(actor: Actor, connection, channel, *, full: bool, triggered_by: str = "api") -> SyncRun:
    """Queue a run of one channel, or (``channel`` None) of the whole connection."""
    if channel is not None:
        return sync_channel(actor, channel, full=full, triggered_by=triggered_by)
    from connections.service import request_sync

    result = request_sync(actor, connection.id, full=full, triggered_by=triggered_by)
    return db.session.get(SyncRun, result["sync_run_id"])


def require_platform_admin(actor: Actor) -> None:
    from core.errors import Forbidden

    if not actor.is_platform_admin:
        raise Forbidden("Only the platform admin can manage sync cadence.", code="platform_admin_required")


def platform_cadences(actor: Actor) -> list[dict]:
    """Platform admin: the effective cadence of every connector type, by type."""
    require_platform_admin(actor)
    return [entry for _, entry in sorted(cadences().items())]


def stream_summary(run: SyncRun) -> list[dict]:
    """A run's results, one row per stream: counts summed over its channels (a GitHub run has
    a unit per repository and stream), and which channels failed."""
    from .models import SyncRunUnit

    grouped: dict[str, dict] = {}
    units = db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run.id)
                               .order_by(SyncRunUnit.position)).all()
    for unit in units:
        row = grouped.setdefault(unit.stream, {
            "stream": unit.stream, "channels": 0, "failed_channels": [], "status": "pending",
            "records_read": 0, "created": 0, "updated": 0, "unchanged": 0, "deleted": 0, "recovered": 0,
            "unconfirmed": 0, "error_reason": None, "error_code": None, "error": None, "_statuses": set()})
        if unit.channel:
            row["channels"] += 1
        for field in ("records_read", "created", "updated", "unchanged", "deleted", "recovered", "unconfirmed"):
            row[field] += getattr(unit, field) or 0
        row["_statuses"].add(unit.status)
        if unit.status == "failed":
            row["error_reason"] = row["error_reason"] or unit.error_reason
            row["error_code"] = row["error_code"] or unit.error_code
            row["error"] = row["error"] or unit.error_message
            if unit.channel:
                row["failed_channels"].append(unit.channel)
    for row in grouped.values():
        statuses = row.pop("_statuses")
        # failed if any unit failed; else running while any runs or waits; else completed
        row["status"] = ("failed" if "failed" in statuses else "running" if "running" in statuses
                         else "pending" if statuses == {"pending"} else
                         "running" if "pending" in statuses else "completed")
        failed = row["failed_channels"]
        row["channel"] = None if not row["channels"] else (
            f"{row['channels']} channels" if not failed else
            f"{len(failed)} of {row['channels']} failed: " + ", ".join(failed[:3]) + (
                f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""))
    return list(grouped.values())


def get_run_row(run_id: str) -> SyncRun | None:
    return db.session.get(SyncRun, run_id)


def unit_counts(run: SyncRun) -> dict:
    """How the run's units divide: ``streams`` (distinct streams), ``channels`` (distinct
    channels) and ``units`` (stream x channel pairs, what ``streams_total`` counts)."""
    from .models import SyncRunUnit

    rows = db.session.execute(select(SyncRunUnit.stream, SyncRunUnit.channel)
                              .where(SyncRunUnit.run_id == run.id)).all()
    return {"units": len(rows), "streams": len({r[0] for r in rows}), "channels": len({r[1] for r in rows if r[1]})}
