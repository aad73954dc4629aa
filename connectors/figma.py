"""Figma: OAuth 2 app; the files of a team's projects, their comments and the team's published components.

Docs: https://developers.figma.com/docs/rest-api/ (projects-endpoints/, file-endpoints/, comments-endpoints/,
component-endpoints/, scopes/; the OpenAPI description: ``@figma/rest-api-spec``); ``projects:read`` (a team's
projects and files) is only available to private OAuth apps. OAuth (authentication/): access tokens last 90
days, refreshed at ``POST /v1/oauth/refresh``. Rate limits (rate-limits/): per user, plan and endpoint tier;
past them a 429 with ``Retry-After`` and ``X-Figma-Plan-Tier``, no headers before that.
Errors: ``{"status": 403, "err": "Invalid token"}``.

Channels are teams, which Figma's API cannot list (``GET /v1/me`` names none; the projects endpoints start
from a team id): the connection names them at connect (its ``channels`` setting), as ids or team addresses
(``figma.com/files/team/<id>/...``; in an organization ``figma.com/files/<org id>/team/<id>/...``), each
looked up (``GET /v1/teams/{id}/projects``) when the authorization comes back and on a check: one Figma
refuses (403 "Forbidden") fails the connect or the check, named. Streams, per team:

* ``files``: every project's files (``GET /v1/teams/{team}/projects``, ``GET /v1/projects/{id}/files``),
  oldest change first; incremental: those whose ``last_modified`` is at or after the cursor (the kit's
  ``stamped``), each read at depth 2 (``GET /v1/files/{key}?depth=2``: pages and their top-level frames;
  Tier 1, its own bucket). Deletion: a key the projects (listed whole, unpaged) no longer show has left the team,
  asked of ``GET /v1/files/{key}/meta``: deleted (404) or moved to another team (answered, but not this team's).
* ``comments``: each file's comments (``GET /v1/files/{key}/comments``), one document per thread; Figma
  filters them by nothing: every run reads them; a deleted thread leaves the id listing.
* ``components``: the team library's published components (``GET /v1/teams/{team}/components``,
  ``meta.cursor.after`` pages), every run; deletion confirmed with ``GET /v1/components/{key}``.

Readers: Figma's REST API lists no members of a team, project or file (a team's projects are those the token's
user sees, a file's ``role`` is theirs): documents are the workspace's (in ``source`` mode none is readable).
"""
from __future__ import annotations

import re

from .base import CatalogEntry, ConnectSetting, OAuthEndpoints, RateLimits
from .errors import ChannelNotFound, ProviderAuthError, ProviderRefused
from .kit import Channels, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, oauth_bearer
from .mapping import Doc
from .rest import RestStream, TokenPaginator, dig, parse_time

TEAM = re.compile(r"(\d+)|(?:https?://)?(?:www\.)?figma\.com/files/(?:\d+/)?team/(\d+)(?:[/?#]\S*)?", re.I)
MEMBERS = "the workspace: Figma's API lists no members of a team, project or file"
DESIGN = "https://www.figma.com/design/"
ONE = TokenPaginator((), "none")        # one answer, no pages
PROJECTS = RestStream("/v1/teams/{channel}/projects", ONE, ("projects",))
TEAMS = Channels("team", PROJECTS, id=None, name="name", lookup="/v1/teams/{channel}/projects", pattern=r"\d+",
                 typed=TEAM, typed_hint="open the team in Figma and copy the number after /team/ in its address "
                 "(figma.com/files/team/<id>/...)")
FILE = Join("_file", RestStream("/v1/files/{key}", ONE, params={"depth": 2}, bucket="tier1"),
            args=lambda record: {"key": record["key"]}, many=False, content=True)


def files(api) -> list[dict]:
    """The team's files (its projects' files), oldest change first, each with its project."""
    return api.once(("figma.files", api.channel), lambda: sorted(
        ({**f, "_project": project["name"], "_project_id": str(project["id"])}
         for project in dig(api.get(api.fill(PROJECTS.path)), ("projects",)) or []
         for f in api.get(f"/v1/projects/{project['id']}/files").get("files") or []),
        key=lambda f: (f["last_modified"], f["key"])))


def threads(api) -> list[dict]:
    """Each file's comment threads: a top-level comment with its replies, oldest first."""
    found = []
    for file in files(api):
        comments = dig(api.get(f"/v1/files/{file['key']}/comments"), ("comments",)) or []
        replies = sorted((c for c in comments if c.get("parent_id")), key=lambda c: c["created_at"])
        found += [{**c, "_file_name": file["name"], "_replies": [r for r in replies if r["parent_id"] == c["id"]]}
                  for c in comments if not c.get("parent_id")]
    return found


def outline(file: dict) -> list[str]:
    """Each page of a file, with its top-level frames (read at depth 2)."""
    lines = []
    for page in dig(file.get("_file") or {}, ("document", "children")) or []:
        frames = [frame.get("name") for frame in page.get("children") or []
                  if frame.get("type") in ("FRAME", "SECTION", "COMPONENT")]
        lines.append(f"{page.get('name')}: {', '.join(filter(None, frames))}" if frames else page.get("name") or "")
    return lines


def conversation(thread: dict) -> list[str]:
    return [f"{(c.get('user') or {}).get('handle') or 'someone'} ({c['created_at'][:16].replace('T', ' ')}): "
            f"{c.get('message') or ''}" for c in [thread, *thread["_replies"]]]


def last_moved(thread: dict) -> str:
    """When a thread last moved: its newest comment, or its resolution."""
    times = [c.get("created_at") for c in [thread, *thread["_replies"]]] + [thread.get("resolved_at")]
    return max(filter(parse_time, times), key=parse_time)


DESIGN_FILE = Doc("design_file", "name", content=("name", lambda file: f"Project: {file['_project']}", outline),
                  id="key", url=lambda file: DESIGN + file["key"], updated="last_modified",
                  metadata=(("project", "_project"), ("project_id", "_project_id"),
                            ("pages", lambda file: len(outline(file)))))
THREAD = Doc("comment", lambda thread: f"Comment on {thread['_file_name']}: {(thread.get('message') or '')[:60]}",
             content=(conversation,), author="user.handle", updated=last_moved,
             url=lambda thread: f"{DESIGN}{thread['file_key']}#{thread['id']}",
             metadata=("file_key", ("replies", lambda thread: len(thread["_replies"])),
                       ("resolved", lambda thread: bool(thread.get("resolved_at")))))
COMPONENT = Doc("component", "name", id="key", author="user.handle", metadata=("file_key",),
                content=("name", "description", "containing_frame.pageName", "containing_frame.name"))


class FigmaConnector(RestConnector):
    catalog = CatalogEntry(
        type="figma", display_name="Figma", category="devtools", auth_method="oauth_redirect",
        description="Design files, their comments and published components from Figma.",
        docs_url="https://developers.figma.com/docs/rest-api/",
        # Per user, per plan, per tier. A Full seat on Professional: Tier 1 (GET file) 10/min,
        # Tier 2 (projects, comments) 25/min, Tier 3 (components, file meta) 50/min.
        rate_limits=RateLimits(requests_per_minute=25),
        connect_settings=(ConnectSetting("channels", "Team ids", "Open the team in Figma: its address is "
                                         "figma.com/files/team/<id>/... (in an organization .../files/<org>/team/"
                                         "<id>/...). Paste the address or the number; several separated by commas.",
                                         many=True),),
        base_url="https://www.figma.com", api_url="https://api.figma.com",
        oauth=OAuthEndpoints(authorize="https://www.figma.com/oauth", token="https://api.figma.com/v1/oauth/token",
                             refresh="https://api.figma.com/v1/oauth/refresh",
                             scopes=("current_user:read", "file_metadata:read", "file_content:read",
                                     "file_comments:read", "library_content:read", "projects:read")))
    auth = oauth_bearer()
    whoami = WhoAmI("/v1/me", id="id", handle="email", name="handle", avatar="img_url")
    buckets = {"tier1": RateLimits(requests_per_minute=10)}
    # Figma answers a revoked or expired token with a 403 "Invalid token", like a refusal.
    errors = (OnError(403, said=r"^Invalid token", error=ProviderAuthError,
                      message="Figma no longer accepts this connection's token ({said}); reconnect."),
              # any other 403 is the team's: one the user is not in, or a project of it they may not see
              OnError(403, error=ChannelNotFound, message="Figma refused to read team {channel}: {said}."))
    page_size = 30
    channels_checked = True
    sandbox = {"base_url": "/figma", "api_url": "/figma/api", "authorize_url": "/figma/oauth",
               "token_url": "/figma/api/v1/oauth/token", "refresh_url": "/figma/api/v1/oauth/refresh"}
    streams = (
        StreamSpec("files", "design_file", PROJECTS, DESIGN_FILE, description="Design files with their pages "
                   "and frames", channels=TEAMS, key="key", every=files, list_ids="read", readers_said=MEMBERS,
                   incremental=Incremental.stamped("last_modified"),
                   changes_said="files whose `last_modified` moved since the last run's newest (each read again)",
                   fetch=FetchById("/v1/files/{id}/meta", records_path=("file",), pattern=r"[A-Za-z0-9]+",
                                   belongs=lambda meta, api: False), joins=(FILE,)),
        StreamSpec("comments", "comment", PROJECTS, THREAD, description="Comment threads on files",
                   channels=TEAMS, every=threads, list_ids="read", readers_said=MEMBERS),
        StreamSpec("components", "component", RestStream(
            "/v1/teams/{channel}/components", TokenPaginator(("meta", "cursor", "after"), "after", "page_size"),
            ("meta", "components")), COMPONENT, description="Published components of the team library",
            channels=TEAMS, key="key", list_ids=True, readers_said=MEMBERS,
            fetch=FetchById("/v1/components/{id}", records_path=("meta",), pattern=r"c\d+")),
    )

    def channels(self, ctx, stream):
        raise ProviderRefused("Figma's API lists no teams: name the teams to sync in the connection's channels "
                              "setting (the id in figma.com/files/team/<id>).")
