"""GitLab under /gitlab: the OAuth application's consent page and token endpoint, and REST API v4 under
/gitlab/api/v4 (what connectors/gitlab.py reads).

Three projects of group ``acme``: ``acme/api`` (public), ``acme/web`` (internal) and ``acme/vault`` (private: its
members are the signed-in Ada and every third person), with ``scale`` issues and merge requests each (every seventh
issue confidential), their notes (every fifth a system note), and nine people. Edit, add or delete through
``/_sandbox/collections/gitlab/<issues|merge_requests|notes>/<n>``: a new or edited note moves its issue's or merge
request's ``updated_at``, as GitLab does.

As GitLab answers: ``/projects`` pages by keyset (``pagination=keyset&order_by=id``: ``id_after`` in the ``Link``
header), other lists by offset (``page``/``per_page`` up to 100, ``Link`` with ``rel="next"``, ``first``, ``last``
and ``X-Page``/``X-Per-Page``/``X-Next-Page``/``X-Total``); ``updated_after`` is inclusive. Errors are
``{"message": "404 Project Not Found"}``; an unknown or revoked OAuth token is 401 ``invalid_token``. Every answer
carries ``RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds), ``-Observed`` and ``-ResetTime``; a 429
says ``Retry later`` as plain text with ``Retry-After``. Access tokens last two hours; a refresh rotates the
refresh token.
"""
from __future__ import annotations

import math
import time
from email.utils import formatdate

from flask import Response, request

from ..kit import Emulation, OAuthDialect, Seeded, link_keyset, link_pages, touched
from ..seed import STAFF, iso_ms
from .. import oauth
from . import json_response, root_url, state

PEOPLE = STAFF
PROJECTS = (("api", "public", "The public API and its SDKs."), ("web", "internal", "The console's front end."),
            ("vault", "private", "Secrets management and key rotation."))
THINGS = ("token refresh", "keyset pagination", "rate limiter", "webhook retries", "search ranking", "audit export",
          "dark mode", "CSV import", "SAML sign-in", "job queue")
VERBS = ("Fix", "Speed up", "Refactor", "Document", "Harden", "Measure")
NOTES = ("LGTM, merging after CI.", "Can you add a test for the empty page?", "Reproduced on main.",
         "This needs a migration.", "Rebased on the latest main.", "Closing as a duplicate.")
LABELS = ("bug", "feature", "performance", "docs", "security")
MAX_PER_PAGE = 100
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50


def member_level(person: int, project: int) -> int | None:
    """GitLab access level of a person in a project (None: not a member): Ada owns them all; every third
    person is a Guest of the private one; every other person a Reporter, Developer or Maintainer of the others."""
    if person == 0:
        return OWNER
    if PROJECTS[project][1] == "private":
        return GUEST if person % 3 == 0 else None
    return (REPORTER, DEVELOPER, MAINTAINER)[person % 3] if person % 2 else None


class GitLabDialect(OAuthDialect):
    provider, display_name, prefix, token_type = "gitlab", "GitLab", "glpat-oauth", "Bearer"
    sandbox_login, sandbox_name = PEOPLE[0][1], PEOPLE[0][0]

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        return {**super().token_body(issued, ttl=ttl, refresh_ttl=refresh_ttl), "created_at": int(time.time())}


def thread_fields(kind: str):
    def build(rnd, i):
        return {"project": i % len(PROJECTS), "iid": i // len(PROJECTS) + 1,
                "title": f"{rnd.choice(VERBS)} {rnd.choice(THINGS)}",
                "description": f"{rnd.choice(NOTES)} See the {rnd.choice(THINGS)} notes.",
                "author": rnd.randrange(len(PEOPLE)), "assignee": rnd.randrange(len(PEOPLE)) if i % 3 else None,
                "state": rnd.choice(("opened", "closed") if kind == "issue" else ("opened", "merged", "closed")),
                "labels": rnd.sample(LABELS, rnd.randrange(3)), "confidential": kind == "issue" and i % 7 == 6}
    return build


class GitLab(Emulation):
    name, prefix = "gitlab", "/gitlab"
    dialect = GitLabDialect()
    token_ttl = 7200
    auth_failure = (401, "401 Unauthorized")
    limits = {None: (2000, 60)}
    rate_header_names = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
    collections = {
        "issues": Seeded(thread_fields("issue"), lambda scale: scale * len(PROJECTS)),
        "merge_requests": Seeded(thread_fields("merge_request"), lambda scale: scale * len(PROJECTS)),
        # Notes on the first issues and merge requests of each project; every fifth a system note.
        "notes": Seeded(lambda rnd, i: {"on": ("issues", "merge_requests")[i % 2], "parent": str(1 + (i // 2) % 30),
                                        "body": rnd.choice(NOTES), "author": rnd.randrange(len(PEOPLE)),
                                        "system": i % 5 == 4}, lambda scale: 4 * scale),
    }

    def error_body(self, status, message, code=None):
        return {"message": message if message[:3].isdigit() else f"{status} {message}"}

    def unauthorized(self):
        token = state().tokens.tokens.get(oauth.bearer_token() or "")
        if token is None:
            return super().unauthorized()
        description = ("Token was revoked. You have to re-authorize from the user." if token.revoked else
                       "Token is expired. You can either do re-authorization or token refresh.")
        return json_response({"error": "invalid_token", "error_description": description}, 401)

    def rate_limited(self, info, status, now):
        response = Response("Retry later\n", 429, mimetype="text/plain")
        self.rate_headers(response, info, now)
        response.headers["Retry-After"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def rate_headers(self, response, info, now):
        super().rate_headers(response, info, now)
        response.headers["RateLimit-Observed"] = str(info.limit - info.remaining)
        response.headers["RateLimit-ResetTime"] = formatdate(math.ceil(info.reset_at), usegmt=True)


PROVIDER = GitLab()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/oauth/authorize", "/oauth/token", revoke="/oauth/revoke")
API = "/api/v4"


# -- objects ------------------------------------------------------------------------------------------

def web(path: str = "") -> str:
    return f"{root_url()}/gitlab{path}"


def user(i: int | None) -> dict | None:
    if i is None:
        return None
    name, login = PEOPLE[i]
    return {"id": i + 1, "username": login, "name": name, "state": "active", "locked": False,
            "avatar_url": web(f"/uploads/-/system/user/avatar/{i + 1}/avatar.png"), "web_url": web(f"/{login}")}


def expanded_user(i: int) -> dict:
    login = PEOPLE[i][1]
    return {**user(i), "created_at": iso_ms(1672531200 + i), "bio": "", "bot": False, "location": None,
            "public_email": f"{login}@acme-sandbox.example", "skype": "", "linkedin": "", "twitter": "",
            "discord": "", "website_url": "", "pronouns": None, "organization": "Acme", "job_title": "",
            "work_information": None, "followers": 0, "following": 0, "local_time": None, "is_followed": False,
            "is_admin": False, "last_sign_in_at": iso_ms(1735689600), "confirmed_at": iso_ms(1672531200),
            "last_activity_on": "2025-06-29", "email": f"{login}@acme-sandbox.example", "theme_id": 1,
            "color_scheme_id": 1, "projects_limit": 100000, "current_sign_in_at": iso_ms(1735689600), "note": None,
            "identities": [], "can_create_group": True, "can_create_project": True, "two_factor_enabled": True,
            "external": False, "private_profile": None, "namespace_id": i + 10, "created_by": None}


def project_json(index: int) -> dict:
    path, visibility, description = PROJECTS[index]
    pid, full = index + 1, f"acme/{path}"
    level = member_level(0, index)
    api = f"{web(API)}/projects/{pid}"
    return {
        "id": pid, "description": description, "description_html": f"<p>{description}</p>", "name": path.title(),
        "name_with_namespace": f"Acme / {path.title()}", "path": path, "path_with_namespace": full,
        "created_at": iso_ms(1672531200 + pid), "updated_at": iso_ms(1751241600), "default_branch": "main",
        "tag_list": [], "topics": [visibility, "tributary"], "ssh_url_to_repo": f"git@gitlab.example:{full}.git",
        "http_url_to_repo": web(f"/{full}.git"), "web_url": web(f"/{full}"),
        "readme_url": web(f"/{full}/-/blob/main/README.md"), "forks_count": 0, "avatar_url": None, "star_count": pid,
        "last_activity_at": iso_ms(1751241600),
        "namespace": {"id": 7, "name": "Acme", "path": "acme", "kind": "group", "full_path": "acme", "parent_id": None,
                      "avatar_url": None, "web_url": web("/groups/acme")},
        "visibility": visibility, "empty_repo": False, "archived": False,
        "owner": {"id": 1, "name": PEOPLE[0][0], "created_at": iso_ms(1672531200)},
        "issues_enabled": True, "open_issues_count": 0, "merge_requests_enabled": True, "jobs_enabled": True,
        "wiki_enabled": True, "snippets_enabled": True, "can_create_merge_request_in": True,
        "resolve_outdated_diff_discussions": False, "container_registry_access_level": "enabled",
        "security_and_compliance_access_level": "private",
        "container_expiration_policy": {"cadence": "1d", "enabled": False, "keep_n": 10, "older_than": "90d",
                                        "name_regex_delete": ".*", "name_regex_keep": None,
                                        "next_run_at": iso_ms(1751328000)},
        "creator_id": 1, "import_url": None, "import_type": None, "import_status": "none", "import_error": None,
        "permissions": {"project_access": {"access_level": level, "notification_level": 3},
                        "group_access": {"access_level": OWNER, "notification_level": 3}},
        "license_url": web(f"/{full}/-/blob/main/LICENSE"), "license": {
            "key": "mit", "name": "MIT License", "nickname": "MIT", "html_url": "https://opensource.org/licenses/MIT",
            "source_url": "https://opensource.org/licenses/MIT"},
        "shared_runners_enabled": True, "group_runners_enabled": True, "runners_token": "",
        "ci_default_git_depth": 20, "ci_forward_deployment_enabled": True,
        "ci_forward_deployment_rollback_allowed": True, "ci_allow_fork_pipelines_to_run_in_parent_project": True,
        "ci_separated_caches": True, "ci_restrict_pipeline_cancellation_role": "developer", "public_jobs": True,
        "shared_with_groups": [], "repository_storage": "default", "only_allow_merge_if_pipeline_succeeds": False,
        "allow_merge_on_skipped_pipeline": False, "ci_pipeline_variables_minimum_override_role": False,
        "only_allow_merge_if_all_discussions_are_resolved": False, "remove_source_branch_after_merge": True,
        "printing_merge_requests_link_enabled": True, "request_access_enabled": True, "merge_method": "merge",
        "squash_option": "default_off", "auto_devops_enabled": False, "auto_devops_deploy_strategy": "continuous",
        "mirror": False, "mirror_user_id": 0, "mirror_trigger_builds": False, "only_mirror_protected_branches": False,
        "mirror_overwrites_diverged_branches": False, "external_authorization_classification_label": None,
        "packages_enabled": True, "service_desk_enabled": False, "service_desk_address": None,
        "autoclose_referenced_issues": True, "suggestion_commit_message": None, "enforce_auth_checks_on_uploads": True,
        "merge_commit_template": None, "squash_commit_template": None, "issue_branch_template": "",
        "marked_for_deletion_on": "", "compliance_frameworks": [], "warn_about_potentially_unwanted_characters": True,
        "container_registry_image_prefix": f"registry.gitlab.example/{full}", "_links": {
            "self": api, "issues": f"{api}/issues", "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches", "labels": f"{api}/labels", "events": f"{api}/events",
            "members": f"{api}/members", "cluster_agents": f"{api}/cluster_agents"}}


def notes_by(kind: str) -> dict:
    """Every issue's (or merge request's) notes by its record id, oldest first: read once a request."""
    return PROVIDER.children("notes", "parent", where=lambda n: n["on"] == kind)


def thread_id(kind: str, r: dict) -> int:
    return int(r["id"]) + (0 if kind == "issues" else 500000)


def thread_json(kind: str, r: dict, by_parent: dict) -> dict:
    """An issue or merge request; a note moves its ``updated_at``, as GitLab's do."""
    full, pid, sign = f"acme/{PROJECTS[r['project']][0]}", r["project"] + 1, "#" if kind == "issues" else "!"
    notes = [n for n in by_parent.get(r["id"], ()) if not n["system"]]
    common = {"id": thread_id(kind, r), "iid": r["iid"], "project_id": pid,
              "title": r["title"], "description": r["description"], "state": r["state"],
              "created_at": iso_ms(r["created"]), "updated_at": iso_ms(touched(r, by_parent.get(r["id"], ()))),
              "closed_at": iso_ms(r["updated"]) if r["state"] == "closed" else None,
              "closed_by": user(r["author"]) if r["state"] == "closed" else None, "labels": r["labels"],
              "author": user(r["author"]), "assignee": user(r["assignee"]),
              "assignees": [user(r["assignee"])] if r["assignee"] is not None else [],
              "upvotes": 0, "downvotes": 0, "user_notes_count": len(notes),
              "web_url": web(f"/{full}/-/{kind}/{r['iid']}"),
              "references": {"short": f"{sign}{r['iid']}", "relative": f"{sign}{r['iid']}",
                             "full": f"{full}{sign}{r['iid']}"},
              "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                             "human_total_time_spent": None},
              "task_completion_status": {"count": 0, "completed_count": 0}, "discussion_locked": None,
              "milestone": None}
    if kind == "issues":
        api = f"{web(API)}/projects/{pid}"
        return {**common, "type": "ISSUE", "issue_type": "issue", "confidential": r["confidential"],
                "discussion_locked": False, "merge_requests_count": 0, "due_date": None, "has_tasks": False,
                "task_status": "0 of 0 checklist items completed", "subscribed": False, "weight": None,
                "_links": {"self": f"{api}/issues/{r['iid']}", "notes": f"{api}/issues/{r['iid']}/notes",
                           "award_emoji": f"{api}/issues/{r['iid']}/award_emoji", "project": api,
                           "closed_as_duplicate_of": None}}
    merged = r["state"] == "merged"
    return {**common, "target_branch": "main", "source_branch": f"feature/{r['iid']}-{r['title'].split()[-1].lower()}",
            "source_project_id": pid, "target_project_id": pid, "draft": False, "work_in_progress": False,
            "merge_when_pipeline_succeeds": False, "merge_status": "can_be_merged",
            "detailed_merge_status": "not_open" if r["state"] != "opened" else "mergeable",
            "merged_by": user(r["author"]) if merged else None, "merged_at": iso_ms(r["updated"]) if merged else None,
            "sha": f"{int(r['id']):040x}", "merge_commit_sha": f"{int(r['id']) + 1:040x}" if merged else None,
            "squash_commit_sha": None, "should_remove_source_branch": None, "force_remove_source_branch": True,
            "reference": f"!{r['iid']}", "squash": False, "prepared_at": iso_ms(r["created"]), "has_conflicts": False,
            "blocking_discussions_resolved": True, "approvals_before_merge": None, "reviewers": []}


def note_json(kind: str, n: dict, parent: dict) -> dict:
    return {"id": int(n["id"]), "type": None, "body": n["body"] if not n["system"] else "changed the description",
            "attachment": None, "author": user(n["author"]), "created_at": iso_ms(n["created"]),
            "updated_at": iso_ms(n["updated"]), "system": n["system"],
            "noteable_id": thread_id(kind, parent), "noteable_type": "Issue" if kind == "issues" else "MergeRequest",
            "noteable_iid": parent["iid"], "project_id": parent["project"] + 1, "resolvable": False,
            "confidential": False, "internal": False}


def member_json(person: int, level: int) -> dict:
    return {**user(person), "access_level": level, "created_at": iso_ms(1672531200), "expires_at": None,
            "email": f"{PEOPLE[person][1]}@acme-sandbox.example", "group_saml_identity": None,
            "public_email": f"{PEOPLE[person][1]}@acme-sandbox.example"}


# -- pages and lookups -------------------------------------------------------------------------------

def paged(rows: list) -> Response:
    """Offset pages with GitLab's Link (next, first, last) and X-* headers."""
    return link_pages(rows, 20, MAX_PER_PAGE, first_last=True, counts=True)[0]


def project_index(value) -> int:
    """A project by its id or its path (``acme/api``, URL-encoded or not), else GitLab's 404."""
    for index, (path, _, _) in enumerate(PROJECTS):
        if str(value) in (str(index + 1), f"acme/{path}", f"acme%2F{path}"):
            return index
    PROVIDER.fail(404, "404 Project Not Found")


def threads(kind: str, index: int) -> list[dict]:
    """A project's issues or merge requests: ``updated_after`` (inclusive), ``order_by`` (``created_at`` by
    default, or ``updated_at``), ``sort`` (``desc`` by default)."""
    since, by_parent = request.args.get("updated_after"), notes_by(kind)
    found = [(touched(r, by_parent.get(r["id"], ())), r) for r in PROVIDER.collection(kind).rows.values()
             if r["project"] == index]
    found = [(t, r) for t, r in found if not since or iso_ms(t) >= since]
    by_update = request.args.get("order_by") == "updated_at"
    found.sort(key=lambda p: (p[0] if by_update else p[1]["created"], p[1]["iid"]),
               reverse=request.args.get("sort", "desc") == "desc")
    return [thread_json(kind, r, by_parent) for _, r in found]


def one(kind: str, project: str, iid: str) -> dict:
    index = project_index(project)
    return PROVIDER.find(kind, lambda r: r["project"] == index and str(r["iid"]) == iid, "404 Not found")


# -- the API ----------------------------------------------------------------------------------------------

@PROVIDER.get(f"{API}/user")
def current_user(principal):
    return json_response(expanded_user(0))


@PROVIDER.get(f"{API}/projects")
def projects(principal):
    """The signed-in user's projects (Ada is a member of each): by keyset (``pagination=keyset``) or offset."""
    rows = [project_json(p) for p in range(len(PROJECTS)) if member_level(0, p) is not None]
    if request.args.get("pagination") == "keyset":
        return link_keyset(rows, "id_after", 20, MAX_PER_PAGE)
    return paged(rows)


@PROVIDER.get(f"{API}/projects/<project>")
def project(principal, project):
    return json_response(project_json(project_index(project)))


@PROVIDER.get(f"{API}/projects/<project>/members/all")
def members(principal, project):
    index = project_index(project)
    return paged([member_json(p, member_level(p, index)) for p in range(len(PEOPLE))
                  if member_level(p, index) is not None])


for KIND in ("issues", "merge_requests"):
    def listing(principal, project, kind=KIND):
        return paged(threads(kind, project_index(project)))

    def single(principal, project, iid, kind=KIND):
        return json_response(thread_json(kind, one(kind, project, iid), notes_by(kind)))

    def notes(principal, project, iid, kind=KIND):
        parent = one(kind, project, iid)
        found = [note_json(kind, n, parent) for n in notes_by(kind).get(parent["id"], [])]
        return paged(found if request.args.get("sort", "desc") == "asc" else found[::-1])

    for view, rule in ((listing, ""), (single, "/<iid>"), (notes, "/<iid>/notes")):
        view.__name__ = f"{KIND}_{view.__name__}"
        PROVIDER.get(f"{API}/projects/<project>/{KIND}{rule}")(view)
