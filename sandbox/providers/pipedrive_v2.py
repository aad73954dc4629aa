"""Pipedrive API v2 (the same company and API key as v1), under /pipedrive/api/v2.

What Tributary reads from v2: deals and activities with cursor pagination, and persons and
organizations by id. Shapes follow the official SDK's v2 models (``pipedrive`` on npm:
``Deal``, ``ActivityItem``, ``Person``, ``OrganizationItem``): ids instead of embedded objects,
RFC 3339 times, ``additional_data.next_cursor``.

Cursor pagination is keyset pagination: the cursor names the last record of the page (its sort
value and id) and the next page starts after it, so records deleted or changed meanwhile never
shift an unread record out of view (what offset pages of v1 do). ``ids`` (at most 100) answers
those records that exist and are not deleted, in id order, without a cursor.
"""
from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right
from datetime import datetime, timezone

from flask import Blueprint, Response, request

from ..seed import START, iso
from . import Window, guarded, int_arg, json_response, state
from . import pipedrive
from .pipedrive import PROVIDER

bp = Blueprint("pipedrive_v2", __name__, url_prefix="/pipedrive/api/v2")

SORTS = {"deal": ("id", "update_time", "add_time"), "activity": ("id", "update_time", "add_time")}
COLUMN = {"update_time": 0, "add_time": 1, "id": 2}
MAX_IDS = 100


def error(message: str, status: int = 400) -> Response:
    """v2's error body."""
    return json_response({"success": False, "error": message, "code": f"ERR_{status}",
                          "error_info": "Please check developers.pipedrive.com for more information about "
                                        "Pipedrive API.", "data": None, "additional_data": None}, status)


# -- JSON shapes (the SDK's v2 models) -----------------------------------------------------------

def deal_v2(deal: dict, deleted: bool = False) -> dict:
    status, close = deal["status"], deal["close"]
    return {
        "id": deal["id"], "title": deal["title"], "owner_id": deal["owner"]["id"],
        "person_id": deal["person"]["id"], "org_id": deal["org"]["id"], "pipeline_id": 1,
        "stage_id": deal["stage_id"], "value": deal["value"], "currency": deal["currency"],
        "add_time": iso(deal["add"]), "update_time": iso(deal["update"]),
        "stage_change_time": iso(deal["update"]), "is_deleted": deleted, "is_archived": False,
        "status": status, "probability": deal["probability"], "lost_reason": deal["lost_reason"],
        "visible_to": deal["visible"], "close_time": iso(close) if close else None,
        "won_time": iso(close) if status == "won" else None,
        "lost_time": iso(close) if status == "lost" else None,
        "expected_close_date": deal["expected_close_date"], "label_ids": [], "origin": "ManuallyCreated",
        "origin_id": None, "channel": None, "channel_id": None, "arr": None, "mrr": None, "acv": None,
        "custom_fields": {},
    }


# Fields the SDK's v2 models type without null: left out when unset rather than sent as null.
UNSET_LEFT_OUT = ("deal_id", "person_id", "org_id", "lead_id", "project_id", "location", "marked_as_done_time",
                  "conference_meeting_client", "conference_meeting_url", "conference_meeting_id", "priority",
                  "picture_id")


def _set_only(record: dict) -> dict:
    return {k: v for k, v in record.items() if v is not None or k not in UNSET_LEFT_OUT}


def activity_v2(activity: dict) -> dict:
    return _set_only(_activity_v2(activity))


def _activity_v2(activity: dict) -> dict:
    deal, person, org = pipedrive.parties(activity)
    return {
        "id": activity["id"], "subject": activity["subject"], "type": activity["type"],
        "owner_id": activity["owner"]["id"], "creator_user_id": activity["owner"]["id"], "is_deleted": False,
        "add_time": iso(activity["add"]), "update_time": iso(activity["update"]), "deal_id": deal and deal["id"],
        "lead_id": None, "person_id": person and person["id"], "org_id": org and org["id"], "project_id": None,
        "due_date": datetime.fromtimestamp(activity["due"], timezone.utc).strftime("%Y-%m-%d"),
        "due_time": activity["due_time"], "duration": activity["duration"], "busy": False,
        "done": activity["done"],
        "marked_as_done_time": iso(activity["done_time"]) if activity["done"] else None,
        "location": None, "participants": [{"person_id": person["id"], "primary": True}] if person else [],
        "attendees": [], "conference_meeting_client": None, "conference_meeting_url": None,
        "conference_meeting_id": None, "public_description": "", "priority": None, "note": activity["note"],
    }


def person_v2(person: dict) -> dict:
    first, _, last = person["name"].partition(" ")
    pd = state().data.pipedrive
    return _set_only({
        "id": person["id"], "name": person["name"], "first_name": first, "last_name": last,
        "owner_id": pd.users[person["owner"]]["id"], "org_id": person["org_id"],
        "add_time": iso(START - 200 * 86400), "update_time": iso(START - 100 * 86400),
        "emails": [{"value": person["email"], "primary": True, "label": "work"}],
        "phones": [{"value": person["phone"], "primary": True, "label": "work"}],
        "is_deleted": False, "visible_to": 3, "label_ids": [], "picture_id": None,
    })


def organization_v2(org: dict) -> dict:
    pd = state().data.pipedrive
    return {
        "id": org["id"], "name": org["name"], "owner_id": pd.users[org["owner"]]["id"],
        "add_time": iso(START - 300 * 86400), "update_time": iso(START - 150 * 86400), "is_deleted": False,
        "visible_to": 3, "address": {"value": org["address"]}, "label_ids": [], "website": None,
        "linkedin": None, "industry": None, "annual_revenue": None, "employee_count": None,
    }


# -- cursors and listing ---------------------------------------------------------------------------

def encode_cursor(value, key: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, key]).encode()).decode().rstrip("=")


def decode_cursor(raw: str):
    try:
        value, key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return value, int(key)
    except (ValueError, TypeError):
        return None


def rfc3339(name: str) -> tuple[float | None, Response | None]:
    raw = request.args.get(name)
    if not raw:
        return None, None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp(), None
    except ValueError:
        return None, error(f"{name} must be a RFC3339 date-time, e.g. 2025-01-01T10:20:00Z")


def ids_arg() -> tuple[list[int] | None, Response | None]:
    raw = request.args.get("ids")
    if raw is None:
        return None, None
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        return None, error("ids must be a comma separated list of integers")
    if len(ids) > MAX_IDS:
        return None, error(f"ids accepts at most {MAX_IDS} ids")
    return ids, None


def listing(stream: str, keep, render, key_filters: tuple) -> Response:
    """A v2 list of ``stream``: the rows ``keep`` keeps, sorted, filtered by update time, one
    cursor page (or the ``ids`` asked for), rendered by ``render(key)``."""
    pd = state().data.pipedrive
    ids, bad = ids_arg()
    if bad:
        return bad
    if ids is not None:
        found = [key for key in sorted(set(ids)) if pd.exists(stream, key) and not pd.is_deleted(stream, key)]
        rows = [r for r in (pd.index(stream)[key - 1] for key in found) if keep(r)]
        return page_response([render(r[2]) for r in rows], None)
    sort_by = request.args.get("sort_by", "id")
    if sort_by not in SORTS[stream]:
        return error(f"sort_by must be one of {', '.join(SORTS[stream])}")
    direction = request.args.get("sort_direction", "asc")
    if direction not in ("asc", "desc"):
        return error("sort_direction must be asc or desc")
    since, bad = rfc3339("updated_since")
    if bad:
        return bad
    until, bad = rfc3339("updated_until")
    if bad:
        return bad
    limit = int_arg("limit", 100, minimum=1, maximum=500)
    column = COLUMN[sort_by]

    def build():
        rows = [r for r in pd.index(stream) if not pd.is_deleted(stream, r[2]) and keep(r)
                and (since is None or r[0] >= since) and (until is None or r[0] < until)]
        rows.sort(key=lambda r: (r[column], r[2]))
        return rows

    rows = pd.view(("v2", stream, key_filters, since, until, column), build)
    keys = pd.view(("v2-keys", stream, key_filters, since, until, column), lambda: [(r[column], r[2]) for r in rows])
    start = 0
    raw = request.args.get("cursor")
    if raw:
        cursor = decode_cursor(raw)
        if cursor is None:
            return error("cursor is not valid")
        value, key = cursor
        if direction == "asc":
            start = bisect_right(keys, (value, key))
        else:
            start = len(keys) - bisect_left(keys, (value, key))
    window = Window(rows, descending=direction == "desc")
    chunk = window[start:start + limit]
    following = None
    if start + limit < len(window) and chunk:
        last = chunk[-1]
        following = encode_cursor(last[column], last[2])
    return page_response([render(r[2]) for r in chunk], following)


def page_response(data: list, next_cursor: str | None) -> Response:
    return json_response({"success": True, "data": data, "additional_data": {"next_cursor": next_cursor}})


def optional_int(name: str):
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return "bad"


# -- endpoints ---------------------------------------------------------------------------------

@bp.get("/deals")
@guarded(PROVIDER)
def list_deals(principal):
    """Deals: cursor pages sorted by id / update_time / add_time, or ``ids``; status, owner_id."""
    pd = state().data.pipedrive
    statuses = [s for s in (request.args.get("status") or "").split(",") if s]
    if any(s not in ("open", "won", "lost", "deleted") for s in statuses):
        return error("status must be open, won, lost or deleted")
    owner = optional_int("owner_id")
    if owner == "bad":
        return error("owner_id must be an integer")
    if "deleted" in statuses:
        return error("the sandbox does not list deleted deals")
    wanted = tuple(statuses)
    return listing("deal", lambda r: (not wanted or r[3] in wanted) and (owner is None or r[4] == owner),
                   lambda key: deal_v2(pd.deal(key)), (wanted, owner))


@bp.get("/activities")
@guarded(PROVIDER)
def list_activities(principal):
    """Activities: cursor pages sorted by id / update_time / add_time, or ``ids``; deal_id, done."""
    pd = state().data.pipedrive
    deal_id = optional_int("deal_id")
    if deal_id == "bad":
        return error("deal_id must be an integer")
    done = request.args.get("done")
    done = None if done is None else done in ("true", "1")
    if deal_id is not None:
        keep = lambda r: ((pd.activity(r[2])["deal"] or {}).get("id") == deal_id  # noqa: E731
                          and (done is None or r[3] == done))
    else:
        keep = lambda r: done is None or r[3] == done  # noqa: E731
    return listing("activity", keep, lambda key: activity_v2(pd.activity(key)), (deal_id, done))


# v2 deletes as v1 does (a deal stays readable by id, as deleted, for 30 days).
bp.add_url_rule("/deals/<int:deal_id>", view_func=pipedrive.delete_deal, methods=["DELETE"])
bp.add_url_rule("/activities/<int:activity_id>", view_func=pipedrive.delete_activity, methods=["DELETE"])


@bp.get("/persons")
@guarded(PROVIDER)
def list_persons(principal):
    """Persons by ``ids`` (or the first page of all of them)."""
    return by_ids(state().data.pipedrive.persons, person_v2)


@bp.get("/organizations")
@guarded(PROVIDER)
def list_organizations(principal):
    return by_ids(state().data.pipedrive.orgs, organization_v2)


def by_ids(items: list[dict], render) -> Response:
    ids, bad = ids_arg()
    if bad:
        return bad
    limit = int_arg("limit", 100, minimum=1, maximum=500)
    chosen = [i for i in items if ids is None or i["id"] in set(ids)][:limit]
    return page_response([render(i) for i in chosen], None)
