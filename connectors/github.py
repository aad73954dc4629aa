"""GitHub: OAuth web flow (GitHub App user tokens expire and rotate their refresh tokens).

Docs: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
GitHub Enterprise Server: set ``base_url`` to ``https://HOST`` and ``api_url`` to ``https://HOST/api/v3``
(GraphQL is then read from ``https://HOST/api/graphql``).

Streams (every one but ``repositories`` needs a channel: a repository as ``owner/name``, listed by
``channels()``; ``repositories`` reads one repository with a channel, all of them without):

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
conversation comments; each carries its issue (``_issue``: number, title, url), fetched once per
issue and kept in a bounded cache, not once per comment. Records are the provider's JSON plus
``_repository`` (``owner/name``) and, for comments, ``_issue``.
"""
from __future__ import annotations

import logging
import re

from .base import (Account, CatalogEntry, Channel, Connector, DocumentData, OAuthEndpoints, Page,
                   RateLimits, Stream, SyncContext, TokenCredential)
from .errors import ChannelNotFound, ProviderError, ProviderNotFound, ProviderRefused, ReadersUnknown
from .http import ProviderClient
from .rest import (BoundedCache, Fetched, LinkHeaderPaginator, RestStream, ids_of, parse_time,
                   read_listing, read_updated_desc, read_updated_since)

log = logging.getLogger(__name__)

FULL_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
LINKS = LinkHeaderPaginator()

REPOSITORIES = RestStream("/user/repos", LINKS, params={"sort": "full_name", "direction": "asc"})
ISSUES = RestStream("/repos/{owner}/{name}/issues", LINKS,
                    params={"state": "all", "sort": "updated", "direction": "asc"})
PULLS = RestStream("/repos/{owner}/{name}/pulls", LINKS,
                   params={"state": "all", "sort": "updated", "direction": "desc"})
COMMENTS = RestStream("/repos/{owner}/{name}/issues/comments", LINKS,
                      params={"sort": "updated", "direction": "asc"})
COLLABORATORS = RestStream("/repos/{owner}/{name}/collaborators", LINKS, params={"affiliation": "all"})
REPO_TEAMS = RestStream("/repos/{owner}/{name}/teams", LINKS)
TEAM_MEMBERS = RestStream("/orgs/{org}/teams/{team_slug}/members", LINKS)

DISCUSSIONS_QUERY = """
query($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes {
        id number title body url author { login } createdAt updatedAt
        comments(first: 50) { nodes { body author { login } } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


class GitHubConnector(Connector):
    catalog = CatalogEntry(
        type="github",
        display_name="GitHub",
        category="devtools",
        auth_method="oauth_redirect",
        description="Repositories, issues, pull requests and discussions, with their comments.",
        docs_url="https://docs.github.com/en/rest",
        streams=(
            Stream("repositories", "repository", "Repositories the account can read", channel_kind="repository"),
            Stream("issues", "issue", "Issues with their comments", channel_kind="repository"),
            Stream("pull_requests", "pull_request", "Pull requests with their comments", channel_kind="repository"),
            Stream("discussions", "discussion", "Discussions with their comments", channel_kind="repository"),
            Stream("comments", "comment", "Comments on issues and pull requests, with their issue",
                   channel_kind="repository", parents=("issues", "pull_requests")),
        ),
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

    # Records per request: GitHub's maximum; GraphQL discussions carry up to 50 comments each,
    # so they come in smaller pages. Tests lower these to walk many pages of a small sandbox.
    page_size = 100
    discussions_page_size = 25
    # Issues remembered for comment titles during one read (bounded: memory stays flat).
    issue_cache_size = 1024

    API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    def account(self, access_token: str) -> Account:
        client = ProviderClient("GitHub", self.settings.api_url, timeout=self.settings.timeout,
                                headers={"Authorization": f"Bearer {access_token}", **self.API_HEADERS})
        user = client.get_json("/user")
        return Account(external_id=str(user["id"]), handle=user.get("login"),
                       display_name=user.get("name") or user.get("login"), avatar_url=user.get("avatar_url"))

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"base_url": f"{sandbox_url}/github", "api_url": f"{sandbox_url}/github/api",
                "client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret"}

    # -- syncing --------------------------------------------------------------------------------
    def client(self, ctx: SyncContext) -> ProviderClient:
        # The token is asked for per request: one refreshed mid-run is used from the next page on.
        return ProviderClient("GitHub", self.settings.api_url, timeout=self.settings.timeout,
                              headers=self.API_HEADERS, limiter=ctx.limiter,
                              auth=lambda: {"Authorization": f"Bearer {ctx.access_token()}"})

    @property
    def graphql_url(self) -> str:
        api = self.settings.api_url
        # GitHub Enterprise Server serves REST at /api/v3 and GraphQL at /api/graphql.
        return api[: -len("/v3")] + "/graphql" if api.endswith("/api/v3") else api + "/graphql"

    def channels(self, ctx: SyncContext, stream: Stream) -> list[Channel]:
        """Every repository the account can read, as ``owner/name``."""
        return [_repo_channel(repo) for repo in self._listed_repos(ctx, self.client(ctx))]

    def _listed_repos(self, ctx, client) -> list[dict]:
        """``GET /user/repos``, once per run (each repository kept for its readers)."""
        if "github.repos" not in ctx.memo:
            found = []
            for page in read_listing(REPOSITORIES.fetcher(client, page_size=self.page_size), state=None,
                                     mode="full", key=_repo_key):
                found.extend(page.records)
            for repo in found:
                ctx.memo[("github.repo", repo["full_name"].lower())] = repo
            ctx.memo["github.repos"] = found
        return ctx.memo["github.repos"]

    def channel(self, ctx: SyncContext, stream: Stream, channel_id: str) -> Channel:
        """A repository named in the settings, from ``GET /repos/{owner}/{name}``: any repository
        the token can read, in the account's listing or not (a public one of another owner)."""
        try:
            repo = self._repo(ctx, self.client(ctx), channel_id, stream.name)
        except ProviderNotFound as exc:
            raise ChannelNotFound(f"GitHub has no repository {channel_id} that this connection can read.",
                                  details={"channel_id": channel_id, **(exc.details or {})}) from None
        return _repo_channel(repo)

    def _repo(self, ctx, client, channel: str, stream: str = "repositories") -> dict:
        """``GET /repos/{owner}/{name}``, unless this run has seen the repository already."""
        key = ("github.repo", channel.lower())
        if key not in ctx.memo:
            owner, name = _split_channel(channel, stream)
            ctx.memo[key] = client.get_json(f"/repos/{owner}/{name}")
        return ctx.memo[key]

    # -- who may read ---------------------------------------------------------------------------
    def channel_readers(self, ctx, stream, channel):
        """A repository's readers (see the module docstring), once per run; ``ReadersUnknown``
        when GitHub will not list them."""
        if not channel:
            return None
        key = ("github.readers", channel.lower())
        if key not in ctx.memo:
            try:
                ctx.memo[key] = self._repo_readers(ctx, self.client(ctx), channel)
            except ReadersUnknown as exc:
                ctx.memo[key] = exc     # every stream of the repository is hidden alike
        found = ctx.memo[key]
        if isinstance(found, ReadersUnknown):
            raise found
        return found

    def _repo_readers(self, ctx, client, channel: str):
        from access.service import Readers

        repo = self._repo(ctx, client, channel)
        if _public(repo):
            return Readers.everyone()
        owner, name = _split_channel(channel, "repositories")
        entries = set()
        try:
            for user in _every(COLLABORATORS, client, {"owner": owner, "name": name}, self.page_size):
                entries.add(("provider_user", f"github:{user['id']}"))
            for team in self._repo_teams(ctx, client, repo):
                entries.add(("provider_group", team_key(ctx.connection_id, owner, team["slug"])))
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

    def _repo_teams(self, ctx, client, repo: dict) -> list[dict]:
        """The teams with access to an organization's repository (a user's has none), once per run."""
        if (repo.get("owner") or {}).get("type") != "Organization":
            return []
        key = ("github.teams", repo["full_name"].lower())
        if key not in ctx.memo:
            owner, name = repo["full_name"].split("/", 1)
            ctx.memo[key] = list(_every(REPO_TEAMS, client, {"owner": owner, "name": name}, self.page_size))
        return ctx.memo[key]

    def groups(self, ctx):
        """The members of every team a repository of this connection names as its reader (all
        of the connection's repositories, not only a run's: the groups are replaced as a whole).
        A team whose members GitHub will not list has none here: it grants nobody (fail closed)."""
        client = self.client(ctx)
        named = (ctx.settings or {}).get("channels")
        repos = []
        if named:
            for channel in named:
                try:
                    repos.append(self._repo(ctx, client, str(channel)))
                except (ProviderNotFound, ValueError):
                    continue          # its unit says CHANNEL_NOT_FOUND
        else:
            repos = self._listed_repos(ctx, client)
        teams = set()
        for repo in repos:
            if _public(repo):
                continue
            try:
                listed = self._repo_teams(ctx, client, repo)
            except ProviderRefused:
                continue              # that repository's records are hidden anyway
            org = repo["full_name"].split("/", 1)[0]
            teams.update((org, team["slug"]) for team in listed)
        groups = {}
        for org, slug in sorted(teams):
            try:
                members = _every(TEAM_MEMBERS, client, {"org": org, "team_slug": slug}, self.page_size)
                groups[team_key(ctx.connection_id, org, slug)] = {
                    ("provider_user", f"github:{member['id']}") for member in members}
            except ProviderRefused:
                log.warning("GitHub would not list the members of team %s/%s: it grants nobody", org, slug)
        return groups

    def read(self, ctx, stream, *, state, mode, channel=None):
        client = self.client(ctx)
        name = stream.name
        if name == "repositories":
            return self._read_repositories(ctx, client, state, mode, channel)
        owner, repo = _split_channel(channel, name)
        path_args = {"owner": owner, "name": repo}
        if name == "issues":
            return self._tagged(read_updated_since(
                self._since_fetcher(ISSUES, client, path_args), state=state, mode=mode,
                key=_id_key, updated=_updated),
                channel, keep=lambda r: "pull_request" not in r)
        if name == "pull_requests":
            return self._tagged(read_updated_desc(
                PULLS.fetcher(client, path_args=path_args, page_size=self.page_size), state=state,
                mode=mode, key=_id_key, updated=_updated), channel)
        if name == "comments":
            pages = self._tagged(read_updated_since(
                self._since_fetcher(COMMENTS, client, path_args), state=state, mode=mode,
                key=_id_key, updated=_updated), channel)
            return self._with_issues(pages, client, path_args)
        if name == "discussions":
            return self._tagged(read_updated_desc(
                self._discussions_fetcher(client, owner, repo), state=state, mode=mode, key=_id_key,
                updated=lambda r: r["updatedAt"]), channel)
        raise ValueError(f"GitHub has no stream {name!r}")

    def list_ids(self, ctx, stream, channel=None):
        """Repositories only: their listing is small. Issues, comments and discussions have no
        listing lighter than a full read (deleted ones go away at the next full run), and pull
        requests cannot be deleted."""
        if stream.name != "repositories":
            return None
        return ids_of(self._read_repositories(ctx, self.client(ctx), None, "full", channel), _repo_key)

    def fetch_records(self, ctx, stream, channel, external_ids):
        """Each record by its own endpoint (GitHub has no batch lookup); 404 and 410 (a deleted
        issue) mean gone, and so does an issue that is now somewhere else (transferred: GitHub
        redirects to the other repository) or of another kind (a pull request number)."""
        client = self.client(ctx)
        owner, repo = _split_channel(channel, stream.name)
        found = []
        for external_id in external_ids:
            record = self._fetch_one(client, stream.name, owner, repo, external_id)
            if record is not None:
                record["_repository"] = channel
                found.append((external_id, record))
        if stream.name == "comments":
            issues = BoundedCache(self.issue_cache_size)
            base = f"/repos/{owner}/{repo}/issues/"
            for _, comment in found:
                number = _issue_number(comment)
                if number is not None:
                    comment["_issue"] = issues.get_or_load(number, lambda n=number: _load_issue(client, f"{base}{n}", n))
        return found

    def _fetch_one(self, client, name, owner, repo, external_id):
        number = external_id.rpartition("#")[2]
        paths = {"repositories": f"/repos/{owner}/{repo}",
                 "issues": f"/repos/{owner}/{repo}/issues/{number}",
                 "pull_requests": f"/repos/{owner}/{repo}/pulls/{number}",
                 "comments": f"/repos/{owner}/{repo}/issues/comments/{number.removeprefix('issuecomment-')}"}
        try:
            if name == "discussions":
                return self._discussion(client, owner, repo, int(number))
            record = client.get_json(paths[name])
        except ProviderNotFound:
            return None
        if name == "issues" and ("pull_request" in record
                                 or _repository_of(record) not in (None, f"{owner}/{repo}")):
            return None
        if name == "repositories" and record.get("full_name", "").lower() != f"{owner}/{repo}".lower():
            return None
        return record

    def _discussion(self, client, owner, repo, number):
        body = client.request("POST", self.graphql_url, idempotent=True, json={
            "query": DISCUSSION_QUERY, "variables": {"owner": owner, "name": repo, "number": number}}).json_body or {}
        found = ((body.get("data") or {}).get("repository") or {}).get("discussion")
        if found is None and any(e.get("type") not in ("NOT_FOUND", None) for e in body.get("errors") or []):
            message = "; ".join(str(e.get("message")) for e in body["errors"])[:300]
            raise ProviderError(f"GitHub GraphQL refused the discussion query: {message}",
                                details={"provider": "GitHub"})
        return found

    def rederive(self, stream, child, parent):
        """A comment copies its issue's (or pull request's) title; gone with the issue."""
        new = parent.title if parent is not None else None
        if stream.name != "comments" or child.metadata.get("issue_title") == new:
            return None
        number = child.metadata.get("issue_number")
        title = f"Comment on #{number}: {new}" if new else f"Comment on #{number}"
        return DocumentData(**{**child.__dict__, "title": title, "metadata": {**child.metadata, "issue_title": new}})

    # -- stream readers ---------------------------------------------------------------------------
    def _read_repositories(self, ctx, client, state, mode, channel):
        if channel:
            owner, repo = _split_channel(channel, "repositories")
            record = client.get_json(f"/repos/{owner}/{repo}")
            yield Page([record], {}, last=True)
            return
        yield from read_listing(REPOSITORIES.fetcher(client, page_size=self.page_size), state=state,
                                mode=mode, key=_repo_key)

    def _since_fetcher(self, spec: RestStream, client, path_args):
        def fetch(since, token):
            try:
                return spec.fetch(client, path_args=path_args, params={"since": since}, token=token,
                                  page_size=self.page_size)
            except ProviderError as exc:
                if _status(exc) == 410:     # "Issues are disabled for this repo": nothing to read
                    return Fetched([], None)
                raise
        return fetch

    def _discussions_fetcher(self, client, owner, repo):
        def fetch(token):
            variables = {"owner": owner, "name": repo, "first": self.discussions_page_size,
                         "after": (token or {}).get("after")}
            body = client.request("POST", self.graphql_url, idempotent=True,  # a query: safe to repeat
                                  json={"query": DISCUSSIONS_QUERY, "variables": variables}).json_body or {}
            if body.get("errors"):
                message = "; ".join(str(e.get("message")) for e in body["errors"])[:300]
                raise ProviderError(f"GitHub GraphQL refused the discussions query: {message}",
                                    details={"provider": "GitHub"})
            connection = ((body.get("data") or {}).get("repository") or {}).get("discussions") or {}
            info = connection.get("pageInfo") or {}
            following = {"after": info["endCursor"]} if info.get("hasNextPage") and info.get("endCursor") else None
            return Fetched(list(connection.get("nodes") or []), following, body)
        return fetch

    @staticmethod
    def _tagged(pages, channel, keep=None):
        for page in pages:
            records = [r for r in page.records if keep is None or keep(r)]
            for record in records:
                record["_repository"] = channel
            page.records = records
            yield page

    def _with_issues(self, pages, client, path_args):
        """Attach each comment's issue (number, title, url), one request per issue not yet seen."""
        cache = BoundedCache(self.issue_cache_size)
        base = "/repos/{owner}/{name}/issues/".format(**path_args)
        for page in pages:
            for comment in page.records:
                number = _issue_number(comment)
                if number is None:
                    continue
                comment["_issue"] = cache.get_or_load(number, lambda n=number: _load_issue(client, f"{base}{n}", n))
            yield page

    # -- documents --------------------------------------------------------------------------------
    def to_document(self, stream, record):
        name = stream.name
        if name == "repositories":
            return _repository_document(record)
        if name == "issues":
            return _issue_document(record, "issue")
        if name == "pull_requests":
            return _issue_document(record, "pull_request")
        if name == "comments":
            return _comment_document(record)
        if name == "discussions":
            return _discussion_document(record)
        raise ValueError(f"GitHub has no stream {name!r}")


# -- helpers ----------------------------------------------------------------------------------------

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


def team_key(connection_id: str, org: str, slug: str) -> str:
    """A team as a ``provider_group`` reader: scoped to the connection that listed its members."""
    return f"github:{connection_id}:{org.lower()}/{slug.lower()}"


def _public(repo: dict) -> bool:
    """Readable by anyone: a public repository (an internal one is its enterprise's members',
    whom Tributary cannot list, so it counts as private)."""
    visibility = repo.get("visibility")
    return visibility == "public" if visibility else repo.get("private") is False


def _every(spec: RestStream, client, path_args: dict, page_size: int):
    """Every record of a small listing, page after page (Link headers)."""
    token = None
    while True:
        fetched = spec.fetch(client, path_args=path_args, token=token, page_size=page_size)
        yield from fetched.records
        token = fetched.next_token
        if not token:
            return


def _repo_channel(repo: dict) -> Channel:
    return Channel(id=repo["full_name"], name=repo["full_name"], metadata={
        "private": repo.get("private"), "default_branch": repo.get("default_branch"),
        "html_url": repo.get("html_url"), "updated_at": repo.get("updated_at")})


def _split_channel(channel: str | None, stream: str) -> tuple[str, str]:
    if not channel or not FULL_NAME.match(channel):
        raise ValueError(f"The GitHub {stream} stream is read per repository: pass a channel "
                         f"'owner/name' (got {channel!r}).")
    owner, _, name = channel.partition("/")
    return owner, name


def _id_key(record: dict) -> str:
    return str(record["id"])


def _repo_key(record: dict) -> str:
    return record["full_name"]


def _updated(record: dict) -> str:
    return record["updated_at"]


def _login(person) -> str | None:
    return (person or {}).get("login")


def _issue_number(comment: dict) -> int | None:
    match = re.search(r"/issues/(\d+)$", comment.get("issue_url") or "")
    return int(match.group(1)) if match else None


def _status(exc: ProviderError) -> int | None:
    return (exc.details or {}).get("provider_status")


def _load_issue(client, path: str, number: int) -> dict:
    try:
        return _issue_ref(client.get_json(path))
    except ProviderError as exc:
        if _status(exc) in (404, 410):      # transferred or deleted since: keep the comment
            return {"number": number, "title": None, "html_url": None, "is_pull_request": None, "state": None}
        raise


def _issue_ref(issue: dict) -> dict:
    return {"number": issue["number"], "title": issue.get("title") or "",
            "html_url": issue.get("html_url"), "is_pull_request": "pull_request" in issue,
            "state": issue.get("state")}


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


def _issue_document(record: dict, kind: str) -> DocumentData:
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
    repo = _repository_of(record)
    issue = record.get("_issue") or {}
    number = issue.get("number") or _issue_number(record)
    title = f"Comment on #{number}: {issue['title']}" if issue.get("title") else f"Comment on #{number}"
    return DocumentData(
        external_id=f"{repo}#issuecomment-{record['id']}", title=title, content=record.get("body") or "",
        type="comment", url=record.get("html_url"), author=_login(record.get("user")),
        parent_id=f"{repo}#{number}" if number is not None else None,
        created_at=parse_time(record.get("created_at")), updated_at=parse_time(record.get("updated_at")),
        metadata={"repo": repo, "comment_id": record["id"], "issue_number": number,
                  "issue_url": issue.get("html_url") or record.get("issue_url"),
                  "issue_title": issue.get("title"), "is_pull_request": issue.get("is_pull_request"),
                  "author_association": record.get("author_association")})


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
