"""Notion's public API under /notion as API version 2025-09-03 has it (what @notionhq/client
5.26.0 describes: a database holds data sources, whose rows are pages), with the OAuth of a
public integration: consent at /notion/v1/oauth/authorize; JSON token requests with HTTP Basic
client authentication, answered with the workspace, the bot and its owner; tokens that do not
expire; ``POST /v1/oauth/revoke``.

Seeded collections (``/_sandbox/collections/notion/...``): ``pages`` (2 x SCALE: odd ids pages
in a tree, even ids rows of the two ``data_sources``) and ``comments`` (SCALE, two to a
discussion, on the first pages). A page's ``blocks`` is its content (``{"type", "text",
"checked" | "language" | "rows", "children"}``); ``in_trash: true`` trashes it (its
last_edited_time moves); DELETE removes it for good (404 from then on).

As the real API: every request names ``Notion-Version`` (else 400 ``missing_version``);
last_edited_time is rounded down to the minute; search hides the trash unless
``filter.in_trash`` (then lists only the trash); ``page_size`` is 1..100 (else 400
``validation_error``); errors are ``{"object": "error", "status", "code", "message",
"request_id"}``; 180 requests a minute per token, then 429 ``rate_limited`` with Retry-After and
no rate-limit headers.
"""
from __future__ import annotations

import functools
import uuid
from datetime import datetime

from flask import request

from ..kit import Emulation, OAuthDialect, Seeded, page_by_cursor
from ..oauth import OAuthError, _client_credentials, token_request
from ..seed import COMMENTS, COMPONENTS, FEATURES, FIRST_NAMES, LANGUAGES, LAST_NAMES, SENTENCES, iso_ms
from . import Principal, guarded, json_response, state

KINDS = {"page": 1, "block": 2, "data_source": 3, "database": 4, "comment": 5, "discussion": 6, "user": 7,
         "bot": 8, "workspace": 9}
PEOPLE = [(f"{FIRST_NAMES[i]} {LAST_NAMES[i]}", f"{FIRST_NAMES[i].lower()}@example.com") for i in range(4)]
SOURCES, TAGS = ["Roadmap", "Customer feedback"], ["backend", "docs", "infra"]
STATUSES = ["Not started", "In progress", "Done"]
UNSHARED = "Make sure the relevant pages and databases are shared with your integration."
CODES = {400: "validation_error", 401: "unauthorized", 403: "restricted_resource", 404: "object_not_found",
         409: "conflict_error", 429: "rate_limited", 500: "internal_server_error", 503: "service_unavailable"}


def nid(kind: str, n, sub: int = 0) -> str:
    """A Notion-style UUID that says what it names: kind, record number, block number."""
    return f"{KINDS[kind]:08x}-{int(sub):04x}-4000-8000-{int(n):012x}"


def parse(value: str, kind: str) -> tuple[str, int] | None:
    """(record id, block number) of an id of ``kind``, with or without dashes."""
    raw = (value or "").replace("-", "").lower()
    if len(raw) != 32 or raw.strip("0123456789abcdef") or int(raw[:8], 16) != KINDS[kind]:
        return None
    return str(int(raw[20:], 16)), int(raw[8:12], 16)


def page_fields(rnd, i: int) -> dict:
    """Page ``i + 1``: a page of the tree (even ``i``) or a row of a data source (odd ``i``)."""
    k, who = i // 2, rnd.randrange(len(PEOPLE))
    if i % 2:
        return {"source": str(k % len(SOURCES) + 1), "title": rnd.choice(FEATURES).capitalize(), "author": who,
                "status": rnd.choice(STATUSES), "tags": rnd.sample(TAGS, rnd.randrange(3)), "in_trash": False,
                "estimate": rnd.randrange(1, 13), "blocks": [{"type": "paragraph", "text": rnd.choice(SENTENCES)}]
                if i % 3 else []}
    feature, component = rnd.choice(FEATURES), rnd.choice(COMPONENTS)
    return {"title": f"{component.capitalize()} notes {k + 1}", "author": who, "in_trash": False,
            "public": k % 7 == 3, "parent": str(2 * ((k - 1) // 3) + 1) if k % 10 else None, "blocks": [
                {"type": "heading_1", "text": f"Plan: {feature}"}, {"type": "paragraph", "text": rnd.choice(SENTENCES)},
                {"type": "heading_2", "text": "Tasks"},
                {"type": "to_do", "text": f"Review the {component}", "checked": rnd.random() < 0.5},
                {"type": "bulleted_list_item", "text": f"Owner: {PEOPLE[who][0]}",
                 "children": [{"type": "bulleted_list_item", "text": rnd.choice(SENTENCES)}]},
                {"type": "numbered_list_item", "text": "Ship it behind a flag"},
                {"type": "numbered_list_item", "text": "Remove the flag"},
                {"type": "code", "text": f"make test COMPONENT='{component}'",
                 "language": rnd.choice(LANGUAGES).lower()},
                {"type": "table", "rows": [["Metric", "Target"], ["p95 latency", f"{rnd.randrange(50, 500)} ms"]]},
                {"type": "toggle", "text": "Open questions", "children": [{"type": "quote",
                                                                           "text": rnd.choice(SENTENCES)}]}]}


class NotionDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "notion", "Notion", PEOPLE[0][1], "ntn"
    json_body = True

    def consent_user(self, st) -> dict:
        return {"login": PEOPLE[0][1], "name": PEOPLE[0][0], "avatar_url": ""}

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        return {"access_token": issued.access.value, "token_type": "bearer",
                "refresh_token": issued.refresh.value if issued.refresh else None, "bot_id": nid("bot", 1),
                "workspace_icon": None, "workspace_name": "Sandbox Labs", "workspace_id": nid("workspace", 1),
                "owner": {"type": "user", "user": person(0)}, "duplicated_template_id": None,
                "request_id": str(uuid.uuid4())}


class Notion(Emulation):
    name, prefix = "notion", "/notion"
    dialect = NotionDialect()
    client = {"client_id": "sandbox-notion-client", "client_secret": "sandbox-notion-secret", "name": "Tributary"}
    limits = {None: (180, 60)}          # an average of three requests a second
    rate_header_names = ()
    auth_failure = (401, "API token is invalid.")
    collections = {"pages": Seeded(page_fields, lambda scale: 2 * scale),
                   "data_sources": Seeded(lambda rnd, i: {"title": SOURCES[i], "author": i, "description":
                                                          f"Kept by {PEOPLE[i][0]}"}, lambda scale: len(SOURCES)),
                   "comments": Seeded(lambda rnd, i: {"page": str(2 * (i // 2) + 1), "text": rnd.choice(COMMENTS),
                                                      "author": rnd.randrange(len(PEOPLE)), "discussion": i // 2})}

    def authenticate(self, st):
        # Notion's access tokens do not expire (no expires_in): only a revoked one stops working.
        token = self.credential()
        grant = st.tokens.access_grant(self.name, token, 0)
        return None if grant is None else Principal(key=token, grant=grant)

    def error_body(self, status, message, code=None):
        if status == 429:
            message = "You have been rate limited. Please try again in a few minutes."
        return {"object": "error", "status": status, "code": code or CODES.get(status, "invalid_request"),
                "message": message, "request_id": str(uuid.uuid4())}

    def not_found(self):
        return self.error(400, "Invalid request URL.", "invalid_request_url")


PROVIDER = Notion()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/v1/oauth/authorize", "/v1/oauth/token")


def route(rule: str, method: str = "GET"):
    """A Notion API route: ``Notion-Version`` is required, as the real API requires it."""
    def decorate(view):
        @functools.wraps(view)
        def versioned(principal, *args, **kwargs):
            if not request.headers.get("Notion-Version"):
                PROVIDER.fail(400, "Notion-Version header failed validation: Notion-Version header should be "
                                   "defined, instead was `undefined`.", "missing_version")
            return view(principal, *args, **kwargs)
        return PROVIDER.route(rule, (method,))(versioned)
    return decorate


# -- objects ------------------------------------------------------------------------------------

# The author of what the integration writes through the API: its bot user (GET /v1/users/me).
BOT = "bot"


def user(i) -> dict:
    return {"object": "user", "id": nid("bot", 1) if i == BOT else nid("user", i + 1)}


def person(i: int) -> dict:
    return {**user(i), "name": PEOPLE[i][0], "avatar_url": None, "type": "person", "person": {"email": PEOPLE[i][1]}}


def rich(text: str) -> list:
    return [{"type": "text", "text": {"content": text, "link": None}, "plain_text": text, "href": None, "annotations": {
        "bold": False, "italic": False, "strikethrough": False, "underline": False, "code": False, "color": "default"}}]


def common(r: dict, kind: str) -> dict:
    """What pages, data sources and blocks share; last_edited_time is rounded down to the minute."""
    url = f"https://www.notion.so/{'-'.join(r.get('title', '').split())}-{nid(kind, r['id']).replace('-', '')}"
    return {"created_time": iso_ms(r["created"]), "last_edited_time": iso_ms(r["updated"] - r["updated"] % 60),
            "created_by": user(r["author"]), "last_edited_by": user(r["author"]), "in_trash": bool(r.get("in_trash")),
            "archived": bool(r.get("in_trash")), "url": url}


def ident(name: str, prop: dict) -> str:
    return "title" if prop["type"] == "title" else name[:4].lower()


def option(name: str, choices: list, config: bool = False) -> dict:
    at = choices.index(name)
    found = {"id": f"opt-{at + 1}", "name": name, "color": ("gray", "blue", "green")[at]}
    return {**found, "description": None} if config else found


def page_json(r: dict) -> dict:
    title, shared = rich(r.get("title", "")), common(r, "page")
    if r.get("source"):
        parent = {"type": "data_source_id", "data_source_id": nid("data_source", r["source"]),
                  "database_id": nid("database", r["source"])}
        properties = {"Name": {"type": "title", "title": title},
                      "Status": {"type": "status", "status": option(r["status"], STATUSES)},
                      "Tags": {"type": "multi_select", "multi_select": [option(t, TAGS) for t in r.get("tags", [])]},
                      "Estimate": {"type": "number", "number": r.get("estimate")},
                      "Owner": {"type": "people", "people": [user(r["author"])]}}
    else:
        parent = ({"type": "page_id", "page_id": nid("page", r["parent"])} if r.get("parent")
                  else {"type": "workspace", "workspace": True})
        properties = {"title": {"type": "title", "title": title}}
    return {"object": "page", "id": nid("page", r["id"]), **shared, "is_archived": False, "is_locked": False,
            "public_url": shared["url"].replace("www.notion.so", "sandbox.notion.site") if r.get("public") else None,
            "parent": parent, "properties": {k: {"id": ident(k, v), **v} for k, v in properties.items()},
            "icon": None, "cover": None}


def source_json(r: dict) -> dict:
    config = {"Name": {"type": "title", "title": {}}, "Owner": {"type": "people", "people": {}},
              "Status": {"type": "status", "status": {"options": [option(s, STATUSES, True) for s in STATUSES],
                                                       "groups": [{"id": "all", "name": "All", "color": "gray",
                                                                   "option_ids": ["opt-1", "opt-2", "opt-3"]}]}},
              "Tags": {"type": "multi_select", "multi_select": {"options": [option(t, TAGS, True) for t in TAGS]}},
              "Estimate": {"type": "number", "number": {"format": "number"}}}
    return {"object": "data_source", "id": nid("data_source", r["id"]), "title": rich(r["title"]),
            "description": rich(r.get("description", "")), "is_inline": False, **common(r, "database"),
            "parent": {"type": "database_id", "database_id": nid("database", r["id"])},
            "database_parent": {"type": "workspace", "workspace": True}, "icon": None, "cover": None,
            "public_url": None,
            "properties": {k: {**v, "id": ident(k, v), "name": k, "description": None} for k, v in config.items()}}


def children_of(page: dict) -> list:
    """The page's blocks as ``(number, spec, children)``, numbered depth first from 1; a page of
    the tree ends with its subpages (``child_page`` blocks, whose id is the subpage's)."""
    counter = iter(range(1, 1 << 16))

    def number(specs):
        return [(next(counter), spec, number(spec.get("children") or [
            {"type": "table_row", "cells": row} for row in spec.get("rows", [])])) for spec in specs]
    found, k, pages = number(page.get("blocks") or []), (int(page["id"]) - 1) // 2, PROVIDER.collection("pages")
    seeded = [pages.get(str(2 * m + 1)) for m in (3 * k + 1, 3 * k + 2, 3 * k + 3) if m % 10]
    made = [r for r in pages.rows.values() if r.get("author") == BOT]      # made through the API, oldest first
    for sub in seeded + made:
        if sub and not sub.get("in_trash") and sub.get("parent") == page["id"]:
            found.append((sub["id"], {"type": "child_page", "text": sub["title"], "page": sub}, []))
    return found


def block_json(shared: dict, page_id: str, parent: dict, number, spec: dict, children: list) -> dict:
    kind, words = spec["type"], rich(spec.get("text", ""))
    body = {"heading_1": {"is_toggleable": False}, "heading_2": {"is_toggleable": False}, "paragraph": {"icon": None},
            "to_do": {"checked": bool(spec.get("checked"))}}.get(kind, {})
    body = {"code": {"rich_text": words, "caption": [], "language": spec.get("language", "plain text")},
            "table": {"has_column_header": True, "has_row_header": False,
                      "table_width": len(spec.get("rows", [[]])[0])},
            "table_row": {"cells": [rich(c) for c in spec.get("cells", [])]},
            "child_page": {"title": spec.get("text", "")}}.get(kind, {"rich_text": words, "color": "default", **body})
    sub = spec.get("page")
    if sub or spec.get("author") is not None:       # a subpage, or a block appended through the API: its own
        shared = common(sub or {"id": "0", "created": spec["created"], "updated": spec["created"],
                                "author": spec["author"]}, "page")
    return {"object": "block", "id": nid("page", number) if sub else nid("block", page_id, number), "parent": parent,
            **{k: v for k, v in shared.items() if k != "url"}, "type": kind, kind: body,
            "has_children": bool(children or sub and sub.get("blocks"))}


def comment_json(c: dict) -> dict:
    return {"object": "comment", "id": nid("comment", c["id"]), "parent": {"type": "page_id", "page_id": nid(
        "page", c["page"])}, "discussion_id": nid("discussion", c["discussion"]), "created_time": iso_ms(c["created"]),
            "last_edited_time": iso_ms(c["updated"]), "created_by": user(c["author"]), "rich_text": rich(c["text"]),
            "display_name": {"type": "user", "resolved_name": PEOPLE[c["author"]][0]}}


# -- endpoints ------------------------------------------------------------------------------------

def listed(rows: list, render, kind: str = "page_or_data_source", key=None) -> dict:
    """A page of ``rows`` (ordered by ``key``: newest change first) in Notion's list envelope."""
    asked = (request.get_json(silent=True) or {}) if request.method == "POST" else request.args
    raw = asked.get("page_size", 100)
    if not str(raw).isdigit() or not 1 <= int(raw) <= 100:
        PROVIDER.fail(400, f"body failed validation: body.page_size should be ≤ `100`, instead was `{raw}`.")
    chunk, following = page_by_cursor(rows, asked.get("start_cursor"), int(raw),
                                      key=key or (lambda r: (-r["updated"], r.get("kind", ""), -int(r["id"]))))
    return json_response({"object": "list", "results": [render(r) for r in chunk], "next_cursor": following,
                          "has_more": following is not None, "type": kind, kind: {}})


def find(collection: str, kind: str, value: str, what: str) -> dict:
    found = parse(value, kind)
    record = PROVIDER.collection(collection).get(found[0]) if found else None
    if record is None:
        PROVIDER.fail(404, f"Could not find {what} with ID: {value}. {UNSHARED}")
    return record


@route("/v1/search", "POST")
def search(principal):
    """Pages and data sources whose title holds ``query``, newest change first."""
    body = request.get_json(silent=True) or {}
    wanted, trash, query = (body.get("filter") or {}).get("value"), bool((body.get("filter") or {}).get(
        "in_trash")), (body.get("query") or "").lower()
    if wanted not in (None, "page", "data_source"):
        PROVIDER.fail(400, f'body failed validation: body.filter.value should be `"page"` or `"data_source"`, '
                           f'instead was `"{wanted}"`.')
    rows = [{**r, "kind": kind} for kind in ("page", "data_source") if wanted in (None, kind)
            for r in PROVIDER.collection(kind + "s").rows.values()
            if bool(r.get("in_trash")) == trash and query in r.get("title", "").lower()]
    rows.sort(key=lambda r: (-r["updated"], r["kind"], -int(r["id"])))
    return listed(rows, lambda r: page_json(r) if r["kind"] == "page" else source_json(r))


@route("/v1/data_sources/<source_id>")
def data_source(principal, source_id):
    return json_response(source_json(find("data_sources", "data_source", source_id, "data_source")))


@route("/v1/data_sources/<source_id>/query", "POST")
def query(principal, source_id):
    """A data source's rows, as ``sorts``/``filter`` by last_edited_time ask (newest first here)."""
    n, body = find("data_sources", "data_source", source_id, "data_source")["id"], request.get_json(silent=True) or {}
    since = ((body.get("filter") or {}).get("last_edited_time") or {}).get("on_or_after")
    since = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() if since else None
    rows = [r for r in PROVIDER.collection("pages").by_update(descending=True) if r.get("source") == n and bool(
        r.get("in_trash")) == bool(body.get("in_trash")) and (since is None or r["updated"] // 60 * 60 >= since)]
    return listed(rows, page_json)


@route("/v1/pages/<page_id>")
def page(principal, page_id):
    return json_response(page_json(find("pages", "page", page_id, "page")))


@route("/v1/blocks/<block_id>/children")
def block_children(principal, block_id):
    """A page's blocks (``block_id`` a page id) or a block's children, in document order."""
    on_page = bool(parse(block_id, "page"))
    page = find("pages", "page" if on_page else "block", block_id, "block")
    blocks, number = children_of(page), 0 if on_page else parse(block_id, "block")[1]
    if number:
        blocks = next((kids for at, _, kids in walk(blocks) if at == number), None)
        if blocks is None:
            PROVIDER.fail(404, f"Could not find block with ID: {block_id}. {UNSHARED}")
    parent = {"type": "page_id" if on_page else "block_id", "page_id" if on_page else "block_id": block_id}
    shared = common(page, "page")
    return listed([(pos, *block) for pos, block in enumerate(blocks)], lambda b: block_json(
        shared, page["id"], parent, *b[1:]), "block", key=lambda b: b[0])


def walk(blocks: list):
    for at, spec, children in blocks:
        if not spec.get("page"):
            yield at, spec, children
            yield from walk(children)


@route("/v1/comments")
def comments(principal):
    """The open comments on a page (``block_id`` a page id), oldest first; a block has none here."""
    target = request.args.get("block_id", "")
    on_page = bool(parse(target, "page"))
    page = find("pages", "page" if on_page else "block", target, "block")
    found = comments_on(page["id"]) if on_page else []
    return listed(sorted(found, key=lambda c: (c["created"], int(c["id"]))), comment_json, "comment",
                  key=lambda c: (c["created"], int(c["id"])))


def comments_on(page_id: str) -> list:
    """A page's comments, through an index of the collection rebuilt when comments come or go."""
    found = PROVIDER.collection("comments")
    if getattr(found, "by_page", (None,))[0] != (len(found.rows), found.next_id):
        index: dict = {}
        for c in found.rows.values():
            index.setdefault(c["page"], []).append(c["id"])
        found.by_page = ((len(found.rows), found.next_id), index)
    return [found.rows[i] for i in found.by_page[1].get(page_id, []) if found.rows.get(i, {}).get("page") == page_id]


@route("/v1/users")
def users(principal):
    """The workspace's people, with their e-mail (the integration may read user information)."""
    return listed(list(range(len(PEOPLE))), person, "user", key=lambda i: i)


@route("/v1/users/me")
def me(principal):
    return json_response({"object": "user", "id": nid("bot", 1), "name": "Tributary", "avatar_url": None, "type": "bot",
                          "bot": {"owner": {"type": "user", "user": person(0)}, "workspace_id": nid("workspace", 1),
                                  "workspace_name": "Sandbox Labs",
                                  "workspace_limits": {"max_file_upload_size_in_bytes": 5368709120}}})


@bp.post("/v1/oauth/revoke")
@guarded(PROVIDER, "oauth")
def revoke():
    """Revoke a token: HTTP Basic client authentication and a JSON ``{"token"}``."""
    st = state()
    try:
        body = token_request(PROVIDER.dialect)
        client = st.client("notion", _client_credentials(body)[0])
        if client is None or client["client_secret"] != _client_credentials(body)[1]:
            raise OAuthError("invalid_client")
    except OAuthError as exc:
        return PROVIDER.dialect.token_error(exc)[0]
    with st.lock:
        st.tokens.revoke_token("notion", body.get("token"))
    return json_response({"request_id": str(uuid.uuid4())})


# -- writes (https://developers.notion.com/reference/post-page, patch-block-children) ---------------------

WRITABLE = ("paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item", "to_do",
            "quote")


def block_specs(children, where: str) -> list[dict]:
    """Blocks sent in a write, as the collection keeps them; Notion's validation messages otherwise."""
    if not isinstance(children, list):
        PROVIDER.fail(400, f"body failed validation: {where} should be an array, instead was `{children!r}`.")
    if len(children) > 100:
        PROVIDER.fail(400, f"body failed validation: {where}.length should be ≤ `100`, instead was `{len(children)}`.")
    specs = []
    for at, block in enumerate(children):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in WRITABLE or not isinstance(block.get(kind), dict):
            PROVIDER.fail(400, f"body failed validation: {where}[{at}].{kind or 'type'} should be defined, "
                               "instead was `undefined`.")
        texts = []
        for n, part in enumerate(block[kind].get("rich_text") or []):
            content = ((part or {}).get("text") or {}).get("content")
            if not isinstance(content, str):
                PROVIDER.fail(400, f"body failed validation: {where}[{at}].{kind}.rich_text[{n}].text.content should "
                                   "be a string.")
            if len(content) > 2000:
                PROVIDER.fail(400, f"body failed validation: {where}[{at}].{kind}.rich_text[{n}].text.content.length "
                                   f"should be ≤ `2000`, instead was `{len(content)}`.")
            texts.append(content)
        specs.append({"type": kind, "text": "".join(texts), **({"checked": bool(block[kind].get("checked"))}
                                                                if kind == "to_do" else {})})
    return specs


@route("/v1/pages", "POST")
def create_page(principal):
    """A page under a page (its ``title`` property and optional ``children``): 200 with the page."""
    body = request.get_json(silent=True)
    parent = body.get("parent") if isinstance(body, dict) else None
    if not isinstance(parent, dict) or not parent.get("page_id"):
        PROVIDER.fail(400, "body failed validation: body.parent.page_id should be defined, instead was `undefined`.")
    above = find("pages", "page", parent["page_id"], "page")
    if above.get("source"):
        PROVIDER.fail(400, "Can't create a page under a database row with this request: its parent is a data source.")
    title = (((body.get("properties") or {}).get("title") or {}).get("title") or [])
    words = "".join(((t or {}).get("text") or {}).get("content") or "" for t in title if isinstance(t, dict))
    if not words:
        PROVIDER.fail(400, "body failed validation: body.properties.title should be defined, instead was `undefined`.")
    blocks = block_specs(body.get("children") or [], "body.children")
    st = state()
    with st.lock:
        r = PROVIDER.collection("pages").add({"title": words, "author": BOT, "in_trash": False, "public": False,
                                              "parent": above["id"], "blocks": blocks}, st.now())
    return json_response(page_json(r))


@route("/v1/blocks/<block_id>/children", "PATCH")
def append_children(principal, block_id):
    """Append blocks at the end of a page: 200 with the blocks made."""
    page = find("pages", "page", block_id, "block")
    body = request.get_json(silent=True)
    specs = block_specs(body.get("children") if isinstance(body, dict) else None, "body.children")
    st = state()
    with st.lock:
        before = len(page.get("blocks") or [])
        specs = [{**spec, "created": int(st.now()), "author": BOT} for spec in specs]     # the bot's, made now
        PROVIDER.collection("pages").update(page["id"], {"blocks": [*(page.get("blocks") or []), *specs]}, st.now())
        made = [b for b in children_of(page) if not b[1].get("page")][before:before + len(specs)]
    parent = {"type": "page_id", "page_id": block_id}
    shared = common(page, "page")
    return json_response({"object": "list", "results": [block_json(shared, page["id"], parent, *b) for b in made],
                          "next_cursor": None, "has_more": False, "type": "block", "block": {}})
