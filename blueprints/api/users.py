"""/api/v1/users: the workspace's members and invitations (the ``admin`` scope).

Members are listed with their role, when they joined and when they last signed in; an invitation
is created, listed while pending and revoked here; a member's role is changed and a member
removed (the last admin can be neither). Every change is audited by the domain
(``accounts.service``, ``accounts.invitations``).
"""
from __future__ import annotations

from typing import Annotated, Literal

from flask import current_app, request
from pydantic import Field, ValidatorFunctionWrapHandler, WrapValidator

from accounts import invitations, service as accounts
from accounts.models import ROLES
from core.requests import refuse
from core.timeutil import isoformat

from . import bp
from .account import ADMIN_ONLY, Closed, respond
from .auth import current_actor
from .endpoints import Ok, RequestModel, endpoint

TAG = "Users"
Role = Literal["admin", "member"]
Timestamp = {"format": "date-time"}
USER_ID_EXAMPLE = "usr_xcfarsgfkzypkol4"
INVITATION_ID_EXAMPLE = "inv_q2w8e4r6t1y3u5i7"


def _role(value, handler: ValidatorFunctionWrapHandler):
    """A role: a string that is not one is ``invalid_role`` (naming the allowed), as the domain says it."""
    if isinstance(value, str) and value not in ROLES:
        raise refuse("invalid_role", "Role is admin or member.", allowed=list(ROLES))
    return handler(value)


RoleField = Annotated[Role, WrapValidator(_role)]


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


class InviteRequest(RequestModel):
    email: Annotated[str, Field(max_length=254, description="The address to invite.")]
    role: Annotated[RoleField | None, Field(description="The role they get on accepting (`null`: `member`).")] = "member"


class InviteResponse(Closed):
    invitation: Invitation
    delivery: Literal["email", "link"] = Field(description="`email`: sent over the configured SMTP server; `link`: "
                                                           "not sent (no SMTP configured, or the server refused it), "
                                                           "pass `invitation_url` on yourself.")
    invitation_url: str | None = Field(description="The link, this once, when it was not e-mailed; null when it was.")


class RoleUpdate(RequestModel):
    role: RoleField


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


def base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or request.url_root


def _param(name: str, description: str, example: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "examples": [example]}}


USER_ID = _param("user_id", "A member's user id. A user of another workspace, or nobody, is `404 not_found` alike.",
                 USER_ID_EXAMPLE)
INVITATION_ID = _param("invitation_id", "An invitation id. Another workspace's invitation, or none, is "
                                        "`404 not_found` alike.", INVITATION_ID_EXAMPLE)
NOT_FOUND_MEMBER = ("not_found", "There is no such member in the key's workspace (a user of another workspace "
                                 "gets exactly the same answer).")


def _member_example(**overrides) -> dict:
    return {"id": USER_ID_EXAMPLE, "email": "ada@acme.example", "name": "Ada Admin", "role": "admin",
            "joined_at": "2026-11-02T09:00:00Z", "last_sign_in_at": "2026-12-06T08:12:40Z", **overrides}


def _invitation_example(**overrides) -> dict:
    return {"id": INVITATION_ID_EXAMPLE, "email": "bob@acme.example", "role": "member",
            "created_at": "2026-12-06T10:00:00Z", "expires_at": "2026-12-13T10:00:00Z",
            "invited_by": USER_ID_EXAMPLE, "last_sent_at": None, **overrides}


@endpoint(bp, "GET", "/users", operation_id="listUsers", tag=TAG, scope="admin",
          summary="Members and pending invitations",
          behaviour="The workspace's members by name, with their role, when they joined and when they last signed "
                    "in, and the invitations still pending (not accepted, revoked or expired), newest first. "
                    + ADMIN_ONLY,
          responses={200: Ok("Members and invitations.", UserList, example={
              "users": [_member_example()], "invitations": [_invitation_example()]})})
def list_users():
    """The workspace's members and pending invitations."""
    actor = current_actor()
    return respond(UserList, {"users": [member_view(*row) for row in accounts.members_joined(actor.workspace_id)],
                              "invitations": [invitation_view(i) for i in invitations.pending(actor.workspace_id)]})


@endpoint(bp, "POST", "/users/invite", operation_id="inviteUser", tag=TAG, scope="admin",
          summary="Invite someone by e-mail address",
          behaviour="Creates an invitation of `email` (trimmed, lower-cased) with `role` (default `member`). The "
                    "link works once, until `expires_at` (`INVITATION_TTL_DAYS`, 7 days by default), and not after "
                    "it is revoked; only a hash of its token is stored. With SMTP configured it is e-mailed "
                    "(`delivery: email`); otherwise (or when the mail server refuses it) `invitation_url` carries "
                    "the link, this once, to pass on (`delivery: link`). The person opens it, sets a password (or "
                    "signs in to the account the address has) and is a member. Inviting an address with a pending "
                    "invitation replaces it (the earlier link stops working). Audited (`invitation.created`). "
                    + ADMIN_ONLY,
          body=InviteRequest, body_examples={"member": {"value": {"email": "bob@acme.example", "role": "member"}}},
          responses={201: Ok("Invited.", InviteResponse, example={
              "invitation": _invitation_example(), "delivery": "link",
              "invitation_url": "https://tributary.acme.example/invitations/Qm9i...c3Q"})},
          errors={409: ["already_member"],
                  422: [("missing_field", "`email` is absent, `null` or blank; `details.field` names it."),
                        ("invalid_field", "`email` is not a string or longer than 254 characters, or `role` is not "
                                          "a string; `details.field` names it."),
                        ("unknown_field", "The body has a field other than `email` and `role`; `details.field` "
                                          "names it."),
                        "invalid_email", "invalid_role"]})
def invite_user(body: InviteRequest):
    """Invite an e-mail address into the workspace with a role."""
    invitation, token, sent = invitations.invite(current_actor(), email=body.email, role=body.role or "member",
                                                 base_url=base_url())
    return respond(InviteResponse, {"invitation": invitation_view(invitation), "delivery": "email" if sent else "link",
                                    "invitation_url": None if sent else invitations.link(base_url(), token)}, 201)


@endpoint(bp, "PATCH", "/users/<id(prefix='usr'):user_id>", path_parameters=[USER_ID],
          operation_id="changeUserRole", tag=TAG, scope="admin", summary="Change a member's role",
          behaviour="Makes a member an admin or an admin a member. The workspace's only admin cannot be made "
                    "a member (`409 last_admin`); changes are serialized per workspace, so two admins "
                    "demoting each other at once cannot both succeed. Setting the role a member has changes "
                    "nothing. Audited (`member.role_changed`). " + ADMIN_ONLY,
          body=RoleUpdate, body_examples={"promote": {"value": {"role": "admin"}}},
          responses={200: Ok("The member as they are now.", Member, example=_member_example())},
          errors={404: [NOT_FOUND_MEMBER], 409: ["last_admin"],
                  422: [("missing_field", "`role` is absent, `null` or blank; `details.field` names it."),
                        ("invalid_field", "A field is not a string; `details.field` names it."),
                        ("unknown_field", "The body has a field other than those listed; `details.field` "
                                          "names it."),
                        "invalid_role"]})
def change_user_role(user_id, body: RoleUpdate):
    """Change a member's role; the last admin stays one."""
    member = accounts.change_role(current_actor(), user_id, body.role)
    return respond(Member, member_view(member.user, member.role, member.created_at))


@endpoint(bp, "DELETE", "/users/<id(prefix='usr'):user_id>", path_parameters=[USER_ID],
          operation_id="removeUser", tag=TAG, scope="admin", summary="Remove a member",
          behaviour="Removes the member from the workspace: their account stays (they may belong to other "
                    "workspaces), as do the workspace's connections, keys and documents; their personal "
                    "connections here are disconnected in the same transaction. The only admin cannot be "
                    "removed (`409 last_admin`). Audited (`member.removed`). " + ADMIN_ONLY,
          responses={200: Ok("Removed.", MemberRemoved, example={
              "removed": True, "user_id": USER_ID_EXAMPLE, "disconnected_connection_ids": []})},
          errors={404: [NOT_FOUND_MEMBER], 409: ["last_admin"]})
def remove_user(user_id):
    """Remove a member from the workspace; the last admin cannot be removed."""
    removed = accounts.remove_member(current_actor(), user_id)
    return respond(MemberRemoved, {"removed": True, "user_id": removed["user_id"],
                                   "disconnected_connection_ids": removed["disconnected_connection_ids"]})


@endpoint(bp, "DELETE", "/users/invitations/<id(prefix='inv'):invitation_id>", path_parameters=[INVITATION_ID],
          operation_id="revokeInvitation", tag=TAG, scope="admin", summary="Revoke an invitation",
          behaviour="Its link stops working at once. Revoking an invitation that is no longer pending "
                    "(accepted, revoked, expired) changes nothing and answers the same. Audited "
                    "(`invitation.revoked`). " + ADMIN_ONLY,
          responses={200: Ok("Revoked.", InvitationRevoked, example={
              "revoked": True, "invitation": _invitation_example()})},
          errors={404: [("not_found", "There is no such invitation in the key's workspace (another "
                                      "workspace's gets exactly the same answer).")]})
def revoke_invitation(invitation_id):
    """Revoke a pending invitation: its link stops working."""
    invitation = invitations.revoke(current_actor(), invitation_id)
    return respond(InvitationRevoked, {"revoked": True, "invitation": invitation_view(invitation)})
