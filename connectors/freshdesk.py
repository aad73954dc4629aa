"""Freshdesk: an agent's API key, sent as the HTTP Basic username with ``X`` as the password.

The API is per helpdesk: ``https://{domain}.freshdesk.com/api/v2``. The connection names its
``domain`` when it connects (``settings.domain``: ``acme``, or ``acme.freshdesk.com``); the
deployment's ``api_url`` is the template it fills (``TRIBUTARY_FRESHDESK_API_URL``). The key is
checked with ``GET /api/v2/agents/me``.

Docs: https://developers.freshdesk.com/api/ -- tickets #list_all_tickets, conversations
#list_all_ticket_notes, contacts #list_all_contacts, agents #list_all_agents.
Pagination: ``page``/``per_page`` (at most 100) with a ``Link`` header naming the next page; the
ticket list stops at page 300 (30,000 tickets).
Rate limits: https://support.freshdesk.com/support/solutions/articles/225439 -- per helpdesk and
plan, per minute; every answer says ``X-RateLimit-Total``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Used-CurrentRequest``; past the limit a 429 with ``Retry-After`` (seconds).
Errors: ``{"description": "Validation failed", "errors": [{"field", "message", "code"}]}`` (400),
``{"code": "invalid_credentials", "message": ...}`` (401: a key revoked or its agent deleted),
``{"code": "access_denied", ...}`` (403).

Streams:

* ``tickets``: ``GET /tickets?updated_since=...&order_by=updated_at&order_type=asc&include=description``
  -- the kit's ``since`` keyset on ``updated_at``: each page asks again from the newest update it
  handed over, so the 300-page cap never ends a pass. Without ``updated_since`` Freshdesk lists
  only tickets created in the last 30 days, so a full pass sends the epoch. Each ticket carries
  its conversations (``GET /tickets/{id}/conversations``: replies and notes, private ones too --
  agents read them). A reply or note moves the ticket's ``updated_at``.
  Deletion: trashed and spam tickets leave the listing; the id listing (the same keyset, without
  conversations) and ``GET /tickets/{id}`` (``deleted``/``spam`` true, or 404) confirm them.
* ``contacts``: ``GET /contacts?_updated_since=...`` -- Freshdesk promises no order here, so an
  incremental pass reads every page of the filtered list and the next starts from when it began
  (the kit's ``window``). Deletion: the id listing, confirmed by ``GET /contacts/{id}``
  (``deleted: true`` is a soft delete; 404 once it is purged).
* ``agents``: ``GET /agents`` (no change filter: a helpdesk has few agents, each run reads them).

Readers (the ``source`` access mode): Freshdesk shows a ticket to agents by their ticket scope --
1 global (every ticket), 2 group (tickets of their groups, and those assigned to them), 3
restricted (tickets assigned to them). A ticket's readers are those agents, as
``("email", <agent e-mail>)`` and ``("provider_user", "freshdesk:<agent id>")``. Requesters
(customers) read their own tickets in Freshdesk's portal, not here. Contacts and agents are read
by every agent. The agents are listed once per run (``GET /agents``).
"""
from __future__ import annotations

import dataclasses
import re

from .base import CatalogEntry, ConnectSetting, DocumentData, RateLimits
from .errors import InvalidCredentials, ProviderNotFound, ProviderRefused
from .kit import FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, basic, person, stored_readers
from .rest import LinkHeaderPaginator, RestStream, parse_time

LINKS = LinkHeaderPaginator()
AGENTS = RestStream("/agents", LINKS)
EPOCH = "1970-01-01T00:00:00Z"          # a full pass: every ticket, not the last 30 days'
DOMAIN = re.compile(r"(?:https?://)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.freshdesk\.com)?/?", re.I)
GLOBAL, GROUP, RESTRICTED = 1, 2, 3
STATUS = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITY = {1: "low", 2: "medium", 3: "high", 4: "urgent"}


def domain_of(settings: dict) -> str:
    """The helpdesk's subdomain from what the user typed (``acme``, ``acme.freshdesk.com``, a URL)."""
    match = DOMAIN.fullmatch(str((settings or {}).get("domain") or "").strip())
    if not match:
        raise InvalidCredentials("settings.domain is your helpdesk's Freshdesk domain: acme for "
                                 "acme.freshdesk.com.", details={"field": "settings.domain"})
    return match[1].lower()


# -- readers -------------------------------------------------------------------------------------

def agents(api) -> list[dict]:
    return api.remember("agents", lambda: api.records(AGENTS))


def agent(record: dict) -> list[tuple[str, str]]:
    return person("freshdesk", record["id"], (record.get("contact") or {}).get("email"))


def sees(agent: dict, ticket: dict) -> bool:
    scope = agent.get("ticket_scope")
    assigned = ticket.get("responder_id") is not None and ticket.get("responder_id") == agent.get("id")
    if scope == GLOBAL:
        return True
    if scope == GROUP:
        return assigned or (ticket.get("group_id") is not None and ticket["group_id"] in (agent.get("group_ids") or []))
    return scope == RESTRICTED and assigned         # an unknown scope reads nothing (fail closed)


def ticket_readers(records: list, api) -> None:
    if not api.ctx.readers_wanted:
        return
    everyone = agents(api)
    for record in records:
        record["_readers"] = sorted({entry for a in everyone if sees(a, record) for entry in agent(a)})


def every_agent(records: list, api) -> None:
    if not api.ctx.readers_wanted:
        return
    entries = sorted({entry for a in agents(api) for entry in agent(a)})
    for record in records:
        record["_readers"] = entries


# -- documents -----------------------------------------------------------------------------------

def ticket_document(record: dict) -> DocumentData:
    parts = record.get("_conversations") or []
    lines = [f"#{record['id']}: {record.get('subject') or '(no subject)'}", record.get("description_text") or ""]
    lines += [f"{'Note' if p.get('private') else ('Customer' if p.get('incoming') else 'Agent')} "
              f"({p['created_at'][:16].replace('T', ' ')}): {p.get('body_text') or ''}" for p in parts]
    return DocumentData(
        external_id=str(record["id"]), title=f"#{record['id']}: {record.get('subject') or '(no subject)'}",
        type="ticket", content="\n".join(filter(None, lines)),
        created_at=parse_time(record.get("created_at")), updated_at=parse_time(record.get("updated_at")),
        metadata={"status": STATUS.get(record.get("status"), record.get("status")),
                  "priority": PRIORITY.get(record.get("priority"), record.get("priority")),
                  "group_id": record.get("group_id"), "responder_id": record.get("responder_id"),
                  "requester_id": record.get("requester_id"), "tags": record.get("tags") or [],
                  "conversations": len(parts)})


def contact_document(record: dict) -> DocumentData:
    name = record.get("name") or record.get("email") or f"Contact {record['id']}"
    lines = [name, record.get("email"), record.get("job_title"), record.get("phone"), record.get("description")]
    return DocumentData(
        external_id=str(record["id"]), title=f"{name} <{record['email']}>" if record.get("email") else name,
        type="contact", content="\n".join(filter(None, lines)),
        created_at=parse_time(record.get("created_at")), updated_at=parse_time(record.get("updated_at")),
        metadata={"company_id": record.get("company_id"), "active": record.get("active")})


def agent_document(record: dict) -> DocumentData:
    contact = record.get("contact") or {}
    name = contact.get("name") or contact.get("email") or f"Agent {record['id']}"
    scope = {GLOBAL: "global", GROUP: "group", RESTRICTED: "restricted"}.get(record.get("ticket_scope"))
    return DocumentData(
        external_id=str(record["id"]), title=name, type="agent",
        content="\n".join(filter(None, [name, contact.get("email"), contact.get("job_title"),
                                        f"Ticket scope: {scope}" if scope else None])),
        created_at=parse_time(record.get("created_at")), updated_at=parse_time(record.get("updated_at")),
        metadata={"ticket_scope": scope, "group_ids": record.get("group_ids") or [], "type": record.get("type")})


def alive(record: dict, api) -> bool:
    return not record.get("deleted") and not record.get("spam")


TICKETS = RestStream("/tickets", LINKS, params={"order_by": "updated_at", "order_type": "asc",
                                                "include": "description"})
UPDATED = Incremental.since("updated_since", "updated_at", format=lambda cursor: cursor or EPOCH)


class FreshdeskConnector(RestConnector):
    catalog = CatalogEntry(
        type="freshdesk", display_name="Freshdesk", category="support", auth_method="api_key",
        description="Support tickets with their conversations, contacts and agents from Freshdesk.",
        docs_url="https://developers.freshdesk.com/api/",
        # Per helpdesk and plan: Growth 200 calls a minute (ticket and contact lists 20), Pro 400,
        # Enterprise 700; trial accounts 50. The X-RateLimit-* headers say which.
        rate_limits=RateLimits(requests_per_minute=200),
        base_url="https://{domain}.freshdesk.com", api_url="https://{domain}.freshdesk.com/api/v2",
        permissions=True,
        connect_settings=(ConnectSetting("domain", "Helpdesk domain",
                                         "acme for acme.freshdesk.com (Admin > Helpdesk settings)."),))
    auth = basic()
    whoami = WhoAmI("/agents/me", id="id", handle="contact.email", name="contact.name")
    errors = (OnError(403, error=ProviderRefused, message="Freshdesk refused: {said} (the key's agent may lack "
                                                          "access to this)."),)
    page_size = 100         # Freshdesk's maximum per_page
    sandbox = {"base_url": "/freshdesk/{domain}", "api_url": "/freshdesk/{domain}/api/v2"}
    streams = (
        StreamSpec("tickets", "ticket", TICKETS, ticket_document, description="Tickets with their conversations",
                   incremental=UPDATED, list_ids="read", readers=stored_readers, complete=ticket_readers,
                   fetch=FetchById("/tickets/{id}", pattern=r"\d+", belongs=alive),
                   joins=(Join("_conversations", RestStream("/tickets/{ticket}/conversations", LINKS),
                               args=lambda record: {"ticket": record["id"]}, content=True),)),
        StreamSpec("contacts", "contact", RestStream("/contacts", LINKS), contact_document,
                   description="Customer contacts", incremental=Incremental.window("_updated_since"),
                   list_ids=True, readers=stored_readers, complete=every_agent,
                   fetch=FetchById("/contacts/{id}", pattern=r"\d+", belongs=alive)),
        StreamSpec("agents", "agent", AGENTS, agent_document, description="Support agents",
                   list_ids=True, readers=stored_readers, complete=every_agent,
                   fetch=FetchById("/agents/{id}", pattern=r"\d+")),
    )

    def check(self, api_key_value: str, settings: dict | None = None):
        """The key's agent (``GET /agents/me``), shown as the helpdesk it reads."""
        try:
            agent = super().check(api_key_value, settings)
            return dataclasses.replace(agent, display_name=f"{domain_of(settings or {})}.freshdesk.com")
        except ProviderNotFound:
            raise InvalidCredentials(f"Freshdesk has no helpdesk at {domain_of(settings or {})}.freshdesk.com.",
                                     details={"field": "settings.domain"}) from None

    def api_root(self, ctx) -> str | None:
        """The deployment's ``api_url`` with the connection's helpdesk ``{domain}`` in it."""
        return (self.settings.api_url or "").replace("{domain}", domain_of(ctx.settings))
