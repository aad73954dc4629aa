"""Workspace settings: API keys and members."""
import json

from flask import current_app, flash, g, redirect, render_template, request, url_for

from accounts import service as accounts
from accounts.models import ROLES, SCOPES
from core.errors import DomainError, NotFound
from core.extensions import htmx

from . import bp
from .session import login_required

SCOPE_DESCRIPTIONS = {
    "connections:read": "Read the catalog, connections, their status and runs",
    "connections:write": "Connect, update, disconnect and reconnect connections",
    "sync": "Start syncs",
    "query": "Search the synced documents",
    "actions": "Execute connector actions",
    "pipeline": "Push documents through the pipeline-sync API",
    "admin": "Everything above, plus workspace administration",
}


def _console_url() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.url_root).rstrip("/")


def _mcp_client_config() -> str:
    """An MCP client's configuration for this console's /mcp (streamable HTTP), in the shape
    Claude Code and Cursor read, with a placeholder for the key (a new key is shown once, in its
    own field)."""
    server = {"type": "http", "url": _console_url() + "/mcp", "headers": {"Authorization": "Bearer <your key>"}}
    return json.dumps({"mcpServers": {"tributary": server}}, indent=2)


def _sdk_snippets() -> dict[str, str]:
    """How to use a key from the SDKs (sdk/): the environment both read, and a first program in
    each (templates/settings/snippets; tests/browser/test_api_keys_snippets.py runs them)."""
    return {"environment": f"export TRIBUTARY_API_KEY='<your key>'\nexport TRIBUTARY_BASE_URL={_console_url()}",
            "python": render_template("settings/snippets/quickstart.py"),
            "typescript": render_template("settings/snippets/quickstart.mjs")}


def _api_keys_page(*, error=None, created=None, form=None, status=200):
    body = render_template("settings/api_keys.html", keys=accounts.list_api_keys(g.actor.workspace_id),
                           scopes=SCOPES, scope_descriptions=SCOPE_DESCRIPTIONS, error=error,
                           created=created, form=form or {}, chosen=request.form.getlist("scopes"),
                           mcp_config=_mcp_client_config(), snippets=_sdk_snippets())
    response = current_app.make_response((body, status))
    if created:
        response.headers["Cache-Control"] = "no-store"  # the clear key is on this page, once
    return response


@bp.get("/settings/api-keys")
@login_required
def api_keys():
    """The workspace's API keys (never the keys themselves)."""
    return _api_keys_page()


@bp.post("/settings/api-keys")
@login_required
def create_api_key():
    """Create a key and show it, this once."""
    try:
        key, clear = accounts.create_api_key(g.actor, name=request.form.get("name", ""),
                                             scopes=request.form.getlist("scopes"),
                                             kind=request.form.get("kind") or "member")
    except DomainError as exc:
        return _api_keys_page(error=exc, form=request.form, status=exc.status)
    return _api_keys_page(created={"key": key, "token": clear}, status=201)


def _find_key(key_id):
    # accounts.service has no get_api_key(actor, id): find it in the workspace's own list.
    key = next((k for k in accounts.list_api_keys(g.actor.workspace_id) if k.id == key_id), None)
    if key is None:
        raise NotFound("API key not found.")
    return key


@bp.route("/settings/api-keys/<key_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_api_key(key_id):
    """Revoke after a confirmation (a page without JS, hx-confirm with it)."""
    if request.method == "GET":
        return render_template("settings/revoke_api_key.html", key=_find_key(key_id))
    key = accounts.revoke_api_key(g.actor, key_id)
    flash(f"Revoked {key.name}. Requests with it are refused from now on.", "success")
    if htmx:
        return render_template("settings/_api_keys_list.html", keys=accounts.list_api_keys(g.actor.workspace_id))
    return redirect(url_for("console.api_keys"), 303)


def _members_page(*, error=None, member_error=None, invite_error=None, invitation_link=None, status=200):
    """The members page, or for htmx its list alone (which carries the messages). Admins also see
    the pending invitations (and those expired lately, marked so) and, right after inviting without
    e-mail, the link once."""
    from accounts import invitations

    members_list = accounts.members(g.actor.workspace_id)
    admins = sum(1 for _user, role in members_list if role == "admin")
    template = "settings/_members_list.html" if htmx else "settings/members.html"
    listed = invitations.listed(g.actor.workspace_id) if g.actor.is_admin else []
    body = render_template(template, members=members_list, admins=admins, roles=ROLES, error=error,
                           member_error=member_error, invitations=listed, is_pending=invitations.is_pending,
                           # A form refills only after its own error (not the invite form's address).
                           form=request.form if error or invite_error else {},
                           invite_error=invite_error, invitation_link=invitation_link,
                           mail_configured=bool(current_app.config.get("SMTP_HOST")))
    response = current_app.make_response((body, status))
    response.vary.add("HX-Request")
    return response


def _after_member_change(message, *, left_admin=False):
    """htmx gets the refreshed list; a plain form a redirect. Whoever gave up their own admin
    role (or membership) gets the whole page again, as it now looks for them."""
    flash(message, "success")
    if left_admin:
        if htmx:
            response = current_app.make_response(("", 204))
            response.headers["HX-Redirect"] = url_for("console.members")
            return response
        return redirect(url_for("console.members"), 303)
    if htmx:
        return _members_page()
    return redirect(url_for("console.members"), 303)


@bp.route("/settings/members", methods=["GET", "POST"])
@login_required
def members():
    """The workspace's members and roles; admins add people, change roles and remove members."""
    if request.method == "POST":
        try:
            user = accounts.add_member(g.actor, email=request.form.get("email", ""),
                                       name=request.form.get("name", ""),
                                       password=request.form.get("password", ""),
                                       role=request.form.get("role", "member"))
        except DomainError as exc:
            return _members_page(error=exc, status=exc.status)
        flash(f"Added {user.name} ({user.email}). Give them their first password in person.", "success")
        return redirect(url_for("console.members"), 303)
    return _members_page()


@bp.post("/settings/members/<user_id>/role")
@login_required
def change_member_role(user_id):
    """Make a member an admin, or an admin a member."""
    try:
        member = accounts.change_role(g.actor, user_id, request.form.get("role", ""))
    except DomainError as exc:
        return _members_page(member_error=(user_id, exc), status=exc.status)
    return _after_member_change(f"{member.user.name} is now {'an admin' if member.role == 'admin' else 'a member'}.",
                                left_admin=user_id == g.actor.user_id and member.role != "admin")


@bp.route("/settings/members/<user_id>/remove", methods=["GET", "POST"])
@login_required
def remove_member(user_id):
    """Remove a member after a confirmation (a page without JS, hx-confirm with it)."""
    if request.method == "GET":
        user = next((u for u, _role in accounts.members(g.actor.workspace_id) if u.id == user_id), None)
        if user is None:
            raise NotFound("There is no such member in this workspace.")
        return render_template("settings/remove_member.html", user=user,
                               personal=accounts.personal_connections_of(g.actor.workspace_id, user.id))
    try:
        removed = accounts.remove_member(g.actor, user_id)
    except DomainError as exc:
        return _members_page(member_error=(user_id, exc), status=exc.status)
    disconnected = len(removed["disconnected_connection_ids"])
    message = f"Removed {removed['name']} ({removed['email']}) from this workspace."
    if disconnected:
        message += f" Their {disconnected} personal connection{'' if disconnected == 1 else 's'} " \
                   f"{'was' if disconnected == 1 else 'were'} disconnected."
    if user_id == g.actor.user_id:
        flash(message, "success")
        if htmx:
            response = current_app.make_response(("", 204))
            response.headers["HX-Redirect"] = url_for("console.index")
            return response
        return redirect(url_for("console.index"), 303)
    return _after_member_change(message)
