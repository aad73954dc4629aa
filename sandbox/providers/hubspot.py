"""HubSpot's CRM API under /hubspot (app.hubspot.com and api.hubapi.com in one): the consent page of
a public app, its token endpoint (``POST /oauth/2026-03/token``, form-encoded, access tokens for
1800 s, a refresh token that does not rotate), the installing account
(``GET /account-info/v3/details``), and the CRM v3 objects a connector reads: contacts, companies,
deals, tickets and the engagements notes, emails, calls and meetings, with owners and v4
association batch reads. What ``@hubspot/api-client`` 14.0.1 describes (tests/fidelity).

* ``GET /crm/v3/objects/{type}``: by id, ``limit`` 1..100, ``after`` the paging cursor,
  ``properties`` (comma-separated), ``archived=true`` lists the archived (deleted) ones instead;
* ``GET /crm/v3/objects/{type}/{id}``: 404 ``OBJECT_NOT_FOUND`` once archived;
* ``POST /crm/v3/objects/{type}/search``: ``filterGroups`` (EQ, NEQ, GT, GTE, LT, LTE on a
  property; groups OR'ed, filters AND'ed), one ``sorts`` entry, ``properties``, ``limit`` 1..200,
  ``after`` an offset. Its window: no query reads past ``SEARCH_WINDOW`` (10,000) results, a
  request beyond it is a 400. Archived records are not found;
* ``POST /crm/v3/objects/{type}/batch/read``: records by id (at most 100; 207 for unknown ones);
* ``POST /crm/v4/associations/{from}/{to}/batch/read``: each input's associated ids; an input
  with none is an error of a 207 answer (``numErrors``);
* ``GET /crm/v3/owners``.

Records are ``/_sandbox/collections/hubspot/<type>``: a PATCH of ``properties`` (replaced whole) moves
``hs_lastmodifieddate`` (contacts: ``lastmodifieddate``); a DELETE archives.

Limits as HubSpot's usage guidelines state them for a public app: 110 requests every 10 s per
account, told in ``X-HubSpot-RateLimit-Max``/``-Remaining``/``-Interval-Milliseconds``; the
search endpoints 5 requests a second, without those headers. A 429 is ``{"status": "error",
"message", "errorType": "RATE_LIMIT", "correlationId", "policyName"}`` without Retry-After.
Every other error is ``{"status": "error", "message", "correlationId", "category"}``.
"""
from __future__ import annotations

import uuid

from flask import request

from .. import oauth
from ..kit import Emulation, OAuthDialect, Seeded, page_by_offset
from ..seed import COMPANIES, FIRST_NAMES, LAST_NAMES, SENTENCES, iso_ms
from . import int_arg, json_response, state, url_with

HUB_ID = 24681357
SEARCH_WINDOW = 10_000
OWNERS = [{"id": str(101 + i), "userId": 9001 + i, "firstName": FIRST_NAMES[i], "lastName": LAST_NAMES[i],
           "email": f"{FIRST_NAMES[i].lower()}@acme-sandbox.example"} for i in range(4)]
INSTALLER = OWNERS[0]
STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "closedwon", "closedlost"]
TICKET_STAGES = {"1": "New", "2": "Waiting on contact", "3": "Waiting on us", "4": "Closed"}
ENGAGEMENTS = ("notes", "emails", "calls", "meetings")
# Each record names the records it is associated with in these fields (the reverse direction is
# found by looking them up); the v4 association type ids are HubSpot's defaults for the pair.
LINKS = {"contacts": {"companies": ("company", 1)}, "deals": {"companies": ("company", 5), "contacts": ("contact", 3)},
         "tickets": {"contacts": ("contact", 16), "companies": ("company", 26)},
         **{kind: {"contacts": ("contact", to_contact), "deals": ("deal", to_deal)} for kind, (to_contact, to_deal)
            in zip(ENGAGEMENTS, ((202, 214), (198, 210), (194, 206), (200, 212)))}}
NAMED_IN_FIELDS = ("contacts", "companies", "deals")      # the kinds LINKS' fields name


def modified_of(kind: str) -> str:
    return "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"


def owner(rnd) -> str:
    return OWNERS[rnd.randrange(len(OWNERS))]["id"]


def contact(rnd, i):
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    return {"company": str(i % 5 + 1), "properties": {
        "firstname": first, "lastname": last, "email": f"{first.lower()}.{last.lower()}{i}@example.com",
        "jobtitle": rnd.choice(["CTO", "Head of Data", "Engineer", "Buyer", "VP Sales"]),
        "lifecyclestage": rnd.choice(["lead", "opportunity", "customer"]), "hubspot_owner_id": owner(rnd),
        "phone": f"+1 555 01{i % 100:02d}"}}


def company(rnd, i):
    name = COMPANIES[i % len(COMPANIES)]
    return {"properties": {"name": name, "domain": name.lower().replace(" ", "") + ".example",
                           "industry": rnd.choice(["COMPUTER_SOFTWARE", "RETAIL", "FINANCIAL_SERVICES"]),
                           "city": rnd.choice(["Lisbon", "Berlin", "Toronto"]), "hubspot_owner_id": owner(rnd)}}


def deal(rnd, i):
    return {"company": str(i % 5 + 1), "contact": str(i + 1), "properties": {
        "dealname": f"{COMPANIES[i % len(COMPANIES)]} - {rnd.choice(['pilot', 'renewal', 'expansion'])}",
        "amount": str(rnd.randrange(5, 200) * 500), "dealstage": rnd.choice(STAGES), "pipeline": "default",
        "closedate": iso_ms(1735689600 + i * 86400), "hubspot_owner_id": owner(rnd)}}


def ticket(rnd, i):
    return {"contact": str(i + 1), "company": str(i % 5 + 1), "properties": {
        "subject": f"{rnd.choice(['Sync stalls', 'Login fails', 'Invoice question', 'Export is slow'])} #{i + 1}",
        "content": rnd.choice(SENTENCES), "hs_pipeline": "0", "hs_pipeline_stage": rnd.choice(list(TICKET_STAGES)),
        "hs_ticket_priority": rnd.choice(["LOW", "MEDIUM", "HIGH"]), "hubspot_owner_id": owner(rnd)}}


def engagement(kind):
    def build(rnd, i):
        said, when = rnd.choice(SENTENCES), iso_ms(1704067200 + i * 3600)
        fields = {"notes": {"hs_note_body": f"<p>{said}</p>"},
                  "emails": {"hs_email_subject": f"Follow-up {i + 1}", "hs_email_text": said,
                             "hs_email_direction": rnd.choice(["EMAIL", "INCOMING_EMAIL"])},
                  "calls": {"hs_call_title": f"Call {i + 1}", "hs_call_body": said,
                            "hs_call_duration": str(rnd.randrange(60, 3600) * 1000)},
                  "meetings": {"hs_meeting_title": f"Meeting {i + 1}", "hs_meeting_body": said,
                               "hs_meeting_start_time": when}}[kind]
        return {"contact": str(i + 1), "deal": str(i % 3 + 1) if i % 2 == 0 else None,
                "properties": {**fields, "hs_timestamp": when, "hubspot_owner_id": owner(rnd)}}
    return build


class HubSpotDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "hubspot", "HubSpot", INSTALLER["email"], "hubspot"
    requires_response_type = False

    def new_access_token(self) -> str:
        return "CJSP" + oauth.random_token(60)

    def new_refresh_token(self) -> str:
        return f"na1-{uuid.uuid4()}"

    def token_body(self, issued, *, ttl, refresh_ttl):
        body = super().token_body(issued, ttl=ttl, refresh_ttl=refresh_ttl)
        body.pop("scope", None)     # HubSpot's token answer names no scopes (its metadata endpoint does)
        if issued.refresh is not None and "refresh_token" not in body:
            body["refresh_token"] = issued.refresh.value        # the same one on every refresh
        return body

    def token_error(self, error):
        return json_response({"status": "BAD_AUTH_CODE" if error.reason == "invalid_grant" else "BAD_REQUEST",
                              "message": error.detail or error.reason, "correlationId": str(uuid.uuid4())},
                             400), error.reason


CATEGORIES = {400: "VALIDATION_ERROR", 401: "INVALID_AUTHENTICATION", 403: "MISSING_SCOPES",
              404: "OBJECT_NOT_FOUND", 409: "CONFLICT", 422: "VALIDATION_ERROR", 500: "INTERNAL_ERROR"}


class HubSpot(Emulation):
    name, prefix = "hubspot", "/hubspot"
    dialect = HubSpotDialect()
    rotate_refresh_tokens, revoked_empty = False, True
    token_ttl = 1800
    limits = {None: (110, 10), "search": (5, 1)}
    collections = {"contacts": Seeded(contact), "companies": Seeded(company, lambda s: max(5, s // 2)),
                   "deals": Seeded(deal, lambda s: s // 2 + 1), "tickets": Seeded(ticket, lambda s: s // 2 + 1),
                   **{kind: Seeded(engagement(kind), lambda s: s // 3 + 1) for kind in ENGAGEMENTS}}

    def error_body(self, status, message, code=None):
        return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                "category": code or CATEGORIES.get(status, "ERROR")}

    def unauthorized(self):
        token = state().tokens.tokens.get(oauth.bearer_token() or "")
        if token is not None and not token.revoked and token.kind == "access":
            return self.error(401, "The OAuth token used to make this call expired 1 second(s) ago.",
                              "EXPIRED_AUTHENTICATION")
        return self.error(401, "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                               "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
                               "oauth-overview", "INVALID_AUTHENTICATION")

    def rate_limited(self, info, status, now):
        policy = "SECONDLY" if request.path.endswith("/search") else "TEN_SECONDLY_ROLLING"
        response = json_response({"status": "error", "message": f"You have reached your {policy.lower()} limit.",
                                  "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                                  "policyName": policy, "requestId": str(uuid.uuid4())}, status)
        self.rate_headers(response, info, now)
        return response

    def rate_headers(self, response, info, now):
        if not request.path.endswith("/search"):        # the search endpoints send none
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
            response.headers["X-HubSpot-RateLimit-Max"] = str(info.limit)
            response.headers["X-HubSpot-RateLimit-Remaining"] = str(info.remaining)


PROVIDER = HubSpot()
bp = PROVIDER.bp
# Revoking a refresh token (and what it issued) answers 200 with no body, known or not.
PROVIDER.oauth_routes("/oauth/authorize", "/oauth/2026-03/token", revoke="/oauth/2026-03/token/revoke")


# -- records as HubSpot answers them -------------------------------------------------------------

def invalid(message: str):
    PROVIDER.fail(400, message, "VALIDATION_ERROR")


def collection_of(kind: str):
    if kind not in PROVIDER.collections:
        invalid(f"Unable to infer object type from: {kind}")
    return PROVIDER.collection(kind)


def properties_of(kind: str, r: dict) -> dict:
    return {**r["properties"], "createdate": iso_ms(r["created"]), modified_of(kind): iso_ms(r["updated"]),
            "hs_object_id": r["id"]}


def shown(kind: str, r: dict, wanted, archived_at: int | None = None) -> dict:
    """A record with the ``wanted`` properties (a list, or comma-separated) and those always sent."""
    wanted = [str(v) for v in wanted] if isinstance(wanted, list) else [p for p in (wanted or "").split(",") if p]
    props, keep = properties_of(kind, r), {*wanted, "createdate", modified_of(kind), "hs_object_id"}
    body = {"id": r["id"], "properties": {k: props.get(k) for k in sorted(keep)}, "createdAt": iso_ms(r["created"]),
            "updatedAt": iso_ms(r["updated"] if archived_at is None else archived_at),
            "archived": archived_at is not None}
    return body if archived_at is None else {**body, "archivedAt": iso_ms(archived_at)}


def paged(body: dict, following, link: bool = False) -> dict:
    """``body`` with ``paging.next`` where another page follows (``link``: its URL too)."""
    if following is not None:
        body["paging"] = {"next": {"after": str(following), **({"link": url_with(after=following)} if link else {})}}
    return body


def batch(results: list, errors: list, started: str):
    """A batch answer: 207 where some inputs were errors."""
    body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso_ms(state().now())}
    return json_response({**body, "numErrors": len(errors), "errors": errors} if errors else body,
                         207 if errors else 200)


@PROVIDER.get("/crm/v3/objects/<kind>")
def list_objects(principal, kind):
    records = collection_of(kind)
    limit, after = int_arg("limit", 10, minimum=1, maximum=100), int_arg("after", 0, minimum=0)
    if request.args.get("archived") == "true":
        rows = [(records.removed[i], when) for i, when in records.deleted.items()]
    else:
        rows = [(r, None) for r in records.rows.values()]
    rows = sorted((p for p in rows if int(p[0]["id"]) >= after), key=lambda p: int(p[0]["id"]))
    chunk = rows[:limit]
    body = {"results": [shown(kind, r, request.args.get("properties"), when) for r, when in chunk]}
    return json_response(paged(body, int(chunk[-1][0]["id"]) + 1 if len(rows) > limit else None, link=True))


@PROVIDER.get("/crm/v3/objects/<kind>/<object_id>")
def get_object(principal, kind, object_id):
    record = collection_of(kind).get(object_id)
    if record is None:
        PROVIDER.fail(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND")
    return json_response(shown(kind, record, request.args.get("properties")))


OPERATORS = {"EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b, "GT": lambda a, b: a > b,
             "GTE": lambda a, b: a >= b, "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b}


def comparable(value):
    """HubSpot compares dates given as epoch milliseconds or ISO text, numbers as numbers."""
    if value is None:
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        from connectors.rest import parse_time
        return int(parse_time(text).timestamp() * 1000)
    return text


def holds(props: dict, f: dict) -> bool:
    op = OPERATORS.get(f.get("operator"))
    if op is None:
        invalid(f"Unknown operator {f.get('operator')!r}")
    left, right = comparable(props.get(f.get("propertyName"))), comparable(f.get("value"))
    return left is not None and isinstance(left, type(right)) and op(left, right)


def matches(kind, record, groups) -> bool:
    """Whether ``filterGroups`` let the record through: any group whose every filter holds."""
    if not groups:
        return True
    props = properties_of(kind, record)
    return any(all(holds(props, f) for f in group.get("filters") or ()) for group in groups)


@PROVIDER.post("/crm/v3/objects/<kind>/search", bucket="search")
def search(principal, kind):
    records, body = collection_of(kind), request.get_json(silent=True) or {}
    try:
        limit, after = int(body.get("limit", 10)), int(body.get("after") or 0)
    except (TypeError, ValueError):
        invalid("Invalid input JSON on line 1")
    if not 1 <= limit <= 200:
        invalid(f"limit must be between 1 and 200 (was {limit})")
    if after + limit > SEARCH_WINDOW:
        invalid(f"Paging beyond {SEARCH_WINDOW} results is not supported: narrow the query's filters instead.")
    rows = sorted((r for r in records.rows.values() if matches(kind, r, body.get("filterGroups"))),
                  key=lambda r: int(r["id"]))
    for sort in (body.get("sorts") or [])[:1]:
        name = sort.get("propertyName") if isinstance(sort, dict) else str(sort).lstrip("-")
        descending = (sort.get("direction") == "DESCENDING") if isinstance(sort, dict) else str(sort).startswith("-")
        rows.sort(key=lambda r: comparable(properties_of(kind, r).get(name)) or 0, reverse=descending)
    chunk, following = page_by_offset(rows, after, limit)
    results = [shown(kind, r, body.get("properties")) for r in chunk]
    return json_response(paged({"total": len(rows), "results": results}, following))


@PROVIDER.post("/crm/v3/objects/<kind>/batch/read")
def batch_read(principal, kind):
    """Records by id (``inputs``, at most 100) with ``properties``; an id not found is an error of
    a 207 answer."""
    records, body, started = collection_of(kind), request.get_json(silent=True) or {}, iso_ms(state().now())
    inputs = body.get("inputs") or []
    if len(inputs) > 100:
        invalid("Batch read accepts at most 100 inputs.")
    found = [records.get(str(given.get("id"))) for given in inputs]
    missing = [str(given.get("id")) for given, r in zip(inputs, found) if r is None]
    errors = [{"status": "error", "category": "OBJECT_NOT_FOUND",
               "message": "Could not get some objects, they may be deleted or not exist.",
               "context": {"ids": missing}, "links": {}, "errors": []}] if missing else []
    return batch([shown(kind, r, body.get("properties")) for r in found if r], errors, started)


def associated(from_kind: str, to_kind: str, record: dict) -> list[tuple[str, int]]:
    """(id, type id) of the ``to_kind`` records ``record`` is associated with."""
    link = LINKS.get(from_kind, {}).get(to_kind)
    if link is not None:
        target = record.get(link[0])
        return [(target, link[1])] if target and PROVIDER.collection(to_kind).get(target) else []
    back = LINKS.get(to_kind, {}).get(from_kind)
    if back is None or from_kind not in NAMED_IN_FIELDS:
        return []
    return [(r["id"], back[1] + 1) for r in PROVIDER.collection(to_kind).rows.values()
            if r.get(back[0]) == record["id"]]


@PROVIDER.post("/crm/v4/associations/<from_kind>/<to_kind>/batch/read")
def read_associations(principal, from_kind, to_kind):
    records, started = collection_of(from_kind), iso_ms(state().now())
    collection_of(to_kind)
    results, errors = [], []
    for given in (request.get_json(silent=True) or {}).get("inputs") or ():
        record = records.get(str(given.get("id")))
        found = associated(from_kind, to_kind, record) if record else []
        if found:
            results.append({"from": {"id": record["id"]}, "to": [{"toObjectId": int(i), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None}]} for i, t in found]})
        else:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations."
                           "NO_ASSOCIATIONS_FOUND", "message": f"No {to_kind} is associated with {from_kind} "
                           f"{given.get('id')}.", "context": {"fromObjectId": [str(given.get("id"))]}, "links": {},
                           "errors": []})
    return batch(results, errors, started)


@PROVIDER.get("/crm/v3/owners")
def owners(principal):
    limit, after = int_arg("limit", 100, minimum=1, maximum=500), int_arg("after", 0, minimum=0)
    chunk, following = page_by_offset(OWNERS, after, limit)
    stamp = iso_ms(1704067200)
    return json_response(paged({"results": [{**o, "userIdIncludingInactive": o["userId"], "type": "PERSON",
                                             "createdAt": stamp, "updatedAt": stamp, "archived": False}
                                            for o in chunk]}, following))


@PROVIDER.get("/account-info/v3/details")
def account_details(principal):
    """The installing account (who signed in is not said here: the connector does not need it)."""
    return json_response({"portalId": HUB_ID, "accountType": "STANDARD", "timeZone": "Europe/Lisbon",
                          "companyCurrency": "EUR", "additionalCurrencies": [], "utcOffset": "+00:00",
                          "utcOffsetMilliseconds": 0, "uiDomain": "app.hubspot.com", "dataHostingLocation": "eu1"})
