"""The audit trail: every change and sign-in, recorded in the same transaction as the change.

Each workspace's entries form a hash chain (``audit.chain``): an entry's ``seq`` is its place in
its workspace's chain, ``prev_hash`` the hash of the entry before it and ``entry_hash`` the
SHA-256 of its canonical form. ``AuditChainHead`` holds each chain's last place and hash (the row
writers lock, so two transactions never take the same place) and its anchor: the place and
hash of the last entry retention removed, from which verification of what remains starts.
"""
from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.timeutil import utcnow
from core.types import UTCDateTime

BIGINT = BigInteger().with_variant(Integer, "sqlite")
GENESIS = "0" * 64  # the ``prev_hash`` of a chain's first entry
# The chain key of entries outside any workspace (a failed sign-in for an unknown e-mail, a key
# rotation of the installation's vault).
INSTALLATION_CHAIN = ""


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_created", "workspace_id", "created_at"),
                      Index("ix_audit_events_workspace_seq", "workspace_id", "seq", unique=True),
                      # The latest entry of an action in a chain: its latest full walk (audit.chain).
                      Index("ix_audit_events_workspace_action_seq", "workspace_id", "action", "seq"))

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    # Null for events outside any workspace (a failed sign-in for an unknown e-mail).
    workspace_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor_type: Mapped[str] = mapped_column(String(20))  # user | api_key | system | anonymous
    actor_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(254), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), default="success")  # success | failure
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # The hash chain, set when the recording transaction commits (audit.chain).
    seq: Mapped[int | None] = mapped_column(BIGINT, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditChainHead(db.Model):
    """One row per chain: the workspace id, or ``INSTALLATION_CHAIN`` for entries of none."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BIGINT, default=0)  # the last entry's place (0: none yet)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    # Retention: the last removed entry's place and hash (0 and GENESIS while nothing was removed).
    anchor_seq: Mapped[int] = mapped_column(BIGINT, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class AuditCheckpoint(db.Model):
    """A verified place of a chain: the entry at ``seq`` had ``entry_hash`` when verification
    from the previous checkpoint (or the anchor) found everything up to it intact.

    ``signature`` is an HMAC-SHA256 of the chain, place and hash under a key derived from the
    installation's ``SECRET_KEY`` (``audit.chain.sign``): someone who can write to the database
    but does not hold the secret cannot make a checkpoint that verifies, so an altered history
    cannot be re-hashed past one unnoticed. The routine verification (the API, ``flask audit
    verify``) starts from the latest checkpoint; ``flask audit verify --full`` walks from the
    anchor and checks every checkpoint on the way.
    """

    __tablename__ = "audit_checkpoints"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
