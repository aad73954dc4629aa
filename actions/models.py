from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import UTCDateTime

# pending_approval -> (approved) running -> succeeded | failed; pending_approval -> rejected. A running
# run whose process died (its lease ran out) is reclaimed (actions.service.reclaim_stale): succeeded,
# failed, or ``unknown`` when whether its write reached the provider cannot be known.
RUN_STATUSES = ("pending_approval", "rejected", "running", "succeeded", "failed", "unknown")
ROUTERS = ("structured", "rules", "model")


class ActionRun(db.Model):
    """One requested execution of an action on a connection: its parameters, the plan (the exact
    provider requests), who asked, the decision when it needed one, and the outcome.

    ``idempotency_key`` is unique per connection: a request repeated with the same key (given by
    the caller, or derived from the action and its parameters) finds this row instead of running
    again. The plan stored here is what runs, also after an approval."""

    __tablename__ = "action_runs"
    __table_args__ = (
        UniqueConstraint("connection_id", "idempotency_key", name="uq_action_runs_idempotency"),
        Index("ix_action_runs_workspace_created", "workspace_id", "created_at"),
        Index("ix_action_runs_connection_status", "connection_id", "status"),
        Index("ix_action_runs_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("act"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    plan: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the action and its parameters: a key reused for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    router: Mapped[str] = mapped_column(String(20), default="structured")
    intent: Mapped[str | None] = mapped_column(Text)
    requested_by_type: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[str | None] = mapped_column(String(40))
    requested_by_label: Mapped[str | None] = mapped_column(String(254))
    # The member the request acts for (a console member, or a member's API key's creator).
    user_id: Mapped[str | None] = mapped_column(String(40))
    decided_by_label: Mapped[str | None] = mapped_column(String(254))
    decided_at = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at = mapped_column(UTCDateTime, nullable=True)
    # While running: renewed before every provider request; a run past it lost its process.
    lease_until = mapped_column(UTCDateTime, nullable=True)
    # While running: ``{"answers": [...], "sending": i}``: the provider's answers so far and the
    # step being sent (None between steps), so a reclaim knows what may have reached the provider.
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ActionPolicy(db.Model):
    """What an admin allows on one connection: the actions that may run (None: every one), those
    that wait for a person's approval (None: the destructive ones), those exposed as MCP tools
    (none by default), and whether a requester may approve their own request (not by default)."""

    __tablename__ = "action_policies"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    allowed: Mapped[list | None] = mapped_column(JSON, nullable=True)
    approval: Mapped[list | None] = mapped_column(JSON, nullable=True)
    mcp: Mapped[list] = mapped_column(JSON, default=list)
    # False (four-eyes): a request needing approval is approved by someone other than who made it.
    self_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_by_label: Mapped[str | None] = mapped_column(String(254))
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
