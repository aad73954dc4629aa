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

from .base import CatalogEntry, ConnectSetting, RateLimits
from .errors import ProviderRefused
from .kit import (AccountHost, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, basic, person,
                  readers_among, stored_readers)
from .mapping import Doc, first, said, word
from .rest import LinkHeaderPaginator, RestStream

LINKS = LinkHeaderPaginator()
AGENTS = RestStream("/agents", LINKS)
EPOCH = "1970-01-01T00:00:00Z"          # a full pass: every ticket, not the last 30 days'
GLOBAL, GROUP, RESTRICTED = 1, 2, 3
STATUS = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITY = {1: "low", 2: "medium", 3: "high", 4: "urgent"}


def domain_of(settings: dict) -> str:
    """The helpdesk's subdomain from what the user typed (``acme``, ``acme.freshdesk.com``, a URL)."""
    return FreshdeskConnector.account_host.label(settings, "Freshdesk")


# -- readers -------------------------------------------------------------------------------------

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


# -- documents -----------------------------------------------------------------------------------

def ticket_title(record: dict) -> str:
    return f"#{record['id']}: {record.get('subject') or '(no subject)'}"


def conversations(record: dict) -> list[str]:
    return [f"{'Note' if p.get('private') else ('Customer' if p.get('incoming') else 'Agent')} "
            f"({p['created_at'][:16].replace('T', ' ')}): {p.get('body_text') or ''}"
            for p in record.get("_conversations") or []]


contact_name = first("name", "email", otherwise="Contact {id}")
agent_name = first("contact.name", "contact.email", otherwise="Agent {id}")
scope = word("ticket_scope", {GLOBAL: "global", GROUP: "group", RESTRICTED: "restricted"}, strict=True)


TICKET = Doc("ticket", ticket_title, content=(ticket_title, "description_text", conversations), metadata=(
    ("status", word("status", STATUS)), ("priority", word("priority", PRIORITY)), "group_id", "responder_id",
    "requester_id", "tags[]", ("conversations", lambda record: len(record.get("_conversations") or []))))
CONTACT = Doc("contact", lambda r: f"{contact_name(r)} <{r['email']}>" if r.get("email") else contact_name(r),
              content=(contact_name, "email", "job_title", "phone", "description"), metadata=("company_id", "active"))
AGENT = Doc("agent", agent_name, content=(agent_name, "contact.email", "contact.job_title",
                                          said("Ticket scope", scope)),
            metadata=(("ticket_scope", scope), "group_ids[]", "type"))


def alive(record: dict, api) -> bool:
    return not record.get("deleted") and not record.get("spam")


EVERY_AGENT = readers_among(AGENTS, agent)
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
    account_host = AccountHost("domain", "freshdesk.com", "helpdesk")
    whoami = WhoAmI("/agents/me", id="id", handle="contact.email", name="contact.name")
    errors = (OnError(403, error=ProviderRefused, message="Freshdesk refused: {said} (the key's agent may lack "
                                                          "access to this)."),)
    page_size = 100         # Freshdesk's maximum per_page
    sandbox = {"base_url": "/freshdesk/{domain}", "api_url": "/freshdesk/{domain}/api/v2"}
    streams = (
        StreamSpec("tickets", "ticket", TICKETS, TICKET, description="Tickets with their conversations",
                   incremental=UPDATED, list_ids="read", readers=stored_readers,
                   complete=readers_among(AGENTS, agent, sees),
                   fetch=FetchById("/tickets/{id}", pattern=r"\d+", belongs=alive),
                   joins=(Join("_conversations", RestStream("/tickets/{ticket}/conversations", LINKS),
                               args=lambda record: {"ticket": record["id"]}, content=True),)),
        StreamSpec("contacts", "contact", RestStream("/contacts", LINKS), CONTACT,
                   description="Customer contacts", incremental=Incremental.window("_updated_since"),
                   list_ids=True, readers=stored_readers, complete=EVERY_AGENT,
                   fetch=FetchById("/contacts/{id}", pattern=r"\d+", belongs=alive)),
        StreamSpec("agents", "agent", AGENTS, AGENT, description="Support agents",
                   list_ids=True, readers=stored_readers, complete=EVERY_AGENT,
                   fetch=FetchById("/agents/{id}", pattern=r"\d+")),
    )
