"""GitHub: OAuth web flow (GitHub App user tokens expire and rotate their refresh tokens).

Docs: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
GitHub Enterprise Server: set ``base_url`` to ``https://HOST`` and ``api_url`` to ``https://HOST/api/v3``
(GraphQL is then read from ``https://HOST/api/graphql``).

Streams (every one but ``repositories`` needs a channel: a repository as ``owner/name``, listed by
``channels()`` or looked up by name; ``repositories`` reads one repository with a channel, all of
them without):

=============== ========================================== ====================================
stream          endpoint                                   incremental
=============== ========================================== ====================================
repositories    ``GET /user/repos`` (``/repos/{o}/{r}``)   none: a small listing, read in full
issues          ``GET /repos/{o}/{r}/issues?state=all``    ``since`` + ``sort=updated&direction=asc``
pull_requests   ``GET /repos/{o}/{r}/pulls?state=all``     no ``since``: newest updated first,
                                                           stop at the cursor
discussions     GraphQL ``repository.discussions``         ``orderBy UPDATED_AT DESC``, stop at
                                                           the cursor
comments        ``GET /repos/{o}/{r}/issues/comments``     ``since`` + ``sort=updated&direction=asc``
=============== ========================================== ====================================

Deletion: repositories by their listing; every stream confirms by id before it deletes (GitHub has
no batch lookup): 404 and 410 (a deleted issue) mean gone, and so does an issue now somewhere
else (transferred: GitHub redirects to the other repository) or of another kind (a pull request
number). A 410 on a listing ("Issues are disabled for this repo") reads as no records.

Who may read (connections in the ``source`` access mode): a public repository, the whole
workspace; a private (or internal) one, its collaborators (``GET /repos/{o}/{r}/collaborators
?affiliation=all``: direct, through teams, the organization's owners) as ``provider_user
github:<user id>`` and its teams (``GET /repos/{o}/{r}/teams``) as ``provider_group
github:<connection id>:<org>/<team slug>``, whose members ``groups()`` lists (``GET
/orgs/{org}/teams/{slug}/members``). Asked once per repository per run, for every stream of it.
Where the token may not list them (403: no push access to the repository, or no ``read:org``;
404), the repository's records are hidden from every member (``ReadersUnknown``: fail closed)
and the run says so.

GitHub's issues list includes pull requests (they carry a ``pull_request`` key): the issues stream
skips them but still advances its cursor over them. Comments are issue and pull request
conversation comments; each carries its issue (``_issue``), fetched once per issue and kept in a
bounded cache, not once per comment. Records are the provider's JSON plus ``_repository``
(``owner/name``, the channel) and, for comments, ``_issue``.
"""
from __future__ import annotations

import logging
import re

from .actions import Action, Lookup, Phrasing, ProviderRequest, schema, string, strings
from .base import CatalogEntry, DocumentData, OAuthEndpoints, RateLimits, TokenCredential
from .errors import ProviderError, ProviderNotFound, ProviderRefused, ReadersUnknown
from .kit import Channels, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, oauth_bearer
from .rest import Fetched, LinkHeaderPaginator, RestStream, dig, parse_time

log = logging.getLogger(__name__)

LINKS = LinkHeaderPaginator()

DISCUSSIONS_QUERY = """
query($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes {
        id number title body url author { login } createdAt updatedAt
        comments(first: 50) { nodes { body author { login } } }
      }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
}
"""

DISCUSSION_QUERY = """
query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    discussion(number: $number) {
      id number title body url author { login } createdAt updatedAt
      comments(first: 50) { nodes { body author { login } } }
    }
  }
}
"""


def graphql(api, query: str, path: tuple[str, ...], **variables):
    """What a GraphQL query answers at ``path``: a POST that only reads, so it is retried like a
    GET. GitHub answers errors with 200 and an ``errors`` list: ``NOT_FOUND`` ones are
    ``ProviderNotFound`` (as a REST 404), any other ``ProviderError``."""
    body = api.request("POST", api.fill("{graphql}"), json={"query": query, "variables": variables},
                       idempotent=True).json_body or {}
    errors = body.get("errors") or []
    if errors:
        said = "; ".join(str(e.get("message")) for e in errors)[:300]
        kind = ProviderNotFound if all(e.get("type") == "NOT_FOUND" for e in errors) else ProviderError
        raise kind(f"GitHub GraphQL refused the query: {said}",
                   details={"provider": "GitHub", "provider_message": said})
    return dig(body, path)


class Discussions:
    """``repository.discussions`` as a kit listing: GraphQL Relay pages (``pageInfo.endCursor``
    -> ``after``), newest updated first, 25 a page (each carries up to 50 comments); the first
    page's ``totalCount`` is the listing's size."""

    path, params, page_size, bucket = "{graphql}", {}, 25, None

    def fetch(self, api, *, path_args, params=None, token=None, page_size=None) -> Fetched:
        owner, name = path_args["channel"].split("/", 1)
        found = graphql(api, DISCUSSIONS_QUERY, ("data", "repository", "discussions"), owner=owner, name=name,
                        first=page_size, after=(token or {}).get("after")) or {}
        info = found.get("pageInfo") or {}
        following = {"after": info["endCursor"]} if info.get("hasNextPage") and info.get("endCursor") else None
        return Fetched(list(found.get("nodes") or []), following, found,
                       found.get("totalCount") if token is None else None)


# -- who may read -----------------------------------------------------------------------------------

def team_key(connection_id: str, org: str, slug: str) -> str:
    """A team as a ``provider_group`` reader: scoped to the connection that listed its members."""
    return f"github:{connection_id}:{org.lower()}/{slug.lower()}"


def _public(repo: dict) -> bool:
    """Readable by anyone: a public repository (an internal one is its enterprise's members',
    whom Tributary cannot list, so it counts as private)."""
    visibility = repo.get("visibility")
    return visibility == "public" if visibility else repo.get("private") is False


def _teams(api, repo: dict) -> list[dict]:
    """The teams with access to an organization's repository (a user's has none), once per run."""
    if (repo.get("owner") or {}).get("type") != "Organization":
        return []
    memo = ("github.teams", repo["full_name"].lower())
    if memo not in api.ctx.memo:
        api.ctx.memo[memo] = api.records(RestStream("/repos/{repo}/teams", LINKS), repo=repo["full_name"])
    return api.ctx.memo[memo]


def repository_readers(api, channel: str):
    """A repository's readers (see the module docstring); ``ReadersUnknown`` when GitHub will not
    list them."""
    from access.service import Readers

    repo = api.connector.channel_record(api, "repository")
    if _public(repo):
        return Readers.everyone()
    owner = channel.split("/", 1)[0]
    try:
        entries = {("provider_user", f"github:{user['id']}") for user in api.records(
            RestStream("/repos/{channel}/collaborators", LINKS, params={"affiliation": "all"}))}
        entries.update(("provider_group", team_key(api.ctx.connection_id, owner, team["slug"]))
                       for team in _teams(api, repo))
    except ProviderRefused as exc:  # 403: no push access (or no read:org); 404
        status = (exc.details or {}).get("provider_status")
        said = (exc.details or {}).get("provider_message")
        raise ReadersUnknown(
            f"GitHub would not list who may read {repo.get('full_name', channel)} "
            f"({status}{': ' + said if said else ''}); its records are hidden from every member until the "
            "connection's account can list the repository's collaborators and teams (push access to it, "
            "and the repo and read:org scopes).",
            details={**(exc.details or {}), "channel": channel}) from None
    return Readers.of(*entries)


# -- documents ----------------------------------------------------------------------------------------

def _login(person) -> str | None:
    return (person or {}).get("login")


def _issue_number(comment: dict) -> int | None:
    match = re.search(r"/issues/(\d+)$", comment.get("issue_url") or "")
    return int(match.group(1)) if match else None


def _repository_of(record: dict) -> str | None:
    if record.get("_repository"):
        return record["_repository"]
    match = re.search(r"/repos/([^/]+/[^/]+)", record.get("repository_url") or record.get("issue_url")
                      or record.get("url") or "")
    return match.group(1) if match else None


def _repository_document(repo: dict) -> DocumentData:
    lines = [repo.get("description") or ""]
    if repo.get("topics"):
        lines.append("Topics: " + ", ".join(repo["topics"]))
    if repo.get("language"):
        lines.append(f"Language: {repo['language']}")
    return DocumentData(
        external_id=repo["full_name"], title=repo["full_name"], content="\n\n".join(l for l in lines if l),
        type="repository", url=repo.get("html_url"), author=_login(repo.get("owner")),
        created_at=parse_time(repo.get("created_at")), updated_at=parse_time(repo.get("updated_at")),
        metadata={"repo": repo["full_name"], "private": repo.get("private"),
                  "visibility": repo.get("visibility"), "language": repo.get("language"),
                  "topics": repo.get("topics") or [], "default_branch": repo.get("default_branch"),
                  "archived": repo.get("archived"), "stars": repo.get("stargazers_count"),
                  "forks": repo.get("forks_count"), "open_issues": repo.get("open_issues_count"),
                  "pushed_at": repo.get("pushed_at")})


def _issue_document(record: dict, kind: str = "issue") -> DocumentData:
    repo = _repository_of(record)
    metadata = {"repo": repo, "number": record["number"], "state": record.get("state"),
                "labels": [label["name"] for label in record.get("labels") or []],
                "assignees": [_login(a) for a in record.get("assignees") or []],
                "closed_at": record.get("closed_at"), "locked": record.get("locked")}
    if kind == "issue":
        metadata.update(state_reason=record.get("state_reason"), comments=record.get("comments"))
    else:
        metadata.update(draft=record.get("draft"), merged=bool(record.get("merged_at")),
                        merged_at=record.get("merged_at"),
                        base=(record.get("base") or {}).get("ref"), head=(record.get("head") or {}).get("ref"))
    return DocumentData(
        external_id=f"{repo}#{record['number']}", title=record.get("title") or f"#{record['number']}",
        content=record.get("body") or "", type=kind, url=record.get("html_url"),
        author=_login(record.get("user")), created_at=parse_time(record.get("created_at")),
        updated_at=parse_time(record.get("updated_at")), metadata=metadata)


def _comment_document(record: dict) -> DocumentData:
    """A comment with its issue's (or pull request's) number; its title, address and kind come
    from the issue as stored (``_renamed_issue``, which the engine applies as the comment is
    stored and again whenever the issue changes)."""
    repo = _repository_of(record)
    number = _issue_number(record)
    return DocumentData(
        external_id=f"{repo}#issuecomment-{record['id']}", title=f"Comment on #{number}",
        content=record.get("body") or "", type="comment", url=record.get("html_url"),
        author=_login(record.get("user")), parent_id=f"{repo}#{number}" if number is not None else None,
        created_at=parse_time(record.get("created_at")), updated_at=parse_time(record.get("updated_at")),
        metadata={"repo": repo, "comment_id": record["id"], "issue_number": number,
                  "issue_url": record.get("issue_url"), "issue_title": None, "is_pull_request": None,
                  "author_association": record.get("author_association")})


def _renamed_issue(child: DocumentData, parent: DocumentData | None) -> DocumentData | None:
    """A comment copies its issue's (or pull request's) title, address and kind; gone with the issue."""
    copied = ({"issue_title": parent.title, "issue_url": parent.url, "is_pull_request": parent.type == "pull_request"}
              if parent is not None else {"issue_title": None, "is_pull_request": None})
    if all(child.metadata.get(name) == value for name, value in copied.items()):
        return None
    number = child.metadata.get("issue_number")
    title = f"Comment on #{number}: {parent.title}" if parent is not None and parent.title else f"Comment on #{number}"
    return DocumentData(**{**child.__dict__, "title": title, "metadata": {**child.metadata, **copied}})


def _discussion_document(record: dict) -> DocumentData:
    repo = _repository_of(record)
    comments = ((record.get("comments") or {}).get("nodes")) or []
    parts = [record.get("body") or ""]
    for comment in comments:
        parts.append(f"**{_login(comment.get('author')) or 'ghost'}**: {comment.get('body') or ''}")
    return DocumentData(
        external_id=f"{repo}#{record['number']}", title=record.get("title") or f"Discussion #{record['number']}",
        content="\n\n---\n\n".join(p for p in parts if p), type="discussion", url=record.get("url"),
        author=_login(record.get("author")), created_at=parse_time(record.get("createdAt")),
        updated_at=parse_time(record.get("updatedAt")),
        metadata={"repo": repo, "number": record["number"], "node_id": record.get("id"),
                  "comments": len(comments)})


# -- the streams ----------------------------------------------------------------------------------------

def _tagged(records: list, body, api) -> None:
    for record in records:
        record["_repository"] = api.channel


def _numbered(record: dict) -> str:
    return f"{record['_repository']}#{record['number']}"


def _number(external_id: str) -> dict:
    """``owner/name#12`` -> ``{"id": "12"}`` (``#issuecomment-34`` -> ``34``)."""
    return {"id": external_id.rpartition("#")[2].removeprefix("issuecomment-")}


def _not_moved(issue: dict, api) -> bool:
    """An issue transferred elsewhere is answered (GitHub redirects) from its new repository."""
    match = re.search(r"/repos/([^/]+/[^/]+)", issue.get("repository_url") or "")
    return match is None or match.group(1).lower() == api.channel.lower()


REPOSITORY = Channels(
    "repository", RestStream("/user/repos", LINKS, params={"sort": "full_name", "direction": "asc"}),
    id="full_name", name="full_name", lookup="/repos/{channel}", readers=repository_readers,
    pattern=r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
UPDATED_SINCE = Incremental.since("since", "updated_at")


def per_repository(name, document_type, description, listing, document, **more) -> StreamSpec:
    """A stream read per repository: its records tagged with it and keyed ``owner/name#number``."""
    return StreamSpec(name, document_type, listing, document, description=description, channels=REPOSITORY,
                      enrich=_tagged, **{"key": _numbered, **more})


# -- actions (https://docs.github.com/en/rest/issues) -------------------------------------------------

# An owner is a login (letters, digits, hyphens); a name may hold dots but is never "." or "..": the
# repository goes into the request's path.
REPOSITORY_PARAM = string("The repository, owner/name.", pattern=r"^[A-Za-z0-9-]+/(?!\.\.?$)[A-Za-z0-9_.-]+$")
ISSUE_NUMBER = {"type": "integer", "minimum": 1, "description": "The issue's (or pull request's) number."}
REPO_RE = r"(?P<repository>[\w.-]+/[\w.-]+)"


def _issues(params) -> str:
    return f"/repos/{params['repository']}/issues"


def _stamp(since) -> str:
    return since.strftime("%Y-%m-%dT%H:%M:%SZ")


# An interrupted create_issue or comment is looked up among what the connection's account wrote
# since the run began: the issues (the listing's ``since`` is by update: a new issue is one) and
# comments with the write's title and body.
FIND_ISSUE = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", _issues(params), params={
        "state": "all", "since": _stamp(since), "per_page": 100}),
    lambda write, params: {"title": write.body["title"], "body": lambda body: (body or None) == write.body.get("body"),
                           "pull_request": None},
    mine="user.login", whoami=("/user", "login"), made="created_at")
FIND_COMMENT = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", f"{_issues(params)}/{params['number']}/comments",
                                                      params={"since": _stamp(since), "per_page": 100}),
    lambda write, params: {"body": write.body["body"]}, mine="user.login", whoami=("/user", "login"),
    made="created_at")


def _create_issue(params, api):
    body = {"title": params["title"]}
    body.update({k: params[k] for k in ("body", "labels", "assignees") if params.get(k)})
    return [ProviderRequest("POST", _issues(params), body)]


def _issue_created(answers, params, api):
    issue = answers[-1]
    return {"id": issue["number"], "number": issue["number"], "url": issue["html_url"], "state": issue.get("state")}


def _comment(params, api):
    return [ProviderRequest("POST", f"{_issues(params)}/{params['number']}/comments", {"body": params["body"]})]


def _close(params, api):
    return [ProviderRequest("PATCH", f"{_issues(params)}/{params['number']}",
                            {"state": "closed", "state_reason": params.get("reason") or "completed"})]


def _add_labels(params, api):
    return [ProviderRequest("POST", f"{_issues(params)}/{params['number']}/labels", {"labels": params["labels"]})]


ACTIONS = (
    Action("create_issue", "Open an issue in a repository.",
           schema(("repository", "title"), repository=REPOSITORY_PARAM, title=string("The issue's title.", maxLength=256),
                  body=string("The issue's description (Markdown)."), labels=strings("Labels to apply."),
                  assignees=strings("Logins to assign.")),
           "repo", _create_issue, _issue_created, channel="repository", find=FIND_ISSUE,
           phrasings=(Phrasing(r"(?:create|open|file) (?:an? )?(?:new )?issue in " + REPO_RE +
                               r" titled (?P<title>.+?)(?: with body (?P<body>.+))?",
                               "Create an issue in acme/api titled Login fails on Safari"),)),
    Action("comment", "Comment on an issue or pull request.",
           schema(("repository", "number", "body"), repository=REPOSITORY_PARAM, number=ISSUE_NUMBER,
                  body=string("The comment (Markdown).")),
           "repo", _comment, lambda answers, params, api: {"id": answers[-1]["id"], "url": answers[-1]["html_url"]},
           channel="repository", find=FIND_COMMENT,
           phrasings=(Phrasing(r"comment on " + REPO_RE + r"#(?P<number>\d+)(?: saying|:)\s*(?P<body>.+)",
                               "Comment on acme/api#12 saying fixed in the latest release"),)),
    Action("close_issue", "Close an issue (as completed, or as not planned).",
           schema(("repository", "number"), repository=REPOSITORY_PARAM, number=ISSUE_NUMBER,
                  reason={"type": "string", "enum": ["completed", "not_planned"], "description": "Why it is closed."}),
           "repo", _close, _issue_created, destructive=True, channel="repository", idempotent=True,
           phrasings=(Phrasing(r"close (?:issue )?" + REPO_RE + r"#(?P<number>\d+)", "Close acme/api#12"),
                      Phrasing(r"close (?:issue )?" + REPO_RE + r"#(?P<number>\d+) as not planned",
                               "Close acme/api#7 as not planned", fixed={"reason": "not_planned"}))),
    Action("add_labels", "Add labels to an issue or pull request.",
           schema(("repository", "number", "labels"), repository=REPOSITORY_PARAM, number=ISSUE_NUMBER,
                  labels=strings("The labels to add.")),
           "repo", _add_labels, lambda answers, params, api: {"labels": [label["name"] for label in answers[-1]]},
           channel="repository", idempotent=True,
           phrasings=(Phrasing(r"(?:add|apply) (?:the )?labels? (?P<labels>.+?) to " + REPO_RE + r"#(?P<number>\d+)",
                               "Add labels bug, security to acme/api#12"),)),
)


class GitHubConnector(RestConnector):
    catalog = CatalogEntry(
        type="github",
        display_name="GitHub",
        category="devtools",
        auth_method="oauth_redirect",
        description="Repositories, issues, pull requests and discussions, with their comments.",
        docs_url="https://docs.github.com/en/rest",
        # 5,000 requests an hour per user token (primary limit); the secondary limit allows
        # 900 points a minute for REST (a GET costs 1). Bursts within those are fine.
        rate_limits=RateLimits(requests_per_minute=900, requests_per_hour=5000),
        base_url="https://github.com",
        api_url="https://api.github.com",
        oauth=OAuthEndpoints(
            authorize="/login/oauth/authorize",
            token="/login/oauth/access_token",
            # read:org: a repository's collaborators and teams, and the teams' members (who
            # may read what, for connections in the source access mode).
            scopes=("repo", "read:user", "read:discussion", "read:org"),
        ),
        permissions=True,
        # GitHub accepts a personal access token wherever it accepts an OAuth token (``GET /user``
        # verifies it); it does not expire unless its owner set an expiry, and has no refresh.
        token_credential=TokenCredential("token", "A personal access token (classic or fine-grained) with "
                                                  "read access to the repositories to sync."),
    )
    streams = (
        StreamSpec("repositories", "repository", REPOSITORY.listing, _repository_document,
                   description="Repositories the account can read", key="full_name", channels=REPOSITORY,
                   of_channels=True, list_ids=True,
                   fetch=FetchById("/repos/{channel}",
                                   belongs=lambda repo, api: repo.get("full_name", "").lower() == api.channel.lower())),
        per_repository("issues", "issue", "Issues with their comments",
                       RestStream("/repos/{channel}/issues", LINKS,
                                  params={"state": "all", "sort": "updated", "direction": "asc"}),
                       _issue_document, incremental=UPDATED_SINCE, keep=lambda issue: "pull_request" not in issue,
                       fetch=FetchById("/repos/{channel}/issues/{id}", args=_number, belongs=_not_moved)),
        per_repository("pull_requests", "pull_request", "Pull requests with their comments",
                       RestStream("/repos/{channel}/pulls", LINKS,
                                  params={"state": "all", "sort": "updated", "direction": "desc"}),
                       lambda pull: _issue_document(pull, "pull_request"),
                       incremental=Incremental.newest_first("updated_at"),
                       fetch=FetchById("/repos/{channel}/pulls/{id}", args=_number)),
        per_repository("discussions", "discussion", "Discussions with their comments", Discussions(),
                       _discussion_document, incremental=Incremental.newest_first("updatedAt")),
        per_repository("comments", "comment", "Comments on issues and pull requests, with their issue",
                       RestStream("/repos/{channel}/issues/comments", LINKS,
                                  params={"sort": "updated", "direction": "asc"}),
                       _comment_document, incremental=UPDATED_SINCE,
                       key=lambda comment: f"{comment['_repository']}#issuecomment-{comment['id']}",
                       fetch=FetchById("/repos/{channel}/issues/comments/{id}", args=_number),
                       parents=("issues", "pull_requests"), rederive=_renamed_issue),
    )
    actions = ACTIONS
    auth = oauth_bearer()
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    whoami = WhoAmI("/user", id="id", handle="login", name=lambda user: user.get("name") or user.get("login"),
                    avatar="avatar_url")
    # 410 on a listing: "Issues are disabled for this repo" (nothing to read); on a lookup: a
    # deleted issue (gone).
    errors = (OnError(410, skip=True),)
    # Records per request: GitHub's maximum (GraphQL discussions come 25 a page, see
    # ``Discussions``). Tests lower it to walk many pages of a small sandbox.
    page_size = 100

    def placeholders(self) -> dict:
        """``{graphql}``: GitHub Enterprise Server serves REST at /api/v3 and GraphQL at /api/graphql."""
        api = self.settings.api_url
        return {"graphql": api[: -len("/v3")] + "/graphql" if api.endswith("/api/v3") else api + "/graphql"}

    def fetch_records(self, ctx, stream, channel, external_ids):
        """Discussions by number over GraphQL; the others as declared."""
        if stream.name != "discussions":
            return super().fetch_records(ctx, stream, channel, external_ids)
        api, found = self.api(ctx, channel, self.spec(stream)), []
        owner, name = channel.split("/", 1)
        for external_id in external_ids:
            try:
                record = graphql(api, DISCUSSION_QUERY, ("data", "repository", "discussion"), owner=owner, name=name,
                                 number=int(_number(external_id)["id"]))
            except ProviderNotFound:
                continue
            if record is not None:
                found.append((external_id, {**record, "_repository": channel}))
        return found

    def groups(self, ctx):
        """The members of every team a repository of this connection names as its reader (all
        of the connection's repositories, not only a run's: the groups are replaced as a whole).
        A team whose members GitHub will not list has none here: it grants nobody (fail closed)."""
        repositories = self.spec("repositories")
        teams = set()
        for channel in (ctx.settings or {}).get("channels") or [c.id for c in self.channels(ctx, repositories)]:
            try:
                api = self.api(ctx, str(channel), repositories)
                repo = self.channel_record(api, "repository")
                listed = [] if _public(repo) else _teams(api, repo)
            except (ProviderRefused, ValueError):
                continue    # not found: its unit says CHANNEL_NOT_FOUND; refused: its records are hidden
            teams.update((repo["full_name"].split("/", 1)[0], team["slug"]) for team in listed)
        groups, api = {}, self.api(ctx)
        for org, slug in sorted(teams):
            try:
                members = api.records(RestStream("/orgs/{org}/teams/{team_slug}/members", LINKS), org=org, team_slug=slug)
                groups[team_key(ctx.connection_id, org, slug)] = {
                    ("provider_user", f"github:{member['id']}") for member in members}
            except ProviderRefused:
                log.warning("GitHub would not list the members of team %s/%s: it grants nobody", org, slug)
        return groups

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"base_url": f"{sandbox_url}/github", "api_url": f"{sandbox_url}/github/api",
                "client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret"}
