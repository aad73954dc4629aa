"""Zendesk: OAuth authorization code flow against the customer's own Zendesk account.

Every URL is per account, ``https://{subdomain}.zendesk.com``: the Support API under /api/v2, the
Help Center's under /api/v2/help_center, OAuth at ``/oauth/authorizations/new`` and
``/oauth/tokens``. A connection names its ``subdomain`` at connect (``acme``, ``acme.zendesk.com``
or its URL; a DNS label: letters, digits, hyphens, at most 63, no hyphen first or last); its API and
OAuth URLs are the deployment's with ``{subdomain}`` filled in, so the OAuth client must be one
every account accepts (a Zendesk global OAuth client). ``TRIBUTARY_ZENDESK_BASE_URL`` (OAuth) and
``_API_URL`` override ``https://{subdomain}.zendesk.com`` (the sandbox's ``.../zendesk/{subdomain}``);
without ``{subdomain}`` every connection reaches that one account (tests, demos).

Tokens: Zendesk issues a refresh token with every new token, and an ``expires_in`` where its
OAuth client's tokens expire (new global clients' do, after 30 minutes): the connection refreshes
at its own account's ``/oauth/tokens`` (``grant_type=refresh_token``; the catalog names no refresh
URL, so the token URL with ``{subdomain}`` filled in), receiving a new pair each time.

Docs: https://developer.zendesk.com/api-reference/ (incremental exports: .../ticket-management/
incremental_exports/; OAuth: .../oauth/grant_type_tokens/; limits: .../introduction/rate-limits).

* ``tickets``: the cursor-based incremental export (``start_time`` first, then ``cursor``; it ends
  with ``end_of_stream`` and the ``after_cursor`` the next pass starts from), each ticket with its
  comments (public replies and internal notes) and the names of the people they name
  (``users/show_many.json``, once a page). A deleted ticket stays in the export as ``status:
  "deleted"``: a tombstone.
* ``users``: the incremental user export; a deleted user comes back ``active: false``.
* ``articles``: the Help Center's incremental article export (``start_time``: the newest
  ``updated_at`` read, inclusive). An archived or deleted article leaves the listing and answers
  404 by id: found by the id listing, confirmed before deletion.

Readers (``source`` mode): a ticket's assignee and its group's agents (``users.json?role[]=agent
&role[]=admin`` and ``group_memberships.json``, once a run), by e-mail; an article open to everyone
(no ``user_segment_id``, not a draft) is the workspace's, another hidden; users the workspace's.
Limits: 200 to 2,500 requests a minute by plan (``X-Rate-Limit``), 10 for the exports (a bucket of
their own). Errors: ``{"error": "<Title>", "description": "..."}``.
"""
import re
from urllib.parse import urlsplit

from core.errors import ValidationError

from ._text import html_text
from .base import Account, CatalogEntry, ConnectSetting, DocumentData, OAuthEndpoints, RateLimits
from .errors import ProviderAuthError
from .kit import (FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, everyone, kept_readers,
                  oauth_bearer)
from .rest import NextUrlPaginator, RestStream, TokenPaginator, parse_time

EXPORT = TokenPaginator(("after_cursor",), "cursor", "per_page")
PAGES = TokenPaginator(("meta", "after_cursor"), "page[after]", "page[size]")
SUBDOMAIN = re.compile(r"(?:https?://)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.zendesk\.com)?/?", re.I)


def subdomain_of(value) -> str:
    """The account's subdomain from what the user typed (``acme``, ``acme.zendesk.com``, its URL)."""
    match = SUBDOMAIN.fullmatch(str(value or "").strip())
    if not match:
        raise ValidationError("settings.subdomain is your Zendesk's subdomain, acme for acme.zendesk.com: letters, "
                              "digits and hyphens (at most 63, no hyphen first or last).", code="invalid_setting",
                              details={"field": "settings.subdomain", "setting": "subdomain"})
    return match[1].lower()


def export(kind: str, first: bool) -> RestStream:
    """A cursor-based incremental export: the first pass from ``start_time``, later ones from a cursor."""
    return RestStream(f"/api/v2/incremental/{kind}/cursor.json", EXPORT, (kind,), {"start_time": 1} if first else {},
                      stop=lambda body: bool(body.get("end_of_stream")), bucket="export")


def listing(path: str, kind: str, **params) -> RestStream:
    return RestStream(path, PAGES, (kind,), params, page_size=100,
                      stop=lambda body: not (body.get("meta") or {}).get("has_more"))


def names(records: list, api) -> None:
    """``complete``: the people a page of tickets names (requesters, comment authors), and its readers."""
    ids = sorted({str(i) for r in records
                  for i in (r.get("requester_id"), *(c.get("author_id") for c in r["_comments"])) if i})
    people = {str(u["id"]): u.get("name") for start in range(0, len(ids), 100) for u in (api.get(
        "/api/v2/users/show_many.json", {"ids": ",".join(ids[start:start + 100])}) or {}).get("users") or ()}
    agents, groups = api.once("zendesk.staff", lambda: staff(api)) if api.ctx.readers_wanted else ({}, {})
    for r in records:
        r["_people"] = people
        r["_readers"] = sorted({("email", agents[i]) for i in {r.get("assignee_id"), *groups.get(r.get("group_id"), ())}
                                if i in agents})


def staff(api) -> tuple[dict, dict]:
    """(agent id -> e-mail, group id -> agent ids)."""
    agents = {u["id"]: u["email"].lower() for u in api.records(listing(
        "/api/v2/users.json", "users", **{"role[]": ["agent", "admin"]})) if u.get("email")}
    groups: dict = {}
    for m in api.records(listing("/api/v2/group_memberships.json", "group_memberships")):
        groups.setdefault(m["group_id"], set()).add(m["user_id"])
    return agents, groups


def ticket_document(r: dict) -> DocumentData:
    people = r.get("_people") or {}
    thread = [f"**{people.get(str(c.get('author_id'))) or c.get('author_id')}** "
              f"({(c.get('created_at') or '')[:10]}{'' if c.get('public', True) else ', internal note'}): "
              f"{c.get('plain_body') or c.get('body') or ''}" for c in r["_comments"]]
    facts = [f"{label}: {value}" for label, value in (("Status", r.get("status")), ("Priority", r.get("priority")),
                                                      ("Tags", ", ".join(r.get("tags") or ()))) if value]
    return DocumentData(
        external_id=str(r["id"]), title=f"#{r['id']} {r.get('subject') or ''}".strip(), type="ticket",
        content="\n\n".join(filter(None, (r.get("description"), "\n".join(facts), "\n\n".join(thread)))),
        url=f"{_site(r.get('url'))}/agent/tickets/{r['id']}", author=people.get(str(r.get("requester_id"))),
        created_at=parse_time(r.get("created_at")), updated_at=parse_time(r.get("updated_at")),
        metadata={"status": r.get("status"), "priority": r.get("priority"), "group_id": r.get("group_id"),
                  "assignee_id": r.get("assignee_id"), "tags": r.get("tags") or [], "comments": len(r["_comments"])})
def _site(url) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def user_document(r: dict) -> DocumentData:
    return DocumentData(external_id=str(r["id"]), title=r.get("name") or str(r["id"]), type="user",
                        content="\n".join(f"{k}: {v}" for k, v in (("E-mail", r.get("email")), ("Role", r.get("role")),
                                                                    ("Time zone", r.get("iana_time_zone"))) if v),
                        url=f"{_site(r.get('url'))}/agent/users/{r['id']}", created_at=parse_time(r.get("created_at")),
                        updated_at=parse_time(r.get("updated_at")), metadata={"role": r.get("role")})


def article_document(r: dict) -> DocumentData:
    return DocumentData(external_id=str(r["id"]), title=r.get("title") or str(r["id"]), type="article",
                        content=html_text(r.get("body")), url=r.get("html_url"), created_at=parse_time(r.get("created_at")),
                        updated_at=parse_time(r.get("updated_at")),
                        metadata={"section_id": r.get("section_id"), "locale": r.get("locale"), "draft": r.get("draft")})


def article_readers(record: dict):
    return everyone(record) if record.get("user_segment_id") is None and not record.get("draft") else None


def epoch(cursor) -> int | None:
    return int(parse_time(cursor).timestamp()) if cursor else 1


class ZendeskConnector(RestConnector):
    catalog = CatalogEntry(
        type="zendesk", display_name="Zendesk", category="support", auth_method="oauth_redirect",
        description="Support tickets with their comments, users and Help Center articles from Zendesk.",
        docs_url="https://developer.zendesk.com/api-reference/",
        # Per account and plan: Team 200 requests/minute, Growth and Professional 400,
        # Enterprise 700, Enterprise Plus or the High Volume API add-on 2,500.
        rate_limits=RateLimits(requests_per_minute=200),
        base_url="https://{subdomain}.zendesk.com", api_url="https://{subdomain}.zendesk.com",  # paths name /api/v2
        connect_settings=(ConnectSetting("subdomain", "Zendesk subdomain", "acme for acme.zendesk.com (the "
                                         "address you sign in to Zendesk at)."),),
        oauth=OAuthEndpoints(authorize="/oauth/authorizations/new", token="/oauth/tokens",
                             scopes=("tickets:read", "users:read", "hc:read")))
    auth = oauth_bearer()
    sandbox = {"base_url": "/zendesk/{subdomain}", "api_url": "/zendesk/{subdomain}"}
    url_settings = ("subdomain",)
    page_size = 1000            # the exports' most a page (comment and listing pages take 100)
    buckets = {"export": RateLimits(requests_per_minute=10)}
    errors = (OnError(401, error=ProviderAuthError, message="Zendesk no longer accepts this connection's token ({said}); "
                                                           "reconnect Zendesk."),
              OnError(403, message="Zendesk refused to let this connection read it ({said})."),
              OnError(400, message="Zendesk did not accept the request: {said}"))
    streams = (
        StreamSpec("tickets", "ticket", export("tickets", True), description="Tickets with their comments",
                   document=ticket_document, tombstone=lambda r: r.get("status") == "deleted",
                   incremental=Incremental.sync_token("cursor", ("after_cursor",), changes=export("tickets", False)),
                   joins=(Join("_comments", listing("/api/v2/tickets/{ticket}/comments.json", "comments"),
                               args=lambda r: {"ticket": r["id"]}),),
                   complete=names, readers=kept_readers, readers_said="its assignee and its group's agents (not "
                   "agents whose role reads every ticket: Zendesk's custom roles are not read)",
                   fetch=FetchById("/api/v2/tickets/{id}.json", records_path=("ticket",))),
        StreamSpec("users", "user", export("users", True), description="End users and agents", document=user_document,
                   tombstone=lambda r: r.get("active") is False, readers=everyone,
                   incremental=Incremental.sync_token("cursor", ("after_cursor",), changes=export("users", False))),
        StreamSpec("articles", "article", RestStream("/api/v2/help_center/incremental/articles.json",
                                                     NextUrlPaginator(("next_page",)), ("articles",)),
                   description="Help Center articles", document=article_document, readers=article_readers,
                   readers_said="the workspace when open to everyone; hidden when a user segment's or a draft",
                   incremental=Incremental.since("start_time", "updated_at", format=epoch),
                   list_ids=listing("/api/v2/help_center/articles.json", "articles"),
                   fetch=FetchById("/api/v2/help_center/articles/{id}.json", records_path=("article",))),
    )

    @classmethod
    def normalize_settings(cls, settings: dict) -> dict:
        return {**settings, "subdomain": subdomain_of(settings.get("subdomain"))}

    def account(self, access_token):
        ctx = self._bare_ctx(access_token=lambda: access_token, settings=self.connection_settings)
        me = self.api(ctx).get("/api/v2/users/me.json")["user"]
        host = urlsplit(me.get("url") or "").hostname or ""
        return Account(external_id=host.split(".")[0] or str(me["id"]), handle=me.get("email"),
                       display_name=host or None, identity=str(me["id"]))

