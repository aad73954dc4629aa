"""Freshdesk under /freshdesk/<domain>/api/v2 (what connectors/freshdesk.py reads): one helpdesk,
``acme`` (another domain answers 404, as a helpdesk Freshdesk does not have).

Six agents (Ada, the key's owner, and Emeka read every ticket; Bruno and Fatima the Billing group's,
Chiara the Technical group's -- and Fatima both; Dev only tickets assigned to him), three groups,
``2 * scale`` contacts, ``2 * scale`` tickets (every fifth without a group, every third unassigned)
and ``4 * scale`` conversations on the first tickets. Edit, add or delete through
``/_sandbox/collections/freshdesk/<agents|contacts|tickets|conversations>/<n>``: a new or edited
conversation moves its ticket's ``updated_at``, as Freshdesk does; ``{"deleted": true}`` trashes a
ticket or soft-deletes a contact (they leave the lists; ``GET`` by id still answers, saying so),
``{"spam": true}`` marks a ticket spam; deleting the record purges it (404).

As Freshdesk answers: ``page``/``per_page`` (default 30, at most 100) with a ``Link: <...>;
rel="next"`` header while more follow; the ticket list stops at page 300 and, without
``updated_since``, lists only tickets created in the last 30 days; ``order_by`` (created_at,
updated_at, due_by, status) and ``order_type`` (desc by default); ``include=description`` adds the
description. ``updated_since`` and contacts' ``_updated_since`` are inclusive. Keys are HTTP Basic
usernames (password ``X``); validation errors are ``{"description": "Validation failed",
"errors": [{"field", "message", "code"}]}``, others ``{"code", "message"}`` (401
``invalid_credentials``, 403 ``access_denied``), a missing record a 404 without a body. Every
answer carries ``X-RateLimit-Total``, ``-Remaining`` and ``-Used-CurrentRequest``; a 429 carries
``Retry-After``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Response, request

from ..kit import Emulation, Seeded, link_pages, touched
from ..seed import iso
from . import json_response, state

DOMAIN = "acme"
API = "/<domain>/api/v2"
AGENTS = (("Ada Okafor", "ada", 1, ()), ("Bruno Silva", "bruno", 2, (101,)), ("Chiara Rossi", "chiara", 2, (102,)),
          ("Dev Patel", "dev", 3, ()), ("Emeka Obi", "emeka", 1, ()), ("Fatima Zahra", "fatima", 2, (101, 102)))
GROUPS = (101, 102, 103)        # Billing, Technical, Sales
FIRST_NAMES = ("Lena", "Omar", "Priya", "Tomas", "Yuki", "Zara", "Kofi", "Marta", "Noah", "Sofia")
LAST_NAMES = ("Berg", "Haddad", "Iyer", "Novak", "Tanaka", "Ali", "Mensah", "Costa", "Meyer", "Rossi")
PROBLEMS = ("cannot sign in", "was charged twice", "export stuck at 99%", "webhook not firing", "invoice missing",
            "API returns 500", "wants a refund", "SSO setup question", "slow dashboard", "password reset loop")
REPLIES = ("Thanks, we are looking into it.", "Could you send a screenshot?", "That fixed it, thank you!",
           "Escalated to the billing team.", "We refunded the duplicate charge.", "Still happening this morning.")
MAX_PER_PAGE, MAX_PAGE, RECENT = 100, 300, 30 * 86400
ORDER_BY = ("created_at", "updated_at", "due_by", "status")


class Freshdesk(Emulation):
    name, prefix = "freshdesk", "/freshdesk"
    keys, key_scheme = ("sandbox-freshdesk-key",), "basic"
    auth_failure = (401, "You have to be logged in to perform this action.")
    limits = {None: (200, 60)}          # the Growth plan, per minute
    rate_header_names = ("x-ratelimit-total", "x-ratelimit-remaining", "x-ratelimit-used-currentrequest")
    collections = {
        "agents": Seeded(lambda rnd, i: {"person": i % len(AGENTS)}, lambda scale: len(AGENTS)),
        "contacts": Seeded(lambda rnd, i: {
            "name": f"{FIRST_NAMES[i % 10]} {LAST_NAMES[(i // 10 + i) % 10]}",
            "email": f"{FIRST_NAMES[i % 10].lower()}.{LAST_NAMES[(i // 10 + i) % 10].lower()}{i}@customer.example",
            "job_title": rnd.choice(("CTO", "Office manager", "Developer", "Accountant")),
            "company_id": rnd.choice((None, 7001, 7002)), "deleted": False}, lambda scale: 2 * scale),
        "tickets": Seeded(lambda rnd, i: {
            "subject": f"Customer {rnd.choice(PROBLEMS)}", "body": f"Hello, our account {rnd.choice(PROBLEMS)}.",
            "status": rnd.choice((2, 3, 4, 5)), "priority": rnd.choice((1, 2, 3, 4)),
            "group": None if i % 5 == 4 else GROUPS[i % 3],
            "responder": None if i % 3 == 2 else (i * 7) % len(AGENTS) + 1,
            "requester": i + 1, "tags": rnd.sample(("billing", "login", "api", "vip"), rnd.randrange(3)),
            "deleted": False, "spam": False}, lambda scale: 2 * scale),
        "conversations": Seeded(lambda rnd, i: {
            "ticket": str(1 + (i // 2) % 30), "body": rnd.choice(REPLIES), "incoming": i % 2 == 0,
            "private": i % 7 == 6, "agent": (i % len(AGENTS)) + 1}, lambda scale: 4 * scale),
    }

    def error_body(self, status, message, code=None):
        if status == 400:
            return {"description": "Validation failed",
                    "errors": [{"field": code or "", "message": message, "code": "invalid_value"}]}
        return {"code": code or {401: "invalid_credentials", 403: "access_denied",
                                 429: "too_many_requests"}.get(status, "error"), "message": message}

    def not_found(self) -> Response:
        return Response(status=404)

    def rate_headers(self, response, info, now):
        total, remaining, used = self.rate_header_names
        response.headers[total] = str(info.limit)
        response.headers[remaining] = str(info.remaining)
        response.headers[used] = "1"


PROVIDER = Freshdesk()
bp = PROVIDER.bp


def invalid(field: str, message: str):
    PROVIDER.fail(400, message, field)


def helpdesk(domain: str) -> None:
    if domain != DOMAIN:
        PROVIDER.fail(404, f"There is no helpdesk at {domain}.freshdesk.com.", "account_not_found")


# -- JSON as Freshdesk writes it --------------------------------------------------------------------

def agent_json(r: dict) -> dict:
    name, login, scope, groups = AGENTS[r["person"]]
    return {"available": True, "occasional": False, "id": int(r["id"]), "ticket_scope": scope,
            "signature": f"<div>{name}</div>", "group_ids": list(groups), "role_ids": [1], "skill_ids": [],
            "available_since": None, "type": "support_agent", "focus_mode": True,
            "created_at": iso(r["created"]), "updated_at": iso(r["updated"]), "last_active_at": iso(r["updated"]),
            "contact": {"active": True, "email": f"{login}@acme-sandbox.example", "job_title": "Support",
                        "language": "en", "last_login_at": iso(r["updated"]), "mobile": None, "name": name,
                        "phone": None, "time_zone": "Eastern Time (US & Canada)", "created_at": iso(r["created"]),
                        "updated_at": iso(r["updated"])}}


def contact_json(r: dict, single: bool = False) -> dict:
    body = {"active": True, "address": None, "company_id": r["company_id"], "description": None, "email": r["email"],
            "id": int(r["id"]), "job_title": r["job_title"], "language": "en", "mobile": None, "name": r["name"],
            "phone": None, "time_zone": "Eastern Time (US & Canada)", "twitter_id": None, "custom_fields": {},
            "facebook_id": None, "created_at": iso(r["created"]), "updated_at": iso(r["updated"]),
            "csat_rating": 103, "preferred_source": "email", "unique_external_id": None}
    return {**body, "deleted": r["deleted"]} if single else body


def threads() -> dict[str, list[dict]]:
    """Every ticket's conversations, oldest first (read once per request), each after its
    ticket's creation."""
    return PROVIDER.children("conversations", "ticket", "tickets", after=(3600, 48))


def ticket_json(r: dict, by_ticket: dict, *, description: bool, single: bool = False) -> dict:
    body = {"cc_emails": [], "fwd_emails": [], "reply_cc_emails": [], "ticket_cc_emails": [], "fr_escalated": False,
            "spam": r["spam"], "email_config_id": None, "group_id": r["group"], "priority": r["priority"],
            "requester_id": int(r["requester"]), "responder_id": r["responder"], "source": 1, "company_id": None,
            "status": r["status"], "subject": r["subject"], "association_type": None, "to_emails": None,
            "product_id": None, "id": int(r["id"]), "type": "Question", "due_by": iso(r["created"] + 3 * 86400),
            "fr_due_by": iso(r["created"] + 86400), "is_escalated": False, "custom_fields": {},
            "created_at": iso(r["created"]), "updated_at": iso(touched(r, by_ticket.get(r["id"], ()))),
            "associated_tickets_count": None, "tags": list(r["tags"]), "nr_due_by": None, "nr_escalated": False}
    if description or single:
        body.update(description=f"<div>{r['body']}</div>", description_text=r["body"])
    if single:
        body["deleted"] = r["deleted"]
    return body


def conversation_json(c: dict, ticket: dict) -> dict:
    name, login, _, _ = AGENTS[(int(c["agent"]) - 1) % len(AGENTS)]
    return {"body": f"<div>{c['body']}</div>", "body_text": c["body"], "id": int(c["id"]), "incoming": c["incoming"],
            "private": c["private"], "user_id": int(ticket["requester"]) if c["incoming"] else int(c["agent"]),
            "support_email": None if c["incoming"] else "support@acme-sandbox.example",
            "source": 2 if c["private"] else 0,
            "category": 2, "to_emails": [], "from_email": None, "cc_emails": [], "bcc_emails": None,
            "created_at": iso(c["created"]), "updated_at": iso(c["updated"]), "attachments": [],
            "ticket_id": int(ticket["id"]), "source_additional_info": None}


# -- paging and filters ------------------------------------------------------------------------------

def paged(rows: list, *, max_page: int | None = None) -> Response:
    return link_pages(rows, 30, MAX_PER_PAGE, refuse=refused, max_page=max_page)[0]


def refused(name: str, limit: int):
    invalid(name, f"It should be a Positive Integer less than or equal to {limit}" if name == "per_page" else
            f"You can only request up to {limit} pages")


def since_arg(name: str) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        invalid(name, "It should be in the 'valid date' format")
    return iso(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


# -- the API ---------------------------------------------------------------------------------------------

@PROVIDER.get(f"{API}/agents/me")
def me(principal, domain):
    helpdesk(domain)
    return json_response(agent_json(PROVIDER.found("agents", "1", None)))


@PROVIDER.get(f"{API}/agents")
def agents(principal, domain):
    helpdesk(domain)
    rows = sorted(PROVIDER.collection("agents").rows.values(), key=lambda r: int(r["id"]))
    return paged([agent_json(r) for r in rows])


PROVIDER.show(f"{API}/agents/<record_id>", "agents", agent_json, check=helpdesk)


@PROVIDER.get(f"{API}/contacts")
def contacts(principal, domain):
    helpdesk(domain)
    since = since_arg("_updated_since")
    state_filter = request.args.get("state")
    rows = [r for r in PROVIDER.collection("contacts").rows.values()
            if r["deleted"] == (state_filter == "deleted") and (since is None or iso(r["updated"]) >= since)]
    rows.sort(key=lambda r: r["name"])        # Freshdesk promises no order; by name here
    return paged([contact_json(r) for r in rows])


PROVIDER.show(f"{API}/contacts/<record_id>", "contacts", lambda r: contact_json(r, single=True), check=helpdesk)


@PROVIDER.get(f"{API}/tickets")
def tickets(principal, domain):
    helpdesk(domain)
    since, which = since_arg("updated_since"), request.args.get("filter")
    order_by = request.args.get("order_by", "created_at")
    if order_by not in ORDER_BY:
        invalid("order_by", f"It should be one of these values: '{','.join(ORDER_BY)}'")
    found, by_ticket = [], threads()
    now = state().now()
    for r in PROVIDER.collection("tickets").rows.values():
        if (which == "deleted") != r["deleted"] or (which == "spam") != (r["spam"] and not r["deleted"]):
            continue
        updated = touched(r, by_ticket.get(r["id"], ()))
        if since is not None and iso(updated) < since:
            continue
        if since is None and which is None and r["created"] < now - RECENT:
            continue            # without updated_since: only tickets created in the last 30 days
        found.append((updated, r))
    sort = {"created_at": lambda p: (p[1]["created"], int(p[1]["id"])),
            "updated_at": lambda p: (p[0], int(p[1]["id"])),
            "due_by": lambda p: (p[1]["created"], int(p[1]["id"])),
            "status": lambda p: (p[1]["status"], int(p[1]["id"]))}[order_by]
    found.sort(key=sort, reverse=request.args.get("order_type", "desc") != "asc")
    description = "description" in (request.args.get("include") or "").split(",")
    return paged([ticket_json(r, by_ticket, description=description) for _, r in found], max_page=MAX_PAGE)


PROVIDER.show(f"{API}/tickets/<record_id>", "tickets", check=helpdesk,
              shape=lambda r: ticket_json(r, threads(), description=True, single=True))


@PROVIDER.get(f"{API}/tickets/<ticket_id>/conversations")
def conversations(principal, domain, ticket_id):
    helpdesk(domain)
    parent = PROVIDER.found("tickets", ticket_id, None)
    return paged([conversation_json(c, parent) for c in threads().get(parent["id"], [])])
