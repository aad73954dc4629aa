"""Who may read a document, and what an asker may read.

The model
---------
Every document carries ``access_id``: ``NULL`` when the whole workspace may read it, else the id
of an ``AccessList`` -- a set of readers, shared by every document of the workspace with exactly
those readers (so a million documents of one private repository share one list, and a change of
that repository's collaborators changes one list's readers, not a million documents). A reader
names a member, the current owner of a personal connection, a provider identity (a user, an
e-mail address) or a provider group, an API key, or nobody (fail closed).

Provider identities map to members only through verified links (``IdentityLink``): the member's
own sign-in to the provider during a personal connect, or an e-mail address verified in
Tributary (a member's account e-mail is). Groups are resolved through the members the connector
listed for them (``GroupMember``). Never through a display name.

Asking
------
``allowed(actor)`` is what an asker may read: ``None`` (everything) only for an admin's explicit,
audited override, else a set of access-list ids, ``0`` standing for the whole workspace. Search
applies it inside both retrievers like any other filter, so limits stay full and nothing reveals
a hidden document. A member reads as themself; an API key reads as the member who created it,
unless it is a workspace service key, which reads what is workspace-wide plus what is shared
with that key.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import String, and_, bindparam, func, or_, select, union
from sqlalchemy.exc import IntegrityError

from core.actor import Actor
from core.errors import Forbidden, ValidationError
from core.extensions import db

from .models import READER_KINDS, AccessList, AccessReader, GroupMember, IdentityLink

WORKSPACE = 0  # the access "list" of a workspace-wide document in allowed sets and index columns


@dataclass(frozen=True)
class Readers:
    """Who may read a record, as a connector (or a pipeline operation) says it.

    ``workspace``: every member. Otherwise ``entries``, ``(kind, value)`` pairs of
    ``access.models.READER_KINDS``; none at all means nobody (fail closed)."""

    workspace: bool = False
    entries: frozenset = field(default_factory=frozenset)

    @classmethod
    def everyone(cls) -> "Readers":
        return cls(workspace=True)

    @classmethod
    def nobody(cls) -> "Readers":
        return cls(entries=frozenset({("nobody", "")}))

    @classmethod
    def of(cls, *entries: tuple[str, str]) -> "Readers":
        clean = frozenset((kind, str(value)) for kind, value in entries if value not in (None, ""))
        for kind, _ in clean:
            if kind not in READER_KINDS:
                raise ValueError(f"unknown reader kind {kind!r}")
        return cls(entries=clean) if clean else cls.nobody()

    @property
    def fingerprint(self) -> str:
        raw = "\n".join(f"{k}\t{v}" for k, v in sorted(self.entries))
        return hashlib.sha256(raw.encode()).hexdigest()


# -- documents: from readers to an access list ------------------------------------------------------

_lists: dict[tuple[str, str, str], int] = {}  # (database, workspace, fingerprint) -> id
_lists_lock = threading.Lock()


def access_id(workspace_id: str, readers: Readers | None) -> int | None:
    """The access list of ``readers`` in the workspace (created on first use), or None for a
    workspace-wide document. ``readers`` None means the same as workspace-wide: callers decide
    what an unknown answer means (a connection in source-permissions mode fails closed)."""
    if readers is None or readers.workspace:
        return None
    fingerprint = readers.fingerprint
    key = (db.engine.url.render_as_string(hide_password=True), workspace_id, fingerprint)
    found = _lists.get(key)
    if found is not None:
        return found
    found = db.session.scalar(select(AccessList.id).where(AccessList.workspace_id == workspace_id,
                                                          AccessList.fingerprint == fingerprint))
    if found is None:
        # In a savepoint: two writers creating the same list at once both end with its one id.
        try:
            with db.session.begin_nested():
                row = AccessList(workspace_id=workspace_id, fingerprint=fingerprint)
                db.session.add(row)
                db.session.flush()
                db.session.add_all([AccessReader(access_list_id=row.id, workspace_id=workspace_id, kind=kind,
                                                 value=value) for kind, value in sorted(readers.entries)])
                db.session.flush()
                found = row.id
        except IntegrityError:
            found = db.session.scalar(select(AccessList.id).where(AccessList.workspace_id == workspace_id,
                                                                  AccessList.fingerprint == fingerprint))
        # Not cached until the caller commits: a rolled-back list must not be handed out again.
        return found
    with _lists_lock:
        if len(_lists) > 100_000:
            _lists.clear()
        _lists[key] = found
    return found


def readers_of(access_list_id: int | None) -> Readers:
    if access_list_id is None:
        return Readers.everyone()
    rows = db.session.execute(select(AccessReader.kind, AccessReader.value)
                              .where(AccessReader.access_list_id == access_list_id)).all()
    return Readers(entries=frozenset((k, v) for k, v in rows))


def owner_only(connection_id: str) -> Readers:
    """A personal connection's documents: whoever owns the connection now."""
    return Readers.of(("connection_owner", connection_id))


# -- askers: principals and what they may read ------------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """Whose reads an actor makes: a member (``user_id``), a service key (``api_key_id``), or
    nobody in particular (workspace-wide documents only)."""

    workspace_id: str
    user_id: str | None = None
    api_key_id: str | None = None


def reader(actor: Actor) -> Reader:
    """A member reads as themself; a member's API key as its creator while they are a member;
    a service key as itself."""
    from accounts.models import ApiKey, Membership

    if actor.type == "user":
        return Reader(actor.workspace_id, user_id=actor.user_id)
    if actor.type == "api_key":
        key = db.session.get(ApiKey, actor.id)
        if key is None:
            return Reader(actor.workspace_id)
        if key.kind == "service":
            return Reader(actor.workspace_id, api_key_id=key.id)
        member = key.created_by_user_id and db.session.scalar(select(Membership.id).where(
            Membership.workspace_id == key.workspace_id, Membership.user_id == key.created_by_user_id))
        return Reader(actor.workspace_id, user_id=key.created_by_user_id if member else None)
    return Reader(actor.workspace_id)


def _lists_naming(who: Reader):
    """One statement: the access lists naming this asker, by any of its principals -- the member,
    a service key, their verified identities (the account e-mail and the identity links),
    the personal connections they own now, and the provider groups whose listed members are
    one of those identities. A union of index lookups (``ix_access_readers_principal``,
    ``ix_identity_links_user``, ``ix_group_members_member``), one round trip for the query path.
    Returns (statement, its parameters), or None when the asker has no principal."""
    if not (who.api_key_id or who.user_id):
        return None
    statement = _naming_statement(bool(who.api_key_id), bool(who.user_id))
    params = {"ws": who.workspace_id, "key": who.api_key_id, "uid": who.user_id}
    return statement, {name: value for name, value in params.items() if value is not None}


@functools.lru_cache(maxsize=4)
def _naming_statement(by_key: bool, by_user: bool):
    """``_lists_naming``'s statement, built once per shape with bound parameters: building the
    seven-way union afresh cost about as much as running it (~1 ms a query)."""
    from accounts.models import User
    from connections.models import Connection

    R, links, groups = AccessReader, IdentityLink, GroupMember
    ws, uid = bindparam("ws", type_=String), bindparam("uid", type_=String)
    mine = R.workspace_id == ws
    branches = []
    if by_key:
        branches.append(select(R.access_list_id).where(mine, R.kind == "api_key",
                                                       R.value == bindparam("key", type_=String)))
    if by_user:
        email = select(func.lower(User.email)).where(User.id == uid).scalar_subquery()
        branches += [
            select(R.access_list_id).where(mine, R.kind == "member", R.value == uid),
            select(R.access_list_id).where(mine, R.kind == "email", R.value == email),
            select(R.access_list_id).join(links, and_(links.workspace_id == ws, links.kind == R.kind,
                                                      links.value == R.value))
            .where(mine, links.user_id == uid),
            select(R.access_list_id).join(Connection, Connection.id == R.value)
            .where(mine, R.kind == "connection_owner", Connection.workspace_id == ws,
                   Connection.owner_user_id == uid, Connection.scope == "personal"),
            select(R.access_list_id).join(groups, and_(groups.workspace_id == ws, groups.group_key == R.value))
            .where(mine, R.kind == "provider_group", groups.member_kind == "email", groups.member_value == email),
            select(R.access_list_id).join(groups, and_(groups.workspace_id == ws, groups.group_key == R.value))
            .join(links, and_(links.workspace_id == ws, links.kind == groups.member_kind,
                              links.value == groups.member_value))
            .where(mine, R.kind == "provider_group", links.user_id == uid),
        ]
    return union(*branches) if len(branches) > 1 else branches[0]


def allowed(actor: Actor, *, audit_access: bool = False) -> frozenset[int] | None:
    """The access lists ``actor`` may read (``WORKSPACE`` for workspace-wide documents), or None
    for everything: an admin's explicit override, where the deployment allows it, audited."""
    if audit_access:
        require_override(actor)
        return None
    lists: set[int] = {WORKSPACE}
    naming = _lists_naming(reader(actor))
    if naming is not None:
        lists.update(db.session.scalars(*naming))
    return frozenset(lists)


def require_override(actor: Actor) -> None:
    """An admin reading past document access: off unless the deployment turns it on
    (``ACCESS_ADMIN_OVERRIDE``), only for admins, and audited by the caller's action."""
    if not current_app.config.get("ACCESS_ADMIN_OVERRIDE"):
        raise Forbidden("Reading past document access is turned off on this installation "
                        "(ACCESS_ADMIN_OVERRIDE).", code="access_override_disabled")
    if not actor.is_admin:
        raise Forbidden("Only a workspace admin can read past document access.", code="admin_required")


def readable(access_column, lists: frozenset[int] | None):
    """A SQL condition: rows whose access list (``access_column``, NULL for workspace-wide) is
    one of ``lists`` (None: every row)."""
    from sqlalchemy import false, true

    if lists is None:
        return true()
    named = sorted(i for i in lists if i)
    condition = access_column.is_(None) if WORKSPACE in lists else false()
    return or_(condition, access_column.in_(named)) if named else condition


def may_read(allowed_lists: frozenset[int] | None, document_access_id: int | None) -> bool:
    if allowed_lists is None:
        return True
    return (document_access_id or WORKSPACE) in allowed_lists


# -- verified identities ---------------------------------------------------------------------------

def link_identity(workspace_id: str, user_id: str, kind: str, value: str, *, verified_via: str) -> None:
    """Record that a provider identity is this member's (verified by ``verified_via``). An
    identity already linked to someone else keeps its link: a second claim is not proof."""
    if kind not in ("email", "provider_user"):
        raise ValidationError("An identity is an email or a provider_user.", code="invalid_identity")
    value = value.strip().lower() if kind == "email" else value.strip()
    if not value:
        return
    existing = db.session.scalar(select(IdentityLink).where(IdentityLink.workspace_id == workspace_id,
                                                            IdentityLink.kind == kind, IdentityLink.value == value))
    if existing is None:
        db.session.add(IdentityLink(workspace_id=workspace_id, user_id=user_id, kind=kind, value=value,
                                    verified_via=verified_via))


def replace_group_members(workspace_id: str, connection_id: str, groups: dict[str, set[tuple[str, str]]]) -> None:
    """A connection's provider groups as the connector lists them now (in the caller's transaction)."""
    from sqlalchemy import delete

    from core.timeutil import utcnow

    db.session.execute(delete(GroupMember).where(GroupMember.connection_id == connection_id))
    now = utcnow()
    db.session.add_all([GroupMember(workspace_id=workspace_id, connection_id=connection_id, group_key=key,
                                    member_kind=kind, member_value=value, refreshed_at=now)
                        for key, members in groups.items() for kind, value in sorted(members)])
