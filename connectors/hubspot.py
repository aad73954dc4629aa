"""HubSpot: a public app (OAuth) reads the CRM records of the account that installed it.

Docs: https://developers.hubspot.com/docs/api/overview; CRM objects
https://developers.hubspot.com/docs/api/crm/understanding-the-crm; search
https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm; associations v4
https://developers.hubspot.com/docs/api/crm/associations; limits
https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines; OAuth (the
date-versioned /oauth/2026-03 endpoints; /oauth/v1's are deprecated as of 2027-02-16)
https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens. The
account is ``GET /account-info/v3/details``'s ``portalId`` (the token metadata endpoint takes the
token in its path, where logs would show it). The SDK (``@hubspot/api-client``) is not used: its
models are what the emulation is held to (tests/fidelity).

Streams, one per CRM object type (``contacts``, ``companies``, ``deals``, ``tickets``; engagements
``notes``, ``emails``, ``calls``, ``meetings``): the CRM search (``POST /crm/v3/objects/{type}/search``)
filtered ``hs_lastmodifieddate >= cursor`` (contacts: ``lastmodifieddate``), ascending by it, 200
a page; a full pass unfiltered. Search answers at most 10,000 results a query (then a 400): the
filter is re-anchored on every page's newest time (``Incremental.since``), so only 10,000 records
changed within one millisecond would reach the window. A page's associations are a v4 batch per
associated type (``POST /crm/v4/associations/{type}/{to}/batch/read``; an id without any is a
207 error entry: none), their names a batch read per type (``POST /crm/v3/objects/{to}/batch/read``).

Deletion: HubSpot archives deleted records (restorable for 90 days). An incremental pass first
lists the archived (``GET /crm/v3/objects/{type}?archived=true``) and deletes those archived since
its cursor; a full pass (and the prune) lists the live ids (``GET /crm/v3/objects/{type}``) and
confirms each unseen one by ``GET /crm/v3/objects/{type}/{id}`` (404: archived or merged).

Readers: HubSpot does not expose who may see a record (permission sets, teams): in the ``source``
mode a record is read by its owner (``hubspot_owner_id``, by e-mail from ``GET /crm/v3/owners``),
one without an owner by nobody (fail closed); ``workspace`` (the default) shares everything.

Limits (per installed account): 110 requests every 10 s, told in ``X-HubSpot-RateLimit-Max``/
``-Remaining``/``-Interval-Milliseconds`` (the client pauses an interval at ``Remaining`` 0); search
5 a second, without those headers. A 429 (``policyName`` ``TEN_SECONDLY_ROLLING``/``SECONDLY``)
has no Retry-After: the client backs off. Errors: ``{"status": "error", "message",
"correlationId", "category"}``; the rules below match ``category``.
"""
from datetime import datetime

from ._text import html_text
from .base import CatalogEntry, OAuthEndpoints, RateLimits
from .errors import ProviderAuthError, ProviderRefused
from .kit import (FetchById, Incremental, OnError, Removed, RestConnector, StreamSpec, WhoAmI, kept_readers,
                  oauth_bearer, person)
from .mapping import Doc, first, said
from .rest import RestStream, TokenPaginator, parse_time, shorten

PAGES = TokenPaginator(("paging", "next", "after"), "after", "limit")
# HubSpot's object type ids, for links into the app (https://app.hubspot.com/contacts/{hub}/record/{type}/{id}).
TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5", "notes": "0-46",
            "meetings": "0-47", "calls": "0-48", "emails": "0-49"}
ENGAGEMENTS = ("notes", "emails", "calls", "meetings")      # linked to contacts and deals; shown on a contact's page
OWNERS = RestStream("/crm/v3/owners", PAGES, ("results",), page_size=100)
# What names an associated record in a document (``Associated companies: Juniper Learning``).
NAMES = {"companies": ("name",), "contacts": ("firstname", "lastname", "email"), "deals": ("dealname",),
         "tickets": ("subject",)}


def stamp(record: dict) -> str:
    """A record's last change as ``2024-05-01T10:32:15.123Z`` (sorts as text)."""
    when = parse_time(record.get("updatedAt")) or datetime.min
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def since(modified: str):
    """The search filter from the cursor (None: a full pass, no filter), in epoch milliseconds."""
    def groups(cursor):
        if not cursor:
            return []
        millis = int(parse_time(cursor).timestamp() * 1000)
        return [{"filters": [{"propertyName": modified, "operator": "GTE", "value": str(millis)}]}]
    return groups


def linked(object_type: str, to_types: tuple[str, ...]):
    """``complete``: per record, its associated ids (``_links``) and their names (``_names``) by type
    (a batch per type for the page), its owner (``_owner``, who reads it) and the account (``_hub``)."""
    def complete(records, api):
        for to in to_types:
            body = api.request("POST", f"/crm/v4/associations/{object_type}/{to}/batch/read", idempotent=True,
                               json={"inputs": [{"id": r["id"]} for r in records]}).json_body or {}
            found = {str(row["from"]["id"]): [str(t["toObjectId"]) for t in row.get("to") or ()]
                     for row in body.get("results") or ()}
            names = named(api, to, sorted({i for ids in found.values() for i in ids}))
            for r in records:
                r.setdefault("_links", {})[to] = found.get(r["id"], [])
                r.setdefault("_names", {})[to] = [names.get(i) or i for i in found.get(r["id"], [])]
        people = owners(api)
        for r in records:
            owner = r["_owner"] = people.get(r["properties"].get("hubspot_owner_id") or "")
            r["_hub"] = api.ctx.external_account_id
            has_email = owner and owner.get("email")       # else no readers: hidden in the source mode
            r["_readers"] = person("hubspot", owner.get("userId"), owner["email"]) if has_email else []
    return complete


def named(api, object_type: str, ids: list[str]) -> dict:
    """What names each of these records (``NAMES``), by id, a batch read per 100."""
    props, found = NAMES.get(object_type), {}
    for start in range(0, len(ids) if props else 0, 100):
        body = api.request("POST", f"/crm/v3/objects/{object_type}/batch/read", idempotent=True, json={
            "inputs": [{"id": i} for i in ids[start:start + 100]], "properties": list(props)}).json_body or {}
        for row in body.get("results") or ():
            p = row.get("properties") or {}
            found[str(row["id"])] = " ".join(filter(None, (p.get(k) for k in props if k != "email"))) or p.get("email")
    return found


def owners(api) -> dict:
    """The account's owners by id (``GET /crm/v3/owners``), once a run."""
    def load():
        try:
            return {o["id"]: o for o in api.records(OWNERS)}
        except ProviderRefused:         # no crm.objects.owners.read: no authors, and records no readers
            return {}
    return api.remember("owners", load)


def owner_name(r: dict) -> str | None:
    owner = r.get("_owner") or {}
    return " ".join(filter(None, (owner.get("firstName"), owner.get("lastName")))) or owner.get("email") or None


def associated(r: dict) -> list[str]:
    return [f"Associated {to}: {', '.join(names)}" for to, names in (r.get("_names") or {}).items() if names]


def url_of(object_type: str):
    """The record's page in HubSpot; an engagement's is its first contact's."""
    def url(r: dict) -> str:
        contacts = (r.get("_links") or {}).get("contacts") if object_type in ENGAGEMENTS else None
        kind, ident = ("contacts", contacts[0]) if contacts else (object_type, r["id"])
        return f"https://app.hubspot.com/contacts/{r.get('_hub')}/record/{TYPE_IDS[kind]}/{ident}"
    return url


def prop(spec):
    """A property by name, or a callable of the properties, as a field of the record."""
    return (lambda r: spec(r["properties"])) if callable(spec) else f"properties.{spec}"


def crm(object_type: str, kind: str, description: str, properties: tuple[str, ...], title, facts=(),
        body=None, links: tuple[str, ...] = ("contacts", "deals")) -> StreamSpec:
    """One CRM object type as a stream (see the module docstring). ``title`` (or a tuple: the first
    given) and ``body`` are ``prop`` specs; ``facts`` ``(label, property)`` pairs."""
    modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
    wanted, path = [*properties, "hubspot_owner_id", "createdate", modified], f"/crm/v3/objects/{object_type}"
    titles = title if isinstance(title, tuple) else (title,)
    document = Doc(
        kind, first(*map(prop, titles), otherwise=f"{kind.capitalize()} {{id}}"),
        content=(prop(body),) if body else (), url=url_of(object_type), author=owner_name,
        facts=(*((label, prop(key)) for label, key in facts), associated, said("Owner", owner_name)),
        created="createdAt", updated="updatedAt", metadata=(lambda r: {
            "object_type": object_type, "associations": r.get("_links") or {},
            "owner_id": r["properties"].get("hubspot_owner_id"),
            **{k: r["properties"].get(k) for k in properties if k in r["properties"]}},))
    return StreamSpec(
        object_type, kind, description=description, document=document, readers=kept_readers,
        listing=RestStream(f"{path}/search", PAGES, ("results",),
                           {"sorts": [{"propertyName": modified, "direction": "ASCENDING"}], "properties": wanted},
                           method="POST", body=True, bucket="search"),
        incremental=Incremental.since("filterGroups", stamp, format=since(modified)),
        list_ids=RestStream(path, PAGES, ("results",), {"archived": "false"}),
        # HubSpot archives what is deleted: those archived since the cursor, before each incremental pass
        removed=Removed(RestStream(path, PAGES, ("results",), {"archived": "true"}, page_size=100),
                        lambda r: stamp({"updatedAt": r.get("archivedAt")}), "archived records"),
        fetch=FetchById(f"{path}/{{id}}", params={"properties": ",".join(wanted)}), complete=linked(object_type, links))


def contact_title(p: dict) -> str:
    """``First Last (e-mail)``: names repeat across a CRM, addresses do not."""
    name = " ".join(filter(None, (p.get("firstname"), p.get("lastname"))))
    return f"{name} ({p['email']})" if name and p.get("email") else name or p.get("email")


class HubSpotConnector(RestConnector):
    catalog = CatalogEntry(
        type="hubspot", display_name="HubSpot", category="crm", auth_method="oauth_redirect",
        description="Contacts, companies, deals, tickets and engagements (notes, e-mails, calls, meetings) with "
                    "their associations, from your HubSpot account.",
        docs_url="https://developers.hubspot.com/docs/api/overview",
        # 110 requests every 10 seconds per installed account (no daily cap for public apps),
        # paced as 100 to leave room for the token refreshes; search has a bucket of its own.
        rate_limits=RateLimits(requests_per_minute=600),
        base_url="https://app.hubspot.com", api_url="https://api.hubapi.com",
        oauth=OAuthEndpoints(
            authorize="https://app.hubspot.com/oauth/authorize",
            token="https://api.hubapi.com/oauth/2026-03/token",
            revoke="https://api.hubapi.com/oauth/2026-03/token/revoke",
            # ``tickets`` is HubSpot's only scope for ticket objects; ``sales-email-read`` lets an
            # app read the body of logged e-mails; owners name who a record belongs to.
            scopes=("oauth", "crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read",
                    "crm.objects.owners.read", "tickets", "sales-email-read")))
    auth = oauth_bearer()
    page_size = 200             # search's most a page (the id listings take 100: HubSpot caps them)
    sandbox = {"base_url": "/hubspot", "api_url": "/hubspot", "authorize_url": "/hubspot/oauth/authorize",
               "token_url": "/hubspot/oauth/2026-03/token", "revoke_url": "/hubspot/oauth/2026-03/token/revoke"}
    buckets = {"search": RateLimits(requests_per_minute=240)}       # 5 a second, paced at 4
    whoami = WhoAmI("/account-info/v3/details", id="portalId", handle=lambda r: str(r["portalId"]),
                    name=lambda r: f"account {r['portalId']}")
    errors = (OnError(401, error=ProviderAuthError, message="HubSpot no longer accepts this connection's token "
                                                           "({said}); reconnect HubSpot."),
              OnError(403, message="HubSpot refused to let this app read it ({said}): reconnect HubSpot and grant "
                                   "the scopes it asks for."),
              OnError(400, message="HubSpot did not accept the request: {said}"))
    streams = (
        crm("contacts", "contact", "Contacts with their companies", ("firstname", "lastname", "email", "phone",
            "jobtitle", "lifecyclestage", "company"), contact_title, (("E-mail", "email"), ("Phone", "phone"),
            ("Job title", "jobtitle"), ("Company", "company"), ("Lifecycle stage", "lifecyclestage")),
            links=("companies",)),
        crm("companies", "company", "Companies", ("name", "domain", "industry", "city", "phone"), ("name", "domain"),
            (("Domain", "domain"), ("Industry", "industry"), ("City", "city"), ("Phone", "phone")), links=()),
        crm("deals", "deal", "Deals with their stage, amount, company and contacts", ("dealname", "amount",
            "dealstage", "pipeline", "closedate"), "dealname", (("Stage", "dealstage"), ("Amount", "amount"),
            ("Pipeline", "pipeline"), ("Close date", "closedate")), links=("companies", "contacts")),
        crm("tickets", "ticket", "Service tickets with their contacts and companies", ("subject", "content",
            "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority"), "subject", (("Priority", "hs_ticket_priority"),
            ("Pipeline", "hs_pipeline"), ("Stage", "hs_pipeline_stage")), "content", links=("contacts", "companies")),
        crm("notes", "note", "Notes logged on records", ("hs_note_body", "hs_timestamp"),
            lambda p: shorten(html_text(p.get("hs_note_body")), 60), (("When", "hs_timestamp"),),
            lambda p: html_text(p.get("hs_note_body"))),
        crm("emails", "email", "E-mails logged on records", ("hs_email_subject", "hs_email_text", "hs_email_direction",
            "hs_timestamp"), "hs_email_subject", (("Direction", "hs_email_direction"), ("When", "hs_timestamp")),
            "hs_email_text"),
        crm("calls", "call", "Calls logged on records", ("hs_call_title", "hs_call_body", "hs_call_duration",
            "hs_timestamp"), "hs_call_title", (("Duration (ms)", "hs_call_duration"), ("When", "hs_timestamp")),
            lambda p: html_text(p.get("hs_call_body"))),
        crm("meetings", "meeting", "Meetings logged on records", ("hs_meeting_title", "hs_meeting_body",
            "hs_meeting_start_time", "hs_timestamp"), "hs_meeting_title", (("Starts", "hs_meeting_start_time"),),
            lambda p: html_text(p.get("hs_meeting_body"))),
    )
