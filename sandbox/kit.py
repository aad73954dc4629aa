"""The sandbox kit: what an emulated provider needs, so a typical one is a page of declarations.

An emulation subclasses :class:`Emulation` and declares its voice; routes are plain Flask views
wrapped by ``guarded`` (request counting, injected faults from ``sandbox/faults.py``,
authentication, rate limits and rate-limit headers) through ``@PROVIDER.get(rule, bucket=...)``:

* ``name`` / ``prefix`` (``"acme"``, ``"/acme"``): faults, stats and ``POST /_sandbox/config``
  name it; every module of ``sandbox/providers`` is registered by ``sandbox.create_app``;
* auth: ``keys`` (API keys or app tokens accepted, as ``Authorization: Bearer``, or as HTTP
  Basic's username with ``key_scheme = "basic"``; override ``credential()`` for another header
  or a query parameter; ``POST /_sandbox/<name>/keys`` adds one), or ``dialect`` (an
  :class:`OAuthDialect`, tokens issued by ``sandbox/oauth.py`` through the consent page that
  ``oauth_routes()`` mounts, with an RFC 7009 revocation endpoint answering ``{}``, or nothing
  with ``revoked_empty``) with ``client`` (its default OAuth client; unset:
  ``sandbox-<name>-client`` / ``sandbox-<name>-secret``), ``rotate_refresh_tokens`` and
  ``token_ttl`` (its access tokens' lifetime, seconds);
* errors: ``error_body(status, message, code)`` is the provider's error envelope, used for auth
  failures (``auth_failure``), 404s, injected faults, rate limits and ``fail()`` from a view;
* rate limits: ``limits`` ({bucket: (requests, window seconds)}, ``None`` the default bucket),
  ``rate_header_names`` and ``reset_header`` (``"epoch"``, ``"seconds"`` or ``"iso"``: Atlassian's
  ``2026-03-26T16:00Z``); a 429 carries
  ``Retry-After``; ``rate_limit_statuses`` (429, and 403 where the provider says it so). Limits
  only refuse requests where ``POST /_sandbox/config`` enforces them;
* data: ``collections`` ({name: :class:`Seeded`}): records with ids and update times built
  from the sandbox's seed and scale, per sandbox state (a reset rebuilds them); tests delete,
  edit and add records through ``/_sandbox/collections/<provider>/<name>[/<id>]``; a deleted
  record is kept as a tombstone for providers that report deletions; a provider with accounts of
  its own (Zendesk's subdomains) keeps each one's apart (``collection(name, tenant)``, named
  ``<name>@<tenant>`` there);
* records by id: ``show(rule, name, shape)`` declares ``GET .../<record_id>`` answering a
  collection's record or the provider's 404 (``found``; ``find``: by other fields);
  ``children(name, parent_field)`` groups a collection by parent (a ticket's replies, an issue's
  notes), ``kept(names, build)`` keeps such an index across requests until a record is added or
  deleted, and :func:`touched` is a parent's update time moved by its newest child, as providers
  report it;
* pagination: :func:`page_by_cursor` (an opaque keyset cursor in the body), :func:`page_by_offset`,
  :func:`page_by_number`, :func:`link_header` and :func:`link_pages` (a whole ``page``/``per_page``
  answer with its RFC 8288 ``Link`` header) for ``Link`` pages, :func:`link_keyset` for keyset ones;
  :func:`relay_page` for a GraphQL Relay connection (``nodes``, ``edges``, ``pageInfo``, keyset cursors);
* a GraphQL complexity budget: :class:`PointsBudget` (a leaky bucket of points per credential).

A minimal emulation (the provider of the ``connectors.kit`` example), as
``sandbox/providers/acme.py``::

    from flask import request

    from ..kit import Emulation, Seeded, page_by_cursor
    from ..seed import iso
    from . import int_arg, json_response

    class Acme(Emulation):
        name, prefix = "acme", "/acme"
        keys = ("sandbox-acme-key",)
        limits = {None: (600, 60), "export": (10, 60)}
        collections = {"notes": Seeded(lambda rnd, i: {"title": f"Note {i}", "body": rnd.choice(["a", "b"])})}

        def error_body(self, status, message, code=None):
            return {"error": {"status": status, "message": message, "code": code or "error"}}

    PROVIDER = Acme()
    bp = PROVIDER.bp

    @PROVIDER.get("/folders/<folder>/notes")
    def notes(principal, folder):
        since = request.args.get("updated_since")
        rows = [r for r in PROVIDER.collection("notes").by_update() if since is None or iso(r["updated"]) >= since]
        chunk, cursor = page_by_cursor(rows, request.args.get("cursor"), int_arg("limit", 50, minimum=1, maximum=100))
        return json_response({"notes": [{"id": r["id"], "title": r["title"], "body": r["body"],
                                         "updated_at": iso(r["updated"])} for r in chunk], "next": cursor})

``tests/connectors/test_kit.py`` holds a fuller one (channels, ids by page number, Link-header
comments, an event log with sync tokens and tombstones, an error in a 200 body).

Collections' writes are not kept by ``STATE_FILE`` (seeded data and the providers' own writes are).
"""
from __future__ import annotations

import base64
import bisect
import functools
import json
import math
import random
import re
import time
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, Response, abort, g, jsonify, request

from . import oauth
from .faults import RateInfo
from .providers import (PROVIDERS, Answer, Principal, Provider, gateway_error, guarded, int_arg, json_response, state,
                        url_with)
from .seed import END, START, seeded, spread

# -- seeded collections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """How one collection is seeded: ``build(rnd, index)`` returns a record's fields (without
    ``id``, ``created`` and ``updated``, which the collection sets: ids ``1..count``, times
    spread over the sandbox's seeded period, epoch seconds); ``count(scale)`` how many."""

    build: Callable[[random.Random, int], dict]
    count: Callable[[int], int] = lambda scale: scale


class Collection:
    """A provider's records of one kind: ids, creation and update times; edits bump ``updated``,
    deletions keep a tombstone (``deleted``: id -> when) and the record's last fields
    (``removed``: id -> record, so a delta can say in which drive or folder it was)."""

    def __init__(self, provider: str, name: str, seeded_as: Seeded, seed: int, scale: int):
        self.rows: dict[str, dict] = {}
        self.deleted: dict[str, int] = {}
        self.removed: dict[str, dict] = {}
        count = seeded_as.count(scale)
        for i in range(count):
            rnd = seeded(seed, provider, name, i)
            created = spread(i, count, START, END - 86400, rnd)
            updated = min(END, created + rnd.randrange(86400 * 30))
            self.rows[str(i + 1)] = {"id": str(i + 1), "created": created, "updated": updated,
                                     **seeded_as.build(rnd, i)}
        self.next_id = count + 1

    def get(self, record_id: str) -> dict | None:
        return self.rows.get(str(record_id))

    def by_update(self, descending: bool = False) -> list[dict]:
        """Every record, oldest change first (ties by id), or newest first."""
        rows = sorted(self.rows.values(), key=lambda r: (r["updated"], int(r["id"])))
        return rows[::-1] if descending else rows

    def with_deleted(self, **mark) -> list[dict]:
        """Every record and every deleted one (its last fields with ``mark``, ``updated`` when it
        went), oldest change first (ties by id): an export that reports deletions (Zendesk's)."""
        gone = [{**self.removed[n], **mark, "updated": at} for n, at in self.deleted.items()]
        return sorted([*self.rows.values(), *gone], key=lambda r: (r["updated"], int(r["id"])))

    def changed_since(self, since: float | None, *, inclusive: bool = True) -> list[dict]:
        rows = self.by_update()
        if since is None:
            return rows
        return [r for r in rows if r["updated"] > since or (inclusive and r["updated"] == since)]

    def add(self, fields: dict, at: float) -> dict:
        record = {"id": str(self.next_id), "created": int(at), "updated": int(at), **fields}
        self.rows[record["id"]] = record
        self.next_id += 1
        return record

    def update(self, record_id: str, fields: dict, at: float) -> dict | None:
        record = self.rows.get(str(record_id))
        if record is not None:
            record.update(fields, updated=max(int(at), record["updated"] + 1))
        return record

    def delete(self, record_id: str, at: float) -> bool:
        record = self.rows.pop(str(record_id), None)
        if record is None:
            return False
        self.deleted[str(record_id)] = int(at)
        self.removed[str(record_id)] = record
        return True


# -- pagination ----------------------------------------------------------------------------------------

def _encode(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode(token: str):
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise Answer(Response("bad cursor", 400)) from None


def page_by_cursor(rows: list, cursor: str | None, limit: int, *,
                   key: Callable[[dict], object] = lambda r: (r["updated"], int(r["id"]))):
    """``(page, next cursor or None)`` of ``rows`` sorted by ``key``. The cursor names the last
    record handed out (a keyset, like Slack's and Notion's): deleting a record never shifts an
    unread one out of view. A cursor that does not decode answers 400."""
    start = 0
    if cursor:
        after = _decode(cursor)
        keys = [list(key(r)) if isinstance(key(r), tuple) else key(r) for r in rows]
        start = bisect.bisect_right(keys, after)
    chunk = rows[start:start + limit]
    more = start + limit < len(rows)
    last = key(chunk[-1]) if chunk else None
    return chunk, (_encode(list(last) if isinstance(last, tuple) else last) if more and chunk else None)


def relay_page(rows: list, keys: list, first: int, after: str | None, *, descending: bool = False) -> dict:
    """A GraphQL Relay connection of ``rows`` (in their order, ``keys`` their sort keys): the
    ``first`` after the cursor ``after`` as ``nodes``, ``edges`` and ``pageInfo``. A cursor names
    the key of the row it points at, not a position (a keyset): rows deleted before it shift
    nothing (Linear's)."""
    start = 0
    if after:
        mark = _decode(after)
        start = next((i for i, k in enumerate(keys) if (k < mark if descending else k > mark)), len(keys))
    chunk = rows[start:start + first]
    cursors = [_encode(k) for k in keys[start:start + len(chunk)]]
    return {"nodes": chunk, "edges": [{"node": n, "cursor": c} for n, c in zip(chunk, cursors)],
            "pageInfo": {"hasNextPage": start + first < len(rows), "hasPreviousPage": start > 0,
                         "startCursor": cursors[0] if chunk else None, "endCursor": cursors[-1] if chunk else None}}


def page_by_offset(rows: list, start: int, limit: int):
    """``(page, next start or None)``."""
    chunk = rows[start:start + limit]
    return chunk, (start + limit if start + limit < len(rows) else None)


def page_by_number(rows: list, page: int, per_page: int):
    """``(page's rows, whether another page follows, total pages)``; pages count from 1."""
    start = (max(page, 1) - 1) * per_page
    total = max(1, math.ceil(len(rows) / per_page)) if per_page else 1
    return rows[start:start + per_page], start + per_page < len(rows), total


def link_pages(rows: list, default: int, maximum: int, *, refuse: Callable[[str, int], None] | None = None,
               max_page: int | None = None, first_last: bool = False, counts: bool = False):
    """``(Response of this page's rows, page number, per_page, whether more follow, total pages)``
    of ``page``/``per_page`` pages with an RFC 8288 ``Link`` header (GitLab, Freshdesk, GitHub):
    ``rel="next"`` while more follow (up to ``max_page``, a listing's cap), and with
    ``first_last`` ``first`` and ``last`` always. A ``per_page`` over ``maximum`` is clamped, or
    where the provider refuses it ``refuse("per_page", maximum)`` answers (``refuse("page",
    max_page)``: a page past the cap). ``counts``: GitLab's ``X-Page``, ``X-Per-Page``,
    ``X-Next-Page`` (empty on the last page), ``X-Total`` and ``X-Total-Pages`` headers too."""
    per_page = int_arg("per_page", default, minimum=1, maximum=None if refuse else maximum)
    if refuse and per_page > maximum:
        refuse("per_page", maximum)
    number = int_arg("page", 1, minimum=1)
    if refuse and max_page is not None and number > max_page:
        refuse("page", max_page)
    chunk, more, total = page_by_number(rows, number, per_page)
    more = more and (max_page is None or number < max_page)
    links = ([f'<{url_with(page=number + 1)}>; rel="next"'] if more else []) + (
        [f'<{url_with(page=1)}>; rel="first"', f'<{url_with(page=total)}>; rel="last"'] if first_last else [])
    response = json_response(chunk)
    if links:
        response.headers["Link"] = ", ".join(links)
    if counts:
        response.headers.update({"X-Page": str(number), "X-Per-Page": str(per_page),
                                 "X-Next-Page": str(number + 1) if more else "", "X-Total": str(len(rows)),
                                 "X-Total-Pages": str(total)})
    return response, number, per_page, more, total


def link_header(**next_params) -> str:
    """``Link: <this URL with next_params>; rel="next"``."""
    return f'<{url_with(**next_params)}>; rel="next"'


def link_keyset(rows: list, param: str, default: int, maximum: int, *,
                key: Callable[[dict], int] = lambda r: r["id"]) -> Response:
    """A keyset page of ``rows`` (sorted by their integer ``key``): those after the ``param``
    query value, ``per_page`` of them (``default``, clamped to ``maximum``), with a ``Link``
    header naming the next page (``param`` = the page's last key) while more follow (GitLab's
    ``pagination=keyset`` with ``id_after``)."""
    after = int_arg(param, 0, minimum=0)
    per_page = int_arg("per_page", default, minimum=1, maximum=maximum)
    rest = [r for r in rows if key(r) > after]
    response = json_response(rest[:per_page])
    if len(rest) > per_page:
        response.headers["Link"] = link_header(**{param: key(rest[per_page - 1])})
    return response


def touched(record: dict, children: list[dict]) -> int:
    """A record's update time: its own, or its newest child's (a reply moves its ticket's)."""
    return max([record["updated"], *(c["updated"] for c in children)])


def basic_username() -> str | None:
    """The username of an HTTP Basic ``Authorization`` header (an API key sent as one)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode().split(":", 1)[0] or None
    except ValueError:
        return None


# -- the provider's voice -------------------------------------------------------------------------------

class OAuthDialect(oauth.Dialect):
    """A standard OAuth 2.0 token endpoint's wording (RFC 6749 JSON bodies, 400 errors, 401
    ``invalid_client``); set ``provider``, ``display_name``, ``sandbox_login`` (and ``sandbox_name``,
    the consent page's person) and ``prefix``; ``refresh_tokens = False`` for a provider whose
    tokens come without one (Zendesk's, Intercom's)."""

    prefix = "sandbox"
    requires_response_type = True
    sandbox_name: str | None = None
    refresh_tokens = True

    def new_access_token(self) -> str:
        return f"{self.prefix}-at-" + oauth.random_token(40)

    def new_refresh_token(self) -> str:
        return f"{self.prefix}-rt-" + oauth.random_token(40)

    def issues_refresh_token(self, offline: bool) -> bool:
        return self.refresh_tokens

    def consent_user(self, st) -> dict:
        return {"login": self.sandbox_login, "name": self.sandbox_name or self.sandbox_login, "avatar_url": ""}

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        body = {"access_token": issued.access.value, "token_type": self.token_type, "expires_in": ttl,
                "scope": self.scope_joiner.join(issued.grant.scope)}
        if issued.refresh is not None and issued.refresh_is_new:
            body["refresh_token"] = issued.refresh.value
        return body

    def token_success(self, body: dict) -> Response:
        return json_response(body, headers={"Cache-Control": "no-store"})

    def token_error(self, error: oauth.OAuthError):
        code = {"invalid_client": "invalid_client", "unsupported_grant_type": "unsupported_grant_type",
                "invalid_request": "invalid_request", "redirect_uri_mismatch": "invalid_grant"}.get(
            error.reason, "invalid_grant")
        status = 401 if code == "invalid_client" else 400
        return json_response({"error": code, "error_description": error.detail or error.reason}, status), code


class Emulation(Provider):
    """One emulated provider on the kit (see the module docstring)."""

    keys: tuple[str, ...] = ()
    dialect: OAuthDialect | None = None
    client: dict | None = None
    rotate_refresh_tokens: bool = True
    token_ttl: int | None = None        # None: the sandbox's ACCESS_TOKEN_TTL default
    auth_failure: tuple[int, str] = (401, "Unauthorized")
    key_scheme = "bearer"       # "basic": the key is HTTP Basic's username (Freshdesk's, password "X")
    revoked_empty = False       # a revocation is answered 200 with no body (HubSpot's), not ``{}``
    limits: dict = {}
    rate_header_names: tuple[str, str, str] = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
    # What a spent quota is answered with (a ``rate_limit`` fault may ask for either): Google's
    # Drive and Calendar also say it with a 403 (``userRateLimitExceeded``).
    rate_limit_statuses: tuple[int, ...] = (429,)
    reset_header = "epoch"
    collections: dict[str, Seeded] = {}
    # The provider's own access-token lifetime in seconds (None: the sandbox's default), unless
    # the sandbox's ACCESS_TOKEN_TTL names this provider.
    token_ttl: int | None = None

    # Accounts of their own under the prefix, ``/<tenant>/...`` (Zendesk's subdomains): every rule
    # starts with ``/<tenant>`` (the view does not get it: ``g.tenant``), one not like
    # ``tenant_pattern`` is a 404; each keeps its records (``rows``) and its rate-limit buckets
    # (``rate_key``), and a grant belongs to the account it was made at (``Grant.tenant``, kept
    # in the state file): its code is exchanged, its tokens answer and refresh there only (one
    # minted by ``/_sandbox/tokens``: at any). ``default_tenant``: the account whose records
    # ``/_sandbox/collections/<provider>/<name>`` edit.
    tenant_pattern: str | None = None
    default_tenant: str | None = None

    def __init__(self):
        super().__init__()
        self.bp = Blueprint(self.name, __name__, url_prefix=self.prefix)
        if self.tenant_pattern is not None:
            self.bp.url_value_preprocessor(self._tenant_of_path)
        if self.dialect is not None and self.client is None:      # the sandbox's OAuth client of this provider
            self.client = {"client_id": f"sandbox-{self.name}-client", "client_secret": f"sandbox-{self.name}-secret",
                           "name": "Tributary"}

    # routes
    def route(self, rule: str, methods=("GET",), *, bucket: str | None = None, kind: str = "api"):
        def decorate(view):
            self.bp.add_url_rule(rule, view.__name__, guarded(self, kind, bucket)(view), methods=list(methods))
            return view
        return decorate

    def get(self, rule: str, *, bucket: str | None = None):
        return self.route(rule, ("GET",), bucket=bucket)

    def post(self, rule: str, *, bucket: str | None = None):
        return self.route(rule, ("POST",), bucket=bucket)

    def show(self, rule: str, name: str, shape: Callable[[dict], dict], *, check: Callable | None = None,
             message: str | None = None, code: str | None = None) -> None:
        """Declare ``GET rule``: the record of collection ``name`` the rule's ``<record_id>`` names,
        as ``shape(record)``, else the provider's 404 (``found``); ``check(**the rule's other
        variables)`` first (Freshdesk's helpdesk)."""
        def view(principal, record_id, **values):
            if check is not None:
                check(**values)
            return json_response(shape(self.found(name, record_id, message, code)))
        view.__name__ = f"show_{name}"
        self.get(rule)(view)

    def oauth_routes(self, authorize: str, token: str, theme: dict | None = None, revoke: str | None = None) -> None:
        """Mount the consent page (GET/POST ``authorize``), the token endpoint and, given
        ``revoke``, an RFC 7009 revocation endpoint (``token=``: an access or refresh token; its
        grant goes, and 200 whether or not the token was known, as RFC 7009 says)."""
        theme = theme or {"provider": self.name, "title": self.dialect.display_name}
        self.bp.add_url_rule(authorize, "authorize", lambda: oauth.render_consent(state(), self.dialect, theme))
        self.bp.add_url_rule(authorize, "decide", lambda: oauth.decide(state(), self.dialect, theme), methods=["POST"])
        self.bp.add_url_rule(token, "token", guarded(self, "oauth")(
            lambda: oauth.token_endpoint(state(), self.dialect)), methods=["POST"])
        if revoke is not None:
            self.bp.add_url_rule(revoke, "revoke", guarded(self, "oauth")(self._revoke), methods=["POST"])

    def _tenant_of_path(self, endpoint, values):
        g.tenant = (values or {}).pop("tenant", self.default_tenant)
        if not re.fullmatch(self.tenant_pattern, g.tenant or ""):
            abort(404)

    def rows(self, name: str) -> Collection:
        """The records of ``name`` of the account this request is at (``tenant_pattern``)."""
        return self.collection(name, self.tenant(g.get("tenant")))

    def _revoke(self):
        st = state()
        with st.lock:
            st.tokens.revoke_token(self.name, oauth.token_request(self.dialect).get("token"))
        return ("", 200) if self.revoked_empty else json_response({})

    # data
    def collection(self, name: str, tenant: str | None = None) -> Collection:
        """The records of ``name``; ``tenant``: another account's own (Zendesk's per subdomain,
        seeded apart), at ``/_sandbox/collections/<provider>/<name>@<tenant>``."""
        st = state()
        with st.lock:
            key = (self.name, name) if tenant is None else (self.name, name, tenant)
            if key not in st.collections:
                st.collections[key] = Collection(self.name, name if tenant is None else f"{name}@{tenant}",
                                                 self.collections[name], st.seed, st.scale)
            return st.collections[key]

    def found(self, name: str, record_id, message: str | None = "Not Found", code: str | None = None,
              tenant: str | None = None) -> dict:
        """The record ``record_id`` of collection ``name``, else the provider's 404 (``fail``;
        without a ``message``, its ``not_found()``: Freshdesk's has no body). Where the provider has
        accounts of its own (``tenant_pattern``), the request's account's by default."""
        own = tenant is None and self.tenant_pattern is not None
        record = (self.rows(name) if own else self.collection(name, tenant)).get(str(record_id))
        if record is None and message is None:
            raise Answer(self.not_found())
        if record is None:
            self.fail(404, message, code)
        return record

    def find(self, name: str, where: Callable[[dict], bool], message: str | None = "Not Found",
             code: str | None = None) -> dict:
        """The first record of collection ``name`` that ``where`` keeps (a record named by other
        fields than its id: GitLab's issue by project and ``iid``), else the provider's 404 as
        ``found`` answers it."""
        record = next((r for r in self.collection(name).rows.values() if where(r)), None)
        if record is None and message is None:
            raise Answer(self.not_found())
        if record is None:
            self.fail(404, message, code)
        return record

    def children(self, name: str, parent_field: str, parents: str | None = None, *,
                 after: tuple[int, int] | None = None, where: Callable[[dict], bool] | None = None) -> dict:
        """Collection ``name``'s records (those ``where`` keeps) by their parent's id
        (``record[parent_field]``), each parent's oldest first (ties by id): a ticket's
        conversations, an issue's notes. ``after=(seconds, steps)``: a seeded child is created at
        least ``seconds * (id % steps + 1)`` after its parent (in collection ``parents``), its
        update no earlier, where the seed spread it before. The request's account's, where the
        provider has accounts of its own (``tenant_pattern``)."""
        records = self.rows if self.tenant_pattern is not None else self.collection
        found, parent_rows = {}, records(parents) if after else None
        for child in records(name).rows.values():
            if where is not None and not where(child):
                continue
            if after is not None:
                parent = parent_rows.get(str(child[parent_field])) or child
                created = max(child["created"], parent["created"] + after[0] * (int(child["id"]) % after[1] + 1))
                child = {**child, "created": created, "updated": max(child["updated"], created)}
            found.setdefault(str(child[parent_field]), []).append(child)
        for rows in found.values():
            rows.sort(key=lambda c: (c["created"], int(c["id"])))
        return found

    def kept(self, names: tuple[str, ...], build: Callable[..., object]):
        """``build(*collections)``, an index over the collections ``names`` (a thread's replies by
        message), kept until a record of one of them is added or deleted -- an edit changes a record
        in place, and the index holds the records themselves -- so a request reads it in O(page) at
        any scale. It is kept on the first collection: a reset drops it. The request's account's,
        where the provider has accounts of its own (``tenant_pattern``)."""
        records = self.rows if self.tenant_pattern is not None else self.collection
        collections = [records(name) for name in names]
        version = tuple((c, c.next_id, len(c.rows)) for c in collections)
        held = collections[0].__dict__.setdefault("kept", {})
        if build not in held or held[build][0] != version:
            held[build] = (version, build(*collections))
        return held[build][1]

    def tenant(self, name: str | None) -> str | None:
        """The collections' key of an account named ``name`` (None: the default account's)."""
        return None if name in (None, self.default_tenant) else name

    # auth
    def credential(self) -> str | None:
        return basic_username() if self.key_scheme == "basic" else oauth.bearer_token()

    def authenticate(self, st) -> Principal | None:
        value = self.credential()
        if self.dialect is not None:
            grant = st.tokens.access_grant(self.name, value, st.now(), g.get("tenant"))
            return Principal(key=value, grant=grant) if grant else None
        return Principal(key=value) if value and value in st.keys.get(self.name, ()) else None

    # errors
    def error_body(self, status: int, message: str, code: str | None = None) -> dict:
        return {"error": {"code": code or status, "message": message}}

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        return json_response(self.error_body(status, message, code), status)

    def fail(self, status: int, message: str, code: str | None = None):
        """Answer with the provider's error from anywhere inside a view."""
        raise Answer(self.error(status, message, code))

    def fail_with(self, response: Response):
        """Answer with this response (an error body of the provider's own shape) from inside a view."""
        raise Answer(response)

    def unauthorized(self) -> Response:
        return self.error(*self.auth_failure)

    def not_found(self) -> Response:
        return self.error(404, "Not Found")

    def server_error(self, status: int) -> Response:
        return self.error(500, "Internal Server Error") if status == 500 else gateway_error(status)

    def client_error(self, status: int) -> Response:
        from .providers import CLIENT_ERROR_MESSAGES

        return self.error(status, CLIENT_ERROR_MESSAGES[status])

    # rate limits
    def rate_key(self, principal: Principal) -> tuple:
        """Whose window a request counts in: an account's, where the provider has accounts of
        their own (Zendesk limits each subdomain, whichever token asks), else the credential's."""
        return ("@" + g.tenant,) if self.tenant_pattern is not None else super().rate_key(principal)

    def default_policy(self, bucket):
        return self.limits.get(bucket, self.limits.get(None))

    def rate_limited(self, info: RateInfo, status: int, now: float) -> Response:
        response = self.error(status, "Too Many Requests")
        self.rate_headers(response, info, now)
        response.headers["retry-after"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def rate_headers(self, response: Response, info: RateInfo, now: float) -> None:
        if not self.rate_header_names:
            return
        limit, remaining, reset = self.rate_header_names
        response.headers[limit] = str(info.limit)
        response.headers[remaining] = str(info.remaining)
        if self.reset_header == "iso":      # when the window resets, to the minute (Atlassian's precision)
            response.headers[reset] = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(info.reset_at))
        else:
            response.headers[reset] = str(math.ceil(info.reset_at) if self.reset_header == "epoch"
                                          else info.seconds_to_reset(now))


def emulations() -> dict[str, Emulation]:
    return {name: p for name, p in PROVIDERS.items() if isinstance(p, Emulation)}


# -- the control routes of kit emulations (tests and the demo drive the data through them) --------------

control = Blueprint("sandbox_kit", __name__)


def _collection_or_404(provider: str, name: str) -> Collection:
    emulation, (kind, _, tenant) = emulations().get(provider), name.partition("@")
    if emulation is None or kind not in emulation.collections:
        raise Answer(json_response({"error": f"no collection {provider}/{name}"}, 404))
    return emulation.collection(kind, emulation.tenant(tenant or None))


def _answering(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except Answer as answer:
            return answer.response
    return wrapper


@control.post("/_sandbox/collections/<provider>/<name>")
@_answering
def add_record(provider, name):
    """Add a record (the JSON body's fields), created and updated now."""
    collection, st = _collection_or_404(provider, name), state()
    with st.lock:
        return jsonify(collection.add(request.get_json(silent=True) or {}, st.now())), 201


@control.patch("/_sandbox/collections/<provider>/<name>/<record_id>")
@_answering
def edit_record(provider, name, record_id):
    """Change a record's fields; its update time moves to now."""
    collection, st = _collection_or_404(provider, name), state()
    with st.lock:
        record = collection.update(record_id, request.get_json(silent=True) or {}, st.now())
    return (jsonify(record), 200) if record else (jsonify({"error": "not found"}), 404)


@control.delete("/_sandbox/collections/<provider>/<name>/<record_id>")
@_answering
def delete_record(provider, name, record_id):
    """Delete a record (deletion-detection tests); a tombstone remembers when."""
    collection, st = _collection_or_404(provider, name), state()
    with st.lock:
        gone = collection.delete(record_id, st.now())
    return ("", 204) if gone else (jsonify({"error": "not found"}), 404)


@control.post("/_sandbox/<provider>/keys")
def add_key(provider):
    """Accept another API key for a kit emulation (``{"key": ...}``)."""
    key, st = (request.get_json(silent=True) or {}).get("key"), state()
    if provider not in emulations() or not isinstance(key, str) or not key:
        return jsonify({"error": "give a kit provider and {\"key\": \"...\"}"}), 400
    with st.lock:
        st.keys.setdefault(provider, set()).add(key)
    return jsonify({"provider": provider, "key": key}), 201


class PointsBudget:
    """A leaky bucket of points per credential, refilled evenly over ``seconds``: a GraphQL
    complexity budget (Linear's 2,000,000 points an hour per token), each answer charged its cost.
    Kept with the collections, so a reset refills it; ``POST /_sandbox/<provider>/<name>
    {"limit": N}`` lowers (or restores) the limit until a reset, every bucket full again."""

    def __init__(self, provider: str, name: str, limit: int, seconds: int = 3600):
        self.key, self.limit, self.seconds = (provider, name), limit, seconds
        control.add_url_rule(f"/_sandbox/{provider}/{name}", f"{provider}_{name}", self.set_limit, methods=["POST"])

    def charge(self, credential: str, cost: int, now: float) -> tuple[bool, tuple[int, float, float]]:
        """Take ``cost`` points from the credential's bucket if it holds them: ``(paid?, (limit,
        remaining, when the bucket is full again))``."""
        st = state()
        limit = st.collections.get((self.key[0], f"{self.key[1]}_limit"), self.limit)
        buckets = st.collections.setdefault(self.key, {})
        level, at = buckets.get(credential, (float(limit), now))
        level = min(float(limit), level + (now - at) * limit / self.seconds)
        paid = level >= cost
        level -= cost if paid else 0
        buckets[credential] = (level, now)
        return paid, (limit, level, now + (limit - level) * self.seconds / limit)

    def set_limit(self):
        limit = (request.get_json(silent=True) or {}).get("limit")
        if not isinstance(limit, int) or limit < 1:
            return json_response({"error": "give {\"limit\": N >= 1}"}, 400)
        st = state()
        with st.lock:
            st.collections[(self.key[0], f"{self.key[1]}_limit")] = limit
            st.collections[self.key] = {}
        return json_response({"limit": limit})
