"""Intercom under /intercom (what connectors/intercom.py reads): the consent page (``/intercom/oauth``), the token
endpoint (``/intercom/api/auth/eagle/token``: tokens never expire, no refresh) and REST API 2.11 under /intercom/api.
Workspace ``Acme`` (app ``ws7acme``): five teammates (Ada authorizes), ``2 * scale`` contacts (users and leads),
``2 * scale`` conversations with ``4 * scale`` parts (comments, notes, assignments) on the first ones, ``scale`` Help
Center articles (every fourth a draft), edited, added or deleted through ``/_sandbox/collections/intercom/<contacts|
conversations|parts|articles>/<n>`` (a new or edited part moves its conversation's ``updated_at``, as Intercom does).

As Intercom answers: ``POST /conversations/search`` and ``/contacts/search`` take a ``query`` (``{"field",
"operator", "value"}`` or ``{"operator": "AND"|"OR", "value": [...]}``; ``updated_at``/``created_at`` with ``>``,
``<``, ``=``), ``sort`` and ``pagination`` (``per_page`` up to 150, ``starting_after``: ``pages.next`` gives it);
``GET /articles`` pages by ``page``/``per_page``. Errors: ``{"type": "error.list", "request_id", "errors": [{"code",
"message"}]}`` (a bad token: 401 ``unauthorized`` "Access Token Invalid"); every answer carries ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset`` (epoch seconds).
"""
from __future__ import annotations

import uuid

from flask import request

from ..kit import Emulation, OAuthDialect, Seeded, page_by_cursor, page_by_number, page_by_offset, touched
from . import int_arg, json_response, root_url

APP = {"type": "app", "id_code": "ws7acme", "name": "Acme", "created_at": 1672531200, "identity_verification": False,
       "timezone": "Europe/Dublin", "region": "US"}
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


def admin_json(i: int, listed: bool = False) -> dict:
    """Teammate ``i``; as ``GET /admins`` lists it (``listed``): no ``email_verified``, its avatar's URL only."""
    name, login = ADMINS[i]
    avatar = {"type": "avatar", "image_url": f"https://static.intercomassets.com/avatars/{login}.png"}
    return {"type": "admin", "id": str(991267000 + i), "name": name, "email": f"{login}@acme-sandbox.example",
            **({} if listed else {"email_verified": True}), "job_title": "Support", "away_mode_enabled": False,
            "away_mode_reassign": False, "has_inbox_seat": True, "team_ids": [8000 + i % 2],
            "avatar": {"image_url": avatar["image_url"]} if listed else avatar}


def contact_id(r: dict) -> str:
    return f"{0x6500000000000000000000 + int(r['id']):024x}"


def contact_json(r: dict) -> dict:
    link = f"/contacts/{contact_id(r)}"
    return {"type": "contact", "id": contact_id(r), "workspace_id": APP["id_code"], "external_id": None,
            "role": r["role"], "email": r["email"], "email_domain": "customer.example", "phone": None,
            "name": r["name"], "owner_id": None, "has_hard_bounced": False, "marked_email_as_spam": False,
            "unsubscribed_from_emails": False, "created_at": r["created"], "updated_at": r["updated"],
            "signed_up_at": r["created"] if r["role"] == "user" else None, "last_seen_at": r["updated"],
            **dict.fromkeys(("last_replied_at", "last_contacted_at", "last_email_opened_at", "last_email_clicked_at",
                             "language_override", "browser", "browser_version", "browser_language", "os")),
            **{f"{app}_{what}": None for app in ("android", "ios") for what in (
                "app_name", "app_version", "device", "os_version", "sdk_version", "last_seen_at")},
            "custom_attributes": {}, "avatar": None,
            **{kind: {"data": [], "url": f"{link}/{kind}", "total_count": 0, "has_more": False}
               for kind in ("tags", "notes", "companies")},
            "location": {"type": "location", "country": None, "region": None, "city": None},
            "social_profiles": {"data": []}}


def threads() -> dict[str, list[dict]]:
    """Every conversation's parts, oldest first, each at least half an hour after the conversation's start."""
    return PROVIDER.children("parts", "conversation", "conversations", after=(1800, 24))


def conversation_json(r: dict, parts: list[dict], *, with_parts: bool) -> dict:
    customer = PROVIDER.collection("contacts").get(r["contact"]) or {}
    contact = {"type": "user", "id": contact_id(customer) if customer else "0", "name": customer.get("name"),
               "email": customer.get("email", "")}
    teammate = admin_json(r["assignee"])["id"] if r["assignee"] is not None else None
    body = {"type": "conversation", "id": str(r["id"]), "title": None, "created_at": r["created"],
            "updated_at": touched(r, parts), "waiting_since": None, "snoozed_until": None,
            "open": r["state"] != "closed", "state": r["state"], "read": True, "priority": "not_priority",
            "admin_assignee_id": int(teammate) if teammate else None, "team_assignee_id": None,
            "tags": {"type": "tag.list", "tags": []}, "conversation_rating": None,
            "source": {"type": "conversation", "id": f"40{r['id']}", "delivered_as": "customer_initiated",
                       "subject": "", "body": r["ask"], "author": contact, "attachments": [], "url": None,
                       "redacted": False},
            "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact["id"]}]},
            "teammates": {"type": "admin.list", "admins": [{"type": "admin", "id": teammate}] if teammate else []},
            "custom_attributes": {}, "first_contact_reply": {"created_at": r["created"], "type": "conversation",
                                                               "url": None},
            "sla_applied": None, "statistics": None,
            "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
            "ai_agent_participated": False}
    if with_parts:
        html = request.args.get("display_as") != "plaintext"
        body["conversation_parts"] = {"type": "conversation_part.list", "total_count": len(parts),
                                      "conversation_parts": [part_json(p, html) for p in parts]}
        body["source"]["body"] = f"<p>{r['ask']}</p>" if html else r["ask"]
    return body


def part_json(p: dict, html: bool) -> dict:
    admin, said = admin_json(p["admin"]), None if p["kind"] == "assignment" else p["body"]
    return {"type": "conversation_part", "id": str(p["id"]), "part_type": p["kind"],
            "body": (f"<p>{said}</p>" if said else None) if html else said, "created_at": p["created"],
            "updated_at": p["updated"], "notified_at": p["created"],
            "assigned_to": {"type": "admin", "id": admin["id"]} if p["kind"] == "assignment" else None,
            "author": {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]},
            "attachments": [], "external_id": None, "redacted": False}


def article_json(r: dict) -> dict:
    return {"type": "article", "id": str(r["id"]), "workspace_id": APP["id_code"], "title": r["title"],
            "description": f"All about {r['title'].split(' (')[0].lower()}.", "body": r["body"],
            "author_id": int(admin_json(r["author"])["id"]), "state": r["state"], "created_at": r["created"],
            "updated_at": r["updated"],
            "url": f"https://intercom.help/acme/en/articles/{r['id']}" if r["state"] == "published" else None,
            "parent_id": None, "parent_ids": [], "parent_type": None, "default_locale": "en"}


OPERATORS = {">": lambda a, b: a > b, "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}


def matches(query: dict, record: dict) -> bool:
    if query.get("operator") in ("AND", "OR"):
        return (all if query["operator"] == "AND" else any)([matches(q, record) for q in query.get("value") or []])
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
    sort = body.get("sort") or {"field": "created_at", "order": "descending"}
    key = lambda r: (r.get(sort.get("field")) or 0, r["id"])  # noqa: E731
    found = sorted((r for r in rows if matches(body["query"], r)), key=key)
    if sort.get("order") == "ascending":        # a keyset: a record changed mid-read shifts nothing unread
        chunk, cursor = page_by_cursor(found, pagination.get("starting_after"), per_page, key=key)
    else:                                       # newest first: an offset
        after = pagination.get("starting_after")
        chunk, start = page_by_offset(found[::-1], int(after) if after and after.isdigit() else 0, per_page)
        cursor = None if start is None else str(start)
    more = {"next": {"per_page": per_page, "starting_after": cursor}} if cursor else {}
    pages = {"type": "pages", "page": 1, "per_page": per_page, "total_pages": -(-len(found) // per_page), **more}
    return {"type": "conversation.list" if records == "conversations" else "list", records: chunk,
            "total_count": len(found), "pages": pages}


# -- the API ---------------------------------------------------------------------------------------------

@PROVIDER.get(f"{API}/me")
def me(principal):
    return json_response({**admin_json(0), "app": APP})


@PROVIDER.get(f"{API}/admins")
def admins(principal):
    return json_response({"type": "admin.list", "admins": [admin_json(i, listed=True) for i in range(len(ADMINS))]})


@PROVIDER.post(f"{API}/<any(contacts, conversations):kind>/search")
def search(principal, kind):
    if kind == "contacts":
        return json_response(searched([contact_json(r) for r in PROVIDER.collection("contacts").rows.values()], "data"))
    by_conversation = threads()
    rows = [conversation_json(r, by_conversation.get(r["id"], []), with_parts=False)
            for r in PROVIDER.collection("conversations").rows.values()]
    return json_response(searched(rows, "conversations"))


@PROVIDER.get(f"{API}/contacts/<contact>")
def contact(principal, contact):
    found = next((r for r in PROVIDER.collection("contacts").rows.values() if contact_id(r) == contact), None)
    if found is None:
        PROVIDER.fail(404, "User Not Found", "not_found")
    return json_response(contact_json(found))


PROVIDER.show(f"{API}/conversations/<record_id>", "conversations", message="Conversation not found",
              code="conversation_not_found",
              shape=lambda r: conversation_json(r, threads().get(r["id"], []), with_parts=True))


@PROVIDER.get(f"{API}/articles")
def articles(principal):
    rows = sorted(PROVIDER.collection("articles").rows.values(), key=lambda r: int(r["id"]))
    per_page = int_arg("per_page", 50, minimum=1, maximum=MAX_PER_PAGE)
    number = int_arg("page", 1, minimum=1)
    chunk, more, total = page_by_number(rows, number, per_page)
    after = {"next": f"{root_url()}/intercom/api/articles?page={number + 1}&per_page={per_page}"} if more else {}
    pages = {"type": "pages", "page": number, "per_page": per_page, "total_pages": total, **after}
    return json_response({"type": "list", "pages": pages, "total_count": len(rows),
                          "data": [article_json(r) for r in chunk]})


PROVIDER.show(f"{API}/articles/<record_id>", "articles", article_json, message="Article not found", code="not_found")

