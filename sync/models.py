from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import relationship
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import UTCDateTime

RUN_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "skipped_locked")
TERMINAL_STATUSES = ("completed", "failed", "cancelled", "skipped_locked")
TRIGGERS = ("connect", "manual", "schedule", "api")
# ``permissions``: the light pass of a connection in the source access mode, which brings every
# document's readers up to date without rewriting (or re-embedding) any content.
MODES = ("incremental", "full", "permissions")
ERROR_REASONS = ("auth", "rate_limit", "transient", "config", "unknown")


class SyncRun(db.Model):
    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_connection_created", "connection_id", "created_at"),
        Index("ix_sync_runs_status", "status"),
        # At most one running run per connection, enforced by the database: of two workers
        # claiming runs of one connection at once, the second fails and skips its run.
        Index("uq_sync_runs_one_running", "connection_id", unique=True,
              postgresql_where=text("status = 'running'"), sqlite_where=text("status = 'running'")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("run"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    triggered_by: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20), default="incremental")
    channel: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(String(40))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    started_at = mapped_column(UTCDateTime, nullable=True)
    finished_at = mapped_column(UTCDateTime, nullable=True)
    streams_total: Mapped[int] = mapped_column(Integer, default=0)
    streams_failed: Mapped[int] = mapped_column(Integer, default=0)
    records_written: Mapped[int] = mapped_column(Integer, default=0)
    error_reason: Mapped[str | None] = mapped_column(String(20))
    # A code finer than the reason where one applies (``CHANNEL_NOT_FOUND``).
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    # What the provider said: its status, message, error list and documentation link
    # (redacted of secrets), for the runs API and the sync-jobs error body.
    error_details: Mapped[dict | None] = mapped_column(JSON)
    # The provider's item that failed (a message id), for the sync-jobs error body.
    error_item_id: Mapped[str | None] = mapped_column(String(200))
    retry_after: Mapped[int | None] = mapped_column(Integer)

    # Claiming and liveness. Every claim (the first and each takeover) draws a new
    # ``claim_token``; every write of the run checks it in its own transaction (run fencing).
    worker_id: Mapped[str | None] = mapped_column(String(100))
    claim_token: Mapped[str | None] = mapped_column(String(40))
    heartbeat_at = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Takeovers in a row that found no progress since the one before (``progress_mark``: the
    # progress then); ``SYNC_MAX_ATTEMPTS`` bounds these (``sync.worker.recover_stale``).
    progress_mark: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stalled_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancel_requested_at = mapped_column(UTCDateTime, nullable=True)

    # Progress, written at each page boundary.
    current_stage: Mapped[str | None] = mapped_column(String(40))
    current_stream: Mapped[str | None] = mapped_column(String(64))
    progress_total: Mapped[int | None] = mapped_column(Integer)
    # Whether ``progress_total`` is an estimate (some unit's size is not known yet).
    progress_estimated: Mapped[bool] = mapped_column(default=True)
    progress_processed: Mapped[int] = mapped_column(Integer, default=0)
    progress_failing: Mapped[int] = mapped_column(Integer, default=0)
    documents_created: Mapped[int] = mapped_column(Integer, default=0)
    documents_updated: Mapped[int] = mapped_column(Integer, default=0)
    documents_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    documents_deleted: Mapped[int] = mapped_column(Integer, default=0)

    units = relationship("SyncRunUnit", order_by="SyncRunUnit.position",
                         cascade="all, delete-orphan", passive_deletes=True)


UNIT_STATUSES = ("pending", "running", "completed", "failed")


class SyncRunUnit(db.Model):
    """One stream x channel of a run (a GitHub run of 5 streams over 25 repositories has 125).

    Listed once, when the run first starts, so a run taken over by another worker goes on with
    the same units: those completed (or failed) stay so, the one in progress resumes from its
    checkpoint. Counts are the run's, not an attempt's: they are written with each page, in the
    page's transaction, so every record stored is counted once whatever the number of takeovers.
    """

    __tablename__ = "sync_run_units"
    __table_args__ = (UniqueConstraint("run_id", "stream", "channel", name="uq_sync_run_units_scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    stream: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(200), default="")  # "" when the stream has no channels
    status: Mapped[str] = mapped_column(String(20), default="pending")
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    records_failing: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    # Records a full read did not see that were still at the source (a listing shifted under
    # the read): fetched by id and stored, never deleted.
    recovered: Mapped[int] = mapped_column(Integer, default=0)
    # Unseen records whose absence could not be confirmed (kept, not deleted).
    unconfirmed: Mapped[int] = mapped_column(Integer, default=0)
    # Records hidden from every reader because their permissions could not be read at the
    # source (a connection in the ``source`` access mode fails closed).
    hidden: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How many records this unit is expected to read, and where that figure comes from:
    # ``provider`` (its own count), ``previous_run``, ``stored`` (documents already held),
    # ``extrapolated`` (the mean of this run's finished units of the stream).
    estimate: Mapped[int | None] = mapped_column(Integer)
    estimate_source: Mapped[str | None] = mapped_column(String(20))
    error_reason: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict | None] = mapped_column(JSON)
    started_at = mapped_column(UTCDateTime, nullable=True)
    finished_at = mapped_column(UTCDateTime, nullable=True)

    @property
    def key(self) -> str:
        """``stream`` or ``stream:channel``: how API bodies name the unit."""
        return self.stream if not self.channel else f"{self.stream}:{self.channel}"


class SyncState(db.Model):
    """The checkpoint of one stream (and channel) of a connection.

    ``state`` is the incremental cursor the next incremental read starts from. ``full_state``
    is the checkpoint of a full read in progress and ``full_generation`` its identity: a full
    read interrupted (worker died, rate limit spent) resumes from there on the next run
    instead of starting over, and only a full read that reaches the end deletes the
    documents it did not see, once the provider confirms they are gone.
    """

    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("connection_id", "stream", "channel", name="uq_sync_states_scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(200), default="")  # "" when the stream has no channels
    state: Mapped[dict | None] = mapped_column(JSON)
    full_state: Mapped[dict | None] = mapped_column(JSON)
    full_generation: Mapped[str | None] = mapped_column(String(40))
    # The full read reached its end (its last page is stored); what is left is confirming and
    # deleting what it did not see. A run taken over at that point goes straight there.
    full_read_done: Mapped[bool] = mapped_column(default=False)
    last_full_at = mapped_column(UTCDateTime, nullable=True)
    last_prune_at = mapped_column(UTCDateTime, nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Channel(db.Model):
    """A syncable partition of a connection's streams (a repository, a Slack channel)."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("connection_id", "external_id", name="uq_channels_connection_external"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chn"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str | None] = mapped_column(String(40))
    # Per-channel cron schedule (specs/sync-jobs-api.md).
    schedule: Mapped[str | None] = mapped_column(String(100))
    schedule_enabled: Mapped[bool] = mapped_column(default=False)
    last_sync_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ConnectorCadence(db.Model):
    """A platform admin's override of how often a connector type syncs (null: the default)."""

    __tablename__ = "connector_cadences"

    connector_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    preset: Mapped[str] = mapped_column(String(8))
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(40))
