"""The Usage page (admins): the workspace's usage over a period, as small server-drawn charts and
the figures as text, and the operator's limits with a warning from 80 %."""
from flask import g, render_template, request

from core.errors import DomainError, Forbidden
from core.extensions import htmx
from usage import service

from . import bp
from .session import login_required
from .usage_chart import bar_chart

CHARTS = (("queries", "Queries", ("query", "queries")), ("sync", "Records written by syncs", ("record", "records")),
          ("api_calls", "API calls", ("call", "calls")), ("pipeline", "Pipeline operations", ("operation", "operations")))


@bp.get("/usage")
@login_required
def usage():
    """Usage and limits of the workspace."""
    if not g.actor.is_admin:
        raise Forbidden("Only a workspace admin can see the workspace's usage.", code="admin_required")
    period = request.args.get("period") or "week"
    try:
        window = service.parse_window({"period": period})
    except DomainError:
        period, window = "week", service.parse_window({"period": "week"})
    report = service.report(g.actor, window)
    charts = [{"key": key, "title": title,
               "chart": bar_chart(report[key]["series"], bucket=report["bucket"], noun=noun)}
              for key, title, noun in CHARTS]
    return render_template("usage/index.html", report=report, charts=charts, period=period,
                           periods=list(service.PERIODS), subscription=service.subscription(g.actor))


@bp.app_context_processor
def limit_warnings():
    """For admins, the limits at 80 % or more, on every whole page (only when the operator
    configured any: an unlimited deployment makes no query for this; nor do htmx fragments)."""
    actor = getattr(g, "actor", None)
    if (actor is None or actor.type != "user" or not actor.is_admin or htmx  # fragments (polls) have no banner
            or not any(service.configured_limits().values())):
        return {"limit_warnings": []}
    return {"limit_warnings": [item for item in service.subscription(actor)["limits"] if item["status"] != "ok"]}
