"""Recording audit events.

``record`` only adds the event to the current session: the caller's commit writes it with the
change it describes, so there is never a change without its event or an event without its
change. Details are scrubbed of anything that looks like a secret before they are stored. The
entry takes its place in its workspace's hash chain when that commit happens (``audit.chain``).
"""
import base64
import binascii
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select

from core.errors import Forbidden, NotFound, ValidationError
from core.extensions import db
from core.pagination import parse_limit
from core.timeutil import isoformat

from . import chain  # noqa: F401  (installs the commit hook that chains entries)
from .actions import ACTIONS, OUTCOMES, matching
from .models import AuditEvent

_SECRETISH = re.compile(r"(secret|token|password|api_key|apikey|credential|key_hash|signature)", re.I)


def scrub(details: dict | None) -> dict:
    clean = {}
    for key, value in (details or {}).items():
        if _SECRETISH.search(key):
            continue
        clean[key] = scrub(value) if isinstance(value, dict) else value
    return clean


def record(actor, action: str, *, target_type: str | None = None, target_id: str | None = None,
           outcome: str = "success", details: dict | None = None,
           workspace_id: str | None = None) -> AuditEvent:
    if action not in ACTIONS:
        # A programming error: every action is documented (audit/actions.py, the README's table).
        raise ValueError(f"{action!r} is not in the audit action vocabulary (audit/actions.py)")
    event = AuditEvent(
        workspace_id=workspace_id if workspace_id is not None else getattr(actor, "workspace_id", None),
        actor_type=getattr(actor, "type", "system"),
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "label", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        client_address=getattr(actor, "client_address", None),
        # As the database will give it back (string keys, JSON types), so its hash can be recomputed.
        details=json.loads(json.dumps(scrub(details), default=str)),
    )
    db.session.add(event)
    return event


# -- reading the trail back ---------------------------------------------------------------------------

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
ENTRY_PREFIX = "aud_"


@dataclass(frozen=True)
class Filters:
    """What narrows a read of the trail (every field optional; all given must hold)."""

    actions: tuple[str, ...] | None = None  # from ``action``: one, or every one under a prefix
    action: str | None = None
    actor: str | None = None  # an actor's id (``usr_...``, ``key_...``) or name (e-mail, key name)
    target: str | None = None  # a target's id
    outcome: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def to_dict(self) -> dict:
        """The filters as given, for an export's own audit entry and the CSV's name."""
        return {k: (isoformat(v) if isinstance(v, datetime) else v) for k, v in
                (("action", self.action), ("actor", self.actor), ("target", self.target),
                 ("outcome", self.outcome), ("start", self.start), ("end", self.end)) if v}


def _invalid(parameter: str, message: str) -> ValidationError:
    return ValidationError(message, code="invalid_parameter", details={"parameter": parameter})


def parse_instant(value: str | None, parameter: str, *, end: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it names no offset). A bare date as an ``end``
    means the whole of that day."""
    if value in (None, ""):
        return None
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _invalid(parameter, f"{parameter} must be an ISO 8601 date or date-time, e.g. "
                                  "2026-01-31 or 2026-01-31T23:59:59Z.") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    if end and len(value.strip()) == 10:
        instant += timedelta(days=1) - timedelta(microseconds=1)
    return instant.astimezone(timezone.utc)


def check_range(start: datetime | None, end: datetime | None, names=("start", "end")) -> None:
    if start and end and start > end:
        raise ValidationError(f"{names[0]} is after {names[1]}.", code="invalid_date_range",
                              details={names[0]: isoformat(start), names[1]: isoformat(end)})


def parse_filters(args) -> Filters:
    """``Filters`` from query parameters or form fields (``args.get``); 422 for a bad one."""
    text = {name: (args.get(name) or "").strip() or None for name in ("action", "actor", "target", "outcome")}
    actions = None
    if text["action"]:
        actions = tuple(matching(text["action"]))
        if not actions:
            raise _invalid("action", "action names no audited action: use one of the documented actions, or a "
                                     "prefix such as connection.*")
    if text["outcome"] and text["outcome"] not in OUTCOMES:
        raise _invalid("outcome", "outcome is success or failure.")
    start, end = parse_instant(args.get("start"), "start"), parse_instant(args.get("end"), "end", end=True)
    check_range(start, end)
    return Filters(actions=actions, action=text["action"], actor=text["actor"], target=text["target"],
                   outcome=text["outcome"], start=start, end=end)


def visible(actor) -> list:
    """The entries ``actor`` may read: a workspace admin (or an ``admin`` key) the workspace's
    whole trail; any other member only their own actions in it."""
    conditions = [AuditEvent.workspace_id == actor.workspace_id]
    if not actor.is_admin:
        if actor.type != "user":
            raise Forbidden("Only a workspace admin can read the audit log.", code="admin_required")
        conditions += [AuditEvent.actor_type == "user", AuditEvent.actor_id == actor.user_id]
    return conditions


def _where(actor, filters: Filters) -> list:
    conditions = visible(actor)
    if filters.actions is not None:
        conditions.append(AuditEvent.action.in_(filters.actions))
    if filters.actor:
        conditions.append(or_(AuditEvent.actor_id == filters.actor, AuditEvent.actor_label == filters.actor))
    if filters.target:
        conditions.append(AuditEvent.target_id == filters.target)
    if filters.outcome:
        conditions.append(AuditEvent.outcome == filters.outcome)
    if filters.start:
        conditions.append(AuditEvent.created_at >= filters.start)
    if filters.end:
        conditions.append(AuditEvent.created_at <= filters.end)
    return conditions


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, seq = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        if kind == "seq" and seq.isdigit():
            return int(seq)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    raise ValidationError("cursor is not a cursor this API returned.", code="invalid_cursor",
                          details={"parameter": "cursor"})


def list_entries(actor, filters: Filters, *, limit=None, cursor: str | None = None) -> dict:
    """A page of entries, newest first (by place in the workspace's chain), and the cursor of the
    next page (``None`` on the last)."""
    limit = parse_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    conditions = _where(actor, filters)
    if cursor:
        conditions.append(AuditEvent.seq < _decode_cursor(cursor))
    rows = list(db.session.scalars(select(AuditEvent).where(*conditions)
                                   .order_by(AuditEvent.seq.desc(), AuditEvent.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"entries": [serialize(row) for row in rows],
            "next_cursor": _encode_cursor(rows[-1].seq) if more and rows[-1].seq is not None else None}


def iter_entries(actor, filters: Filters, *, batch: int = MAX_LIMIT):
    """Every entry matching ``filters``, newest first, read a batch at a time (for exports)."""
    cursor = None
    while True:
        page = list_entries(actor, filters, limit=batch, cursor=cursor)
        yield from page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def get_entry(actor, entry_id) -> dict:
    """One entry by its public id; another workspace's (or another member's) is the same 404."""
    number = entry_id[len(ENTRY_PREFIX):] if isinstance(entry_id, str) and entry_id.startswith(ENTRY_PREFIX) else ""
    entry = None
    if number.isdigit() and len(number) < 19:
        entry = db.session.scalar(select(AuditEvent).where(AuditEvent.id == int(number), *visible(actor)))
    if entry is None:
        raise NotFound("There is no such audit log entry.", details={"id": entry_id})
    return serialize(entry)


def serialize(entry: AuditEvent) -> dict:
    return {
        "id": f"{ENTRY_PREFIX}{entry.id}",
        "seq": entry.seq,
        "time": isoformat(entry.created_at),
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "name": entry.actor_label},
        "action": entry.action,
        "target": {"type": entry.target_type, "id": entry.target_id} if entry.target_type or entry.target_id else None,
        "outcome": entry.outcome,
        "client_address": entry.client_address,
        "details": entry.details or {},
        "prev_hash": entry.prev_hash,
        "hash": entry.entry_hash,
    }


# -- CSV ----------------------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "time", "actor_type", "actor_id", "actor_name", "action", "target_type", "target_id",
               "outcome", "client_address", "details", "hash")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula (``= + - @``, tab, CR)
    gets a leading ``'``, so opening the export never runs anything (CSV injection)."""
    text = "" if value is None else (value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_rows(entries):
    """The CSV export, line by line (a header, then one line per entry)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(cell) for cell in cells])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for e in entries:
        target = e["target"] or {}
        yield line((e["id"], e["time"], e["actor"]["type"], e["actor"]["id"], e["actor"]["name"], e["action"],
                    target.get("type"), target.get("id"), e["outcome"], e["client_address"], e["details"], e["hash"]))


def record_export(actor, export_format: str, **details) -> None:
    """Audit an export of the trail, in its own commit, before the export is sent."""
    record(actor, "audit.exported", target_type="audit_log", details={"format": export_format, **details})
    db.session.commit()
