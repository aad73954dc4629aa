"""Intercom under /intercom: the app's consent page (``/intercom/oauth``), the token endpoint
(``/intercom/api/auth/eagle/token``) and REST API 2.11 under /intercom/api (what
connectors/intercom.py reads).

Workspace ``Acme`` (app ``ws7acme``): five teammates (Ada, who authorizes, and four more), ``2 * scale``
contacts (users and leads), ``2 * scale`` conversations with ``4 * scale`` parts (comments, notes and
assignments) on the first ones, and ``scale`` Help Center articles (every fourth a draft). Edit, add
or delete through ``/_sandbox/collections/intercom/<contacts|conversations|parts|articles>/<n>``: a
new or edited part moves its conversation's ``updated_at``, as Intercom does.

As Intercom answers: search is ``POST /conversations/search`` and ``/contacts/search`` with a
``query`` (one ``{"field", "operator", "value"}`` or ``{"operator": "AND"|"OR", "value": [...]}``;
``updated_at``/``created_at`` with ``>``, ``<``, ``=``), ``sort`` and ``pagination`` (``per_page`` up to
150, ``starting_after``) in the body, and ``pages.next.starting_after`` in the answer; ``GET
/articles`` pages by ``page``/``per_page``. Errors are ``{"type": "error.list", "request_id", "errors":
[{"code", "message"}]}``; an unknown or revoked token is 401 ``unauthorized`` "Access Token Invalid".
Every answer carries ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (epoch seconds). Tokens do
not expire and come without a refresh token.
"""
from __future__ import annotations

import uuid

from flask import request

from ..kit import Emulation, OAuthDialect, Seeded, page_by_cursor, page_by_number
from . import int_arg, json_response, root_url

APP = ("ws7acme", "Acme")
ADMINS = (("Ada Okafor", "ada"), ("Bruno Silva", "bruno"), ("Chiara Rossi", "chiara"), ("Dev Patel", "dev"),
          ("Emeka Obi", "emeka"))
FIRST, LAST = ("Lena", "Omar", "Priya", "Tomas", "Yuki", "Zara"), ("Berg", "Haddad", "Iyer", "Novak", "Tanaka")
ASKS = ("How do I export my data?", "My invoice shows the wrong VAT number", "Can I add a second workspace?",
        "The mobile app logs me out", "Is there an API for webhooks?", "We were charged twice this month")
REPLIES = ("Thanks for reaching out! Let me check.", "You can find it under Settings > Export.",
           "I have refunded the duplicate charge.", "Could you share a screenshot?", "That worked, thank you!")
TOPICS = ("Exporting your data", "Billing and invoices", "Using the API", "Single sign-on", "Mobile apps")
MAX_PER_PAGE = 150


class IntercomDialect(OAuthDialect):
    provider, display_name, prefix, token_type = "intercom", "Intercom", "dG9rOi", "Bearer"
    sandbox_login, sandbox_name, refresh_tokens = f"{ADMINS[0][1]}@acme-sandbox.example", ADMINS[0][0], False

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        # Intercom's: no expiry, no refresh token; the token twice (``token`` is the older name).
        return {"token_type": "Bearer", "token": issued.access.value, "access_token": issued.access.value}


class Intercom(Emulation):
    name, prefix = "intercom", "/intercom"
    dialect = IntercomDialect()
    token_ttl = 10 * 365 * 86400        # Intercom's tokens do not expire
    auth_failure = (401, "Access Token Invalid")
    limits = {None: (10000, 60)}
    collections = {
        "contacts": Seeded(lambda rnd, i: {"name": f"{FIRST[i % 6]} {LAST[(i // 6) % 5]}",
                                           "email": f"{FIRST[i % 6].lower()}{i}@customer.example",
                                           "role": "user" if i % 3 else "lead"}, lambda scale: 2 * scale),
        "conversations": Seeded(lambda rnd, i: {"contact": str(i % 40 + 1), "ask": rnd.choice(ASKS),
                                                "assignee": i % len(ADMINS) if i % 4 else None,
                                                "state": rnd.choice(("open", "closed", "snoozed"))},
                                lambda scale: 2 * scale),
        "parts": Seeded(lambda rnd, i: {"conversation": str(1 + (i // 2) % 30), "body": rnd.choice(REPLIES),
                                        "kind": ("comment", "note", "comment", "assignment")[i % 4],
                                        "admin": i % len(ADMINS)}, lambda scale: 4 * scale),
        "articles": Seeded(lambda rnd, i: {"title": f"{TOPICS[i % 5]} ({i + 1})",
                                           "body": f"<p>{rnd.choice(REPLIES)} {TOPICS[i % 5]} step by step.</p>",
                                           "state": "draft" if i % 4 == 3 else "published",
                                           "author": i % len(ADMINS)}, lambda scale: scale),
    }

    def error_body(self, status, message, code=None):
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limit_exceeded",
                 400: "parameter_invalid", 500: "server_error"}
        return {"type": "error.list", "request_id": uuid.uuid4().hex[:20],
                "errors": [{"code": code or codes.get(status, "error"), "message": message}]}

    def not_found(self):
        return self.error(404, "Resource Not Found")


PROVIDER = Intercom()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/oauth", "/api/auth/eagle/token")
API = "/api"


# -- JSON as Intercom writes it -------------------------------------------------------------------

def admin_json(i: int) -> dict:
    name, login = ADMINS[i]
    return {"type": "admin", "id": str(991267000 + i), "name": name, "email": f"{login}@acme-sandbox.example",
            "email_verified": True, "job_title": "Support", "away_mode_enabled": False,
            "away_mode_reassign": False, "has_inbox_seat": True, "team_ids": [8000 + i % 2],
            "avatar": {"type": "avatar", "image_url": f"https://static.intercomassets.com/avatars/{login}.png"}}


def contact_id(r: dict) -> str:
    return f"{0x6500000000000000000000 + int(r['id']):024x}"


def contact_json(r: dict) -> dict:
    link = f"/contacts/{contact_id(r)}"
    return {"type": "contact", "id": contact_id(r), "workspace_id": APP[0], "external_id": None, "role": r["role"],
            "email": r["email"], "email_domain": "customer.example", "phone": None,
            "name": r["name"], "owner_id": None, "has_hard_bounced": False, "marked_email_as_spam": False,
            "unsubscribed_from_emails": False, "created_at": r["created"], "updated_at": r["updated"],
            "signed_up_at": r["created"] if r["role"] == "user" else None, "last_seen_at": r["updated"],
            **dict.fromkeys(("last_replied_at", "last_contacted_at", "last_email_opened_at", "last_email_clicked_at",
                             "language_override", "browser", "browser_version", "browser_language", "os")),
            **{f"{app}_{what}": None for app in ("android", "ios") for what in (
                "app_name", "app_version", "device", "os_version", "sdk_version", "last_seen_at")},
            "custom_attributes": {},
            "avatar": None, "tags": {"data": [], "url": f"{link}/tags", "total_count": 0, "has_more": False},
            "notes": {"data": [], "url": f"{link}/notes", "total_count": 0, "has_more": False},
            "companies": {"data": [], "url": f"{link}/companies", "total_count": 0, "has_more": False},
            "location": {"type": "location", "country": None, "region": None, "city": None},
            "social_profiles": {"data": []}}


def parts_of(conversation: dict) -> list[dict]:
    """A conversation's parts, oldest first; a seeded part's times moved after the conversation's
    start where the seed put them before."""
    rows = []
    for p in PROVIDER.collection("parts").rows.values():
        if p["conversation"] == conversation["id"]:
            created = max(p["created"], conversation["created"] + 1800 * (int(p["id"]) % 24 + 1))
            rows.append({**p, "created": created, "updated": max(p["updated"], created)})
    return sorted(rows, key=lambda p: (p["created"], int(p["id"])))


def touched(r: dict, parts: list[dict]) -> int:
    return max([r["updated"]] + [p["updated"] for p in parts])


def author_of_contact(r: dict) -> dict:
    contact = PROVIDER.collection("contacts").get(r["contact"])
    return {"type": "user", "id": contact_id(contact) if contact else "0", "name": contact["name"] if contact else None,
            "email": contact["email"] if contact else ""}


def conversation_json(r: dict, parts: list[dict], *, with_parts: bool) -> dict:
    assignee = r["assignee"]
    contact = author_of_contact(r)
    body = {"type": "conversation", "id": str(r["id"]), "title": None, "created_at": r["created"],
            "updated_at": touched(r, parts), "waiting_since": None, "snoozed_until": None,
            "open": r["state"] != "closed",
            "state": r["state"], "read": True, "priority": "not_priority",
            "admin_assignee_id": int(admin_json(assignee)["id"]) if assignee is not None else None,
            "team_assignee_id": None, "tags": {"type": "tag.list", "tags": []},
            "conversation_rating": None,
            "source": {"type": "conversation", "id": f"40{r['id']}", "delivered_as": "customer_initiated",
                       "subject": "", "body": r["ask"], "author": contact, "attachments": [],
                       "url": None, "redacted": False},
            "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact["id"]}]},
            "teammates": {"type": "admin.list", "admins": [{"type": "admin", "id": admin_json(assignee)["id"]}]
                          if assignee is not None else []},
            "custom_attributes": {}, "first_contact_reply": {"created_at": r["created"], "type": "conversation",
                                                               "url": None},
            "sla_applied": None, "statistics": None, "linked_objects": {"type": "list", "data": [], "total_count": 0,
                                                                          "has_more": False},
            "ai_agent_participated": False}
    if with_parts:
        body["conversation_parts"] = {"type": "conversation_part.list", "total_count": len(parts),
                                      "conversation_parts": [part_json(p) for p in parts]}
    return body


def part_json(p: dict) -> dict:
    admin = admin_json(p["admin"])
    return {"type": "conversation_part", "id": str(p["id"]), "part_type": p["kind"],
            "body": None if p["kind"] == "assignment" else p["body"], "created_at": p["created"],
            "updated_at": p["updated"], "notified_at": p["created"],
            "assigned_to": {"type": "admin", "id": admin["id"]} if p["kind"] == "assignment" else None,
            "author": {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]},
            "attachments": [], "external_id": None, "redacted": False}


def article_json(r: dict) -> dict:
    return {"type": "article", "id": str(r["id"]), "workspace_id": APP[0], "title": r["title"],
            "description": f"All about {r['title'].split(' (')[0].lower()}.", "body": r["body"],
            "author_id": int(admin_json(r["author"])["id"]), "state": r["state"], "created_at": r["created"],
            "updated_at": r["updated"],
            "url": f"https://intercom.help/acme/en/articles/{r['id']}" if r["state"] == "published" else None,
            "parent_id": None, "parent_ids": [], "parent_type": None, "default_locale": "en"}


# -- search ------------------------------------------------------------------------------------------

OPERATORS = {">": lambda a, b: a > b, "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}


def matches(query: dict, record: dict) -> bool:
    if query.get("operator") in ("AND", "OR"):
        found = [matches(q, record) for q in query.get("value") or []]
        return all(found) if query["operator"] == "AND" else any(found)
    field, operator = query.get("field"), query.get("operator")
    if field not in record or operator not in OPERATORS:
        PROVIDER.fail(400, f"Field {field!r} with operator {operator!r} is not supported", "parameter_invalid")
    return OPERATORS[operator](record[field], query.get("value"))


def searched(rows: list[dict], records: str):
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("query"), dict):
        PROVIDER.fail(400, "query is required", "parameter_not_found")
    pagination = body.get("pagination") or {}
    per_page = min(max(int(pagination.get("per_page") or 50), 1), MAX_PER_PAGE)
    found = [r for r in rows if matches(body["query"], r)]
    sort = body.get("sort") or {"field": "created_at", "order": "descending"}
    key = lambda r: (r.get(sort.get("field")) or 0, r["id"])  # noqa: E731
    found.sort(key=key)
    if sort.get("order") == "ascending":        # a keyset: a record changed mid-read shifts nothing unread
        chunk, cursor = page_by_cursor(found, pagination.get("starting_after"), per_page, key=key)
    else:
        chunk, cursor = _descending(found[::-1], pagination.get("starting_after"), per_page)
    total = -(-len(found) // per_page) if found else 0
    pages = {"type": "pages", "page": 1, "per_page": per_page, "total_pages": total}
    if cursor:
        pages["next"] = {"per_page": per_page, "starting_after": cursor}
    return {"type": "conversation.list" if records == "conversations" else "list", records: chunk,
            "total_count": len(found), "pages": pages}


def _descending(found, after, per_page):
    start = int(after) if after and after.isdigit() else 0
    chunk = found[start:start + per_page]
    return chunk, (str(start + per_page) if start + per_page < len(found) else None)


# -- the API ---------------------------------------------------------------------------------------------

@PROVIDER.get(f"{API}/me")
def me(principal):
    return json_response({**admin_json(0), "app": {
        "type": "app", "id_code": APP[0], "name": APP[1], "created_at": 1672531200,
        "identity_verification": False, "timezone": "Europe/Dublin", "region": "US"}})


@PROVIDER.get(f"{API}/admins")
def admins(principal):
    listed = []
    for i in range(len(ADMINS)):        # a listed admin: its avatar's URL only, no email_verified (Admin)
        admin = {k: v for k, v in admin_json(i).items() if k != "email_verified"}
        listed.append({**admin, "avatar": {"image_url": admin["avatar"]["image_url"]}})
    return json_response({"type": "admin.list", "admins": listed})


@PROVIDER.post(f"{API}/contacts/search")
def search_contacts(principal):
    rows = [contact_json(r) for r in PROVIDER.collection("contacts").rows.values()]
    return json_response(searched(rows, "data"))


@PROVIDER.get(f"{API}/contacts/<contact>")
def contact(principal, contact):
    found = next((r for r in PROVIDER.collection("contacts").rows.values() if contact_id(r) == contact), None)
    if found is None:
        PROVIDER.fail(404, "User Not Found", "not_found")
    return json_response(contact_json(found))


@PROVIDER.post(f"{API}/conversations/search")
def search_conversations(principal):
    rows = [conversation_json(r, parts_of(r), with_parts=False)
            for r in PROVIDER.collection("conversations").rows.values()]
    return json_response(searched(rows, "conversations"))


@PROVIDER.get(f"{API}/conversations/<conversation>")
def conversation(principal, conversation):
    found = PROVIDER.found("conversations", conversation, "Conversation not found", "conversation_not_found")
    parts = parts_of(found)
    body = conversation_json(found, parts, with_parts=True)
    if request.args.get("display_as") != "plaintext":
        for part in body["conversation_parts"]["conversation_parts"]:
            part["body"] = f"<p>{part['body']}</p>" if part["body"] else None
        body["source"]["body"] = f"<p>{body['source']['body']}</p>"
    return json_response(body)


@PROVIDER.get(f"{API}/articles")
def articles(principal):
    rows = sorted(PROVIDER.collection("articles").rows.values(), key=lambda r: int(r["id"]))
    per_page = int_arg("per_page", 50, minimum=1, maximum=MAX_PER_PAGE)
    number = int_arg("page", 1, minimum=1)
    chunk, more, total = page_by_number(rows, number, per_page)
    pages = {"type": "pages", "page": number, "per_page": per_page, "total_pages": total}
    if more:
        pages["next"] = f"{root_url()}/intercom/api/articles?page={number + 1}&per_page={per_page}"
    return json_response({"type": "list", "pages": pages, "total_count": len(rows),
                          "data": [article_json(r) for r in chunk]})


@PROVIDER.get(f"{API}/articles/<article>")
def article(principal, article):
    return json_response(article_json(PROVIDER.found("articles", article, "Article not found", "not_found")))

