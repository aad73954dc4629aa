"""Salesforce: OAuth 2.0 web server flow through a Connected App / External Client App.

Docs: REST https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest.htm
(.../resources_query.htm, .../resources_getdeleted.htm, .../headers_api_usage.htm); OAuth
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_endpoints.htm; allocations
https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html.
Sandboxes log in at https://test.salesforce.com (set ``base_url``); orgs with My Domain can too.

Connect: the token answer names the org's ``instance_url`` (every API call goes there) and the
identity URL ``id`` (who signed in; the connection's account is the org). It has no ``expires_in``:
a session lasts the org's timeout (15 minutes at the least), so the token is refreshed that often.

Streams: a SOQL query per object (``WHERE SystemModstamp >= <cursor> ORDER BY SystemModstamp ASC, Id
ASC``, related records' names selected too), its batches joined by queryMore (``nextRecordsUrl``;
``Sforce-Query-Options: batchSize``, at most 2000). The cursor is the newest SystemModstamp to the
second (SOQL dateTime literals have none finer): that second is read again, records already handed
over dropped by fingerprint. A stopped run queries again from the cursor (a locator lives 15 minutes).
Deletion: an incremental pass first asks getDeleted (``/sobjects/{type}/deleted/?start=&end=``) from
its last answer's ``latestDateCovered`` (at first, the cursor); it reaches 30 days back, older
deletions wait for a full sync, whose unseen ids (``SELECT Id``) are confirmed by ``WHERE Id IN``.

Readers: sharing (org-wide defaults, role hierarchy, sharing rules, teams) is not readable per
record through the REST API: in the ``source`` access mode a record is read by its owner
(``Owner.Email``, ``salesforce:<user id>``); one a queue owns is hidden (fail closed).

Limits: the org's daily allowance, a rolling 24 hours (Enterprise Edition 100,000 + 1,000 per
licence) shared by every integration, is in every answer (``Sforce-Limit-Info: api-usage=used/max``):
the paced client stops the run, checkpointed, once all but a tenth is used (``ratelimit.SALESFORCE_RESERVE``)
and it is tried again later. Errors: ``[{"message", "errorCode"}]`` (401 ``INVALID_SESSION_ID``, 400
``INVALID_FIELD``/``MALFORMED_QUERY``, 403 ``REQUEST_LIMIT_EXCEEDED``).
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
QUERY_MORE = NextPathPaginator(("nextRecordsUrl",), ("totalSize",))
BATCH = 100                 # ids per confirming query (a SOQL statement is at most 100,000 characters)
ORDER = "ORDER BY SystemModstamp ASC, Id ASC"
OWNER, STAMPS = ("OwnerId", "Owner.Name", "Owner.Email"), ("CreatedDate", "LastModifiedDate", "SystemModstamp")


@dataclass(frozen=True)
class SObject:
    """One object as a stream: the fields its query selects besides its id, owner and times (as
    SOQL writes them), and its document's title, facts (``(label, field)``; a bare field is its
    own label) and text."""

    name: str
    kind: str
    sobject: str
    description: str
    title: object
    fields: str
    facts: tuple
    body: str | None = None

    def query(self, where: str | None = None, fields: str | None = None) -> RestStream:
        """Its SOQL query, oldest change first, the batches joined by queryMore (until ``done``)."""
        chosen = fields or ", ".join(("Id", self.fields, *OWNER, *STAMPS))
        soql = f"SELECT {chosen} FROM {self.sobject}" + (f" WHERE {where}" if where else "")
        return RestStream(f"{DATA}/query", QUERY_MORE, ("records",), {"q": f"{soql} {ORDER}"},
                          stop=lambda body: body.get("done", True))

    def document(self) -> Doc:
        facts = tuple((fact, fact) if isinstance(fact, str) else fact for fact in self.facts)
        return Doc(self.kind, self.title, content=(self.body,), facts=(*facts, ("Owner", "Owner.Name")), id="Id",
                   url=lambda r: f"{r.get('_instance', '')}/lightning/r/{self.sobject}/{r['Id']}/view",
                   author="Owner.Name", created="CreatedDate", updated="LastModifiedDate",
                   untitled=lambda r: f"{self.sobject} {r['Id']}",
                   metadata=(("sobject", lambda r: self.sobject), ("owner_id", "OwnerId"), *(p for _, p in facts)))


def contact_title(record: dict) -> str:
    return " ".join(filter(None, (record.get("Name"), record.get("Email") and f"({record['Email']})")))


def case_title(record: dict) -> str:
    return f"Case {record.get('CaseNumber')}: {record.get('Subject') or ''}".strip()


OBJECTS = (
    SObject("accounts", "account", "Account", "Accounts", "Name", body="Description",
            fields="Name, Industry, Type, Website, Phone, BillingCity, Description",
            facts=("Industry", "Type", "Website", "Phone", ("City", "BillingCity"))),
    SObject("contacts", "contact", "Contact", "Contacts with their account", contact_title,
            fields="Name, Email, Title, Phone, AccountId, Account.Name",
            facts=(("E-mail", "Email"), "Title", "Phone", ("Account", "Account.Name"))),
    SObject("opportunities", "deal", "Opportunity", "Opportunities with their stage and amount", "Name",
            fields="Name, StageName, Amount, CloseDate, Probability, AccountId, Account.Name, Description",
            facts=(("Stage", "StageName"), "Amount", ("Close date", "CloseDate"), "Probability",
                   ("Account", "Account.Name")), body="Description"),
    SObject("tasks", "task", "Task", "Tasks logged against records", "Subject", body="Description",
            fields="Subject, Status, Priority, ActivityDate, Description, WhoId, Who.Name, WhatId, What.Name",
            facts=("Status", "Priority", ("Due", "ActivityDate"), ("Contact", "Who.Name"),
                   ("Related to", "What.Name"))),
    SObject("events", "event", "Event", "Events (meetings) logged against records", "Subject", body="Description",
            fields="Subject, StartDateTime, EndDateTime, Location, Description, WhoId, Who.Name, WhatId, What.Name",
            facts=(("Starts", "StartDateTime"), ("Ends", "EndDateTime"), "Location", ("Contact", "Who.Name"),
                   ("Related to", "What.Name"))),
    SObject("cases", "case", "Case", "Support cases", case_title, body="Description",
            fields="CaseNumber, Subject, Description, Status, Priority, Origin, AccountId, Account.Name, ContactId, "
                   "Contact.Name",
            facts=("Status", "Priority", "Origin", ("Account", "Account.Name"), ("Contact", "Contact.Name"))),
)
BY_NAME = {o.name: o for o in OBJECTS}


def second(record: dict) -> str:
    """A record's SystemModstamp to the second, as a SOQL literal (``2024-05-01T10:32:15Z``)."""
    return str(record.get("SystemModstamp") or "")[:19] + "Z"


def owner_readers(record: dict):
    from access.service import Readers

    email = dig(record, ("Owner", "Email"))
    if not email or not str(record.get("OwnerId", "")).startswith("005"):      # a queue, or unknown
        return None
    return Readers.of(*person("salesforce", record["OwnerId"], email))


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
    streams = tuple(StreamSpec(o.name, o.kind, o.query(), o.document(), o.description, key="Id", readers=owner_readers,
                               complete=with_instance, list_ids=o.query(fields="Id"),
                               changes_said="changed since the last run's newest (SOQL on `SystemModstamp`, queryMore)")
                    for o in OBJECTS)

    def __init__(self, settings):
        super().__init__(settings)
        self.headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}

    def api_root(self, ctx):
        return (ctx.credentials or {}).get("instance_url") or self.settings.api_url

    @classmethod
    def capabilities(cls):
        """The kit's words, with the getDeleted that ``_pages`` asks before an incremental pass."""
        return [{**row, "deletions": "getDeleted before each incremental, " + row["deletions"]}
                for row in super().capabilities()]

    def token_account(self, token: dict) -> Account:
        """The identity URL of the token answer: the org and who signed in."""
        ctx = self._bare_ctx(access_token=lambda: token["access_token"], credentials={
            "instance_url": token.get("instance_url")})
        who = self.api(ctx).get(token["id"])
        return Account(external_id=who["organization_id"], handle=who.get("username"),
                       display_name=who.get("display_name"), identity=who.get("user_id"))

    def _pages(self, spec, api, state, mode):
        """getDeleted first on an incremental pass, then the query from the cursor, followed by
        queryMore to its end (a query's result set is fixed: nothing shifts between batches)."""
        obj, resumed = BY_NAME[spec.name], resume_of(state, mode) is not None
        state = (state or {}) if resumed or mode == "incremental" else {}      # a fresh full pass reads everything
        since, boundary = state.get("cursor"), dict(state.get("boundary") or {})
        covered = state.get("deleted_since") if mode == "incremental" else None
        if mode == "incremental" and since and not resumed:
            gone, covered = self._deleted(api, obj, covered or since)
            if gone:
                yield Page([], {**state, "deleted_since": covered}, deleted=gone)
        fetch, token = self._fetcher(spec, obj.query(f"SystemModstamp >= {since}" if since else None), api), None
        while True:
            fetched = fetch(token)
            rows, token = fetched.records, fetched.next_token
            fresh = [r for r in rows if not (second(r) == since and boundary.get(r["Id"]) == fingerprint(r))]
            top = max((second(r) for r in rows), default=since)
            if top and top > (since or ""):
                since, boundary = top, {r["Id"]: fingerprint(r) for r in rows if second(r) == top}
            else:
                boundary.update({r["Id"]: fingerprint(r) for r in rows})
            out = {"cursor": since, "boundary": _bounded(boundary), **({"deleted_since": covered} if covered else {})}
            yield Page(fresh, out if token is None else {**out, "resume": {"mode": mode}}, last=token is None,
                       total_estimate=fetched.body.get("totalSize"))
            if token is None:
                return

    def _deleted(self, api, obj: SObject, since: str) -> tuple[list[str], str | None]:
        """(ids getDeleted lists from ``since``, its ``latestDateCovered``: where the next pass
        asks from). At most 30 days back, and a minute at least."""
        now = datetime.now(timezone.utc)
        start = min(max(parse_time(since), now - timedelta(days=29, hours=23)), now - timedelta(minutes=1))
        found = api.get(f"{DATA}/sobjects/{obj.sobject}/deleted/", {"start": iso_z(start), "end": iso_z(now)}) or {}
        covered = parse_time(found.get("latestDateCovered"))
        return [d["id"] for d in found.get("deletedRecords") or ()], iso_z(covered) if covered else None

    def fetch_records(self, ctx, stream, channel, external_ids):
        """Those of the ids a ``WHERE Id IN (...)`` query still answers, ``BATCH`` ids a query."""
        spec, api = self.spec(stream), self.api(ctx)
        wanted = [f"'{i}'" for i in external_ids if i.isalnum() and len(i) in (15, 18)]
        found = [r for start in range(0, len(wanted), BATCH)
                 for r in api.records(BY_NAME[spec.name].query(f"Id IN ({', '.join(wanted[start:start + BATCH])})"))]
        return [(r["Id"], r) for r in self._sorted_out(spec, api, found)[0]]
