"""GitHub: the OAuth web flow (GitHub App user tokens that expire, with refresh-token rotation)
and the REST API v3 endpoints the connector reads, under /github (web) and /github/api (API).
"""
from __future__ import annotations

import base64
import math
from bisect import bisect_left
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request

from .. import oauth
from ..faults import RateInfo
from ..seed import LABELS, PERMISSIONS, iso
from . import (Answer, Principal, Provider, Window, gateway_error, guarded, int_arg,
               json_response, root_url, state, url_with)

bp = Blueprint("github", __name__, url_prefix="/github")

DOCS = "https://docs.github.com/rest"
TROUBLESHOOTING = ("https://docs.github.com/apps/managing-oauth-apps/"
                   "troubleshooting-oauth-app-access-token-request-errors/")
THEME = {"provider": "github", "title": "GitHub"}


class GitHubDialect(oauth.Dialect):
    provider = "github"
    display_name = "GitHub"
    sandbox_login = "octo-sandbox"
    scope_separators = " ,"
    scope_joiner = ","
    token_type = "bearer"
    default_grant_type = "authorization_code"
    scope_descriptions = {
        "repo": "Full control of private repositories",
        "public_repo": "Access public repositories",
        "read:user": "Read all user profile data",
        "user:email": "Access user email addresses (read-only)",
        "read:org": "Read org and team membership, read org projects",
        "user": "Update ALL user data",
    }

    def new_access_token(self) -> str:
        return "ghu_" + oauth.random_token(36)

    def new_refresh_token(self) -> str:
        return "ghr_" + oauth.random_token(76)

    def new_personal_token(self) -> str:
        return "ghp_" + oauth.random_token(36)

    def consent_user(self, st) -> dict:
        owner = st.data.github.owner
        return {"login": owner["login"], "name": owner["name"],
                "avatar_url": avatar_url(owner["id"])}

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        return {
            "access_token": issued.access.value,
            "expires_in": ttl,
            "refresh_token": issued.refresh.value,
            "refresh_token_expires_in": refresh_ttl,
            "scope": self.scope_joiner.join(issued.grant.scope),
            "token_type": self.token_type,
        }

    def token_success(self, body: dict) -> Response:
        return _negotiated(body)

    def token_error(self, error: oauth.OAuthError):
        code, description, anchor = {
            "invalid_client": ("incorrect_client_credentials",
                               "The client_id and/or client_secret passed are incorrect.",
                               "incorrect-client-credentials"),
            "redirect_uri_mismatch": ("redirect_uri_mismatch",
                                      "The redirect_uri MUST match the registered callback URL "
                                      "for this application.", "redirect-uri-mismatch"),
            "bad_refresh_token": ("bad_refresh_token",
                                  "The refresh token passed is incorrect or expired.",
                                  "bad-verification-code"),
            "unsupported_grant_type": ("unsupported_grant_type",
                                       "The grant type passed is not supported.",
                                       "unsupported-grant-type"),
            "invalid_request": ("invalid_request", error.detail or "The request is invalid.",
                                "invalid-request"),
        }.get(error.reason, ("bad_verification_code", "The code passed is incorrect or expired.",
                             "bad-verification-code"))
        body = {"error": code, "error_description": description,
                "error_uri": TROUBLESHOOTING + "#" + anchor}
        return _negotiated(body), code       # GitHub says "no" with HTTP 200

    def denied_params(self) -> dict:
        return {"error": "access_denied",
                "error_description": "The user has denied your application access.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
                             "troubleshooting-authorization-request-errors/#access-denied"}


def _negotiated(body: dict) -> Response:
    """GitHub's token endpoint answers JSON only when asked to; form-encoded otherwise."""
    if "application/json" in request.headers.get("Accept", ""):
        return json_response(body)
    return Response(urlencode(body), mimetype="application/x-www-form-urlencoded")


class GitHub(Provider):
    name = "github"
    prefix = "/github"
    default_limit = (5000, 3600)

    def authenticate(self, st) -> Principal | None:
        token = oauth.bearer_token()
        grant = st.tokens.access_grant("github", token, st.now())
        return Principal(key=token, grant=grant) if grant else None

    def unauthorized(self) -> Response:
        st = state()
        with st.lock:
            now = st.now()
            info = st.limiter.hit(("github", "ip:" + (request.remote_addr or "?"), "core"),
                                  limit=60, window=3600, now=now, enforce=False)
        response = json_response({"message": "Bad credentials", "documentation_url": DOCS,
                                  "status": "401"}, 401)
        self.rate_headers(response, info, now)
        return response

    def not_found(self) -> Response:
        return json_response({"message": "Not Found", "documentation_url": DOCS,
                              "status": "404"}, 404)

    def rate_limited(self, info: RateInfo, status: int, now: float) -> Response:
        user_id = state().data.github.owner["id"]
        body = {"message": f"API rate limit exceeded for user ID {user_id}. If you reach out to "
                           "GitHub Support for help, please include the request ID "
                           "SANDBOX:0000:0000000:0000000:00000000.",
                "documentation_url": "https://docs.github.com/rest/overview/"
                                     "rate-limits-for-the-rest-api",
                "status": str(status)}
        response = json_response(body, status)
        self.rate_headers(response, info, now)
        response.headers["retry-after"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def server_error(self, status: int) -> Response:
        if status == 500:
            return json_response({"message": "Server Error", "documentation_url": DOCS,
                                  "status": "500"}, 500)
        return gateway_error(status)

    def client_error(self, status: int) -> Response:
        if status == 422:
            return json_response({"message": "Validation Failed", "errors": [
                {"resource": "Search", "field": "q", "code": "invalid"}], "documentation_url": DOCS,
                "status": "422"}, 422)
        message = {403: "Resource not accessible by integration", 404: "Not Found",
                   410: "Issues are disabled for this repo"}.get(status, "Bad request")
        return json_response({"message": message, "documentation_url": DOCS, "status": str(status)}, status)

    def rate_headers(self, response: Response, info: RateInfo, now: float) -> None:
        response.headers["x-ratelimit-limit"] = str(info.limit)
        response.headers["x-ratelimit-remaining"] = str(info.remaining)
        response.headers["x-ratelimit-reset"] = str(math.ceil(info.reset_at))
        response.headers["x-ratelimit-used"] = str(info.used)
        response.headers["x-ratelimit-resource"] = "core"


DIALECT = GitHubDialect()
PROVIDER = GitHub()


# -- OAuth web flow --------------------------------------------------------------------------

@bp.get("/login/oauth/authorize")
@guarded(PROVIDER, kind="page")
def authorize():
    """The consent page ("Authorize Tributary")."""
    return oauth.render_consent(state(), DIALECT, THEME)


@bp.post("/login/oauth/authorize")
@guarded(PROVIDER, kind="page")
def authorize_decision():
    """The consent form's Authorize / Cancel."""
    return oauth.decide(state(), DIALECT, THEME)


@bp.post("/login/oauth/access_token")
@guarded(PROVIDER, kind="oauth")
def access_token():
    """Exchange a code, or refresh (rotating the refresh token)."""
    return oauth.token_endpoint(state(), DIALECT)


@bp.delete("/api/applications/<client_id>/grant")
@guarded(PROVIDER, kind="oauth")
def delete_grant(client_id):
    """Delete an app authorization: Basic client auth, JSON {"access_token": ...}, 204."""
    st = state()
    auth = request.authorization
    client = st.client("github", client_id)
    if (client is None or auth is None or auth.type != "basic" or auth.username != client_id
            or auth.password != client["client_secret"]):
        return PROVIDER.not_found()
    payload = request.get_json(silent=True) or {}
    if not payload.get("access_token"):
        return json_response({"message": "Invalid request.\n\n\"access_token\" wasn't supplied.",
                              "documentation_url": DOCS, "status": "422"}, 422)
    with st.lock:
        grant = st.tokens.grant_of("github", payload["access_token"])
        if grant is None or grant.client_id != client_id or not st.tokens.revoke_token(
                "github", payload["access_token"]):
            return PROVIDER.not_found()
    return Response(status=204)


# -- JSON shapes -----------------------------------------------------------------------------

def api_url() -> str:
    return root_url() + "/github/api"


def web_url() -> str:
    return root_url() + "/github"


def avatar_url(user_id: int) -> str:
    return f"{root_url()}/_sandbox/avatars/gh-{user_id}.svg?v=4"


def node_id(prefix: str, value) -> str:
    return prefix + base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def simple_user(person: dict, kind: str = "User") -> dict:
    api, login = api_url(), person["login"]
    return {
        "login": login, "id": person["id"],
        "node_id": node_id("U_kgDO" if kind == "User" else "O_kgDO", person["id"]),
        "avatar_url": avatar_url(person["id"]), "gravatar_id": "",
        "url": f"{api}/users/{login}", "html_url": f"{web_url()}/{login}",
        "followers_url": f"{api}/users/{login}/followers",
        "following_url": f"{api}/users/{login}/following{{/other_user}}",
        "gists_url": f"{api}/users/{login}/gists{{/gist_id}}",
        "starred_url": f"{api}/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/users/{login}/subscriptions",
        "organizations_url": f"{api}/users/{login}/orgs",
        "repos_url": f"{api}/users/{login}/repos",
        "events_url": f"{api}/users/{login}/events{{/privacy}}",
        "received_events_url": f"{api}/users/{login}/received_events",
        "type": kind, "user_view_type": "public", "site_admin": False,
    }


def repo_owner(repo: dict) -> dict:
    """A repository's owner: the signed-in user, the other user, or the organization."""
    gh = state().data.github
    login = repo.get("owner_login")
    if login == gh.ORG_LOGIN:
        return simple_user(gh.org, "Organization")
    return simple_user(gh.community_owner if login == gh.COMMUNITY_LOGIN else gh.owner)


def repo_json(repo: dict, *, open_issues: int | None = None) -> dict:
    gh = state().data.github
    api, full = api_url(), repo["full_name"]
    base = f"{api}/repos/{full}"
    if open_issues is None:
        open_issues = _open_issues(repo)
    # What the signed-in user may do here (a public repository is readable by anyone).
    granted = gh.viewer_permission(repo)
    level = PERMISSIONS.index(granted) if granted else (0 if not repo["private"] else -1)
    return {
        "id": repo["id"], "node_id": node_id("R_kgDO", repo["id"]), "name": repo["name"],
        "full_name": full, "private": repo["private"],
        "owner": repo_owner(repo),
        "html_url": f"{web_url()}/{full}", "description": repo["description"], "fork": False,
        "url": base, **repo_urls(base), "issues_url": f"{base}/issues{{/number}}",
        "pulls_url": f"{base}/pulls{{/number}}",
        "issue_comment_url": f"{base}/issues/comments{{/number}}",
        "labels_url": f"{base}/labels{{/name}}",
        "created_at": iso(repo["created"]), "updated_at": iso(repo["updated"]),
        "pushed_at": iso(repo["pushed"]), "git_url": f"git://{_host()}/{full}.git",
        "ssh_url": f"git@{_host()}:{full}.git", "clone_url": f"{web_url()}/{full}.git",
        "svn_url": f"{web_url()}/{full}",
        "homepage": None, "size": 100 + repo["id"] % 9000,
        "stargazers_count": repo["stars"], "watchers_count": repo["stars"],
        "language": repo["language"], "has_issues": True, "has_projects": True,
        "has_downloads": True, "has_wiki": False, "has_pages": False, "has_discussions": False,
        "forks_count": repo["forks"], "mirror_url": None, "archived": False, "disabled": False,
        "open_issues_count": open_issues, "license": None, "allow_forking": True,
        "is_template": False, "web_commit_signoff_required": False, "topics": repo["topics"],
        "visibility": "private" if repo["private"] else "public", "forks": repo["forks"],
        "open_issues": open_issues, "watchers": repo["stars"], "default_branch": "main",
        "permissions": permission_flags(level),
    }


def permission_flags(level: int) -> dict:
    """GitHub's permissions object for a permission (an index into PERMISSIONS, -1: none)."""
    return {"admin": level >= 4, "maintain": level >= 3, "push": level >= 2, "triage": level >= 1,
            "pull": level >= 0}


ROLE_NAMES = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}


# The URL templates every repository object carries (GitHub's "repository" schema requires them).
REPO_URL_TEMPLATES = {
    "forks_url": "/forks", "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}", "teams_url": "/teams",
    "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}", "events_url": "/events",
    "assignees_url": "/assignees{/user}", "branches_url": "/branches{/branch}",
    "tags_url": "/tags", "blobs_url": "/git/blobs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}", "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}", "languages_url": "/languages",
    "stargazers_url": "/stargazers", "contributors_url": "/contributors",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}", "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}", "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}", "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}", "downloads_url": "/downloads",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "releases_url": "/releases{/id}", "deployments_url": "/deployments",
}


def repo_urls(base: str) -> dict:
    return {name: base + suffix for name, suffix in REPO_URL_TEMPLATES.items()}


def _host() -> str:
    return root_url().split("://", 1)[-1]


def _open_issues(repo: dict) -> int:
    # Exact for small data sets; at large SCALE a listing must not build every repo's index.
    gh = state().data.github
    return (sum(1 for i in gh.issues(repo).issues if not i.closed)
            if gh.scale <= 500 else (repo["id"] % 7 + 40) * gh.scale // 100)


def _association(person_index: int) -> str:
    return "OWNER" if person_index == 0 else ("CONTRIBUTOR", "MEMBER", "NONE")[person_index % 3]


def _labels(repo: dict, indexes: list[int]) -> list[dict]:
    base = f"{api_url()}/repos/{repo['full_name']}/labels/"
    out = []
    for i in indexes:
        name, color, description = LABELS[i]
        label_id = 4_000_000_000 + repo["index"] * 100 + i
        out.append({"id": label_id, "node_id": node_id("LA_kwDO", label_id),
                    "url": base + name.replace(" ", "%20"), "name": name, "color": color,
                    "default": i < 6, "description": description})
    return out


def issue_id(repo: dict, number: int) -> int:
    return 2_000_000_000 + repo["index"] * 1_000_000 + number


def issue_json(repo: dict, issue) -> dict:
    gh = state().data.github
    base = f"{api_url()}/repos/{repo['full_name']}"
    title, body = gh.issue_text(repo, issue)
    kind = "pull" if issue.is_pr else "issues"
    out = {
        "url": f"{base}/issues/{issue.number}", "repository_url": base,
        "labels_url": f"{base}/issues/{issue.number}/labels{{/name}}",
        "comments_url": f"{base}/issues/{issue.number}/comments",
        "events_url": f"{base}/issues/{issue.number}/events",
        "html_url": f"{web_url()}/{repo['full_name']}/{kind}/{issue.number}",
        "id": issue_id(repo, issue.number),
        "node_id": node_id("I_kwDO", issue_id(repo, issue.number)),
        "number": issue.number, "title": title, "user": simple_user(gh.people[issue.author]),
        "labels": _labels(repo, issue.labels), "state": issue.state, "locked": issue.locked,
        "assignee": simple_user(gh.people[issue.assignee]) if issue.assignee is not None else None,
        "assignees": [simple_user(gh.people[issue.assignee])] if issue.assignee is not None else [],
        "milestone": None, "comments": len(issue.comments),
        "created_at": iso(issue.created), "updated_at": iso(issue.updated),
        "closed_at": iso(issue.closed) if issue.closed else None,
        "author_association": _association(issue.author), "active_lock_reason": None,
        "body": body, "timeline_url": f"{base}/issues/{issue.number}/timeline",
        "performed_via_github_app": None, "state_reason": issue.state_reason,
    }
    if issue.is_pr:
        out["draft"] = issue.draft
        out["pull_request"] = {
            "url": f"{base}/pulls/{issue.number}",
            "html_url": f"{web_url()}/{repo['full_name']}/pull/{issue.number}",
            "diff_url": f"{web_url()}/{repo['full_name']}/pull/{issue.number}.diff",
            "patch_url": f"{web_url()}/{repo['full_name']}/pull/{issue.number}.patch",
            "merged_at": iso(issue.closed) if issue.merged else None,
        }
    return out


def pull_json(repo: dict, issue) -> dict:
    gh = state().data.github
    base = f"{api_url()}/repos/{repo['full_name']}"
    html = f"{web_url()}/{repo['full_name']}/pull/{issue.number}"
    title, body = gh.issue_text(repo, issue)
    pr_id = 1_000_000_000_000 + repo["index"] * 1_000_000 + issue.number
    author = gh.people[issue.author]
    branch = f"{author['login'].split('-')[0]}/change-{issue.number}"
    head_repo = repo_json(repo, open_issues=_open_issues(repo))
    return {
        "url": f"{base}/pulls/{issue.number}", "id": pr_id, "node_id": node_id("PR_kwDO", pr_id),
        "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch",
        "issue_url": f"{base}/issues/{issue.number}", "number": issue.number,
        "state": issue.state, "locked": issue.locked, "title": title,
        "user": simple_user(author), "body": body,
        "created_at": iso(issue.created), "updated_at": iso(issue.updated),
        "closed_at": iso(issue.closed) if issue.closed else None,
        "merged_at": iso(issue.closed) if issue.merged else None,
        "merge_commit_sha": gh.sha(repo, issue.number, "merge") if issue.merged else None,
        "assignee": simple_user(gh.people[issue.assignee]) if issue.assignee is not None else None,
        "assignees": [simple_user(gh.people[issue.assignee])] if issue.assignee is not None else [],
        "requested_reviewers": [], "requested_teams": [], "labels": _labels(repo, issue.labels),
        "milestone": None, "draft": issue.draft,
        "commits_url": f"{base}/pulls/{issue.number}/commits",
        "review_comments_url": f"{base}/pulls/{issue.number}/comments",
        "review_comment_url": f"{base}/pulls/comments{{/number}}",
        "comments_url": f"{base}/issues/{issue.number}/comments",
        "statuses_url": f"{base}/statuses/{gh.sha(repo, issue.number, 'head')}",
        "head": {"label": f"{gh.owner['login']}:{branch}", "ref": branch,
                 "sha": gh.sha(repo, issue.number, "head"), "user": simple_user(gh.owner),
                 "repo": head_repo},
        "base": {"label": f"{gh.owner['login']}:main", "ref": "main",
                 "sha": gh.sha(repo, issue.number, "base"), "user": simple_user(gh.owner),
                 "repo": head_repo},
        "_links": {rel: {"href": href} for rel, href in (
            ("self", f"{base}/pulls/{issue.number}"), ("html", html),
            ("issue", f"{base}/issues/{issue.number}"),
            ("comments", f"{base}/issues/{issue.number}/comments"),
            ("review_comments", f"{base}/pulls/{issue.number}/comments"),
            ("review_comment", f"{base}/pulls/comments{{/number}}"),
            ("commits", f"{base}/pulls/{issue.number}/commits"),
            ("statuses", f"{base}/statuses/{gh.sha(repo, issue.number, 'head')}"))},
        "author_association": _association(issue.author), "auto_merge": None,
        "active_lock_reason": None,
    }


def comment_json(repo: dict, comment) -> dict:
    gh = state().data.github
    base = f"{api_url()}/repos/{repo['full_name']}"
    issue = gh.issues(repo).by_number[comment.number]
    kind = "pull" if issue.is_pr else "issues"
    return {
        "url": f"{base}/issues/comments/{comment.id}",
        "html_url": f"{web_url()}/{repo['full_name']}/{kind}/{comment.number}"
                    f"#issuecomment-{comment.id}",
        "issue_url": f"{base}/issues/{comment.number}", "id": comment.id,
        "node_id": node_id("IC_kwDO", comment.id), "user": simple_user(gh.people[comment.author]),
        "created_at": iso(comment.created), "updated_at": iso(comment.updated),
        "author_association": _association(comment.author),
        "body": gh.comment_text(repo, comment), "performed_via_github_app": None,
    }


# -- helpers ---------------------------------------------------------------------------------

def paginate(items: list, *, default_per_page: int = 30) -> tuple[list, dict]:
    """A page of ``items`` by page/per_page, and GitHub's Link header for it."""
    per_page = int_arg("per_page", default_per_page, minimum=1, maximum=100)
    page = int_arg("page", 1, minimum=1)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    links = []
    if page > 1:
        links.append(f'<{url_with(page=page - 1)}>; rel="prev"')
    if page < last:
        links.append(f'<{url_with(page=page + 1)}>; rel="next"')
        links.append(f'<{url_with(page=last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url_with(page=1)}>; rel="first"')
    return chunk, ({"Link": ", ".join(links)} if links else {})


class Invalid(Answer):
    """A 404 or 422 raised by the argument and lookup helpers below."""


def validation_failed(field: str, resource: str = "Issue") -> Response:
    return json_response({"message": "Validation Failed",
                          "errors": [{"resource": resource, "field": field, "code": "invalid"}],
                          "documentation_url": DOCS, "status": "422"}, 422)


def since_arg() -> float | None:
    raw = request.args.get("since")
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(validation_failed("since"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def choice_arg(name: str, allowed: tuple, default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise Invalid(validation_failed(name))
    return value


def find_repo(owner: str, name: str) -> dict:
    repo = state().data.github.repo(owner, name)
    if repo is None:
        raise Invalid(PROVIDER.not_found())
    return repo


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid):
    return exc.response


def since_window(rows: list, since: float | None, updated_key, direction: str) -> Window:
    """The rows updated at or after ``since`` of a list sorted ascending by ``updated_key``
    (updated time first), by bisection, in ``direction``."""
    lo = 0 if since is None else bisect_left(rows, (since,), key=updated_key)
    return Window(rows, lo, len(rows), direction == "desc")


# -- REST API --------------------------------------------------------------------------------

@bp.get("/api/user")
@guarded(PROVIDER, bucket="core")
def get_user(principal):
    """The authenticated user."""
    gh = state().data.github
    owner = gh.owner
    repos = gh.repos()
    private = sum(1 for r in repos if r["private"])
    body = simple_user(owner)
    body.update({
        "name": owner["name"], "company": owner["company"], "blog": "",
        "location": owner["location"],
        "email": owner["email"], "hireable": None, "bio": owner["bio"], "twitter_username": None,
        "notification_email": owner["email"], "public_repos": len(repos) - private,
        "public_gists": 0, "followers": 42, "following": 7,
        "created_at": iso(owner["created"]), "updated_at": iso(owner["updated"]),
        "private_gists": 0, "total_private_repos": private, "owned_private_repos": private,
        "disk_usage": 10240, "collaborators": 0, "two_factor_authentication": True,
        "plan": {"name": "pro", "space": 976562499, "collaborators": 0, "private_repos": 9999},
    })
    return json_response(body, headers={"X-OAuth-Scopes": ", ".join(principal.scope)})


@bp.get("/api/user/repos")
@guarded(PROVIDER, bucket="core")
def list_repos(principal):
    """Repositories of the authenticated user (sort, direction, visibility, page/per_page)."""
    sort = choice_arg("sort", ("full_name", "created", "updated", "pushed"), "full_name")
    direction = choice_arg("direction", ("asc", "desc"), "asc" if sort == "full_name" else "desc")
    visibility = choice_arg("visibility", ("all", "public", "private"), "all")
    gh = state().data.github
    key = (lambda r: r["full_name"].lower()) if sort == "full_name" else \
        (lambda r: (r[sort], r["id"]))
    repos = gh.repo_view(("repos", visibility, sort), lambda: sorted(
        (r for r in gh.listed_repos() if visibility == "all" or (visibility == "private") == r["private"]),
        key=key))
    chunk, headers = paginate(Window(repos, descending=direction == "desc"))
    return json_response([repo_json(r) for r in chunk], headers=headers)


@bp.get("/api/repos/<owner>/<repo>")
@guarded(PROVIDER, bucket="core")
def get_repo(principal, owner, repo):
    body = repo_json(find_repo(owner, repo))
    body.update(network_count=body["forks"], subscribers_count=body["watchers"] // 3 + 1)
    return json_response(body)


# -- who may read a repository: collaborators, teams, team members ------------------------------

COLLABORATORS_DOCS = "https://docs.github.com/rest/collaborators/collaborators"


def forbidden(message: str, docs: str = DOCS) -> Response:
    return json_response({"message": message, "documentation_url": docs, "status": "403"}, 403)


def collaborator_json(person: dict, permission: str) -> dict:
    body = simple_user(person)
    body.update(permissions=permission_flags(PERMISSIONS.index(permission)), role_name=ROLE_NAMES[permission])
    return body


def team_json(team: dict, permission: str | None = None) -> dict:
    gh = state().data.github
    org, api = gh.ORG_LOGIN, api_url()
    base = f"{api}/organizations/{gh.org['id']}/team/{team['id']}"
    body = {
        "id": team["id"], "node_id": node_id("T_kwDO", team["id"]), "name": team["name"],
        "slug": team["slug"], "description": team["description"], "privacy": "closed",
        "notification_setting": "notifications_enabled", "url": base,
        "html_url": f"{web_url()}/orgs/{org}/teams/{team['slug']}",
        "members_url": f"{base}/members{{/member}}", "repositories_url": f"{base}/repos",
        "type": "organization", "organization_id": gh.org["id"], "parent": None,
    }
    if permission is not None:      # a team as a repository lists it: its permission there
        body.update(permission=permission, permissions=permission_flags(PERMISSIONS.index(permission)))
    return body


def _viewer_level(repo: dict) -> int:
    granted = state().data.github.viewer_permission(repo)
    return PERMISSIONS.index(granted) if granted else -1


@bp.get("/api/repos/<owner>/<repo>/collaborators")
@guarded(PROVIDER, bucket="core")
def list_collaborators(principal, owner, repo):
    """Collaborators (affiliation outside|direct|all, permission, pages); 403 without push
    access, as on GitHub."""
    repo = find_repo(owner, repo)
    affiliation = choice_arg("affiliation", ("outside", "direct", "all"), "all")
    wanted = request.args.get("permission")
    if wanted is not None and wanted not in PERMISSIONS:
        raise Invalid(validation_failed("permission", "Collaborator"))
    with state().lock:
        if _viewer_level(repo) < PERMISSIONS.index("push"):
            return forbidden("Must have push access to view repository collaborators.",
                             f"{COLLABORATORS_DOCS}#list-repository-collaborators")
        gh = state().data.github
        found = gh.collaborators(repo, affiliation)
        rows = sorted(((gh.people[p], perm) for p, perm in found.items() if wanted in (None, perm)),
                      key=lambda row: row[0]["id"])
        chunk, headers = paginate(rows)
        body = [collaborator_json(person, perm) for person, perm in chunk]
    return json_response(body, headers=headers)


def _collaborator_change(repo: dict, username: str, docs_anchor: str) -> int:
    """The person a collaborator change names; 403 unless the signed-in user administers the
    repository, 404 for a login nobody has."""
    if _viewer_level(repo) < PERMISSIONS.index("admin"):
        raise Invalid(forbidden("Must have admin rights to Repository.", f"{COLLABORATORS_DOCS}#{docs_anchor}"))
    person = state().data.github.person_by_login(username)
    if person is None:
        raise Invalid(PROVIDER.not_found())
    return person


@bp.put("/api/repos/<owner>/<repo>/collaborators/<username>")
@guarded(PROVIDER, bucket="core")
def add_collaborator(principal, owner, repo, username):
    """Add a collaborator (admins only). An organization's member, or someone already a
    collaborator, gets the permission at once (204); anyone else is sent an invitation (201),
    which stays pending: the sandbox has no invitee to accept it (``POST
    /_sandbox/github/collaborators`` grants at once instead)."""
    repo = find_repo(owner, repo)
    payload = request.get_json(silent=True) or {}
    permission = payload.get("permission", "push")
    if permission not in PERMISSIONS:
        return validation_failed("permission", "Collaborator")
    st = state()
    with st.lock:
        gh = st.data.github
        person = _collaborator_change(repo, username, "add-a-repository-collaborator")
        org_member = repo.get("owner_login") == gh.ORG_LOGIN and person in gh.org_members()
        if person in gh.grants(repo) or org_member:
            gh.set_collaborator(repo, person, permission)
            return Response(status=204)
        invitation = gh.invite(repo, person, permission, int(st.now()))
        body = invitation_json(repo, invitation)
    return json_response(body, 201)


def invitation_json(repo: dict, invitation: dict) -> dict:
    gh = state().data.github
    full = repo["full_name"]
    minimal = {k: v for k, v in repo_json(repo).items()
               if k not in ("permissions", "open_issues", "forks", "watchers", "allow_forking",
                            "web_commit_signoff_required", "is_template", "visibility")}
    return {
        "id": invitation["id"], "node_id": node_id("RI_kwDO", invitation["id"]), "repository": minimal,
        "invitee": simple_user(gh.people[invitation["person"]]), "inviter": simple_user(gh.owner),
        "permissions": {"pull": "read", "push": "write"}.get(invitation["permission"], invitation["permission"]),
        "created_at": iso(invitation["at"]), "expired": False,
        "url": f"{api_url()}/user/repository_invitations/{invitation['id']}",
        "html_url": f"{web_url()}/{full}/invitations",
    }


@bp.delete("/api/repos/<owner>/<repo>/collaborators/<username>")
@guarded(PROVIDER, bucket="core")
def remove_collaborator(principal, owner, repo, username):
    """Remove a direct collaborator (admins only): 204, also for someone who was not one."""
    repo = find_repo(owner, repo)
    st = state()
    with st.lock:
        gh = st.data.github
        person = _collaborator_change(repo, username, "remove-a-repository-collaborator")
        if person in gh.grants(repo):
            gh.set_collaborator(repo, person, None)
    return Response(status=204)


@bp.get("/api/repos/<owner>/<repo>/teams")
@guarded(PROVIDER, bucket="core")
def list_repo_teams(principal, owner, repo):
    """The teams with access to a repository (an organization's; a user's has none)."""
    repo = find_repo(owner, repo)
    with state().lock:
        gh = state().data.github
        teams = sorted(((gh.team(slug), perm) for slug, perm in gh.repo_teams(repo).items()),
                       key=lambda row: row[0]["id"])
        chunk, headers = paginate(teams)
        body = [team_json(team, perm) for team, perm in chunk]
    return json_response(body, headers=headers)


@bp.get("/api/orgs/<org>/teams/<team_slug>/members")
@guarded(PROVIDER, bucket="core")
def list_team_members(principal, org, team_slug):
    """A team's members (role all|member|maintainer, pages); the first listed member of each
    seeded team is its maintainer."""
    role = choice_arg("role", ("all", "member", "maintainer"), "all")
    with state().lock:
        gh = state().data.github
        team = gh.team(team_slug) if org.lower() == gh.ORG_LOGIN else None
        if team is None:
            return PROVIDER.not_found()
        rows = [(gh.people[p], "maintainer" if k == 0 else "member") for k, p in enumerate(team["members"])]
        rows = sorted((row for row in rows if role in ("all", row[1])), key=lambda row: row[0]["id"])
        chunk, headers = paginate(rows)
        body = [{**simple_user(person), "role": member_role, "inherited": False} for person, member_role in chunk]
    return json_response(body, headers=headers)


@bp.get("/api/repos/<owner>/<repo>/issues")
@guarded(PROVIDER, bucket="core")
def list_issues(principal, owner, repo):
    """Issues and pull requests (state, since on updated_at, sort, direction, labels, pages)."""
    repo = find_repo(owner, repo)
    wanted = choice_arg("state", ("open", "closed", "all"), "open")
    sort = choice_arg("sort", ("created", "updated", "comments"), "created")
    direction = choice_arg("direction", ("asc", "desc"), "desc")
    since = since_arg()
    labels = {s.strip() for s in request.args.get("labels", "").split(",") if s.strip()}
    with state().lock:
        data = state().data.github.issues(repo)
        key = {"created": lambda i: (i.created, i.number),
               "updated": lambda i: (i.updated, i.number),
               "comments": lambda i: (len(i.comments), i.number)}[sort]
        # Sorted once per (state, sort) until the next write; since is a bisection when the
        # order is by update time, a filter otherwise.
        rows = data.view(("issues", wanted, sort), lambda: sorted(
            (i for i in data.by_number.values() if wanted == "all" or i.state == wanted), key=key))
        if since is not None and sort != "updated":
            rows = [i for i in rows if i.updated >= since]
        if labels:
            rows = [i for i in rows if labels <= {LABELS[x][0] for x in i.labels}]
        items = since_window(rows, since if sort == "updated" else None, key, direction)
        chunk, headers = paginate(items)
        body = [issue_json(repo, i) for i in chunk]
    return json_response(body, headers=headers)


@bp.post("/api/repos/<owner>/<repo>/issues")
@guarded(PROVIDER, bucket="core")
def create_issue(principal, owner, repo):
    """Create an issue (the agent action); it appears in listings with updated_at = now."""
    repo = find_repo(owner, repo)
    payload = request.get_json(silent=True) or {}
    if not isinstance(payload.get("title"), str) or not payload["title"].strip():
        return json_response({"message": "Invalid request.\n\n\"title\" wasn't supplied.",
                              "documentation_url": DOCS, "status": "422"}, 422)
    st = state()
    with st.lock:
        gh = st.data.github
        number = gh.issues(repo).next_number()
        data = gh.record(repo, ("create_issue", {
            "number": number, "title": payload["title"], "body": payload.get("body"),
            "labels": [str(x) for x in payload.get("labels") or []], "at": int(st.now())}))
        body = issue_json(repo, data.by_number[number])
    return json_response(body, 201, headers={"Location": body["url"]})


@bp.get("/api/repos/<owner>/<repo>/issues/<int:number>")
@guarded(PROVIDER, bucket="core")
def get_issue(principal, owner, repo, number):
    repo = find_repo(owner, repo)
    with state().lock:
        issue = state().data.github.issues(repo).by_number.get(number)
        if issue is None:
            return PROVIDER.not_found()
        return json_response(issue_json(repo, issue))


@bp.patch("/api/repos/<owner>/<repo>/issues/<int:number>")
@guarded(PROVIDER, bucket="core")
def update_issue(principal, owner, repo, number):
    """Edit title/body/state of an issue."""
    repo = find_repo(owner, repo)
    payload = request.get_json(silent=True) or {}
    fields = {k: payload[k] for k in ("title", "body", "state", "state_reason") if k in payload}
    if "state" in fields and fields["state"] not in ("open", "closed"):
        return validation_failed("state")
    return _on_issue(repo, number, "patch_issue", fields,
                     lambda data: json_response(issue_json(repo, data.by_number[number])))


def _on_issue(repo, number: int, op: str, fields: dict, answer):
    """Record ``op`` on issue ``number`` of ``repo`` (404 if it has none), stamped now, and
    ``answer(issues)`` with the repository's issues after it, under the state's lock."""
    st = state()
    with st.lock:
        if number not in st.data.github.issues(repo).by_number:
            return PROVIDER.not_found()
        data = st.data.github.record(repo, (op, {**fields, "number": number, "at": int(st.now())}))
        return answer(data)


@bp.get("/api/repos/<owner>/<repo>/pulls")
@guarded(PROVIDER, bucket="core")
def list_pulls(principal, owner, repo):
    """Pull requests (state, sort created|updated|popularity|long-running, direction, pages)."""
    repo = find_repo(owner, repo)
    wanted = choice_arg("state", ("open", "closed", "all"), "open")
    sort = choice_arg("sort", ("created", "updated", "popularity", "long-running"), "created")
    direction = choice_arg("direction", ("asc", "desc"), "desc" if sort == "created" else "asc")
    with state().lock:
        data = state().data.github.issues(repo)
        key = {"created": lambda i: (i.created, i.number),
               "updated": lambda i: (i.updated, i.number),
               "popularity": lambda i: (len(i.comments), i.number),
               "long-running": lambda i: (-i.created, i.number)}[sort]
        pulls = data.view(("pulls", wanted, sort), lambda: sorted(
            (i for i in data.by_number.values()
             if i.is_pr and (wanted == "all" or i.state == wanted)), key=key))
        chunk, headers = paginate(Window(pulls, descending=direction == "desc"))
        body = [pull_json(repo, i) for i in chunk]
    return json_response(body, headers=headers)


@bp.get("/api/repos/<owner>/<repo>/issues/comments")
@guarded(PROVIDER, bucket="core")
def list_repo_comments(principal, owner, repo):
    """Issue comments of a whole repository (since on updated_at, sort, direction, pages)."""
    repo = find_repo(owner, repo)
    since = since_arg()
    sort = request.args.get("sort")
    if sort is not None and sort not in ("created", "updated"):
        return validation_failed("sort", "IssueComment")
    direction = choice_arg("direction", ("asc", "desc"), "desc") if sort else "asc"
    with state().lock:
        data = state().data.github.issues(repo)
        if sort == "updated":
            key = lambda c: (c.updated, c.id)  # noqa: E731
            rows = data.view(("comments", "updated"), lambda: sorted(data.comments, key=key))
            comments = since_window(rows, since, key, direction)
        else:               # id order, which is creation order
            rows = data.comments if since is None else [c for c in data.comments
                                                        if c.updated >= since]
            comments = Window(rows, descending=direction == "desc")
        chunk, headers = paginate(comments)
        body = [comment_json(repo, c) for c in chunk]
    return json_response(body, headers=headers)


@bp.get("/api/repos/<owner>/<repo>/issues/<int:number>/comments")
@guarded(PROVIDER, bucket="core")
def list_issue_comments(principal, owner, repo, number):
    """Comments of one issue or pull request, oldest first (since, pages)."""
    repo = find_repo(owner, repo)
    since = since_arg()
    with state().lock:
        issue = state().data.github.issues(repo).by_number.get(number)
        if issue is None:
            return PROVIDER.not_found()
        comments = [c for c in issue.comments if since is None or c.updated >= since]
        chunk, headers = paginate(comments)
        body = [comment_json(repo, c) for c in chunk]
    return json_response(body, headers=headers)


@bp.post("/api/repos/<owner>/<repo>/issues/<int:number>/comments")
@guarded(PROVIDER, bucket="core")
def create_comment(principal, owner, repo, number):
    """Comment on an issue; bumps the issue's updated_at."""
    repo = find_repo(owner, repo)
    payload = request.get_json(silent=True) or {}
    if not isinstance(payload.get("body"), str) or not payload["body"].strip():
        return json_response({"message": "Invalid request.\n\n\"body\" wasn't supplied.",
                              "documentation_url": DOCS, "status": "422"}, 422)
    def answer(data):
        body = comment_json(repo, data.comments[-1])
        return json_response(body, 201, headers={"Location": body["url"]})
    return _on_issue(repo, number, "create_comment", {"body": payload["body"]}, answer)


@bp.post("/api/repos/<owner>/<repo>/issues/<int:number>/labels")
@guarded(PROVIDER, bucket="core")
def add_labels(principal, owner, repo, number):
    """Add labels (https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue): ``{"labels":
    [names]}``; a name the repository lacks is created; 200 with every label of the issue now."""
    repo = find_repo(owner, repo)
    payload = request.get_json(silent=True)
    labels = payload.get("labels") if isinstance(payload, dict) else None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        return json_response({"message": "Invalid request.\n\nFor 'links/0/schema', nil is not an array.",
                              "documentation_url": DOCS, "status": "422"}, 422)
    return _on_issue(repo, number, "add_labels", {"labels": [x.strip() for x in labels]},
                     lambda data: json_response(_labels(repo, data.by_number[number].labels)))


@bp.get("/api/repos/<owner>/<repo>/pulls/<int:number>")
@guarded(PROVIDER, bucket="core")
def get_pull(principal, owner, repo, number):
    """One pull request (404 for an issue number, like GitHub)."""
    repo = find_repo(owner, repo)
    with state().lock:
        gh = state().data.github
        issue = gh.issues(repo).by_number.get(number)
        if issue is None or not issue.is_pr:
            return PROVIDER.not_found()
        # One pull request is GitHub's full "pull-request" object: the list's, plus these.
        size = gh.issues(repo).by_number[number].number * 37 % 400
        body = pull_json(repo, issue)
        body.update({
            "merged": bool(issue.merged), "mergeable": None if issue.closed else True, "rebaseable": None,
            "mergeable_state": "clean" if not issue.closed else "unknown",
            "merged_by": simple_user(gh.owner) if issue.merged else None, "comments": len(issue.comments),
            "review_comments": 0, "maintainer_can_modify": False, "commits": 1 + size % 7,
            "additions": size, "deletions": size // 3, "changed_files": 1 + size % 11,
        })
        return json_response(body)


def find_comment(repo: dict, comment_id: int):
    data = state().data.github.issues(repo)
    return next((c for c in data.comments if c.id == comment_id), None)


@bp.get("/api/repos/<owner>/<repo>/issues/comments/<int:comment_id>")
@guarded(PROVIDER, bucket="core")
def get_comment(principal, owner, repo, comment_id):
    repo = find_repo(owner, repo)
    with state().lock:
        comment = find_comment(repo, comment_id)
        if comment is None:
            return PROVIDER.not_found()
        return json_response(comment_json(repo, comment))


@bp.delete("/api/repos/<owner>/<repo>/issues/comments/<int:comment_id>")
@guarded(PROVIDER, bucket="core")
def delete_comment(principal, owner, repo, comment_id):
    """Delete an issue comment: 204 (the issue's updated_at does not move)."""
    repo = find_repo(owner, repo)
    st = state()
    with st.lock:
        if find_comment(repo, comment_id) is None:
            return PROVIDER.not_found()
        st.data.github.record(repo, ("delete_comment", {"id": comment_id}))
    return Response(status=204)


# -- web pages the html_url fields point at ----------------------------------------------------

@bp.get("/<owner>/<repo>/issues/<int:number>")
@bp.get("/<owner>/<repo>/pull/<int:number>")
@guarded(PROVIDER, kind="page")
def issue_page(owner, repo, number):
    """A plain HTML view of an issue, so links in the demo lead somewhere."""
    repo = find_repo(owner, repo)
    st = state()
    with st.lock:
        gh = st.data.github
        issue = gh.issues(repo).by_number.get(number)
        if issue is None:
            return PROVIDER.not_found()
        title, body = gh.issue_text(repo, issue)
        comments = [(gh.people[c.author]["login"], iso(c.created), gh.comment_text(repo, c))
                    for c in issue.comments]
        return render_template("github_issue.html", repo=repo, issue=issue, title=title,
                               body=body, author=gh.people[issue.author]["login"],
                               created=iso(issue.created), comments=comments)
