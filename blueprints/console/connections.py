"""The Connections page: inventory with live badges, catalog picker, connect flows, detail,
and the sync views of a connection: live progress, run history with its chart, channels."""
import math
import re
from datetime import datetime, timezone

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_htmx.responses import HTMXResponseStopPolling

from accounts import service as accounts
from connections import service
from connections.health import HEALTH_VALUES
from connections.models import STATUSES
from connectors import registry
from connectors.base import CATEGORIES
from core.errors import DomainError, Forbidden, NotFound, ValidationError
from core.extensions import htmx
from sync import service as sync_service

from . import bp
from . import run_chart as run_charts
from .run_chart import run_chart
from .session import login_required

CATEGORY_HEADINGS = {"crm": "CRM", "calls": "Calls", "comms": "Comms", "docs": "Docs", "support": "Support",
                     "social": "Social", "devtools": "Dev tools", "ai": "AI", "custom": "Custom"}

METHOD_LABELS = {"oauth_redirect": "OAuth sign-in", "api_key": "API key",
                 "handle": "Public handle", "webhook": "Signed webhook"}

# What the OAuth callback's ?connection_error=<code> means, in a sentence a person can act on.
OAUTH_ERRORS = {
    "access_denied": "The authorization was declined at the provider, so nothing was connected.",
    "invalid_state": "That authorization link was invalid or already used. Start the connection again.",
    "state_expired": "The authorization took too long and expired. Start the connection again.",
    "token_exchange_failed": "The provider refused to finish the authorization. Try again; if it keeps "
                             "failing, the operator should check the OAuth app settings.",
    "provider_unavailable": "The provider could not be reached to finish the authorization. Try again in a moment.",
    "authorization_failed": "The provider reported an error during the authorization. Try again.",
    "invalid_setting": "The provider accepted the sign-in but refused a setting of the connection (for Figma: a "
                       "team id the account cannot read), so nothing was connected. Check the setting and connect "
                       "again.",
    "already_connected": "You signed in at the provider as an account that is already connected here (this "
                         "connection), so nothing else was changed. To restore another connection, sign in as "
                         "the account it had.",
}

# A refused setting's value as the OAuth callback names it (``?value=``): an id or a name, shown
# only when it looks like one (the address is the browser's, anyone may have written it).
REFUSED_VALUE = re.compile(r"[\w.@-]{1,200}")

# Statuses (of the connection, or of its latest run) that will change on their own soon.
IN_FLIGHT_STATUSES = {"pending", "syncing"}
IN_FLIGHT_RUNS = {"pending", "running"}

# How long a replaced webhook signing secret keeps working, as the console offers it.
ROTATION_GRACE_CHOICES = ((0, "Refuse the current secret at once"), (3600, "Keep the current secret 1 hour"),
                          (86400, "Keep the current secret 24 hours"), (7 * 86400, "Keep the current secret 7 days"))

HISTORY_LIMIT = 25  # runs in the history table (the chart draws the latest run_chart.CHART_RUNS)


# -- template helpers ---------------------------------------------------------------------------

def _parse_time(value):
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@bp.app_template_filter("relative_time")
def relative_time(value, never="never"):
    """'3 h ago' / 'in 7 h' for an RFC 3339 time (or a datetime)."""
    moment = _parse_time(value)
    if moment is None:
        return never
    seconds = (datetime.now(timezone.utc) - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "in a moment" if future else "just now"
    for size, unit in ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = round(seconds / size) if size > 60 else max(1, round(seconds / 60))
            return f"in {amount} {unit}" if future else f"{amount} {unit} ago"
    return "in 1 min" if future else "1 min ago"


@bp.app_template_filter("exact_time")
def exact_time(value):
    """The exact UTC time, for a title attribute."""
    moment = _parse_time(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


@bp.app_template_filter("iso")
def iso(value):
    """RFC 3339 (UTC, Z) for a datetime attribute."""
    moment = _parse_time(value)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else ""


@bp.app_template_filter("initials")
def initials(name):
    """Two letters for a connector icon: GitHub -> GH, Custom webhook -> CW, Pipedrive -> PI."""
    words = "".join(c if c.isalnum() else " " for c in (name or "?")).split()
    if not words:
        return "?"
    capitals = [c for c in words[0] if c.isupper()]
    if len(words) == 1 and len(capitals) >= 2:
        return "".join(capitals[:2])
    return (words[0][0] + (words[1][0] if len(words) > 1 else words[0][1:2])).upper()


@bp.app_template_filter("hue")
def hue(text):
    """A stable hue (0-359) per connector type (FNV-1a), so each icon keeps its colour."""
    value = 2166136261
    for byte in (text or "").encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value % 360


@bp.app_template_filter("duration")
def duration(seconds):
    """'0.4 s', '12 s', '3 min 4 s', '1 h 5 min' for a number of seconds."""
    if seconds is None:
        return "—"
    if seconds < 0.1:
        return "< 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"


@bp.app_template_filter("run_seconds")
def run_seconds(run):
    """How long a run took (or has taken so far); None before it starts."""
    if run.started_at is None:
        return None
    end = run.finished_at or datetime.now(timezone.utc)
    return max(0.0, (_parse_time(end) - _parse_time(run.started_at)).total_seconds())


@bp.app_template_filter("time_left")
def time_left(estimated_completion):
    """'about 2 min left' until an estimated completion time (RFC 3339); '' when unknown."""
    moment = _parse_time(estimated_completion)
    if moment is None:
        return ""
    seconds = (moment - datetime.now(timezone.utc)).total_seconds()
    if seconds < 5:
        return "almost done"
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"


@bp.app_template_filter("stream_results")
def stream_results(run) -> list[dict]:
    """A run's results, one row per stream (channels summed)."""
    return sync_service.stream_summary(run)


@bp.app_template_filter("units_label")
def units_label(run) -> str:
    """'3 streams', or '5 streams × 25 channels (125 units)' for a run read per channel: the
    same unit (stream × channel) as ``streams_total`` in the API."""
    if isinstance(run, dict):
        run = sync_service.get_run_row(run["id"])
    counts = sync_service.unit_counts(run)
    streams = f"{counts['streams']} stream{'' if counts['streams'] == 1 else 's'}"
    if not counts["units"] and run.status in ("pending", "running"):
        return "being listed"
    if not counts["channels"]:
        return streams if counts["units"] else f"{run.streams_total} streams"
    return (f"{streams} × {counts['channels']} channel{'' if counts['channels'] == 1 else 's'} "
            f"({counts['units']} units)")


@bp.app_template_filter("by_message")
def by_message(units: list[dict]) -> list[dict]:
    """A run's failed (or hiding) units said once per reason: each the first unit's fields plus
    ``where``, its streams then its channels. A GitHub repository whose collaborators cannot be
    listed hides records in five streams with one message: one line, not five."""
    grouped: dict[tuple, dict] = {}
    for unit in units:
        key = (unit.get("error_reason"), unit.get("error_code"), unit.get("error_message"))
        group = grouped.setdefault(key, {**unit, "streams": [], "channels": []})
        for field, value in (("streams", unit["stream"].replace("_", " ")), ("channels", unit["channel"])):
            if value and value not in group[field]:
                group[field].append(value)
    return [{**group, "where": ", ".join(group["streams"]) + (" · " + ", ".join(group["channels"])
                                                              if group["channels"] else "")}
            for group in grouped.values()]


@bp.app_context_processor
def console_vocabulary():
    return {"category_headings": CATEGORY_HEADINGS, "method_labels": METHOD_LABELS}


# -- small view helpers ---------------------------------------------------------------------------

def _fragment_response(body, status=200):
    """A page-or-fragment response; caches must key on HX-Request."""
    response = current_app.make_response((body, status))
    response.vary.add("HX-Request")
    return response


def _no_store(body, status=200):
    """A response that shows a secret: never cached, never kept in history snapshots."""
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_test("in_flight")
def _in_flight(state: dict) -> bool:
    """A connection whose badges will change soon: connecting, syncing, or a run queued or running."""
    run = state.get("last_run") or {}
    return (state["status"] in IN_FLIGHT_STATUSES or state["is_syncing"]
            or run.get("status") in IN_FLIGHT_RUNS)


def _can_manage(connection: dict) -> bool:
    return service.can_manage(g.actor, scope=connection["scope"], owner_user_id=connection["owner_user_id"])


def _own_connection(connection_id):
    """The workspace's connection of that id, or None (missing, or another workspace's)."""
    if not connection_id:
        return None
    try:
        return service.get(g.actor, connection_id)
    except NotFound:
        return None


def _catalog_entry(connector_type: str) -> dict:
    registry.get_class(connector_type)  # unknown type -> the 404 page
    return next(e for e in registry.catalog(current_app.config) if e["type"] == connector_type)


def _connector_name(connector_type: str | None) -> str:
    cls = registry.connector_classes().get(connector_type or "")
    return cls.catalog.display_name if cls else (connector_type or "The source")


def _group(entries: list[dict]) -> list[tuple[str, list[dict]]]:
    """Entries by category, in the catalog's category order; connectable ones first."""
    groups = []
    for category in CATEGORIES:
        members = [e for e in entries if e["category"] == category]
        if members:
            groups.append((category, sorted(members, key=lambda e: not e["connectable"])))
    return groups


def _matches(entry: dict, query: str) -> bool:
    return query in entry["display_name"].lower() or query in entry["type"].lower()


def _channel_kind(connector_type: str) -> str | None:
    """What a connector's channels are (repository, project), or None when its streams have none."""
    cls = registry.connector_classes().get(connector_type)
    streams = cls.catalog.streams if cls else ()
    return next((stream.channel_kind for stream in streams if stream.channel_kind), None)


# -- inventory and catalog --------------------------------------------------------------------

INVENTORY_PAGE = 50
INVENTORY_LABELS = {"status": "Status", "health": "Health", "connector_type": "Connector", "q": "Find"}


def _page_number(value) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1


@bp.get("/connections")
@login_required
def connections():
    """Inventory of the workspace's connections, filtered and in pages of 50 (the list alone for htmx)."""
    landing = _existing_connection_landing() or _refused_setting_landing()
    if landing is not None:
        return landing
    oauth_result = None
    if request.args.get("connected"):
        message = f"{_connector_name(request.args['connected'])} connected."
        landed = _own_connection(request.args.get("connection_id"))
        if landed is not None:
            # Back from the provider: open the new connection, where its first sync shows.
            flash(message, "success")
            return redirect(url_for("console.connection", connection_id=landed.id), 303)
        oauth_result = ("success", message)
    elif request.args.get("connection_error"):
        code = request.args["connection_error"]
        oauth_result = ("error", OAUTH_ERRORS.get(code, f"The connection could not be made (error code: {code})."))
    form = {name: (request.args.get(name) or "").strip() for name in ("status", "health", "connector_type", "q")}
    page = _page_number(request.args.get("page"))
    error, status = None, 200
    try:
        filters = service.parse_filters(request.args)
    except ValidationError as exc:  # a value no control offers (an edited address): say which, in its label
        label = INVENTORY_LABELS.get(exc.details.get("field"), "A filter")
        exc.message = f"“{label}” has no value {request.args.get(exc.details.get('field'), '')[:40]!r}: pick one of the list."
        filters, error, status = service.Filters(), exc, exc.status
    found = service.find(g.actor, filters, limit=INVENTORY_PAGE, offset=(page - 1) * INVENTORY_PAGE,
                         health_counts=True)
    pages = max(1, math.ceil(found["total"] / INVENTORY_PAGE))
    if page > pages:  # a page past the end (the list shrank since): the last one
        page = pages
        found = service.find(g.actor, filters, limit=INVENTORY_PAGE, offset=(page - 1) * INVENTORY_PAGE,
                             health_counts=True)
    context = {"connections": found["connections"], "total": found["total"], "health_counts": found["health_counts"],
               "page": page, "pages": pages, "first_shown": (page - 1) * INVENTORY_PAGE + 1,
               "filters": filters, "form": form, "error": error, "oauth_result": oauth_result,
               "page_url": _inventory_url, "any_connections": filters.active or found["total"] > 0}
    if htmx and not htmx.history_restore_request:
        response = _fragment_response(render_template("connections/_inventory.html", **context), status)
        if htmx.trigger != "inventory":  # the filters or the pager, not the list refreshing itself
            response.headers["HX-Push-Url"] = _inventory_url(form, page)
        return response
    context["statuses"], context["health_values"] = STATUSES, HEALTH_VALUES
    context["connector_options"] = sorted(
        ((t, _connector_name(t)) for t in service.connector_types_in_use(g.actor)), key=lambda o: o[1].lower())
    return _fragment_response(render_template("connections/index.html", **context), status)


def _inventory_url(form: dict, page: int = 1) -> str:
    """The inventory's address for these filters and page (empty ones left out)."""
    args = {name: value for name, value in form.items() if value}
    if page > 1:
        args["page"] = page
    return url_for("console.connections", **args)


def refused_setting(connector_type: str | None, setting: str | None, value: str | None, *,
                    connected: bool) -> ValidationError | None:
    """What a provider refused after the sign-in (the OAuth callback's ``invalid_setting``), in
    words naming it: ``Figma refused team 4242 ...``, as an error of the form field it came from
    (``details.field``: ``settings.<name>``); None when the address does not name a setting of
    that connector (the generic sentence then)."""
    cls = registry.connector_classes().get(connector_type or "")
    if cls is None or setting not in cls.setting_names() or not REFUSED_VALUE.fullmatch(value or ""):
        return None
    name = cls.catalog.display_name
    kind = next((s.channel_kind for s in cls.catalog.streams if s.channel_kind), None) if setting == "channels" else None
    what = f"{kind} {value}" if kind else f"{setting} {value!r}"
    message = (f"{name} accepted the sign-in but refused {what}: the account you signed in with cannot read it, or "
               f"there is no such {kind or 'value'}. ")
    message += ("The connection keeps its previous authorization; reconnect once the account can read it."
                if connected else "Nothing was connected: correct or remove it, then connect again.")
    return ValidationError(message, code="invalid_setting",
                           details={"field": f"settings.{setting}", "setting": setting, "value": value})


def _refused_setting_landing():
    """The provider refused a setting after the sign-in (a Figma team the account cannot read):
    name it where it is fixed, on the connection's page (a reconnect) or on the connect form
    (a first connect, which kept nothing)."""
    if request.args.get("connection_error") != "invalid_setting":
        return None
    existing = _own_connection(request.args.get("connection_id"))
    args = [request.args.get(name) for name in ("connector", "setting", "value")]
    if existing is not None:
        args[0] = existing.connector_type
    refused = refused_setting(*args, connected=existing is not None)
    if refused is None:
        return None
    if existing is not None:
        flash(refused.message, "error")
        return redirect(url_for("console.connection", connection_id=existing.id), 303)
    return redirect(url_for("console.connect", connector_type=args[0], refused=args[1], value=args[2]), 303)


def _existing_connection_landing():
    """The OAuth callback found the account already connected: go to that connection and say
    so, rather than the inventory's "connected" flash that suggests a new row."""
    already = request.args.get("already_connected") or request.args.get("connection_error") == "already_connected"
    existing = _own_connection(request.args.get("connection_id")) if already else None
    if existing is None:
        return None
    if request.args.get("already_connected"):
        flash(f"{_connector_name(existing.connector_type)} was already connected as {existing.name}: its "
              "authorization is refreshed and no second connection was made.", "info")
    else:
        flash(OAUTH_ERRORS["already_connected"], "error")
    return redirect(url_for("console.connection", connection_id=existing.id), 303)


@bp.get("/connections/new")
@login_required
def catalog():
    """The catalog picker: every connector, grouped by category; ?q= filters by name."""
    query = (request.args.get("q") or "").strip()
    entries = registry.catalog(current_app.config)
    # Every tile is rendered and the non-matching ones are `hidden`, so the page filters
    # without JavaScript and the script can widen the filter again as you type.
    matched = {e["type"] for e in entries if not query or _matches(e, query.lower())}
    template = "connections/_catalog.html" if htmx else "connections/catalog.html"
    return _fragment_response(render_template(template, groups=_group(entries), query=query, matched=matched,
                                              shown=len(matched), total=len(entries)))


# -- connect flows ------------------------------------------------------------------------------

@bp.route("/connections/new/<connector_type>", methods=["GET", "POST"])
@login_required
def connect(connector_type):
    """Connect one source; the form and the steps follow the connector's connect method."""
    entry = _catalog_entry(connector_type)
    form, error, step = request.form, None, "start"
    asks = registry.get_class(connector_type).catalog.connect_settings   # Freshdesk's domain
    if request.method == "GET" and request.args.get("refused"):   # back from a sign-in that refused one
        error = refused_setting(connector_type, request.args["refused"], request.args.get("value"), connected=False)
    if request.method == "POST" and entry["connectable"]:
        method = entry["auth_method"]
        try:
            if method == "handle":
                return _connect_handle(entry, form)
            params = {"connector_type": connector_type, "name": form.get("name") or None}
            if method == "oauth_redirect":
                params["return_to"] = url_for("console.connections")
            elif method == "api_key":
                params["api_key"] = form.get("api_key", "")
            params["settings"] = {asked.name: (form.get(asked.name, "").replace(",", " ").split() if asked.many
                                               else form.get(asked.name, "").strip()) or None for asked in asks}
            result = service.connect(g.actor, params)
        except DomainError as exc:
            error = exc
        else:
            if result["mode"] == "oauth_redirect":
                return redirect(result["authorize_url"], 303)
            if result["mode"] == "webhook":
                return _no_store(render_template("connections/webhook_secret.html", result=result,
                                                 connection=result["connection"], reconnected=False), 201)
            connection = result["connection"]
            flash(f"{entry['display_name']} connected as {connection['name']}.", "success")
            return redirect(url_for("console.connection", connection_id=connection["id"]), 303)
    status = error.status if error and request.method == "POST" else 200
    return render_template("connections/connect.html", entry=entry, form=form, error=error,
                           step=step, asks=asks), status


def _connect_handle(entry: dict, form):
    """Handle connectors: resolve the handle and confirm it, then track the resolved account."""
    if form.get("step") != "track":
        resolved = service.resolve_handle(g.actor, {"connector_type": entry["type"],
                                                    "account_handle": form.get("account_handle", "")})
        return render_template("connections/connect.html", entry=entry, form=form, error=None,
                               step="confirm", resolved=resolved)
    followers = form.get("followers")
    result = service.connect(g.actor, {
        "connector_type": entry["type"], "account_handle": form.get("account_handle", ""),
        "external_account_id": form.get("external_account_id", ""), "name": form.get("name") or None,
        "display_name": form.get("display_name") or None,
        "followers": int(followers) if followers and followers.isdigit() else None})
    if result["mode"] == "already_connected":
        flash("That account is already tracked: here it is.", "info")
        return redirect(url_for("console.connection", connection_id=result["existing_id"]), 303)
    connection = result["connection"]
    flash(f"Now tracking @{connection['handle']}.", "success")
    return redirect(url_for("console.connection", connection_id=connection["id"]), 303)


# -- live badges ----------------------------------------------------------------------------------

@bp.get("/connections/<connection_id>/badge")
@login_required
def connection_badge(connection_id):
    """Status and health badges; re-polls itself while in flight, then stops with 286."""
    state = service.status(g.actor, connection_id)
    polling = _in_flight(state)
    body = render_template("connections/_badges.html", state=state, polling=polling)
    if polling:
        return _fragment_response(body)
    # Settled: stop polling, and tell the page (inventory, detail) to refresh what else changed.
    response = HTMXResponseStopPolling(body, headers={"HX-Trigger": "connection-settled"})
    response.vary.add("HX-Request")
    return response


# -- detail and actions ---------------------------------------------------------------------------

def _shown_run(history: list):
    """The run the "Last run" card tells of: the run under way, else the last one that ran;
    never one only queued behind it (which the progress cards show), nor one skipped because
    another was running (it never ran: "Sync now" pressed during the first sync)."""
    return (next((r for r in history if r.status == "running"), None)
            or next((r for r in history if r.status not in IN_FLIGHT_RUNS | {"skipped_locked"}), None)
            or (history[0] if history else None))


def _render_detail(connection_id, *, error=None, status=200, rename_error=None, schedule_form=None):
    record = service.get(g.actor, connection_id)
    connection = service.serialize(record)
    history = sync_service.runs_for(record.id, HISTORY_LIMIT)
    # Runs still queued or running, oldest first: the one a worker has (or will take next) on top.
    active = [(run, sync_service.progress(run)) for run in reversed(history) if run.status in IN_FLIGHT_RUNS]
    shown = _shown_run(history)
    channel_kind = _channel_kind(connection["connector_type"])
    channels = sync_service.channels_of(g.actor, record.id) if channel_kind else []
    next_runs = {channel.id: sync_service.next_fire(channel.schedule) for channel in channels
                 if channel.schedule and channel.schedule_enabled}
    members = accounts.members(g.actor.workspace_id)
    owner = next((user for user, _role in members if user.id == connection["owner_user_id"]), None)
    template = "connections/_detail.html" if htmx else "connections/detail.html"
    chart, chart_compact = (run_chart(history, seconds_of=run_seconds, duration=duration, layout=layout)
                            for layout in (run_charts.WIDE, run_charts.COMPACT))
    body = render_template(template, connection=connection, runs=history, chart=chart, chart_compact=chart_compact,
                           active_runs=active, channel_kind=channel_kind, channels=channels, next_runs=next_runs,
                           shown_run=sync_service.run_summary(shown),
                           shown_progress=sync_service.progress(shown) if shown else None,
                           schedule_form=schedule_form, members=members, owner=owner,
                           can_manage=_can_manage(connection), polling=_in_flight(connection),
                           error=error, rename_error=rename_error, **_rotation_choices())
    return _fragment_response(body, status)


def _rotation_choices() -> dict:
    """The grace periods the rotate form offers, the deployment's default among them and chosen."""
    default = int(current_app.config["WEBHOOK_SECRET_GRACE_SECONDS"])
    choices = dict(ROTATION_GRACE_CHOICES)
    choices.setdefault(default, f"Keep the current secret {duration(default)} (the default)")
    return {"rotation_grace_choices": sorted(choices.items()), "default_rotation_grace": default}


def _done(connection_id, message, category="success"):
    """After an action: htmx gets the refreshed detail fragment, a plain form a redirect."""
    flash(message, category)
    if htmx:
        return _render_detail(connection_id)
    return redirect(url_for("console.connection", connection_id=connection_id), 303)


def _failed(connection_id, exc: DomainError, **kwargs):
    return _render_detail(connection_id, error=exc, status=exc.status, **kwargs)


@bp.get("/connections/<connection_id>")
@login_required
def connection(connection_id):
    """One connection: facts, badges, run history and the actions."""
    return _render_detail(connection_id)


@bp.post("/connections/<connection_id>/sync")
@login_required
def sync_connection(connection_id):
    """Queue a manual sync: incremental, or full with mode=full."""
    full = request.form.get("mode") == "full"
    try:
        result = service.request_sync(g.actor, connection_id, full=full, triggered_by="manual")
    except DomainError as exc:
        return _failed(connection_id, exc)
    kind = "Full sync" if full else "Sync"
    return _done(connection_id, f"{kind} queued: run {result['sync_run_id']}.")


@bp.post("/connections/<connection_id>/update")
@login_required
def update_connection(connection_id):
    """Rename, or (personal connectors) change the owner: only the fields the form sent."""
    params = {}
    if "name" in request.form:
        params["name"] = request.form["name"]
    if "owner_user_id" in request.form:
        params["owner_user_id"] = request.form["owner_user_id"] or None
    try:
        result = service.update(g.actor, connection_id, params)
    except DomainError as exc:
        return _failed(connection_id, exc, rename_error=exc if "name" in params else None)
    message = "Renamed." if "name" in params else "Owner updated."
    return _done(connection_id, f"{message} {result['connection']['name']} is saved.")


@bp.route("/connections/<connection_id>/disconnect", methods=["GET", "POST"])
@login_required
def disconnect_connection(connection_id):
    """Disconnect after a confirmation (a page without JS, hx-confirm with it)."""
    if request.method == "GET":
        connection = service.serialize(service.get(g.actor, connection_id))
        return render_template("connections/disconnect.html", connection=connection)
    try:
        service.disconnect(g.actor, connection_id)
    except DomainError as exc:
        return _failed(connection_id, exc)
    return _done(connection_id, "Disconnected. Its sync history is kept; reconnect it any time.")


@bp.route("/connections/<connection_id>/reconnect", methods=["GET", "POST"])
@login_required
def reconnect_connection(connection_id):
    """Restore a connection in place, by its connect method."""
    connection = service.serialize(service.get(g.actor, connection_id))
    error = None
    if request.method == "POST":
        params = {"return_to": url_for("console.connections")}
        if connection["auth_method"] == "api_key":
            params["api_key"] = request.form.get("api_key", "")
        try:
            result = service.reconnect(g.actor, connection_id, params)
        except DomainError as exc:
            error = exc
        else:
            if result["mode"] == "oauth_redirect":
                return redirect(result["authorize_url"], 303)
            if result["mode"] == "webhook":
                return _no_store(render_template("connections/webhook_secret.html", result=result,
                                                 connection=result["connection"], reconnected=True), 201)
            flash(f"{result['connection']['name']} is reconnected.", "success")
            return redirect(url_for("console.connection", connection_id=connection_id), 303)
    return (render_template("connections/reconnect.html", connection=connection, error=error),
            error.status if error else 200)


@bp.post("/connections/<connection_id>/rotate-secret")
@login_required
def rotate_webhook_secret(connection_id):
    """Issue a new webhook signing secret, shown once; the current one works for the chosen grace."""
    grace = (request.form.get("grace_period_seconds") or "").strip()
    params = {"grace_period_seconds": int(grace) if grace.isdigit() else grace} if grace else {}
    try:
        result = service.rotate_signing_secret(g.actor, connection_id, params)
    except DomainError as exc:
        return _failed(connection_id, exc)
    return _no_store(render_template("connections/webhook_secret.html", result=result,
                                     connection=result["connection"], reconnected=True))


# -- sync runs: live progress and cancel ----------------------------------------------------------

def _run_of(connection_id, run_id):
    """The connection and one of its runs (a run of another connection is not found here)."""
    connection = service.get(g.actor, connection_id)
    run = sync_service.get_run(g.actor, run_id)
    if run.connection_id != connection.id:
        raise NotFound("Sync run not found.", details={"run_id": run_id})
    return connection, run


@bp.get("/connections/<connection_id>/runs/<run_id>/progress")
@login_required
def connection_run_progress(connection_id, run_id):
    """A run's progress; re-polls itself while the run is in flight, then stops with 286."""
    connection, run = _run_of(connection_id, run_id)
    if not htmx:
        return redirect(url_for("console.connection", connection_id=connection.id))
    can_manage = service.can_manage(g.actor, scope=connection.scope, owner_user_id=connection.owner_user_id)
    body = render_template("connections/_progress.html", run=run, progress=sync_service.progress(run),
                           connection_id=connection.id, can_manage=can_manage)
    # The "Last run" card rides along (out of band), so the two cards never disagree.
    shown = _shown_run(sync_service.runs_for(connection.id, HISTORY_LIMIT))
    body += render_template("connections/_last_run.html", oob=True, c=service.serialize(connection),
                            can_manage=can_manage, shown_run=sync_service.run_summary(shown),
                            shown_progress=sync_service.progress(shown) if shown else None)
    if run.status in IN_FLIGHT_RUNS:
        return _fragment_response(body)
    # Settled: the final numbers, and no more polling. The badge beside it settles too and
    # refreshes the whole detail (history, last run), so no event is sent from here.
    response = HTMXResponseStopPolling(body)
    response.vary.add("HX-Request")
    return response


@bp.post("/connections/<connection_id>/runs/<run_id>/cancel")
@login_required
def connection_run_cancel(connection_id, run_id):
    """Cancel a run: a queued one at once, a running one at its next page boundary."""
    connection, run = _run_of(connection_id, run_id)
    try:
        # sync.service.cancel_run checks the workspace only; managing the connection is required here.
        if not service.can_manage(g.actor, scope=connection.scope, owner_user_id=connection.owner_user_id):
            raise Forbidden("Only a workspace admin can cancel a sync.", code="admin_required")
        run = sync_service.cancel_run(g.actor, run.id)
    except DomainError as exc:
        return _failed(connection_id, exc)
    if run.status == "cancelled":
        return _done(connection_id, f"Sync cancelled: run {run.id} will not start.")
    return _done(connection_id, f"Cancelling run {run.id}: it stops at its next page boundary.", "info")


# -- channels: sync one, schedule one ------------------------------------------------------------

def _channel_of(connection_id, channel_id):
    """One channel of this connection (by our id, or the provider's when unambiguous)."""
    connection = service.get(g.actor, connection_id)
    channel = sync_service.get_channel(g.actor, channel_id)
    if channel.connection_id != connection.id:
        raise NotFound("Channel not found.", code="CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
    return channel


@bp.post("/connections/<connection_id>/channels/<channel_id>/sync")
@login_required
def connection_channel_sync(connection_id, channel_id):
    """Queue a sync of one channel's streams (incremental, or full with mode=full)."""
    channel = _channel_of(connection_id, channel_id)
    full = request.form.get("mode") == "full"
    try:
        run = sync_service.sync_channel(g.actor, channel, full=full, triggered_by="manual")
    except DomainError as exc:
        return _failed(connection_id, exc)
    kind = "Full sync" if full else "Sync"
    return _done(connection_id, f"{kind} of {channel.name} queued: run {run.id}.")


@bp.post("/connections/<connection_id>/channels/<channel_id>/schedule")
@login_required
def connection_channel_schedule(connection_id, channel_id):
    """Set a channel's cron schedule, pause it (enabled unticked) or clear it (empty)."""
    channel = _channel_of(connection_id, channel_id)
    typed = request.form.get("schedule", "")
    expression = " ".join(typed.split()) or None
    enabled = "enabled" in request.form
    try:
        channel = sync_service.set_schedule(g.actor, channel, schedule=expression, enabled=enabled)
    except DomainError as exc:
        form = {"channel_id": channel.id, "schedule": typed, "enabled": enabled, "error": exc}
        return _failed(connection_id, exc, schedule_form=form)
    if channel.schedule is None:
        message = f"Schedule of {channel.name} cleared."
    elif channel.schedule_enabled:
        upcoming = sync_service.next_fire(channel.schedule)
        message = (f"{channel.name} syncs on “{channel.schedule}” (UTC); next run {relative_time(upcoming)}, "
                   f"{exact_time(upcoming)}.")
    else:
        message = f"Schedule “{channel.schedule}” of {channel.name} saved, paused."
    return _done(connection_id, message)
