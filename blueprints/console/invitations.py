"""Invitations in the console: admins invite, resend and revoke on the Members page; the invited
person opens the link, sets a password (or signs in to the account the address has) and lands in
the workspace."""
from flask import current_app, flash, g, redirect, render_template, request, url_for

from accounts import invitations
from core.errors import DomainError

from . import bp
from .auth import _sign_in
from .session import login_required
from .settings import _members_page


def _base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or request.url_root


def _after_invitation(invitation, token, sent, verb):
    """E-mailed: say so. Not: the Members page with the link, this once (never stored clear)."""
    if sent:
        flash(f"{verb} the invitation to {invitation.email}: it was e-mailed.", "success")
        return redirect(url_for("console.members"), 303)
    response = _members_page(invitation_link={"email": invitation.email, "url": invitations.link(_base_url(), token),
                                              "expires_at": invitation.expires_at, "verb": verb})
    response.headers["Cache-Control"] = "no-store"  # the link is on this page, once
    return response


def _invitation_step(step, verb: str):
    """Run an invitation ``step`` (it returns the invitation, its token and whether it was
    e-mailed); its refusal shows on the Members page."""
    try:
        invitation, token, sent = step()
    except DomainError as exc:
        return _members_page(invite_error=exc, status=exc.status)
    return _after_invitation(invitation, token, sent, verb)


@bp.post("/settings/members/invite")
@login_required
def invite_member():
    """Invite an e-mail address with a role."""
    return _invitation_step(lambda: invitations.invite(g.actor, email=request.form.get("email", ""),
                                                       role=request.form.get("role", "member"),
                                                       base_url=_base_url()), "Created")


@bp.post("/settings/invitations/<id(prefix='inv'):invitation_id>/resend")
@login_required
def resend_invitation(invitation_id):
    """A new link for a pending invitation (the previous one stops working), or re-issue an
    expired one."""
    return _invitation_step(lambda: invitations.resend(g.actor, invitation_id, base_url=_base_url()), "Renewed")


@bp.post("/settings/invitations/<id(prefix='inv'):invitation_id>/revoke")
@login_required
def revoke_invitation(invitation_id):
    """Revoke a pending invitation (its link stops working), or remove one that expired."""
    expired = invitations.is_expired(invitations._own(g.actor, invitation_id)) if g.actor.is_admin else False
    invitation = invitations.revoke(g.actor, invitation_id)
    flash(f"Removed the expired invitation of {invitation.email}." if expired
          else f"Revoked the invitation of {invitation.email}: its link no longer works.", "success")
    return redirect(url_for("console.members"), 303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    """The invited person's page: join with a new password, or with the account they have."""
    try:
        invitation = invitations.find(token)
    except DomainError as exc:
        response = current_app.make_response((render_template("error.html", status=exc.status, code=exc.code,
                                                              message=exc.message), 404))
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    account = invitations.existing_account(invitation)
    signed_in_as_account = account is not None and g.user is not None and g.user.id == account.id
    error = None
    if request.method == "POST":
        try:
            user, membership = invitations.accept(token, name=request.form.get("name", ""),
                                                  password=request.form.get("password", ""),
                                                  signed_in=g.user, client_address=request.remote_addr)
        except DomainError as exc:
            error = exc
        else:
            _sign_in(user.id, membership.workspace_id)
            flash(f"Welcome to {invitation.workspace.name}.", "success")
            return redirect(url_for("console.connections"), 303)
    body = render_template("auth/invitation.html", invitation=invitation, account=account,
                           signed_in_as_account=signed_in_as_account, error=error, form=request.form)
    response = current_app.make_response((body, error.status if error else 200))
    # The token is in this page's address: no other site hears of it, and no cache keeps it.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response



