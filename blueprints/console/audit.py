"""The Audit log page: the workspace's trail for admins (each member sees their own actions),
with the API's filters as form controls, paging, a CSV download of the filtered view, and for
admins the chain's latest full verification with a button to request one."""
from flask import Response, flash, g, redirect, render_template, request, stream_with_context, url_for

from audit import chain, service
from audit.actions import ACTIONS, OUTCOMES
from core.errors import DomainError
from core.extensions import db, htmx
from core.timeutil import utcnow

from . import bp
from .session import login_required

PAGE_SIZE = 50
FIELDS = ("action", "actor", "target", "outcome", "start", "end")


def _form() -> dict:
    return {name: (request.args.get(name) or "").strip() for name in FIELDS}


def _prefixes() -> list[str]:
    return sorted({action.split(".", 1)[0] + ".*" for action in ACTIONS})


@bp.get("/audit-log")
@login_required
def audit_log():
    """A page of the trail, newest first; htmx gets only the entries' section."""
    form, page, error, status = _form(), None, None, 200
    try:
        filters = service.parse_filters(form)
        page = service.list_entries(g.actor, filters, limit=PAGE_SIZE, cursor=request.args.get("cursor") or None)
    except DomainError as exc:
        error, status = exc, exc.status
    query = {k: v for k, v in form.items() if v}
    template = "audit/_entries.html" if htmx else "audit/log.html"
    walk = chain.full_walk_status(g.actor.workspace_id) if g.actor.is_admin and not htmx else None
    body = render_template(template, form=form, page=page, error=error, query=query, actions=list(ACTIONS), walk=walk,
                           prefixes=_prefixes(), outcomes=OUTCOMES, paged=bool(request.args.get("cursor")),
                           csv_url=url_for("console.audit_log_csv", **query))
    response = Response(body, status=status)
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/audit-log.csv")
@login_required
def audit_log_csv():
    """Every entry the filters match, as CSV (cells that would start a formula are escaped)."""
    filters = service.parse_filters(_form())
    service.record_export(g.actor, "csv", filters=filters.to_dict())
    actor, name = g.actor, f"audit-log-{g.actor.workspace_id}-{utcnow():%Y%m%d-%H%M%S}.csv"

    def rows():
        try:
            yield from service.csv_rows(service.iter_entries(actor, filters))
        finally:
            db.session.remove()

    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/audit-log/verify")
@login_required
def request_full_verification():
    """Ask the scheduler for a full walk of the workspace's chain (admins)."""
    status = chain.request_full_walk(g.actor)
    flash(f"A full verification of the audit chain is queued: it starts after {status['requested']['runs_after']} "
          "and its outcome shows here.", "success")
    return redirect(url_for("console.audit_log"), 303)
