from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import UTCDateTime

RUN_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "skipped_locked")
TERMINAL_STATUSES = ("completed", "failed", "cancelled", "skipped_locked")
TRIGGERS = ("connect", "manual", "schedule", "api")
MODES = ("incremental", "full")
ERROR_REASONS = ("auth", "rate_limit", "transient", "config", "unknown")


class SyncRun(db.Model):
    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_connection_created", "connection_id", "created_at"),
        Index("ix_sync_runs_status", "status"),
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
    error_message: Mapped[str | None] = mapped_column(Text)
