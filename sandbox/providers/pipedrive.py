"""Pipedrive API v1 with API-key auth (``api_token`` query parameter or ``x-api-token`` header),
under /pipedrive/api/v1. Lists page by start/limit with additional_data.pagination, and
/recents serves incremental reads.

Two real-API habits are kept on purpose: an empty list page answers ``"data": null`` (not
``[]``), and /activities without ``user_id`` lists only the key owner's activities
(``user_id=0`` lists everyone's).
"""
from __future__ import annotations

import json
from bisect import bisect_left
from datetime import datetime, timezone

from flask import Blueprint, Response, request

from ..faults import RateInfo
from ..seed import ACTIVITY_TYPES, STAGES, day, iso, space_time
from . import (Principal, Provider, Window, dumps, gateway_error, guarded, int_arg,
               json_response, json_text_response, state)

bp = Blueprint("pipedrive", __name__, url_prefix="/pipedrive/api/v1")

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
RECENT_ITEMS = ("deal", "activity", "lead")
OTHER_RECENT_ITEMS = ("activityType", "file", "filter", "note", "person", "organization",
                      "pipeline", "product", "stage", "user")
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def error_body(message: str, code: int) -> dict:
    return {"success": False, "error": message, "errorCode": code, "error_info": ERROR_INFO,
            "data": None, "additional_data": None}


class Pipedrive(Provider):
    name = "pipedrive"
    prefix = "/pipedrive"
    default_limit = (80, 2)     # per api_token per 2-second window (Professional plan)

    def authenticate(self, st) -> Principal | None:
        key = request.args.get("api_token") or request.headers.get("x-api-token")
        return Principal(key=key) if key and key in st.pipedrive_keys else None

    def unauthorized(self) -> Response:
        return json_response({"success": False, "error": "unauthorized access", "errorCode": 401,
                              "error_info": ERROR_INFO}, 401)

    def not_found(self) -> Response:
        return json_response(error_body("Unknown method .", 404), 404)

    def rate_limited(self, info: RateInfo, status: int, now: float) -> Response:
        response = json_response(error_body("Rate limit exceeded", 429), 429)
        self.rate_headers(response, info, now)
        response.headers["retry-after"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def server_error(self, status: int) -> Response:
        if status == 500:
            return json_response(error_body("Internal server error", 500), 500)
        return gateway_error(status)

    def client_error(self, status: int) -> Response:
        message = {403: "You do not have permissions to access this resource", 404: "Unknown method .",
                   410: "Gone", 422: "Unprocessable entity"}.get(status, "Bad request")
        return json_response(error_body(message, status), status)

    def rate_headers(self, response: Response, info: RateInfo, now: float) -> None:
        response.headers["x-ratelimit-limit"] = str(info.limit)
        response.headers["x-ratelimit-remaining"] = str(info.remaining)
        # Pipedrive's reset is a number of seconds, not an epoch.
        response.headers["x-ratelimit-reset"] = str(info.seconds_to_reset(now))


PROVIDER = Pipedrive()


def bad_request(message: str) -> Response:
    return json_response(error_body(message, 400), 400)


# -- JSON shapes -----------------------------------------------------------------------------

def _cc_domain() -> str:
    return state().data.pipedrive.company["domain"]


def user_ref(user: dict) -> dict:
    return {"id": user["id"], "name": user["name"], "email": user["email"], "has_pic": 0,
            "pic_hash": None, "active_flag": True, "value": user["id"]}


def person_ref(person: dict) -> dict:
    pd = state().data.pipedrive
    return {"active_flag": True, "name": person["name"],
            "email": [{"label": "work", "value": person["email"], "primary": True}],
            "phone": [{"label": "work", "value": person["phone"], "primary": True}],
            "owner_id": pd.users[person["owner"]]["id"], "value": person["id"]}


def org_ref(org: dict) -> dict:
    pd = state().data.pipedrive
    people = pd.people_count(org["id"])
    return {"name": org["name"], "people_count": people, "owner_id": pd.users[org["owner"]]["id"],
            "address": org["address"], "active_flag": True,
            "cc_email": f"{_cc_domain()}@pipedrivemail.com", "label_ids": [],
            "owner_name": pd.users[org["owner"]]["name"], "value": org["id"]}


def money(value, currency: str) -> str:
    return f"{CURRENCY_SIGNS.get(currency, currency + ' ')}{value:,}"


def deal_json(deal: dict) -> dict:
    status, close = deal["status"], deal["close"]
    weighted = deal["value"] if status == "won" else (
        0 if status == "lost" else round(deal["value"] * (deal["probability"] or 100) / 100))
    return {
        "id": deal["id"], "creator_user_id": user_ref(deal["creator"]),
        "user_id": user_ref(deal["owner"]), "person_id": person_ref(deal["person"]),
        "org_id": org_ref(deal["org"]), "stage_id": deal["stage_id"], "title": deal["title"],
        "value": deal["value"], "acv": None, "mrr": None, "arr": None,
        "currency": deal["currency"], "add_time": space_time(deal["add"]),
        "update_time": space_time(deal["update"]), "stage_change_time": space_time(deal["update"]),
        "active": status == "open" and not deal.get("deleted"), "deleted": bool(deal.get("deleted")),
        "status": "deleted" if deal.get("deleted") else status,
        "probability": deal["probability"], "next_activity_date": None,
        "next_activity_time": None, "next_activity_id": None, "last_activity_id": None,
        "last_activity_date": None, "lost_reason": deal["lost_reason"], "visible_to": str(deal["visible"]),
        "close_time": space_time(close) if close else None, "pipeline_id": 1,
        "won_time": space_time(close) if status == "won" else None,
        "first_won_time": space_time(close) if status == "won" else None,
        "lost_time": space_time(close) if status == "lost" else None, "products_count": 0,
        "files_count": 0, "notes_count": deal["notes_count"], "followers_count": 1,
        "email_messages_count": 0, "activities_count": deal["activities_count"],
        "done_activities_count": deal["activities_count"] // 2,
        "undone_activities_count": deal["activities_count"] - deal["activities_count"] // 2,
        "participants_count": 1, "expected_close_date": deal["expected_close_date"],
        "last_incoming_mail_time": None, "last_outgoing_mail_time": None, "label": None,
        "origin": "ManuallyCreated", "origin_id": None, "channel": None, "channel_id": None,
        "stage_order_nr": deal["stage_id"], "person_name": deal["person"]["name"],
        "org_name": deal["org"]["name"], "next_activity_subject": None,
        "next_activity_type": None, "next_activity_duration": None, "next_activity_note": None,
        "formatted_value": money(deal["value"], deal["currency"]), "weighted_value": weighted,
        "formatted_weighted_value": money(weighted, deal["currency"]),
        "weighted_value_currency": deal["currency"], "rotten_time": None,
        "owner_name": deal["owner"]["name"],
        "cc_email": f"{_cc_domain()}+deal{deal['id']}@pipedrivemail.com",
        "org_hidden": False, "person_hidden": False,
    }


# Fields of a v1 activity that real Pipedrive sends as null when unset (no conference call, no
# Google Calendar sync, no structured location, not recurring), as its SDK's Activity requires.
ACTIVITY_UNSET = dict.fromkeys((
    "conference_meeting_id", "gcal_event_id", "google_calendar_id", "google_calendar_etag",
    "rec_rule_extension", "rec_master_activity_id", "location_subpremise",
    "location_street_number", "location_route", "location_sublocality", "location_locality",
    "location_admin_area_level_1", "location_admin_area_level_2", "location_country",
    "location_postal_code", "location_formatted_address"))


def parties(activity: dict) -> tuple[dict | None, dict | None, dict | None]:
    """An activity's deal, person and organization (a seeded one's are its deal's; one created
    through the API keeps those it was given, its deal's otherwise, or none)."""
    deal = activity["deal"]
    person = activity["person"] if "person" in activity else deal["person"]
    org = activity["org"] if "org" in activity else deal["org"]
    return deal, person, org


def activity_json(activity: dict) -> dict:
    pd = state().data.pipedrive
    deal, person, org = parties(activity)
    return {
        "id": activity["id"], "company_id": pd.company["id"], "user_id": activity["owner"]["id"],
        "done": activity["done"], "type": activity["type"], "reference_type": None,
        "reference_id": None, "conference_meeting_client": None, "conference_meeting_url": None,
        "due_date": day(activity["due"]), "due_time": activity["due_time"],
        "duration": activity["duration"], "busy_flag": False,
        "add_time": space_time(activity["add"]),
        "marked_as_done_time": space_time(activity["done_time"]) if activity["done"] else "",
        "last_notification_time": None, "last_notification_user_id": None,
        "notification_language_id": 1, "subject": activity["subject"], "public_description": "",
        "calendar_sync_include_context": None, "location": None, "org_id": org and org["id"],
        "person_id": person and person["id"], "deal_id": deal and deal["id"], "lead_id": None,
        "project_id": None, "active_flag": True, "update_time": space_time(activity["update"]),
        "update_user_id": None, "source_timezone": None, "rec_rule": None,
        "note": activity["note"], "created_by_user_id": activity["owner"]["id"],
        "attendees": None, "participants": [{"person_id": person["id"], "primary_flag": True}] if person else None,
        "series": None, "is_recurring": None, "org_name": org and org["name"],
        "person_name": person and person["name"], "deal_title": deal and deal["title"], "lead_title": None,
        "owner_name": activity["owner"]["name"],
        "person_dropbox_bcc": f"{_cc_domain()}@pipedrivemail.com",
        "deal_dropbox_bcc": f"{_cc_domain()}+deal{deal['id']}@pipedrivemail.com" if deal else None,
        "assigned_to_user_id": activity["owner"]["id"], "type_name": activity["type_name"],
        "file": None, **ACTIVITY_UNSET,
    }


def lead_json(lead: dict) -> dict:
    return {
        "id": lead["id"], "title": lead["title"], "owner_id": lead["owner"]["id"],
        "creator_id": lead["creator"]["id"], "label_ids": [], "person_id": lead["person"]["id"],
        "organization_id": lead["org"]["id"], "source_name": lead["source_name"],
        "origin": "API" if lead["source_name"] == "API" else "ManuallyCreated",
        "origin_id": None, "channel": None, "channel_id": None,
        "is_archived": lead["archived"], "was_seen": lead["seen"], "value": lead["value"],
        "expected_close_date": lead["expected_close_date"], "next_activity_id": None,
        "add_time": iso(lead["add"]).replace("Z", ".000Z"),
        "update_time": iso(lead["update"]).replace("Z", ".000Z"), "visible_to": str(lead["visible"]),
        "cc_email": f"{_cc_domain()}+lead{lead['number']}@pipedrivemail.com",
        "source_deal_id": None,
    }


def deal_refs(deal: dict) -> tuple:
    """What related_objects needs of a deal: (owner, creator, person, org) as (key, entity)."""
    return tuple((str(x["id"]), x) for x in (deal["owner"], deal["creator"], deal["person"],
                                             deal["org"]))


def related_objects(deals: list[dict]) -> dict:
    return related_of([deal_refs(deal) for deal in deals])


def related_of(refs: list[tuple]) -> dict:
    """related_objects of deals given as deal_refs tuples. Each entity's entry is the same
    whichever deal names it, so it is built once; key order is first appearance."""
    users, persons, orgs = {}, {}, {}
    for (owner_key, owner), (creator_key, creator), (person_key, p), (org_key, org) in refs:
        for key, user in ((owner_key, owner), (creator_key, creator)):
            if key not in users:
                users[key] = {k: v for k, v in user_ref(user).items() if k != "value"}
        if person_key not in persons:
            ref = person_ref(p)
            persons[person_key] = {"active_flag": True, "id": p["id"], "name": p["name"],
                                   "email": ref["email"], "phone": ref["phone"],
                                   "owner_id": ref["owner_id"]}
        if org_key not in orgs:
            o = org_ref(org)
            orgs[org_key] = {"active_flag": True, "id": org["id"], "name": o["name"],
                             "people_count": o["people_count"], "owner_id": o["owner_id"],
                             "address": o["address"], "cc_email": o["cc_email"]}
    return {"user": users, "person": persons, "organization": orgs}


# -- rendered records: each record's JSON (UTF-8 bytes), kept until a write changes it -------

def utf8(body) -> bytes:
    return dumps(body).encode()


def rendered_deal(pd, deal_id: int) -> tuple[bytes, tuple]:
    """(the deal's JSON, its deal_refs)."""
    def render(key):
        deal = pd.deal(key)
        return utf8(deal_json(deal)), deal_refs(deal)
    return pd.rendered("deal", deal_id, render)


def rendered_activity(pd, activity_id: int) -> bytes:
    return pd.rendered("activity", activity_id, lambda key: utf8(activity_json(pd.activity(key))))


def rendered_lead(pd, number: int) -> tuple[bytes, bytes]:
    """(the lead's JSON, its id as JSON)."""
    def render(key):
        lead = lead_json(pd.lead(key))
        return utf8(lead), utf8(lead["id"])
    return pd.rendered("lead", number, render)


def strict_deal(text: bytes) -> bytes:
    """A deal as /recents lists it (``DealStrict`` in Pipedrive's description): its creator,
    owner, person and organization as ids, not as the embedded objects /deals gives."""
    deal = json.loads(text)
    for field in ("creator_user_id", "user_id", "person_id", "org_id"):
        if isinstance(deal.get(field), dict):
            deal[field] = deal[field]["value"]
    return utf8(deal)


def json_list(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


# -- helpers ---------------------------------------------------------------------------------

def page_bounds() -> tuple[int, int]:
    return int_arg("start", 0, minimum=0), int_arg("limit", 100, minimum=1, maximum=500)


def pagination(start: int, limit: int, total: int) -> dict:
    more = start + limit < total
    out = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        out["next_start"] = start + limit
    return out


def sort_arg(default: str) -> tuple[int, bool]:
    """Pipedrive's ``sort=field DIR`` (id, add_time, update_time): (index column, descending)."""
    raw = (request.args.get("sort") or default).split(",")[0].strip()
    field, _, direction = raw.partition(" ")
    column = {"id": 2, "add_time": 1, "update_time": 0}.get(field.strip(), 2)
    return column, direction.strip().upper() == "DESC"


def sorted_view(pd, stream: str, flag_key, keep, column: int) -> list[tuple]:
    """The index rows of ``stream`` that ``keep`` keeps, in ascending (column, id) order,
    built once per (filter, column) until the next write."""
    def build():
        rows = [r for r in pd.index(stream) if keep(r)]
        if column != 2:         # the index is in id order already
            rows.sort(key=lambda r: (r[column], r[2]))
        return rows
    return pd.view((stream, flag_key, column), build)


def me() -> dict:
    return state().data.pipedrive.users[0]


# -- endpoints -------------------------------------------------------------------------------

@bp.get("/users/me")
@guarded(PROVIDER)
def users_me(principal):
    """The key's user, with the company bound to it."""
    pd = state().data.pipedrive
    user, company = pd.users[0], pd.company
    return json_response({"success": True, "data": {
        "id": user["id"], "name": user["name"], "default_currency": "USD", "locale": "en_US",
        "lang": 1, "email": user["email"], "phone": None, "activated": True,
        "last_login": "2025-06-27 08:43:13", "created": space_time(user["created"]),
        "modified": "2025-06-27 08:43:13", "has_created_company": True,
        "access": [{"app": "sales", "admin": True, "permission_set_id": "sandbox-admin"}],
        "active_flag": True, "timezone_name": "Europe/Berlin", "timezone_offset": "+02:00",
        "role_id": 1, "icon_url": None, "is_you": True, "is_deleted": False,
        "company_id": company["id"], "company_name": company["name"],
        "company_domain": company["domain"], "company_country": company["country"],
        "company_industry": "Software", "language": {"language_code": "en", "country_code": "US"},
    }})


@bp.get("/deals")
@guarded(PROVIDER)
def list_deals(principal):
    """Deals (status, sort, start/limit), with related_objects."""
    status = request.args.get("status", "all_not_deleted")
    if status not in ("open", "won", "lost", "deleted", "all_not_deleted"):
        return bad_request(f"Invalid status: {status}")
    pd = state().data.pipedrive
    column, descending = sort_arg("id ASC")
    rows = sorted_view(pd, "deal", status, lambda r: pd.is_deleted("deal", r[2]) if status == "deleted"
                       else not pd.is_deleted("deal", r[2]) and status in ("all_not_deleted", r[3]), column)
    start, limit = page_bounds()
    chunk = Window(rows, descending=descending)[start:start + limit]
    deals = [rendered_deal(pd, r[2]) for r in chunk]
    # The body is json.dumps of {"success", "data", "additional_data", "related_objects"},
    # spliced from the records' cached texts.
    return json_text_response(b"".join((
        b'{"success":true,"data":', json_list([text for text, _ in deals]) if deals else b"null",
        b',"additional_data":', utf8({"pagination": pagination(start, limit, len(rows))}),
        b',"related_objects":', utf8(related_of([refs for _, refs in deals])), b"}")))


@bp.get("/deals/<int:deal_id>")
@guarded(PROVIDER)
def get_deal(principal, deal_id):
    pd = state().data.pipedrive
    if not 1 <= deal_id <= pd.scale:
        return json_response(error_body("Deal not found", 404), 404)
    deal = pd.deal(deal_id)
    if pd.is_deleted("deal", deal_id):
        deal = {**deal, "deleted": True}
    return json_response({"success": True, "data": deal_json(deal),
                          "related_objects": related_objects([deal])})


@bp.delete("/deals/<int:deal_id>")
@guarded(PROVIDER)
def delete_deal(principal, deal_id):
    """Delete a deal (Pipedrive marks it deleted and keeps it 30 days)."""
    return delete_record("deal", deal_id, "Deal not found")


@bp.delete("/activities/<int:activity_id>")
@guarded(PROVIDER)
def delete_activity(principal, activity_id):
    return delete_record("activity", activity_id, "Activity not found")


def delete_record(stream: str, key: int, missing: str, answer_id=None) -> Response:
    """Delete one record of ``stream`` now: ``{"success": true, "data": {"id": ...}}``."""
    st = state()
    pd = st.data.pipedrive
    with st.lock:
        if not pd.delete(stream, key, int(st.now())):
            return json_response(error_body(missing, 404), 404)
    return json_response({"success": True, "data": {"id": key if answer_id is None else answer_id}})


@bp.get("/leads/<lead_id>")
@guarded(PROVIDER)
def get_lead(principal, lead_id):
    pd = state().data.pipedrive
    number = pd.lead_number(lead_id)
    if number is None or pd.is_deleted("lead", number):
        return json_response(error_body("Lead not found", 404), 404)
    return json_text_response(b'{"success":true,"data":' + rendered_lead(pd, number)[0] + b"}")


@bp.delete("/leads/<lead_id>")
@guarded(PROVIDER)
def delete_lead(principal, lead_id):
    number = state().data.pipedrive.lead_number(lead_id)
    if number is None:
        return json_response(error_body("Lead not found", 404), 404)
    return delete_record("lead", number, "Lead not found", answer_id=lead_id)


@bp.get("/activityTypes")
@guarded(PROVIDER)
def list_activity_types(principal):
    """The company's activity types (id, name, key_string)."""
    return json_response({"success": True, "data": [
        {"id": i, "order_nr": i, "name": name, "key_string": key, "icon_key": key, "active_flag": True,
         "color": "FFFFFF", "is_custom_flag": False, "add_time": "2023-01-01 00:00:00",
         "update_time": "2023-01-01 00:00:00"}
        for i, (key, name) in enumerate(ACTIVITY_TYPES, start=1)]})


def _write_body() -> dict:
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else request.form.to_dict()


@bp.put("/deals/<int:deal_id>")
@guarded(PROVIDER)
def update_deal(principal, deal_id):
    """Update a deal (title, value, currency, status, stage_id, expected_close_date, visible_to)."""
    st = state()
    pd = st.data.pipedrive
    if not 1 <= deal_id <= pd.scale:
        return json_response(error_body("Deal not found", 404), 404)
    payload = _write_body()
    fields = {}
    if "title" in payload:
        if not isinstance(payload["title"], str) or not payload["title"].strip():
            return bad_request("Deal title must be a non-empty string")
        fields["title"] = payload["title"]
    if "value" in payload:
        try:
            fields["value"] = int(float(payload["value"]))
        except (TypeError, ValueError):
            return bad_request("Deal value must be a number")
    if "currency" in payload:
        fields["currency"] = str(payload["currency"]).upper()
    if "status" in payload:
        if payload["status"] not in ("open", "won", "lost"):
            return bad_request(f"Invalid status: {payload['status']}")
        fields["status"] = payload["status"]
    if "stage_id" in payload:
        stage = int_arg_value(payload["stage_id"])
        if stage is None or not 1 <= stage <= len(STAGES):
            return bad_request("Stage not found")
        fields["stage_id"] = stage
    if "expected_close_date" in payload:
        fields["expected_close_date"] = payload["expected_close_date"]
    if "visible_to" in payload:
        visible = int_arg_value(payload["visible_to"])
        if visible not in VISIBLE_TO:
            return bad_request(f"Invalid visible_to: {payload['visible_to']} (the company's plan allows "
                               f"{', '.join(map(str, VISIBLE_TO))})")
        fields["visible"] = visible
    with st.lock:
        pd.patch("deal", deal_id, fields, int(st.now()))
        deal = pd.deal(deal_id)
        return json_response({"success": True, "data": deal_json(deal),
                              "related_objects": related_objects([deal])})


def _linked(payload: dict, pd) -> dict | Response:
    """The records a new activity or note is linked to: ids that exist, else Pipedrive's 400."""
    found = {}
    for name, limit in (("deal_id", pd.scale), ("person_id", len(pd.persons)), ("org_id", len(pd.orgs))):
        if payload.get(name) is None:
            continue
        value = int_arg_value(payload[name])
        if value is None or not 1 <= value <= limit or (name == "deal_id" and pd.is_deleted("deal", value)):
            return bad_request(f"{name.split('_')[0].capitalize()} with id {payload[name]} not found")
        found[name] = value
    return found


@bp.post("/activities")
@guarded(PROVIDER)
def add_activity(principal):
    """Add an activity (https://developers.pipedrive.com/docs/api/v1/Activities#addActivity): a subject,
    a type of the company's (``key_string``), due date YYYY-MM-DD and time HH:MM, linked records."""
    st, payload = state(), _write_body()
    pd = st.data.pipedrive
    subject = payload.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        return bad_request("Subject is required")
    kind = payload.get("type") or "task"
    if kind not in {key for key, _ in ACTIVITY_TYPES}:
        return bad_request(f"Activity type \"{kind}\" is not valid")
    due = payload.get("due_date")
    if due is not None:
        try:
            datetime.strptime(str(due), "%Y-%m-%d")
        except ValueError:
            return bad_request("Invalid due_date, use the YYYY-MM-DD format")
    linked = _linked(payload, pd)
    if isinstance(linked, Response):
        return linked
    now = int(st.now())
    deal = pd.deal(linked["deal_id"]) if linked.get("deal_id") else None
    person = pd.persons[linked["person_id"] - 1] if linked.get("person_id") else deal and deal["person"]
    org = next(o for o in pd.orgs if o["id"] == linked["org_id"]) if linked.get("org_id") else (
        deal["org"] if deal else person and next(o for o in pd.orgs if o["id"] == person["org_id"]))
    # Without a due date Pipedrive makes the activity due today.
    due_at = int(datetime.strptime(str(due), "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()) if due else now
    with st.lock:
        record = pd.create("activity", {
            "type": kind, "type_name": dict(ACTIVITY_TYPES)[kind], "subject": subject.strip(), "add": now,
            "update": now, "due": due_at, "done": False, "done_time": None, "duration": "",
            "due_time": payload.get("due_time") or "", "deal_id": deal and deal["id"], "person": person, "org": org,
            "owner": me(), "note": payload.get("note") or ""})
        answer = activity_json(pd.activity(record["id"]))
    return json_response({"success": True, "data": answer, "additional_data": {"updates_story_id": record["id"]},
                          "related_objects": {}}, 201)


@bp.post("/notes")
@guarded(PROVIDER)
def add_note(principal):
    """Add a note (https://developers.pipedrive.com/docs/api/v1/Notes#addNote): ``content`` (HTML) and
    at least one of deal_id, person_id, org_id, lead_id."""
    st, payload = state(), _write_body()
    pd = st.data.pipedrive
    content = payload.get("content")
    if not isinstance(content, str) or not content.strip():
        return bad_request("Content is required")
    if not any(payload.get(k) is not None for k in ("deal_id", "person_id", "org_id", "lead_id")):
        return bad_request("One of deal_id, person_id, org_id or lead_id is required")
    linked = _linked(payload, pd)
    if isinstance(linked, Response):
        return linked
    now = int(st.now())
    with st.lock:
        record = pd.create("note", {"user": me(), "content": content, "add": now, "update": now,
                                    "deal_id": linked.get("deal_id"), "person_id": linked.get("person_id"),
                                    "org_id": linked.get("org_id"), "lead_id": payload.get("lead_id")})
        answer = note_json(pd.note(record["id"]))
    return json_response({"success": True, "data": answer}, 201)


def note_json(note: dict) -> dict:
    """A v1 note (the SDK's ``Note``): its links by id and by name, its author."""
    pd = state().data.pipedrive
    deal = pd.deal(note["deal_id"]) if note.get("deal_id") else None
    person = pd.persons[note["person_id"] - 1] if note.get("person_id") else None
    org = next(o for o in pd.orgs if o["id"] == note["org_id"]) if note.get("org_id") else None
    user = note["user"]
    return {"id": note["id"], "user_id": user["id"], "deal_id": note.get("deal_id"),
            "person_id": note.get("person_id"), "org_id": note.get("org_id"), "lead_id": note.get("lead_id"),
            "project_id": None, "content": note["content"], "add_time": space_time(note["add"]),
            "update_time": space_time(note["update"]), "active_flag": True, "pinned_to_deal_flag": False,
            "pinned_to_person_flag": False, "pinned_to_organization_flag": False, "pinned_to_project_flag": False,
            "last_update_user_id": None, "deal": {"title": deal["title"]} if deal else None,
            "person": {"name": person["name"]} if person else None,
            "organization": {"name": org["name"]} if org else None, "project": None,
            "user": {"email": user["email"], "name": user["name"], "icon_url": None,
                     "is_you": user["id"] == me()["id"]}}


NOTE_SORTS = ("id", "user_id", "deal_id", "person_id", "org_id", "content", "add_time", "update_time")


@bp.get("/notes")
@guarded(PROVIDER)
def list_notes(principal):
    """Notes (https://developers.pipedrive.com/docs/api/v1/Notes#getNotes): every user's, or
    ``user_id``'s; of ``deal_id``, ``person_id``, ``org_id`` or ``lead_id``; ``sort`` by the
    first-level fields (``update_time DESC``...), ``start``/``limit`` offset pages. The sandbox seeds
    no notes: these are the ones the API added."""
    pd = state().data.pipedrive
    notes = [pd.note(i) for i in range(1, len(pd.created["note"]) + 1)]
    notes = [n for n in notes if n is not None]
    for name in ("user_id", "deal_id", "person_id", "org_id", "lead_id"):
        raw = request.args.get(name)
        if raw is None:
            continue
        wanted = raw if name == "lead_id" else int_arg_value(raw)
        if wanted is None:
            return bad_request(f"Invalid {name}")
        notes = [n for n in notes if (n["user"]["id"] if name == "user_id" else n.get(name)) == wanted]
    order = []
    for part in reversed([p.strip() for p in request.args.get("sort", "").split(",") if p.strip()]):
        field, _, direction = part.partition(" ")
        if field not in NOTE_SORTS or direction.strip().upper() not in ("", "ASC", "DESC"):
            return bad_request(f"Invalid sort field: {part}")
        order.append((field, direction.strip().upper() == "DESC"))
    rendered = [note_json(n) for n in notes]
    for field, descending in order:
        rendered.sort(key=lambda n: (n[field] is None, n[field] if n[field] is not None else 0), reverse=descending)
    start, limit = page_bounds()
    chunk = rendered[start:start + limit]
    return json_response({"success": True, "data": chunk or None,
                          "additional_data": {"pagination": pagination(start, limit, len(rendered))}})


@bp.get("/notes/<int:note_id>")
@guarded(PROVIDER)
def get_note(principal, note_id):
    note = state().data.pipedrive.note(note_id)
    if note is None:
        return json_response(error_body("Note not found", 404), 404)
    return json_response({"success": True, "data": note_json(note)})


@bp.delete("/notes/<int:note_id>")
@guarded(PROVIDER)
def delete_note(principal, note_id):
    """Delete a note (https://developers.pipedrive.com/docs/api/v1/Notes#deleteNote): its answer's
    ``data`` is ``true``, not the id the other deletes answer."""
    st = state()
    with st.lock:
        if st.data.pipedrive.note(note_id) is None or not st.data.pipedrive.delete("note", note_id, int(st.now())):
            return json_response(error_body("Note not found", 404), 404)
    return json_response({"success": True, "data": True})


@bp.put("/activities/<int:activity_id>")
@guarded(PROVIDER)
def update_activity(principal, activity_id):
    """Update an activity (subject, done, note)."""
    st = state()
    pd = st.data.pipedrive
    if not pd.exists("activity", activity_id) or pd.is_deleted("activity", activity_id):
        return json_response(error_body("Activity not found", 404), 404)
    payload = _write_body()
    fields = {}
    if "subject" in payload:
        if not isinstance(payload["subject"], str) or not payload["subject"].strip():
            return bad_request("Activity subject must be a non-empty string")
        fields["subject"] = payload["subject"]
    if "done" in payload:
        fields["done"] = payload["done"] in (True, 1, "1", "true")
    if "note" in payload:
        fields["note"] = str(payload["note"] or "")
    with st.lock:
        pd.patch("activity", activity_id, fields, int(st.now()))
        return json_response({"success": True, "data": activity_json(pd.activity(activity_id))})


def int_arg_value(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The visibility values the company's plan offers (one visibility group: Essential/Advanced).
VISIBLE_TO = (1, 3)


@bp.get("/roles")
@guarded(PROVIDER)
def list_roles(principal):
    """The company's roles, which are its visibility groups: one, the default every user is in."""
    pd = state().data.pipedrive
    return json_response({"success": True, "data": [{
        "id": 1, "parent_role_id": None, "name": "Regular user", "active_flag": True,
        "assignment_count": str(len(pd.users)), "sub_role_count": "0", "level": 1}],
        "additional_data": {"pagination": {"start": 0, "limit": 100, "more_items_in_collection": False}}})


@bp.get("/users")
@guarded(PROVIDER)
def list_users(principal):
    """Every user of the company."""
    pd = state().data.pipedrive
    me_id = me()["id"]
    return json_response({"success": True, "data": [{
        "id": u["id"], "name": u["name"], "default_currency": "USD", "locale": "en_US", "lang": 1,
        "email": u["email"], "phone": None, "activated": True, "last_login": "2025-06-27 08:43:13",
        "created": space_time(u["created"]), "modified": "2025-06-27 08:43:13",
        "has_created_company": u["id"] == me_id, "access": [{"app": "sales", "admin": u["id"] == me_id}],
        "active_flag": True, "timezone_name": "Europe/Berlin", "timezone_offset": "+02:00",
        "role_id": 1, "icon_url": None, "is_you": u["id"] == me_id, "is_deleted": False,
    } for u in pd.users]})


@bp.get("/activities")
@guarded(PROVIDER)
def list_activities(principal):
    """Activities (user_id: default the key's user, 0 for everyone; done; start/limit)."""
    pd = state().data.pipedrive
    user_id = int_arg("user_id", me()["id"])
    done = request.args.get("done")
    done = None if done is None else done == "1"
    rows = sorted_view(pd, "activity", (user_id, done),
                       lambda r: ((user_id == 0 or r[4] == user_id) and not pd.is_deleted("activity", r[2])
                                  and (done is None or done == r[3])), 2)
    start, limit = page_bounds()
    chunk = rows[start:start + limit]
    texts = [rendered_activity(pd, r[2]) for r in chunk]
    return json_text_response(b"".join((
        b'{"success":true,"data":', json_list(texts) if texts else b"null",
        b',"additional_data":', utf8({"pagination": pagination(start, limit, len(rows))}), b"}")))


@bp.get("/leads")
@guarded(PROVIDER)
def list_leads(principal):
    """Leads (archived_status, sort, start/limit)."""
    archived = request.args.get("archived_status", "all")
    if archived not in ("archived", "not_archived", "all"):
        return bad_request(f"Invalid archived_status: {archived}")
    pd = state().data.pipedrive
    column, descending = sort_arg("add_time ASC")
    rows = sorted_view(pd, "lead", archived,
                       lambda r: not pd.is_deleted("lead", r[2]) and (
                           archived == "all" or r[3] == (archived == "archived")), column)
    start, limit = page_bounds()
    chunk = Window(rows, descending=descending)[start:start + limit]
    # Unlike the other lists, an empty leads page is "data": [].
    return json_text_response(b"".join((
        b'{"success":true,"data":', json_list([rendered_lead(pd, r[2])[0] for r in chunk]),
        b',"additional_data":', utf8({"pagination": pagination(start, limit, len(rows))}), b"}")))


@bp.get("/recents")
@guarded(PROVIDER)
def recents(principal):
    """Everything changed at or after since_timestamp (UTC, YYYY-MM-DD HH:MM:SS), oldest first.

    ``items`` may name deal, activity and lead (the sandbox holds no other item types;
    note that real Pipedrive does not list ``lead`` among recents item types).
    """
    raw = request.args.get("since_timestamp")
    if not raw:
        return bad_request("since_timestamp is required")
    try:
        since = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=timezone.utc).timestamp()
    except ValueError:
        return bad_request("since_timestamp must be in format YYYY-MM-DD HH:MM:SS")
    wanted = [s.strip() for s in request.args.get("items", "").split(",") if s.strip()]
    unknown = [s for s in wanted if s not in RECENT_ITEMS + OTHER_RECENT_ITEMS]
    if unknown:
        return bad_request(f"Invalid items: {', '.join(unknown)}")
    streams = [s for s in RECENT_ITEMS if not wanted or s in wanted]
    pd = state().data.pipedrive
    # Every change of these streams, oldest first; the since filter is a bisection.
    changes = pd.view(("recents", tuple(streams)), lambda: sorted(
        (r[0], RECENT_ITEMS.index(s), r[2], s) for s in streams for r in pd.index(s)
        if not pd.is_deleted(s, r[2])))
    first = bisect_left(changes, (since,))
    total = len(changes) - first
    start, limit = page_bounds()
    chunk = changes[first + start:first + start + limit] if start < total else []
    data = []
    for _update, _order, key, stream in chunk:
        if stream == "deal":
            data.append(b'{"item":"deal","id":%d,"data":%s}'
                        % (key, strict_deal(rendered_deal(pd, key)[0])))
        elif stream == "activity":
            data.append(b'{"item":"activity","id":%d,"data":%s}'
                        % (key, rendered_activity(pd, key)))
        else:
            text, lead_id = rendered_lead(pd, key)
            data.append(b'{"item":"lead","id":%s,"data":%s}' % (lead_id, text))
    return json_text_response(b"".join((
        b'{"success":true,"data":', json_list(data) if data else b"null",
        b',"additional_data":', utf8({
            "since_timestamp": raw,
            "last_timestamp_on_page": space_time(chunk[-1][0]) if chunk else raw,
            "pagination": pagination(start, limit, total),
        }), b"}")))


@bp.get("/stages")
@guarded(PROVIDER)
def list_stages(principal):
    return json_response({"success": True, "data": [
        {"id": i, "order_nr": i, "name": name, "active_flag": True, "deal_probability": 100,
         "pipeline_id": 1, "rotten_flag": False, "rotten_days": None,
         "add_time": "2023-01-01 00:00:00", "update_time": "2023-01-01 00:00:00",
         "pipeline_name": "Sales pipeline", "pipeline_deal_probability": True}
        for i, name in enumerate(STAGES, start=1)],
        "additional_data": {"pagination": pagination(0, 100, len(STAGES))}})

