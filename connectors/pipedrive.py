"""Pipedrive: API key (personal API token), verified with ``GET /users/me``.

Docs: https://developers.pipedrive.com/docs/api/v1

Streams (no channels):

* ``deals`` -- full: ``GET /deals?start&limit`` (``additional_data.pagination``); incremental:
  ``GET /recents?items=deal&since_timestamp=<UTC YYYY-MM-DD HH:MM:SS>``, oldest change first.
* ``activities`` -- full: ``GET /activities?user_id=0`` (``user_id=0``: everyone's, not only the
  key owner's); incremental: ``/recents?items=activity``.
* ``leads`` -- ``GET /leads?sort=update_time DESC``. Pipedrive's ``/recents`` does not list leads,
  and ``/leads`` has no updated-since filter, but it sorts by ``update_time``: an incremental
  pass reads newest first and stops at the first lead older than its cursor; a full pass reads
  them all. (Leads are usually few; converted or deleted ones leave at the next full run or the
  ``list_ids`` prune.)

State: ``{"cursor": "YYYY-MM-DD HH:MM:SS", "boundary": {...}}`` for deals and activities (after a
full pass the cursor is when the pass started, less ``lookback`` for clock skew, so changes made
while it ran are read next time); ``{"cursor": "<ISO update_time>", "boundary": {...}}`` for leads.
Offset pages overlap by a few records so a record deleted mid-read cannot hide an unread one.

Records are Pipedrive's JSON plus ``_company_domain`` (for web URLs), ``_stage_name`` on deals and
``_owner_name`` on leads, each looked up once per read.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .base import Account, CatalogEntry, Connector, DocumentData, RateLimits, Stream
from .http import ProviderClient
from .rest import (OffsetPaginator, RestStream, dig, ids_of, parse_time, read_listing,
                   read_updated_desc, read_updated_since, resume_of, shorten)

PIPEDRIVE_TIME = "%Y-%m-%d %H:%M:%S"
RECENT_ITEMS = {"deals": "deal", "activities": "activity"}


def _next_start(body) -> int | None:
    pagination = dig(body, ("additional_data", "pagination")) or {}
    return pagination.get("next_start") if pagination.get("more_items_in_collection") else None


class PipedriveConnector(Connector):
    catalog = CatalogEntry(
        type="pipedrive",
        display_name="Pipedrive",
        category="crm",
        auth_method="api_key",
        description="Leads, deals and activities from your Pipedrive company.",
        docs_url="https://developers.pipedrive.com/docs/api/v1",
        streams=(
            Stream("leads", "lead", "Leads"),
            Stream("deals", "deal", "Deals"),
            Stream("activities", "activity", "Calls, meetings, tasks and other activities"),
        ),
        # Token-based limits: 80 requests per 2 seconds on the Essential plan.
        rate_limits=RateLimits(requests_per_minute=1200),
        api_url="https://api.pipedrive.com/v1",
    )

    page_size = 500                 # Pipedrive's maximum ``limit``
    overlap = 10                    # records each offset page re-reads of the previous one
    lookback = timedelta(minutes=5)  # subtracted from a full pass's start for the next cursor

    def client(self, api_key: str, limiter=None) -> ProviderClient:
        return ProviderClient("Pipedrive", self.settings.api_url, timeout=self.settings.timeout,
                              headers={"x-api-token": api_key}, limiter=limiter)

    def check(self, api_key: str) -> Account:
        body = self.client(api_key).get_json("/users/me", checking_credentials=True)
        user = (body or {}).get("data") or {}
        company = user.get("company_name") or user.get("company_domain")
        return Account(external_id=str(user.get("company_id") or user.get("id")),
                       handle=user.get("email"), display_name=company or user.get("name"))

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"api_url": f"{sandbox_url}/pipedrive/api/v1"}

    # -- the streams, as in Pipedrive's reference -------------------------------------------------
    def _paginator(self) -> OffsetPaginator:
        return OffsetPaginator(next_start=_next_start,
                               overlap=max(0, min(self.overlap, self.page_size // 5)))

    def _listing(self, stream: str) -> RestStream:
        paths = {"deals": ("/deals", {"status": "all_not_deleted", "sort": "id ASC"}),
                 "activities": ("/activities", {"user_id": 0}),
                 "leads": ("/leads", {"archived_status": "all", "sort": "update_time DESC"})}
        path, params = paths[stream]
        return RestStream(path, self._paginator(), records_path=("data",), params=params,
                          page_size=self.page_size)

    def _recents(self, item: str) -> RestStream:
        return RestStream("/recents", self._paginator(), records_path=("data",), params={"items": item},
                          page_size=self.page_size)

    # -- syncing ----------------------------------------------------------------------------------
    def read(self, ctx, stream, *, state, mode, channel=None):
        if stream.name not in ("deals", "activities", "leads"):
            raise ValueError(f"Pipedrive has no stream {stream.name!r}")
        client = self.client((ctx.credentials or {}).get("api_key", ""), ctx.limiter)
        return self._enriched(self._pages(ctx, client, stream.name, state, mode), client, stream.name)

    def _pages(self, ctx, client, name, state, mode):
        key = _key
        if name == "leads":
            return read_updated_desc(self._listing("leads").fetcher(client), state=state, mode=mode,
                                     key=key, updated=lambda r: r["update_time"])
        resume = resume_of(state, mode)
        listing_pass = (resume.get("pass") == "listing") if resume else (
            mode == "full" or not (state or {}).get("cursor"))
        if listing_pass:
            started = (datetime.now(timezone.utc) - self.lookback).strftime(PIPEDRIVE_TIME)
            return read_listing(self._listing(name).fetcher(client), state=state, mode=mode, key=key,
                                pass_info=lambda: {"pass": "listing", "started": started},
                                done_state=lambda done: {"cursor": done["started"], "boundary": {}})
        recents = self._recents(RECENT_ITEMS[name])

        def fetch(since, token):
            fetched = recents.fetch(client, params={"since_timestamp": since}, token=token)
            fetched.records = [change["data"] for change in fetched.records if change.get("data")]
            return fetched
        return read_updated_since(fetch, state=state, mode=mode, key=key,
                                  updated=lambda r: r["update_time"])

    def _enriched(self, pages, client, name):
        """Add what documents need from elsewhere: web URL domain, stage and owner names."""
        lookups = None
        for page in pages:
            if page.records and lookups is None:
                lookups = self._lookups(client, name)
            for record in page.records:
                record["_company_domain"] = lookups["domain"]
                if name == "deals":
                    record["_stage_name"] = lookups["stages"].get(record.get("stage_id"))
                if name == "leads":
                    record["_owner_name"] = lookups["users"].get(record.get("owner_id"))
            yield page

    @staticmethod
    def _lookups(client, name) -> dict:
        me = (client.get_json("/users/me") or {}).get("data") or {}
        found = {"domain": me.get("company_domain"), "stages": {}, "users": {}}
        if name == "deals":
            found["stages"] = {s["id"]: s.get("name") for s in (client.get_json("/stages") or {}).get("data") or []}
        if name == "leads":
            found["users"] = {u["id"]: u.get("name") for u in (client.get_json("/users") or {}).get("data") or []}
        return found

    def list_ids(self, ctx, stream, channel=None):
        """Every current id, from the plain listing (the prune pass between full syncs)."""
        if stream.name not in ("deals", "activities", "leads"):
            return None
        client = self.client((ctx.credentials or {}).get("api_key", ""), ctx.limiter)
        return ids_of(read_listing(self._listing(stream.name).fetcher(client), state=None, mode="full",
                                   key=_key), _key)

    # -- documents --------------------------------------------------------------------------------
    def to_document(self, stream, record):
        if stream.name == "deals":
            return _deal_document(record)
        if stream.name == "activities":
            return _activity_document(record)
        if stream.name == "leads":
            return _lead_document(record)
        raise ValueError(f"Pipedrive has no stream {stream.name!r}")


# -- documents ----------------------------------------------------------------------------------

def _key(record: dict) -> str:
    return str(record["id"])


def _name(value):
    """Pipedrive embeds related records as ``{"name", "value": id}`` in some lists, ids in others."""
    return value.get("name") if isinstance(value, dict) else None


def _id(value):
    return value.get("value") if isinstance(value, dict) else value


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


def _lines(pairs) -> str:
    return "\n".join(f"{label}: {value}" for label, value in pairs if value not in (None, "", []))


def _plain(html: str | None) -> str:
    """Pipedrive notes are HTML; documents want text."""
    return re.sub(r"\s+\n", "\n", re.sub(r"<[^>]+>", " ", html or "")).strip()


def _money(value, currency) -> str | None:
    if value in (None, ""):
        return None
    return f"{value:,} {currency}".strip() if isinstance(value, (int, float)) else f"{value} {currency or ''}".strip()


def _deal_document(deal: dict) -> DocumentData:
    owner = deal.get("owner_name") or _name(deal.get("user_id"))
    person = deal.get("person_name") or _name(deal.get("person_id"))
    org = deal.get("org_name") or _name(deal.get("org_id"))
    stage = deal.get("_stage_name")
    content = _lines([
        ("Deal", deal.get("title")),
        ("Value", deal.get("formatted_value") or _money(deal.get("value"), deal.get("currency"))),
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
                  "person_id": _id(deal.get("person_id")), "person_name": person,
                  "org_id": _id(deal.get("org_id")), "org_name": org, "owner_id": _id(deal.get("user_id")),
                  "expected_close_date": deal.get("expected_close_date"),
                  "probability": deal.get("probability"), "lost_reason": deal.get("lost_reason"),
                  "close_time": deal.get("close_time")})


def _activity_document(activity: dict) -> DocumentData:
    when = " ".join(p for p in (activity.get("due_date"), activity.get("due_time")) if p)
    note = _plain(activity.get("note"))
    content = _lines([
        (activity.get("type_name") or (activity.get("type") or "Activity").title(), activity.get("subject")),
        ("Due", when), ("Duration", activity.get("duration")),
        ("Done", "yes" if activity.get("done") else "no"),
        ("Deal", activity.get("deal_title")), ("Lead", activity.get("lead_title")),
        ("Person", activity.get("person_name")), ("Organization", activity.get("org_name")),
        ("Owner", activity.get("owner_name")), ("Location", activity.get("location")),
    ])
    if note:
        content += f"\n\n{note}"
    if activity.get("deal_id"):
        url = _web(activity, f"deal/{activity['deal_id']}")
    elif activity.get("lead_id"):
        url = _web(activity, f"leads/inbox/{activity['lead_id']}")
    elif activity.get("person_id"):
        url = _web(activity, f"person/{activity['person_id']}")
    else:
        url = _web(activity, "activities/list")
    return DocumentData(
        external_id=str(activity["id"]), title=activity.get("subject") or f"Activity {activity['id']}",
        content=content, type="activity", url=url, author=activity.get("owner_name"),
        created_at=parse_time(activity.get("add_time")), updated_at=parse_time(activity.get("update_time")),
        metadata={"activity_type": activity.get("type"), "done": activity.get("done"),
                  "due_date": activity.get("due_date"), "due_time": activity.get("due_time"),
                  "duration": activity.get("duration"), "deal_id": activity.get("deal_id"),
                  "deal_title": activity.get("deal_title"), "lead_id": activity.get("lead_id"),
                  "person_id": activity.get("person_id"), "person_name": activity.get("person_name"),
                  "org_id": activity.get("org_id"), "org_name": activity.get("org_name"),
                  "owner_id": activity.get("user_id"),
                  "marked_as_done_time": activity.get("marked_as_done_time") or None})


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
