"""/api/sync*: channel-scoped sync jobs (specs/sync-jobs-api.md).

A job is a sync run; its ``channel_id`` is a channel (our ``chn_`` id, or the provider's), or
a connection id (``conn_``) for a job over the whole connection. The spec's vocabulary is
mapped here, in one place, from the runs the sync engine writes.
"""
from flask import Blueprint, jsonify, request

from core.errors import Conflict, NotFound, ValidationError
from core.timeutil import isoformat
from sync import service

from .auth import current_actor, require_scope
from .body import json_body, limit_body_size

# The unversioned /api paths the specs name: sync jobs here, platform admin in admin.py.
bp = Blueprint("api_unversioned", __name__, url_prefix="/api")
bp.before_request(limit_body_size)

# Our run statuses in the spec's words. skipped_locked (another run of the connection was
# already running, so this one never ran) reads as cancelled.
JOB_STATUSES = {"pending": "queued", "running": "running", "completed": "completed", "failed": "failed",
                "cancelled": "cancelled", "skipped_locked": "cancelled"}
# A failed run's error_reason as the spec's error code.
JOB_ERROR_CODES = {"auth": "AUTH_ERROR", "rate_limit": "RATE_LIMIT", "transient": "PLATFORM_ERROR",
                   "config": "PLATFORM_ERROR", "unknown": "INTERNAL_ERROR"}
# Codes finer than the reason that the spec names: a run whose channel is not there.
SPEC_CODES = ("CHANNEL_NOT_FOUND",)
DEFAULT_HISTORY = 10
MAX_HISTORY = 100


# -- parsing ---------------------------------------------------------------------------------

def _text_field(body: dict, name: str) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"{name} is required.", code="missing_field", details={"field": name})
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string.", code="invalid_field", details={"field": name})
    return value.strip()


def _bool_field(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{name} is true or false.", code="invalid_field", details={"field": name})
    return value


def _query(name: str) -> str:
    value = (request.args.get(name) or "").strip()
    if not value:
        raise ValidationError(f"The query parameter {name} is required.", code="missing_parameter",
                              details={"parameter": name})
    return value


def _limit() -> int:
    raw = request.args.get("limit")
    if raw in (None, ""):
        return DEFAULT_HISTORY
    try:
        limit = int(raw)
    except ValueError:
        raise ValidationError("limit must be a whole number.", code="invalid_limit", details={"field": "limit"}) from None
    if limit < 1:
        raise ValidationError("limit must be at least 1.", code="invalid_limit", details={"field": "limit"})
    return min(limit, MAX_HISTORY)


# -- serializing -----------------------------------------------------------------------------

def _target_id(connection, channel) -> str:
    return channel.id if channel is not None else connection.id


def job_error(run) -> dict | None:
    """A failed job's error object, as the spec's error example shows it (``None`` otherwise)."""
    if run.status != "failed":
        return None
    code = run.error_code if run.error_code in SPEC_CODES else JOB_ERROR_CODES.get(run.error_reason, "INTERNAL_ERROR")
    details = {"retry_after": run.retry_after, "failing_message_id": run.error_item_id}
    # What the provider itself said (status, message, errors, documentation link), redacted.
    details.update({k: v for k, v in (run.error_details or {}).items() if k not in details})
    return {"code": code, "message": run.error_message or "The sync failed.", "details": details}


def job_status(run, channel_id: str) -> dict:
    progress, summary = service.progress(run), service.run_summary(run)
    return {
        "job_id": run.id,
        "channel_id": channel_id,
        "status": JOB_STATUSES[run.status],
        "progress": {"total_messages": progress["total"], "processed_messages": progress["processed"],
                     "failing_messages": progress["failing"], "percentage": progress["percentage"],
                     "total_is_estimate": progress["estimated"]},
        "started_at": summary["started_at"],
        "estimated_completion": progress["estimated_completion"],
        "current_stage": progress["current_stage"],
        "error": job_error(run),
    }


def history_entry(run, channel_id: str) -> dict:
    summary = service.run_summary(run)
    duration = None
    if run.started_at and run.finished_at:
        duration = max(0, round((run.finished_at - run.started_at).total_seconds()))
    return {
        "job_id": run.id,
        "channel_id": channel_id,
        "status": JOB_STATUSES[run.status],
        "started_at": summary["started_at"],
        "completed_at": summary["finished_at"],
        "duration_seconds": duration,
        "messages_synced": run.progress_processed or 0,
        # We extract no facts and build no graph: the honest counterparts are the documents
        # the run wrote (created, updated or deleted) and the documents it created.
        "facts_extracted": summary["records_written"] or 0,
        "entities_created": run.documents_created or 0,
        "error": job_error(run),
    }


def schedule_entry(channel) -> dict:
    enabled = bool(channel.schedule and channel.schedule_enabled)
    return {"channel_id": channel.id, "schedule": channel.schedule, "enabled": enabled,
            "next_sync": isoformat(service.next_fire(channel.schedule)) if enabled else None,
            "last_sync": isoformat(channel.last_sync_at)}


# -- views -----------------------------------------------------------------------------------

@bp.post("/sync")
@require_scope("sync")
def start():
    """Start a sync job for a channel, or (a `conn_` id) for a whole connection."""
    actor, body = current_actor(), json_body()
    channel_ref, force = _text_field(body, "channel_id"), _bool_field(body, "force", False)
    connection, channel = service.job_target(actor, channel_ref)
    last = service.last_completed_run(connection, channel)
    run = service.sync_target(actor, connection, channel, full=force)
    return jsonify({"status": "started", "job_id": run.id, "channel_id": _target_id(connection, channel),
                    "estimated_messages": last.progress_processed if last else None,
                    "started_at": isoformat(run.created_at)}), 202


@bp.get("/sync/status")
@require_scope("sync")
def status():
    """A job's status and progress: `job_id`'s, else the channel's latest."""
    actor = current_actor()
    connection, channel = service.job_target(actor, _query("channel_id"))
    job_id = (request.args.get("job_id") or "").strip()
    if job_id:
        run = service.get_run(actor, job_id)
        if not service.is_target_run(run, connection, channel):
            raise NotFound("Sync job not found.", code="not_found", details={"job_id": job_id})
    else:
        runs = service.target_runs(connection, channel, 1)
        if not runs:
            raise NotFound("This channel has no sync job yet.", code="not_found",
                           details={"channel_id": _target_id(connection, channel)})
        run = runs[0]
    return jsonify(job_status(run, _target_id(connection, channel)))


@bp.get("/sync/history")
@require_scope("sync")
def history():
    """The channel's jobs, newest first."""
    connection, channel = service.job_target(current_actor(), _query("channel_id"))
    limit = _limit()
    channel_id = _target_id(connection, channel)
    return jsonify({"history": [history_entry(run, channel_id)
                                for run in service.target_runs(connection, channel, limit)]})


@bp.post("/sync/cancel")
@require_scope("sync")
def cancel():
    """Cancel a queued job at once, a running one at its next page boundary."""
    job_id = _text_field(json_body(), "job_id")
    try:
        run = service.cancel_run(current_actor(), job_id)
    except Conflict as exc:
        if exc.code != "run_not_active":
            raise
        ended = JOB_STATUSES.get(exc.details.get("status"), exc.details.get("status"))
        raise Conflict(f"This sync job already ended ({ended}).", code="run_not_active",
                       details={"status": ended}) from None
    return jsonify({"status": "cancelled", "job_id": run.id, "cancelled_at": isoformat(run.cancel_requested_at)})


@bp.get("/sync/schedules")
@require_scope("sync")
def list_schedules():
    """Every channel of the workspace that has a cron schedule."""
    return jsonify({"schedules": [schedule_entry(channel) for channel in service.schedules(current_actor())]})


@bp.put("/sync/schedules")
@require_scope("sync")
def update_schedule():
    """Set, disable or (with `schedule: null`) clear a channel's cron schedule."""
    actor, body = current_actor(), json_body()
    channel = service.get_channel(actor, _text_field(body, "channel_id"))
    if "schedule" not in body:
        raise ValidationError("schedule is required (a cron expression, or null to clear it).",
                              code="missing_field", details={"field": "schedule"})
    channel = service.set_schedule(actor, channel, schedule=body["schedule"], enabled=body.get("enabled", True))
    return jsonify(schedule_entry(channel))
