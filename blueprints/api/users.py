"""/api/v1/users: the workspace's members and invitations (the ``admin`` scope).

Members are listed with their role, when they joined and when they last signed in; an invitation
is created, listed while pending and revoked here; a member's role is changed and a member
removed (the last admin can be neither). Every change is audited by the domain
(``accounts.service``, ``accounts.invitations``).
"""
from __future__ import annotations

from typing import Literal

from flask import current_app, request
from pydantic import BaseModel, ConfigDict, Field

from accounts import invitations, service as accounts
from core.errors import ValidationError
from core.timeutil import isoformat

from . import bp
from .account import Closed, respond
from .auth import current_actor, require_scope
from .body import json_body

Role = Literal["admin", "member"]
Timestamp = {"format": "date-time"}


class Member(Closed):
    id: str = Field(description="The user's id (`usr_...`).")
    email: str
    name: str
    role: Role
    joined_at: str = Field(json_schema_extra=Timestamp, description="When they became a member of this workspace.")
    last_sign_in_at: str | None = Field(json_schema_extra=Timestamp, description="Their last sign-in to the console "
                                                                                 "(any workspace); null if never.")


class Invitation(Closed):
    id: str = Field(description="The invitation's id (`inv_...`).")
    email: str
    role: Role
    created_at: str = Field(json_schema_extra=Timestamp)
    expires_at: str = Field(json_schema_extra=Timestamp)
    invited_by: str | None = Field(description="The inviting member's user id, or the API key's id.")
    last_sent_at: str | None = Field(json_schema_extra=Timestamp, description="When it was last e-mailed; null if "
                                                                              "it was never e-mailed.")


class UserList(Closed):
    users: list[Member] = Field(description="The members, by name.")
    invitations: list[Invitation] = Field(description="Invitations still pending (not accepted, revoked or "
                                                      "expired), newest first.")


class InviteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254, description="The address to invite.")
    role: Role = Field("member", description="The role they get on accepting.")


class InviteResponse(Closed):
    invitation: Invitation
    delivery: Literal["email", "link"] = Field(description="`email`: sent over the configured SMTP server; `link`: "
                                                           "not sent (no SMTP configured, or the server refused it), "
                                                           "pass `invitation_url` on yourself.")
    invitation_url: str | None = Field(description="The link, this once, when it was not e-mailed; null when it was.")


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class MemberRemoved(Closed):
    removed: Literal[True]
    user_id: str
    disconnected_connection_ids: list[str] = Field(description="Their personal connections in this workspace, "
                                                               "disconnected with their membership.")


class InvitationRevoked(Closed):
    revoked: Literal[True]
    invitation: Invitation


def member_view(user, role, joined_at) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": role, "joined_at": isoformat(joined_at),
            "last_sign_in_at": isoformat(user.last_login_at)}


def invitation_view(invitation) -> dict:
    return {"id": invitation.id, "email": invitation.email, "role": invitation.role,
            "created_at": isoformat(invitation.created_at), "expires_at": isoformat(invitation.expires_at),
            "invited_by": invitation.invited_by_user_id or invitation.invited_by_api_key_id,
            "last_sent_at": isoformat(invitation.last_sent_at)}


def _fields(body: dict, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict:
    """The body's fields: none unknown (``unknown_field``), the required present, strings."""
    for name in body:
        if name not in allowed:
            raise ValidationError(f"{name} is not a field of this request.", code="unknown_field",
                                  details={"field": name})
    for name in allowed:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if name in required:
                raise ValidationError(f"{name} is required.", code="missing_field", details={"field": name})
            continue
        if not isinstance(value, str):
            raise ValidationError(f"{name} must be a string.", code="invalid_field", details={"field": name})
    return body


def base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or request.url_root


@bp.get("/users")
@require_scope("admin")
def list_users():
    """The workspace's members and pending invitations."""
    actor = current_actor()
    return respond(UserList, {"users": [member_view(*row) for row in accounts.members_joined(actor.workspace_id)],
                              "invitations": [invitation_view(i) for i in invitations.pending(actor.workspace_id)]})


@bp.post("/users/invite")
@require_scope("admin")
def invite_user():
    """Invite an e-mail address into the workspace with a role."""
    body = _fields(json_body(), ("email", "role"), ("email",))
    invitation, token, sent = invitations.invite(current_actor(), email=body["email"],
                                                 role=body.get("role") or "member", base_url=base_url())
    return respond(InviteResponse, {"invitation": invitation_view(invitation), "delivery": "email" if sent else "link",
                                    "invitation_url": None if sent else invitations.link(base_url(), token)}, 201)


@bp.patch("/users/<id(prefix='usr'):user_id>")
@require_scope("admin")
def change_user_role(user_id):
    """Change a member's role; the last admin stays one."""
    body = _fields(json_body(), ("role",), ("role",))
    actor = current_actor()
    member = accounts.change_role(actor, user_id, body["role"])
    return respond(Member, member_view(member.user, member.role, member.created_at))


@bp.delete("/users/<id(prefix='usr'):user_id>")
@require_scope("admin")
def remove_user(user_id):
    """Remove a member from the workspace; the last admin cannot be removed."""
    removed = accounts.remove_member(current_actor(), user_id)
    return respond(MemberRemoved, {"removed": True, "user_id": removed["user_id"],
                                   "disconnected_connection_ids": removed["disconnected_connection_ids"]})


@bp.delete("/users/invitations/<id(prefix='inv'):invitation_id>")
@require_scope("admin")
def revoke_invitation(invitation_id):
    """Revoke a pending invitation: its link stops working."""
    invitation = invitations.revoke(current_actor(), invitation_id)
    return respond(InvitationRevoked, {"revoked": True, "invitation": invitation_view(invitation)})
