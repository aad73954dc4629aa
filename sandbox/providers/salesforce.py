"""Salesforce under /salesforce, as ``@jsforce/jsforce-node`` 3.12.0 describes it (tests/fidelity): the
login host's OAuth 2.0 web server flow (``/services/oauth2/authorize``, ``token``, ``revoke``; the
identity URL ``/id/{org}/{user}``) and one org's REST API (``/services/data/v62.0``). The token
answer has ``instance_url`` (this sandbox's /salesforce), ``id``, ``issued_at``, ``signature`` and
no ``expires_in`` (a session lasts two hours here); refresh tokens do not rotate.

SOQL (``/query?q=``), as much as a connector asks: ``SELECT f, Rel.f FROM Type [WHERE ...] [ORDER BY
f [ASC|DESC], ...] [LIMIT n]``, conditions ``f op literal`` (``= != < <= > >=``; a dateTime
``2024-05-01T10:32:15Z``, a quoted string, a number) or ``Id IN ('..', ...)`` joined by AND; an
unknown field is 400 ``INVALID_FIELD``, anything else 400 ``MALFORMED_QUERY``. Batches of 2000
(``Sforce-Query-Options: batchSize=`` 200..2000) with ``nextRecordsUrl`` (queryMore,
``/query/{locator}``), whose locator names the last row handed out: like a query cursor's fixed
result set, a record deleted behind it shifts nothing.

getDeleted (``/sobjects/{type}/deleted/?start=&end=``, ISO 8601, both included; ``latestDateCovered``
is ``end``): at most 30 days back (``earliestDateAvailable``), else 400 ``INVALID_REPLICATION_DATE``;
at least a minute. Every API answer says the org's daily use, ``Sforce-Limit-Info:
api-usage=used/allowance`` (``DAILY_ALLOWANCE`` requests a rolling day per org; tests lower it);
past it, 403 ``REQUEST_LIMIT_EXCEEDED``. Errors are a list ``[{"message", "errorCode"}]``; an
expired or revoked token is 401 ``INVALID_SESSION_ID``.

Records: ``/_sandbox/collections/salesforce/<Type>`` (``Account``, ``Contact``, ``Opportunity``,
``Task``, ``Event``, ``Case``); a PATCH moves ``SystemModstamp`` and ``LastModifiedDate``, a DELETE
sends the record to the recycle bin (getDeleted lists it).
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import json
import operator
import re
from datetime import datetime, timezone

from flask import request

from .. import oauth
from ..kit import Emulation, OAuthDialect, Seeded
from ..seed import COMPANIES, FIRST_NAMES, LAST_NAMES, SENTENCES
from . import json_response, root_url, state

API = "/services/data/v62.0"
ORG_ID = "00D5g00000SANDBXAAA"
DAILY_ALLOWANCE = 15_000
MIN_BATCH = 200             # Salesforce's smallest batchSize; tests lower it to see queryMore at a small scale
PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Task": "00T", "Event": "00U", "Case": "500",
          "User": "005"}
USERS = [{"Id": f"0055g{i:010d}AAA", "Name": f"{FIRST_NAMES[i]} {LAST_NAMES[i]}",
          "Email": f"{FIRST_NAMES[i].lower()}@acme-sandbox.example",
          "Username": f"{FIRST_NAMES[i].lower()}@acme.sandbox"} for i in range(4)]
INSTALLER = USERS[0]
STAGES = ["Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"]
# The relationships a query may name (``Owner.Name``), each by the id field it follows (the id's prefix says the type).
RELATIONS = {"Owner": "OwnerId", "Account": "AccountId", "Who": "WhoId", "Contact": "ContactId", "What": "WhatId"}


def sfid(kind: str, n) -> str:
    """A Salesforce-like 18-character id: the type's key prefix, then the record number."""
    return f"{PREFIX[kind]}5g{int(n):010d}AAA"


def number_of(value: str) -> str | None:
    match = re.fullmatch(r"[0-9A-Za-z]{3}5g(\d{10})AAA", value or "")
    return str(int(match.group(1))) if match else None


def owner(rnd) -> str:
    return USERS[rnd.randrange(len(USERS))]["Id"]


def account(rnd, i):
    name = COMPANIES[i % len(COMPANIES)]
    return {"Name": name, "Industry": rnd.choice(["Technology", "Retail", "Finance"]), "Type": "Customer - Direct",
            "Website": f"https://{name.lower().replace(' ', '')}.example", "Phone": f"+1 555 02{i % 100:02d}",
            "BillingCity": rnd.choice(["Lisbon", "Berlin", "Toronto"]), "Description": rnd.choice(SENTENCES),
            "OwnerId": owner(rnd)}


def contact(rnd, i):
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    return {"FirstName": first, "LastName": last, "Name": f"{first} {last}",
            "Email": f"{first.lower()}.{i}@example.com", "Title": rnd.choice(["CTO", "Buyer", "Head of Data"]),
            "Phone": f"+1 555 03{i % 100:02d}", "AccountId": sfid("Account", i % 5 + 1), "OwnerId": owner(rnd)}


def opportunity(rnd, i):
    return {"Name": f"{COMPANIES[i % len(COMPANIES)]} renewal {i + 1}", "StageName": rnd.choice(STAGES),
            "Amount": float(rnd.randrange(5, 200) * 500), "CloseDate": f"2025-0{i % 9 + 1}-15",
            "Probability": float(rnd.choice([10, 50, 90])), "AccountId": sfid("Account", i % 5 + 1),
            "Description": rnd.choice(SENTENCES), "OwnerId": owner(rnd)}


def task(rnd, i):
    return {"Subject": rnd.choice(["Call", "Send quote", "Follow up"]) + f" {i + 1}", "Status": "Completed",
            "Priority": "Normal", "ActivityDate": f"2025-02-{i % 28 + 1:02d}", "Description": rnd.choice(SENTENCES),
            "WhoId": sfid("Contact", i + 1), "WhatId": sfid("Opportunity", i % 3 + 1), "OwnerId": owner(rnd)}


def event(rnd, i):
    start = f"2025-03-{i % 28 + 1:02d}T1{i % 8}:00:00.000+0000"
    return {"Subject": f"Meeting {i + 1}", "StartDateTime": start, "EndDateTime": start.replace("T1", "T2", 1),
            "Location": rnd.choice(["Zoom", "Lisbon office"]), "Description": rnd.choice(SENTENCES),
            "WhoId": sfid("Contact", i + 1), "WhatId": sfid("Account", i % 5 + 1), "OwnerId": owner(rnd)}


def case(rnd, i):
    return {"CaseNumber": f"{1000 + i + 1:08d}", "Subject": rnd.choice(["Sync stalls", "Cannot log in", "Invoice"])
            + f" {i + 1}", "Description": rnd.choice(SENTENCES), "Status": rnd.choice(["New", "Working", "Closed"]),
            "Priority": rnd.choice(["Low", "Medium", "High"]), "Origin": rnd.choice(["Email", "Web", "Phone"]),
            "AccountId": sfid("Account", i % 5 + 1), "ContactId": sfid("Contact", i + 1), "OwnerId": owner(rnd)}


class SalesforceDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "salesforce", "Salesforce", INSTALLER["Username"], "00D"

    def new_access_token(self) -> str:
        return f"{ORG_ID[:15]}!" + oauth.random_token(90)

    def new_refresh_token(self) -> str:
        return "5Aep861" + oauth.random_token(80)

    def token_body(self, issued, *, ttl, refresh_ttl):
        issued_at = str(int(state().now() * 1000))
        identity = f"{root_url()}/salesforce/id/{ORG_ID}/{INSTALLER['Id']}"
        signature = base64.b64encode(hashlib.sha256((identity + issued_at).encode()).digest()).decode()
        body = {"access_token": issued.access.value, "signature": signature,
                "scope": self.scope_joiner.join(issued.grant.scope), "instance_url": f"{root_url()}/salesforce",
                "id": identity, "token_type": "Bearer", "issued_at": issued_at}
        if issued.refresh is not None:
            body["refresh_token"] = issued.refresh.value
        return body

    def token_error(self, error):
        code = "invalid_client_id" if error.reason == "invalid_client" else "invalid_grant"
        text = {"invalid_client_id": "client identifier invalid"}.get(code, "authentication failure")
        return json_response({"error": code, "error_description": text}, 400), code


class Salesforce(Emulation):
    name, prefix = "salesforce", "/salesforce"
    dialect = SalesforceDialect()
    rotate_refresh_tokens = False
    revoked_empty = True
    token_ttl = 7200
    rate_header_names = ()
    collections = {"Account": Seeded(account, lambda s: max(5, s // 2)), "Contact": Seeded(contact),
                   "Opportunity": Seeded(opportunity, lambda s: s // 2 + 1), "Task": Seeded(task, lambda s: s // 2 + 1),
                   "Event": Seeded(event, lambda s: s // 3 + 1), "Case": Seeded(case, lambda s: s // 2 + 1)}

    def default_policy(self, bucket):
        return DAILY_ALLOWANCE, 86400

    def policy(self, st, bucket):
        return DAILY_ALLOWANCE, 86400, True, ("day",)      # the allowance always holds

    def rate_key(self, principal):
        return (ORG_ID,)            # the allowance is the org's, whichever token spends it

    def error_body(self, status, message, code=None):
        return [{"message": message, "errorCode": code or {404: "NOT_FOUND", 400: "MALFORMED_QUERY"}.get(
            status, "UNKNOWN_EXCEPTION")}]

    def unauthorized(self):
        return self.error(401, "Session expired or invalid", "INVALID_SESSION_ID")

    def rate_limited(self, info, status, now):
        response = self.error(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")
        self.rate_headers(response, info, now)
        return response

    def rate_headers(self, response, info, now):
        response.headers["Sforce-Limit-Info"] = f"api-usage={min(info.limit, info.limit - info.remaining)}/{info.limit}"


PROVIDER = Salesforce()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/services/oauth2/authorize", "/services/oauth2/token", revoke="/services/oauth2/revoke")


# -- records as the org holds them, and as a query selects them --------------------------------------------

def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def row(kind: str, r: dict) -> dict:
    """Every field of a record, as the org holds it."""
    return {"Id": sfid(kind, r["id"]), "IsDeleted": False, **{k: v for k, v in r.items() if k[0].isupper()},
            "CreatedDate": stamp(r["created"]), "LastModifiedDate": stamp(r["updated"]),
            "SystemModstamp": stamp(r["updated"])}


def attributes(kind: str, ident: str) -> dict:
    return {"attributes": {"type": kind, "url": f"{API}/sobjects/{kind}/{ident}"}}


def related(ident: str | None) -> tuple[str, dict] | None:
    """(type, fields) of the record an id names (users included)."""
    user = next((u for u in USERS if u["Id"] == ident), None) if ident else None
    if user is not None:
        return "User", user
    kind = next((k for k, p in PREFIX.items() if ident and ident.startswith(p)), None)
    found = PROVIDER.collection(kind).get(number_of(ident)) if kind in PROVIDER.collections else None
    return (kind, row(kind, found)) if found else None


def selected(kind: str, full: dict, fields: list[str]) -> dict:
    out = attributes(kind, full["Id"])
    for name in fields:
        if "." not in name:
            out[name] = full.get(name)
            continue
        relation, field = name.split(".", 1)
        target = related(full.get(RELATIONS[relation]))
        if relation not in out:
            out[relation] = None if target is None else attributes(target[0], target[1]["Id"])
        if target is not None:
            out[relation][field] = target[1].get(field)
    return out


# -- SOQL, as much as a connector asks ---------------------------------------------------------------------

QUERY = re.compile(r"^SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<kind>\w+)(?:\s+WHERE\s+(?P<where>.+?))?"
                   r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$", re.I | re.S)
CONDITION = re.compile(r"^(\w+)\s*(=|!=|<=|>=|<|>)\s*(.+)$|^(\w+)\s+IN\s*\((.*)\)$", re.I | re.S)
OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def literal(text: str):
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text):
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    try:
        return float(text)
    except ValueError:
        PROVIDER.fail(400, f"unexpected token: '{text}'", "MALFORMED_QUERY")


def comparable(value):
    """A field's value as literals compare: dateTimes as UTC text with milliseconds."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", value):
        return value[:23]
    return value


def run_query(soql: str) -> list[tuple[tuple, dict]]:
    """(sort key, selected row) of every row the query answers, in its order (the key ends with
    the Id, so it is unique; with a descending field it is the position instead)."""
    match = QUERY.match(soql or "")
    if not match:
        PROVIDER.fail(400, "unexpected token: the query is not SELECT ... FROM ...", "MALFORMED_QUERY")
    kind = match["kind"]
    if kind not in PROVIDER.collections:
        PROVIDER.fail(400, f"sObject type '{kind}' is not supported.", "INVALID_TYPE")
    fields = [f.strip() for f in match["fields"].split(",")]
    rows = [row(kind, r) for r in PROVIDER.collection(kind).rows.values()]
    known = set(rows[0]) if rows else {"Id"}
    for name in fields:
        if ("." in name and name.split(".")[0] not in RELATIONS) or ("." not in name and rows and name not in known):
            PROVIDER.fail(400, f"\n{soql[:60]}\n^\nERROR at Row:1:Column:8\nNo such column '{name}' on entity "
                               f"'{kind}'.", "INVALID_FIELD")
    for condition in re.split(r"\s+AND\s+", match["where"], flags=re.I) if match["where"] else ():
        found = CONDITION.match(condition.strip())
        if not found:
            PROVIDER.fail(400, f"unexpected token: '{condition}'", "MALFORMED_QUERY")
        if found.group(4):
            wanted = {literal(v) for v in found.group(5).split(",") if v.strip()}
            rows = [r for r in rows if r.get(found.group(4)) in wanted]
        else:
            name, op, value = found.group(1), OPS[found.group(2)], literal(found.group(3))
            rows = [r for r in rows if r.get(name) is not None and op(comparable(r[name]), value)]
    order = [(name, direction.strip().upper() == "DESC")
             for name, _, direction in (p.strip().partition(" ") for p in (match["order"] or "Id").split(","))]
    for name, descending in reversed(order):
        rows.sort(key=lambda r: comparable(r.get(name)) or "", reverse=descending)
    rows = rows[:int(match["limit"])] if match["limit"] else rows
    ascending = not any(descending for _, descending in order)
    return [((*(comparable(r.get(name)) or "" for name, _ in order), r["Id"]) if ascending else (n,),
             selected(kind, r, fields)) for n, r in enumerate(rows)]


# -- the API -------------------------------------------------------------------------------------------------

def answer(soql: str, after: list | None, size: int):
    """A batch of the query's rows after the key ``after`` (a locator names the last row a batch
    handed out: rows deleted behind it shift nothing, as a query cursor's result set does not)."""
    rows = run_query(soql)
    start = 0 if after is None else bisect.bisect_right([key for key, _ in rows], tuple(after))
    chunk = rows[start:start + size]
    body = {"totalSize": len(rows), "done": start + size >= len(rows), "records": [row for _, row in chunk]}
    if not body["done"]:
        locator = base64.urlsafe_b64encode(json.dumps([soql, size, list(chunk[-1][0])]).encode()).decode().rstrip("=")
        body["nextRecordsUrl"] = f"{API}/query/{locator}-{start + size}"
    return json_response(body)


def batch_size() -> int:
    found = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
    return max(MIN_BATCH, min(2000, int(found.group(1)))) if found else 2000


@PROVIDER.get(f"{API}/query")
def query(principal):
    return answer(request.args.get("q", ""), None, batch_size())


@PROVIDER.get(f"{API}/query/<locator>")
def query_more(principal, locator):
    head = locator.rpartition("-")[0]
    try:
        soql, size, after = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        return answer(soql, after, int(size))
    except (ValueError, TypeError):
        PROVIDER.fail(400, "invalid query locator", "INVALID_QUERY_LOCATOR")


def when(name: str) -> float:
    try:
        return datetime.fromisoformat(request.args.get(name, "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        PROVIDER.fail(400, f"Invalid {name} date: give an ISO 8601 date-time.", "INVALID_REPLICATION_DATE")


@PROVIDER.get(f"{API}/sobjects/<kind>/deleted/")
def deleted(principal, kind):
    if kind not in PROVIDER.collections:
        PROVIDER.fail(404, "The requested resource does not exist", "NOT_FOUND")
    start, end, now = when("start"), when("end"), state().now()
    earliest = now - 30 * 86400
    if start < earliest:
        PROVIDER.fail(400, "startDate cannot be more than 30 days ago", "INVALID_REPLICATION_DATE")
    if end - start < 60:
        PROVIDER.fail(400, "endDate must chronologically follow startDate by at least a minute",
                      "INVALID_REPLICATION_DATE")
    gone = sorted(PROVIDER.collection(kind).deleted.items(), key=lambda p: p[1])
    listed = [{"id": sfid(kind, n), "deletedDate": stamp(at)} for n, at in gone if start <= at <= end]
    return json_response({"deletedRecords": listed, "earliestDateAvailable": stamp(earliest // 60 * 60),
                          "latestDateCovered": stamp(min(end, now))})


@PROVIDER.get("/id/<org>/<user>")
def identity(principal, org, user):
    person = next((u for u in USERS if u["Id"] == user), None)
    if org != ORG_ID or person is None:
        PROVIDER.fail(404, "Bad_Id", "NOT_FOUND")
    here, services, data = f"{root_url()}/salesforce", f"{root_url()}/salesforce/services/", "data/v{version}/"
    return json_response({
        "id": f"{here}/id/{org}/{user}", "asserted_user": True, "user_id": user, "organization_id": org,
        "username": person["Username"], "nick_name": person["Username"].split("@")[0], "display_name": person["Name"],
        "email": person["Email"], "email_verified": True, "first_name": person["Name"].split()[0],
        "last_name": person["Name"].split()[-1], "timezone": "Europe/Lisbon",
        "photos": {"picture": f"{here}/profilephoto/005/F", "thumbnail": f"{here}/profilephoto/005/T"},
        "urls": {**{name: f"{services}Soap/{kind}/{{version}}/{org[:15]}" for name, kind in (
            ("enterprise", "c"), ("metadata", "m"), ("partner", "u"))}, "rest": services + data,
            "sobjects": f"{services}{data}sobjects/", "search": f"{services}{data}search/",
            "query": f"{services}{data}query/", "profile": f"{here}/{user}"},
        "active": True, "user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": 0,
        "last_modified_date": "2024-01-01T00:00:00.000+0000", "is_app_installed": True})
