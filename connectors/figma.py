"""Figma: OAuth 2 app; reads the files of a team's projects, their comments and the team's published components.

``projects:read`` (listing a team's projects and files) is only available to private OAuth apps.
Docs: https://developers.figma.com/docs/rest-api/ (projects-endpoints/, file-endpoints/,
comments-endpoints/, component-endpoints/, scopes/; the OpenAPI description: ``@figma/rest-api-spec``).
OAuth (authentication/): access tokens last 90 days, refreshed at ``POST /v1/oauth/refresh``.
Rate limits (rate-limits/): per user, plan and endpoint tier; past them a 429 with ``Retry-After``
and ``X-Figma-Plan-Tier``, no headers before that. Errors: ``{"status": 403, "err": "Invalid token"}``.

Channels are teams. Figma's API has no "my teams" listing (``GET /v1/me`` names none; the
projects endpoints start from a team id): a team's id is in its address (``figma.com/files/team/<id>/...``,
in an organization ``figma.com/files/<org id>/team/<id>/...``), so the connection names its teams
in its ``channels`` setting at connect, as ids or pasted addresses. Each is looked up (``GET
/v1/teams/{id}/projects``) when the authorization comes back and on a check: one Figma refuses
(403 "Forbidden") fails the connect or the check, named. Streams, per team:

* ``files``: every project's files (``GET /v1/teams/{team}/projects``, ``GET /v1/projects/{id}/files``),
  oldest change first; incremental: those whose ``last_modified`` is at or after the cursor (the
  kit's ``changed_since``), each read at depth 2 (``GET /v1/files/{key}?depth=2``: pages and their
  top-level frames; Tier 1, its own bucket). Deletion: the keys listed now, confirmed with
  ``GET /v1/files/{key}/meta`` (404: gone).
* ``comments``: each file's comments (``GET /v1/files/{key}/comments``), one document per thread;
  Figma filters them by nothing: every run reads them; a deleted thread leaves the id listing.
* ``components``: the team library's published components (``GET /v1/teams/{team}/components``,
  ``meta.cursor.after`` pages), every run; deletion confirmed with ``GET /v1/components/{key}``.

Readers: Figma's REST API has no members of a team, project or file to read (``GET
/v1/teams/{id}/projects`` lists what the token's user can see; a file's ``role`` is that user's), so
documents are the workspace's (the ``workspace`` access mode; in ``source`` mode none is readable).
"""
from __future__ import annotations

import re

from core.errors import ValidationError

from .base import CatalogEntry, ConnectSetting, DocumentData, OAuthEndpoints, Page, RateLimits
from .errors import ChannelNotFound, ProviderAuthError, ProviderRefused
from .kit import (Channels, FetchById, Join, OnError, RestConnector, StreamSpec, WhoAmI, changed_since,
                  oauth_bearer)
from .rest import RestStream, TokenPaginator, dig, parse_time

TEAM = re.compile(r"(\d+)|(?:https?://)?(?:www\.)?figma\.com/files/(?:\d+/)?team/(\d+)(?:[/?#]\S*)?", re.I)
MEMBERS = "the workspace: Figma's API lists no members of a team, project or file"
PROJECTS = RestStream("/v1/teams/{channel}/projects", TokenPaginator((), "none"), ("projects",))
TEAMS = Channels("team", PROJECTS, id=lambda team: team["_id"], name="name", lookup="/v1/teams/{channel}/projects",
                 pattern=r"\d+")
FILE = Join("_file", RestStream("/v1/files/{key}", TokenPaginator((), "none"), params={"depth": 2}, bucket="tier1"),
            args=lambda record: {"key": record["key"]}, many=False, content=True)


def file_document(record: dict) -> DocumentData:
    pages = dig(record.get("_file") or {}, ("document", "children")) or []
    lines = [record["name"], f"Project: {record.get('_project')}"]
    for page in pages:
        frames = [child.get("name") for child in page.get("children") or [] if child.get("type") in ("FRAME", "SECTION",
                                                                                                        "COMPONENT")]
        lines.append(f"{page.get('name')}: {', '.join(filter(None, frames))}" if frames else page.get("name") or "")
    return DocumentData(
        external_id=record["key"], title=record["name"], type="design_file", content="\n".join(filter(None, lines)),
        url=f"https://www.figma.com/design/{record['key']}", updated_at=parse_time(record.get("last_modified")),
        metadata={"project": record.get("_project"), "project_id": record.get("_project_id"), "pages": len(pages)})


def thread_document(record: dict) -> DocumentData:
    replies = record.get("_replies") or []
    lines = [f"{(c.get('user') or {}).get('handle') or 'someone'} ({c['created_at'][:16].replace('T', ' ')}): "
             f"{c.get('message') or ''}" for c in [record, *replies]]
    return DocumentData(
        external_id=record["id"], title=f"Comment on {record.get('_file_name')}: {(record.get('message') or '')[:60]}",
        type="comment", content="\n".join(lines), author=(record.get("user") or {}).get("handle"),
        url=f"https://www.figma.com/design/{record['file_key']}#{record['id']}",
        created_at=parse_time(record.get("created_at")),
        updated_at=max(filter(None, [parse_time(c.get("created_at")) for c in [record, *replies]]
                              + [parse_time(record.get("resolved_at"))])),
        metadata={"file_key": record["file_key"], "replies": len(replies), "resolved": bool(record.get("resolved_at"))})


def component_document(record: dict) -> DocumentData:
    frame = record.get("containing_frame") or {}
    return DocumentData(
        external_id=record["key"], title=record["name"], type="component",
        content="\n".join(filter(None, [record["name"], record.get("description"), frame.get("pageName"),
                                        frame.get("name")])),
        author=(record.get("user") or {}).get("handle"), created_at=parse_time(record.get("created_at")),
        updated_at=parse_time(record.get("updated_at")), metadata={"file_key": record.get("file_key")})


class FigmaConnector(RestConnector):
    catalog = CatalogEntry(
        type="figma",
        display_name="Figma",
        category="devtools",
        auth_method="oauth_redirect",
        description="Design files, their comments and published components from Figma.",
        docs_url="https://developers.figma.com/docs/rest-api/",
        # Per user, per plan, per tier. A Full seat on Professional: Tier 1 (GET file) 10/min,
        # Tier 2 (projects, comments) 25/min, Tier 3 (components, file meta) 50/min.
        rate_limits=RateLimits(requests_per_minute=25),
        # Figma's API lists no teams: the connection names them when it connects.
        connect_settings=(ConnectSetting("channels", "Team ids", "Open the team in Figma: its address is "
                                         "figma.com/files/team/<id>/... (in an organization .../files/<org>/team/"
                                         "<id>/...). Paste the address or the number; several separated by commas.",
                                         many=True),),
        base_url="https://www.figma.com",
        api_url="https://api.figma.com",
        oauth=OAuthEndpoints(
            authorize="https://www.figma.com/oauth",
            token="https://api.figma.com/v1/oauth/token",
            refresh="https://api.figma.com/v1/oauth/refresh",
            scopes=("current_user:read", "file_metadata:read", "file_content:read", "file_comments:read",
                    "library_content:read", "projects:read"),
        ),
    )
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
        StreamSpec("files", "design_file", PROJECTS, file_document, description="Design files with their pages "
                   "and frames", channels=TEAMS, key="key", list_ids=True, readers_said=MEMBERS,
                   changes_said="files whose `last_modified` moved since the last run's newest (each read again)",
                   fetch=FetchById("/v1/files/{id}/meta", pattern=r"[A-Za-z0-9]+"), joins=(FILE,)),
        StreamSpec("comments", "comment", PROJECTS, thread_document, description="Comment threads on files",
                   channels=TEAMS, list_ids=True, readers_said=MEMBERS),
        StreamSpec("components", "component", RestStream(
            "/v1/teams/{channel}/components", TokenPaginator(("meta", "cursor", "after"), "after", "page_size"),
            ("meta", "components")), component_document, description="Published components of the team library",
            channels=TEAMS, key="key", list_ids=True, readers_said=MEMBERS,
            fetch=FetchById("/v1/components/{id}", records_path=("meta",), pattern=r"c\d+")),
    )

    # -- the teams, named at connect: ids or team URLs (each looked up then: ``channels_checked``) -------
    @classmethod
    def normalize_settings(cls, settings: dict) -> dict:
        teams = []
        for given in settings.get("channels") or ():
            match = TEAM.fullmatch(given.strip())
            if not match:
                raise ValidationError(f"{given!r} is not a Figma team id or team address: open the team in Figma and "
                                      "copy the number after /team/ in its address (figma.com/files/team/<id>/...).",
                                      code="invalid_setting", details={"field": "settings.channels", "setting":
                                                                       "channels", "value": given})
            teams.append(match[1] or match[2])
        return {**settings, "channels": list(dict.fromkeys(teams))} if teams else settings

    # -- what is special: files are two listings down (team -> projects -> files) ---------------------
    def channels(self, ctx, stream):
        raise ProviderRefused("Figma's API lists no teams: name the teams to sync in the connection's channels "
                              "setting (the id in figma.com/files/team/<id>).")

    def _looked_up(self, api, declared):
        record = super()._looked_up(api, declared)
        return {**record, "_id": api.channel} if record is not None else None

    def files(self, api) -> list[dict]:
        """The team's files, oldest change first, each with its project."""
        def listed():
            return sorted(({**f, "_project": project["name"], "_project_id": str(project["id"])}
                           for project in dig(api.get(api.fill(PROJECTS.path)), ("projects",)) or []
                           for f in api.get(f"/v1/projects/{project['id']}/files").get("files") or []),
                          key=lambda f: (f["last_modified"], f["key"]))
        return api.once(("figma.files", api.channel), listed)

    def threads(self, api) -> list[dict]:
        found = []
        for file in self.files(api):
            comments = dig(api.get(f"/v1/files/{file['key']}/comments"), ("comments",)) or []
            replies: dict[str, list] = {}
            for c in comments:
                if c.get("parent_id"):
                    replies.setdefault(c["parent_id"], []).append(c)
            found += [{**c, "_file_name": file["name"], "_replies": sorted(replies.get(c["id"], []),
                                                                            key=lambda r: r["created_at"])}
                      for c in comments if not c.get("parent_id")]
        return found

    def read(self, ctx, stream, *, state, mode, channel=None):
        spec = self.spec(stream)
        if spec.name == "components":
            return super().read(ctx, stream, state=state, mode=mode, channel=channel)
        api = self.api(ctx, channel, spec)
        if spec.name == "comments":
            return self._sorted_pages(spec, api, iter([Page(self.threads(api), {}, last=True)]))
        return self._sorted_pages(spec, api, changed_since(self.files(api), state, mode, key=lambda f: f["key"],
                                                           updated=lambda f: f["last_modified"],
                                                           page_size=self.page_size))

    def list_ids(self, ctx, stream, channel=None):
        spec = self.spec(stream)
        if spec.name == "components":
            return super().list_ids(ctx, stream, channel)
        api = self.api(ctx, channel, spec)
        if spec.name == "files":
            return (f["key"] for f in self.files(api))
        return (thread["id"] for thread in self.threads(api))

