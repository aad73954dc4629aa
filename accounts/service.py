"""Accounts: first-run setup, sign-in with throttling, members, workspaces and API keys."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from audit.service import record
from core.actor import Actor
from core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationError
from core.extensions import db
from core.ids import new_token
from core.text import check_name, unsafe_character
from core.timeutil import utcnow

from .models import ROLES, SCOPES, ApiKey, LoginThrottle, Membership, User, Workspace

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_NAME = 120  # the columns' size
MAX_EMAIL = 254
API_KEY_PREFIX = "trb_"


def needs_setup() -> bool:
    return db.session.scalar(select(func.count()).select_from(User)) == 0


def _name(value, field: str, code: str, blank_message: str) -> str:
    """A workspace, member or API key name: not blank, at most MAX_NAME characters (the column's
    size), and the names rule of ``core.text``."""
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        raise ValidationError(f"{field} must be text.", code=code, details={"field": field})
    if not value:
        raise ValidationError(blank_message, code=code, details={"field": field})
    if len(value) > MAX_NAME:
        raise ValidationError(f"Use at most {MAX_NAME} characters.", code=code, details={"field": field})
    return check_name(value, field, code=code)


def _validate_user_fields(email: str, name: str, password: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL.match(email) or len(email) > MAX_EMAIL or unsafe_character(email):
        raise ValidationError("Enter a valid e-mail address.", code="invalid_email", details={"field": "email"})
    _name(name, "name", "invalid_name", "Enter a name.")
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"Use a password of at least {MIN_PASSWORD} characters.",
                              code="weak_password", details={"field": "password"})
    return email


def setup(*, workspace_name: str, email: str, name: str, password: str, client_address=None) -> tuple[Workspace, User]:
    """Create the first workspace and its admin. Refused once any user exists."""
    _name(workspace_name, "workspace_name", "invalid_workspace_name", "Name the workspace.")
    email = _validate_user_fields(email, name, password)
    if not needs_setup():
        raise Conflict("This installation is already set up.", code="already_set_up")
    workspace = Workspace(name=workspace_name.strip())
    user = User(email=email, name=name.strip(), password_hash=generate_password_hash(password),
                is_platform_admin=True)
    db.session.add_all([workspace, user])
    db.session.flush()
    db.session.add(Membership(workspace_id=workspace.id, user_id=user.id, role="admin"))
    actor = Actor(type="user", id=user.id, label=user.email, workspace_id=workspace.id, user_id=user.id,
                  role="admin", client_address=client_address)
    record(actor, "workspace.created", target_type="workspace", target_id=workspace.id,
           details={"name": workspace.name})
    record(actor, "member.added", target_type="user", target_id=user.id, details={"role": "admin"})
    db.session.commit()
    return workspace, user


def _throttle_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def authenticate(email: str, password: str, *, client_address=None) -> User:
    """Check a sign-in; lock the account out for a while after repeated failures.

    The lock-out is per e-mail address (known or not, so it does not reveal which exist) and
    answers ``too_many_attempts`` without checking the password at all while it lasts.
    """
    config = current_app.config
    now = utcnow()
    key = _throttle_key(email or "")
    throttle = db.session.get(LoginThrottle, key)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        retry = int((throttle.locked_until - now).total_seconds()) + 1
        known = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
        _failed_sign_in(email, known, "locked_out", client_address)
        db.session.commit()
        raise TooManyRequests("Too many failed sign-ins. Try again later.", code="too_many_attempts",
                              retry_after=retry)
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        if throttle is None:
            throttle = LoginThrottle(key=key, failures=0)
            db.session.add(throttle)
        window = timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
        if throttle.first_failure_at is None or now - throttle.first_failure_at > window:
            throttle.failures, throttle.first_failure_at = 0, now
        throttle.failures += 1
        locked = throttle.failures >= config["LOGIN_MAX_FAILURES"]
        if locked:
            throttle.locked_until = now + window
            throttle.failures, throttle.first_failure_at = 0, None
        _failed_sign_in(email, user, "bad_credentials", client_address, **({"locked": True} if locked else {}))
        db.session.commit()
        raise Unauthorized("That e-mail and password do not match.", code="invalid_login")
    if throttle:
        db.session.delete(throttle)
    user.last_login_at = now
    membership = first_membership(user.id)
    actor = Actor(type="user", id=user.id, label=user.email,
                  workspace_id=membership.workspace_id if membership else None, user_id=user.id,
                  client_address=client_address)
    record(actor, "auth.sign_in")
    db.session.commit()
    return user


def _failed_sign_in(email: str, user: User | None, reason: str, client_address, **details) -> None:
    """Audit a refused sign-in (outside any workspace: the e-mail may be no one's)."""
    anonymous = Actor(type="anonymous", id=user.id if user else None, label=(email or "")[:254],
                      workspace_id=None, client_address=client_address)
    record(anonymous, "auth.sign_in", outcome="failure", details={"reason": reason, **details})


def record_sign_out(actor: Actor) -> None:
    record(actor, "auth.sign_out")
    db.session.commit()


def memberships_of(user_id: str) -> list[Membership]:
    return list(db.session.scalars(
        select(Membership).join(Workspace).where(Membership.user_id == user_id).order_by(Workspace.name)))


def first_membership(user_id: str) -> Membership | None:
    found = memberships_of(user_id)
    return found[0] if found else None


def membership(user_id: str, workspace_id: str) -> Membership | None:
    return db.session.scalar(select(Membership).where(Membership.user_id == user_id,
                                                      Membership.workspace_id == workspace_id))


def is_member(workspace_id: str, user_id: str) -> bool:
    return membership(user_id, workspace_id) is not None


def members(workspace_id: str) -> list[tuple[User, str]]:
    rows = db.session.execute(select(User, Membership.role).join(Membership)
                              .where(Membership.workspace_id == workspace_id).order_by(User.name))
    return [(user, role) for user, role in rows]


def members_joined(workspace_id: str) -> list[tuple[User, str, object]]:
    """(user, role, when they joined) of every member, by name."""
    rows = db.session.execute(select(User, Membership.role, Membership.created_at).join(Membership)
                              .where(Membership.workspace_id == workspace_id).order_by(User.name, User.id))
    return [tuple(row) for row in rows]


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only a workspace admin can do this.", code="admin_required")


def create_workspace(actor: Actor, name: str) -> Workspace:
    """A signed-in user creates another workspace and becomes its admin."""
    _name(name, "name", "invalid_workspace_name", "Name the workspace.")
    workspace = Workspace(name=name.strip())
    db.session.add(workspace)
    db.session.flush()
    db.session.add(Membership(workspace_id=workspace.id, user_id=actor.user_id, role="admin"))
    record(actor, "workspace.created", target_type="workspace", target_id=workspace.id,
           workspace_id=workspace.id, details={"name": workspace.name})
    db.session.commit()
    return workspace


def add_member(actor: Actor, *, email: str, name: str, password: str, role: str) -> User:
    """An admin adds a member: a new account with a first password, or an existing user."""
    require_admin(actor)
    if role not in ROLES:
        raise ValidationError("Role is admin or member.", code="invalid_role", details={"field": "role"})
    existing = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if existing is None:
        email = _validate_user_fields(email, name, password)
        existing = User(email=email, name=name.strip(), password_hash=generate_password_hash(password))
        db.session.add(existing)
        db.session.flush()
    elif is_member(actor.workspace_id, existing.id):
        raise Conflict("That person is already a member of this workspace.", code="already_member")
    db.session.add(Membership(workspace_id=actor.workspace_id, user_id=existing.id, role=role))
    record(actor, "member.added", target_type="user", target_id=existing.id, details={"role": role})
    db.session.commit()
    return existing


def _lock_members(workspace_id: str) -> None:
    """Serialize membership changes of one workspace, so two admins demoting each other at once
    cannot both pass the last-admin check: a no-op write of the workspace row holds its row lock
    (PostgreSQL) or the database's write lock (SQLite, whose driver runs a plain SELECT outside
    any transaction, so SELECT ... FOR UPDATE would not do) until this change commits."""
    db.session.execute(update(Workspace).where(Workspace.id == workspace_id).values(name=Workspace.name))


def _member_of(actor: Actor, user_id) -> Membership:
    """The membership of ``user_id`` in the actor's workspace; another workspace's member is the
    same not_found as nobody."""
    found = membership(user_id, actor.workspace_id) if isinstance(user_id, str) else None
    if found is None:
        raise NotFound("There is no such member in this workspace.", details={"user_id": user_id})
    return found


def _admin_count(workspace_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Membership).where(
        Membership.workspace_id == workspace_id, Membership.role == "admin"))


def _refuse_last_admin(member: Membership, doing: str) -> None:
    if member.role == "admin" and _admin_count(member.workspace_id) <= 1:
        raise Conflict(f"{member.user.name} is this workspace's only admin and cannot be {doing}: "
                       "make another member an admin first.", code="last_admin",
                       details={"user_id": member.user_id})


def change_role(actor: Actor, user_id: str, role: str) -> Membership:
    """An admin makes a member an admin or an admin a member; the last admin stays one."""
    require_admin(actor)
    if role not in ROLES:
        raise ValidationError("Role is admin or member.", code="invalid_role", details={"field": "role"})
    _lock_members(actor.workspace_id)
    member = _member_of(actor, user_id)
    if member.role == role:
        return member
    if role != "admin":
        _refuse_last_admin(member, "made a member")
    previous, member.role = member.role, role
    record(actor, "member.role_changed", target_type="user", target_id=member.user_id,
           details={"from": previous, "to": role})
    db.session.commit()
    return member


def remove_member(actor: Actor, user_id: str) -> dict:
    """An admin removes someone from the workspace (their account stays, as do the workspace's
    connections, keys and documents); the last admin cannot be removed.

    The member's personal connections here (their mailbox) are disconnected in the same
    transaction: a personal connection is its owner's, and the owner is leaving. Returns the
    removed member's id, name and the connections disconnected.
    """
    from connections import service as connections

    require_admin(actor)
    _lock_members(actor.workspace_id)
    member = _member_of(actor, user_id)
    _refuse_last_admin(member, "removed")
    user = member.user
    disconnected, revocations = connections.disconnect_personal_of(actor, user.id)
    db.session.delete(member)
    record(actor, "member.removed", target_type="user", target_id=user.id,
           details={"role": member.role, "personal_connections_disconnected": disconnected})
    db.session.commit()
    connections.revoke_after_commit(revocations)
    return {"user_id": user.id, "name": user.name, "email": user.email, "disconnected_connection_ids": disconnected}


def personal_connections_of(workspace_id: str, user_id: str) -> list:
    """What removing this member would disconnect (the confirmation says it)."""
    from connections.models import Connection

    return list(db.session.scalars(select(Connection).where(
        Connection.workspace_id == workspace_id, Connection.owner_user_id == user_id,
        Connection.scope == "personal", Connection.status != "disconnected").order_by(Connection.name)))


# -- API keys -----------------------------------------------------------------------------

def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


KEY_KINDS = ("member", "service")


def create_api_key(actor: Actor, *, name: str, scopes: list[str], kind: str = "member") -> tuple[ApiKey, str]:
    """Create a key; the clear key is returned once and only its hash is stored.

    ``kind``: a ``member`` key reads what its creator may read; a ``service`` key (a workspace
    key for a shared integration) reads workspace-wide documents only, plus those shared with
    it, whoever created it."""
    require_admin(actor)
    if kind not in KEY_KINDS:
        raise ValidationError("kind is member (reads as you) or service (reads workspace-wide documents only).",
                              code="invalid_key_kind", details={"field": "kind", "allowed": list(KEY_KINDS)})
    _name(name, "name", "invalid_name", "Name the key so you can tell it apart later.")
    scopes = sorted(set(scopes or []))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise ValidationError("Choose one or more valid scopes.", code="invalid_scopes",
                              details={"allowed": list(SCOPES), "unknown": unknown})
    clear = API_KEY_PREFIX + new_token(32)
    key = ApiKey(workspace_id=actor.workspace_id, name=name.strip(), prefix=clear[:12],
                 key_hash=hash_api_key(clear), scopes=scopes, created_by_user_id=actor.user_id, kind=kind)
    db.session.add(key)
    db.session.flush()
    record(actor, "api_key.created", target_type="api_key", target_id=key.id,
           details={"name": key.name, "scopes": scopes, "kind": kind})
    db.session.commit()
    return key, clear


def list_api_keys(workspace_id: str) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id)
                                   .order_by(ApiKey.created_at.desc())))


def revoke_api_key(actor: Actor, key_id: str) -> ApiKey:
    require_admin(actor)
    key = db.session.get(ApiKey, key_id)
    if key is None or key.workspace_id != actor.workspace_id:
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(actor, "api_key.revoked", target_type="api_key", target_id=key.id, details={"name": key.name})
        db.session.commit()
    return key


def actor_for_api_key(clear: str, *, client_address=None) -> Actor:
    """Authenticate a bearer key; raises ``Unauthorized`` for unknown or revoked keys."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(clear or "")))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is missing, unknown or revoked.", code="invalid_api_key")
    now = utcnow()
    # Write last_used_at at most once a minute: a busy key must not turn every read into a write.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
        db.session.commit()
    creator_admin = False
    if key.created_by_user_id:
        creator = db.session.get(User, key.created_by_user_id)
        creator_admin = bool(creator and creator.is_platform_admin and "admin" in key.scopes)
    return Actor(type="api_key", id=key.id, label=key.name, workspace_id=key.workspace_id,
                 scopes=frozenset(key.scopes), client_address=client_address,
                 is_platform_admin=creator_admin)


def check_scope(actor: Actor, scope: str) -> None:
    """Refuse a key without ``scope`` (``admin`` holds every scope): the same error on every
    surface that takes keys (the JSON API, MCP)."""
    if not actor.has_scope(scope):
        raise Forbidden(f"This API key lacks the {scope!r} scope.", code="insufficient_scope",
                        details={"required_scope": scope, "key_scopes": sorted(actor.scopes)})


def user_actor(user: User, workspace_id: str, role: str, *, client_address=None) -> Actor:
    return Actor(type="user", id=user.id, label=user.email, workspace_id=workspace_id, user_id=user.id,
                 role=role, client_address=client_address, is_platform_admin=user.is_platform_admin)
