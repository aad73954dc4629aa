from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import EncryptedJSON, EncryptedText, UTCDateTime

# The lifecycle of a connection (specs/connecting-data-sources.md), plus ``rate_limited``,
# which the Metalogue spec's connector states need.
STATUSES = ("pending", "connected", "syncing", "error", "paused", "disconnected", "rate_limited")


class Connection(db.Model):
    __tablename__ = "connections"
    __table_args__ = (
        Index("ix_connections_workspace_created", "workspace_id", "created_at"),
        Index("ix_connections_account", "workspace_id", "connector_type", "external_account_id"),
        # One connection per provider account and workspace, for the connect methods that claim
        # their account (connections/accounts.py). NULLs are distinct: API-key and webhook
        # connections, and rows older than the claim, are not constrained.
        Index("uq_connections_account_key", "workspace_id", "connector_type", "account_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("conn"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    connector_type: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="first_party")
    scope: Mapped[str] = mapped_column(String(20), default="business")  # business | personal
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # The provider refused our credentials (token revoked, refresh failed): health needs_reauth.
    needs_reauth: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # The provider account behind the connection (the GitHub login, the tracked X account, ...).
    external_account_id: Mapped[str | None] = mapped_column(String(128))
    # The account this connection holds exclusively in its workspace (OAuth and handle
    # connections): external_account_id once claimed, else NULL.
    account_key: Mapped[str | None] = mapped_column(String(128))
    handle: Mapped[str | None] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    followers: Mapped[int | None] = mapped_column(Integer)

    # Tokens, API keys and signing secrets: encrypted, never serialized.
    credentials = mapped_column(EncryptedJSON, nullable=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # ``workspace``: every member reads everything it syncs. ``source``: each record's readers
    # as the provider says them (a record whose permissions cannot be read is hidden). A personal
    # connection's documents are its owner's either way.
    access_mode: Mapped[str] = mapped_column(String(20), default="workspace", server_default="workspace")
    token_expires_at = mapped_column(UTCDateTime, nullable=True)

    last_synced_at = mapped_column(UTCDateTime, nullable=True)  # last successful sync
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    connected_at = mapped_column(UTCDateTime, nullable=True)
    disconnected_at = mapped_column(UTCDateTime, nullable=True)


class OAuthState(db.Model):
    """One authorization attempt: the ``state`` we sent and what the callback must match.

    Single-use (``consumed_at``), short-lived (``expires_at``), bound to the pending connection
    and, when started from the console, to the signed-in user.
    """

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(String(40))
    connector_type: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(20))  # connect | reconnect
    code_verifier = mapped_column(EncryptedText, nullable=False)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    return_to: Mapped[str | None] = mapped_column(String(1000))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    consumed_at = mapped_column(UTCDateTime, nullable=True)


class WebhookDelivery(db.Model):
    """A payload accepted by a webhook connection's inbound endpoint, waiting to be ingested."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("whd"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(String(40))
    # SHA-256 of the signed timestamp + body: the same delivery replayed is refused.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    received_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    processed_at = mapped_column(UTCDateTime, nullable=True)
