"""Notion: a public integration (OAuth) reads the pages and databases its members share with it.

Docs (API version 2025-09-03, the one the pinned ``@notionhq/client`` 5.26.0 describes, sent as
``Notion-Version``; https://developers.notion.com/docs/upgrade-guide-2025-09-03: a database is
a container of data sources, rows are queried per data source, search filters on ``page`` or
``data_source``): https://developers.notion.com/reference/intro, .../docs/authorization,
.../reference/post-search, .../reference/get-block-children, .../reference/query-a-data-source,
.../reference/list-comments, .../reference/request-limits, .../reference/status-codes.

Connect: consent at ``/v1/oauth/authorize?owner=user``; the token exchange is JSON with HTTP Basic
client authentication and answers the workspace, the bot and its owner; tokens do not expire.
The connection's account is the workspace (``GET /v1/users/me``: the bot's ``workspace_id``).

Streams, each read newest first by ``last_edited_time`` and stopped at the cursor. Notion rounds
that time to the minute, so the records on the cursor's minute are read again on every pass
(``Incremental.coarse``: an equal timestamp is never skipped; ingest drops what did not change).

* ``pages``: ``POST /v1/search`` for pages (rows are ``database_entries``), each with its block
  tree (``GET /v1/blocks/{id}/children``, following ``has_children`` but not into subpages) as
  structured text: headings, lists, to-dos, code, tables.
* ``databases``: the data sources (search for ``data_source``): title, description, columns.
* ``database_entries``: channel a data source; ``POST /v1/data_sources/{id}/query`` with
  ``on_or_after`` the cursor; the properties as ``Name: value`` lines, then the row's blocks.
* ``comments``: per page with open comments, its discussions (``GET /v1/comments?block_id=``).
  Page-level only: inline comments cost a request per block. Notion does not say a comment moves
  its page's ``last_edited_time``: an incremental run rereads the comments of pages edited since
  the cursor, and the nightly full sync finds the others.

Deletion: search hides the trash, so an incremental pass first reads it (``filter.in_trash``,
down to the cursor) as tombstones. What a full pass (or the prune's id listing) did not see is
confirmed by ``GET /v1/pages/{id}`` (``/v1/data_sources/{id}``): 404 ``object_not_found``
(deleted, or no longer shared) or ``in_trash`` is gone. (Search may also stop short, saying
``request_status: incomplete``; what it did not list is then kept, never deleted unconfirmed.)

Readers: the public API does not tell who a page is shared with (no permissions endpoint; a
page carries only ``public_url``). So the access mode decides: ``workspace`` (the default),
the whole workspace; ``source``, a page published to the web is everyone's and any other is
hidden (fail closed), counted in the run's ``records_hidden``.

Rate limit: an average of 3 requests a second per integration; 429 ``rate_limited`` with
Retry-After. Notion's Python SDK is not used: it brings its own HTTP client, and the calls are
few; every request goes through the kit's paced client.
"""
from .actions import Action, Lookup, Phrasing, ProviderRequest, schema, string
from .base import CatalogEntry, DocumentData, OAuthEndpoints, Page, RateLimits
from .errors import ProviderAuthError, ProviderRefused
from .kit import Channels, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, oauth_bearer
from .rest import RestStream, TokenPaginator, dig, parse_time, read_updated_desc

CURSOR = TokenPaginator(("next_cursor",), "start_cursor", "page_size")
NEWEST = {"timestamp": "last_edited_time", "direction": "descending"}
INCREMENTAL = Incremental.newest_first("last_edited_time", coarse=True)


def search(**body) -> RestStream:
    return RestStream("/v1/search", CURSOR, ("results",), {"sort": NEWEST, **body}, method="POST", body=True)


def of_kind(kind: str) -> RestStream:
    return search(filter={"property": "object", "value": kind})


TRASH = search(filter={"in_trash": True})
USERS = RestStream("/v1/users", CURSOR, ("results",))
BLOCKS = Join("_blocks", RestStream("/v1/blocks/{block}/children", CURSOR, ("results",)),
              args=lambda r: {"block": r["id"]},
              nested=lambda b: {"block": b["id"]} if b.get("has_children") and b["type"] not in (
                  "child_page", "child_database") else None, content=True)
COMMENTS = Join("_comments", RestStream("/v1/comments", CURSOR, ("results",), {"block_id": "{block}"}),
                args=lambda r: {"block": r["id"]}, required=True)


# -- records as text ------------------------------------------------------------------------------

def text(rich) -> str:
    return "".join(part.get("plain_text", "") for part in rich or [])


def title_of(record: dict) -> str:
    """A data source's title, or a page's title property."""
    if record.get("object") == "data_source":
        return text(record.get("title")) or "Untitled"
    return next((text(p["title"]) for p in record["properties"].values() if p.get("type") == "title"), "") or "Untitled"


MARKS = {"heading_1": "# ", "heading_2": "## ", "heading_3": "### ", "bulleted_list_item": "- ", "quote": "> "}
NESTS = {"bulleted_list_item", "numbered_list_item", "to_do", "toggle"}


def blocks_text(blocks: list, depth: int = 0) -> list[str]:
    """Blocks as markdown-like lines; list children indented under their item."""
    lines, number = [], 0
    for block in blocks:
        kind, body, children = block.get("type"), block.get(block.get("type")) or {}, block.get("_blocks") or []
        number = number + 1 if kind == "numbered_list_item" else 0
        words = text(body.get("rich_text"))
        if kind == "table":
            cells = [[text(c) for c in row.get("table_row", {}).get("cells", [])] for row in children]
            rows = ["| " + " | ".join(row) + " |" for row in cells]
            if body.get("has_column_header") and len(rows) > 1:
                rows.insert(1, "|" + " --- |" * len(cells[0]))
            line, children = "\n".join(rows), []
        elif kind == "to_do":
            line = f"- [{'x' if body.get('checked') else ' '}] {words}"
        elif kind == "numbered_list_item":
            line = f"{number}. {words}"
        elif kind == "code":
            line = f"```{body.get('language', '')}\n{words}\n```"
        elif kind in ("child_page", "child_database"):
            line = f"{'Page' if kind == 'child_page' else 'Database'}: {body.get('title', '')}"
        elif kind == "divider":
            line = "---"
        else:
            line = MARKS.get(kind, "") + (words or body.get("expression") or text(body.get("caption"))
                                          or body.get("url") or "")
        if line.strip():
            lines += ([""] if kind.startswith("heading") and lines else []) + ["  " * depth + part
                                                                                for part in line.split("\n")]
        lines += blocks_text(children, depth + 1 if kind in NESTS else depth)
    return lines


VALUES = {
    "title": text, "rich_text": text, "number": lambda v: "" if v is None else str(v),
    "select": lambda v: (v or {}).get("name", ""), "status": lambda v: (v or {}).get("name", ""),
    "multi_select": lambda v: ", ".join(o["name"] for o in v or []),
    "people": lambda v: ", ".join(p.get("name") or p["id"] for p in v or []),
    "date": lambda v: v and v["start"] + (f" to {v['end']}" if v.get("end") else "") or "",
    "checkbox": lambda v: "Yes" if v else "No", "boolean": lambda v: "Yes" if v else "No",
    "url": str, "email": str, "phone_number": str, "string": str, "created_time": str, "last_edited_time": str,
    "created_by": lambda v: v.get("name") or v["id"], "last_edited_by": lambda v: v.get("name") or v["id"],
    "files": lambda v: ", ".join(f.get("name", "") for f in v or []), "formula": lambda v: value(v),
    "rollup": lambda v: ", ".join(map(value, v["array"])) if v.get("type") == "array" else value(v),
    "unique_id": lambda v: f"{v.get('prefix') or ''}{'-' if v.get('prefix') else ''}{v.get('number')}",
}


def value(prop: dict) -> str:
    """A property value (or a formula's or rollup's result) as text; relations are left out."""
    kind = prop.get("type")
    found = prop.get(kind)
    return VALUES[kind](found) if kind in VALUES and found is not None else ""


# -- documents ------------------------------------------------------------------------------------

def document(record: dict, kind: str, content: str, **extra) -> DocumentData:
    return DocumentData(external_id=record["id"], title=title_of(record), content=content, type=kind,
                        url=record.get("url"), author=record.get("_author"), metadata={
                            "parent": record.get("parent"), "public_url": record.get("public_url")},
                        created_at=parse_time(record.get("created_time")),
                        updated_at=parse_time(record.get("last_edited_time")), **extra)


def entry_document(r: dict) -> DocumentData:
    props = [f"{name}: {shown}" for name, p in r["properties"].items() if p.get("type") != "title"
             and (shown := value(p))]
    body = blocks_text(r.get("_blocks") or [])
    return document(r, "database_entry", "\n".join(props + ([""] + body if body else [])))


def database_document(r: dict) -> DocumentData:
    columns = ", ".join(f"{name} ({p['type']})" for name, p in (r.get("properties") or {}).items())
    return document(r, "database", "\n".join(filter(None, [text(r.get("description")), f"Properties: {columns}"])))


def comments_document(r: dict) -> DocumentData:
    """A page's open comments, a discussion a part: ``who: text`` lines, discussions apart by ``---``."""
    said = [(dig(c, ("display_name", "resolved_name")) or c["created_by"]["id"], c) for c in r["_comments"]]
    threads: dict = {}
    for who, c in said:
        threads.setdefault(c["discussion_id"], []).append(f"{who}: {text(c['rich_text'])}")
    found = document(r, "comment", "\n\n---\n\n".join("\n".join(t) for t in threads.values()))
    found.title, found.author = f"Comments on {found.title}", said[0][0]
    found.updated_at = max(parse_time(c["last_edited_time"]) for _, c in said)
    return found


def published(record: dict):
    """A page published to the web is everyone's; who else may read a page, the API does not say."""
    from access.service import Readers

    return Readers.everyone() if record.get("public_url") else None


def people(records: list, body, api) -> None:
    """Names for the users a record names (``GET /v1/users``, once a run; without the "read user
    information" capability Notion refuses it, and ids stay)."""
    if "notion.people" not in api.ctx.memo:
        try:
            api.ctx.memo["notion.people"] = {u["id"]: u.get("name") for u in api.records(USERS)}
        except ProviderRefused:
            api.ctx.memo["notion.people"] = {}
    names = api.ctx.memo["notion.people"]
    for r in records:
        r["_author"] = names.get(dig(r, ("created_by", "id")))
        for prop in (r.get("properties") or {}).values():
            for person in prop.get("people") or [] if prop.get("type") == "people" else []:
                person.setdefault("name", names.get(person["id"]))


def since(cursor):
    """A data source query's filter from the cursor (None: a full pass, no filter)."""
    return cursor and {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": cursor}}


def is_row(r: dict) -> bool:
    return dig(r, ("parent", "type")) == "data_source_id"


PAGE = FetchById("/v1/pages/{id}")
SOURCES = Channels("database", of_kind("data_source"), name=title_of, lookup="/v1/data_sources/{channel}")
trashed = lambda r: bool(r.get("in_trash") or r.get("archived"))  # noqa: E731


# -- actions (https://developers.notion.com/reference/post-page, .../patch-block-children) -----------------

NOTION_ID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
NOTION_ID_RE = r"(?P<{}>[0-9a-fA-F-]{{32,36}})"


def paragraphs(content: str) -> list[dict]:
    """Text as paragraph blocks (one per paragraph; Notion caps a text object at 2,000 characters)."""
    parts = [p.strip() for p in content.split("\n\n") if p.strip()]
    return [{"object": "block", "type": "paragraph", "paragraph": {"rich_text": [
        {"type": "text", "text": {"content": p[i:i + 2000]}} for i in range(0, len(p), 2000)]}} for p in parts]


def _create_page(params, api):
    body = {"parent": {"page_id": params["parent_id"]},
            "properties": {"title": {"title": [{"type": "text", "text": {"content": params["title"]}}]}}}
    if params.get("content"):
        body["children"] = paragraphs(params["content"])
    return [ProviderRequest("POST", "/v1/pages", body)]


def _append(params, api):
    return [ProviderRequest("PATCH", f"/v1/blocks/{params['block_id']}/children",
                            {"children": paragraphs(params["content"])})]


def _children(of: str):
    """The listing of a page's (or block's) children, in document order: what was written last
    is on the last page, so every page is read (``Lookup.more``)."""
    return lambda write, params, api, since: ProviderRequest("GET", f"/v1/blocks/{params[of]}/children",
                                                             params={"page_size": 100})


def _next_children(body, asked: ProviderRequest) -> ProviderRequest | None:
    cursor = (body or {}).get("next_cursor") if (body or {}).get("has_more") else None
    return ProviderRequest("GET", asked.path, params={**asked.params, "start_cursor": cursor}) if cursor else None


def _text_of(block) -> str:
    return "".join(((t or {}).get("text") or {}).get("content") or "" for t in (block or {}).get("rich_text") or [])


# An interrupted create_page: among the parent's children, a child_page block with the title,
# created by the integration's bot since the run began (its id is the page's). An interrupted
# append_blocks: among the block's children, a paragraph with the first paragraph's text, by the
# bot since the run began (the answer names that block).
FIND_PAGE = Lookup(
    _children("parent_id"), lambda write, params: {"type": "child_page", "child_page.title": params["title"]},
    records=("results",), mine="created_by.id", whoami=("/v1/users/me", "id"), made="created_time",
    more=_next_children,
    answer=lambda block, listing: {"object": "page", "id": block["id"],
                                   "url": "https://www.notion.so/" + block["id"].replace("-", "")})
FIND_BLOCKS = Lookup(
    _children("block_id"),
    lambda write, params: {"type": "paragraph",
                           "paragraph": lambda block: _text_of(block) == _text_of(write.body["children"][0]["paragraph"])},
    records=("results",), mine="created_by.id", whoami=("/v1/users/me", "id"), made="created_time",
    more=_next_children, answer=lambda block, listing: {"object": "list", "results": [block]})


ACTIONS = (
    Action("create_page", "Create a page under a page shared with the integration.",
           schema(("parent_id", "title"), parent_id=string("The parent page's id.", pattern=NOTION_ID),
                  title=string("The page's title.", maxLength=2000), content=string("The page's text; blank lines part paragraphs.")),
           "insert_content", _create_page,
           lambda answers, params, api: {"id": answers[-1]["id"], "url": answers[-1].get("url")}, find=FIND_PAGE,
           phrasings=(Phrasing(r"create (?:a )?(?:notion )?page (?:titled|called) (?P<title>.+?) under "
                               + NOTION_ID_RE.format("parent_id") + r"(?: (?:with|saying) (?P<content>.+))?",
                               "Create a page titled Launch checklist under 59833787-2cf9-4fdf-8782-e53db20768a5"),)),
    Action("append_blocks", "Append paragraphs at the end of a page (or another block that takes children).",
           schema(("block_id", "content"), block_id=string("The page's (or block's) id.", pattern=NOTION_ID),
                  content=string("The text to append; blank lines part paragraphs.")),
           "insert_content", _append,
           lambda answers, params, api: {"id": params["block_id"],
                                         "block_ids": [b["id"] for b in (answers[-1] or {}).get("results") or []]},
           find=FIND_BLOCKS,
           phrasings=(Phrasing(r"(?:append|add) (?P<content>.+?) to (?:the )?(?:notion )?page "
                               + NOTION_ID_RE.format("block_id"),
                               "Append Decision: ship on Friday to page 59833787-2cf9-4fdf-8782-e53db20768a5"),)),
)


class NotionConnector(RestConnector):
    catalog = CatalogEntry(
        type="notion", display_name="Notion", category="docs", auth_method="oauth_redirect",
        description="Pages, databases and their entries, and comments from the Notion pages shared with the "
                    "integration.",
        docs_url="https://developers.notion.com/reference/intro",
        rate_limits=RateLimits(requests_per_minute=180),    # an average of 3 requests a second
        base_url="https://api.notion.com", api_url="https://api.notion.com",
        oauth=OAuthEndpoints(authorize="/v1/oauth/authorize", token="/v1/oauth/token", revoke="/v1/oauth/revoke",
                             # No OAuth scopes: capabilities are set on the integration, pages chosen at consent.
                             scopes=(), authorize_params={"owner": "user"}, token_auth_method="client_secret_basic",
                             token_body="json", pkce=False))
    auth = oauth_bearer()
    headers = {"Notion-Version": "2025-09-03"}
    actions = ACTIONS
    page_size = 100
    whoami = WhoAmI("/v1/users/me", id="bot.workspace_id", handle="bot.workspace_name", name="bot.workspace_name")
    errors = (OnError(401, error=ProviderAuthError, message="Notion no longer accepts this connection's token "
                                                           "({said}); reconnect Notion."),
              OnError(403, "restricted_resource", message="Notion will not let the integration read this ({said}): "
                      "the page is not shared with the integration, or it lacks the capability."))
    streams = (
        StreamSpec("pages", "page", of_kind("page"), description="Pages shared with the integration, with their "
                   "content", document=lambda r: document(r, "page", "\n".join(blocks_text(r["_blocks"]))),
                   incremental=INCREMENTAL, joins=(BLOCKS,), enrich=people, readers=published, tombstone=trashed,
                   keep=lambda r: r["object"] == "page" and not is_row(r), list_ids=True,
                   fetch=FetchById(PAGE.path, belongs=lambda r, api: not is_row(r))),
        StreamSpec("databases", "database", of_kind("data_source"), description="Databases (data sources): title, "
                   "description and properties", document=database_document, incremental=INCREMENTAL,
                   enrich=people, readers=published, tombstone=trashed, keep=lambda r: r["object"] == "data_source",
                   list_ids=True, fetch=FetchById("/v1/data_sources/{id}")),
        StreamSpec("database_entries", "database_entry",
                   RestStream("/v1/data_sources/{channel}/query", CURSOR, ("results",), {"sorts": [NEWEST]},
                              method="POST", body=True),
                   description="Entries of shared databases, their properties as text", document=entry_document,
                   channels=SOURCES, joins=(BLOCKS,), enrich=people, readers=published, tombstone=trashed,
                   incremental=Incremental.newest_first("last_edited_time", param="filter", coarse=True, format=since),
                   list_ids=True, fetch=FetchById(PAGE.path, belongs=lambda r, api: dig(
                       r, ("parent", "data_source_id")) == api.channel)),
        StreamSpec("comments", "comment", of_kind("page"), description="Open comments on pages, a document per "
                   "page", document=comments_document, incremental=INCREMENTAL, joins=(COMMENTS,), readers=published,
                   tombstone=trashed, keep=lambda r: r["object"] == "page", list_ids=True, fetch=PAGE),
    )

    def read(self, ctx, stream, *, state, mode, channel=None):
        if mode == "incremental" and (state or {}).get("cursor") and not state.get("resume"):
            yield from self._trashed(ctx, self.spec(stream), state, channel)
        yield from super().read(ctx, stream, state=state, mode=mode, channel=channel)

    def _trashed(self, ctx, spec: StreamSpec, state: dict, channel):
        """Tombstones before an incremental pass: what went to the trash since the cursor, read
        once a run down to the oldest cursor asked for."""
        cursor = state["cursor"]
        low, found = ctx.memo.get("notion.trash", (None, []))
        if low is None or cursor < low:
            fetch = self._fetcher(None, TRASH, self.api(ctx))
            found = [r for page in read_updated_desc(fetch, state={"cursor": cursor}, mode="incremental",
                                                     key=lambda r: r["id"], updated=lambda r: r["last_edited_time"])
                     for r in page.records]
            ctx.memo["notion.trash"] = (cursor, found)
        gone = [r["id"] for r in found if r["last_edited_time"] >= cursor and (spec.keep is None or spec.keep(r))
                and (channel is None or dig(r, ("parent", "data_source_id")) == channel)]
        if gone:
            yield Page([], state, deleted=gone)

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"base_url": f"{sandbox_url}/notion", "api_url": f"{sandbox_url}/notion",
                "client_id": "sandbox-notion-client", "client_secret": "sandbox-notion-secret"}
