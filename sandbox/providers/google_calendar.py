"""Google Calendar API v3 under /google/calendar/v3, on the sandbox kit with Google's voice and
OAuth server (``google.GoogleApi``): https://developers.google.com/workspace/calendar/api/v3/reference

The signed-in user sees four calendars: their primary one (owner), ``Team`` (writer), the US
holidays (reader; its id has a ``#`` in it, as Google's holiday calendars do) and ``Leadership``
(free/busy only). Events are a seeded collection (``/_sandbox/collections/google_calendar/events``;
a ``"calendar"`` field says whose): ``{"status": "cancelled"}`` cancels one, as deleting it in
Calendar does; deleting it through the collection removes it for good (a sync then reports it
cancelled in every calendar, and events.get answers 410). Served: calendarList.list,
calendars.get, events.list (maxResults <= 2500; ``syncToken``: what changed since, cancelled
events included, ``nextSyncToken`` on the last page, as of the round's first page; a token from before
``POST /_sandbox/google_calendar/sync_tokens/expire`` is 410 ``fullSyncRequired``), events.get.
"""
from __future__ import annotations

import base64

from flask import request

from ..kit import Seeded, control, page_by_cursor, page_by_offset
from ..seed import END, START, SENTENCES, COMPONENTS, iso_ms, person_name
from . import int_arg, json_response, state
from .google import SCOPE, GoogleApi

ME = "sandbox.user@example.com"
CALENDARS = [
    {"id": ME, "summary": ME, "accessRole": "owner", "primary": True},
    {"id": "c_sbxteam@group.calendar.google.com", "summary": "Team", "accessRole": "writer"},
    {"id": "en.usa#holiday@group.v.calendar.google.com", "summary": "Holidays in United States",
     "accessRole": "reader"},
    {"id": "c_sbxleadership@group.calendar.google.com", "summary": "Leadership", "accessRole": "freeBusyReader"},
]
ROLES = ("freeBusyReader", "reader", "writer", "owner")


def _event(rnd, i):
    calendar = rnd.choices([c["id"] for c in CALENDARS[:3]], (6, 3, 1))[0]
    start = START + rnd.randrange(END - START) // 1800 * 1800
    if calendar == CALENDARS[2]["id"]:
        return {"calendar": calendar, "summary": rnd.choice(("Independence Day", "Labor Day", "Thanksgiving")),
                "start": start, "all_day": True, "organizer": calendar, "attendees": []}
    people = ["{}.{}@example.com".format(*person_name(rnd)).lower() for _ in range(rnd.randint(0, 3))]
    organizer = ME if calendar == ME and rnd.random() < 0.7 else (people[0] if people else ME)
    thing = rnd.choice(COMPONENTS)
    return {"calendar": calendar, "summary": rnd.choice((f"{thing.capitalize()} sync", f"Review: {thing}",
                                                         f"1:1 about the {thing}")),
            "description": " ".join(rnd.sample(SENTENCES, 2)), "location": rnd.choice(("", "Room 4", "Lisbon office")),
            "start": start, "minutes": rnd.choice((30, 45, 60)), "all_day": False, "organizer": organizer,
            "attendees": sorted({*people, ME} - {organizer}) if calendar == ME else people,
            "weekly": rnd.random() < 0.1}


class Calendar(GoogleApi):
    name, prefix = "google_calendar", "/google/calendar/v3"
    service = "calendar-json.googleapis.com"
    scopes = frozenset(SCOPE + s for s in ("calendar", "calendar.readonly", "calendar.events",
                                           "calendar.events.readonly"))
    limits = {None: (600, 60)}          # requests per minute per user
    collections = {"events": Seeded(_event)}


PROVIDER = Calendar()
bp = PROVIDER.bp


def event_id(record_id) -> str:
    return f"evt{int(record_id):06d}"


def _calendar(calendar_id: str) -> dict:
    found = next((c for c in CALENDARS if c["id"] == calendar_id), None)
    if found is None:
        PROVIDER.fail(404, "Not Found", "notFound")
    return found


def _when(seconds: int, all_day: bool) -> dict:
    return {"date": iso_ms(seconds)[:10]} if all_day else {"dateTime": iso_ms(seconds)[:19] + "Z", "timeZone": "UTC"}


def event_json(r: dict, calendar: dict) -> dict:
    eid, etag = event_id(r["id"]), f'"{r["updated"]}000000"'
    if r.get("status") == "cancelled" or r.get("deleted"):
        return {"kind": "calendar#event", "etag": etag, "id": eid, "status": "cancelled"}
    start, all_day = int(r.get("start") or r["created"]), bool(r.get("all_day"))
    end = start + (86400 if all_day else 60 * int(r.get("minutes") or 60))
    organizer = r.get("organizer") or ME
    body = {"kind": "calendar#event", "etag": etag, "id": eid, "status": "confirmed",
            "htmlLink": "https://www.google.com/calendar/event?eid=" + base64.urlsafe_b64encode(
                f"{eid} {calendar['id']}".encode()).decode().rstrip("="),
            "created": iso_ms(r["created"]), "updated": iso_ms(r["updated"]),
            "summary": r.get("summary") or "(No title)"}
    if calendar["accessRole"] == "freeBusyReader":
        return {"kind": body["kind"], "etag": etag, "id": eid, "status": "confirmed",
                "start": _when(start, all_day), "end": _when(end, all_day)}
    body.update({k: r[k] for k in ("description", "location") if r.get(k)})
    body["creator"] = body["organizer"] = {"email": organizer, **({"self": True} if organizer == calendar["id"] else {})}
    if organizer == calendar["id"] and calendar is CALENDARS[2]:
        body["organizer"] = {**body["organizer"], "displayName": calendar["summary"]}
    body.update(start=_when(start, all_day), end=_when(end, all_day))
    if r.get("weekly"):
        body["recurrence"] = ["RRULE:FREQ=WEEKLY"]
    body.update(iCalUID=f"{eid}@google.com", sequence=0)
    if r.get("attendees"):
        body["attendees"] = [{"email": e, "responseStatus": "accepted" if e == organizer else "needsAction",
                              **({"self": True} if e == calendar["id"] else {})}
                             for e in [organizer, *r["attendees"]]]
    body.update(reminders={"useDefault": True}, eventType="default")
    return body


def _token(calendar_id: str, since: int) -> str:
    raw = f"{_generation()}:{since}:{calendar_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _generation() -> int:
    return state().collections.get(("google_calendar", "generation"), 0)


def _since(token: str, calendar_id: str) -> int:
    """The time a sync token was handed out; an expired or foreign one is Calendar's 410."""
    try:
        generation, since, calendar = base64.urlsafe_b64decode(token.encode()).decode().split(":", 2)
        valid = int(generation) == _generation() and calendar == calendar_id
    except ValueError:
        valid = False
    if not valid:
        PROVIDER.fail(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
    return int(since)


# -- endpoints -------------------------------------------------------------------------------------

@PROVIDER.get("/users/me/calendarList")
def calendar_list(principal):
    PROVIDER.require_scope(principal, "calendar.v3.CalendarList.List")
    least = ROLES.index(request.args.get("minAccessRole", "freeBusyReader"))
    rows = [c for c in CALENDARS if ROLES.index(c["accessRole"]) >= least]
    start = int(request.args.get("pageToken") or 0) if (request.args.get("pageToken") or "0").isdigit() else 0
    chunk, following = page_by_offset(rows, start, int_arg("maxResults", 100, minimum=1, maximum=250))
    items = [{"kind": "calendar#calendarListEntry", "etag": '"1700000000000000"', "id": c["id"],
              "summary": c["summary"], "timeZone": "UTC", "colorId": str(n + 1), "backgroundColor": "#9fe1e7",
              "foregroundColor": "#000000", "selected": True, "accessRole": c["accessRole"], "defaultReminders": [],
              **({"primary": True} if c.get("primary") else {})} for n, c in enumerate(chunk)]
    body = {"kind": "calendar#calendarList", "etag": '"p33g9nmtsjuqpa0g"', "items": items}
    if following is not None:
        body["nextPageToken"] = str(following)
    else:
        body["nextSyncToken"] = _token("calendarList", int(state().now()))
    return json_response(body)


@PROVIDER.get("/calendars/<calendar_id>/events/<eid>")
def events_get(principal, calendar_id, eid):
    PROVIDER.require_scope(principal, "calendar.v3.Events.Get")
    calendar = _calendar(calendar_id)
    events = PROVIDER.collection("events")
    record_id = str(int(eid[3:])) if eid.startswith("evt") and eid[3:].isdigit() else ""
    with state().lock:
        record = events.get(record_id)
        if record is None and record_id in events.deleted:
            PROVIDER.fail(410, "Resource has been deleted", "deleted")
        if record is None or record.get("calendar") != calendar_id:
            PROVIDER.fail(404, "Not Found", "notFound")
        return json_response(event_json(record, calendar))


@PROVIDER.get("/calendars/<calendar_id>/events")
def events_list(principal, calendar_id):
    """A full listing by id (cancelled events only with showDeleted), or with ``syncToken``
    every change since it, oldest first; the last page carries ``nextSyncToken``."""
    PROVIDER.require_scope(principal, "calendar.v3.Events.List")
    calendar, st = _calendar(calendar_id), state()
    sync = request.args.get("syncToken")
    # A round's page tokens carry when its first page was asked for, and its nextSyncToken is
    # from then: what changes while a client pages (an event it already read, deleted or edited)
    # is in the next incremental round, as Google's sync guide promises ("they won't be missed").
    started, _, cursor = (request.args.get("pageToken") or "").rpartition("~")
    with st.lock:
        started = int(started) if started.isdigit() else int(st.now())
        events = PROVIDER.collection("events")
        if sync:
            since = _since(sync, calendar_id)
            rows = [r for r in events.changed_since(since) if r.get("calendar") == calendar_id]
            rows += [{"id": i, "updated": when, "created": when, "deleted": True}
                     for i, when in events.deleted.items() if when >= since]
            key = lambda r: (r["updated"], int(r["id"]))  # noqa: E731
        else:
            shown = request.args.get("showDeleted") == "true"
            rows = [r for r in events.rows.values() if r.get("calendar") == calendar_id
                    and (shown or r.get("status") != "cancelled")]
            key = lambda r: int(r["id"])  # noqa: E731
        rows.sort(key=key)
        chunk, following = page_by_cursor(rows, cursor or None, int_arg("maxResults", 250, minimum=1, maximum=2500),
                                          key=key)
        body = {"kind": "calendar#events", "etag": f'"{int(st.now())}000000"', "summary": calendar["summary"],
                "updated": iso_ms(max((r["updated"] for r in rows), default=START)), "timeZone": "UTC",
                "accessRole": calendar["accessRole"], "defaultReminders": [],
                "items": [event_json(r, calendar) for r in chunk]}
        if following:
            body["nextPageToken"] = f"{started}~{following}"
        else:
            body["nextSyncToken"] = _token(calendar_id, started)
    return json_response(body)


@PROVIDER.get("/calendars/<calendar_id>")
def calendars_get(principal, calendar_id):
    PROVIDER.require_scope(principal, "calendar.v3.Calendars.Get")
    calendar = _calendar(calendar_id)
    return json_response({"kind": "calendar#calendar", "etag": '"1700000000000000"', "id": calendar["id"],
                          "summary": calendar["summary"], "timeZone": "UTC",
                          "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}})


@control.post("/_sandbox/google_calendar/sync_tokens/expire")
def expire_sync_tokens():
    """Every sync token handed out so far stops working (410 ``fullSyncRequired``)."""
    st = state()
    with st.lock:
        st.collections[("google_calendar", "generation")] = _generation() + 1
    return json_response({"expired": True})
