"""GitLab: OAuth 2.0 authorization code flow with PKCE on GitLab.com or a self-managed instance.

Self-managed GitLab: set ``base_url`` to ``https://HOST`` and ``api_url`` to ``https://HOST/api/v4``
(``TRIBUTARY_GITLAB_BASE_URL`` / ``_API_URL``); the OAuth endpoints are paths under ``base_url``.

Docs: https://docs.gitlab.com/api/rest/ -- projects https://docs.gitlab.com/api/projects/, merge requests
https://docs.gitlab.com/api/merge_requests/, issues https://docs.gitlab.com/api/issues/, notes
https://docs.gitlab.com/api/notes/, members https://docs.gitlab.com/api/members/
OAuth: https://docs.gitlab.com/api/oauth2/ (access tokens last two hours; a refresh hands out a new refresh token)
Pagination: https://docs.gitlab.com/api/rest/#pagination -- ``/projects`` keyset (``pagination=keyset``,
``order_by=id``, ``id_after`` in the ``Link`` header); other lists offset pages (``page``/``per_page``, at most 100)
with a ``Link`` header.
Rate limits: https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom -- 2,000 authenticated API requests a
minute per user; every answer says ``RateLimit-Limit``/``-Remaining``/``-Reset`` (epoch seconds); a 429 carries
``Retry-After`` and the body ``Retry later``.

Channels: projects the user is a member of (``GET /projects?membership=true``), by numeric id. Streams:

* ``projects``: the projects themselves (one document each: name, description, topics).
* ``merge_requests`` and ``issues`` per project: ``updated_after`` (inclusive) with ``order_by=updated_at&sort=asc``
  -- the kit's ``since`` keyset on the update time, a page token only within one timestamp. Each carries its notes
  (``/notes?sort=asc``, asked only where ``user_notes_count`` says there are any; system notes -- "changed the
  description", "added 1 commit" -- are left out of the text).
  A new note moves its parent's ``updated_at``, so incremental reads see it. Keyed ``<project>:<iid>``.
  Deletion: the id listing (the plain list), confirmed with ``GET .../issues/:iid`` (404: gone).

Readers: a public or internal project's records, every member of the workspace; a private project's, its members
(``GET /projects/:id/members/all``, inherited ones included) as ``gitlab:<user id>`` and the e-mail addresses GitLab
shows (``public_email``). A confidential issue, whatever the project: members with at least Reporter access, its
author and its assignees.

Errors: ``{"message": "404 Project Not Found"}`` (a project gone or not visible: that channel fails), 401
``invalid_token`` ("Token was revoked...": reconnect), 403 ``{"message": "403 Forbidden"}``.
"""
from .base import CatalogEntry, OAuthEndpoints, RateLimits
from .errors import ChannelNotFound, ProviderRefused
from .kit import (Channels, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, oauth_bearer,
                  person, stored_readers)
from .mapping import Doc
from .rest import LinkHeaderPaginator, RestStream

LINKS = LinkHeaderPaginator(total_header="X-Total")
REPORTER = 20
MEMBERS = RestStream("/projects/{channel}/members/all", LINKS)


def project_readers(api, project: str):
    from access.service import Readers

    if api.connector.channel_record(api, "project").get("visibility") in ("public", "internal"):
        return Readers.everyone()
    return Readers.of(*(entry for m in members(api) for entry in user(m)))


def members(api) -> list[dict]:
    return api.remember(("members", api.channel), lambda: api.records(MEMBERS))


def user(member: dict) -> list[tuple[str, str]]:
    return person("gitlab", member["id"], member.get("public_email") or member.get("email"))


def confidential_readers(records: list, api) -> None:
    """A confidential issue's readers: Reporter and up, its author, its assignees."""
    for record in records:
        if record.get("confidential"):
            people = [m for m in members(api) if m.get("access_level", 0) >= REPORTER]
            people += [record["author"], *(record.get("assignees") or [])]
            record["_readers"] = sorted({entry for p in people if p for entry in user(p)})


def notes(record: dict) -> list[dict]:
    return [n for n in record.get("_notes") or [] if not n.get("system")]


def thread(prefix: str, kind: str) -> Doc:
    """An issue or merge request with its notes ("acme/api#12": which project, as GitLab writes a
    reference across projects)."""
    def title(record):
        reference = (record.get("references") or {}).get("full") or f"{prefix}{record['iid']}"
        return f"{reference}: {record['title']}"

    def replies(record):
        return [f"{(n.get('author') or {}).get('name') or 'someone'} ({n['created_at'][:16].replace('T', ' ')}): "
                f"{n['body']}" for n in notes(record)]
    return Doc(kind, title, content=(title, "description", replies), id="iid", url="web_url", author="author.name",
               metadata=("project_id", "state", "labels[]", ("notes", lambda r: len(notes(r))),
                         ("confidential", lambda r: bool(r.get("confidential"))),
                         *(("source_branch", "target_branch") if kind == "merge_request" else ())))


PROJECT = Doc("project", "path_with_namespace", url="web_url", updated="last_activity_at",
              content=("name_with_namespace", "description", lambda p: ", ".join(p.get("topics") or [])),
              metadata=("visibility", "default_branch"))


PROJECTS = Channels("project", RestStream("/projects", LINKS, params={
    "membership": "true", "pagination": "keyset", "order_by": "id", "sort": "asc", "simple": "false"}),
    id="id", name="path_with_namespace", lookup="/projects/{channel}", readers=project_readers, pattern=r"\d+")
UPDATED = Incremental.since("updated_after", "updated_at")
NOTES = {"sort": "asc", "order_by": "created_at"}


def per_project(name: str, kind: str, path: str, prefix: str, description: str, **more) -> StreamSpec:
    """Merge requests or issues of a project, each with its notes."""
    listing = RestStream(f"/projects/{{channel}}/{path}", LINKS,
                         params={"scope": "all", "state": "all", "order_by": "updated_at", "sort": "asc"})
    return StreamSpec(
        name, kind, listing, thread(prefix, kind), description=description, key="iid",
        ids_per_channel=True, channels=PROJECTS, incremental=UPDATED,
        list_ids=RestStream(f"/projects/{{channel}}/{path}", LINKS, params={"scope": "all", "state": "all"}),
        fetch=FetchById(f"/projects/{{channel}}/{path}/{{id}}", pattern=r"\d+"),
        joins=(Join("_notes", RestStream(f"/projects/{{channel}}/{path}/{{iid}}/notes", LINKS, params=NOTES),
                    # user_notes_count counts the notes that are not system notes: the ones read
                    args=lambda record: {"iid": record["iid"]} if record.get("user_notes_count") else None),),
        **more)


class GitLabConnector(RestConnector):
    catalog = CatalogEntry(
        type="gitlab", display_name="GitLab", category="devtools", auth_method="oauth_redirect",
        description="Projects, merge requests and issues, with their discussions, from GitLab.",
        docs_url="https://docs.gitlab.com/api/rest/",
        # GitLab.com: 2,000 authenticated API requests a minute per user; self-managed instances set their own
        # (the RateLimit-* headers say which).
        rate_limits=RateLimits(requests_per_minute=2000), base_url="https://gitlab.com",
        api_url="https://gitlab.com/api/v4",
        oauth=OAuthEndpoints(authorize="/oauth/authorize", token="/oauth/token", revoke="/oauth/revoke",
                             scopes=("read_api", "read_user")),
        permissions=True)
    auth = oauth_bearer()
    whoami = WhoAmI("/user", id="id", handle="username", name="name", avatar="avatar_url")
    errors = (OnError(404, error=ChannelNotFound, message="GitLab has no project {channel} this account can read "
                      "({said})."),
              OnError(403, error=ProviderRefused, message="GitLab refused to read project {channel} ({said})."))
    page_size = 100         # GitLab's maximum per_page
    sandbox = {"base_url": "/gitlab", "api_url": "/gitlab/api/v4"}
    streams = (
        StreamSpec("projects", "project", PROJECTS.listing, PROJECT,
                   description="Projects the user is a member of", channels=PROJECTS, of_channels=True,
                   list_ids=True, fetch=FetchById("/projects/{id}", pattern=r"\d+")),
        per_project("merge_requests", "merge_request", "merge_requests", "!", "Merge requests with their notes"),
        per_project("issues", "issue", "issues", "#", "Issues with their notes",
                    complete=confidential_readers, readers=stored_readers),
    )
