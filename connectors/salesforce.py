"""Salesforce: OAuth 2.0 web server flow through a Connected App / External Client App.

Docs: REST https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest.htm
(query and queryMore: .../resources_query.htm; getDeleted: .../resources_getdeleted.htm; limits
header: .../headers_api_usage.htm); OAuth https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_endpoints.htm;
allocations https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html.
Sandboxes log in at https://test.salesforce.com (set ``base_url``); orgs with My Domain can too.

Connect: the token answer names the org's ``instance_url`` (kept with the credentials: every API
call goes there, ``/services/data/v62.0``) and the identity URL ``id`` (who signed in and the
org: the connection's account is the org id). It has no ``expires_in``: a session lasts the org's
timeout (15 minutes at the least), so the token is refreshed that often.

Streams, one per object: ``accounts``, ``contacts``, ``opportunities``, ``tasks``, ``events``,
``cases``, each a SOQL query (``GET /query?q=SELECT ... WHERE SystemModstamp >= <cursor> ORDER BY
SystemModstamp ASC, Id ASC``) paged by queryMore (``nextRecordsUrl``), 2000 a batch
(``Sforce-Query-Options: batchSize``). The cursor is the newest SystemModstamp read, to the
second (a SOQL dateTime literal has no fractions): its second is read again and the records
already handed over are dropped by fingerprint. A run stopped mid-query resumes by querying again
from the cursor (a query locator lives 15 minutes). Related records come in the same query
(``Owner.Name``, ``Account.Name``, ``Who.Name``, ``What.Name``).

Deletion: an incremental pass first asks ``GET /sobjects/{type}/deleted/?start=&end=`` (getDeleted)
from where the last one's answer said it covered (``latestDateCovered``; the first time, from the
cursor) and deletes what it lists. Salesforce keeps 30 days: what was deleted before waits for
the next full sync. A full pass (and the prune) lists the live ids (``SELECT
Id``) and confirms unseen ones with ``SELECT ... WHERE Id IN (...)`` (a deleted record is not
returned).

Readers: Salesforce's sharing (org-wide defaults, role hierarchy, sharing rules, teams) is not
readable per record through the REST API, so in the ``source`` access mode a record is read by its
owner (``Owner.Email``, ``salesforce:<user id>``); a record owned by a queue is hidden (fail closed).

The daily API allowance: an org-wide rolling 24 hours (Enterprise Edition 100,000 + 1,000 per
licence), shared by every integration. Every answer says ``Sforce-Limit-Info: api-usage=used/max``;
the paced client stops the run, checkpointed, once the org has used all but a tenth of it
(``connectors.ratelimit.SALESFORCE_RESERVE``), and the run is tried again later. Errors are a list
``[{"message", "errorCode"}]`` (401 ``INVALID_SESSION_ID``, 400 ``INVALID_FIELD``/``MALFORMED_QUERY``,
403 ``REQUEST_LIMIT_EXCEEDED``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .base import Account, CatalogEntry, OAuthEndpoints, Page, RateLimits
from .errors import ProviderAuthError
from .kit import OnError, RestConnector, StreamSpec, oauth_bearer, person
from .mapping import Doc
from .rest import NextPathPaginator, RestStream, _bounded, dig, fingerprint, iso_z, parse_time, resume_of

DATA = "/services/data/v62.0"
QUERY = f"{DATA}/query"
BATCH = 100                 # ids per confirming query (a SOQL statement is at most 100,000 characters)
OWNER = ("OwnerId", "Owner.Name", "Owner.Email")
STAMPS = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


@dataclass(frozen=True)
class SObject:
    """One object as a stream: what its query selects, and its document."""

    name: str
    kind: str
    sobject: str
    description: str
    fields: tuple[str, ...]
    title: object
    facts: tuple[tuple[str, str], ...]
    body: str | None = None

    def query(self, where: str | None = None, fields: tuple[str, ...] | None = None) -> str:
        chosen = fields or ("Id", *self.fields, *OWNER, *STAMPS)
        return f"SELECT {', '.join(chosen)} FROM {self.sobject}" + (f" WHERE {where}" if where else "") + \
            " ORDER BY SystemModstamp ASC, Id ASC"


def second(record: dict) -> str:
    """A record's SystemModstamp to the second, as a SOQL literal (``2024-05-01T10:32:15Z``)."""
    return str(record.get("SystemModstamp") or "")[:19] + "Z"


def owner_readers(record: dict):
    from access.service import Readers

    email = dig(record, ("Owner", "Email"))
    if not email or not str(record.get("OwnerId", "")).startswith("005"):      # a queue, or unknown
        return None
    return Readers.of(*person("salesforce", record["OwnerId"], email))


def document_of(obj: SObject) -> Doc:
    return Doc(obj.kind, obj.title, content=(obj.body,) if obj.body else (), id="Id", author="Owner.Name",
               facts=(*obj.facts, ("Owner", "Owner.Name")), untitled=lambda r: f"{obj.sobject} {r['Id']}",
               url=lambda r: f"{r.get('_instance', '')}/lightning/r/{obj.sobject}/{r['Id']}/view",
               created="CreatedDate", updated="LastModifiedDate", time=lambda value: parse_time(_iso(value)),
               metadata=(("sobject", lambda r: obj.sobject), ("owner_id", "OwnerId"),
                         *(path for _, path in obj.facts)))


def _iso(value) -> str | None:
    """Salesforce's ``2024-05-01T10:32:15.000+0000`` as ISO 8601 (``+00:00``)."""
    return f"{value[:-2]}:{value[-2:]}" if isinstance(value, str) and value[-5:-4] in "+-" else value


OBJECTS = (
    SObject("accounts", "account", "Account", "Accounts", ("Name", "Industry", "Type", "Website", "Phone",
            "BillingCity", "Description"), "Name", (("Industry", "Industry"), ("Type", "Type"),
            ("Website", "Website"), ("Phone", "Phone"), ("City", "BillingCity")), body="Description"),
    SObject("contacts", "contact", "Contact", "Contacts with their account", ("Name", "Email", "Title", "Phone",
            "AccountId", "Account.Name"), lambda r: " ".join(filter(None, (r.get("Name"), r.get("Email") and
                                                                           f"({r['Email']})"))),
            (("E-mail", "Email"), ("Title", "Title"), ("Phone", "Phone"), ("Account", "Account.Name"))),
    SObject("opportunities", "deal", "Opportunity", "Opportunities with their stage and amount", ("Name",
            "StageName", "Amount", "CloseDate", "Probability", "AccountId", "Account.Name", "Description"), "Name",
            (("Stage", "StageName"), ("Amount", "Amount"), ("Close date", "CloseDate"), ("Probability", "Probability"),
             ("Account", "Account.Name")), body="Description"),
    SObject("tasks", "task", "Task", "Tasks logged against records", ("Subject", "Status", "Priority", "ActivityDate",
            "Description", "WhoId", "Who.Name", "WhatId", "What.Name"), "Subject",
            (("Status", "Status"), ("Priority", "Priority"), ("Due", "ActivityDate"), ("Contact", "Who.Name"),
             ("Related to", "What.Name")), body="Description"),
    SObject("events", "event", "Event", "Events (meetings) logged against records", ("Subject", "StartDateTime",
            "EndDateTime", "Location", "Description", "WhoId", "Who.Name", "WhatId", "What.Name"), "Subject",
            (("Starts", "StartDateTime"), ("Ends", "EndDateTime"), ("Location", "Location"), ("Contact", "Who.Name"),
             ("Related to", "What.Name")), body="Description"),
    SObject("cases", "case", "Case", "Support cases", ("CaseNumber", "Subject", "Description", "Status", "Priority",
            "Origin", "AccountId", "Account.Name", "ContactId", "Contact.Name"),
            lambda r: f"Case {r.get('CaseNumber')}: {r.get('Subject') or ''}".strip(),
            (("Status", "Status"), ("Priority", "Priority"), ("Origin", "Origin"), ("Account", "Account.Name"),
             ("Contact", "Contact.Name")), body="Description"),
)
BY_NAME = {o.name: o for o in OBJECTS}


def soql(query: str) -> RestStream:
    """A SOQL query, its batches joined by queryMore (``nextRecordsUrl`` until ``done``)."""
    return RestStream(QUERY, NextPathPaginator(("nextRecordsUrl",), ("totalSize",)), ("records",), {"q": query},
                      stop=lambda body: body.get("done", True))


def with_instance(records, api):
    for r in records:
        r["_instance"] = api.connector.api_root(api.ctx) or ""


class SalesforceConnector(RestConnector):
    catalog = CatalogEntry(
        type="salesforce", display_name="Salesforce", category="crm", auth_method="oauth_redirect",
        description="Accounts, contacts, opportunities, tasks, events and cases from your Salesforce org.",
        docs_url="https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest.htm",
        # The org's rolling 24-hour allowance is read from Sforce-Limit-Info on every answer (see
        # the module docstring); this only paces a run's bursts.
        rate_limits=RateLimits(requests_per_hour=4000),
        base_url="https://login.salesforce.com", api_url=None,
        oauth=OAuthEndpoints(authorize="/services/oauth2/authorize", token="/services/oauth2/token",
                             revoke="/services/oauth2/revoke", scopes=("api", "refresh_token", "id"),
                             keep=("instance_url",), lifetime=900))
    auth = oauth_bearer()
    page_size = 2000            # queryMore's largest batch (Sforce-Query-Options: batchSize, 200..2000)
    sandbox = {"base_url": "/salesforce"}
    errors = (OnError(401, error=ProviderAuthError, message="Salesforce no longer accepts this connection's session "
                                                           "({said}); reconnect Salesforce."),
              OnError(403, message="Salesforce refused ({said})."),
              OnError(400, message="Salesforce did not accept the query: {said}"))
    streams = tuple(StreamSpec(o.name, o.kind, soql(o.query()), description=o.description, key="Id",
                               document=document_of(o), readers=owner_readers, complete=with_instance,
                               list_ids=soql(o.query(fields=("Id",)))) for o in OBJECTS)

    def __init__(self, settings):
        super().__init__(settings)
        self.headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}

    def api_root(self, ctx):
        return (ctx.credentials or {}).get("instance_url") or self.settings.api_url

    @classmethod
    def capabilities(cls):
        """The kit's words, with what ``_pages`` reads instead of the declared listing."""
        return [{**row, "changes": "changed since the last run's newest (SOQL on `SystemModstamp`, queryMore)",
                 "deletions": "getDeleted before each incremental, " + row["deletions"]}
                for row in super().capabilities()]

    def token_account(self, token: dict) -> Account:
        """The identity URL of the token answer: the org and who signed in."""
        ctx = self._bare_ctx(access_token=lambda: token["access_token"], credentials={
            "instance_url": token.get("instance_url")})
        who = self.api(ctx).get(token["id"])
        return Account(external_id=who["organization_id"], handle=who.get("username"),
                       display_name=who.get("display_name"), identity=who.get("user_id"))

    # -- reading: SOQL with queryMore -------------------------------------------------------------
    def _pages(self, spec, api, state, mode):
        obj, state = BY_NAME[spec.name], state or {}
        if resume_of(state, mode) is not None or mode == "incremental":
            since, boundary = state.get("cursor"), dict(state.get("boundary") or {})
        else:
            since, boundary = None, {}
        covered = state.get("deleted_since") if mode == "incremental" else None
        if mode == "incremental" and since and resume_of(state, mode) is None:
            gone, covered = self._deleted(api, obj, covered or since)
            if gone:
                yield Page([], {**state, "deleted_since": covered}, deleted=gone)
        fetch = self._fetcher(spec, soql(obj.query(f"SystemModstamp >= {since}" if since else None)), api)
        fetched = fetch(None)
        while True:
            rows, body = fetched.records, fetched.body
            fresh = [r for r in rows if not (since and second(r) == since and boundary.get(r["Id"]) == fingerprint(r))]
            top = max((second(r) for r in rows), default=since)
            if top and (since is None or top > since):
                since, boundary = top, {r["Id"]: fingerprint(r) for r in rows if second(r) == top}
            else:
                boundary.update({r["Id"]: fingerprint(r) for r in rows})
            out = {"cursor": since, "boundary": _bounded(boundary), **({"deleted_since": covered} if covered else {})}
            if fetched.next_token is None:
                yield Page(fresh, out, total_estimate=body.get("totalSize"), last=True)
                return
            yield Page(fresh, {**out, "resume": {"mode": mode}}, total_estimate=body.get("totalSize"))
            fetched = fetch(fetched.next_token)         # queryMore

    def _deleted(self, api, obj: SObject, since: str) -> tuple[list[str], str | None]:
        """(ids getDeleted lists from ``since``, its ``latestDateCovered``: where the next pass
        asks from). At most 30 days back, and a minute at least."""
        now = datetime.now(timezone.utc)
        start = max(parse_time(since), now - timedelta(days=29, hours=23))
        start = min(start, now - timedelta(minutes=1))
        found = api.get(f"{DATA}/sobjects/{obj.sobject}/deleted/", {"start": iso_z(start), "end": iso_z(now)}) or {}
        covered = parse_time(_iso(found.get("latestDateCovered")))
        return [d["id"] for d in found.get("deletedRecords") or ()], iso_z(covered) if covered else None

    def fetch_records(self, ctx, stream, channel, external_ids):
        spec = self.spec(stream)
        obj, api = BY_NAME[spec.name], self.api(ctx)
        wanted = [i for i in external_ids if i.isalnum() and len(i) in (15, 18)]
        found = []
        for start in range(0, len(wanted), BATCH):
            quoted = ", ".join(f"'{i}'" for i in wanted[start:start + BATCH])
            found += api.records(soql(obj.query(f"Id IN ({quoted})")))
        live, _ = self._sorted_out(spec, api, found)
        return [(r["Id"], r) for r in live]
