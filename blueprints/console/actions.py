"""The Actions page of a connection: an intent box, the dry run's plan, run / approve / reject, and
the admin's action policy. It calls the same domain functions as the JSON API (``actions.service``)."""
import json
import secrets

from flask import flash, g, redirect, render_template, request, url_for

from actions import service
from actions.models import ROUTERS
from connections import service as connections
from core.errors import DomainError, ValidationError
from core.extensions import htmx

from . import bp
from .connections import _fragment_response
from .session import login_required

RECENT_RUNS = 20


def _render(connection_id, *, planned=None, outcome=None, error=None, status=200):
    """The page (or, for htmx, its panel) with what just happened: a plan, a run, an error."""
    listed = service.list_actions(g.actor, connection_id)
    connection = connections.serialize(connections.get(g.actor, connection_id))
    runs = service.list_runs(g.actor, connection_id)["runs"][:RECENT_RUNS]
    pending = [r for r in runs if r["status"] == "pending_approval"]
    # Four-eyes: what the viewer asked for waits for someone else (unless the policy allows self-approval).
    own = set() if listed["policy"]["self_approval"] else {
        r["id"] for r in pending if service.requested_by(g.actor, service.get_run(g.actor, connection_id, r["id"]))}
    template = "connections/_actions.html" if htmx else "connections/actions.html"
    body = render_template(template, connection=connection, listed=listed, runs=runs,
                           pending=pending, own=own, planned=planned,
                           outcome=outcome, error=error, is_admin=g.actor.is_admin,
                           intent=request.form.get("intent", ""))
    return _fragment_response(body, status)


def _back(connection_id, message, category="success"):
    flash(message, category)
    if htmx:
        return _render(connection_id)
    return redirect(url_for("console.connection_actions", connection_id=connection_id), 303)


@bp.get("/connections/<connection_id>/actions")
@login_required
def connection_actions(connection_id):
    """A connection's actions: say what to do, see the plan, run it; decide on pending runs."""
    return _render(connection_id)


@bp.post("/connections/<connection_id>/actions/plan")
@login_required
def plan_action(connection_id):
    """Route the intent and show the plan (a dry run: nothing is sent)."""
    try:
        planned, _ = service.execute_intent(g.actor, connection_id, request.form.get("intent"), dry_run=True)
    except DomainError as exc:
        return _render(connection_id, error=exc, status=exc.status)
    # The key the run will carry: submitting the same plan twice posts once.
    planned["idempotency_key"] = "console:" + secrets.token_urlsafe(12)
    return _render(connection_id, planned=planned)


@bp.post("/connections/<connection_id>/actions/run")
@login_required
def run_action(connection_id):
    """Run the planned action with the parameters the plan showed (not a new routing)."""
    form = request.form
    try:
        parameters = json.loads(form.get("parameters") or "{}")
    except ValueError:
        return _render(connection_id, error=ValidationError("The plan's parameters are not JSON.",
                                                            code="invalid_field"), status=422)
    router = form.get("router") if form.get("router") in ROUTERS else "structured"
    routed = service.Routed(form.get("action") or "", parameters, router, form.get("intent") or None)
    try:
        outcome, _ = service.execute(g.actor, connection_id, routed, idempotency_key=form.get("idempotency_key"))
    except DomainError as exc:
        return _render(connection_id, error=exc, status=exc.status)
    return _render(connection_id, outcome=outcome)


@bp.post("/connections/<connection_id>/actions/runs/<run_id>/<decision>")
@login_required
def decide_action(connection_id, run_id, decision):
    """Approve (the stored plan is sent as shown) or reject a pending run."""
    if decision not in ("approve", "reject"):
        return _render(connection_id, error=ValidationError("Approve or reject.", code="invalid_field"), status=404)
    try:
        outcome, _ = service.decide(g.actor, connection_id, run_id, approve=decision == "approve")
    except DomainError as exc:
        return _render(connection_id, error=exc, status=exc.status)
    return _render(connection_id, outcome=outcome)


@bp.post("/connections/<connection_id>/actions/policy")
@login_required
def action_policy(connection_id):
    """The admin's policy: a checkbox per action for allowed, needs approval, MCP tool."""
    names = [a.name for a in service.declared(connections.get(g.actor, connection_id))]
    form = request.form
    params = {"allowed_actions": [n for n in names if form.get(f"allowed_{n}")],
              "approval_required": [n for n in names if form.get(f"approval_{n}")],
              "mcp_tools": [n for n in names if form.get(f"mcp_{n}")],
              "self_approval": bool(form.get("self_approval"))}
    try:
        service.set_policy(g.actor, connection_id, params)
    except DomainError as exc:
        return _render(connection_id, error=exc, status=exc.status)
    return _back(connection_id, "Action policy saved.")


@bp.app_context_processor
def action_connectors():
    """The connector types that declare actions (the detail page links to their Actions page)."""
    from connectors import registry

    return {"action_connectors": {t for t, cls in registry.connector_classes().items() if cls.actions}}
