"""Confluence Cloud: spaces as channels, pages (storage format as structured text) and their comments.

Docs: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/ (CQL content
search), https://developer.atlassian.com/cloud/confluence/cql-fields/,
https://developer.atlassian.com/cloud/confluence/rest/v2/intro/ (spaces, pages, comments by id);
OAuth, the site and rate limits as ``connectors/_atlassian.py`` says (paths under
``https://api.atlassian.com/ex/confluence/{cloudid}/wiki``). A space is a channel by its key.

Why CQL and not the v2 pages listing: v2 sorts a space's pages by modified date but cannot filter
by it, and lists footer comments only per page or for the whole site, so a changed comment (which
does not change its page) would mean reading every page's comments. CQL's content search
(``GET /wiki/rest/api/content/search``) filters both kinds per space in one query, ``type = page
AND space = "KEY" AND lastmodified >= "yyyy-MM-dd HH:mm" ORDER BY lastmodified ASC`` (and ``type
= comment``), pages by ``_links.next`` cursors, and expands each page's body, version, ancestors
and read restrictions in the same answer. CQL dates have minute granularity in the user's zone
(``GET /wiki/rest/api/user/current``): the cursor is the UTC minute of the newest change, the
boundary minute is read again and its unchanged records dropped by fingerprint (``_atlassian.py``).

Deletion: the space's ids by CQL (no dates), then each unseen one from v2, which reads the
content store rather than the search index: ``GET /wiki/api/v2/pages/{id}`` (404, or a status
other than ``current``: trashed, deleted, archived) and ``GET /wiki/api/v2/footer-comments/{id}``.

Who may read (``source`` access mode): a page's own and inherited read restrictions
(``restrictions.read`` expanded inline; each ancestor's from ``GET /wiki/rest/api/content/{id}/
restriction/byOperation/read``): users (``confluence:<accountId>``) and groups; with several
restricted levels, only readers every level names (conservative). An unrestricted page is read by
the space's readers (``GET /wiki/api/v2/spaces/{id}/permissions``: the users and groups allowed
to read the space). A comment is read by its page's readers. Group members come from ``GET
/wiki/rest/api/group`` and ``.../group/{id}/membersByGroupId``. Where Confluence will not list a
space's permissions, its records are hidden and the run says why; a page whose restrictions
cannot be read is hidden. Not resolved: anonymous and role-based (RBAC) space grants
(conservative), and whether a restricted page's named readers may also read its space.

Not synced yet: inline comments (CQL lists them with the footer ones, ``extensions.location``
tells them apart), blog posts, attachments, and archived pages (CQL and the id listing read
current content only).
"""
import html
import re
from html.parser import HTMLParser

from . import _atlassian as atlassian
from .actions import Action, Lookup, Phrasing, ProviderRequest, schema, string
from .base import CatalogEntry, DocumentData
from .errors import ProviderRefused, ReadersUnknown
from .kit import Channels, FetchById, Incremental, RestConnector, StreamSpec, oauth_bearer
from .rest import BoundedCache, NextUrlPaginator, RestStream, parse_time

WIKI = "/ex/confluence/{account}/wiki"
V1, V2, KIND = WIKI + "/rest/api", WIKI + "/api/v2", "confluence"
LINKS = NextUrlPaginator(("_links", "next"), "limit")
SEARCH = V1 + "/content/search"
EXPAND = {"page": "body.storage,version,history,space,ancestors,restrictions.read.restrictions.user,"
                  "restrictions.read.restrictions.group",
          "comment": "body.storage,version,history,space,container"}
SPACE_PERMISSIONS = RestStream(V2 + "/spaces/{space}/permissions", LINKS, records_path=("results",))
GROUPS = RestStream(V1 + "/group", LINKS, records_path=("results",))
GROUP_MEMBERS = RestStream(V1 + "/group/{group}/membersByGroupId", LINKS, records_path=("results",))


def cql(kind: str):
    def query(cursor, api) -> str:
        where = f'type = {kind} AND space = "{api.channel}"'
        if cursor:
            zone = atlassian.user_zone(api, V1 + "/user/current")
            where += f' AND lastmodified >= "{atlassian.query_minute(cursor, zone)}"'
        return where + " ORDER BY lastmodified ASC"
    return query


def space_id(api, key: str) -> str:
    memo = api.ctx.memo.setdefault("confluence.spaces", {})
    if key not in memo:
        found = (api.get(api.fill(V2 + "/spaces"), {"keys": key}) or {}).get("results") or [{}]
        memo[key] = str(found[0].get("id") or "")
    return memo[key]


def space_readers(api, key: str):
    """Who may read space ``key``, once a run (``ReadersUnknown`` where Confluence will not say)."""
    def compute(api, key):
        from access.service import Readers

        entries = set()
        for grant in atlassian.every(api, SPACE_PERMISSIONS, space=space_id(api, key)):
            principal, operation = grant.get("principal") or {}, grant.get("operation") or {}
            if (operation.get("key"), operation.get("targetType")) != ("read", "space"):
                continue
            if principal.get("type") == "user":
                entries.add(atlassian.person(KIND, principal.get("id")))
            elif principal.get("type") == "group":
                entries.add(atlassian.group(KIND, api.ctx.connection_id, principal.get("id")))
        return Readers.of(*entries)
    return atlassian.remembered(api, "confluence.readers", key, compute,
                                "Confluence would not list who may read space {key} ({said}); its pages and comments "
                                "are hidden from every member until the connection's account may view its permissions.")


def _restricted(api, restrictions: dict | None) -> frozenset | None:
    """The readers a read restriction names (None: not restricted)."""
    users = ((restrictions or {}).get("user") or {}).get("results") or ()
    groups = ((restrictions or {}).get("group") or {}).get("results") or ()
    found = {atlassian.person(KIND, u["accountId"]) for u in users if u.get("accountId")}
    found |= {atlassian.group(KIND, api.ctx.connection_id, g["id"]) for g in groups if g.get("id")}
    return frozenset(found) or None


def _cached(api, name: str, key: str, load):
    cache = api.ctx.memo.setdefault(("confluence", name), BoundedCache(4096))
    return cache.get_or_load(key, load)


def _restriction_of(api, content_id: str) -> frozenset | None:
    return _cached(api, "restriction", content_id, lambda: _restricted(api, (api.get(
        api.fill(V1 + "/content/{id}/restriction/byOperation/read", id=content_id),
        {"expand": "restrictions.user,restrictions.group", "limit": 200}) or {}).get("restrictions")))


def page_readers(api, page: dict):
    """A page's readers: those every restricted level (the page, its ancestors) names; the
    space's when none is restricted; nobody when a restriction cannot be read; None (hidden,
    counted) when the space's readers are unknown (a restriction narrows them, it never grants
    more)."""
    from access.service import Readers

    try:
        space = space_readers(api, api.channel)
        inline = page.get("restrictions")
        levels = [_restricted(api, (inline.get("read") or {}).get("restrictions")) if inline
                  else _restriction_of(api, page["id"])]
        ancestors = page.get("ancestors")
        if ancestors is None:
            ancestors = _cached(api, "ancestors", page["id"], lambda: (api.get(
                api.fill(V2 + "/pages/{id}/ancestors", id=page["id"]), {"limit": 250}) or {}).get("results") or [])
        levels += [_restriction_of(api, str(a["id"])) for a in ancestors]
        restricted = [level for level in levels if level is not None]
        return Readers.of(*frozenset.intersection(*restricted)) if restricted else space
    except ReadersUnknown:
        return None
    except ProviderRefused:
        return Readers.nobody()


def _as_search_result(record: dict, api) -> dict:
    """A v2 page or footer comment (fetched by id) in the shape content search answers."""
    if "when" in (record.get("version") or {}):
        return record
    version, space = record.get("version") or {}, record.get("spaceId")      # a comment names its page only
    found = {"id": str(record["id"]), "type": "comment" if "pageId" in record else "page",
             "status": record.get("status"), "title": record.get("title"),
             "space": {"key": api.channel if space is None or str(space) == space_id(api, api.channel) else None},
             "version": {"when": version.get("createdAt"), "number": version.get("number"),
                         "by": {"accountId": version.get("authorId")}},
             "history": {"createdDate": record.get("createdAt"), "createdBy": {"accountId": record.get("authorId")}},
             "body": {"storage": {"value": ((record.get("body") or {}).get("storage") or {}).get("value") or ""}},
             "_links": {"webui": (record.get("_links") or {}).get("webui")}}
    if "pageId" in record:
        found["container"] = {"id": str(record["pageId"]), "title": (record.get("title") or "").removeprefix("Re: ")}
    return found


def with_readers(records, body, api) -> None:
    """``enrich``: v2 records as search results, each record's readers and the site's address."""
    site = atlassian.site_url(api)
    for index, record in enumerate(records):
        record = records[index] = _as_search_result(record, api)
        page = {"id": record["container"]["id"]} if record["type"] == "comment" else record
        if not api.ctx.readers_wanted:
            readers = None
        elif record["type"] == "comment":
            readers = _cached(api, "page_readers", page["id"], lambda: page_readers(api, page))
        else:
            readers = page_readers(api, page)
        record["_readers"], record["_site"] = atlassian.stored(readers), site


def _belongs(record, api) -> bool:
    return record.get("status") == "current" and (record.get("space") or {}).get("key") == api.channel


SPACES = Channels("space", RestStream(V2 + "/spaces", LINKS, records_path=("results",)), id="key", name="name",
                  lookup=V2 + "/spaces?keys={channel}", lookup_path=("results", 0),
                  readers=atlassian.known_or_raise(space_readers))


def _stream(kind: str, plural: str, fetch: str, **more) -> StreamSpec:
    return StreamSpec(
        plural, kind, channels=SPACES, enrich=with_readers, readers=atlassian.readers_of,
        listing=RestStream(SEARCH, LINKS, records_path=("results",), params={"expand": EXPAND[kind]}),
        incremental=Incremental.since("cql", lambda r: atlassian.utc_minute(r["version"]["when"]), format=cql(kind)),
        list_ids=RestStream(SEARCH, LINKS, records_path=("results",), params={"cql": f'type = {kind} AND space = "{{channel}}"'}),
        fetch=FetchById(fetch, params={"body-format": "storage"}, belongs=_belongs), **more)


PAGES = _stream("page", "pages", V2 + "/pages/{id}", description="Pages with their body as structured text",
                document=lambda r: page_document(r))
COMMENTS = _stream("comment", "comments", V2 + "/footer-comments/{id}", description="Footer comments on pages",
                   document=lambda r: comment_document(r), parents=("pages",),
                   rederive=lambda child, page: rederived(child, page),
                   keep=lambda r: (r.get("extensions") or {}).get("location", "footer") == "footer")


# -- actions (https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-post) ---------

def _create_page(params, api):
    """The space's id from its key (v2 takes ids), then the page in storage format."""
    spaces = api.get(api.fill(WIKI + "/api/v2/spaces"), {"keys": params["space"]}) or {}
    found = (spaces.get("results") or [None])[0]
    if found is None:
        from core.errors import ValidationError

        raise ValidationError(f"Confluence has no space {params['space']!r} this connection can see.",
                              code="invalid_action_parameter", details={"parameter": "space"})
    body = {"spaceId": str(found["id"]), "status": "current", "title": params["title"],
            "body": {"representation": "storage", "value": "".join(
                f"<p>{html.escape(p.strip())}</p>" for p in params.get("body", "").split("\n\n") if p.strip())}}
    if params.get("parent_id"):
        body["parentId"] = params["parent_id"]
    return [ProviderRequest("POST", api.fill(WIKI + "/api/v2/pages"), body)]


def _page_created(answers, params, api):
    page = answers[-1]
    webui = (page.get("_links") or {}).get("webui") or ""
    return {"id": page["id"], "url": f"{atlassian.site_url(api)}/wiki{webui}" if webui else None,
            "title": page.get("title")}


# An interrupted create_page: the space's current page with its title (Confluence keeps a title
# once per space), made by the connection's account since the run began, under its parent.
FIND_PAGE = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", api.fill(V2 + "/pages"), params={
        "space-id": write.body["spaceId"], "title": write.body["title"], "status": "current", "limit": 25}),
    lambda write, params: {"title": write.body["title"], "spaceId": write.body["spaceId"],
                           "parentId": lambda parent: write.body.get("parentId") in (None, parent)},
    records=("results",), mine="authorId", whoami=(V1 + "/user/current", "accountId"), made="createdAt")


ACTIONS = (
    Action("create_page", "Create a page in a space (optionally under a parent page).",
           schema(("space", "title"), space=string("The space's key (ENG).", pattern=r"^[A-Za-z0-9~_]{1,255}$"),
                  title=string("The page's title.", maxLength=255), body=string("The page's text; blank lines part paragraphs."),
                  parent_id=string("The parent page's id.", pattern=r"^[0-9]{1,20}$")),
           "write:page:confluence", _create_page, _page_created, channel="space", find=FIND_PAGE,
           phrasings=(Phrasing(r"create (?:a )?(?:confluence )?page in (?P<space>[\w~]+) (?:titled|called) (?P<title>.+?)"
                               r"(?: (?:with body|saying) (?P<body>.+))?",
                               "Create a page in ENG titled Release notes with body The release went out today."),)),
)


class ConfluenceConnector(RestConnector):
    catalog = CatalogEntry(
        type="confluence", display_name="Confluence", category="docs", auth_method="oauth_redirect",
        description="Pages and their comments from your Confluence Cloud site's spaces.",
        docs_url="https://developer.atlassian.com/cloud/confluence/rest/v2/intro/",
        rate_limits=atlassian.RATE_LIMITS, base_url="https://auth.atlassian.com", api_url="https://api.atlassian.com",
        # CQL search (v1) takes the classic scopes; spaces, pages and comments by id (v2) the granular ones.
        oauth=atlassian.oauth("search:confluence", "read:confluence-content.all", "read:confluence-space.summary",
                              "read:confluence-groups", "read:confluence-user", "read:space:confluence", "read:page:confluence",
                              "read:comment:confluence", "read:space.permission:confluence",
                              "write:page:confluence"),   # the create_page action
        permissions=True)
    streams = (PAGES, COMMENTS)
    actions = ACTIONS
    auth = oauth_bearer()
    errors = atlassian.ERRORS
    page_size = 50      # CQL search with bodies expanded answers at most 50 a page

    def account(self, access_token):
        return atlassian.site_account(self, access_token, "confluence")

    def groups(self, ctx):
        """The members of every group of the site (a restricted page may name any of them)."""
        api, found = self.api(ctx), {}
        for entry in atlassian.every(api, GROUPS):
            try:
                users = atlassian.every(api, GROUP_MEMBERS, group=entry["id"])
            except ProviderRefused:
                continue    # a group Confluence will not list grants nobody
            found[atlassian.group(KIND, ctx.connection_id, entry["id"])[1]] = atlassian.members(users, KIND)
        return found

    @classmethod
    def sandbox_settings(cls, sandbox_url):
        return atlassian.sandbox_settings(sandbox_url)


# -- documents ----------------------------------------------------------------------------------

def _who(record: dict) -> str | None:
    person = ((record.get("version") or {}).get("by") or {}) or ((record.get("history") or {}).get("createdBy") or {})
    return person.get("displayName") or person.get("publicName") or person.get("accountId")


def _document(r: dict, kind: str, title: str, **more) -> DocumentData:
    webui = (r.get("_links") or {}).get("webui")
    return DocumentData(
        external_id=str(r["id"]), title=title, content=storage_text(((r.get("body") or {}).get("storage") or {}).get("value")),
        type=kind, url=f"{r.get('_site', '')}/wiki{webui}" if webui else None, author=_who(r),
        created_at=parse_time((r.get("history") or {}).get("createdDate")), updated_at=parse_time(r["version"]["when"]),
        **more)


def page_document(r: dict) -> DocumentData:
    ancestors = r.get("ancestors") or []
    return _document(r, "page", r.get("title") or f"Page {r['id']}", metadata={
        "space": (r.get("space") or {}).get("key"), "version": r["version"].get("number"),
        "path": " / ".join(a.get("title") or "" for a in ancestors), "parent_id": ancestors[-1]["id"] if ancestors else None})


def comment_document(r: dict) -> DocumentData:
    page = r.get("container") or {}
    return _document(r, "comment", f"Comment on {page.get('title') or 'page ' + str(page.get('id'))}",
                     parent_id=str(page.get("id")), metadata={"space": (r.get("space") or {}).get("key"),
                                                              "page_id": str(page.get("id")), "page_title": page.get("title")})


def rederived(child: DocumentData, page: DocumentData | None) -> DocumentData | None:
    """A comment copies its page's title."""
    if page is None or child.metadata.get("page_title") == page.title:
        return None
    return DocumentData(**{**child.__dict__, "title": f"Comment on {page.title}",
                           "metadata": {**child.metadata, "page_title": page.title}})


def storage_text(xhtml: str | None) -> str:
    """Confluence storage format (XHTML with ``ac:`` macros) as structured text: headings as
    ``#``, list items as ``-``/``1.``, table rows as ``| a | b |``, code macros fenced with their
    language; other macros keep their text, their parameters are dropped."""
    reader = _Storage()
    reader.feed(xhtml or "")
    reader.close()
    text = "\n".join(line.rstrip() for line in "".join(reader.out).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class _Storage(HTMLParser):
    BLOCKS = {"p", "div", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ac:rich-text-body"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.lists, self.row, self.cell = [], [], None, None
        self.macro, self.param, self.marked = None, None, False

    def _write(self, text: str):
        if text.strip():
            self.marked = False
        (self.cell if self.cell is not None else self.out).append(text)

    def _line(self, prefix: str = ""):
        """A new line (with a heading or list marker); none between a marker and its text."""
        if self.cell is None and not (self.marked and not prefix):
            self.out.append("\n" + prefix)
            self.marked = bool(prefix)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._line("#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS or tag == "br":
            self._line()
        elif tag in ("ul", "ol"):
            self.lists.append([tag, 0])
        elif tag == "li" and self.lists:
            self.lists[-1][1] += 1
            kind, number = self.lists[-1]
            self._line("  " * (len(self.lists) - 1) + (f"{number}. " if kind == "ol" else "- "))
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "ac:structured-macro":
            self.macro = {"name": attrs.get("ac:name"), "language": ""}
        elif tag == "ac:parameter":
            self.param = attrs.get("ac:name")

    def handle_endtag(self, tag):
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self._line("| " + " | ".join(self.row) + " |")
            self.row = None
        elif tag == "ac:parameter":
            self.param = None
        elif tag == "ac:structured-macro":
            self.macro = None
        elif tag in self.BLOCKS:
            self._line()

    def handle_data(self, data):
        if self.param is not None:
            if self.macro is not None and self.param == "language":
                self.macro["language"] = data.strip()
            return
        self._write(data)

    def unknown_decl(self, data):
        """``<![CDATA[...]]>``: a code macro's body, fenced."""
        if data.startswith("CDATA["):
            body = data[len("CDATA["):]
            if self.macro is not None and self.macro.get("name") in ("code", "noformat"):
                self._write(f"\n```{self.macro['language']}\n{body}\n```\n")
            else:
                self._write(body)
