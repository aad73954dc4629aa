"""Figma under /figma: the app's consent page (``/figma/oauth``), the token endpoint
(``/figma/api/v1/oauth/token``) and REST API v1 under /figma/api (what connectors/figma.py reads).

Team ``1200000000000000001`` ("Acme Design") with two projects, ``max(4, scale // 5)`` files between
them (few: a file's read is Figma's costliest call, ten a minute), three comments a file (every third
a reply), and ``scale`` published components in the team library. Edit, add or delete through
``/_sandbox/collections/figma/<files|comments|components>/<n>``: editing a file moves its
``last_modified``. The signed-in user is ``ada``.

As Figma answers: errors are ``{"status", "err"}``; an unknown, expired or revoked token is a 403
``"Invalid token"``. Figma sends no rate-limit headers until it refuses: a 429 with ``Retry-After``,
``X-Figma-Plan-Tier`` and ``X-Figma-Rate-Limit-Type``. Components page by ``page_size`` and
``after`` (``meta.cursor.after``). Refreshing is ``POST /api/v1/oauth/refresh``. Another team is a 403 ``"Forbidden"``; a file that is not there a
404 ``"Not found"``. Access tokens last 90 days with a refresh token.
"""
from __future__ import annotations

from flask import Response, request

from .. import oauth

from ..kit import Emulation, OAuthDialect, Seeded
from ..seed import iso
from . import guarded, int_arg, json_response, root_url, state

TEAM, TEAM_NAME = "1200000000000000001", "Acme Design"
PROJECTS = ((3001, "Marketing site"), (3002, "Mobile app"))
USERS = (("ada", "Ada Okafor"), ("bruno", "Bruno Silva"), ("chiara", "Chiara Rossi"))
SCREENS = ("Home", "Pricing", "Sign in", "Checkout", "Settings", "Onboarding", "Dashboard", "Profile")
REMARKS = ("Can we try a darker shade here?", "Spacing looks off on mobile.", "Approved from my side.",
           "Use the new icon set.", "This copy needs legal review.", "Love this direction!")
PARTS = ("Button", "Card", "Avatar", "Input", "Modal", "Toast", "Tabs", "Badge")


def file_count(scale: int) -> int:
    return max(4, scale // 5)


class FigmaDialect(OAuthDialect):
    provider, display_name, prefix, token_type = "figma", "Figma", "figd", "Bearer"
    sandbox_login, sandbox_name = f"{USERS[0][0]}@acme-sandbox.example", USERS[0][1]

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        body = {"user_id_string": "9000001", "access_token": issued.access.value, "expires_in": ttl}
        if issued.refresh is not None and issued.refresh_is_new:
            body["refresh_token"] = issued.refresh.value
        return body


class Figma(Emulation):
    name, prefix = "figma", "/figma"
    dialect = FigmaDialect()
    token_ttl = 90 * 86400
    auth_failure = (403, "Invalid token")
    limits = {None: (25, 60), "tier1": (10, 60)}       # a Full seat on Professional
    rate_header_names = ()
    collections = {
        "files": Seeded(lambda rnd, i: {"name": f"{PROJECTS[i % 2][1]} - {SCREENS[i % 8]} v{i // 8 + 1}",
                                        "project": i % 2, "pages": rnd.randrange(1, 4)}, file_count),
        "comments": Seeded(lambda rnd, i: {"file": str(i // 3 % 4 + 1), "message": rnd.choice(REMARKS),
                                           "user": i % 3, "reply_to": str(i) if i % 3 == 2 else None},
                           lambda scale: 3 * file_count(scale)),
        "components": Seeded(lambda rnd, i: {"name": f"{PARTS[i % 8]}/{rnd.choice(('Primary', 'Ghost', 'Small'))}",
                                             "file": str(i % 4 + 1), "user": i % 3}, lambda scale: scale),
    }

    def error_body(self, status, message, code=None):
        return {"status": status, "err": message}

    def not_found(self) -> Response:
        return self.error(404, "Not found")

    def rate_limited(self, info, status, now):
        response = self.error(429, "Rate limit exceeded")
        response.headers.update({"Retry-After": str(info.retry_after or info.seconds_to_reset(now)),
                                 "X-Figma-Plan-Tier": "pro", "X-Figma-Rate-Limit-Type": "low"})
        return response


PROVIDER = Figma()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/oauth", "/api/v1/oauth/token")


def refresh():
    """Figma refreshes at an endpoint of its own (``POST /v1/oauth/refresh``)."""
    if request.form.get("grant_type") != "refresh_token":
        return json_response({"error": "unsupported_grant_type",
                              "error_description": "POST /v1/oauth/refresh takes refresh tokens"}, 400)
    return oauth.token_endpoint(state(), PROVIDER.dialect)


bp.add_url_rule("/api/v1/oauth/refresh", "refresh", guarded(PROVIDER, "oauth")(refresh), methods=["POST"])
API = "/api/v1"


def user_json(i: int) -> dict:
    login, name = USERS[i]
    return {"id": str(9000001 + i), "handle": name, "img_url": f"https://s3-alpha.figma.com/profile/{login}"}


def file_key(r: dict) -> str:
    return f"Fk{int(r['id']):06d}AcmeDesign"


def file_of(key: str) -> dict:
    found = next((r for r in PROVIDER.collection("files").rows.values() if file_key(r) == key), None)
    if found is None:
        PROVIDER.fail(404, "Not found")
    return found


def team(team_id: str) -> None:
    """A team the user is not in is a 403, as the description has it (no 404 for teams)."""
    if team_id != TEAM:
        PROVIDER.fail(403, "Forbidden")


@PROVIDER.get(f"{API}/me")
def me(principal):
    return json_response({**user_json(0), "email": f"{USERS[0][0]}@acme-sandbox.example"})


@PROVIDER.get(f"{API}/teams/<team_id>/projects")
def projects(principal, team_id):
    team(team_id)
    return json_response({"name": TEAM_NAME, "projects": [{"id": str(pid), "name": name} for pid, name in PROJECTS]})


@PROVIDER.get(f"{API}/projects/<project_id>/files")
def project_files(principal, project_id):
    index = next((i for i, (pid, _) in enumerate(PROJECTS) if str(pid) == project_id), None)
    if index is None:
        PROVIDER.fail(404, "Not found")
    rows = sorted((r for r in PROVIDER.collection("files").rows.values() if r["project"] == index),
                  key=lambda r: int(r["id"]))
    return json_response({"name": PROJECTS[index][1], "files": [
        {"key": file_key(r), "name": r["name"], "thumbnail_url": f"{root_url()}/figma/thumbnails/{file_key(r)}.png",
         "last_modified": iso(r["updated"])} for r in rows]})


@PROVIDER.get(f"{API}/files/<key>", bucket="tier1")
def get_file(principal, key):
    r = file_of(key)
    depth = int_arg("depth", 99, minimum=1)
    pages = [{"id": f"{p}:0", "name": f"Page {p + 1}" if p else "Cover", "type": "CANVAS", "scrollBehavior": "SCROLLS",
              "backgroundColor": {"r": 1, "g": 1, "b": 1, "a": 1}, "prototypeStartNodeID": None,
              "flowStartingPoints": [],
              "prototypeDevice": {"type": "NONE", "rotation": "NONE"},
              "children": [{"id": f"{p}:{n + 1}", "name": f"{SCREENS[(n + int(r['id'])) % 8]} / {p + 1}.{n + 1}",
                            "type": "FRAME", "scrollBehavior": "SCROLLS", "children": []}
                           for n in range(2)] if depth > 1 else []}
             for p in range(r["pages"])]
    return json_response({
        "name": r["name"], "role": "owner", "lastModified": iso(r["updated"]), "editorType": "figma",
        "thumbnailUrl": f"{root_url()}/figma/thumbnails/{key}.png",
        "version": str(4000000 + int(r["updated"]) % 100000),
        "document": {"id": "0:0", "name": "Document", "type": "DOCUMENT", "scrollBehavior": "SCROLLS",
                     "children": pages},
        "components": {}, "componentSets": {}, "schemaVersion": 0, "styles": {}})


@PROVIDER.get(f"{API}/files/<key>/meta")
def file_meta(principal, key):
    r = file_of(key)
    return json_response({"file": {
        "name": r["name"], "folder_name": PROJECTS[r["project"]][1], "last_touched_at": iso(r["updated"]),
        "creator": user_json(0), "last_touched_by": user_json(int(r["id"]) % 3),
        "thumbnail_url": f"{root_url()}/figma/thumbnails/{key}.png", "editorType": "figma", "role": "owner",
        "link_access": "inherit", "url": f"https://www.figma.com/design/{key}", "version": str(4000000)}})


@PROVIDER.get(f"{API}/files/<key>/comments")
def comments(principal, key):
    r = file_of(key)
    rows = sorted((c for c in PROVIDER.collection("comments").rows.values() if c["file"] == r["id"]),
                  key=lambda c: int(c["id"]))
    ids = {c["id"] for c in rows}
    return json_response({"comments": [{
        "id": str(800000 + int(c["id"])), "file_key": key, "message": c["message"], "user": user_json(c["user"]),
        "created_at": iso(c["created"]), "resolved_at": None, "reactions": [],
        "client_meta": {"x": 120.0, "y": 48.0},
        **({"parent_id": str(800000 + int(c["reply_to"])), "order_id": None}
           if c["reply_to"] in ids else {"parent_id": "", "order_id": str(int(c["id"]))})} for c in rows]})


def component_json(r: dict) -> dict:
    return {"key": f"c{int(r['id']):08d}", "file_key": file_key({"id": r["file"]}),
            "node_id": f"1:{r['id']}", "thumbnail_url": f"{root_url()}/figma/thumbnails/c{r['id']}.png",
            "name": r["name"], "description": f"The {r['name'].split('/')[0].lower()} of the design system.",
            "created_at": iso(r["created"]), "updated_at": iso(r["updated"]), "user": user_json(r["user"]),
            "containing_frame": {"nodeId": "1:0", "name": "Components", "pageId": "1:0", "pageName": "Library",
                                 "containingComponentSet": None}}


@PROVIDER.get(f"{API}/components/<key>")
def component(principal, key):
    found = PROVIDER.found("components", int(key[1:]) if key[1:].isdigit() else "", "Not found")
    return json_response({"status": 200, "error": False, "meta": component_json(found)})


@PROVIDER.get(f"{API}/teams/<team_id>/components")
def components(principal, team_id):
    team(team_id)
    rows = sorted(PROVIDER.collection("components").rows.values(), key=lambda r: int(r["id"]))
    size = int_arg("page_size", 30, minimum=1, maximum=1000)
    after = int_arg("after", 0, minimum=0)
    chunk = [r for r in rows if int(r["id"]) > after][:size]
    more = chunk and int(chunk[-1]["id"]) < int(rows[-1]["id"])
    listed = [component_json(r) for r in chunk]     # a component keeps naming its file, deleted since or not
    return json_response({"status": 200, "error": False, "meta": {
        "components": listed,
        "cursor": {"before": after, "after": int(chunk[-1]["id"])} if more else {"before": after}}})
