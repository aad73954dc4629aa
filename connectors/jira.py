"""Jira Cloud: projects as channels, issues with their comments and changelog, sprints of Scrum boards.

Docs: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/ and
https://developer.atlassian.com/cloud/jira/software/rest/intro/ (boards, sprints); OAuth, the site
and rate limits as ``connectors/_atlassian.py`` says (paths under
``https://api.atlassian.com/ex/jira/{cloudid}``).

``issues`` (per project): ``GET /rest/api/3/search/jql`` (the old ``/search`` with ``startAt``
is gone: the new one pages with ``nextPageToken``) with ``jql=project = "KEY" AND updated >=
"yyyy-MM-dd HH:mm" ORDER BY updated ASC``, ``fields`` and ``expand=changelog``. JQL dates have
minute granularity in the user's zone (``GET /rest/api/3/myself``): the cursor is the UTC minute
of the newest change and the boundary minute is read again, its unchanged records dropped by
fingerprint (``_atlassian.py``). Comments and the changelog come inline; an issue whose inline
ones are cut short (``total`` above what came) has them read from ``/issue/{id}/comment`` and
``/issue/{id}/changelog``. Deletion: the project's issue ids (``search/jql`` with ``fields=id``),
then ``GET /rest/api/3/issue/{id}``: 404 (deleted, or no longer visible) or an issue now in
another project is gone here.

``sprints`` (per project): its Scrum boards (``GET /rest/agile/1.0/board?projectKeyOrId=KEY``)
and each board's ``GET /rest/agile/1.0/board/{id}/sprint`` (``startAt`` offsets), read in full each
run, a checkpoint a page (a project's sprints are few and change state in place); deletion by that
listing and ``GET
/rest/agile/1.0/sprint/{id}`` (404, or a sprint of another project's board, is gone).

Who may read (``source`` access mode): the project's BROWSE_PROJECTS grants in its permission
scheme (``GET /rest/api/3/project/{key}/permissionscheme``): anyone or any product user -> the
whole workspace; a user, the project lead, a group (members from ``GET /rest/api/3/group/member``)
and a project role's actors (``GET /rest/api/3/project/{key}/role/{id}``). Reading them takes
Administer Projects: where Jira refuses (403), the project's issues and sprints are hidden and the
run says why. Grants to reporters, assignees or custom fields are not resolved (conservative), and
an issue with a security level is hidden (its level's members are not read yet). Each record
carries its readers, so a permissions pass re-reads records rather than regranting a project in
bulk (which would expose secured issues). A sprint is read by its project's readers.
"""
from datetime import timezone

from . import _atlassian as atlassian
from .actions import Action, Lookup, Phrasing, ProviderRequest, schema, string, strings
from .base import CatalogEntry, DocumentData
from .errors import ProviderRefused, ReadersUnknown
from .kit import Channels, FetchById, Incremental, Join, Over, RestConnector, StreamSpec, oauth_bearer
from .rest import NextUrlPaginator, OffsetPaginator, RestStream, TokenPaginator, dig, parse_time

API, AGILE = "/ex/jira/{account}/rest/api/3", "/ex/jira/{account}/rest/agile/1.0"
FIELDS = ("summary,description,status,issuetype,priority,assignee,reporter,labels,created,updated,comment,"
          "project,security,resolution,parent")
TOKENS = TokenPaginator(("nextPageToken",), "nextPageToken", "maxResults")
AGILE_PAGES = OffsetPaginator(start_param="startAt", limit_param="maxResults",
                              next_start=lambda b: None if b.get("isLast") else b["startAt"] + len(b["values"]))
COMMENT_PAGES = OffsetPaginator(start_param="startAt", limit_param="maxResults", next_start=lambda b: (
    b["startAt"] + len(b["comments"]) if b["startAt"] + len(b["comments"]) < b["total"] else None))
GROUP_MEMBERS = RestStream(API + "/group/member", NextUrlPaginator(("nextPage",), "maxResults"), records_path=("values",),
                           params={"groupId": "{group}"})


def jql(cursor, api) -> str:
    where = f'project = "{api.channel}"'
    if cursor:
        where += f' AND updated >= "{atlassian.query_minute(cursor, atlassian.user_zone(api, API + "/myself"))}"'
    return where + " ORDER BY updated ASC"


def project_readers(api, key: str):
    """Who may browse project ``key`` (see the module docstring), once a run per project."""
    return atlassian.remembered(
        api, "jira.readers", key, _browsers,
        "Jira would not show who may browse project {key} ({said}); its records are hidden from every member "
        "until the connection's account may read the project's permission scheme (Administer Projects).")


def _browsers(api, key: str):
    from access.service import Readers

    base, kind, entries = api.fill(API + "/project/{project}", project=key), "jira", set()
    scheme = api.get(base + "/permissionscheme", {"expand": "permissions,user,group,projectRole"}) or {}
    for grant in scheme.get("permissions") or ():
        holder = grant.get("holder") or {}
        if grant.get("permission") != "BROWSE_PROJECTS":
            continue
        value = holder.get("value") or holder.get("parameter")
        if holder.get("type") in ("anyone", "applicationRole"):
            return Readers.everyone()
        if holder.get("type") == "user":
            entries.add(atlassian.person(kind, value))
        elif holder.get("type") == "group":
            entries.add(atlassian.group(kind, api.ctx.connection_id, value))
        elif holder.get("type") == "projectLead":
            entries.add(atlassian.person(kind, ((api.get(base) or {}).get("lead") or {}).get("accountId")))
        elif holder.get("type") == "projectRole":
            for actor in (api.get(f"{base}/role/{holder.get('parameter')}") or {}).get("actors") or ():
                if actor.get("actorUser"):
                    entries.add(atlassian.person(kind, actor["actorUser"].get("accountId")))
                elif actor.get("actorGroup"):
                    entries.add(atlassian.group(kind, api.ctx.connection_id, actor["actorGroup"].get("groupId")))
    return Readers.of(*entries)


def board_project(api, board_id: str) -> str:
    """The project a board belongs to (its ``location``), once a run per board."""
    memo = api.ctx.memo.setdefault("jira.boards", {})
    if board_id not in memo:
        board = api.get(api.fill(AGILE + "/board/{board}", board=board_id)) or {}
        memo[board_id] = (board.get("location") or {}).get("projectKey") or ""
    return memo[board_id]


def with_readers(project_of):
    """``enrich``: each record's readers (``_readers``) and the site's address (``_site``)."""
    from access.service import Readers

    def enrich(records, body, api):
        site = atlassian.site_url(api)
        for record in records:
            record["_site"], record["_project"] = site, project_of(record, api)
            try:
                readers = project_readers(api, record["_project"]) if api.ctx.readers_wanted else None
            except ReadersUnknown:
                readers = None
            if (record.get("fields") or {}).get("security"):
                readers = Readers.nobody()
            record["_readers"] = atlassian.stored(readers)
    return enrich


PROJECTS = Channels("project", RestStream(API + "/project/search", NextUrlPaginator(("nextPage",), "maxResults"),
                                          records_path=("values",)),
                    id="key", name="name", lookup=API + "/project/{channel}", readers=atlassian.known_or_raise(project_readers))
BOARDS = RestStream(AGILE + "/board", AGILE_PAGES, records_path=("values",), params={"projectKeyOrId": "{channel}",
                                                                                   "type": "scrum"})


def _cut_short(record: dict, where: tuple, items: str) -> bool:
    """Whether search answered fewer inline comments (changelog entries) than there are."""
    listed = dig(record, where) or {}
    return listed.get("total", 0) > len(listed.get(items) or ())


ISSUES = StreamSpec(
    "issues", "issue", description="Issues with their comments and changelog", channels=PROJECTS,
    listing=RestStream(API + "/search/jql", TOKENS, records_path=("issues",), params={"fields": FIELDS,
                                                                                     "expand": "changelog"}),
    incremental=Incremental.since("jql", lambda r: atlassian.utc_minute(r["fields"]["updated"]), format=jql),
    list_ids=RestStream(API + "/search/jql", TOKENS, records_path=("issues",),
                        params={"jql": 'project = "{channel}" ORDER BY created ASC', "fields": "id"}),
    fetch=FetchById(API + "/issue/{id}", params={"fields": FIELDS, "expand": "changelog"},
                    belongs=lambda issue, api: ((issue["fields"].get("project") or {}).get("key")) == api.channel),
    joins=(Join("_comments", RestStream(API + "/issue/{issue}/comment", COMMENT_PAGES, records_path=("comments",)),
                args=lambda r: {"issue": r["id"]} if _cut_short(r, ("fields", "comment"), "comments") else None,
                content=True),
           Join("_changelog", RestStream(API + "/issue/{issue}/changelog", NextUrlPaginator(("nextPage",), "maxResults"),
                                         records_path=("values",)),
                args=lambda r: {"issue": r["id"]} if _cut_short(r, ("changelog",), "histories") else None,
                content=True)),
    enrich=with_readers(lambda issue, api: api.channel), readers=atlassian.readers_of,
    document=lambda r: issue_document(r))
SPRINTS = StreamSpec(    # every Scrum board of the project, each board's sprints
    "sprints", "sprint", description="Sprints of the project's Scrum boards", channels=PROJECTS,
    listing=RestStream(AGILE + "/board/{board}/sprint", AGILE_PAGES, records_path=("values",)),
    over=Over(BOARDS, lambda board: {"board": board["id"]}), list_ids=True,
    fetch=FetchById(AGILE + "/sprint/{id}",
                    belongs=lambda s, api: board_project(api, str(s.get("originBoardId"))) == api.channel),
    enrich=with_readers(lambda sprint, api: api.channel), readers=atlassian.readers_of,
    document=lambda r: sprint_document(r))


# -- actions (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/) -----------

ISSUE_KEY = string("The issue's key (TRIB-12).", pattern=r"^[A-Z][A-Z0-9_]{0,19}-[0-9]{1,9}$")
ISSUE_RE = r"(?P<issue>[A-Za-z][A-Za-z0-9_]*-\d+)"


def _create_issue(params, api):
    fields = {"project": {"key": params["project"]}, "summary": params["summary"],
              "issuetype": {"name": params.get("issue_type") or "Task"}}
    if params.get("description"):
        fields["description"] = atlassian.adf(params["description"])
    if params.get("labels"):
        fields["labels"] = params["labels"]
    return [ProviderRequest("POST", api.fill(API + "/issue"), {"fields": fields})]


def _browse(api, key: str) -> str:
    return f"{atlassian.site_url(api)}/browse/{key}"


def _comment(params, api):
    return [ProviderRequest("POST", api.fill(API + "/issue/{key}/comment", key=params["issue"].upper()),
                            {"body": atlassian.adf(params["body"])})]


# A transition declares no lookup (an interrupted one ends ``unknown``) nor is it idempotent
# (Jira refuses a transition the issue no longer offers). The issue's changelog would show the
# status change, by whom and when, but the plan names the transition by id and only the
# transitions offered before it ran say which status it leads to: not done yet.
def _transition(params, api):
    """The transition named (or numbered) by the caller, among those the issue has now."""
    key, wanted = params["issue"].upper(), str(params["transition"]).strip()
    path = api.fill(API + "/issue/{key}/transitions", key=key)
    offered = (api.get(path) or {}).get("transitions") or []
    chosen = next((t for t in offered if wanted.lower() in (str(t.get("id")), str(t.get("name", "")).lower(),
                                                            str((t.get("to") or {}).get("name", "")).lower())), None)
    if chosen is None:
        from core.errors import ValidationError

        raise ValidationError(f"{key} has no transition {wanted!r} now; it offers: "
                              + ", ".join(t.get("name", "") for t in offered) + ".",
                              code="invalid_action_parameter",
                              details={"parameter": "transition", "offered": [t.get("name") for t in offered]})
    return [ProviderRequest("POST", path, {"transition": {"id": str(chosen["id"])}})]


def _created_since(write, params, api, since):
    """The project's issues changed since the run began (a new one is), newest first: JQL, read
    in the user's time zone to the minute."""
    zone = atlassian.user_zone(api, API + "/myself")
    jql = (f'project = "{write.body["fields"]["project"]["key"]}" AND updated >= '
           f'"{atlassian.query_minute(since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M"), zone)}" '
           "ORDER BY created DESC")
    return ProviderRequest("GET", api.fill(API + "/search/jql"), params={
        "jql": jql, "fields": "summary,issuetype,reporter,created", "maxResults": 100})


# An interrupted create_issue: an issue of the project with its summary and type, reported by
# the connection's account since the run began. JQL is a search index, which shows a new issue
# after a moment (Atlassian: "eventually consistent"): a miss leaves the run unknown.
FIND_ISSUE = Lookup(
    _created_since,
    lambda write, params: {"fields.summary": write.body["fields"]["summary"],
                           "fields.issuetype.name": write.body["fields"]["issuetype"]["name"]},
    records=("issues",), mine="fields.reporter.accountId", whoami=(API + "/myself", "accountId"),
    made="fields.created", searched=True)
def _said(document) -> str:
    """What an ADF document says, its layout aside (paragraphs, line breaks)."""
    return " ".join(adf_text(document).split())


# An interrupted comment: the issue's newest comments, by the connection's account since the run
# began, saying the body (compared by its text: the document is Jira's to re-render).
FIND_COMMENT = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", write.path, params={"orderBy": "-created",
                                                                                 "maxResults": 100}),
    lambda write, params: {"body": lambda body: _said(body) == _said(write.body["body"])},
    records=("comments",), mine="author.accountId", whoami=(API + "/myself", "accountId"), made="created")


ACTIONS = (
    Action("create_issue", "Create an issue in a project.",
           schema(("project", "summary"), project=string("The project's key (TRIB).", pattern=r"^[A-Z][A-Z0-9_]{0,19}$"),
                  summary=string("The issue's summary.", maxLength=255), description=string("The description, as text."),
                  issue_type=string("The issue type's name (Task by default)."), labels=strings("Labels to apply.")),
           "write:jira-work", _create_issue,
           lambda answers, params, api: {"id": answers[-1]["id"], "key": answers[-1]["key"],
                                         "url": _browse(api, answers[-1]["key"])},
           channel="project", find=FIND_ISSUE,
           phrasings=(Phrasing(r"(?:create|open|file) (?:an? )?(?:jira )?(?:(?P<issue_type>bug|task|story) |issue |ticket )"
                               r"in (?P<project>[A-Z][A-Z0-9_]*) (?:titled|called|:) ?(?P<summary>.+?)"
                               r"(?: with description (?P<description>.+))?",
                               "Create an issue in TRIB titled Search times out on big workspaces"),)),
    Action("comment", "Comment on an issue.",
           schema(("issue", "body"), issue=ISSUE_KEY, body=string("The comment, as text.")),
           "write:jira-work", _comment,
           lambda answers, params, api: {"id": answers[-1]["id"],
                                         "url": _browse(api, params["issue"].upper())
                                         + f"?focusedCommentId={answers[-1]['id']}"}, find=FIND_COMMENT,
           phrasings=(Phrasing(r"comment on " + ISSUE_RE + r"(?: saying|:)\s*(?P<body>.+)",
                               "Comment on TRIB-12 saying the fix is deployed"),)),
    Action("transition", "Move an issue through its workflow (to Done, In Progress...).",
           schema(("issue", "transition"), issue=ISSUE_KEY,
                  transition=string("The transition's name or id, or the status it leads to.", maxLength=100)),
           "write:jira-work", _transition,
           lambda answers, params, api: {"id": params["issue"].upper(), "url": _browse(api, params["issue"].upper()),
                                         "transition": params["transition"]},
           phrasings=(Phrasing(r"(?:move|transition) " + ISSUE_RE + r" to (?P<transition>.+)", "Move TRIB-12 to Done"),
                      Phrasing(r"(?:close|resolve) " + ISSUE_RE, "Resolve TRIB-3", fixed={"transition": "Done"}))),
)


class JiraConnector(RestConnector):
    catalog = CatalogEntry(
        type="jira", display_name="Jira", category="devtools", auth_method="oauth_redirect",
        description="Issues with their comments and changelog, and sprints, from your Jira Cloud site.",
        docs_url="https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/",
        rate_limits=atlassian.RATE_LIMITS, base_url="https://auth.atlassian.com", api_url="https://api.atlassian.com",
        # manage:jira-project: a project's permission scheme and role actors (who may read).
        # write:jira-work: the create_issue, comment and transition actions.
        oauth=atlassian.oauth("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-project",
                              "read:board-scope:jira-software", "read:sprint:jira-software"),
        permissions=True)
    streams = (ISSUES, SPRINTS)
    actions = ACTIONS
    auth = oauth_bearer()
    errors = atlassian.ERRORS
    page_size = 100     # search/jql's most issues a page with fields; agile and comments pages take 50-100

    def account(self, access_token):
        return atlassian.site_account(self, access_token, "jira")

    def groups(self, ctx):
        """The members of every group a project's readers name (all the connection's projects)."""
        api, wanted = self.api(ctx), {}
        for key in (ctx.settings or {}).get("channels") or [c.id for c in self.channels(ctx, ISSUES)]:
            try:
                readers = project_readers(self.api(ctx, str(key)), str(key))
            except ReadersUnknown:
                continue
            wanted.update({value: value.rsplit(":", 1)[1] for kind, value in readers.entries if kind == "provider_group"})
        found = {}
        for key, group_id in wanted.items():
            try:
                found[key] = atlassian.members(atlassian.every(api, GROUP_MEMBERS, group=group_id), "jira")
            except ProviderRefused:
                continue    # a group Jira will not list grants nobody
        return found

    @classmethod
    def sandbox_settings(cls, sandbox_url):
        return atlassian.sandbox_settings(sandbox_url)


# -- documents ----------------------------------------------------------------------------------

def _name(value) -> str:
    return (value or {}).get("displayName") or (value or {}).get("name") or ""


def issue_document(r: dict) -> DocumentData:
    f = r["fields"]
    comments = r.get("_comments") or (f.get("comment") or {}).get("comments") or []
    histories = r.get("_changelog") or (r.get("changelog") or {}).get("histories") or []
    facts = [f"{label}: {value}" for label, value in (
        ("Status", _name(f.get("status"))), ("Type", _name(f.get("issuetype"))), ("Priority", _name(f.get("priority"))),
        ("Assignee", _name(f.get("assignee"))), ("Reporter", _name(f.get("reporter"))),
        ("Labels", ", ".join(f.get("labels") or ()))) if value]
    parts = [adf_text(f.get("description")), "\n".join(facts)]
    if comments:
        parts.append("## Comments\n" + "\n\n".join(
            f"**{_name(c.get('author'))}** ({(c.get('created') or '')[:10]}): {adf_text(c.get('body'))}" for c in comments))
    changes = [f"{(h.get('created') or '')[:10]} {_name(h.get('author'))}: {item.get('field')} "
               f"{item.get('fromString') or '-'} -> {item.get('toString') or '-'}"
               for h in histories for item in h.get("items") or ()]
    if changes:
        parts.append("## History\n" + "\n".join(changes))
    return DocumentData(
        external_id=str(r["id"]), title=f"{r['key']}: {f.get('summary') or ''}".strip(), type="issue",
        content="\n\n".join(p for p in parts if p), url=f"{r.get('_site', '')}/browse/{r['key']}",
        author=_name(f.get("reporter")) or None, created_at=parse_time(f.get("created")),
        updated_at=parse_time(f.get("updated")),
        metadata={"key": r["key"], "project": (f.get("project") or {}).get("key"), "status": _name(f.get("status")),
                  "issue_type": _name(f.get("issuetype")), "priority": _name(f.get("priority")),
                  "assignee": _name(f.get("assignee")) or None, "labels": f.get("labels") or [],
                  "comments": len(comments), "parent": (f.get("parent") or {}).get("key")})


def sprint_document(r: dict) -> DocumentData:
    dates = " to ".join(d[:10] for d in (r.get("startDate"), r.get("endDate")) if d)
    content = "\n".join(line for line in (r.get("goal"), f"State: {r.get('state')}", dates and f"Dates: {dates}") if line)
    return DocumentData(
        external_id=str(r["id"]), title=r.get("name") or f"Sprint {r['id']}", content=content, type="sprint",
        url=f"{r.get('_site', '')}/jira/software/projects/{r.get('_project', '')}/boards/{r.get('originBoardId')}",
        created_at=parse_time(r.get("createdDate") or r.get("startDate")),
        updated_at=parse_time(r.get("completeDate") or r.get("endDate") or r.get("startDate")),
        metadata={"state": r.get("state"), "board": r.get("originBoardId"), "start": r.get("startDate"),
                  "end": r.get("endDate"), "completed": r.get("completeDate")})


def adf_text(node) -> str:
    """Atlassian Document Format (Jira's rich text) as structured text: headings as ``#``, list
    items as ``-``/``1.``, code blocks fenced, table rows as ``| a | b |``, mentions by name."""
    if not isinstance(node, dict):
        return str(node or "")
    return "\n".join(_blocks(node.get("content") or (), "")).strip()


def _inline(nodes) -> str:
    out = []
    for node in nodes or ():
        kind, attrs = node.get("type"), node.get("attrs") or {}
        if kind == "text":
            out.append(node.get("text") or "")
        elif kind == "hardBreak":
            out.append("\n")
        elif kind in ("mention", "emoji", "inlineCard", "status", "date"):
            out.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or attrs.get("timestamp") or ""))
        else:
            out.append(_inline(node.get("content")))
    return "".join(out)


def _blocks(nodes, indent: str) -> list[str]:
    lines = []
    for node in nodes:
        kind, kids = node.get("type"), node.get("content") or ()
        if kind == "heading":
            lines.append("#" * int((node.get("attrs") or {}).get("level", 1)) + " " + _inline(kids))
        elif kind in ("bulletList", "orderedList"):
            for number, item in enumerate(kids, 1):
                inner = _blocks(item.get("content") or (), indent + "  ")
                mark = f"{number}." if kind == "orderedList" else "-"
                lines += [f"{indent}{mark} {inner[0].strip()}", *inner[1:]] if inner else []
        elif kind == "codeBlock":
            lines += ["```" + str((node.get("attrs") or {}).get("language") or ""), _inline(kids), "```"]
        elif kind == "table":
            lines += ["| " + " | ".join(" ".join(_blocks(cell.get("content") or (), "")) for cell in row.get("content") or ())
                      + " |" for row in kids]
        elif kind == "rule":
            lines.append("---")
        elif kind in ("blockquote", "panel", "expand", "nestedExpand", "layoutSection", "layoutColumn"):
            lines += _blocks(kids, indent)
        elif (text := _inline(kids)):
            lines.append(indent + text)
    return lines
