"""Invitations: an admin invites an e-mail address into the workspace with a role; the person
opens the link, sets a password (or signs in to the account they have) and is a member.

A link works once, until it expires (``INVITATION_TTL_DAYS``, 7 by default), and not after it is
revoked; a resend draws a new token, so only the latest link works. Only the token's SHA-256 is
stored. Every step is audited in the transaction of the change. An unknown, used, expired or
revoked link gets one answer (``invitation_invalid``), so a link reveals nothing about others.

Expiry: the hourly housekeeping (``sweep_expired``) marks each invitation that expired unused
(``expired_at``) and records ``invitation.expired`` for it, so the audit trail says when a link
lapsed, not only when it was made. The Members page lists an expired invitation as *Expired*
for ``EXPIRED_SHOWN`` (30 days) after its expiry, beside the pending ones, because an admin who
invited someone expects to see that the person never joined rather than have the row vanish;
there, Resend re-issues it (a new link with a fresh expiry, ``invitation.resent`` with
``details.reissued: true``) and Remove revokes it. Inviting the address again replaces it.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from audit.service import record
from core.actor import Actor
from core.errors import Conflict, NotFound, Unauthorized, ValidationError
from core.extensions import db
from core.ids import new_token
from core.timeutil import isoformat, utcnow

from . import mail
from .models import ROLES, Invitation, Membership, User, Workspace
from .service import (EMAIL, MAX_EMAIL, _lock_members, _validate_user_fields, authenticate, is_member, require_admin,
                      user_actor)

log = logging.getLogger(__name__)
INVITATION_PATH = "/invitations/"  # + the token: the console's accept page
EXPIRED_SHOWN = timedelta(days=30)  # the Members page lists an expired invitation this long


def _hash(token: str) -> str:
    return hashlib.sha256((token or "").encode("utf-8")).hexdigest()


def _email(value) -> str:
    email = value.strip().lower() if isinstance(value, str) else ""
    if not EMAIL.match(email) or len(email) > MAX_EMAIL:
        raise ValidationError("Enter a valid e-mail address.", code="invalid_email", details={"field": "email"})
    return email


def _role(value) -> str:
    if value not in ROLES:
        raise ValidationError("Role is admin or member.", code="invalid_role",
                              details={"field": "role", "allowed": list(ROLES)})
    return value


def is_pending(invitation: Invitation, now=None) -> bool:
    now = now or utcnow()
    return invitation.accepted_at is None and invitation.revoked_at is None and invitation.expires_at > now


def is_expired(invitation: Invitation, now=None) -> bool:
    """Expired unused: neither accepted nor revoked, past its expiry (swept or not yet)."""
    now = now or utcnow()
    return invitation.accepted_at is None and invitation.revoked_at is None and invitation.expires_at <= now


def pending(workspace_id: str) -> list[Invitation]:
    """The workspace's invitations still waiting (not accepted, revoked or expired), newest first."""
    now = utcnow()
    return list(db.session.scalars(select(Invitation).where(
        Invitation.workspace_id == workspace_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > now).order_by(Invitation.created_at.desc(), Invitation.id)))


def listed(workspace_id: str, *, now=None) -> list[Invitation]:
    """The Members page's invitations: the pending ones, newest first, then those that expired
    unused within ``EXPIRED_SHOWN``, most recently expired first (``is_pending`` tells them apart)."""
    now = now or utcnow()
    expired = list(db.session.scalars(select(Invitation).where(
        Invitation.workspace_id == workspace_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at <= now, Invitation.expires_at > now - EXPIRED_SHOWN)
        .order_by(Invitation.expires_at.desc(), Invitation.id)))
    return pending(workspace_id) + expired


def _open_for(workspace_id: str, email: str) -> list[Invitation]:
    """The address's invitations neither accepted nor revoked (pending or expired)."""
    return list(db.session.scalars(select(Invitation).where(
        Invitation.workspace_id == workspace_id, Invitation.email == email, Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None)).order_by(Invitation.created_at, Invitation.id)))


def sweep_expired(*, now=None, batch: int = 500) -> int:
    """Mark every invitation that expired unused and record ``invitation.expired`` for it (by the
    system, in the workspace's audit chain), in the same transaction; run by the hourly
    housekeeping. Returns how many were marked. Idempotent: a marked invitation is not marked
    again, and one re-issued by a resend meanwhile (a new expiry) is left alone, because the
    marking ``UPDATE`` checks the row's state again."""
    from sqlalchemy import update

    from core.actor import system_actor

    now = now or utcnow()
    marked = 0
    while True:
        rows = db.session.execute(select(Invitation.id, Invitation.workspace_id, Invitation.email, Invitation.role,
                                         Invitation.expires_at).where(
            Invitation.expired_at.is_(None), Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
            Invitation.expires_at <= now).order_by(Invitation.expires_at, Invitation.id).limit(batch)).all()
        if not rows:
            return marked
        for row in rows:
            changed = db.session.execute(update(Invitation).where(
                Invitation.id == row.id, Invitation.expired_at.is_(None), Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None), Invitation.expires_at <= now).values(expired_at=now)
                .execution_options(synchronize_session=False)).rowcount
            if changed:
                record(system_actor(row.workspace_id), "invitation.expired", workspace_id=row.workspace_id,
                       target_type="invitation", target_id=row.id,
                       details={"email": row.email, "role": row.role, "expires_at": isoformat(row.expires_at)})
                marked += 1
        db.session.commit()
        if len(rows) < batch:
            return marked


def link(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + INVITATION_PATH + token


def _ttl() -> timedelta:
    return timedelta(days=float(current_app.config["INVITATION_TTL_DAYS"]))


def _deliver(invitation: Invitation, token: str, base_url: str, inviter: str) -> bool:
    """E-mail the link when SMTP is configured; True when it was sent. A delivery failure is not
    the invitation's: it stays, and the admin gets the link to pass on instead."""
    if not mail.configured():
        return False
    try:
        mail.send_invitation(to=invitation.email, workspace=invitation.workspace.name, role=invitation.role,
                             url=link(base_url, token), inviter=inviter, expires_at=invitation.expires_at)
    except mail.MailError:
        log.warning("could not e-mail the invitation %s", invitation.id, exc_info=True)
        return False
    invitation.last_sent_at = utcnow()
    invitation.send_count += 1
    return True


def invite(actor: Actor, *, email, role="member", base_url: str) -> tuple[Invitation, str, bool]:
    """Invite ``email`` as ``role``. Returns the invitation, the link's token (for the admin to
    pass on when it was not e-mailed; never stored) and whether it was e-mailed.

    An address that is already a member is ``409 already_member``; inviting an address that has
    a pending invitation replaces it (the earlier link stops working), so one address has one
    live link per workspace."""
    require_admin(actor)
    email, role = _email(email), _role(role)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None and is_member(actor.workspace_id, user.id):
        raise Conflict("That person is already a member of this workspace.", code="already_member",
                       details={"user_id": user.id})
    now = utcnow()
    for earlier in _open_for(actor.workspace_id, email):  # pending or expired: one row per address
        earlier.revoked_at = now
        record(actor, "invitation.revoked", target_type="invitation", target_id=earlier.id,
               details={"email": email, "reason": "replaced"})
    token = new_token(32)
    invitation = Invitation(workspace_id=actor.workspace_id, email=email, role=role, token_hash=_hash(token),
                            invited_by_user_id=actor.user_id,
                            invited_by_api_key_id=actor.id if actor.type == "api_key" else None,
                            created_at=now, expires_at=now + _ttl(), send_count=0)
    db.session.add(invitation)
    db.session.flush()
    sent = _deliver(invitation, token, base_url, actor.label or "An admin")
    record(actor, "invitation.created", target_type="invitation", target_id=invitation.id,
           details={"email": email, "role": role, "delivery": "email" if sent else "link"})
    db.session.commit()
    return invitation, token, sent


def _own(actor: Actor, invitation_id) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id) if isinstance(invitation_id, str) else None
    if invitation is None or invitation.workspace_id != actor.workspace_id:
        raise NotFound("There is no such invitation in this workspace.", details={"id": invitation_id})
    return invitation


def resend(actor: Actor, invitation_id: str, *, base_url: str) -> tuple[Invitation, str, bool]:
    """A new link for a pending invitation (the old one stops working), with a fresh expiry; for
    one that expired unused, the same: it is re-issued and pending again."""
    require_admin(actor)
    invitation = _own(actor, invitation_id)
    now = utcnow()
    if not (is_pending(invitation, now) or is_expired(invitation, now)):
        raise Conflict("This invitation was accepted or revoked: invite the address again.",
                       code="invitation_not_pending", details={"id": invitation.id})
    reissued = is_expired(invitation, now)
    token = new_token(32)
    invitation.token_hash, invitation.expires_at, invitation.expired_at = _hash(token), now + _ttl(), None
    sent = _deliver(invitation, token, base_url, actor.label or "An admin")
    record(actor, "invitation.resent", target_type="invitation", target_id=invitation.id,
           details={"email": invitation.email, "delivery": "email" if sent else "link",
                    **({"reissued": True} if reissued else {})})
    db.session.commit()
    return invitation, token, sent


def revoke(actor: Actor, invitation_id: str) -> Invitation:
    """Revoke a pending invitation: its link stops working. Revoking one that expired unused
    removes it from the Members page (``details.reason: expired``). Revoking one that was
    accepted or revoked changes nothing (and is not an error)."""
    require_admin(actor)
    invitation = _own(actor, invitation_id)
    now = utcnow()
    if is_pending(invitation, now) or is_expired(invitation, now):
        details = {"email": invitation.email, **({"reason": "expired"} if is_expired(invitation, now) else {})}
        invitation.revoked_at = now
        record(actor, "invitation.revoked", target_type="invitation", target_id=invitation.id, details=details)
        db.session.commit()
    return invitation


def _invalid() -> Unauthorized:
    return Unauthorized("This invitation link is not valid: it was used, revoked or has expired, or it is "
                        "incomplete. Ask an admin of the workspace for a new one.", code="invitation_invalid")


def find(token: str) -> Invitation:
    """The pending invitation of a link's token, else ``invitation_invalid``."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if invitation is None or not is_pending(invitation):
        raise _invalid()
    return invitation


def existing_account(invitation: Invitation) -> User | None:
    return db.session.scalar(select(User).where(User.email == invitation.email))


def accept(token: str, *, name: str = "", password: str = "", signed_in: User | None = None,
           client_address=None) -> tuple[User, Membership]:
    """Accept an invitation: into a new account (``name`` and a new ``password``), or the
    account the address already has (signed in as it, or its ``password``). Single use: the
    invitation row is locked and checked again in the accepting transaction."""
    invitation = find(token)
    account = existing_account(invitation)
    if account is not None and (signed_in is None or signed_in.id != account.id):
        # The account's own sign-in: throttled and audited like the sign-in page (a link is no
        # way around the lock-out), before anything is locked or written.
        authenticate(invitation.email, password, client_address=client_address)
    _lock_members(invitation.workspace_id)
    invitation = db.session.scalar(select(Invitation).where(Invitation.id == invitation.id)
                                   .with_for_update().execution_options(populate_existing=True))
    if not is_pending(invitation):
        raise _invalid()
    user = existing_account(invitation)
    if user is None:
        email = _validate_user_fields(invitation.email, name, password)
        user = User(email=email, name=name.strip(), password_hash=generate_password_hash(password))
        db.session.add(user)
        db.session.flush()
    now = utcnow()
    user.last_login_at = now
    membership = None
    if not is_member(invitation.workspace_id, user.id):
        membership = Membership(workspace_id=invitation.workspace_id, user_id=user.id, role=invitation.role)
        db.session.add(membership)
    invitation.accepted_at, invitation.accepted_by_user_id = now, user.id
    actor = user_actor(user, invitation.workspace_id, invitation.role, client_address=client_address)
    record(actor, "invitation.accepted", target_type="invitation", target_id=invitation.id,
           details={"email": invitation.email, "role": invitation.role})
    record(actor, "member.added", target_type="user", target_id=user.id,
           details={"role": invitation.role, "via": "invitation", "invitation_id": invitation.id})
    db.session.commit()
    return user, membership or db.session.scalar(select(Membership).where(
        Membership.workspace_id == invitation.workspace_id, Membership.user_id == user.id))


def workspace_of(invitation: Invitation) -> Workspace:
    return db.session.get(Workspace, invitation.workspace_id)
