"""Zendesk: OAuth authorization code flow against the customer's own Zendesk account.

Every URL is the account's, ``https://{subdomain}.zendesk.com``: the Support API under /api/v2, the Help Center's
under /api/v2/help_center, OAuth at ``/oauth/authorizations/new`` and ``/oauth/tokens``. A connection names its
``subdomain`` at connect (``acme``, ``acme.zendesk.com`` or its URL: a DNS label), filled into the deployment's URLs
(``TRIBUTARY_ZENDESK_BASE_URL`` for OAuth, ``_API_URL``; the sandbox's ``.../zendesk/{subdomain}``; without
``{subdomain}``, one account for every connection: tests, demos), so the OAuth client must be one every account
accepts (a Zendesk global OAuth client). A refresh token comes with every token, an ``expires_in`` where the
client's tokens expire (new global clients', after 30 minutes); a refresh (``grant_type=refresh_token`` at the
account's own token URL: the catalog names no refresh URL) gives a new pair.

Docs: https://developer.zendesk.com/api-reference/ (incremental exports: .../ticket-management/incremental_exports/;
OAuth: .../oauth/grant_type_tokens/; limits: .../introduction/rate-limits -- 200 to 2,500 requests a minute by plan,
``X-Rate-Limit``; the exports 10, a bucket of their own). Errors: ``{"error": "<Title>", "description": "..."}``.

* ``tickets``: the cursor-based incremental export (``start_time``, then ``cursor``: the ``after_cursor`` of the
  last page, until ``end_of_stream``), each ticket with its comments (replies and internal notes) and the names they
  name (``users/show_many.json``, once a page). A deleted ticket stays as ``status: "deleted"``.
* ``users``: the incremental user export; a deleted user comes back ``active: false``.
* ``articles``: the Help Center's incremental article export (``start_time``: the newest ``updated_at`` read,
  inclusive). An archived or deleted article leaves it and answers 404 by id: found by the id listing
  (``help_center/articles.json``), confirmed before deletion.

Readers (``source`` mode): a ticket's assignee and its group's agents (``users.json?role[]=agent&role[]=admin`` and
``group_memberships.json``, once a run), by e-mail; an article open to everyone (no ``user_segment_id``, not a
draft): the workspace, another hidden; users: the workspace.
"""
from urllib.parse import urljoin, urlsplit

from ._text import html_text
from .base import Account, CatalogEntry, ConnectSetting, OAuthEndpoints, RateLimits
from .errors import ProviderAuthError
from .kit import (AccountHost, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, everyone,
                  kept_readers, oauth_bearer)
from .mapping import Doc, first
from .rest import NextUrlPaginator, RestStream, TokenPaginator, parse_time

EXPORT = TokenPaginator(("after_cursor",), "cursor", "per_page")
PAGES = TokenPaginator(("meta", "after_cursor"), "page[after]", "page[size]")
SINCE = Incremental.since("start_time", "updated_at",
                          format=lambda cursor: int(parse_time(cursor).timestamp()) if cursor else 1)


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
    found = [api.get("/api/v2/users/show_many.json", {"ids": ",".join(ids[at:at + 100])}) or {}
             for at in range(0, len(ids), 100)]
    people = {str(u["id"]): u.get("name") for page in found for u in page.get("users") or ()}
    agents, groups = api.once("zendesk.staff", lambda: staff(api)) if api.ctx.readers_wanted else ({}, {})
    for r in records:
        r["_people"] = people
        readers = {r.get("assignee_id"), *groups.get(r.get("group_id"), ())}
        r["_readers"] = sorted({("email", agents[i]) for i in readers if i in agents})


def staff(api) -> tuple[dict, dict]:
    """(agent id -> e-mail, group id -> agent ids)."""
    agents = {u["id"]: u["email"].lower() for u in api.records(listing(
        "/api/v2/users.json", "users", **{"role[]": ["agent", "admin"]})) if u.get("email")}
    groups: dict = {}
    for m in api.records(listing("/api/v2/group_memberships.json", "group_memberships")):
        groups.setdefault(m["group_id"], set()).add(m["user_id"])
    return agents, groups


def ticket_text(r: dict) -> str:
    """The description, its facts, then the comments (internal notes said so), each by its author."""
    people = r.get("_people") or {}
    thread = [f"**{people.get(str(c.get('author_id'))) or c.get('author_id')}** "
              f"({(c.get('created_at') or '')[:10]}{'' if c.get('public', True) else ', internal note'}): "
              f"{c.get('plain_body') or c.get('body') or ''}" for c in r["_comments"]]
    facts = [f"{label}: {value}" for label, value in (("Status", r.get("status")), ("Priority", r.get("priority")),
                                                      ("Tags", ", ".join(r.get("tags") or ()))) if value]
    return "\n\n".join(filter(None, (r.get("description"), "\n".join(facts), "\n\n".join(thread))))


TICKET = Doc("ticket", lambda r: f"#{r['id']} {r.get('subject') or ''}".strip(), content=(ticket_text,),
             author=lambda r: (r.get("_people") or {}).get(str(r.get("requester_id"))),
             url=lambda r: urljoin(r.get("url") or "", f"/agent/tickets/{r['id']}"),
             metadata=("status", "priority", "group_id", "assignee_id", "tags[]",
                       ("comments", lambda r: len(r["_comments"]))))
USER = Doc("user", first("name", otherwise="{id}"), metadata=("role",),
           url=lambda r: urljoin(r.get("url") or "", f"/agent/users/{r['id']}"),
           facts=(("E-mail", "email"), ("Role", "role"), ("Time zone", "iana_time_zone")))
ARTICLE = Doc("article", first("title", otherwise="{id}"), content=(lambda r: html_text(r.get("body")),),
              url="html_url", metadata=("section_id", "locale", "draft"))


class ZendeskConnector(RestConnector):
    catalog = CatalogEntry(
        type="zendesk", display_name="Zendesk", category="support", auth_method="oauth_redirect",
        description="Support tickets with their comments, users and Help Center articles from Zendesk.",
        docs_url="https://developer.zendesk.com/api-reference/",
        # Per account, a minute: Team 200, Growth/Professional 400, Enterprise 700, Enterprise Plus/High Volume 2,500.
        rate_limits=RateLimits(requests_per_minute=200),
        base_url="https://{subdomain}.zendesk.com", api_url="https://{subdomain}.zendesk.com",  # paths name /api/v2
        connect_settings=(ConnectSetting("subdomain", "Zendesk subdomain", "acme for acme.zendesk.com (the "
                                         "address you sign in to Zendesk at)."),),
        oauth=OAuthEndpoints(authorize="/oauth/authorizations/new", token="/oauth/tokens",
                             scopes=("tickets:read", "users:read", "hc:read")))
    auth = oauth_bearer()
    sandbox = {"base_url": "/zendesk/{subdomain}", "api_url": "/zendesk/{subdomain}"}
    url_settings = ("subdomain",)
    account_setting = AccountHost("subdomain", "zendesk.com")       # acme.zendesk.com, or its URL: acme
    page_size = 1000            # the exports' most a page (comment and listing pages take 100)
    buckets = {"export": RateLimits(requests_per_minute=10)}
    errors = (OnError(401, error=ProviderAuthError, message="Zendesk no longer accepts this connection's token "
                                                           "({said}); reconnect Zendesk."),
              OnError(403, message="Zendesk refused to let this connection read it ({said})."),
              OnError(400, message="Zendesk did not accept the request: {said}"))
    streams = (
        StreamSpec("tickets", "ticket", export("tickets", True), TICKET, description="Tickets with their comments",
                   tombstone=lambda r: r.get("status") == "deleted",
                   incremental=Incremental.sync_token("cursor", ("after_cursor",), changes=export("tickets", False)),
                   joins=(Join("_comments", listing("/api/v2/tickets/{ticket}/comments.json", "comments"),
                               args=lambda r: {"ticket": r["id"]}),),
                   complete=names, readers=kept_readers, readers_said="its assignee and its group's agents (not "
                   "agents whose role reads every ticket: Zendesk's custom roles are not read)",
                   fetch=FetchById("/api/v2/tickets/{id}.json", records_path=("ticket",))),
        StreamSpec("users", "user", export("users", True), USER, description="End users and agents",
                   tombstone=lambda r: r.get("active") is False, readers=everyone,
                   incremental=Incremental.sync_token("cursor", ("after_cursor",), changes=export("users", False))),
        StreamSpec("articles", "article", RestStream("/api/v2/help_center/incremental/articles.json",
                                                     NextUrlPaginator(("next_page",)), ("articles",)), ARTICLE,
                   description="Help Center articles", incremental=SINCE, readers_said="the workspace when open to "
                   "everyone; hidden when a user segment's or a draft",
                   readers=lambda r: everyone(r) if r.get("user_segment_id") is None and not r.get("draft") else None,
                   list_ids=listing("/api/v2/help_center/articles.json", "articles"),
                   fetch=FetchById("/api/v2/help_center/articles/{id}.json", records_path=("article",))),
    )

    def account(self, access_token):
        ctx = self._bare_ctx(access_token=lambda: access_token, settings=self.connection_settings)
        me = self.api(ctx).get("/api/v2/users/me.json")["user"]
        host = urlsplit(me.get("url") or "").hostname or ""
        return Account(external_id=host.split(".")[0] or str(me["id"]), handle=me.get("email"),
                       display_name=host or None, identity=str(me["id"]))
