"""Linear under /linear: the OAuth app's consent page and token endpoint, and ``POST /graphql``.

The workspace "Acme Sandbox" (``acme-sandbox``): teams Engineering (ENG) and Design (DES), public, and Security
(SEC), private to every third person. Issues (``scale`` per team), comments, projects and cycles are seeded
collections (``/_sandbox/collections/linear/<issues|comments|projects|cycles>/<n>``). A deleted issue stays 30
days in the trash (``trashed: true``, listed with ``includeArchived``, its ``updatedAt`` the deletion time); then,
as for an id never seen, ``issue(id:)`` answers ``Entity not found``.

Not a GraphQL engine: the query's selection (read as ``github_graphql`` reads it) is answered from objects whose
connections are built, with their arguments, only where it selects them. Connections page with ``first`` (at
most 250; 50 by default) and an opaque keyset ``after``, newest change first with ``orderBy: updatedAt`` (else
by creation); ``filter: {updatedAt: {gte|gt}}`` filters.

Rate limits, as Linear says them: ``X-RateLimit-Requests-Limit/-Remaining/-Reset`` (epoch ms; 5,000 an hour) and
a complexity budget per token (the kit's ``PointsBudget``: 2,000,000 points an hour; ``POST
/_sandbox/linear/complexity {"limit": N}``): ``X-Complexity`` (the answer's cost: 1 point per object, 0.1 per
property, rounded up) and ``X-RateLimit-Complexity-Limit/-Remaining/-Reset`` (when the bucket is full again). A
query the bucket cannot pay for, or a rate_limit fault: HTTP 400 ``RATELIMITED``. An unknown token: 401
``AUTHENTICATION_ERROR``; other errors come in a 200 body with ``data: null``.
"""
from __future__ import annotations

import math
import re

from flask import request

from ..kit import Emulation, OAuthDialect, PointsBudget, Seeded, relay_page, touched
from ..seed import STAFF as PEOPLE, iso_ms
from . import Answer, json_response, state
from .github_graphql import GraphQLError, field_args, resolved, selection

TEAMS = (("ENG", "Engineering", False), ("DES", "Design", False), ("SEC", "Security", True))
STATES = (("Backlog", "backlog"), ("Todo", "unstarted"), ("In Progress", "started"), ("Done", "completed"),
          ("Canceled", "canceled"))
PRIORITIES = ("No priority", "Urgent", "High", "Medium", "Low")
LABELS = ("Bug", "Feature", "Improvement", "Performance", "Docs")
THINGS = ("search relevance", "sync retries", "OAuth consent", "billing export", "dark mode", "audit log",
          "rate limiter", "webhook signatures", "onboarding tour", "CSV import")
VERBS = ("Fix", "Speed up", "Redesign", "Document", "Harden", "Measure")
COMMENTS = ("Reproduced on staging.", "I think this is a duplicate.", "Pushed a fix, please review.",
            "Can we ship this behind a flag?", "Blocked on the API change.", "Verified in production.")
PROJECTS = ("Connector wave 2", "Search v2", "Self-hosting guide", "Billing revamp", "Mobile console")
TRASH_DAYS = 30
MAX_FIRST = 250
KINDS = {"user": 1, "team": 2, "issue": 3, "comment": 4, "project": 5, "cycle": 6, "organization": 7}
VIEWER = 0          # the consent page signs in Ada, who is in every team


def lid(kind: str, number) -> str:
    """A Linear id (a UUID) that says which record it is."""
    return f"{int(number):08x}-0000-4000-8000-{KINDS[kind]:012x}"


def number_of(kind: str, value) -> str | None:
    match = re.fullmatch(r"([0-9a-f]{8})-0000-4000-8000-([0-9a-f]{12})", str(value or ""))
    return str(int(match.group(1), 16)) if match and int(match.group(2), 16) == KINDS[kind] else None


def member(person: int, team: int) -> bool:
    return not TEAMS[team][2] or person % 3 == 0


class LinearDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "linear", "Linear", PEOPLE[0][1], "lin_oauth"
    scope_separators = ", "
    scope_joiner = ","
    token_type = "Bearer"

    def consent_user(self, st) -> dict:
        return {"login": f"{PEOPLE[0][1]}@acme-sandbox.example", "name": PEOPLE[0][0], "avatar_url": ""}


def issue_fields(rnd, i):
    return {"team": i % len(TEAMS), "number": i // len(TEAMS) + 1,
            "title": f"{rnd.choice(VERBS)} {rnd.choice(THINGS)}", "description": f"{rnd.choice(COMMENTS)} "
            f"See the {rnd.choice(THINGS)} notes.", "state": rnd.randrange(len(STATES)),
            "priority": rnd.randrange(len(PRIORITIES)), "assignee": rnd.randrange(len(PEOPLE)) if i % 4 else None,
            "creator": rnd.randrange(len(PEOPLE)), "labels": rnd.sample(range(len(LABELS)), rnd.randrange(3)),
            "project": rnd.randrange(len(PROJECTS)) if i % 2 else None, "cycle": None, "archived": i % 17 == 16}


def project_fields(rnd, i):
    return {"name": PROJECTS[i % len(PROJECTS)] + (f" {i // len(PROJECTS) + 1}" if i >= len(PROJECTS) else ""),
            "description": f"Everything about {rnd.choice(THINGS)}.", "teams": [i % len(TEAMS)] if i % 3 != 2 else [2],
            "lead": rnd.randrange(len(PEOPLE)), "state": rnd.choice(("planned", "started", "completed"))}


class Linear(Emulation):
    name, prefix = "linear", "/linear"
    dialect = LinearDialect()
    token_ttl = 86399
    limits = {None: (5000, 3600)}
    rate_header_names = ("x-ratelimit-requests-limit", "x-ratelimit-requests-remaining", "x-ratelimit-requests-reset")
    collections = {
        "issues": Seeded(issue_fields, lambda scale: scale * len(TEAMS)),
        # Issue 1 (ENG-1) has 25 comments, more than the 20 an issue carries inline; others a few.
        "comments": Seeded(lambda rnd, i: {"issue": "1" if i < 25 else str(2 + (i * 7) % 60),
                                           "body": rnd.choice(COMMENTS), "user": rnd.randrange(len(PEOPLE))},
                           lambda scale: 2 * scale + 25),
        "projects": Seeded(project_fields, lambda scale: max(len(PROJECTS), scale // 5)),
        "cycles": Seeded(lambda rnd, i: {"team": i % len(TEAMS), "number": i // len(TEAMS) + 1},
                         lambda scale: 4 * len(TEAMS)),
    }

    def error_body(self, status, message, code=None):
        kind = {401: ("AUTHENTICATION_ERROR", "authentication error"), 400: ("RATELIMITED", "ratelimited"),
                429: ("RATELIMITED", "ratelimited"), 403: ("FORBIDDEN", "forbidden")}.get(
            status, ("INTERNAL_SERVER_ERROR", "internal error"))
        present = {"AUTHENTICATION_ERROR": "You need to authenticate to access this operation.",
                   "RATELIMITED": "Rate limit exceeded, please try again later."}.get(kind[0], message)
        return {"errors": [{"message": message, "extensions": {
            "type": kind[1], "code": code or kind[0], "statusCode": status, "userError": status < 500,
            "userPresentableMessage": present, "meta": {}, "http": {"status": status}}}]}

    def unauthorized(self):
        return self.error(401, "Authentication required, not authenticated", "AUTHENTICATION_ERROR")

    def rate_limited(self, info, status, now):
        # Linear answers a spent budget with HTTP 400 and RATELIMITED, whatever the fault asked for.
        response = self.error(400, "Rate limit exceeded", "RATELIMITED")
        self.rate_headers(response, info, now)
        response.headers["retry-after"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def rate_headers(self, response, info, now):
        super().rate_headers(response, info, now)
        response.headers["x-ratelimit-requests-reset"] = str(int(math.ceil(info.reset_at) * 1000))


PROVIDER = Linear()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/oauth/authorize", "/oauth/token", revoke="/oauth/revoke")


# -- the complexity budget: a leaky bucket of points per token -------------------------------------

def cost_of(value) -> int:
    """Linear's scoring of an answer: 1 point per object, 0.1 per property."""
    def points(v):
        if isinstance(v, dict):
            return 1 + sum(points(x) for x in v.values())
        if isinstance(v, list):
            return sum(points(x) for x in v)
        return 0.1
    return max(1, math.ceil(points(value)))


BUDGET = PointsBudget("linear", "complexity", 2_000_000)


def spent(response, budget: tuple, cost: int | None = None):
    """``response`` saying what the query cost (an error's point is not said) and where the budget stands."""
    limit, remaining, full_at = budget
    response.headers.update({"x-ratelimit-complexity-limit": str(limit), "x-ratelimit-complexity-remaining": str(
        int(remaining)), "x-ratelimit-complexity-reset": str(int(full_at * 1000))})
    if cost is not None:
        response.headers["x-complexity"] = str(cost)
    return response


# -- objects, their connections built where a query selects them -----------------------------------

def connection(name: str, nodes: list, args: dict, keys: list | None = None) -> dict:
    """A page of ``nodes``: newest change first with ``orderBy: updatedAt``, else newest first by
    creation, ``filter`` applied; with ``keys``, as they come (an issue's comments, oldest first)."""
    first = args.get("first", 50)
    if not isinstance(first, int) or not 0 <= first <= MAX_FIRST:
        raise GraphQLError(f"Argument 'first' on field '{name}' must be between 0 and {MAX_FIRST}.")
    newest_first = keys is None
    if newest_first:
        by = "updatedAt" if args.get("orderBy") == "updatedAt" else "createdAt"
        changed = (args.get("filter") or {}).get("updatedAt") or {}
        nodes = sorted([n for n in nodes if n["updatedAt"] >= changed.get("gte", "")
                        and n["updatedAt"] > changed.get("gt", "")], key=lambda n: (n[by], n["id"]), reverse=True)
        keys = [[n[by], n["id"]] for n in nodes]
    return relay_page(nodes, keys, first, args.get("after"), descending=newest_first)


class Missing(Exception):
    """``Entity not found``: an id Linear does not have (or the viewer may not see)."""


def person(i) -> dict | None:
    if i is None:
        return None
    name, login = PEOPLE[int(i)]
    return {"id": lid("user", int(i) + 1), "name": name, "displayName": login, "email": f"{login}@acme-sandbox.example",
            "active": True, "guest": False}


def dated(record: dict, at: int) -> dict:
    return {**record, "createdAt": iso_ms(at), "updatedAt": iso_ms(at)}


def team_json(index: int) -> dict:
    key, name, private = TEAMS[index]
    return {"id": lid("team", index + 1), "key": key, "name": name, "private": private}


def url(path: str) -> str:
    return f"https://linear.app/acme-sandbox/{path}"


def stamp(r: dict) -> dict:
    gone = r.get("trashed")
    return {"createdAt": iso_ms(r["created"]), "updatedAt": iso_ms(gone or r["updated"]),
            "archivedAt": iso_ms(gone or r["updated"]) if gone or r.get("archived") else None}


def in_trash(now: float) -> dict[str, dict]:
    """Issues deleted in the last 30 days by id: their last fields, ``trashed`` when they went."""
    issues = PROVIDER.collection("issues")
    return {n: {**issues.removed[n], "trashed": at} for n, at in issues.deleted.items() if now - at < TRASH_DAYS * 86400}


def issue_json(r: dict, by_issue: dict | None = None) -> dict:
    """An issue as Linear shows it; a new or edited comment moves its ``updatedAt``, as in Linear.
    ``by_issue``: every issue's comments, when a listing read them once."""
    team = TEAMS[r["team"]]
    comments = (PROVIDER.children("comments", "issue") if by_issue is None else by_issue).get(r["id"], [])
    r = {**r, "updated": touched(r, comments)}
    identifier = f"{team[0]}-{r['number']}"
    cycles = PROVIDER.collection("cycles").rows.values()
    cycle = next((c for c in cycles if c["team"] == r["team"]), None) if r["state"] == 2 else None
    return {"id": lid("issue", r["id"]), "identifier": identifier, "title": r["title"], "description": r["description"],
            "url": url(f"issue/{identifier.lower()}"), "priorityLabel": PRIORITIES[r["priority"]], **stamp(r),
            "trashed": bool(r.get("trashed")), "team": team_json(r["team"]),
            "state": {"name": STATES[r["state"]][0], "type": STATES[r["state"]][1]},
            "assignee": person(r["assignee"]), "creator": person(r["creator"]),
            "labels": {"nodes": [{"name": LABELS[n]} for n in r["labels"]]},
            "project": {"id": lid("project", r["project"] + 1), "name": PROJECTS[r["project"]]}
            if r["project"] is not None else None,
            "cycle": {"id": lid("cycle", cycle["id"]), "number": cycle["number"], "name": None} if cycle else None,
            "comments": lambda args: connection("comments", [comment_json(c) for c in comments], args,
                                                keys=[[c["created"], int(c["id"])] for c in comments])}


def comment_json(c: dict) -> dict:
    return {"id": lid("comment", c["id"]), "body": c["body"], "createdAt": iso_ms(c["created"]),
            "updatedAt": iso_ms(c["updated"]), "user": person(c["user"])}


def project_json(r: dict) -> dict:
    return {"id": lid("project", r["id"]), "name": r["name"], "description": r["description"],
            "content": f"# {r['name']}\n\n{r['description']}", "url": url(f"project/{r['id']}"), "state": r["state"],
            "startDate": iso_ms(r["created"])[:10], "targetDate": None, "progress": 0.5 if r["state"] == "started"
            else 1.0 if r["state"] == "completed" else 0.0, **stamp(r), "lead": person(r["lead"]),
            "teams": {"nodes": [team_json(t) for t in r["teams"]]}}


def cycle_json(r: dict) -> dict:
    starts = r["created"]
    return {"id": lid("cycle", r["id"]), "number": r["number"], "name": None, "description": None,
            "startsAt": iso_ms(starts), "endsAt": iso_ms(starts + 14 * 86400),
            "completedAt": iso_ms(starts + 14 * 86400) if r["number"] < 4 else None,
            "progress": 1.0 if r["number"] < 4 else 0.4, **stamp(r), "team": team_json(r["team"])}


def listed(name: str, args: dict, where, trash: dict | None = None) -> list[dict]:
    """Collection ``name``'s records ``where`` keeps; archived ones (and the ``trash``) with ``includeArchived``."""
    rows = [*PROVIDER.collection(name).rows.values(), *((trash or {}).values() if args.get("includeArchived") else ())]
    return [r for r in rows if where(r) and (args.get("includeArchived") or not r.get("archived"))]


def team_node(args: dict, now: float) -> dict:
    number = number_of("team", args.get("id"))
    index = int(number) - 1 if number and int(number) <= len(TEAMS) else None
    if index is None or not member(VIEWER, index):
        raise Missing("Team", "team")

    def mine(record: dict) -> bool:
        return record["team"] == index
    people = [dated(person(p), 1704067200 + p) for p in range(len(PEOPLE)) if member(p, index)]
    return {**team_json(index), "members": lambda a: connection("members", people, a),
            "issues": lambda a: connection("issues", [issue_json(r, PROVIDER.children("comments", "issue"))
                                                      for r in listed("issues", a, mine, in_trash(now))], a),
            "cycles": lambda a: connection("cycles", [cycle_json(r) for r in listed("cycles", a, mine)], a)}


def visible(record: dict) -> bool:
    """Whether the viewer sees a team's record (a project: one of its teams')."""
    return any(member(VIEWER, t) for t in (record["teams"] if "teams" in record else [record["team"]]))


def one(kind: str, shape, trash=lambda now: {}):
    """``<kind>(id:)``: the record, if the viewer sees it (an issue also from the ``trash``)."""
    def node(args: dict, now: float) -> dict:
        number = number_of(kind, args.get("id")) or ""
        record = PROVIDER.collection(kind + "s").get(number) or trash(now).get(number)
        if record is None or not visible(record):
            raise Missing(kind.capitalize(), kind)
        return shape(record)
    return node


ROOTS = {
    "viewer": lambda args, now: {**person(VIEWER), "organization": {
        "id": lid("organization", 1), "name": "Acme Sandbox", "urlKey": "acme-sandbox"}},
    "teams": lambda args, now: connection("teams", [dated(team_json(t), 1704067200 + t) for t in range(len(TEAMS))
                                                    if member(VIEWER, t)], args),
    "team": team_node, "issue": one("issue", issue_json, in_trash), "project": one("project", project_json),
    "cycle": one("cycle", cycle_json),
    "projects": lambda args, now: connection(
        "projects", [project_json(r) for r in listed("projects", args, visible)], args),
}


@PROVIDER.post("/graphql")
def graphql(principal):
    """Linear's GraphQL endpoint (see the module docstring for what it answers)."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return json_response({"errors": [{"message": "Must provide query string.", "extensions": {
            "type": "graphql error", "code": "GRAPHQL_PARSE_FAILED", "userError": True}}]}, 400)
    query, variables = payload["query"], payload.get("variables") or {}
    tree = selection(query) or []
    st = state()
    with st.lock:
        now = st.now()
        try:
            if not tree or tree[0][1] not in ROOTS:
                raise GraphQLError("The sandbox answers viewer, teams, team { issues, cycles, members }, issue "
                                   "{ comments }, projects, project and cycle queries only.")
            root = tree[0][1]
            data = resolved({root: lambda args: ROOTS[root](args, now)}, tree,
                            lambda name: field_args(query, name, variables) or {})
        except GraphQLError as exc:
            return json_response({"errors": [{**exc.body, "extensions": {
                "type": "graphql error", "code": "GRAPHQL_VALIDATION_FAILED", "userError": True}}]}, 400)
        except Missing as missing:
            kind, path = missing.args
            return spent(json_response({"data": None, "errors": [{
                "message": f"Entity not found: {kind}", "path": [path], "extensions": {
                    "type": "invalid input", "code": "INPUT_ERROR", "statusCode": 400, "userError": True,
                    "userPresentableMessage": f"Could not find referenced {kind}."}}]}),
                BUDGET.charge(principal.key, 1, now)[1])
        cost = cost_of(data)
        paid, budget = BUDGET.charge(principal.key, cost, now)
    if not paid:
        raise Answer(spent(PROVIDER.error(400, "Rate limit exceeded", "RATELIMITED"), budget, cost))
    return spent(json_response({"data": data}), budget, cost)
