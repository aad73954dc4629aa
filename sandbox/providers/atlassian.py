"""Atlassian Cloud under /atlassian: the auth server (auth.atlassian.com: consent page and token
endpoint), api.atlassian.com's ``/oauth/token/accessible-resources`` and ``/me``, and one site
(cloud id ``SITE_ID``) with Jira (platform REST v3 and the agile API) under
``/ex/jira/{cloudid}`` and Confluence (v1 CQL search, restrictions, users and groups; v2 spaces,
pages and footer comments) under ``/ex/confluence/{cloudid}/wiki``.

As Atlassian does it: access tokens live an hour and refresh tokens rotate; JQL and CQL dates
(``updated >= "yyyy-MM-dd HH:mm"``) are read to the minute in the signed-in user's time zone
(``ZONE``, behind UTC, so a connector that sends UTC literals skips changes); the new
``/search/jql`` pages with ``nextPageToken``, CQL and v2 with ``_links.next`` cursors, project
search and the agile API with ``startAt``; errors are Jira's ``{"errorMessages", "errors"}``,
Confluence v1's ``{"statusCode", "message", ...}``, v2's ``{"errors": [...]}`` and the gateway's
``{"code", "message"}`` for a refused token; rate-limit headers ``X-RateLimit-*`` with an ISO
reset, and a 429 adds ``RateLimit-Reason``. Issues and Confluence content may be edited
through the kit's collections: ``{"unindexed": true}`` hides a record from JQL/CQL (the search
index lags the store) while reads by id still find it, and a page's ``{"status": "trashed"}``
leaves CQL and answers by id with that status.

Who may read: project OPS grants BROWSE_PROJECTS to its role Developers (Bob and group
engineering) and its lead, TRIB to every Jira user, and SEC's scheme is refused (the signed-in
user administers TRIB and OPS only); space ENG is read by group engineering and Dana, with every
seventh page restricted (children inherit it), and HR's permissions are refused.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, request

from ..kit import Emulation, OAuthDialect, Seeded, page_by_cursor
from ..seed import iso_ms
from . import int_arg, json_response, state, url_with

SITE_ID = "7c1e8a52-4f3b-4d5e-9a61-2b0c8d7e6f10"
SITE = "https://tributary-sandbox.atlassian.net"
ZONE = ZoneInfo("America/Los_Angeles")
PEOPLE = [("Ada Sandbox", "ada@tributary.example"), ("Bob Builder", "bob@tributary.example"),
          ("Cara Coder", "cara@tributary.example"), ("Dana Docs", "dana@tributary.example"),
          ("Eve Ops", "eve@tributary.example"), ("Finn Shield", "finn@tributary.example")]
ACCOUNTS = ["5f" + hashlib.sha1(email.encode()).hexdigest()[:22] for _, email in PEOPLE]
GROUPS = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"atlassian:{name}")): (name, members) for name, members in (
    ("engineering", (0, 1, 2)), ("security", (3, 5)), ("jira-software-users", (0, 1, 2, 3, 4, 5)))}
GROUP = {name: gid for gid, (name, _) in GROUPS.items()}
PROJECTS = {"TRIB": ("10000", "Tributary", 0, [{"type": "applicationRole", "parameter": "jira-software"}]),
            "OPS": ("10001", "Operations", 4, [{"type": "projectRole", "parameter": "10002"}, {"type": "projectLead"}]),
            "SEC": ("10002", "Security", 5, [{"type": "group", "parameter": "security", "value": GROUP["security"]}])}
ADMINISTERED = ("TRIB", "OPS")
ROLE_ACTORS = {"users": (1,), "groups": ("engineering",)}       # OPS's Developers
SPACES = {"ENG": ("98301", "Engineering", [("group", GROUP["engineering"]), ("user", ACCOUNTS[3])]),
          "HR": ("98302", "People", None)}
WORDS = ["rollout", "billing", "latency", "onboarding", "schema", "search", "audit", "quota", "retry", "webhook"]


class AtlassianDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "atlassian", "Atlassian", PEOPLE[0][1], "atl"

    def issues_refresh_token(self, offline: bool) -> bool:
        return True         # the connectors always ask for offline_access


def _issue(rnd, i):
    return {"project": list(PROJECTS)[i % 3], "number": i // 3 + 1, "summary": f"{rnd.choice(WORDS).title()} "
            f"{rnd.choice(['is slow', 'fails on retry', 'needs a plan', 'breaks the build'])}",
            "description": f"The {rnd.choice(WORDS)} step {rnd.choice(['times out', 'drops rows', 'logs twice'])}.",
            "status": rnd.choice(["To Do", "In Progress", "Done"]), "type": rnd.choice(["Task", "Bug", "Story"]),
            "assignee": rnd.choice([None, 1, 2, 4]), "reporter": rnd.randrange(6), "labels": rnd.sample(WORDS, 2),
            "comments": 23 if i % 50 == 22 else rnd.randrange(4), "changes": rnd.randrange(4),
            "secret": i % 19 == 7}


def _sprint(rnd, i):
    per_board, rank = (state().scale + 2) // 3, i // 3
    return {"board": i % 3 + 1, "name": f"{list(PROJECTS)[i % 3]} Sprint {rank + 1}", "goal": f"Ship the {rnd.choice(WORDS)} work",
            "state": "closed" if rank < per_board - 2 else "active" if rank == per_board - 2 else "future"}


def _page(rnd, i):
    space, n = ("ENG", "HR")[i % 2], i + 1
    return {"space": space, "title": f"{rnd.choice(WORDS).title()} {rnd.choice(['handbook', 'runbook', 'notes', 'plan'])} {n}",
            "parent": str(n - 2) if i >= 2 and i % 3 else None, "restricted": i % 7 == 1, "author": rnd.randrange(6),
            "topic": rnd.choice(WORDS), "status": "current"}


def _comment(rnd, i):
    return {"page": str((i * 7) % state().scale + 1), "author": rnd.randrange(6), "location": "inline" if i % 10 == 4 else "footer",
            "text": f"Should we revisit the {rnd.choice(WORDS)} {rnd.choice(['numbers', 'owner', 'deadline'])}?"}


class Atlassian(Emulation):
    name, prefix = "atlassian", "/atlassian"
    dialect = AtlassianDialect()
    client = {"client_id": "sandbox-atlassian-client", "client_secret": "sandbox-atlassian-secret", "name": "Tributary"}
    token_ttl = 3600
    limits = {None: (1000, 60)}
    reset_header = "iso"
    collections = {"issues": Seeded(_issue), "sprints": Seeded(_sprint), "pages": Seeded(_page), "comments": Seeded(_comment)}

    def error_body(self, status, message, code=None):
        path = request.path
        if "/ex/jira/" in path:
            return {"errorMessages": [message], "errors": {}}
        if "/wiki/api/v2/" in path:
            return {"errors": [{"status": status, "code": code or REASONS.get(status, "ERROR"),
                                "title": REASONS.get(status, "Error").replace("_", " ").title(), "detail": message}]}
        if "/wiki/" in path:
            return {"statusCode": status, "data": {"authorized": status != 403, "valid": True, "errors": [],
                                                  "successful": False}, "message": message}
        return {"code": status, "message": message}

    def unauthorized(self):
        return json_response({"code": 401, "message": "Unauthorized"}, 401)     # the gateway's, for every product

    def rate_limited(self, info, status, now):
        response = super().rate_limited(info, status, now)
        response.headers["RateLimit-Reason"] = "confluence-quota-based" if "/wiki/" in request.path else "jira-quota-based"
        return response


REASONS = {400: "INVALID_REQUEST_PARAMETER", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS"}
PROVIDER = Atlassian()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/authorize", "/oauth/token", theme={"provider": "atlassian", "title": "Atlassian"})
# One site: another cloud id is a 404 in the product's words.
JIRA, AGILE, WIKI = f"/ex/jira/{SITE_ID}/rest/api/3", f"/ex/jira/{SITE_ID}/rest/agile/1.0", f"/ex/confluence/{SITE_ID}/wiki"


def api_root(product: str) -> str:
    return f"https://api.atlassian.com/ex/{product}/{SITE_ID}"


def local(ts: float) -> str:
    """Jira's timestamps: milliseconds and the user's offset, ``2024-05-01T12:32:15.000-0700``."""
    return datetime.fromtimestamp(int(ts), ZONE).strftime("%Y-%m-%dT%H:%M:%S.000%z")


def since(literal: str) -> float:
    """A JQL/CQL date literal, read in the user's zone as Atlassian does (to the minute)."""
    try:
        return datetime.strptime(literal, "%Y-%m-%d %H:%M").replace(tzinfo=ZONE).timestamp()
    except ValueError:
        PROVIDER.fail(400, f"'{literal}' is not a valid date: use 'yyyy-MM-dd HH:mm'")


CLAUSE = re.compile(r'^\s*(\w+)\s*(=|>=|in)\s*"?([^"]*?)"?\s*$', re.I)


def query(text: str, fields: dict) -> tuple[dict, str]:
    """A JQL or CQL query of ANDed clauses and an ORDER BY, as ``({field: (op, value)}, order)``;
    a field not in ``fields`` (the ones this site answers) is a 400 in the product's words."""
    where, order = (re.split(r"\s+order\s+by\s+", text.strip(), maxsplit=1, flags=re.I) + [""])[:2]
    clauses = {}
    for part in filter(None, re.split(r"\s+and\s+", where.strip(), flags=re.I)):
        found = CLAUSE.match(part)
        if not found or found[1].lower() not in fields:
            PROVIDER.fail(400, fields.get("_error", "Error in the query: {0}").format(part.strip()))
        clauses[found[1].lower()] = (found[2].lower(), found[3])
    return clauses, order.strip().lower()


def searched(name: str, clauses: dict, kind_ok) -> list[dict]:
    """The collection's indexed records the clauses select, oldest change first."""
    rows = [r for r in PROVIDER.collection(name).by_update() if not r.get("unindexed") and kind_ok(r)]
    if "updated" in clauses or "lastmodified" in clauses:
        floor = since((clauses.get("updated") or clauses.get("lastmodified"))[1])
        rows = [r for r in rows if r["updated"] >= floor]
    return rows


def person(index, *, email: bool = True) -> dict:
    name, address = PEOPLE[index]
    found = {"self": f"{api_root('jira')}/rest/api/3/user?accountId={ACCOUNTS[index]}", "accountId": ACCOUNTS[index],
             "displayName": name, "active": True, "timeZone": str(ZONE), "accountType": "atlassian"}
    return {**found, "emailAddress": address} if email else found


def adf(*paragraphs: str) -> dict:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]}
                                                    for p in paragraphs]}


def issue_id(r) -> str:
    return str(10000 + int(r["id"]))


def issue_key(r) -> str:
    return f"{r['project']}-{r.get('number') or r['id']}"


def comments_of(r) -> list[dict]:
    n, span = int(r.get("comments") or 0), max(1, r["updated"] - r["created"])
    return seeded_comments(r, n, span) + [
        comment_json(r, n + j, added["text"], added["author"], added["at"]) for j, added in enumerate(r.get("added_comments") or [])]


def comment_json(r, j: int, body: str, author: int, at: float) -> dict:
    return {"self": f"{api_root('jira')}/rest/api/3/issue/{issue_id(r)}/comment/{int(r['id']) * 100 + j}",
            "id": str(int(r["id"]) * 100 + j), "author": person(author), "body": adf(body), "updateAuthor": person(author),
            "created": local(at), "updated": local(at), "jsdPublic": True}


def seeded_comments(r, n: int, span: int) -> list[dict]:
    return [{"self": f"{api_root('jira')}/rest/api/3/issue/{issue_id(r)}/comment/{int(r['id']) * 100 + j}",
             "id": str(int(r["id"]) * 100 + j), "author": person((j + int(r["id"])) % 6), "body": adf(f"Comment {j + 1} on {issue_key(r)}: "
             f"{WORDS[(j + int(r['id'])) % len(WORDS)]} looks fine."), "updateAuthor": person((j + int(r["id"])) % 6),
             "created": local(r["created"] + span * (j + 1) // (n + 1)), "updated": local(r["created"] + span * (j + 1) // (n + 1)),
             "jsdPublic": True} for j in range(n)]


def histories_of(r) -> list[dict]:
    n, span, steps = int(r.get("changes") or 0), max(1, r["updated"] - r["created"]), ["To Do", "In Progress", "In Review", "Done"]
    return [{"id": str(int(r["id"]) * 10 + j), "author": person(j % 6), "created": local(r["created"] + span * (j + 1) // (n + 2)),
             "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": str(j + 1), "fromString": steps[j % 4],
                        "to": str(j + 2), "toString": steps[(j + 1) % 4]}]} for j in range(n)]


def issue_json(r, wanted: set, expand: str) -> dict:
    key, (pid, pname, _, _) = issue_key(r), PROJECTS[r["project"]]
    comments, histories = comments_of(r), histories_of(r)
    fields = {"summary": r["summary"], "description": adf(r.get("description") or ""), "labels": list(r.get("labels") or []),
              "status": {"name": r.get("status", "To Do"), "id": "1"}, "issuetype": {"name": r.get("type", "Task"), "id": "10001"},
              "priority": {"name": "Medium", "id": "3"}, "assignee": person(r["assignee"]) if r.get("assignee") is not None else None,
              "reporter": person(r.get("reporter", 0)), "created": local(r["created"]), "updated": local(r["updated"]),
              "project": {"id": pid, "key": r["project"], "name": pname}, "resolution": None, "parent": None,
              "security": {"id": "10100", "name": "Security team"} if r.get("secret") else None,
              "comment": {"comments": comments[:20], "maxResults": 20, "total": len(comments), "startAt": 0}}
    everything = "*all" in wanted or "*navigable" in wanted
    out = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
           "id": issue_id(r), "self": f"{api_root('jira')}/rest/api/3/issue/{issue_id(r)}", "key": key,
           "fields": {k: v for k, v in fields.items() if everything or k in wanted}}
    if "changelog" in expand.split(","):
        out["changelog"] = {"startAt": 0, "maxResults": 20, "total": len(histories), "histories": histories[:20]}
    return out


def issue_or_404(ref: str) -> dict:
    issues = PROVIDER.collection("issues")
    found = issues.get(str(int(ref) - 10000)) if ref.isdigit() else next(
        (r for r in issues.rows.values() if issue_key(r) == ref), None)
    if found is None:
        PROVIDER.fail(404, "Issue does not exist or you do not have permission to see it.")
    return found


def project_or_404(key: str):
    if key not in PROJECTS:
        PROVIDER.fail(404, f"No project could be found with key '{key}'.")
    return PROJECTS[key]


def project_json(key: str) -> dict:
    pid, name, lead, _ = PROJECTS[key]
    return {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": f"{api_root('jira')}/rest/api/3/project/{pid}", "id": pid, "key": key, "name": name,
            "description": f"The {name} team's work.", "lead": person(lead), "projectTypeKey": "software",
            "simplified": False, "style": "classic", "isPrivate": False, "properties": {}}


def offset_page(rows: list, *, default: int = 50, maximum: int = 100, linked: bool = False) -> tuple[list, dict]:
    """``startAt``/``maxResults`` pages; ``linked``: with ``self`` and the ``nextPage`` URL (Jira's PageBean)."""
    start, size = int_arg("startAt", 0, minimum=0), int_arg("maxResults", default, minimum=1, maximum=maximum)
    chunk, last = rows[start:start + size], start + size >= len(rows)
    page = {"startAt": start, "maxResults": size, "total": len(rows), "isLast": last}
    if linked:
        page = {"self": url_with(), **page, **({} if last else {"nextPage": url_with(startAt=start + size)})}
    return chunk, page


# -- api.atlassian.com ------------------------------------------------------------------------------

@PROVIDER.get("/oauth/token/accessible-resources")
def accessible_resources(principal):
    return json_response([{"id": SITE_ID, "url": SITE, "name": "tributary-sandbox", "scopes": principal.scope,
                           "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"}])


@PROVIDER.get("/me")
def me(principal):
    name, email = PEOPLE[0]
    return json_response({"account_type": "atlassian", "account_id": ACCOUNTS[0], "email": email, "name": name,
                          "picture": "", "account_status": "active", "nickname": name.split()[0],
                          "zoneinfo": str(ZONE), "locale": "en-US", "extended_profile": {}})


# -- Jira ------------------------------------------------------------------------------------------

@PROVIDER.get(JIRA + "/myself")
def myself(principal):
    return json_response({**person(0), "locale": "en_US", "groups": {"size": 2, "items": []},
                          "applicationRoles": {"size": 1, "items": []}})


# -- Jira writes (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/) ------------------

TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
ISSUE_TYPES = ("Task", "Bug", "Story", "Epic")


def adf_text(node) -> str | None:
    """The text of an Atlassian Document Format document; None when ``node`` is not one."""
    if not isinstance(node, dict) or node.get("type") != "doc" or not isinstance(node.get("content"), list):
        return None

    def walk(n) -> str:
        if n.get("type") == "text":
            return str(n.get("text") or "")
        inner = "".join(walk(c) for c in n.get("content") or [] if isinstance(c, dict))
        return inner + ("\n\n" if n.get("type") == "paragraph" else "")
    return walk(node).strip()


def jira_refusal(errors: dict, messages: list | None = None, status: int = 400):
    PROVIDER.fail_with(json_response({"errorMessages": messages or [], "errors": errors}, status))


@PROVIDER.post(JIRA + "/issue")
def create_issue(principal):
    """``{"fields": {project, summary, issuetype, description (ADF), labels}}`` -> 201 ``{id, key, self}``;
    Jira's field errors (400 ``{"errorMessages": [], "errors": {field: message}}``) otherwise."""
    payload = request.get_json(silent=True)
    fields = payload.get("fields") if isinstance(payload, dict) else None
    if not isinstance(fields, dict):
        jira_refusal({}, ["No fields were provided for the issue."])
    errors = {}
    project = (fields.get("project") or {}) if isinstance(fields.get("project"), dict) else {}
    key = project.get("key") or next((k for k, v in PROJECTS.items() if v[0] == str(project.get("id"))), None)
    if key not in PROJECTS:
        errors["project"] = "valid project is required"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255:
        errors["summary"] = "Summary must be less than 255 characters."
    kind = (fields.get("issuetype") or {}).get("name") if isinstance(fields.get("issuetype"), dict) else None
    if kind not in ISSUE_TYPES:
        errors["issuetype"] = "Specify a valid issue type"
    description = None
    if fields.get("description") is not None:
        description = adf_text(fields["description"])
        if description is None:
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    labels = fields.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) and " " not in x for x in labels):
        errors["labels"] = "The label must not contain spaces."
    if errors:
        jira_refusal(errors)
    st = state()
    with st.lock:
        issues = PROVIDER.collection("issues")
        number = 1 + max((int(r.get("number") or 0) for r in issues.rows.values() if r["project"] == key), default=0)
        r = issues.add({"project": key, "number": number, "summary": summary.strip(), "description": description or "",
                        "status": "To Do", "type": kind, "assignee": None, "reporter": 0, "labels": labels,
                        "comments": 0, "changes": 0, "secret": False}, st.now())
    return json_response({"id": issue_id(r), "key": issue_key(r), "self": f"{api_root('jira')}/rest/api/3/issue/{issue_id(r)}"},
                         201)


@PROVIDER.post(JIRA + "/issue/<ref>/comment")
def add_comment(principal, ref):
    """``{"body": ADF}`` -> 201 with the comment; the issue's ``updated`` moves (JQL finds it again)."""
    r = issue_or_404(ref)
    payload = request.get_json(silent=True)
    body = adf_text(payload.get("body")) if isinstance(payload, dict) else None
    if not body:
        jira_refusal({"comment": "Comment body can not be empty!"} if isinstance(payload, dict) and payload.get("body")
                     is not None and body == "" else {"body": "Operation value must be an Atlassian Document "
                                                              "(see the Atlassian Document Format)"})
    st = state()
    with st.lock:
        added = [*(r.get("added_comments") or []), {"text": body, "author": 0, "at": st.now()}]
        PROVIDER.collection("issues").update(r["id"], {"added_comments": added}, st.now())
        comment = comments_of(r)[-1]
    return json_response(comment, 201)


def transitions_of(r) -> list[dict]:
    return [{"id": tid, "name": name, "hasScreen": False, "isGlobal": True, "isInitial": False, "isAvailable": True,
             "isConditional": False,
             "to": {"self": f"{api_root('jira')}/rest/api/3/status/{STATUS_IDS[name]}", "name": name,
                    "id": STATUS_IDS[name], "statusCategory": {"key": {"To Do": "new", "Done": "done"}.get(name, "indeterminate")}}}
            for tid, name in TRANSITIONS.items() if name != r.get("status", "To Do")]


@PROVIDER.get(JIRA + "/issue/<ref>/transitions")
def issue_transitions(principal, ref):
    return json_response({"expand": "transitions", "transitions": transitions_of(issue_or_404(ref))})


@PROVIDER.post(JIRA + "/issue/<ref>/transitions")
def do_transition(principal, ref):
    """``{"transition": {"id"}}`` -> 204; an id the issue does not offer now -> 400 in Jira's words."""
    r = issue_or_404(ref)
    payload = request.get_json(silent=True)
    wanted = (payload.get("transition") or {}).get("id") if isinstance(payload, dict) and isinstance(
        payload.get("transition"), dict) else None
    if wanted is None:
        jira_refusal({"transition": "Missing transition id."})
    if str(wanted) not in {t["id"] for t in transitions_of(r)}:
        jira_refusal({}, [f"Transition id '{wanted}' is not valid for this issue."])
    st = state()
    with st.lock:
        PROVIDER.collection("issues").update(r["id"], {"status": TRANSITIONS[str(wanted)],
                                                       "changes": int(r.get("changes") or 0) + 1}, st.now())
    return Response(status=204)


@PROVIDER.get(JIRA + "/project/search")
def project_search(principal):
    chunk, page = offset_page(list(PROJECTS), linked=True)
    return json_response({**page, "values": [project_json(key) for key in chunk]})


@PROVIDER.get(JIRA + "/project/<key>")
def project(principal, key):
    project_or_404(key)
    return json_response(project_json(key))


@PROVIDER.get(JIRA + "/project/<key>/permissionscheme")
def permission_scheme(principal, key):
    pid, name, _, grants = project_or_404(key)
    if key not in ADMINISTERED:
        PROVIDER.fail(403, "You don't have permission to view the permission scheme of this project.")
    holders = grants + [{"type": "projectRole", "parameter": "10003"}]       # BROWSE for admins; other permissions
    return json_response({"expand": "permissions,user,group,projectRole,field,all", "id": int(pid) - 9000,
                          "self": f"{api_root('jira')}/rest/api/3/permissionscheme/{int(pid) - 9000}",
                          "name": f"{name} permission scheme", "permissions": [
                              {"id": n + 1, "holder": holder, "permission": "BROWSE_PROJECTS"} for n, holder in enumerate(holders)]
                          + [{"id": 99, "holder": {"type": "reporter"}, "permission": "EDIT_ISSUES"}]})


@PROVIDER.get(JIRA + "/project/<key>/role/<role>")
def project_role(principal, key, role):
    project_or_404(key)
    if key not in ADMINISTERED:
        PROVIDER.fail(403, "You cannot view the actors of this project's roles.")
    if role not in ("10002", "10003"):
        PROVIDER.fail(404, "Can not retrieve a role actor for a null project role.")
    users, groups = (ROLE_ACTORS["users"], ROLE_ACTORS["groups"]) if (key, role) == ("OPS", "10002") else ((0,), ())
    actors = [{"id": 20000 + u, "displayName": PEOPLE[u][0], "type": "atlassian-user-role-actor",
               "actorUser": {"accountId": ACCOUNTS[u]}} for u in users]
    actors += [{"id": 21000 + n, "displayName": g, "type": "atlassian-group-role-actor",
                "actorGroup": {"name": g, "displayName": g, "groupId": GROUP[g]}} for n, g in enumerate(groups)]
    return json_response({"self": f"{api_root('jira')}/rest/api/3/project/{key}/role/{role}", "name":
                          "Developers" if role == "10002" else "Administrators", "id": int(role), "actors": actors})


@PROVIDER.get(JIRA + "/search/jql")
def search_jql(principal):
    clauses, order = query(request.args.get("jql", ""), {"project": 1, "updated": 1,
                                                          "_error": "Error in the JQL Query: the clause '{0}' is not supported."})
    key = (clauses.get("project") or ("=", ""))[1]
    if key and key not in PROJECTS:
        PROVIDER.fail(400, f"The value '{key}' does not exist for the field 'project'.")
    rows = searched("issues", clauses, lambda r: not key or r["project"] == key)
    ordered = (lambda r: (r["created"], int(r["id"]))) if order.startswith("created") else (lambda r: (r["updated"], int(r["id"])))
    rows = sorted(rows, key=ordered)
    chunk, token = page_by_cursor(rows, request.args.get("nextPageToken"), int_arg("maxResults", 50, minimum=1, maximum=100),
                                  key=ordered)
    wanted = set((request.args.get("fields") or "id").split(","))
    body = {"issues": [issue_json(r, wanted, request.args.get("expand", "")) for r in chunk], "isLast": token is None}
    if token:
        body["nextPageToken"] = token
    return json_response(body)


@PROVIDER.get(JIRA + "/issue/<ref>")
def issue(principal, ref):
    found = issue_or_404(ref)
    return json_response(issue_json(found, set((request.args.get("fields") or "*all").split(",")), request.args.get("expand", "")))


@PROVIDER.get(JIRA + "/issue/<ref>/comment")
def issue_comments(principal, ref):
    """Oldest first, or newest first with ``orderBy=-created`` (``created``/``+created``: oldest first)."""
    order = request.args.get("orderBy", "created")
    if order not in ("created", "+created", "-created"):
        PROVIDER.fail(400, f"The value '{order}' is not valid for the orderBy parameter.")
    comments = comments_of(issue_or_404(ref))
    chunk, page = offset_page(comments[::-1] if order == "-created" else comments, default=50, maximum=100)
    return json_response({"startAt": page["startAt"], "maxResults": page["maxResults"], "total": page["total"],
                          "comments": chunk})


@PROVIDER.get(JIRA + "/issue/<ref>/changelog")
def issue_changelog(principal, ref):
    chunk, page = offset_page(histories_of(issue_or_404(ref)), default=100, linked=True)
    return json_response({**page, "values": chunk})


@PROVIDER.get(JIRA + "/group/member")
def group_members(principal):
    if request.args.get("groupId") not in GROUPS:
        PROVIDER.fail(404, "Specified group does not exist.")
    chunk, page = offset_page(list(GROUPS[request.args["groupId"]][1]), linked=True)
    return json_response({**page, "values": [person(i, email=i % 2 == 0) for i in chunk]})


def board_json(n: int) -> dict:
    key = list(PROJECTS)[n - 1]
    return {"id": n, "self": f"{api_root('jira')}/rest/agile/1.0/board/{n}", "name": f"{key} board", "type": "scrum",
            "location": {"projectId": int(PROJECTS[key][0]), "projectKey": key, "projectName": PROJECTS[key][1],
                         "displayName": f"{PROJECTS[key][1]} ({key})", "projectTypeKey": "software"}}


def sprint_json(r) -> dict:
    found = {"id": int(r["id"]), "self": f"{api_root('jira')}/rest/agile/1.0/sprint/{r['id']}", "state": r["state"],
             "name": r["name"], "originBoardId": r["board"], "goal": r.get("goal") or "", "createdDate": iso_ms(r["created"])}
    if r["state"] != "future":
        found.update(startDate=iso_ms(r["created"] + 86400), endDate=iso_ms(r["created"] + 15 * 86400))
    if r["state"] == "closed":
        found["completeDate"] = iso_ms(r["updated"])
    return found


@PROVIDER.get(AGILE + "/board")
def boards(principal):
    project = request.args.get("projectKeyOrId")
    chunk, page = offset_page([n for n in (1, 2, 3) if request.args.get("type", "scrum") == "scrum"
                               and project in (None, list(PROJECTS)[n - 1], PROJECTS[list(PROJECTS)[n - 1]][0])])
    return json_response({**page, "values": [board_json(n) for n in chunk]})


@PROVIDER.get(AGILE + "/board/<int:board>")
def board(principal, board):
    if board not in (1, 2, 3):
        PROVIDER.fail(404, "Board does not exist or you do not have permission to see it.")
    return json_response(board_json(board))


@PROVIDER.get(AGILE + "/board/<int:board>/sprint")
def board_sprints(principal, board):
    rows = sorted((r for r in PROVIDER.collection("sprints").rows.values() if r["board"] == board), key=lambda r: int(r["id"]))
    chunk, page = offset_page(rows)
    return json_response({"maxResults": page["maxResults"], "startAt": page["startAt"], "isLast": page["isLast"],
                          "values": [sprint_json(r) for r in chunk]})


@PROVIDER.get(AGILE + "/sprint/<sprint>")
def sprint(principal, sprint):
    found = PROVIDER.collection("sprints").get(sprint)
    if found is None:
        PROVIDER.fail(404, "Sprint does not exist or you do not have permission to view it.")
    return json_response(sprint_json(found))


# -- Confluence -------------------------------------------------------------------------------------

def page_id(r) -> str:
    return str(100000 + int(r["id"]))


def page_or_404(value: str) -> dict:
    found = PROVIDER.collection("pages").get(str(int(value) - 100000)) if str(value).isdigit() else None
    if found is None:
        PROVIDER.fail(404, f"No content found with id: ContentId{{id={value}}}")
    return found


def ancestors_of(r) -> list[dict]:
    chain, pages = [], PROVIDER.collection("pages")
    parent = pages.get(r["parent"]) if r.get("parent") else None
    while parent is not None:
        chain.insert(0, parent)
        parent = pages.get(parent["parent"]) if parent.get("parent") else None
    return chain


def storage(r) -> str:
    if r.get("storage") is not None:        # a page created through the API keeps its own body
        return r["storage"]
    topic = r.get("topic") or "search"
    return (f"<h1>{r['title']}</h1><p>How we run <strong>{topic}</strong> day to day.</p>"
            f"<ul><li><p>Check the {topic} dashboard</p></li><li>Page the owner</li></ul>"
            f"<table><tbody><tr><th>Step</th><th>Owner</th></tr><tr><td>Triage</td><td>{PEOPLE[r.get('author', 0)][0]}"
            f"</td></tr></tbody></table><ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"language\">bash"
            f"</ac:parameter><ac:plain-text-body><![CDATA[make {topic} --check]]></ac:plain-text-body></ac:structured-macro>")


def wiki_user(index: int) -> dict:
    name, email = PEOPLE[index]
    return {"type": "known", "accountId": ACCOUNTS[index], "accountType": "atlassian", "email": email if index % 2 == 0 else "",
            "publicName": name, "displayName": name, "timeZone": str(ZONE),
            "profilePicture": {"path": "/wiki/aa-avatar/default.png", "width": 48, "height": 48, "isDefault": True},
            "isExternalCollaborator": False, "_links": {"self": f"{api_root('confluence')}/wiki/rest/api/user?accountId={ACCOUNTS[index]}"}}


def content_json(r, kind: str, expand: set) -> dict:
    """A page or comment as v1 content (what CQL search answers), with what ``expand`` asks for."""
    cid = page_id(r) if kind == "page" else str(200000 + int(r["id"]))
    body = storage(r) if kind == "page" else f"<p>{r['text']}</p>"
    page = r if kind == "page" else page_of(r)
    title = r["title"] if kind == "page" else f"Re: {page['title']}"
    out = {"id": cid, "type": kind, "status": r.get("status", "current"), "title": title,
           "_links": {"webui": f"/spaces/{page['space']}/pages/{page_id(page)}" + (f"?focusedCommentId={cid}" if kind == "comment" else ""),
                      "self": f"{api_root('confluence')}/wiki/rest/api/content/{cid}"},
           "_expandable": {"children": f"/rest/api/content/{cid}/child", "descendants": f"/rest/api/content/{cid}/descendant"}}
    if "space" in expand:
        sid, name, _ = SPACES[page["space"]]
        out["space"] = {"id": int(sid), "key": page["space"], "name": name, "type": "global", "status": "current",
                        "_expandable": {"homepage": f"/rest/api/content/{sid}"}, "_links": {"webui": f"/spaces/{page['space']}"}}
    if "version" in expand:
        out["version"] = {"by": wiki_user(r.get("author", 0)), "when": iso_ms(r["updated"]), "number": version(r),
                          "minorEdit": False, "message": ""}
    if "history" in expand:
        out["history"] = {"latest": True, "createdBy": wiki_user(r.get("author", 0)), "createdDate": iso_ms(r["created"])}
    if "body.storage" in expand:
        out["body"] = {"storage": {"value": body, "representation": "storage"}}
    if "ancestors" in expand and kind == "page":
        out["ancestors"] = [{"id": page_id(a), "type": "page", "status": "current", "title": a["title"]} for a in ancestors_of(r)]
    if kind == "comment":
        out["extensions"] = {"location": r.get("location", "footer")}
    if "container" in expand and kind == "comment":
        out["container"] = {"id": page_id(page), "type": "page", "status": "current", "title": page["title"]}
    if "restrictions.read.restrictions.user" in expand and kind == "page":
        out["restrictions"] = {"read": restriction_json(r)}
    return out


def page_of(comment) -> dict | None:
    """A comment's page, while it is there (a purged page takes its comments with it)."""
    return PROVIDER.collection("pages").get(comment["page"])


def version(r) -> int:
    return int(r.get("version") or 1 + (r["updated"] > r["created"]))


def restriction_json(r) -> dict:
    users = [0] if r.get("restricted") else []
    groups = ["security"] if r.get("restricted") else []
    return {"operation": "read", "restrictions": {
        "user": {"results": [wiki_user(u) for u in users], "start": 0, "limit": 200, "size": len(users)},
        "group": {"results": [{"type": "group", "name": g, "id": GROUP[g]} for g in groups], "start": 0, "limit": 200,
                  "size": len(groups)}}, "_expandable": {"content": f"/rest/api/content/{page_id(r)}"},
            "_links": {"self": f"{api_root('confluence')}/wiki/rest/api/content/{page_id(r)}/restriction/byOperation/read"}}


def cursor_links(rows, *, key, limit: int, base: str, **extra) -> tuple[list, dict]:
    """A page of ``rows`` and its ``_links`` (``next`` relative to ``base``'s context)."""
    chunk, cursor = page_by_cursor(rows, request.args.get("cursor"), limit, key=key)
    args = [(k, v) for k, v in request.args.items() if k != "cursor"]
    links = {"base": f"{SITE}/wiki", "context": "/wiki", **extra}
    if cursor:
        links["next"] = base + "?" + "&".join(f"{k}={requote(v)}" for k, v in args + [("cursor", cursor)])
    return chunk, links


def requote(value: str) -> str:
    return quote(str(value), safe="")


@PROVIDER.get(WIKI + "/rest/api/user/current")
def current_user(principal):
    return json_response(wiki_user(0))


@PROVIDER.get(WIKI + "/rest/api/content/search")
def content_search(principal):
    clauses, order = query(request.args.get("cql", ""), {"type": 1, "space": 1, "lastmodified": 1,
                                                          "_error": "Could not parse cql : {0}"})
    kind, key = (clauses.get("type") or ("=", "page"))[1], (clauses.get("space") or ("=", ""))[1]
    if kind == "page":
        rows = searched("pages", clauses, lambda r: r.get("status", "current") == "current" and (not key or r["space"] == key))
    else:
        rows = searched("comments", clauses, lambda r: (page_of(r) or {}).get("status") == "current"
                        and (not key or page_of(r)["space"] == key))
    expand = set((request.args.get("expand") or "").split(","))
    chunk, links = cursor_links(rows, key=lambda r: (r["updated"], int(r["id"])), base="/rest/api/content/search",
                                limit=int_arg("limit", 25, minimum=1, maximum=50 if "body.storage" in expand else 200))
    return json_response({"results": [content_json(r, kind, expand) for r in chunk], "start": 0,
                          "limit": int_arg("limit", 25), "size": len(chunk), "_links": links})


@PROVIDER.get(WIKI + "/rest/api/content/<cid>/restriction/byOperation/read")
def read_restriction(principal, cid):
    found = page_or_404(cid)
    return json_response(restriction_json(found))


@PROVIDER.get(WIKI + "/rest/api/group")
def wiki_groups(principal):
    rows = [{"type": "group", "name": name, "id": gid} for gid, (name, _) in GROUPS.items()]
    return json_response({"results": rows, "start": 0, "limit": 200, "size": len(rows), "_links": {"base": f"{SITE}/wiki"}})


@PROVIDER.get(WIKI + "/rest/api/group/<gid>/membersByGroupId")
def wiki_group_members(principal, gid):
    if gid not in GROUPS:
        PROVIDER.fail(404, f"Group with id {gid} not found")
    users = [wiki_user(i) for i in GROUPS[gid][1]]
    return json_response({"results": users, "start": 0, "limit": 200, "size": len(users), "_links": {"base": f"{SITE}/wiki"}})


def space_json(key: str) -> dict:
    sid, name, _ = SPACES[key]
    return {"id": sid, "key": key, "name": name, "type": "global", "status": "current", "authorId": ACCOUNTS[0],
            "createdAt": "2024-01-02T09:00:00.000Z", "homepageId": str(100000 + (1 if key == "ENG" else 2)),
            "description": None, "icon": None, "_links": {"webui": f"/spaces/{key}"}}


@PROVIDER.get(WIKI + "/api/v2/spaces")
def spaces(principal):
    keys = [k for k in (request.args.get("keys") or "").split(",") if k]
    rows = [key for key in SPACES if not keys or key in keys]
    chunk, links = cursor_links(rows, key=lambda key: SPACES[key][0], limit=int_arg("limit", 25, minimum=1, maximum=250),
                                base="/wiki/api/v2/spaces")
    return json_response({"results": [space_json(key) for key in chunk], "_links": links})


@PROVIDER.get(WIKI + "/api/v2/spaces/<sid>/permissions")
def space_permissions(principal, sid):
    key = next((k for k, (i, _, _) in SPACES.items() if i == sid), None)
    if key is None:
        PROVIDER.fail(404, "Space not found")
    if SPACES[key][2] is None:
        PROVIDER.fail(403, "You need the 'Admin' permission on this space to view its permissions.")
    grants = [(kind, principal_id, "read", "space") for kind, principal_id in SPACES[key][2]]
    grants += [("user", ACCOUNTS[0], "administer", "space"), ("group", GROUP["engineering"], "create", "page")]
    chunk, links = cursor_links(grants, key=lambda g: grants.index(g), limit=int_arg("limit", 25, minimum=1, maximum=250),
                                base=f"/wiki/api/v2/spaces/{sid}/permissions")
    return json_response({"results": [{"id": str(grants.index(g) + 1), "principal": {"type": g[0], "id": g[1]},
                                       "operation": {"key": g[2], "targetType": g[3]}} for g in chunk], "_links": links})


@PROVIDER.post(WIKI + "/api/v2/pages")
def create_page(principal):
    """Create a page (https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-post):
    ``spaceId``, ``title``, ``body`` (``storage``), optional ``parentId``, ``status`` current; a title
    already in the space is refused. 200 with the page, as ``GET /pages/{id}`` shows it."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        PROVIDER.fail(400, "Request body is missing or not JSON.", "INVALID_REQUEST_PARAMETER")
    key = next((k for k, (sid, _, _) in SPACES.items() if sid == str(payload.get("spaceId"))), None)
    if key is None:
        PROVIDER.fail(400, f"Space with id {payload.get('spaceId')} not found or is not accessible.",
                      "INVALID_REQUEST_PARAMETER")
    title = payload.get("title")
    if payload.get("status", "current") == "current" and (not isinstance(title, str) or not title.strip()):
        PROVIDER.fail(400, "Title is required for a page with status current.", "INVALID_REQUEST_PARAMETER")
    body = payload.get("body") or {}
    if not isinstance(body, dict) or body.get("representation") not in (None, "storage", "atlas_doc_format", "wiki"):
        PROVIDER.fail(400, "Unsupported body representation.", "INVALID_REQUEST_PARAMETER")
    pages = PROVIDER.collection("pages")
    parent = None
    if payload.get("parentId") is not None:
        parent = page_or_404(str(payload["parentId"]))
        if parent["space"] != key:
            PROVIDER.fail(400, "The parent page is in another space.", "INVALID_REQUEST_PARAMETER")
    if any(r["space"] == key and r["title"] == title and r.get("status", "current") == "current" for r in pages.rows.values()):
        PROVIDER.fail(400, "A page with this title already exists: A page already exists with the same TITLE in this space",
                      "INVALID_REQUEST_PARAMETER")
    st = state()
    with st.lock:
        r = pages.add({"space": key, "title": title, "parent": parent["id"] if parent else None, "restricted": False,
                       "author": 0, "topic": None, "status": "current", "storage": str(body.get("value") or "")}, st.now())
    return page_answer(r)


@PROVIDER.get(WIKI + "/api/v2/pages")
def pages_listed(principal):
    """Get pages (https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-get):
    ``space-id`` and ``status`` (lists of them, comma-separated), ``title`` (exact), cursor pages of
    ``limit`` (25 by default, at most 250), by id."""
    spaces = {k for k, (sid, _, _) in SPACES.items() if sid in (request.args.get("space-id") or "").split(",")}
    statuses = (request.args.get("status") or "current,archived").split(",")
    title = request.args.get("title")
    rows = [r for r in PROVIDER.collection("pages").rows.values()
            if (not request.args.get("space-id") or r["space"] in spaces) and r.get("status", "current") in statuses
            and (title is None or r["title"] == title)]
    chunk, links = cursor_links(sorted(rows, key=lambda r: int(r["id"])), key=lambda r: int(r["id"]),
                                limit=int_arg("limit", 25, minimum=1, maximum=250), base="/wiki/api/v2/pages")
    return json_response({"results": [page_json(r) for r in chunk], "_links": links})


@PROVIDER.get(WIKI + "/api/v2/pages/<cid>")
def page(principal, cid):
    return page_answer(page_or_404(cid))


def page_answer(found):
    return json_response(page_json(found))


def page_json(found) -> dict:
    body = {"id": page_id(found), "status": found.get("status", "current"), "title": found["title"],
            "spaceId": SPACES[found["space"]][0], "parentId": str(100000 + int(found["parent"])) if found.get("parent") else None,
            "parentType": "page" if found.get("parent") else None, "authorId": ACCOUNTS[found.get("author", 0)],
            "createdAt": iso_ms(found["created"]), "version": {"createdAt": iso_ms(found["updated"]), "number": version(found),
                                                               "minorEdit": False, "authorId": ACCOUNTS[found.get("author", 0)]},
            "_links": {"webui": f"/spaces/{found['space']}/pages/{page_id(found)}"}}
    if request.args.get("body-format") == "storage":
        body["body"] = {"storage": {"value": storage(found), "representation": "storage"}}
    return body


@PROVIDER.get(WIKI + "/api/v2/pages/<cid>/ancestors")
def page_ancestors(principal, cid):
    found = page_or_404(cid)
    return json_response({"results": [{"id": page_id(a), "type": "page"} for a in ancestors_of(found)], "_links": {}})


@PROVIDER.get(WIKI + "/api/v2/footer-comments/<cid>")
def footer_comment(principal, cid):
    found = PROVIDER.collection("comments").get(str(int(cid) - 200000)) if cid.isdigit() else None
    page = page_of(found) if found and found.get("location") != "inline" else None     # inline ones: /inline-comments
    if page is None:
        PROVIDER.fail(404, f"No comment found with id {cid}")
    body = {"id": cid, "status": page.get("status", "current"), "title": f"Re: {page['title']}", "pageId": page_id(page),
            "version": {"createdAt": iso_ms(found["updated"]), "number": version(found), "minorEdit": False,
                        "authorId": ACCOUNTS[found.get("author", 0)]},
            "_links": {"webui": f"/spaces/{page['space']}/pages/{page_id(page)}?focusedCommentId={cid}"}}
    if request.args.get("body-format") == "storage":
        body["body"] = {"storage": {"value": f"<p>{found['text']}</p>", "representation": "storage"}}
    return json_response(body)
