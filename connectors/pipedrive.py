"""Pipedrive: API key (personal API token), verified with ``GET /v1/users/me``.

Docs: https://developers.pipedrive.com/docs/api/v1 and /v2

Streams (no channels):

* ``deals`` -- API v2 ``GET /api/v2/deals``, cursor pages. Full: ``sort_by=id`` (a keyset on the
  id: a deal deleted or changed mid-read never shifts an unread one out of view, as v1's offset
  pages do); incremental: ``updated_since=<cursor>&sort_by=update_time``, oldest change first.
* ``activities`` -- API v2 ``GET /api/v2/activities``, the same way (every user's activities).
  An activity's document carries its deal's title: ``activities`` is a child of ``deals``, so a
  renamed deal re-derives its activities' and notes' documents (``rederive``).
* ``notes`` -- v1 ``GET /v1/notes?sort=update_time DESC`` (API v2 has no notes), read as leads are:
  an incremental pass stops at the first note older than its cursor. A note's document names the
  deal, person or organization it is on (as of when the note was last read) and its text (HTML
  made text); its readers are those who may read every item it is linked to, as an activity's.
* ``leads`` -- v1 ``GET /v1/leads?sort=update_time DESC`` (leads have no v2 listing nor an
  updated-since filter): an incremental pass reads newest first and stops at the first lead older
  than its cursor; a full pass reads them all. Its offset pages overlap by a few leads.

Deletion: ``fetch_records`` asks for what a full read did not see (v2 ``ids=``, up to 100 a
request; leads and notes one by one, ``GET /v1/leads/{id}``, ``/v1/notes/{id}``), so only records
Pipedrive no longer has are deleted. ``list_ids`` (the prune pass) lists ids by the same id keyset.

State: ``{"cursor": "<RFC 3339 update_time>", "boundary": {...}}`` for deals and activities
(after a full pass the cursor is when the pass started, less five minutes for clock skew, so
changes made while it ran are read next time); ``{"cursor": "<ISO update_time>", ...}`` for leads.

Who may read (connections in the ``source`` access mode, Pipedrive's default): each record's own
``visible_to``, with its owner (``owner_id``) and the company's users (``GET /v1/users``: e-mail
and admin flag) and visibility groups (``GET /v1/roles``). Pipedrive's values depend on the plan:
with one visibility group (Essential/Advanced, or a larger plan that made no other) 1 is "owner
(& followers)" and 3, 5, 7 reach the whole company; with several (Professional/Enterprise) 1 is
the owner, 3 the owner's visibility group, 5 that group and its sub-groups, 7 the whole company.
Tributary maps the whole company to the whole workspace and everything narrower to the owner
plus the company's admins (who see every record in Pipedrive) -- conservative: followers and
visibility groups are not resolved, so their members who are not the owner do not read it here
(an unknown value, or roles Pipedrive will not list, count as narrow too). A user is a reader as
``("email", <their Pipedrive e-mail>)`` and ``("provider_user", "pipedrive:<user id>")``. An
activity has no visibility of its own: Pipedrive shows it to whoever may read every item it is
linked to (deal, person, organization), so its readers are the intersection of theirs (an
activity linked to a lead, or to nothing, is its owner's and the admins'). A record whose
``visible_to`` is missing is hidden (fail closed).

Records are Pipedrive's JSON plus the names documents show, looked up once per run (users,
stages, activity types) or by id in batches kept in a bounded cache (persons, organizations,
an activity's deal): ``_company_domain``, ``_owner_name``, ``_stage_name``, ``_person_name``,
``_org_name``, ``_type_name``, ``_deal_title``, and ``_readers`` (``"company"`` or reader pairs).
Names of records Tributary does not sync (persons, organizations, users, stages) are as of when
the record was last read.
"""
from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import NamedTuple

from ._text import html_text
from .actions import Action, Lookup, Phrasing, ProviderRequest, same_words, schema, string
from .base import CatalogEntry, DocumentData, RateLimits
from .errors import ProviderRefused
from .kit import FetchById, Incremental, RestConnector, StreamSpec, WhoAmI, api_key
from .rest import BoundedCache, OffsetPaginator, RestStream, TokenPaginator, dig, iso_z, parse_time, shorten


def _upgraded(state: dict | None) -> dict | None:
    """A v1-era checkpoint (``/recents`` cursor ``YYYY-MM-DD HH:MM:SS``) as a v2 one (RFC 3339);
    a v1 listing pass in progress restarts (its offsets mean nothing to v2)."""
    if not state:
        return state
    cursor = state.get("cursor")
    if isinstance(cursor, str) and " " in cursor:
        parsed = parse_time(cursor)
        state = {**state, "cursor": iso_z(parsed) if parsed else None, "boundary": {}}
    resume = state.get("resume")
    if isinstance(resume, dict) and "start" in (resume.get("page") or {}):
        state = {k: v for k, v in state.items() if k != "resume"}
    return state


class _Item(NamedTuple):
    """What is kept of a looked-up person, organization or deal: its name (a deal's title) and
    what its readers depend on."""

    name: str | None
    owner_id: int | None
    visible_to: object

    @classmethod
    def of(cls, record: dict) -> "_Item":
        return cls(record.get("name", record.get("title")), record.get("owner_id"), record.get("visible_to"))


class _Lookups:
    """Names and readers for records, looked up once per run (users, visibility groups, stages,
    activity types, the company domain) or by id in batches of 100 with a bounded cache
    (persons, organizations, deals; the deals a run reads fill the cache of deals as they go by,
    so activities read after them cost no lookup)."""

    def __init__(self, api):
        self.api = api
        self.once: dict = {}
        self.cached: dict[str, BoundedCache] = {}

    @classmethod
    def of(cls, api) -> "_Lookups":
        """The run's lookups (kept in its context: the deals read before the activities give
        the activities their titles)."""
        return api.ctx.memo.setdefault("pipedrive.lookups", cls(api))

    def _once(self, name: str, load):
        if name not in self.once:
            self.once[name] = load()
        return self.once[name]

    def _listed(self, path: str, params: dict | None = None) -> list:
        return (self.api.get(path, params) or {}).get("data") or []

    def cache(self, kind: str) -> BoundedCache:
        size = self.api.connector.deal_titles_size if kind == "deals" else self.api.connector.lookup_cache_size
        return self.cached.setdefault(kind, BoundedCache(size))

    def by_id(self, kind: str, ids) -> dict:
        """``{id: _Item}`` for ``ids`` (v2 ``/kind?ids=``), asking only for those not cached; an
        id Pipedrive does not answer (deleted) maps to None."""
        cache = self.cache(kind)
        wanted = sorted({i for i in ids if isinstance(i, int)} - set(cache))
        for start in range(0, len(wanted), 100):
            chunk = wanted[start:start + 100]
            answered = {r["id"]: _Item.of(r) for r in self._listed(self.api.fill("{v2}/" + kind),
                                                                   {"ids": ",".join(map(str, chunk))})}
            for i in chunk:
                cache.get_or_load(i, lambda i=i: answered.get(i))
        return {i: cache.get(i) for i in ids if i in cache}

    def users(self) -> dict:
        """The company's users: ``{id: {"name", "email", "admin"}}``."""
        def load():
            found = {}
            for user in self._listed("/users"):
                admin = any(isinstance(a, dict) and a.get("admin") for a in user.get("access") or [])
                found[user["id"]] = {"name": user.get("name"), "email": user.get("email"),
                                     "admin": bool(admin or user.get("is_admin"))}
            return found
        return self._once("users", load)

    def several_groups(self) -> bool | None:
        """Whether the company has more than one visibility group (``GET /v1/roles``: its roles
        are its visibility groups); None when Pipedrive will not list them (a key without the
        right)."""
        def load():
            try:
                roles = self._listed("/roles", {"limit": 500})
            except ProviderRefused:
                return None
            return sum(1 for role in roles if role.get("active_flag", True)) > 1
        return self._once("groups", load)

    def readers(self, visible_to, owner_id):
        """``"company"``, or the reader pairs of the users who may read a record with this
        ``visible_to`` and owner (see the module docstring); None when ``visible_to`` is missing."""
        try:
            value = int(visible_to)
        except (TypeError, ValueError):
            return None
        if value == 7 or (value in (3, 5) and self.several_groups() is False):
            return "company"
        return self._pairs({owner_id} | self._admins())

    def activity_readers(self, activity: dict, linked: list):
        """Whoever may read every item the activity is linked to (``linked``: their looked-up
        records, None for one Pipedrive did not answer)."""
        own = self._pairs({activity.get("owner_id")} | self._admins())
        if activity.get("lead_id") or not linked or any(item is None for item in linked):
            return own
        allowed = None   # the whole company, until an item narrows it
        for item in linked:
            readers = self.readers(item.visible_to, item.owner_id)
            if readers is None:
                return own
            if readers != "company":
                pairs = {tuple(pair) for pair in readers}
                allowed = pairs if allowed is None else allowed & pairs
        return "company" if allowed is None else sorted([kind, value] for kind, value in allowed)

    def _admins(self) -> set:
        return {user_id for user_id, user in self.users().items() if user["admin"]}

    def _pairs(self, user_ids) -> list:
        users = self.users()
        pairs = set()
        for user_id in user_ids:
            if not isinstance(user_id, int):
                continue
            pairs.add(("provider_user", f"pipedrive:{user_id}"))
            email = (users.get(user_id) or {}).get("email")
            if email:
                pairs.add(("email", email.strip().lower()))
        return sorted([kind, value] for kind, value in pairs)

    def enrich(self, name: str, records: list[dict]) -> None:
        if not records:
            return
        domain = self._once("domain", lambda: ((self.api.get("/users/me") or {}).get("data") or {})
                            .get("company_domain"))
        users = self.users()
        if name == "leads":
            for lead in records:
                lead["_company_domain"] = domain
                lead["_owner_name"] = (users.get(lead.get("owner_id")) or {}).get("name")
                lead["_readers"] = self.readers(lead.get("visible_to"), lead.get("owner_id"))
            return
        if name == "notes":                 # a note's owner is its author
            for note in records:
                note.setdefault("owner_id", note.get("user_id"))
        persons = self.by_id("persons", [r.get("person_id") for r in records])
        orgs = self.by_id("organizations", [r.get("org_id") for r in records])
        stages = self._once("stages", lambda: {s["id"]: s.get("name") for s in self._listed("/stages")}) \
            if name == "deals" else {}
        types = self._once("types", lambda: {t.get("key_string"): t.get("name") for t in self._listed(
            "/activityTypes")}) if name == "activities" else {}
        deals = self.by_id("deals", [r.get("deal_id") for r in records]) if name in ("activities", "notes") else {}
        for record in records:
            person, org = persons.get(record.get("person_id")), orgs.get(record.get("org_id"))
            record["_company_domain"] = domain
            record["_owner_name"] = (users.get(record.get("owner_id")) or {}).get("name")
            record["_person_name"] = person.name if person else None
            record["_org_name"] = org.name if org else None
            if name == "deals":
                record["_stage_name"] = stages.get(record.get("stage_id"))
                record["_readers"] = self.readers(record.get("visible_to"), record.get("owner_id"))
                kept = self.cache("deals")
                kept[record["id"]] = _Item.of(record)
                if len(kept) > kept.size:
                    kept.popitem(last=False)
            else:
                deal = deals.get(record.get("deal_id"))
                record["_type_name"] = types.get(record.get("type"))
                record["_deal_title"] = deal.name if deal else None
                linked = [found.get(record[field]) for field, found in
                          (("deal_id", deals), ("person_id", persons), ("org_id", orgs)) if record.get(field)]
                record["_readers"] = self.activity_readers(record, linked)


# -- documents ----------------------------------------------------------------------------------

def _domain(record: dict) -> str | None:
    if record.get("_company_domain"):
        return record["_company_domain"]
    # cc addresses are "<company domain>+deal12@pipedrivemail.com".
    for field in ("cc_email", "deal_dropbox_bcc", "person_dropbox_bcc"):
        match = re.match(r"^([a-z0-9-]+)[+@]", record.get(field) or "")
        if match:
            return match.group(1)
    return None


def _web(record: dict, path: str) -> str | None:
    domain = _domain(record)
    return f"https://{domain}.pipedrive.com/{path}" if domain else None


def _linked_url(record: dict, otherwise: str | None) -> str | None:
    """The web page of what an activity or a note is attached to: its deal, else its lead, else
    its person; ``otherwise`` when none."""
    for field, path in (("deal_id", "deal/{}"), ("lead_id", "leads/inbox/{}"), ("person_id", "person/{}")):
        if record.get(field):
            return _web(record, path.format(record[field]))
    return otherwise


def _lines(pairs) -> str:
    return "\n".join(f"{label}: {value}" for label, value in pairs if value not in (None, "", []))


def _plain(html: str | None) -> str:
    """Pipedrive notes are HTML; documents want text."""
    return re.sub(r"\s+\n", "\n", re.sub(r"<[^>]+>", " ", html or "")).strip()


def _money(value, currency) -> str | None:
    if value in (None, ""):
        return None
    return f"{value:,} {currency}".strip() if isinstance(value, (int, float)) else f"{value} {currency or ''}".strip()


def _readers(record: dict):
    """The record's readers as ``_Lookups`` worked them out (None: unknown, so hidden)."""
    from access.service import Readers

    found = record.get("_readers")
    if found is None:
        return None
    return Readers.everyone() if found == "company" else Readers.of(*(tuple(pair) for pair in found))


def _deal_document(deal: dict) -> DocumentData:
    """A v2 deal (ids, RFC 3339 times) with the names ``_Lookups`` added."""
    owner, person, org, stage = deal.get("_owner_name"), deal.get("_person_name"), deal.get("_org_name"), \
        deal.get("_stage_name")
    content = _lines([
        ("Deal", deal.get("title")), ("Value", _money(deal.get("value"), deal.get("currency"))),
        ("Status", deal.get("status")), ("Stage", stage), ("Lost reason", deal.get("lost_reason")),
        ("Person", person), ("Organization", org), ("Owner", owner),
        ("Expected close date", deal.get("expected_close_date")),
        ("Won", deal.get("won_time")), ("Lost", deal.get("lost_time")),
        ("Probability", f"{deal['probability']}%" if deal.get("probability") is not None else None),
    ])
    return DocumentData(
        external_id=str(deal["id"]), title=deal.get("title") or f"Deal {deal['id']}", content=content,
        type="deal", url=_web(deal, f"deal/{deal['id']}"), author=owner,
        created_at=parse_time(deal.get("add_time")), updated_at=parse_time(deal.get("update_time")),
        metadata={"value": deal.get("value"), "currency": deal.get("currency"), "status": deal.get("status"),
                  "stage_id": deal.get("stage_id"), "stage": stage, "pipeline_id": deal.get("pipeline_id"),
                  "person_id": deal.get("person_id"), "person_name": person,
                  "org_id": deal.get("org_id"), "org_name": org, "owner_id": deal.get("owner_id"),
                  "expected_close_date": deal.get("expected_close_date"),
                  "probability": deal.get("probability"), "lost_reason": deal.get("lost_reason"),
                  "close_time": deal.get("close_time")})


def _activity_document(activity: dict) -> DocumentData:
    """A v2 activity with the names ``_Lookups`` added; its deal's title is copied (and
    re-derived when the deal is renamed: ``_rederive_activity``)."""
    when = " ".join(p for p in (activity.get("due_date"), activity.get("due_time")) if p)
    note = _plain(activity.get("note"))
    location = activity.get("location")
    location = location.get("value") if isinstance(location, dict) else location
    deal_title = activity.get("_deal_title")
    content = _lines([
        (activity.get("_type_name") or (activity.get("type") or "Activity").title(), activity.get("subject")),
        ("Due", when), ("Duration", activity.get("duration")),
        ("Done", "yes" if activity.get("done") else "no"),
        ("Deal", deal_title), ("Person", activity.get("_person_name")),
        ("Organization", activity.get("_org_name")), ("Owner", activity.get("_owner_name")),
        ("Location", location),
    ])
    if note:
        content += f"\n\n{note}"
    url = _linked_url(activity, _web(activity, "activities/list"))
    return DocumentData(
        external_id=str(activity["id"]), title=activity.get("subject") or f"Activity {activity['id']}",
        content=content, type="activity", url=url, author=activity.get("_owner_name"),
        created_at=parse_time(activity.get("add_time")), updated_at=parse_time(activity.get("update_time")),
        parent_id=str(activity["deal_id"]) if activity.get("deal_id") else None,
        metadata={"activity_type": activity.get("type"), "done": activity.get("done"),
                  "due_date": activity.get("due_date"), "due_time": activity.get("due_time"),
                  "duration": activity.get("duration"), "deal_id": activity.get("deal_id"),
                  "deal_title": deal_title, "lead_id": activity.get("lead_id"),
                  "person_id": activity.get("person_id"), "person_name": activity.get("_person_name"),
                  "org_id": activity.get("org_id"), "org_name": activity.get("_org_name"),
                  "owner_id": activity.get("owner_id"),
                  "marked_as_done_time": activity.get("marked_as_done_time") or None})


def _rederive_activity(child: DocumentData, parent: DocumentData | None) -> DocumentData | None:
    """An activity copies its deal's title (a ``Deal:`` line and ``deal_title``); a deal that is
    gone (``parent`` None) takes its title with it."""
    old, new = child.metadata.get("deal_title"), parent.title if parent is not None else None
    if old == new:
        return None
    lines = [line for line in child.content.split("\n") if not (old is not None and line == f"Deal: {old}")]
    if new is not None:
        # The Deal line sits after Done, as _activity_document writes it.
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith("Done: ")), len(lines))
        lines.insert(at, f"Deal: {new}")
    return DocumentData(**{**child.__dict__, "content": "\n".join(lines),
                           "metadata": {**child.metadata, "deal_title": new}})


def _rederive_note(child: DocumentData, parent: DocumentData | None) -> DocumentData | None:
    """A note copies its deal's title (its first ``Deal:`` line, ``deal_title`` and its own
    title, "Note on <deal>"); a deal that is gone takes its title with it."""
    old, new = child.metadata.get("deal_title"), parent.title if parent is not None else None
    if old == new:
        return None
    lines = [line for line in child.content.split("\n") if not (old is not None and line == f"Deal: {old}")]
    if new is not None:
        lines.insert(0, f"Deal: {new}")
    title = child.title
    if old is not None and title == f"Note on {old}":
        about = new or child.metadata.get("person_name") or child.metadata.get("org_name")
        title = f"Note on {about}" if about else f"Note {child.external_id}"
    return DocumentData(**{**child.__dict__, "title": title, "content": "\n".join(lines),
                           "metadata": {**child.metadata, "deal_title": new}})


def _note_document(note: dict) -> DocumentData:
    """A v1 note (HTML made text) under the names of what it is attached to; its readers are
    those who may read every item it is linked to, as an activity's (``_Lookups``)."""
    text = html_text(note.get("content") or "")
    deal = note.get("_deal_title") or (note.get("deal") or {}).get("title")
    person = note.get("_person_name") or (note.get("person") or {}).get("name")
    org = note.get("_org_name") or (note.get("organization") or {}).get("name")
    author = note.get("_owner_name") or (note.get("user") or {}).get("name")
    about = deal or person or org
    head = _lines([("Deal", deal), ("Person", person), ("Organization", org), ("Author", author)])
    url = _linked_url(note, _web(note, f"organization/{note['org_id']}") if note.get("org_id") else None)
    return DocumentData(
        external_id=str(note["id"]), title=f"Note on {about}" if about else shorten(text, 80) or f"Note {note['id']}",
        content=(head + "\n\n" + text).strip(), type="note", url=url, author=author,
        created_at=parse_time(note.get("add_time")), updated_at=parse_time(note.get("update_time")),
        parent_id=str(note["deal_id"]) if note.get("deal_id") else None,
        metadata={"deal_id": note.get("deal_id"), "deal_title": deal, "person_id": note.get("person_id"),
                  "person_name": person, "org_id": note.get("org_id"), "org_name": org,
                  "lead_id": note.get("lead_id"), "owner_id": note.get("user_id")})


def _lead_document(lead: dict) -> DocumentData:
    value = lead.get("value") or {}
    owner = lead.get("_owner_name")
    content = _lines([
        ("Lead", lead.get("title")), ("Value", _money(value.get("amount"), value.get("currency"))),
        ("Source", lead.get("source_name")), ("Expected close date", lead.get("expected_close_date")),
        ("Archived", "yes" if lead.get("is_archived") else None), ("Owner", owner),
    ])
    return DocumentData(
        external_id=str(lead["id"]), title=lead.get("title") or shorten(content, 80) or "Lead",
        content=content, type="lead", url=_web(lead, f"leads/inbox/{lead['id']}"),
        author=owner or (str(lead["owner_id"]) if lead.get("owner_id") else None),
        created_at=parse_time(lead.get("add_time")), updated_at=parse_time(lead.get("update_time")),
        metadata={"value": value.get("amount"), "currency": value.get("currency"),
                  "archived": lead.get("is_archived"), "source": lead.get("source_name"),
                  "person_id": lead.get("person_id"), "org_id": lead.get("organization_id"),
                  "owner_id": lead.get("owner_id"), "label_ids": lead.get("label_ids") or [],
                  "expected_close_date": lead.get("expected_close_date")})


# -- the streams and the connector ----------------------------------------------------------------

def v2_stream(name: str, document_type: str, description: str, document, **more) -> StreamSpec:
    """Deals and activities: API v2 cursor pages, by id in full, by update time incrementally."""
    return StreamSpec(
        name, document_type, description=description, document=document, readers=_readers,
        listing=RestStream("{v2}/" + name, TokenPaginator(("additional_data", "next_cursor"), "cursor", "limit"),
                           records_path=("data",), params={"sort_by": "id", "sort_direction": "asc"}),
        incremental=Incremental.since("updated_since", "update_time", full_listing=timedelta(minutes=5),
                                      params={"sort_by": "update_time", "sort_direction": "asc"}),
        list_ids=True, fetch=FetchById("{v2}/" + name, ids_param="ids", records_path=("data",), pattern=r"\d+",
                                       belongs=lambda record, api: not record.get("is_deleted")),
        enrich=lambda records, body, api: _Lookups.of(api).enrich(name, records), **more)


def _next_start(body):
    pagination = dig(body, ("additional_data", "pagination")) or {}
    return pagination.get("next_start") if pagination.get("more_items_in_collection") else None


# -- actions (https://developers.pipedrive.com/docs/api/v1/Activities#addActivity, Notes#addNote,
# Deals#updateDeal) ----------------------------------------------------------------------------------------

ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")
ID = {"type": "integer", "minimum": 1}


def _create_activity(params, api):
    body = {"subject": params["subject"], "type": params.get("type") or "task"}
    body.update({k: params[k] for k in ("due_date", "due_time", "deal_id", "person_id", "org_id", "note")
                 if params.get(k) is not None})
    return [ProviderRequest("POST", "/activities", body)]


def _add_note(params, api):
    body = {"content": params["content"]}
    body.update({k: params[k] for k in ("deal_id", "person_id", "org_id", "lead_id") if params.get(k) is not None})
    return [ProviderRequest("POST", "/notes", body)]


def _move_deal(params, api):
    """Won and Lost are a deal's status; any other name is a stage of the deal's pipeline(s)."""
    wanted = str(params["stage"]).strip()
    path = f"/deals/{params['deal_id']}"
    if wanted.lower() in ("won", "lost", "open"):
        return [ProviderRequest("PUT", path, {"status": wanted.lower()})]
    if wanted.isdigit():
        return [ProviderRequest("PUT", path, {"stage_id": int(wanted)})]
    stages = (api.get("/stages") or {}).get("data") or []
    chosen = [s for s in stages if str(s.get("name", "")).lower() == wanted.lower()]
    if len(chosen) != 1:
        from core.errors import ValidationError

        raise ValidationError(f"Pipedrive has {'no' if not chosen else 'more than one'} stage named {wanted!r}; "
                              "name it by id, or one of: " + ", ".join(sorted({s.get('name', '') for s in stages}))
                              + " (or Won, Lost).", code="invalid_action_parameter",
                              details={"parameter": "stage", "stages": [{"id": s.get("id"), "name": s.get("name")}
                                                                        for s in stages]})
    return [ProviderRequest("PUT", path, {"stage_id": chosen[0]["id"]})]


def _rfc3339(moment) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sent(write, *fields) -> dict:
    """The write's ``fields`` that it gave (Pipedrive fills in the others: a deal's person and
    organization on its activity)."""
    return {k: write.body[k] for k in fields if write.body.get(k) is not None}


# Interrupted writes are looked up among what the key's user added since the run began: the
# activities (API v2, updated since then, newest added first) or the notes of the record the
# note went to (newest added first), with the write's subject, type, dates and links, or its text
# (Pipedrive keeps a note's HTML sanitized: compared by its words).
FIND_ACTIVITY = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", api.fill("{v2}/activities"), params={
        "updated_since": _rfc3339(since), "sort_by": "add_time", "sort_direction": "desc", "limit": 100,
        **_sent(write, "deal_id")}),
    lambda write, params: {"subject": write.body["subject"].strip(), "type": write.body["type"],
                           **_sent(write, "due_date", "due_time", "deal_id", "person_id", "org_id"),
                           **({"note": same_words(write.body["note"], html=True)} if write.body.get("note") else {})},
    records=("data",), mine="creator_user_id", whoami=("/users/me", "data.id"), made="add_time",
    answer=lambda activity, listing: {"success": True, "data": activity})
FIND_NOTE = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", "/notes", params={
        "sort": "add_time DESC", "limit": 100,
        **dict(list(_sent(write, "deal_id", "person_id", "org_id", "lead_id").items())[:1])}),
    lambda write, params: {"content": same_words(write.body["content"], html=True),
                           **_sent(write, "deal_id", "person_id", "org_id", "lead_id")},
    records=("data",), mine="user_id", whoami=("/users/me", "data.id"), made="add_time",
    answer=lambda note, listing: {"success": True, "data": note})


def _data(answers, params, api):
    data = (answers[-1] or {}).get("data") or {}
    return {"id": data.get("id"), **{k: data[k] for k in ("stage_id", "status", "deal_id") if k in data}}


ACTIONS = (
    Action("create_activity", "Schedule an activity (a call, meeting, task...), optionally on a deal.",
           schema(("subject",), subject=string("What the activity is.", maxLength=255),
                  type={"type": "string", "enum": list(ACTIVITY_TYPES), "description": "The activity type (task)."},
                  due_date={"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD."},
                  due_time={"type": "string", "pattern": r"^\d{2}:\d{2}$", "description": "HH:MM (UTC)."},
                  deal_id=ID, person_id=ID, org_id=ID, note=string("Notes (HTML).")),
           "activities:full", _create_activity, _data, find=FIND_ACTIVITY,
           phrasings=(Phrasing(r"(?:schedule|create|add) (?:an? )?(?P<type>call|meeting|task|deadline|email|lunch)"
                               r"(?: activity)? (?:for|on) deal (?P<deal_id>\d+)(?: on (?P<due_date>\d{4}-\d{2}-\d{2}))?"
                               r"(?: about|:| titled)\s*(?P<subject>.+)",
                               "Schedule a call for deal 42 on 2026-12-08 about renewal pricing"),)),
    Action("add_note", "Add a note to a deal, person, organization or lead.",
           {**schema(("content",), content=string("The note (HTML)."), deal_id=ID, person_id=ID, org_id=ID,
                     lead_id={"type": "string", "format": "uuid", "pattern": r"^[0-9a-f-]{36}$"}),
            "anyOf": [{"required": [k]} for k in ("deal_id", "person_id", "org_id", "lead_id")]},
           "deals:full", _add_note, _data, find=FIND_NOTE,
           phrasings=(Phrasing(r"(?:add|write) (?:a )?note (?:to|on) deal (?P<deal_id>\d+)(?: saying|:)\s*(?P<content>.+)",
                               "Add a note to deal 42: customer asked for a discount"),)),
    Action("move_deal_stage", "Move a deal to another stage of its pipeline, or mark it won or lost.",
           schema(("deal_id", "stage"), deal_id=ID,
                  stage=string("The stage's name or id, or Won / Lost.", maxLength=255)),
           "deals:full", _move_deal, _data, idempotent=True,
           phrasings=(Phrasing(r"(?:move|set) deal (?P<deal_id>\d+) to (?P<stage>.+)", "Move deal 42 to Won"),
                      Phrasing(r"mark deal (?P<deal_id>\d+) (?:as )?(?P<stage>won|lost)", "Mark deal 7 as lost"))),
)


class PipedriveConnector(RestConnector):
    catalog = CatalogEntry(
        type="pipedrive",
        display_name="Pipedrive",
        category="crm",
        auth_method="api_key",
        description="Leads, deals, activities and notes from your Pipedrive company.",
        docs_url="https://developers.pipedrive.com/docs/api/v1",
        # Token-based limits: 80 requests per 2 seconds on the Essential plan.
        rate_limits=RateLimits(requests_per_minute=1200),
        api_url="https://api.pipedrive.com/v1",
        permissions=True,
    )
    streams = (
        StreamSpec(
            "leads", "lead", description="Leads", document=_lead_document, readers=_readers,
            # Offset pages overlap (a fifth of a page, at most 10), so leads deleted between two
            # pages shift no unread lead out of view; past that a lead may wait for the next read
            # (never deleted: deletions are confirmed by id).
            listing=RestStream("/leads", OffsetPaginator(next_start=_next_start, overlap=10), records_path=("data",),
                               params={"archived_status": "all", "sort": "update_time DESC"}),
            incremental=Incremental.newest_first("update_time"), list_ids=True,
            fetch=FetchById("/leads/{id}", records_path=("data",)),
            enrich=lambda records, body, api: _Lookups.of(api).enrich("leads", records)),
        v2_stream("deals", "deal", "Deals", _deal_document),
        v2_stream("activities", "activity", "Calls, meetings, tasks and other activities",
                  _activity_document, parents=("deals",), rederive=_rederive_activity),
        StreamSpec(
            "notes", "note", description="Notes on deals, persons, organizations and leads", document=_note_document,
            readers=_readers,
            # v1 only (API v2 has no notes), newest change first, as leads: offset pages overlapping a little.
            listing=RestStream("/notes", OffsetPaginator(next_start=_next_start, overlap=10), records_path=("data",),
                               params={"sort": "update_time DESC"}),
            incremental=Incremental.newest_first("update_time"), list_ids=True,
            fetch=FetchById("/notes/{id}", records_path=("data",)),
            enrich=lambda records, body, api: _Lookups.of(api).enrich("notes", records),
            parents=("deals",), rederive=_rederive_note),
    )
    auth = api_key("x-api-token", "")
    actions = ACTIONS
    whoami = WhoAmI("/users/me", ("data",), id=lambda user: user.get("company_id") or user.get("id"),
                    handle="email",
                    name=lambda user: user.get("company_name") or user.get("company_domain") or user.get("name"))
    page_size = 500                  # Pipedrive's maximum ``limit``
    lookup_cache_size = 4096         # persons and organizations remembered during one run
    deal_titles_size = 200_000       # deal titles remembered during one run (activities show them)

    def placeholders(self) -> dict:
        """``{v2}``: API v2 beside v1 (``https://api.pipedrive.com/v1`` -> ``.../api/v2``)."""
        base = self.settings.api_url.rstrip("/")
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        return {"v2": root + "/v2" if root.endswith("/api") else root + "/api/v2"}

    def read(self, ctx, stream, *, state, mode, channel=None):
        if stream.name != "leads":
            state = _upgraded(state)
        return super().read(ctx, stream, state=state, mode=mode, channel=channel)

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"api_url": f"{sandbox_url}/pipedrive/api/v1"}
