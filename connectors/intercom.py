"""Intercom: public app OAuth; reads conversations with their parts, contacts and Help Center articles.

Intercom takes no scopes on the authorize URL: the app's permissions are chosen in the Developer
Hub. Its access tokens do not expire (the token answer has no ``expires_in`` nor a refresh token).
Workspaces hosted in the EU or Australia use https://api.eu.intercom.io or https://api.au.intercom.io
(``TRIBUTARY_INTERCOM_API_URL``). Every request names its API version (``Intercom-Version: 2.11``).

Docs: https://developers.intercom.com/docs/references/rest-api/api.intercom.io (OAuth: .../authentication/
setting-up-oauth; search pages: .../rest-apis/pagination; limits: .../errors/rate-limiting -- every answer says
``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset``, epoch seconds; past them a 429). Errors: ``{"type":
"error.list", "errors": [{"code", "message"}]}`` (401 ``unauthorized``: a token revoked or the app uninstalled).

Streams:

* ``conversations``: ``POST /conversations/search`` with ``updated_at > cursor - 1`` (Intercom has no
  ``>=``; times are whole seconds) sorted by ``updated_at`` ascending -- the kit's ``since`` keyset, the
  cursor in the body's ``pagination.starting_after`` only within one second. Search answers carry no
  parts, so each conversation is read again (``GET /conversations/{id}?display_as=plaintext``: its
  ``conversation_parts``, replies and notes among assignments and state changes). A new part moves
  the conversation's ``updated_at``. Deletion: the id listing (the same search from 0), confirmed
  with ``GET /conversations/{id}`` (404: gone).
* ``contacts``: ``POST /contacts/search`` the same way (users and leads). Deleted contacts 404.
* ``articles``: ``GET /articles`` (page numbers; no change filter: each run reads the list). Deleted
  articles 404.

Readers (the ``source`` access mode): a conversation names its assignee (``admin_assignee_id``) and
team (``team_assignee_id``; ``GET /teams`` lists their ``admin_ids``), but Intercom's teammates see
every conversation unless a seat permission restricts them to their own or their team's, and the
API does not expose those permissions (the admin object has ``team_ids`` and ``has_inbox_seat``
only). So a conversation and a contact are read by every teammate (``GET /admins``, as
``("email", ...)`` and ``("provider_user", "intercom:<admin id>")``), never by customers; a
published article by the whole workspace (it is on the public Help Center), a draft by the
teammates. (Intercom's internal articles are another API, not read here.)
"""
from __future__ import annotations

from datetime import datetime, timezone

from ._text import html_text
from .base import CatalogEntry, DocumentData, OAuthEndpoints, RateLimits
from .kit import (FetchById, Incremental, Join, RestConnector, StreamSpec, WhoAmI, everyone,
                  kept_readers, oauth_bearer, same_readers)
from .rest import PageNumberPaginator, Paginator, RestStream, dig

MAX_SEARCH_PAGE = 150       # Intercom's largest search page


class SearchPages(Paginator):
    """Intercom's search pagination: ``{"pagination": {"per_page", "starting_after"}}`` in the
    request body; the next page's ``starting_after`` at ``pages.next`` in the answer."""

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


UPDATED = Incremental.since("query", lambda record: f"{record['updated_at']:010d}",
                            format=lambda cursor: updated_after(cursor))
PAGES = PageNumberPaginator(total_pages=("pages", "total_pages"))


# -- readers -------------------------------------------------------------------------------------

def teammates(api) -> list[tuple[str, str]]:
    return api.once("intercom.admins", lambda: sorted({
        entry for a in dig(api.get("/admins"), ("admins",)) or [] if a.get("type") == "admin"
        for entry in [("provider_user", f"intercom:{a['id']}")] + ([("email", a["email"].lower())] if a.get("email")
                                                                   else [])}))


def article_readers(record: dict):
    return everyone(record) if record.get("state") == "published" else kept_readers(record)


# -- documents -----------------------------------------------------------------------------------

def who(author: dict | None) -> str:
    author = author or {}
    return author.get("name") or author.get("email") or author.get("type") or "someone"


def conversation_document(record: dict) -> DocumentData:
    detail = record.get("_detail") or record
    source = detail.get("source") or {}
    parts = [p for p in dig(detail, ("conversation_parts", "conversation_parts")) or []
             if p.get("part_type") in ("comment", "note") and p.get("body")]
    first = (source.get("body") or "").strip()
    title = source.get("subject") or (first.splitlines()[0][:80] if first else "") or f"Conversation {record['id']}"
    lines = [source.get("subject") or "", f"{who(source.get('author'))}: {first}" if first else ""]
    lines += [f"{'Note by ' if p['part_type'] == 'note' else ''}{who(p.get('author'))} "
              f"({_when(p.get('created_at'))}): {p['body']}" for p in parts]
    return DocumentData(
        external_id=str(record["id"]), title=title, type="conversation", content="\n".join(filter(None, lines)),
        author=who(source.get("author")), url=source.get("url"),
        created_at=epoch(record.get("created_at")), updated_at=epoch(record.get("updated_at")),
        metadata={"state": record.get("state"), "open": record.get("open"), "parts": len(parts),
                  "admin_assignee_id": record.get("admin_assignee_id"),
                  "team_assignee_id": record.get("team_assignee_id")})


def epoch(value) -> datetime | None:
    """Intercom's times: whole seconds since the epoch."""
    return datetime.fromtimestamp(value, timezone.utc) if isinstance(value, (int, float)) else None


def _when(value) -> str:
    moment = epoch(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def contact_document(record: dict) -> DocumentData:
    name = record.get("name") or record.get("email") or f"Contact {record['id']}"
    return DocumentData(
        external_id=str(record["id"]), title=f"{name} <{record['email']}>" if record.get("email") and record.get("name")
        else name, type="contact", content="\n".join(filter(None, [name, record.get("email"), record.get("phone"),
                                                                    f"Role: {record.get('role')}"])),
        created_at=epoch(record.get("created_at")), updated_at=epoch(record.get("updated_at")),
        metadata={"role": record.get("role"), "owner_id": record.get("owner_id")})


def article_document(record: dict) -> DocumentData:
    return DocumentData(
        external_id=str(record["id"]), title=record.get("title") or f"Article {record['id']}", type="article",
        content="\n".join(filter(None, [record.get("title"), record.get("description"),
                                        html_text(record.get("body"))])),
        url=record.get("url"), created_at=epoch(record.get("created_at")),
        updated_at=epoch(record.get("updated_at")),
        metadata={"state": record.get("state"), "parent_id": record.get("parent_id")})


class IntercomConnector(RestConnector):
    catalog = CatalogEntry(
        type="intercom", display_name="Intercom", category="support", auth_method="oauth_redirect",
        description="Customer conversations, users and leads, and Help Center articles from Intercom.",
        docs_url="https://developers.intercom.com/docs/references/rest-api/api.intercom.io",
        # 10,000 API calls per minute per app and 25,000 per workspace, enforced in 10-second windows.
        rate_limits=RateLimits(requests_per_minute=10000), base_url="https://app.intercom.com",
        api_url="https://api.intercom.io", permissions=True,
        oauth=OAuthEndpoints(authorize="https://app.intercom.com/oauth", token="https://api.intercom.io/auth/eagle/token",
                             scopes=()))
    auth = oauth_bearer()
    headers = {"Intercom-Version": "2.11", "Accept": "application/json"}
    whoami = WhoAmI("/me", id="app.id_code", handle="email", name="app.name",
                    avatar=lambda me: (me.get("avatar") or {}).get("image_url"))
    page_size = MAX_SEARCH_PAGE
    sandbox = {"base_url": "/intercom", "api_url": "/intercom/api", "authorize_url": "/intercom/oauth",
               "token_url": "/intercom/api/auth/eagle/token"}
    streams = (
        StreamSpec("conversations", "conversation", search("/conversations/search", "conversations"),
                   conversation_document, description="Conversations with their parts (messages and notes)",
                   incremental=UPDATED, list_ids=True, readers=kept_readers, complete=same_readers(teammates),
                   readers_said="every teammate (`GET /admins`): Intercom's API shows a conversation's assignee and "
                                "team, not the permissions that would keep other teammates from it",
                   fetch=FetchById("/conversations/{id}", pattern=r"\d+"),
                   joins=(Join("_detail", RestStream("/conversations/{conversation}", PAGES,
                                                     params={"display_as": "plaintext"}),
                               args=lambda record: {"conversation": record["id"]}, many=False, content=True),)),
        StreamSpec("contacts", "contact", search("/contacts/search", "data"), contact_document,
                   description="Users and leads", incremental=UPDATED, list_ids=True, readers=kept_readers,
                   readers_said="every teammate (`GET /admins`)", complete=same_readers(teammates),
                   fetch=FetchById("/contacts/{id}", pattern=r"[0-9a-f]+")),
        StreamSpec("articles", "article", RestStream("/articles", PAGES, ("data",)), article_document,
                   description="Help Center articles", list_ids=True, readers=article_readers,
                   complete=same_readers(teammates),
                   readers_said="the workspace when published (the public Help Center), every teammate while a draft",
                   fetch=FetchById("/articles/{id}", pattern=r"\d+")),
    )
