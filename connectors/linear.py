"""Linear: an OAuth 2.0 app (user actor, ``read`` scope) reads the workspace through the GraphQL API.

Docs: https://linear.app/developers -- GraphQL at https://api.linear.app/graphql, schema shipped in @linear/sdk
OAuth: https://linear.app/developers/oauth-2-0-authentication (comma-separated scopes; access tokens last 24 h and
come with a refresh token)
Pagination: https://linear.app/developers/pagination -- Relay ``first``/``after`` (at most 250), ``pageInfo``;
``orderBy: updatedAt`` lists the most recently updated first.
Rate limits: https://linear.app/developers/rate-limiting -- leaky buckets per user per app: 5,000 requests and
2,000,000 complexity points an hour (one query at most 10,000 points); every answer says where it stands in
``X-RateLimit-Requests-*`` and ``X-RateLimit-Complexity-*`` (resets in epoch milliseconds), ``X-Complexity`` is
the query's cost. A spent budget answers HTTP 400 with ``extensions.code: RATELIMITED``.

Everything is GraphQL (``connectors._graphql``): the documents below, named where a REST connector names paths.

Channels: teams (``teams``; a private team is listed only to its members). Streams:

* ``issues`` per team (``team.issues``): newest change first, ``filter: {updatedAt: {gte: cursor}}`` (incremental by
  ``updatedAt``), archived and deleted ones included (``includeArchived``). Each issue carries its first 20
  comments; an issue with more reads the rest through ``Issue.comments``. One document per issue with its
  comments. Deletion: Linear keeps a deleted issue 30 days in the trash (``trashed: true``, listed with
  ``includeArchived`` and its ``updatedAt`` moved): a tombstone. After that it is gone: the id listing misses it
  and ``issue(id:)`` answers ``Entity not found`` (``INPUT_ERROR``), which confirms it. Archived issues stay.
* ``projects``: the workspace's projects the user can see, incremental by ``updatedAt`` the same way.
* ``cycles`` per team: the team's cycles, incremental by ``updatedAt``.

Readers: a public team's issues and cycles, every member of the workspace; a private team's, its members
(``team.members``) as ``linear:<user id>`` and their e-mail addresses. A project, everyone where one of its teams
is public, else the members of its (private) teams.

Linear's own SDK is a typed GraphQL client over fetch: it would bypass the paced client, so the documents are
sent as they are here, and the emulation's answers are checked against the SDK's schema types instead
(``tests/fidelity/linear_schema.py``).
"""
from functools import partial

from .base import CatalogEntry, OAuthEndpoints, RateLimits
from .errors import ProviderAuthError, ProviderNotFound
from ._graphql import GraphQLConnector, cursor, ended
from .kit import Channels, FetchById, Incremental, Join, OnError, StreamSpec, WhoAmI, oauth_bearer, person
from .mapping import Doc, each, first
from .rest import RestStream, dig

PAGE = "pageInfo { hasNextPage endCursor }"
PERSON = "{ id name email }"
COMMENT = f"id body createdAt updatedAt user {PERSON}"
ISSUE = (f"id identifier title description url priorityLabel createdAt updatedAt archivedAt trashed "
         f"team {{ id key name }} state {{ name type }} assignee {PERSON} creator {PERSON} "
         f"labels {{ nodes {{ name }} }} project {{ id name }} cycle {{ id number name }} "
         f"comments(first: 20) {{ nodes {{ {COMMENT} }} {PAGE} }}")
PROJECT = (f"id name description content url state startDate targetDate progress createdAt updatedAt archivedAt "
           f"lead {PERSON} teams {{ nodes {{ id key private }} }}")
CYCLE = "id number name description startsAt endsAt completedAt progress createdAt updatedAt archivedAt team { id key }"
LISTING = "$first: Int, $after: String"
QUERIES = {
    "Viewer": "query Viewer { viewer { id name email organization { id name urlKey } } }",
    "Teams": f"query Teams({LISTING}) {{ teams(first: $first, after: $after) {{ nodes {{ id key name private }} "
             f"{PAGE} }} }}",
    "Team": "query Team($id: String!) { team(id: $id) { id key name private } }",
    "TeamMembers": f"query TeamMembers($id: String!, {LISTING}) {{ team(id: $id) {{ members(first: $first, "
                   f"after: $after) {{ nodes {PERSON} {PAGE} }} }} }}",
    "Issues": f"query Issues($team: String!, {LISTING}, $filter: IssueFilter) {{ team(id: $team) {{ issues("
              f"first: $first, after: $after, filter: $filter, orderBy: updatedAt, includeArchived: true) {{ "
              f"nodes {{ {ISSUE} }} {PAGE} }} }} }}",
    "IssueIds": f"query IssueIds($team: String!, {LISTING}) {{ team(id: $team) {{ issues(first: $first, "
                f"after: $after) {{ nodes {{ id }} {PAGE} }} }} }}",
    "Issue": f"query Issue($id: String!) {{ issue(id: $id) {{ {ISSUE} }} }}",
    "IssueComments": f"query IssueComments($id: String!, {LISTING}) {{ issue(id: $id) {{ comments(first: $first, "
                     f"after: $after) {{ nodes {{ {COMMENT} }} {PAGE} }} }} }}",
    "Projects": f"query Projects({LISTING}, $filter: ProjectFilter) {{ projects(first: $first, after: $after, "
                f"filter: $filter, orderBy: updatedAt, includeArchived: true) {{ nodes {{ {PROJECT} }} {PAGE} }} }}",
    "ProjectIds": f"query ProjectIds({LISTING}) {{ projects(first: $first, after: $after) {{ nodes {{ id }} {PAGE} }} }}",
    "Project": f"query Project($id: String!) {{ project(id: $id) {{ {PROJECT} }} }}",
    "Cycles": f"query Cycles($team: String!, {LISTING}, $filter: CycleFilter) {{ team(id: $team) {{ cycles("
              f"first: $first, after: $after, filter: $filter, orderBy: updatedAt, includeArchived: true) {{ "
              f"nodes {{ {CYCLE} }} {PAGE} }} }} }}",
    "CycleIds": f"query CycleIds($team: String!, {LISTING}) {{ team(id: $team) {{ cycles(first: $first, "
                f"after: $after) {{ nodes {{ id }} {PAGE} }} }} }}",
    "Cycle": f"query Cycle($id: String!) {{ cycle(id: $id) {{ {CYCLE} }} }}",
}


def listing(name: str, *connection: str, **params) -> RestStream:
    return RestStream(name, cursor(*connection), records_path=("data", *connection, "nodes"), params=params,
                      stop=ended(*connection))


# Incremental: the ``filter`` variable asks for what changed since the cursor (nothing on a full pass);
# the listing is newest change first, so a pass also stops at the cursor.
SINCE = Incremental.newest_first("updatedAt", param="filter",
                                 format=lambda cursor: {"updatedAt": {"gte": cursor}} if cursor else {})


def members(api, team: str) -> list[tuple[str, str]]:
    """A team's members as reader entries, once a run."""
    return api.remember(("members", team), lambda: [entry for m in api.records(listing(
        "TeamMembers", "team", "members", id=team)) for entry in person("linear", m["id"], m.get("email"))])


def team_readers(api, team: str):
    from access.service import Readers

    if not api.connector.channel_record(api, "team").get("private"):
        return Readers.everyone()
    return Readers.of(*members(api, team))


def project_readers(records: list, api) -> None:
    """A project's readers: everyone where one of its teams is public, else its private teams' members."""
    for record in records:
        teams = dig(record, ("teams", "nodes")) or []
        if not teams or any(not t.get("private") for t in teams):
            record["_readers"] = None
            continue
        record["_readers"] = sorted({entry for t in teams for entry in members(api, t["id"])})


def more_comments(issue: dict) -> dict | None:
    page = dig(issue, ("comments", "pageInfo")) or {}
    return {"id": issue["id"], "after": page["endCursor"]} if page.get("hasNextPage") else None


def comments(issue: dict) -> list[dict]:
    return (dig(issue, ("comments", "nodes")) or []) + (issue.get("_more_comments") or [])


def issue_title(issue: dict) -> str:
    return f"{issue['identifier']}: {issue['title']}"


def project_readers_of(project: dict):
    from access.service import Readers

    readers = project.get("_readers")
    return Readers.of(*readers) if readers is not None else Readers.everyone()


def cycle_title(cycle: dict) -> str:
    team = dig(cycle, ("team", "key"))
    return f"{team} {cycle_name(cycle)}" if team else cycle_name(cycle)


doc = partial(Doc, created="createdAt", updated="updatedAt")        # Linear's times, on every record
cycle_name = first("name", otherwise="Cycle {number}")
ISSUE = doc("issue", issue_title, url="url", author="creator.name", content=(
    issue_title, "description", lambda issue: [
        f"{dig(c, ('user', 'name')) or 'someone'} ({c['createdAt'][:16].replace('T', ' ')}): {c['body']}"
        for c in comments(issue)]),
    metadata=(("team", "team.key"), "identifier", ("state", "state.name"), ("priority", "priorityLabel"),
              ("assignee", "assignee.name"), ("labels", each("labels.nodes", "name")), ("project", "project.name"),
              ("comments", lambda issue: len(comments(issue))),
              ("archived", lambda issue: bool(issue.get("archivedAt")))))
# Linear's ``content`` is the project's whole document, its summary line ``description``.
PROJECT = doc("project", "name", content=("name", first("content", "description")), url="url", author="lead.name",
              metadata=("state", ("start_date", "startDate"), ("target_date", "targetDate"), "progress",
                        ("teams", each("teams.nodes", "key"))))
CYCLE = doc("cycle", cycle_title, content=(cycle_name, lambda c: f"{(c.get('startsAt') or '')[:10]} to "
                                                                 f"{(c.get('endsAt') or '')[:10]}", "description"),
            metadata=(("team", "team.key"), "number", ("starts_at", "startsAt"), ("ends_at", "endsAt"),
                      ("completed_at", "completedAt"), "progress"))


TEAMS = Channels("team", listing("Teams", "teams"), id="id", name="name", lookup="Team?id={channel}",
                 lookup_path=("data", "team"), readers=team_readers)


class LinearConnector(GraphQLConnector):
    catalog = CatalogEntry(
        type="linear", display_name="Linear", category="devtools", auth_method="oauth_redirect",
        description="Issues with their comments, projects and cycles from your Linear workspace.",
        docs_url="https://linear.app/developers",
        # Leaky buckets per user per OAuth app: 5,000 requests and 2,000,000 complexity points an hour;
        # the complexity headers pace the rest.
        rate_limits=RateLimits(requests_per_minute=80, requests_per_hour=5000),
        base_url="https://linear.app", api_url="https://api.linear.app/graphql",
        oauth=OAuthEndpoints(authorize="https://linear.app/oauth/authorize", token="https://api.linear.app/oauth/token",
                             revoke="https://api.linear.app/oauth/revoke", scopes=("read",), scope_separator=","),
        permissions=True)
    queries = QUERIES
    auth = oauth_bearer()
    whoami = WhoAmI("Viewer", record_path=("data", "viewer"), id="id", handle="organization.urlKey", name="name")
    errors = (OnError(code="AUTHENTICATION_ERROR", error=ProviderAuthError,
                      message="Linear no longer accepts the token ({said}); reconnect Linear."),
              OnError(code="INPUT_ERROR", error=ProviderNotFound, message="Linear: {said}"),
              OnError(code="FORBIDDEN", message="Linear refused to read this ({said})."))
    rate_limit_codes = ("RATELIMITED",)
    sandbox = {"base_url": "/linear", "api_url": "/linear/graphql", "authorize_url": "/linear/oauth/authorize",
               "token_url": "/linear/oauth/token", "revoke_url": "/linear/oauth/revoke"}
    page_size = 50          # Linear's default page: 50 issues with 20 comments each stays far below 10,000 points
    streams = (
        StreamSpec("issues", "issue", listing("Issues", "team", "issues", team="{channel}"), ISSUE,
                   description="Issues with their comments", channels=TEAMS, incremental=SINCE,
                   list_ids=listing("IssueIds", "team", "issues", team="{channel}"),
                   fetch=FetchById("Issue", records_path=("data", "issue"), params={"id": "{id}"},
                                   belongs=lambda issue, api: (issue.get("team") or {}).get("id") == api.channel),
                   tombstone=lambda issue: bool(issue.get("trashed")),
                   joins=(Join("_more_comments", listing("IssueComments", "issue", "comments", id="{id}",
                                                         after="{after}"), args=more_comments),)),
        StreamSpec("projects", "project", listing("Projects", "projects"), PROJECT,
                   description="Projects", incremental=SINCE, list_ids=listing("ProjectIds", "projects"),
                   fetch=FetchById("Project", records_path=("data", "project"), params={"id": "{id}"}),
                   complete=project_readers, readers=project_readers_of),
        StreamSpec("cycles", "cycle", listing("Cycles", "team", "cycles", team="{channel}"), CYCLE,
                   description="Cycles (sprints)", channels=TEAMS, incremental=SINCE,
                   list_ids=listing("CycleIds", "team", "cycles", team="{channel}"),
                   fetch=FetchById("Cycle", records_path=("data", "cycle"), params={"id": "{id}"},
                                   belongs=lambda cycle, api: (cycle.get("team") or {}).get("id") == api.channel)),
    )
