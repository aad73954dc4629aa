"""First-run setup, sign-in, sign-out, workspace switching."""
from flask import flash, g, redirect, render_template, request, session, url_for

from accounts import service as accounts
from core.errors import DomainError, TooManyRequests
from core.urls import first_party

from . import bp
from .session import login_required


@bp.get("/healthz")
def health():
    """Liveness probe for load balancers."""
    return {"status": "ok"}


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first workspace and its admin (only while no user exists)."""
    if not accounts.needs_setup():
        return redirect(url_for("console.login"))
    error, form = None, request.form
    if request.method == "POST":
        try:
            workspace, user = accounts.setup(workspace_name=form.get("workspace_name", ""), email=form.get("email", ""),
                                             name=form.get("name", ""), password=form.get("password", ""),
                                             client_address=request.remote_addr)
        except DomainError as exc:
            error = exc
        else:
            _sign_in(user.id, workspace.id)
            flash(f"Welcome to Tributary. {workspace.name} is ready: connect your first source.", "success")
            return redirect(url_for("console.connections"))
    return render_template("auth/setup.html", error=error, form=form), (422 if error else 200)


def _sign_in(user_id: str, workspace_id: str | None) -> None:
    session.clear()  # a fresh session on sign-in: no fixation
    session["user_id"] = user_id
    if workspace_id:
        session["workspace_id"] = workspace_id
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login():
    if accounts.needs_setup():
        return redirect(url_for("console.setup"))
    error, status = None, 200
    if request.method == "POST":
        try:
            user = accounts.authenticate(request.form.get("email", ""), request.form.get("password", ""),
                                         client_address=request.remote_addr)
        except TooManyRequests as exc:
            error, status = exc, 429
        except DomainError as exc:
            error, status = exc, 401
        else:
            membership = accounts.first_membership(user.id)
            _sign_in(user.id, membership.workspace_id if membership else None)
            return redirect(first_party(request.args.get("next")) or url_for("console.connections"))
    return render_template("auth/login.html", error=error, email=request.form.get("email", "")), status


@bp.post("/logout")
def logout():
    if g.actor is not None:
        accounts.record_sign_out(g.actor)
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("console.login"))


@bp.post("/workspaces/switch")
@login_required
def switch_workspace():
    workspace_id = request.form.get("workspace_id", "")
    if accounts.membership(g.user.id, workspace_id) is None:
        flash("You are not a member of that workspace.", "error")
    else:
        session["workspace_id"] = workspace_id
    return redirect(url_for("console.connections"))


@bp.route("/workspaces/new", methods=["GET", "POST"])
@login_required
def new_workspace():
    error = None
    if request.method == "POST":
        try:
            workspace = accounts.create_workspace(g.actor, request.form.get("name", ""))
        except DomainError as exc:
            error = exc
        else:
            session["workspace_id"] = workspace.id
            flash(f"Created {workspace.name}.", "success")
            return redirect(url_for("console.connections"))
    return render_template("auth/new_workspace.html", error=error), (422 if error else 200)


@bp.get("/no-workspace")
def no_workspace():
    if g.user is None:
        return redirect(url_for("console.login"))
    return render_template("auth/no_workspace.html")


@bp.get("/")
def index():
    return redirect(url_for("console.connections"))
