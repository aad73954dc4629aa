"""Intercom: public app OAuth; reads conversations with their parts, contacts and Help Center articles.

No scopes on the authorize URL (the app's permissions are set in the Developer Hub); tokens never expire (no
``expires_in``, no refresh token). EU and Australian workspaces: https://api.eu.intercom.io and
https://api.au.intercom.io (``TRIBUTARY_INTERCOM_API_URL``). Every request says ``Intercom-Version: 2.11``.
Docs: https://developers.intercom.com/docs/references/rest-api/api.intercom.io (OAuth: .../authentication/
setting-up-oauth; search pages: .../rest-apis/pagination; limits: .../errors/rate-limiting -- every answer says
``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset``, epoch seconds; past them a 429). Errors: ``{"type":
"error.list", "errors": [{"code", "message"}]}`` (401 ``unauthorized``: a token revoked or the app uninstalled).

* ``conversations``: ``POST /conversations/search``, ``updated_at > cursor - 1`` (no ``>=``; whole seconds),
  ascending: the kit's ``since`` keyset (``pagination.starting_after`` within one second). Search answers carry
  no parts: each conversation is read again (``GET /conversations/{id}?display_as=plaintext``: replies and
  notes among assignments and state changes); a new part moves its ``updated_at``.
* ``contacts``: ``POST /contacts/search`` the same way (users and leads); ``articles``: ``GET /articles`` (page
  numbers, no change filter: each run reads it). Deletion: the id listing (the search from 0; the article
  list), confirmed by ``GET`` by id (404: gone).

Readers (``source`` mode): every teammate (``GET /admins``: ``("email", ...)``, ``("provider_user",
"intercom:<admin id>")``) reads conversations and contacts, never customers: a conversation names its assignee
and team (``admin_assignee_id``, ``team_assignee_id``; ``GET /teams``: their ``admin_ids``), but a seat
permission restricting a teammate to those is not in the API (an admin shows ``team_ids`` and
``has_inbox_seat`` only). A published article: the whole workspace (the public Help Center); a draft: the
teammates. (Intercom's internal articles are another API, not read here.)
"""
from __future__ import annotations

from ._text import html_text
from .base import CatalogEntry, OAuthEndpoints, RateLimits
from .kit import (FetchById, Incremental, Join, RestConnector, StreamSpec, WhoAmI, everyone, kept_readers,
                  oauth_bearer, person, same_readers)
from .mapping import Doc, epoch_seconds, first
from .rest import PageNumberPaginator, Paginator, RestStream, dig

MAX_SEARCH_PAGE = 150       # Intercom's largest search page


class SearchPages(Paginator):
    """Intercom's search pages: ``{"pagination": {"per_page", "starting_after"}}`` in the request
    body; the next page's ``starting_after`` at ``pages.next`` in the answer."""

    def start(self, page_size):
        return {"pagination": {"per_page": min(page_size, MAX_SEARCH_PAGE)}} if page_size else {}

    def next_token(self, response, body, params, records):
        after = dig(body, ("pages", "next", "starting_after"))
        return {"pagination": {**(params.get("pagination") or {}), "starting_after": after}} if after else None


def updated_after(cursor) -> dict:
    """``updated_at >= cursor`` in Intercom's words (it has ``>`` only; times are whole seconds)."""
    return {"field": "updated_at", "operator": ">", "value": int(cursor) - 1 if cursor else 0}


def search(path: str, records: str) -> RestStream:
    return RestStream(path, SearchPages(), (records,), method="POST", body=True,
                      params={"query": updated_after(None), "sort": {"field": "updated_at", "order": "ascending"}})


UPDATED = Incremental.since("query", lambda record: f"{record['updated_at']:010d}", format=updated_after)
PAGES = PageNumberPaginator(total_pages=("pages", "total_pages"))


def teammates(api) -> list[tuple[str, str]]:
    admins = dig(api.get("/admins"), ("admins",)) or []
    return sorted({entry for a in admins if a.get("type") == "admin"
                   for entry in person("intercom", a["id"], a.get("email"))})


# -- documents -----------------------------------------------------------------------------------

def source(record: dict) -> dict:
    """The conversation's opening message, as its detail (the join) shows it."""
    return (record.get("_detail") or record).get("source") or {}


def conversation_title(record: dict) -> str:
    lines = (source(record).get("body") or "").strip().splitlines()
    return source(record).get("subject") or (lines[0][:80] if lines else "") or f"Conversation {record['id']}"


def thread(record: dict) -> list[str]:
    """The subject, the opening message, then the replies and notes (not assignments nor state changes)."""
    opening = (source(record).get("body") or "").strip()
    return [source(record).get("subject"), opening and f"{author(record)}: {opening}", *map(part_line, parts(record))]


def parts(record: dict) -> list[dict]:
    listed = dig(record.get("_detail") or record, ("conversation_parts", "conversation_parts")) or []
    return [p for p in listed if p.get("part_type") in ("comment", "note") and p.get("body")]


def part_line(part: dict) -> str:
    when = epoch_seconds(part.get("created_at"))
    note = "Note by " if part["part_type"] == "note" else ""
    return f"{note}{who(part.get('author'))} ({when.strftime('%Y-%m-%d %H:%M') if when else ''}): {part['body']}"


def author(record: dict) -> str:
    return who(source(record).get("author"))


who = first("name", "email", "type", otherwise="someone")          # a message's author
contact_name = first("name", "email", otherwise="Contact {id}")
CONVERSATION = Doc("conversation", conversation_title, content=(thread,), author=author, time=epoch_seconds,
                   url=lambda r: source(r).get("url"), metadata=("state", "open", ("parts", lambda r: len(parts(r))),
                                                                 "admin_assignee_id", "team_assignee_id"))
CONTACT = Doc("contact", lambda r: f"{r['name']} <{r['email']}>" if r.get("email") and r.get("name")
              else contact_name(r), content=(contact_name, "email", "phone", lambda r: f"Role: {r.get('role')}"),
              time=epoch_seconds, metadata=("role", "owner_id"))
ARTICLE = Doc("article", first("title", otherwise="Article {id}"), url="url", time=epoch_seconds,
              content=("title", "description", lambda r: html_text(r.get("body"))), metadata=("state", "parent_id"))
TEAMMATES = same_readers(lambda api: api.once("intercom.admins", lambda: teammates(api)))


class IntercomConnector(RestConnector):
    catalog = CatalogEntry(
        type="intercom", display_name="Intercom", category="support", auth_method="oauth_redirect",
        description="Customer conversations, users and leads, and Help Center articles from Intercom.",
        docs_url="https://developers.intercom.com/docs/references/rest-api/api.intercom.io",
        # 10,000 API calls per minute per app and 25,000 per workspace, enforced in 10-second windows.
        rate_limits=RateLimits(requests_per_minute=10000), base_url="https://app.intercom.com",
        api_url="https://api.intercom.io", permissions=True,
        oauth=OAuthEndpoints("https://app.intercom.com/oauth", "https://api.intercom.io/auth/eagle/token", scopes=()))
    auth = oauth_bearer()
    headers = {"Intercom-Version": "2.11", "Accept": "application/json"}
    whoami = WhoAmI("/me", id="app.id_code", handle="email", name="app.name", avatar="avatar.image_url")
    page_size = MAX_SEARCH_PAGE
    sandbox = {"base_url": "/intercom", "api_url": "/intercom/api", "authorize_url": "/intercom/oauth",
               "token_url": "/intercom/api/auth/eagle/token"}
    streams = (
        StreamSpec("conversations", "conversation", search("/conversations/search", "conversations"), CONVERSATION,
                   description="Conversations with their parts (messages and notes)",
                   incremental=UPDATED, list_ids=True, readers=kept_readers, complete=TEAMMATES,
                   readers_said="every teammate (`GET /admins`): Intercom's API shows a conversation's assignee and "
                                "team, not the permissions that would keep other teammates from it",
                   fetch=FetchById("/conversations/{id}", pattern=r"\d+"),
                   joins=(Join("_detail", RestStream("/conversations/{conversation}", PAGES,
                                                     params={"display_as": "plaintext"}),
                               args=lambda record: {"conversation": record["id"]}, many=False, content=True),)),
        StreamSpec("contacts", "contact", search("/contacts/search", "data"), CONTACT,
                   description="Users and leads", incremental=UPDATED, list_ids=True, readers=kept_readers,
                   readers_said="every teammate (`GET /admins`)", complete=TEAMMATES,
                   fetch=FetchById("/contacts/{id}", pattern=r"[0-9a-f]+")),
        StreamSpec("articles", "article", RestStream("/articles", PAGES, ("data",)), ARTICLE,
                   description="Help Center articles", list_ids=True, complete=TEAMMATES,
                   readers=lambda r: everyone(r) if r.get("state") == "published" else kept_readers(r),
                   readers_said="the workspace when published (the public Help Center), every teammate while a draft",
                   fetch=FetchById("/articles/{id}", pattern=r"\d+")),
    )
