"""Who is signed in, in which workspace: loaded once per console request."""
from functools import wraps

from flask import g, redirect, request, session, url_for

from accounts import service as accounts
from accounts.models import User
from core.extensions import db

from . import bp

PUBLIC_ENDPOINTS = {"console.setup", "console.login", "console.health"}


@bp.before_app_request
def load_member():
    g.user = g.membership = g.actor = None
    user_id = session.get("user_id")
    if not user_id:
        return
    user = db.session.get(User, user_id)
    if user is None:
        session.clear()
        return
    membership = None
    if session.get("workspace_id"):
        membership = accounts.membership(user.id, session["workspace_id"])
    membership = membership or accounts.first_membership(user.id)
    g.user, g.membership = user, membership
    if membership:
        session["workspace_id"] = membership.workspace_id
        g.actor = accounts.user_actor(user, membership.workspace_id, membership.role,
                                      client_address=request.remote_addr)


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            if accounts.needs_setup():
                return redirect(url_for("console.setup"))
            return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
        if g.actor is None:
            return redirect(url_for("console.no_workspace"))
        return view(*args, **kwargs)
    return wrapped


@bp.app_context_processor
def inject_member():
    workspaces = accounts.memberships_of(g.user.id) if getattr(g, "user", None) else []
    return {"current_user": getattr(g, "user", None), "current_membership": getattr(g, "membership", None),
            "my_workspaces": workspaces}
