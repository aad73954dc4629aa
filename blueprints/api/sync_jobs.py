"""/api/sync*: channel-scoped sync jobs (specs/sync-jobs-api.md).

A job is a sync run; its ``channel_id`` is a channel (our ``chn_`` id, or the provider's), or
a connection id (``conn_``) for a job over the whole connection. The spec's vocabulary is
mapped here, in one place, from the runs the sync engine writes. Each endpoint is declared
once (``endpoints.endpoint``): its models validate the request and generate the document.
"""
from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify
from pydantic import ConfigDict, Field

from core.errors import Conflict, NotFound
from core.pagination import parse_limit
from core.timeutil import isoformat
from sync import service
from sync.engine import STAGES

from .body import limit_body_size
from .auth import current_actor
from .endpoints import NonBlank, Ok, QueryModel, RequestModel, ResponseModel, checked_later, endpoint
from .shapes import CONNECTION_ID_EXAMPLE, RUN_ID_EXAMPLE, ProviderSaid, timestamp

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

TAG = "Sync jobs"
JOB_EXAMPLE_CHANNEL = "chn_wlu6ibyftzj6k43r"


# -- models ----------------------------------------------------------------------------------------

JobId = Annotated[str, Field(description="The sync job's id (the id of the sync run behind it).",
                             pattern="^run_[a-z0-9]+$", examples=[RUN_ID_EXAMPLE])]
TargetId = Annotated[str, Field(
    description="Our id of the job's channel (`chn_...`), or of the connection (`conn_...`) for a job over a "
                "whole connection. A request may name a channel by the provider's id; answers always carry ours.",
    pattern="^(chn|conn)_[a-z0-9]+$", examples=[JOB_EXAMPLE_CHANNEL])]
JobStatus = Annotated[Literal[tuple(dict.fromkeys(JOB_STATUSES.values()))], Field(
    description="`queued`, `running`, `completed`, `failed` or `cancelled`. A job that never ran because another "
                "sync of its connection was already running reads `cancelled`.")]
Count = Annotated[int, Field(ge=0)]
# A failed job carries its error, any other none.
FAILED_HAS_ERROR = {"if": {"properties": {"status": {"const": "failed"}}, "required": ["status"]},
                    "then": {"properties": {"error": {"type": "object"}}},
                    "else": {"properties": {"error": {"type": "null"}}}}


class SyncJobProgress(ResponseModel):
    """A job's progress. Records are the spec's messages (issues, deals, e-mails, ...)."""

    total_messages: Annotated[Count | None, Field(
        description="How many records the job will process: an estimate while it runs (`total_is_estimate`), what "
                    "it processed once it completed; `null` while nothing is known yet.")]
    processed_messages: Annotated[Count, Field(description="Records read from the provider so far.")]
    failing_messages: Annotated[Count, Field(description="Records that could not be turned into documents "
                                                         "(skipped; the job goes on).")]
    percentage: Annotated[int | None, Field(
        ge=0, le=100, description="`processed_messages / total_messages` in percent, rounded; `null` while the "
                                  "total is unknown. A running job never reads `100`; a completed one always does.")]
    total_is_estimate: Annotated[bool, Field(
        description="`true` while `total_messages` is an estimate: what the previous job of the same kind read per "
                    "stream and channel, the documents already stored, the provider's own counts, and the mean of "
                    "the streams finished so far for the rest. `false` once the job ended.")]


class SyncJobErrorDetails(ProviderSaid):
    """`retry_after` and `failing_message_id` always; and what the provider itself said (see
    `ProviderSaid`) when it refused or failed."""

    retry_after: Annotated[Count | None, Field(description="Seconds to wait before retrying, when known.")]
    failing_message_id: Annotated[str | None, Field(description="The provider's id of the record that failed, "
                                                                "when one did.")]


class SyncJobError(ResponseModel):
    """A failed job's error, as the spec's error response shows it."""

    code: Annotated[Literal[tuple(dict.fromkeys([*JOB_ERROR_CODES.values(), *SPEC_CODES]))], Field(
        description="`AUTH_ERROR`: the provider refused the stored credentials (reconnect; do not retry). "
                    "`RATE_LIMIT`: the provider's rate limit (or the job's wait budget for it) ran out; retry after "
                    "`details.retry_after`, the next job resumes where this one stopped. `PLATFORM_ERROR`: the "
                    "provider failed (5xx, network, every stream failing) or the connection cannot sync "
                    "(disconnected, misconfigured); retry later. `CHANNEL_NOT_FOUND`: the job's channel is not at "
                    "the provider (or the connection cannot see it); do not retry. `INTERNAL_ERROR`: something "
                    "unexpected on our side; retry.")]
    message: Annotated[str, Field(description="The failure in words.")]
    details: SyncJobErrorDetails


JobError = Annotated[SyncJobError | None, Field(description="Why the job failed (`status: failed`), or `null`.")]


class SyncJobStatus(ResponseModel):
    """A sync job's status and progress."""

    model_config = ConfigDict(json_schema_extra=FAILED_HAS_ERROR)

    job_id: JobId
    channel_id: TargetId
    status: JobStatus
    progress: SyncJobProgress
    started_at: Annotated[str | None, timestamp("When a worker started the job, or `null` while it is queued (and "
                                                "for a job cancelled or skipped before it started)")]
    estimated_completion: Annotated[str | None, timestamp("While the job runs and the provider has told us how many "
                                                          "records there are: when it should end at the pace so far. "
                                                          "Otherwise `null`")]
    current_stage: Annotated[Literal[STAGES] | None, Field(
        description="The stage the job is in (or, once it ended, the last one it reached): `queued`, "
                    "`listing_channels`, `fetching_records` (the spec's `fetching_messages`), `detecting_deletions` "
                    "(full syncs) and `finalizing`. Tributary extracts no facts and builds no graph or wiki, so the "
                    "spec's other stages never appear. `null` while a job never reached a stage (just picked up by "
                    "a worker, cancelled while queued, skipped, or its worker died first).")]
    error: JobError


class SyncJobHistoryEntry(ResponseModel):
    """One job of a channel's history."""

    model_config = ConfigDict(json_schema_extra=FAILED_HAS_ERROR)

    job_id: JobId
    channel_id: TargetId
    status: JobStatus
    started_at: Annotated[str | None, timestamp("When a worker started the job, or `null`")]
    completed_at: Annotated[str | None, timestamp("When the job ended (completed, failed or cancelled), or `null` "
                                                  "while it is queued or running")]
    duration_seconds: Annotated[Count | None, Field(description="`completed_at - started_at`, rounded to whole "
                                                                "seconds; `null` until both are known.")]
    messages_synced: Annotated[Count, Field(description="Records the job read from the provider.")]
    facts_extracted: Annotated[Count, Field(
        description="Tributary extracts no facts: this is the number of documents the job wrote (created, updated "
                    "or deleted; unchanged records are not rewritten).")]
    entities_created: Annotated[Count, Field(description="Tributary builds no entity graph: this is the number of "
                                                         "documents the job created.")]
    error: JobError


class SyncJobHistory(ResponseModel):
    """Newest first."""

    history: list[SyncJobHistoryEntry]


class SyncJobStartRequest(RequestModel):
    """Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    channel_id: Annotated[NonBlank, Field(
        description="The channel to sync: our id (`chn_...`) or the provider's channel id (a GitHub `owner/repo`, "
                    "...). A connection id (`conn_...`) syncs the whole connection.",
        examples=["octo-sandbox/tributary-demo"])]
    force: Annotated[bool, Field(description="A full re-sync instead of an incremental one.")] = False


class SyncJobStarted(ResponseModel):
    """A queued sync job."""

    status: Annotated[Literal["started"], Field(description="Always `started`: the job was queued. Poll "
                                                            "`GET /api/sync/status`.")]
    job_id: JobId
    channel_id: TargetId
    estimated_messages: Annotated[Count | None, Field(
        description="How many records the last completed job of this channel (or connection) processed, or `null` "
                    "before the first.")]
    started_at: Annotated[str, timestamp("When the job was queued (a worker starts it moments later; "
                                         "`GET /api/sync/status` then shows its own `started_at`)")]


class SyncJobCancelRequest(RequestModel):
    """Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    job_id: Annotated[NonBlank, Field(description="The job to cancel.", examples=[RUN_ID_EXAMPLE])]


class SyncJobCancelled(ResponseModel):
    """The cancel was accepted: a queued job is cancelled at once, a running one at its next
    page boundary (its status reads `running` until then)."""

    status: Literal["cancelled"]
    job_id: JobId
    cancelled_at: Annotated[str, timestamp("When the cancel was requested")]


class SyncSchedule(ResponseModel):
    """A channel's cron schedule."""

    channel_id: Annotated[str, Field(description="Our id of the channel.", pattern="^chn_[a-z0-9]+$",
                                     examples=[JOB_EXAMPLE_CHANNEL])]
    schedule: Annotated[str | None, Field(description="A five-field cron expression, in UTC; `null` when cleared.",
                                          examples=["0 */4 * * *"])]
    enabled: Annotated[bool, Field(description="Whether the schedule fires (never without one).")]
    next_sync: Annotated[str | None, timestamp("When the schedule fires next, or `null` when disabled")]
    last_sync: Annotated[str | None, timestamp("When the channel was last synced (by any job that reached it), or "
                                               "`null`")]


class SyncScheduleList(ResponseModel):
    """Every channel with a schedule, by channel name."""

    schedules: list[SyncSchedule]


class SyncScheduleUpdate(RequestModel):
    """Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    channel_id: Annotated[NonBlank, Field(description="The channel: our id (`chn_...`) or the provider's channel "
                                                      "id.")]
    # Checked by sync.service.set_schedule after the channel (invalid_schedule).
    schedule: Annotated[Any, checked_later({"type": ["string", "null"]}), Field(
        description="A five-field cron expression (minute hour day-of-month month day-of-week), read in UTC; `null` "
                    "clears the schedule.", examples=["0 */2 * * *"])]
    enabled: Annotated[bool, Field(description="`false` keeps the expression but stops it firing.")] = True


ChannelRef = Annotated[NonBlank, Field(
    description="The channel: our id (`chn_...`) or the provider's channel id; or a connection id (`conn_...`) for "
                "the jobs over that whole connection.", examples=[JOB_EXAMPLE_CHANNEL])]


class StatusQuery(QueryModel):
    channel_id: ChannelRef
    job_id: Annotated[str | None, Field(description="A job of this channel; without it, the channel's latest job.",
                                        examples=[RUN_ID_EXAMPLE])] = None


class HistoryQuery(QueryModel):
    channel_id: ChannelRef
    # Parsed after the channel is found (the channel is checked first).
    limit: Annotated[Any, checked_later({"type": "integer", "minimum": 1, "default": DEFAULT_HISTORY}), Field(
        description=f"How many jobs, at least 1 (default {DEFAULT_HISTORY}; more than {MAX_HISTORY} is treated as "
                    f"{MAX_HISTORY}).")] = DEFAULT_HISTORY


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

JOBS_INTRO = ("A job is one sync run. `channel_id` names a channel (a GitHub repository, a Slack channel, ...) by "
              "our id (`chn_...`) or by the provider's id (when exactly one channel of the workspace has it), or "
              "names a whole connection by its id (`conn_...`): its jobs are the ones started for the whole "
              "connection. Channels are discovered by syncing their connection. An unknown id, or one from "
              "another workspace, is `404 CHANNEL_NOT_FOUND`.")
JOB_FAILED_ERROR = {"code": "RATE_LIMIT", "message": "Waiting 60s for the provider's rate limit would exceed "
                                                     "this run's wait budget (5s left).",
                    "details": {"retry_after": 60, "failing_message_id": None}}


def _status_example(**overrides) -> dict:
    example = {"job_id": RUN_ID_EXAMPLE, "channel_id": JOB_EXAMPLE_CHANNEL, "status": "running",
               "progress": {"total_messages": 150, "processed_messages": 75, "failing_messages": 0,
                            "percentage": 50, "total_is_estimate": True},
               "started_at": "2026-04-13T10:30:00Z", "estimated_completion": "2026-04-13T10:32:00Z",
               "current_stage": "fetching_records", "error": None}
    example.update(overrides)
    return example


def _history_example(**overrides) -> dict:
    example = {"job_id": RUN_ID_EXAMPLE, "channel_id": JOB_EXAMPLE_CHANNEL, "status": "completed",
               "started_at": "2026-04-13T10:30:00Z", "completed_at": "2026-04-13T10:32:00Z",
               "duration_seconds": 120, "messages_synced": 150, "facts_extracted": 45, "entities_created": 8,
               "error": None}
    example.update(overrides)
    return example


@endpoint(bp, "POST", "/sync", scope="sync", operation_id="startSyncJob", tag=TAG,
          summary="Start a sync job for a channel",
          behaviour=JOBS_INTRO + """

Queues a job (incremental; `force: true` for a full re-sync) and answers `202` with its `job_id`; a worker
starts it moments later. `estimated_messages` is what the last completed job of the same channel (or
connection) processed, or `null` before the first. `started_at` is when the job was queued.

Checks run in this order: the body (`422`), the channel (`404`), the connection's state (`409`: a disconnected
connection, or one whose OAuth connect has not finished, cannot sync).
""",
          body=SyncJobStartRequest,
          body_examples={
              "channel": {"summary": "A channel, by the provider's id",
                          "value": {"channel_id": "octo-sandbox/tributary-demo", "force": False}},
              "connection": {"summary": "A whole connection, in full",
                             "value": {"channel_id": CONNECTION_ID_EXAMPLE, "force": True}}},
          responses={202: Ok("Queued.", SyncJobStarted, example={
              "status": "started", "job_id": RUN_ID_EXAMPLE, "channel_id": JOB_EXAMPLE_CHANNEL,
              "estimated_messages": 150, "started_at": "2026-04-13T10:30:00Z"})},
          errors={
              404: ["CHANNEL_NOT_FOUND"],
              409: ["connection_disconnected", "connection_pending", "sync_not_supported"],
              422: [("missing_field", "`channel_id` is absent, `null` or blank; `details.field` names it."),
                    ("invalid_field", "`channel_id` is not a string, or `force` is not a boolean; `details.field` "
                                      "names it.")],
          })
def start(body: SyncJobStartRequest):
    """Start a sync job for a channel, or (a `conn_` id) for a whole connection."""
    actor = current_actor()
    connection, channel = service.job_target(actor, body.channel_id)
    last = service.last_completed_run(connection, channel)
    run = service.sync_target(actor, connection, channel, full=body.force)
    return jsonify({"status": "started", "job_id": run.id, "channel_id": _target_id(connection, channel),
                    "estimated_messages": last.progress_processed if last else None,
                    "started_at": isoformat(run.created_at)}), 202


@endpoint(bp, "GET", "/sync/status", scope="sync", operation_id="getSyncJobStatus", tag=TAG,
          summary="Get a sync job's status and progress",
          behaviour=JOBS_INTRO + """

The status of job `job_id`, or without it of the channel's latest job: `status`, `progress`, `current_stage`,
`started_at`, `estimated_completion` and, for a failed job, `error` (the spec's error object: `code`
`AUTH_ERROR`, `RATE_LIMIT`, `PLATFORM_ERROR` or `INTERNAL_ERROR`, a `message`, and `details` with
`retry_after` and `failing_message_id`).

Our run statuses map to the spec's: `pending` → `queued`; `running`, `completed`, `failed`, `cancelled` as they
are; `skipped_locked` (never ran: another sync of the connection was already running) → `cancelled`. A failed
run's reason maps to the error code: `auth` → `AUTH_ERROR`, `rate_limit` → `RATE_LIMIT`, `transient` and
`config` → `PLATFORM_ERROR`, `unknown` → `INTERNAL_ERROR`.

A `job_id` that does not exist, belongs to another workspace, or is not a job of this `channel_id` is
`404 not_found`; so is a channel without any job yet.
""",
          query=StatusQuery,
          responses={200: Ok("The job.", SyncJobStatus, examples={
              "running": {"value": _status_example()},
              "failed": {"value": _status_example(
                  status="failed", estimated_completion=None, current_stage="finalizing",
                  progress={"total_messages": None, "processed_messages": 75, "failing_messages": 0,
                            "percentage": None, "total_is_estimate": False},
                  error=JOB_FAILED_ERROR)}})},
          errors={
              404: ["CHANNEL_NOT_FOUND",
                    ("not_found", "No such job of this channel in the key's workspace (or the channel has no job "
                                  "yet).")],
              422: [("missing_parameter", "`channel_id` is absent or blank.")],
          })
def status(query: StatusQuery):
    """A job's status and progress: `job_id`'s, else the channel's latest."""
    actor = current_actor()
    connection, channel = service.job_target(actor, query.channel_id)
    job_id = (query.job_id or "").strip()
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


@endpoint(bp, "GET", "/sync/history", scope="sync", operation_id="getSyncJobHistory", tag=TAG,
          summary="List a channel's sync jobs",
          behaviour=JOBS_INTRO + """

The channel's jobs, newest first: `limit` defaults to 10; values above 100 are capped at 100 (not refused).
Each entry has the job's times, its `duration_seconds`, `messages_synced` (records read), and `error` for a
failed job (see `GET /api/sync/status` for the status and error-code mappings).

Tributary extracts no facts and builds no entity graph, so the spec's counters carry their honest
counterparts: `facts_extracted` is the number of documents the job **wrote** (created, updated or deleted) and
`entities_created` the number of documents it **created**. The channel is checked before `limit`.
""",
          query=HistoryQuery,
          responses={200: Ok("The jobs, newest first.", SyncJobHistory, example={"history": [
              _history_example(),
              _history_example(job_id="run_p1a8bd3kq9x0v7m2", status="failed", messages_synced=40,
                               facts_extracted=12, entities_created=0, duration_seconds=31,
                               error=JOB_FAILED_ERROR)]})},
          errors={
              404: ["CHANNEL_NOT_FOUND"],
              422: [("missing_parameter", "`channel_id` is absent or blank."), "invalid_limit"],
          })
def history(query: HistoryQuery):
    """The channel's jobs, newest first."""
    connection, channel = service.job_target(current_actor(), query.channel_id)
    limit = parse_limit(query.limit, default=DEFAULT_HISTORY, maximum=MAX_HISTORY)
    channel_id = _target_id(connection, channel)
    return jsonify({"history": [history_entry(run, channel_id)
                                for run in service.target_runs(connection, channel, limit)]})


@endpoint(bp, "POST", "/sync/cancel", scope="sync", operation_id="cancelSyncJob", tag=TAG,
          summary="Cancel a sync job",
          behaviour="""
Cancels a job: a queued one at once, a running one at its next page boundary (what it stored so far stays, and
its status reads `running` until it stops). Cancelling a running job twice answers the same. A job that already
ended is `409 run_not_active`; a job id that does not exist or belongs to another workspace is
`404 not_found`.
""",
          body=SyncJobCancelRequest, body_examples={"job": {"value": {"job_id": RUN_ID_EXAMPLE}}},
          responses={200: Ok("Cancelled (or, for a running job, stopping).", SyncJobCancelled, example={
              "status": "cancelled", "job_id": RUN_ID_EXAMPLE, "cancelled_at": "2026-04-13T10:31:00Z"})},
          errors={
              404: [("not_found", "No such job in the key's workspace.")],
              409: ["run_not_active"],
              422: [("missing_field", "`job_id` is absent, `null` or blank; `details.field` names it."),
                    ("invalid_field", "`job_id` is not a string; `details.field` names it.")],
          })
def cancel(body: SyncJobCancelRequest):
    """Cancel a queued job at once, a running one at its next page boundary."""
    try:
        run = service.cancel_run(current_actor(), body.job_id)
    except Conflict as exc:
        if exc.code != "run_not_active":
            raise
        ended = JOB_STATUSES.get(exc.details.get("status"), exc.details.get("status"))
        raise Conflict(f"This sync job already ended ({ended}).", code="run_not_active",
                       details={"status": ended}) from None
    return jsonify({"status": "cancelled", "job_id": run.id, "cancelled_at": isoformat(run.cancel_requested_at)})


@endpoint(bp, "GET", "/sync/schedules", scope="sync", operation_id="listSyncSchedules", tag=TAG,
          summary="List the channels' sync schedules",
          behaviour="Every channel of the workspace that has a cron schedule (enabled or not), by channel name, with "
                    "when it fires next (`next_sync`, UTC; `null` when disabled) and when the channel was last "
                    "synced (`last_sync`). Schedules are per channel; how often a whole connection syncs is its "
                    "connector type's cadence, a platform setting.",
          responses={200: Ok("The schedules.", SyncScheduleList, example={"schedules": [{
              "channel_id": JOB_EXAMPLE_CHANNEL, "schedule": "0 */4 * * *", "enabled": True,
              "next_sync": "2026-04-13T14:00:00Z", "last_sync": "2026-04-13T10:00:00Z"}]})})
def list_schedules():
    """Every channel of the workspace that has a cron schedule."""
    return jsonify({"schedules": [schedule_entry(channel) for channel in service.schedules(current_actor())]})


@endpoint(bp, "PUT", "/sync/schedules", scope="sync", operation_id="updateSyncSchedule", tag=TAG,
          summary="Set a channel's sync schedule",
          behaviour="""
Sets the channel's cron `schedule` (five fields, read in UTC), or clears it with `schedule: null`. `enabled`
(default `true`) set to `false` keeps the expression but stops it firing. Each time it fires, a job of the
channel is queued (`triggered_by: schedule`). Answers the channel's schedule as `GET` lists it.

Only channels have schedules: a connection id (`conn_...`) is `404 CHANNEL_NOT_FOUND`. Checks run in this order:
the body and its fields (`422`), the channel (`404`), the cron expression (`422 invalid_schedule`).
""",
          body=SyncScheduleUpdate,
          body_examples={
              "every_two_hours": {"value": {"channel_id": JOB_EXAMPLE_CHANNEL, "schedule": "0 */2 * * *",
                                            "enabled": True}},
              "clear": {"value": {"channel_id": JOB_EXAMPLE_CHANNEL, "schedule": None}}},
          responses={200: Ok("The channel's schedule now.", SyncSchedule, example={
              "channel_id": JOB_EXAMPLE_CHANNEL, "schedule": "0 */2 * * *", "enabled": True,
              "next_sync": "2026-04-13T12:00:00Z", "last_sync": "2026-04-13T10:00:00Z"})},
          errors={
              404: [("CHANNEL_NOT_FOUND", "`channel_id` names no channel of the key's workspace (by our `chn_` id, or "
                                          "by the provider's channel id when exactly one channel has it). "
                                          "Connection ids have no schedule. An id from another workspace gets "
                                          "exactly the same answer.")],
              422: [("missing_field", "`channel_id` is absent, `null` or blank, or `schedule` is absent (send "
                                      "`null` to clear it); `details.field` names it."),
                    ("invalid_field", "`channel_id` is not a string or `enabled` is not a boolean; `details.field` "
                                      "names it."),
                    "invalid_schedule"],
          })
def update_schedule(body: SyncScheduleUpdate):
    """Set, disable or (with `schedule: null`) clear a channel's cron schedule."""
    actor = current_actor()
    channel = service.get_channel(actor, body.channel_id)
    channel = service.set_schedule(actor, channel, schedule=body.schedule, enabled=body.enabled)
    return jsonify(schedule_entry(channel))
