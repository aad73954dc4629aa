"""Zendesk under /zendesk/<subdomain>: every subdomain is an account of its own (``https://<subdomain>.zendesk.com``),
its records seeded apart and its tokens answering there only; ``acme-sandbox`` is the default, whose records
``/_sandbox/collections/zendesk/<kind>`` edit (another's: ``<kind>@<subdomain>``). Each has its OAuth and the Support
and Help Center APIs a connector reads (``/api/v2``), as ``node-zendesk`` 6.0.1 describes them (its Ticket,
TicketComment and User types; tests/fidelity).

OAuth ("OAuth Tokens for Grant Types"): consent at ``/oauth/authorizations/new``, then ``POST /oauth/tokens``
(``authorization_code`` and ``refresh_token`` grants) at the account's own address: a code, its tokens and their
refresh work at the subdomain that issued them only (kept in the state file). Every new token comes with a refresh
token; a refresh returns a new pair and invalidates the old one. Lifetimes are those Zendesk enforces on OAuth clients
created since 2026 (its announcement, support.zendesk.com article 10212201463962): access tokens 30 minutes and refresh
tokens 30 days unless asked otherwise (``expires_in`` 5 minutes to 48 hours, ``refresh_token_expires_in`` 7 to 90 days,
as ``asked_lifetimes`` checks them) or set by the sandbox's ``access_token_ttl``; the answer says both.

* ``GET /incremental/{tickets,users}/cursor.json``: ``start_time`` (epoch seconds, at least a minute ago), then
  ``cursor`` (``after_cursor``); ``per_page`` up to 1000; ``end_of_stream`` once caught up. What changed within the
  last minute is left for the next request. A deleted ticket stays in the export as ``status: "deleted"``, a deleted
  user as ``active: false``. 10 requests a minute.
* ``GET /tickets/{id}.json`` (404 ``RecordNotFound`` once deleted) and the routes below; lists page by ``page[size]``
  and ``page[after]`` (``meta.has_more``), the Help Center's incremental articles by ``start_time`` and ``page``.

Errors are ``{"error": "<Title>", "description": "..."}`` (401 ``{"error": "Couldn't authenticate you"}``). 200
requests a minute per account (subdomain, whichever token asks; the exports 10) with ``X-Rate-Limit``/
``X-Rate-Limit-Remaining``/``ratelimit-reset``; a 429 has Retry-After.
"""
from __future__ import annotations

from flask import g, request

from .. import oauth
from ..kit import Emulation, OAuthDialect, Seeded, _decode, _encode, page_by_number, page_by_offset
from ..seed import COMPANIES, FIRST_NAMES, LAST_NAMES, SENTENCES, iso
from . import int_arg, json_response, root_url, state

AGENTS = 4          # users 1..4 are agents (1 an admin); agent n is in group 1 + n % 2
ACCESS_TTL, REFRESH_TTL = 1800, 30 * 86400     # Zendesk's defaults for a client created since 2026


def user(rnd, i):
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    role = "admin" if i == 0 else "agent" if i < AGENTS else "end-user"
    return {"name": f"{first} {last}", "email": f"{first.lower()}.{last.lower()}{i}@example.com", "role": role,
            "active": True}


def ticket(rnd, i):
    return {"subject": f"{rnd.choice(['Sync stalls', 'Cannot log in', 'Invoice question', 'Export is slow'])} "
                       f"at {COMPANIES[i % len(COMPANIES)]}", "description": rnd.choice(SENTENCES),
            "status": rnd.choice(["new", "open", "pending", "solved"]),
            "priority": rnd.choice(["low", "normal", "high"]), "requester_id": AGENTS + 1 + i % 5,
            "assignee_id": 1 + i % AGENTS if i % 4 else None, "group_id": 1 + i % 2,
            "tags": rnd.sample(["billing", "sync", "login", "vip"], 2)}


class ZendeskDialect(OAuthDialect):
    provider, display_name, prefix = "zendesk", "Zendesk", "zd"
    sandbox_login = "admin@acme-sandbox.example"

    def new_access_token(self) -> str:
        return oauth.random_token(64, "0123456789abcdef")

    new_refresh_token = new_access_token

    def asked_lifetimes(self, form):
        access, refresh = (self._seconds(form, name) for name in ("expires_in", "refresh_token_expires_in"))
        if access is not None and not 300 < access < 172_800:
            raise oauth.OAuthError("invalid_request", "expires_in must be more than 300 and less than 172800 seconds")
        if refresh is not None and not 604_800 <= refresh <= 7_776_000:
            raise oauth.OAuthError("invalid_request", "refresh_token_expires_in must be from 604800 to 7776000 seconds")
        if access is not None and refresh is not None and access >= refresh:
            raise oauth.OAuthError("invalid_request", "expires_in must be less than refresh_token_expires_in")
        return access, REFRESH_TTL if refresh is None else refresh

    @staticmethod
    def _seconds(form, name) -> int | None:
        """A lifetime asked for: a number of seconds (JSON) or digits (a form); None when not asked."""
        value = form.get(name)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if value not in (None, "") and (isinstance(value, bool) or not isinstance(value, int)):
            raise oauth.OAuthError("invalid_request", f"{name} must be a number of seconds")
        return None if value == "" else value

    def token_body(self, issued, *, ttl, refresh_ttl):
        body = {"access_token": issued.access.value, "token_type": "bearer",
                "scope": self.scope_joiner.join(issued.grant.scope)}
        if issued.refresh is not None:
            body["refresh_token"] = issued.refresh.value
        return {**body, "expires_in": ttl, "refresh_token_expires_in": refresh_ttl}

    def token_error(self, error):
        code = error.reason if error.reason in ("invalid_client", "invalid_request") else "invalid_grant"
        return json_response({"error": code, "error_description": error.detail or "The provided authorization "
                              "grant is invalid, expired, or revoked."}, 401 if code == "invalid_client" else 400), code


class Zendesk(Emulation):
    name, prefix = "zendesk", "/zendesk"
    tenant_pattern, default_tenant = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", "acme-sandbox"     # the subdomain
    dialect = ZendeskDialect()
    token_ttl = ACCESS_TTL
    limits = {None: (200, 60), "export": (10, 60)}
    rate_header_names = ("x-rate-limit", "x-rate-limit-remaining", "ratelimit-reset")
    reset_header = "seconds"
    collections = {
        "users": Seeded(user, lambda s: AGENTS + max(5, s // 2)), "tickets": Seeded(ticket),
        "comments": Seeded(lambda rnd, i: {"ticket": str(i // 2 + 1),
                                           "author_id": (AGENTS + 1 + i % 5) if i % 2 == 0 else 1 + i % AGENTS,
                                           "body": rnd.choice(SENTENCES), "public": i % 3 != 2}, lambda s: 2 * s),
        "articles": Seeded(lambda rnd, i: {
            "title": f"How to {rnd.choice(['reset a password', 'export data', 'connect Slack', 'read invoices'])} "
                     f"({i + 1})", "body": f"<p>{rnd.choice(SENTENCES)}</p>", "section_id": 360001,
            "user_segment_id": None if i % 4 else 9001, "draft": False, "author_id": 1}, lambda s: s // 2 + 1)}

    def error_body(self, status, message, code=None):
        return {"error": code or {404: "RecordNotFound", 400: "InvalidValue", 403: "Forbidden",
                                  429: "APIRateLimitExceeded"}.get(status, message), "description": message}

    def unauthorized(self):
        return json_response({"error": "Couldn't authenticate you"}, 401)

    def rate_limited(self, info, status, now):
        response = super().rate_limited(info, status, now)
        if request.path.endswith("/cursor.json"):
            response.headers["Zendesk-RateLimit-incremental-exports"] = \
                f"total={info.limit}; remaining={info.remaining}; resets={info.seconds_to_reset(now)}"
        return response


PROVIDER = Zendesk()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/<tenant>/oauth/authorizations/new", "/<tenant>/oauth/tokens")
API = "/<tenant>/api/v2"
rows = PROVIDER.rows


def api(path: str) -> str:
    return f"{root_url()}/zendesk/{g.tenant}/api/v2{path}"


def user_body(r: dict) -> dict:
    n = int(r["id"])
    return {"id": n, "url": f"https://{g.tenant}.zendesk.com/api/v2/users/{n}.json", "name": r["name"],
            "email": r["email"], "created_at": iso(r["created"]), "updated_at": iso(r["updated"]),
            "time_zone": "Lisbon", "iana_time_zone": "Europe/Lisbon", "locale": "en-US", "locale_id": 1,
            "role": r["role"], "active": r["active"], "verified": True, "organization_id": None, "chat_only": False,
            "default_group_id": (1 + n % 2) if r["role"] != "end-user" else None, "suspended": False,
            "last_login_at": iso(r["updated"]), "tags": [], "shared": False, "shared_agent": False,
            "moderator": r["role"] == "admin", "report_csv": False, "role_type": None, "two_factor_auth_enabled": False}


def ticket_body(r: dict) -> dict:
    n = int(r["id"])
    return {"id": n, "url": f"https://{g.tenant}.zendesk.com/api/v2/tickets/{n}.json", "subject": r["subject"],
            "raw_subject": r["subject"], "description": r["description"],
            "status": "deleted" if r.get("_deleted") else r["status"], "priority": r["priority"], "type": "question",
            "requester_id": r["requester_id"], "submitter_id": r["requester_id"], "assignee_id": r["assignee_id"],
            "group_id": r["group_id"], "organization_id": None, "collaborator_ids": [], "follower_ids": [],
            "email_cc_ids": [], "tags": r["tags"], "created_at": iso(r["created"]), "updated_at": iso(r["updated"]),
            "generated_timestamp": int(r["updated"]), "is_public": True, "has_incidents": False,
            "allow_attachments": True, "allow_channelback": False, "from_messaging_channel": False, "followup_ids": [],
            "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}}, "custom_fields": [],
            "sharing_agreement_ids": []}


def article_body(r: dict) -> dict:
    n = int(r["id"])
    return {"id": n, "url": api(f"/help_center/en-us/articles/{n}.json"),
            "html_url": f"https://{g.tenant}.zendesk.com/hc/en-us/articles/{n}", "title": r["title"], "body": r["body"],
            "locale": "en-us", "source_locale": "en-us", "author_id": r["author_id"], "section_id": r["section_id"],
            "user_segment_id": r["user_segment_id"], "permission_group_id": 1, "draft": r["draft"],
            "promoted": False, "position": 0, "vote_sum": 0, "vote_count": 0, "comments_disabled": False,
            "outdated": False, "label_names": [], "created_at": iso(r["created"]), "updated_at": iso(r["updated"]),
            "edited_at": iso(r["updated"])}


def cursor_export(kind: str, listed: list, shown):
    """The cursor-based incremental export of ``listed`` (sorted by update time, then id)."""
    cursor, now = request.args.get("cursor"), state().now()
    if cursor:
        after = tuple(_decode(cursor))
    else:
        start = request.args.get("start_time", type=int)
        if start is None or start > now - 60:
            PROVIDER.fail(400, "start_time must be more than one minute in the past", "InvalidValue")
        after = (start - 1, 2 ** 62)
    per_page = int_arg("per_page", 1000, minimum=1, maximum=1000)
    # What changed within the last minute is left for a later request (Zendesk's "accuracy" rule).
    pending = [r for r in listed if (r["updated"], int(r["id"])) > after and r["updated"] <= now - 60]
    chunk = pending[:per_page]
    token = _encode([chunk[-1]["updated"], int(chunk[-1]["id"])] if chunk else list(after))
    return json_response({kind: [shown(r) for r in chunk], "after_cursor": token,
                          "after_url": api(f"/incremental/{kind}/cursor.json?cursor={token}"),
                          "before_cursor": None, "before_url": None, "end_of_stream": len(pending) <= per_page})


def cursor_page(kind: str, listed: list, shown):
    """A cursor-paginated list (``page[size]`` up to 100, ``page[after]``), its next page at this request's path."""
    size = max(1, min(100, request.args.get("page[size]", 100, type=int)))
    after = request.args.get("page[after]")
    chunk, more = page_by_offset(listed, int(_decode(after)) if after else 0, size)
    token = None if more is None else _encode(more)
    return json_response({kind: [shown(r) for r in chunk],
                          "meta": {"has_more": token is not None, "after_cursor": token, "before_cursor": None},
                          "links": {"next": f"{root_url()}{request.path}?page[size]={size}&page[after]={token}"
                                    if token else None, "prev": None}})


# -- the API ---------------------------------------------------------------------------------------------

@PROVIDER.get(f"{API}/incremental/<any(tickets, users):kind>/cursor.json", bucket="export")
def export(principal, kind):
    if kind == "tickets":
        return cursor_export("tickets", rows("tickets").with_deleted(_deleted=True), ticket_body)
    return cursor_export("users", rows("users").with_deleted(active=False), user_body)


PROVIDER.show(f"{API}/tickets/<record_id>.json", "tickets", lambda r: {"ticket": ticket_body(r)}, message="Not found",
              code="RecordNotFound")


@PROVIDER.get(f"{API}/tickets/<ticket_id>/comments.json")
def comments(principal, ticket_id):
    PROVIDER.found("tickets", ticket_id, "Not found", "RecordNotFound")
    return cursor_page("comments", PROVIDER.children("comments", "ticket").get(str(ticket_id), []), lambda c: {
        "id": int(c["id"]), "type": "Comment", "author_id": c["author_id"], "body": c["body"],
        "html_body": f"<p>{c['body']}</p>", "plain_body": c["body"], "public": c["public"], "attachments": [],
        "audit_id": 10_000 + int(c["id"]), "via": {"channel": "web"}, "created_at": iso(c["created"]),
        "metadata": {"system": {}}})


@PROVIDER.get(f"{API}/users/me.json")
def me(principal):
    return json_response({"user": user_body(rows("users").get("1"))})


@PROVIDER.get(f"{API}/users/show_many.json")
def show_many(principal):
    users = rows("users")
    wanted = [i for i in request.args.get("ids", "").split(",") if i.strip()][:100]
    return json_response({"users": [user_body(users.get(i)) for i in wanted if users.get(i)]})


@PROVIDER.get(f"{API}/users.json")
def list_users(principal):
    roles = set(request.args.getlist("role[]")) or {"end-user", "agent", "admin"}
    listed = sorted((u for u in rows("users").rows.values() if u["role"] in roles), key=lambda u: int(u["id"]))
    return cursor_page("users", listed, user_body)


@PROVIDER.get(f"{API}/group_memberships.json")
def group_memberships(principal):
    agents = sorted((u for u in rows("users").rows.values() if u["role"] != "end-user"), key=lambda u: int(u["id"]))
    listed = [{"id": 100 + int(u["id"]), "user_id": int(u["id"]), "group_id": 1 + int(u["id"]) % 2, "default": True,
               "created_at": iso(u["created"]), "updated_at": iso(u["created"])} for u in agents]
    return cursor_page("group_memberships", listed, lambda m: {**m, "url": api(f"/group_memberships/{m['id']}.json")})


@PROVIDER.get(f"{API}/help_center/articles.json")
def articles(principal):
    listed = sorted(rows("articles").rows.values(), key=lambda r: int(r["id"]))
    return cursor_page("articles", listed, article_body)


PROVIDER.show(f"{API}/help_center/articles/<record_id>.json", "articles", lambda r: {"article": article_body(r)},
              message="Not found", code="RecordNotFound")


@PROVIDER.get(f"{API}/help_center/incremental/articles.json")
def article_export(principal):
    """Time-based: every article updated at or after ``start_time``, 100 a page, oldest first."""
    start = request.args.get("start_time", type=int)
    if start is None:
        PROVIDER.fail(400, "start_time is required", "InvalidValue")
    listed = [r for r in rows("articles").by_update() if r["updated"] >= start]
    page = max(1, request.args.get("page", 1, type=int))
    chunk, more, _ = page_by_number(listed, page, 100)
    return json_response({"articles": [article_body(r) for r in chunk], "count": len(listed),
                          "end_time": int(chunk[-1]["updated"]) if chunk else start,
                          "next_page": api(f"/help_center/incremental/articles.json?start_time={start}&page={page + 1}")
                          if more else None})
