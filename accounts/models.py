from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import UTCDateTime

ROLES = ("admin", "member")

# Scopes an API key may carry. ``admin`` implies every other scope.
SCOPES = ("connections:read", "connections:write", "sync", "query", "actions", "pipeline", "admin")


class Workspace(db.Model):
    __tablename__ = "workspaces"

    # The specs call a workspace an organization and give its id an ``org_`` prefix.
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("org"))
    name: Mapped[str] = mapped_column(String(120))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    memberships = relationship("Membership", back_populates="workspace", cascade="all, delete-orphan")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("usr"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    # The operator of this installation (set for the user created at first-run setup): may use
    # platform-wide admin endpoints such as connector cadence.
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_login_at = mapped_column(UTCDateTime, nullable=True)

    memberships = relationship("Membership", back_populates="user", cascade="all, delete-orphan")


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="member")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    workspace = relationship("Workspace", back_populates="memberships")
    user = relationship("User", back_populates="memberships")


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # The first characters of the key, shown in lists so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole key. Keys carry 256 random bits, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    # ``member``: reads what its creator may read. ``service`` (created by an admin): reads
    # workspace-wide documents only, plus what is shared with the key itself.
    kind: Mapped[str] = mapped_column(String(20), default="member", server_default="member")
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_used_at = mapped_column(UTCDateTime, nullable=True)
    revoked_at = mapped_column(UTCDateTime, nullable=True)


class LoginThrottle(db.Model):
    """Failed sign-ins per account (keyed by a hash of the e-mail, so unknown accounts too)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at = mapped_column(UTCDateTime, nullable=True)
    locked_until = mapped_column(UTCDateTime, nullable=True)


class Invitation(db.Model):
    """An admin's invitation of an e-mail address into a workspace, with a role.

    The link carries a random token; only its SHA-256 is stored (like API keys: 256 random bits
    need no slow hash). It works once (``accepted_at``), until ``expires_at``, and not after it is
    revoked; a resend draws a new token, so only the latest link works. An invitation that expired
    unused is marked (``expired_at``) by the housekeeping job; a resend re-issues it.
    """

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_workspace_email", "workspace_id", "email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inv"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20), default="member")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # An API key's invitation names the key (no member sent it).
    invited_by_api_key_id: Mapped[str | None] = mapped_column(String(40))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    last_sent_at = mapped_column(UTCDateTime, nullable=True)  # by e-mail; NULL: shown to the admin
    send_count: Mapped[int] = mapped_column(Integer, default=0)
    accepted_at = mapped_column(UTCDateTime, nullable=True)
    accepted_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    # When the housekeeping found it expired unused (and recorded ``invitation.expired``); NULL
    # while pending, and again after a resend re-issues it.
    expired_at = mapped_column(UTCDateTime, nullable=True)

    workspace = relationship("Workspace")
