"""Access lists, their readers, and the verified links from provider identities to members."""
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.timeutil import utcnow
from core.types import UTCDateTime

BIGINT = BigInteger().with_variant(Integer, "sqlite")

# What a reader entry names. ``member``: a member (user id). ``connection_owner``: whoever owns
# a personal connection now (so a change of owner moves access without touching a document).
# ``email``, ``provider_user`` (``<provider>:<id>``) and ``provider_group``
# (``<provider>:<connection id>:<group id>``): provider identities, resolved to members through
# verified links and group memberships at query time. ``api_key``: shared with one service key.
# ``nobody``: readable by no one (a record whose permissions could not be read: fail closed).
READER_KINDS = ("member", "connection_owner", "email", "provider_user", "provider_group", "api_key", "nobody")


class AccessList(db.Model):
    """A set of readers, shared by every document of a workspace that has exactly those
    readers (a document carries its list's id; ``NULL`` is the whole workspace)."""

    __tablename__ = "access_lists"
    __table_args__ = (UniqueConstraint("workspace_id", "fingerprint", name="uq_access_lists_fingerprint"),)

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AccessReader(db.Model):
    __tablename__ = "access_readers"
    __table_args__ = (
        UniqueConstraint("access_list_id", "kind", "value", name="uq_access_readers_entry"),
        # What an asker may read: the lists naming any of its principals.
        Index("ix_access_readers_principal", "workspace_id", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    access_list_id: Mapped[int] = mapped_column(ForeignKey("access_lists.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(320))


class IdentityLink(db.Model):
    """A provider identity (a user id, an e-mail address) verified to be a member's: by the
    member's own sign-in to the provider during a personal connect, or an address the member
    verified in Tributary. Never by a display name."""

    __tablename__ = "identity_links"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "value", name="uq_identity_links_identity"),
        Index("ix_identity_links_user", "workspace_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # email | provider_user
    value: Mapped[str] = mapped_column(String(320))
    verified_via: Mapped[str] = mapped_column(String(80))  # oauth:<connection id> | account_email | admin
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class GroupMember(db.Model):
    """A provider group's member as the connector listed it (a GitHub team's users), refreshed
    by the connection's permissions pass."""

    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("connection_id", "group_key", "member_kind", "member_value", name="uq_group_members_entry"),
        Index("ix_group_members_member", "workspace_id", "member_kind", "member_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(320))   # the provider_group reader value
    member_kind: Mapped[str] = mapped_column(String(20))  # provider_user | email
    member_value: Mapped[str] = mapped_column(String(320))
    refreshed_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
