"""Linear: an OAuth 2.0 app (user actor, ``read`` scope) reads the workspace through the GraphQL API.

Docs: https://linear.app/developers -- GraphQL at https://api.linear.app/graphql, schema shipped in @linear/sdk
OAuth: https://linear.app/developers/oauth-2-0-authentication (comma-separated scopes; access tokens last 24 h,
with a refresh token). Pagination: https://linear.app/developers/pagination -- Relay ``first``/``after`` (at
most 250), ``pageInfo``; ``orderBy: updatedAt`` lists the most recently updated first.
Rate limits: https://linear.app/developers/rate-limiting -- leaky buckets per user per app: 5,000 requests and
2,000,000 complexity points an hour (a query at most 10,000); every answer says where it stands in
``X-RateLimit-Requests-*`` and ``X-RateLimit-Complexity-*`` (resets in epoch milliseconds), ``X-Complexity`` is
the query's cost. A spent budget answers HTTP 400 with ``extensions.code: RATELIMITED``.

Everything is GraphQL (``connectors._graphql``): queries, named below, where a REST connector has paths.
Channels: teams (a private team is listed only to its members). Each stream lists newest change first with
``filter: {updatedAt: {gte: cursor}}`` (incremental by ``updatedAt``), archived ones too (``includeArchived``):

* ``issues`` per team, each with its first 20 comments (the rest read through ``Issue.comments``): a document
  per issue with its comments. Deletion: a deleted issue stays 30 days in Linear's trash (``trashed: true``,
  listed with ``includeArchived``, its ``updatedAt`` moved): a tombstone. After that the id listing misses it
  and ``issue(id:)`` answers ``Entity not found`` (``INPUT_ERROR``), which confirms it. Archived issues stay.
* ``projects``: the workspace's projects the user can see; ``cycles`` per team.

Readers: a public team's issues and cycles, every member of the workspace; a private team's, its members
(``team.members``) as ``linear:<user id>`` and e-mail addresses. A project, everyone where one of its teams is
public, else the members of its (private) teams.

Linear's SDK, a typed GraphQL client over fetch, would bypass the paced client: the queries are sent as written
here, and the emulation's answers are checked against the SDK's schema (``tests/fidelity/linear_schema.py``).
"""
from functools import partial

from .base import CatalogEntry, OAuthEndpoints, RateLimits
from .errors import ProviderAuthError, ProviderNotFound
from ._graphql import PAGE_INFO, GraphQLConnector, nodes_of, relay, relay_queries, relay_query, relay_stream, rest_of
from .kit import Channels, Incremental, OnError, WhoAmI, oauth_bearer, person
from .mapping import Doc, each, first, thread
from .rest import dig

PERSON = "id name email"
COMMENT = f"id body createdAt updatedAt user {{ {PERSON} }}"
ISSUE = (f"id identifier title description url priorityLabel createdAt updatedAt archivedAt trashed "
         f"team {{ id key name }} state {{ name type }} assignee {{ {PERSON} }} creator {{ {PERSON} }} "
         f"labels {{ nodes {{ name }} }} project {{ id name }} cycle {{ id number name }} "
         f"comments(first: 20) {{ nodes {{ {COMMENT} }} {PAGE_INFO} }}")
PROJECT = (f"id name description content url state startDate targetDate progress createdAt updatedAt archivedAt "
           f"lead {{ {PERSON} }} teams {{ nodes {{ id key private }} }}")
CYCLE = "id number name description startsAt endsAt completedAt progress createdAt updatedAt archivedAt team { id key }"
# A stream's listing: newest change first, archived and trashed records too; ``$filter``: what changed (SINCE).
CHANGED = {"arguments": "orderBy: updatedAt, includeArchived: true"}
QUERIES = {
    "Viewer": "query Viewer { viewer { id name email organization { id name urlKey } } }",
    "Teams": relay_query("Teams", "teams", "id key name private"),
    "Team": "query Team($id: String!) { team(id: $id) { id key name private } }",
    "TeamMembers": relay_query("TeamMembers", "members", PERSON, parent="team(id: $id)"),
    "IssueComments": relay_query("IssueComments", "comments", COMMENT, parent="issue(id: $id)"),
    **relay_queries("Issue", "issues", ISSUE, parent="team(id: $team)", filter="IssueFilter", **CHANGED),
    **relay_queries("Project", "projects", PROJECT, filter="ProjectFilter", **CHANGED),
    **relay_queries("Cycle", "cycles", CYCLE, parent="team(id: $team)", filter="CycleFilter", **CHANGED),
}
SINCE = Incremental.newest_first("updatedAt", param="filter",
                                 format=lambda cursor: {"updatedAt": {"gte": cursor}} if cursor else {})


def members(api, teams: list[dict]) -> list[tuple[str, str]] | None:
    """Who reads what belongs to these teams: everyone (None) where one of them is public, else the
    members of each (``team.members``, listed once a run)."""
    if not teams or any(not t.get("private") for t in teams):
        return None
    listed = [api.remember(("members", t["id"]), lambda: api.records(relay("TeamMembers", "team", "members",
                                                                           id=t["id"]))) for t in teams]
    return sorted({entry for people in listed for m in people for entry in person("linear", m["id"], m.get("email"))})


def readers(entries: list | None):
    from access.service import Readers

    return Readers.everyone() if entries is None else Readers.of(*entries)


def project_readers(records: list, api) -> None:
    for record in records:
        record["_readers"] = members(api, dig(record, ("teams", "nodes")) or [])


def cycle_title(cycle: dict) -> str:
    team = dig(cycle, ("team", "key"))
    return f"{team} {cycle_name(cycle)}" if team else cycle_name(cycle)


doc = partial(Doc, created="createdAt", updated="updatedAt")        # Linear's times, on every record
issue_title = "{identifier}: {title}".format_map
comments = partial(nodes_of, field="comments")
cycle_name = first("name", otherwise="Cycle {number}")
ISSUE_DOC = doc("issue", issue_title, url="url", author="creator.name", content=(
    issue_title, "description", thread(comments, "user.name", "body", at="createdAt")),
    metadata=(("team", "team.key"), "identifier", ("state", "state.name"), ("priority", "priorityLabel"),
              ("assignee", "assignee.name"), ("labels", each("labels.nodes", "name")), ("project", "project.name"),
              ("comments", lambda issue: len(comments(issue))),
              ("archived", lambda issue: bool(issue.get("archivedAt")))))
# Linear's ``content`` is the project's whole document, its summary line ``description``.
PROJECT_DOC = doc("project", "name", content=("name", first("content", "description")), url="url",
                  author="lead.name", metadata=("state", ("start_date", "startDate"), ("target_date", "targetDate"),
                                                "progress", ("teams", each("teams.nodes", "key"))))
CYCLE_DOC = doc("cycle", cycle_title, content=(
    cycle_name, lambda c: f"{(c.get('startsAt') or '')[:10]} to {(c.get('endsAt') or '')[:10]}", "description"),
    metadata=(("team", "team.key"), "number", ("starts_at", "startsAt"), ("ends_at", "endsAt"),
              ("completed_at", "completedAt"), "progress"))
TEAMS = Channels("team", relay("Teams", "teams"), id="id", name="name", lookup="Team?id={channel}",
                 lookup_path=("data", "team"),
                 readers=lambda api, team: readers(members(api, [api.connector.channel_record(api, "team")])))


def in_team(record: dict, api) -> bool:
    return (record.get("team") or {}).get("id") == api.channel


TEAM = {"parent": ("team", "{channel}"), "channels": TEAMS, "belongs": in_team}      # a stream read per team


class LinearConnector(GraphQLConnector):
    catalog = CatalogEntry(
        type="linear", display_name="Linear", category="devtools", auth_method="oauth_redirect",
        description="Issues with their comments, projects and cycles from your Linear workspace.",
        docs_url="https://linear.app/developers",
        # 5,000 requests an hour per user and app; the complexity headers pace the rest.
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
        relay_stream("issues", "Issue", ISSUE_DOC, **TEAM, incremental=SINCE, description="Issues with their comments",
                     tombstone=lambda issue: bool(issue.get("trashed")),
                     joins=(rest_of("comments", "IssueComments", "issue", "comments"),)),
        relay_stream("projects", "Project", PROJECT_DOC, incremental=SINCE, description="Projects",
                     complete=project_readers, readers=lambda project: readers(project.get("_readers"))),
        relay_stream("cycles", "Cycle", CYCLE_DOC, **TEAM, incremental=SINCE, description="Cycles (sprints)"),
    )
