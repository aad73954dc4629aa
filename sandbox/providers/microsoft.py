"""Microsoft Graph v1.0 and the Microsoft identity platform, under /microsoft: what the Microsoft 365
(Teams, OneDrive, SharePoint) and Outlook connectors read, as Ada, one signed-in user of one tenant.

Identity platform, ``common`` tenant: ``/common/oauth2/v2.0/authorize`` (the consent page) and
``/common/oauth2/v2.0/token`` (authorization code with PKCE, refresh; a refresh token only when
the scope has ``offline_access``; every refresh hands out a new one; access tokens live an hour;
errors are AADSTS bodies). Graph under ``/v1.0``: collections page with absolute
``@odata.nextLink`` URLs (``$top``, or ``Prefer: odata.maxpagesize``); delta rounds end with an
``@odata.deltaLink`` whose token says what changed since (Teams' only reach eight months back;
a driveItem delta answers 410 ``resyncChangesApplyDifferences`` to a token older than 30 days);
errors are ``{"error": {"code", "message", "innerError"}}``; 401 ``InvalidAuthenticationToken``;
429 and 503 carry Retry-After and no rate-limit headers.

Seeded from SEED and SCALE: SCALE channel messages with replies over three channels of two teams
(one private), SCALE files over Ada's OneDrive and the Product site's library (text, Markdown, CSV,
Word, Excel, PowerPoint, PDF) with their permissions, and SCALE mails over three folders (one a
child of Inbox; Drafts and Sent Items hold what the API writes there). Tests change them through ``/_sandbox/collections/microsoft/<channel_messages|
drive_items|mail>``: a message's ``deleted: true`` is Teams' soft delete; a DELETE of a file or a
mail shows in the next delta round.
"""
from __future__ import annotations

import base64
import functools
import io
import json
import re
import uuid
import zipfile
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Response, redirect, request

from .. import oauth
from ..kit import Emulation, OAuthDialect, Seeded
from ..seed import COMMENTS, DAY, MAIL_SUBJECTS, SENTENCES, TWEET_THINGS, iso
from . import json_response, root_url, state

CLIENT = {"client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret", "name": "Tributary"}
DOMAIN, GRAPH = "contoso.example", "https://graph.microsoft.com/v1.0"
DELTA_REACH, TOKEN_LIFE = 240 * DAY, 30 * DAY      # Teams delta: eight months; driveItem tokens: ~30 days


@functools.lru_cache(maxsize=65536)
def guid(*parts) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "microsoft-sandbox:" + ":".join(parts)))


PEOPLE = [{"id": guid("user", nick), "displayName": name, "mail": f"{nick}@{DOMAIN}"}
          for name, nick in (("Ada Lovelace", "ada"), ("Bruno Costa", "bruno"), ("Chiara Rossi", "chiara"),
                             ("Dmitri Volkov", "dmitri"), ("Elena Ortiz", "elena"))]
TENANT = guid("tenant")
TEAMS = {"product": ("Product", (0, 1, 2)), "sales": ("Sales", (0, 3, 4))}
# channel key -> (name, membership type, members of a private channel)
CHANNELS = {"product/general": ("General", "standard", None), "product/launch": ("Launch plans", "private", (0, 1)),
            "sales/general": ("General", "standard", None)}
TEAM_ID = {key: guid("team", key) for key in TEAMS}
CHANNEL_ID = {key: f"19:{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}@thread.tacv2" for key in CHANNELS}
DRIVES = {"onedrive": ("OneDrive", "business", None), "product-docs": ("Documents", "documentLibrary", "product")}
DRIVE_ID = {key: "b!" + base64.urlsafe_b64encode(guid("drive", key).encode()).decode()[:40] for key in DRIVES}
SITE_ID = f"contoso.sharepoint.com,{guid('site', 'product')},{guid('web', 'product')}"
# Mail folders: the three seeded with mail, and Drafts and Sent Items, where the API's drafts
# (POST /me/messages) and sent mail (POST /me/sendMail, saveToSentItems) go, as in every mailbox.
FOLDERS = {"inbox": ("Inbox", None), "archive": ("Archive", None), "projects": ("Projects", "inbox"),
           "drafts": ("Drafts", None), "sentitems": ("Sent Items", None)}
SEEDED_FOLDERS = ("archive", "inbox", "projects")
# Folders a request may name by their well-known name instead of their id (Graph's mailFolder names).
WELL_KNOWN = ("inbox", "archive", "drafts", "sentitems")
FOLDER_ID = {key: "AAMkAD" + base64.urlsafe_b64encode(guid("folder", key).encode()).decode()[:60] for key in FOLDERS}
KINDS = {"txt": "text/plain", "md": "text/markdown", "csv": "text/csv", "pdf": "application/pdf",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


def members(channel: str) -> tuple[int, ...]:
    return CHANNELS[channel][2] or TEAMS[channel.split("/")[0]][1]


def message_fields(rnd, i):
    channel = rnd.choice(sorted(CHANNELS))
    return {"channel": channel, "author": rnd.choice(members(channel)),
            "subject": rnd.choice([None, None, "Weekly sync"]),
            "html": f"<p>{rnd.choice(SENTENCES)}</p>", "deleted": False,
            "replies": [{"author": rnd.choice(members(channel)), "html": f"<p>{rnd.choice(COMMENTS)}</p>",
                         "after": 60 * (k + 1)} for k in range(rnd.randrange(3))]}


def file_fields(rnd, i):
    ext, thing = rnd.choice(sorted(KINDS)), rnd.choice(TWEET_THINGS)
    return {"drive": rnd.choice(sorted(DRIVES)), "name": f"{thing.replace(' ', '-')}-{i + 1}.{ext}",
            "folder": rnd.choice(["", "Plans", "Notes"]), "text": f"Notes on the {thing}. {rnd.choice(SENTENCES)}",
            "sharing": rnd.choice(["owner", "person", "team", "organization"])}


def mail_fields(rnd, i):
    subject = rnd.choice(MAIL_SUBJECTS).format(n=1000 + i, q=i % 4 + 1, thing=rnd.choice(TWEET_THINGS))
    return {"folder": rnd.choice(SEEDED_FOLDERS), "from": rnd.randrange(1, len(PEOPLE)), "subject": subject,
            "html": f"<html><body><p>Hi Ada,</p><p>{rnd.choice(SENTENCES)}</p><p>&mdash; regards</p></body></html>"}


class MicrosoftDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "microsoft", "Microsoft", PEOPLE[0]["mail"], "EwB"
    token_type = "Bearer"
    # AADSTS errors of the token endpoint, by the OAuth server's reason.
    AADSTS = {"invalid_client": (401, "invalid_client", 7000215, "Invalid client secret provided."),
              "bad_code": (400, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."),
              "code_reused": (400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."),
              "code_expired": (400, "invalid_grant", 70008, "The provided authorization code or refresh token has "
                                                            "expired due to inactivity."),
              "pkce_mismatch": (400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge "
                                                              "supplied in the authorization request."),
              "bad_refresh_token": (400, "invalid_grant", 50173, "The provided grant has expired due to it being "
                                                                 "revoked, a fresh auth token is needed."),
              "unsupported_grant_type": (400, "unsupported_grant_type", 70003, "The app requested an unsupported "
                                                                               "grant type.")}

    def token_body(self, issued, *, ttl, refresh_ttl):
        body = {"token_type": "Bearer", "scope": " ".join(issued.grant.scope), "expires_in": ttl,
                "ext_expires_in": ttl, "access_token": issued.access.value}
        if issued.refresh is not None and "offline_access" in issued.grant.scope:
            body["refresh_token"] = issued.refresh.value
        return body

    def token_error(self, error):
        status, code, number, text = self.AADSTS.get(error.reason, (400, "invalid_request", 900144, error.detail or
                                                                    "The request is not valid."))
        now = datetime.now(timezone.utc)
        return json_response({"error": code, "error_description": f"AADSTS{number}: {text}", "error_codes": [number],
                              "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"), "trace_id": str(uuid.uuid4()),
                              "correlation_id": str(uuid.uuid4())}, status), code


CODES = {400: "BadRequest", 403: "accessDenied", 404: "itemNotFound", 409: "conflict", 410: "resyncRequired",
         422: "invalidRequest", 429: "TooManyRequests", 500: "generalException", 502: "BadGateway",
         503: "serviceNotAvailable"}


class Microsoft(Emulation):
    name, prefix = "microsoft", "/microsoft"
    dialect, client, token_ttl = MicrosoftDialect(), CLIENT, 3599
    rate_header_names = ()          # Graph sends Retry-After on 429/503, no rate-limit headers
    # Outlook: 10,000 requests per 10 minutes per app and mailbox; Teams: 4 requests a second per team.
    limits = {None: (10000, 600), "teams": (240, 60)}
    collections = {"channel_messages": Seeded(message_fields), "drive_items": Seeded(file_fields),
                   "mail": Seeded(mail_fields)}

    def error_body(self, status, message, code=None):
        inner = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4()),
                 "client-request-id": str(uuid.uuid4())}
        return {"error": {"code": code or CODES.get(status, "generalException"), "message": message,
                          "innerError": inner}}

    def unauthorized(self):
        empty = not oauth.bearer_token()
        response = self.error(401, "Access token is empty." if empty else "Access token has expired or is not yet "
                              "valid.", "InvalidAuthenticationToken")
        response.headers["WWW-Authenticate"] = 'Bearer realm="", authorization_uri="https://login.microsoftonline.' \
                                               'com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-' \
                                               '000000000000"'
        return response

    def not_found(self):
        return self.error(404, "The resource could not be found.")

    def server_error(self, status):
        return self.error(status, {500: "An unspecified error has occurred.", 502: "Bad gateway.",
                                   503: "The service is temporarily unavailable."}.get(status, "Error"))

    def client_error(self, status):
        return self.error(status, {403: "Access denied. Check credentials and try again.", 404: "The resource could "
                                   "not be found.", 410: "Resync required."}.get(status, "Invalid request."))

    def rate_limited(self, info, status, now):
        response = self.error(status, "Please retry again later." if status == 429 else
                              "The service is temporarily unavailable.")
        response.headers["Retry-After"] = str(info.retry_after or info.seconds_to_reset(now))
        return response


PROVIDER = Microsoft()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/common/oauth2/v2.0/authorize", "/common/oauth2/v2.0/token",
                      {"provider": "microsoft", "title": "Microsoft"})


# -- paging and delta rounds ------------------------------------------------------------------------

def encode(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        PROVIDER.fail(400, "The skip token or delta token is not valid.", "BadRequest")
    return value


def page_size(default: int, maximum: int) -> int:
    """``$top`` (out of range: 400), else ``Prefer: odata.maxpagesize`` (a hint: at most ``maximum``)."""
    prefer = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("Prefer", ""))
    raw = request.args.get("$top")
    if raw is None:
        return min(int(prefer.group(1)), maximum) if prefer and int(prefer.group(1)) > 0 else default
    if not raw.isdigit() or not 0 < int(raw) <= maximum:
        PROVIDER.fail(400, f"Invalid page size requested: $top must be between 1 and {maximum}.", "BadRequest")
    return int(raw)


def context(entity: str) -> str:
    return f"{GRAPH}/$metadata#{entity}"


def link(param: str, token: dict) -> str:
    return f"{root_url()}{request.path}?{urlencode({param: encode(token)})}"


def listing(entity: str, rows: list) -> Response:
    return json_response({"@odata.context": context(entity), "value": rows})


def paged(scope: str, entity: str, rows_between, *, default: int, maximum: int, skip: str = "$skiptoken",
          delta: str | None = None, keep: tuple[str, ...] = ()):
    """One page of a collection, or of a delta round (``delta``: the parameter of the round's
    token; the last page carries an @odata.deltaLink). ``rows_between(since, until, params)``: the
    round's ``[(sort key, a maker of its JSON)]`` sorted by key (only a page is rendered; ``since``
    None: a full round); ``keep``: request parameters the tokens carry for the rest of the round.
    Times are whole seconds: a round covers changes up to its first request's second included,
    and the next one starts again at that second (a change made later in it is not lost; one
    seen twice is the same record again)."""
    now = int(state().now()) + 1
    token = request.args.get(skip) or (request.args.get(delta) if delta else None)
    at = decode(token) if token else {"s": scope, "k": "next", "since": None, "until": now, "n": None,
                                      "p": {k: request.args[k] for k in keep if k in request.args}}
    if at.get("s") != scope:
        PROVIDER.fail(400, "The skip token or delta token was issued for another collection.", "BadRequest")
    if at.get("k") == "delta":
        if now - at["until"] > TOKEN_LIFE:
            PROVIDER.fail(410, "Resync required: the delta token has expired.", "resyncChangesApplyDifferences")
        at = {**at, "k": "next", "since": at["until"] - 1, "until": now, "after": None}
    size = at["n"] = at["n"] or page_size(default, maximum)
    rows = rows_between(at["since"], at["until"], at["p"])
    if at.get("after") is not None:
        rows = [row for row in rows if list(row[0]) > at["after"]]
    body = {"@odata.context": context(entity), "value": [render() for _, render in rows[:size]]}
    if len(rows) > size:
        body["@odata.nextLink"] = link(skip, {**at, "after": list(rows[size - 1][0])})
    elif delta:
        body["@odata.deltaLink"] = link(delta, {**at, "k": "delta", "after": None})
    return json_response(body)


def in_round(record, since, until) -> bool:
    return (since is None or record["updated"] >= since) and record["updated"] < until


def gone_in_round(name: str, since, until, where) -> list[dict]:
    """Records deleted in a changes round (a full round shows none), where ``where(record)``."""
    found = PROVIDER.collection(name)
    return [dict(found.removed[i], gone=at) for i, at in found.deleted.items()
            if since is not None and since <= at < until and where(found.removed[i])]


def pick(fields: dict, wanted: str | None) -> dict:
    """``$select``: the fields asked for (and ``id`` and annotations, always there)."""
    if not wanted:
        return fields
    names = {"id", *wanted.split(",")}
    return {k: v for k, v in fields.items() if k in names or k.startswith("@")}


# -- who -------------------------------------------------------------------------------------------

def user_json(i: int) -> dict:
    p = PEOPLE[i]
    return {"businessPhones": [], "displayName": p["displayName"], "givenName": p["displayName"].split()[0],
            "jobTitle": None, "mail": p["mail"], "mobilePhone": None, "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": p["displayName"].split()[1], "userPrincipalName": p["mail"], "id": p["id"]}


def identity(i: int) -> dict:
    return {"id": PEOPLE[i]["id"], "displayName": PEOPLE[i]["displayName"]}


def member_json(i: int, owner: bool) -> dict:
    return {"@odata.type": "#microsoft.graph.aadUserConversationMember", "id": encode([TENANT, PEOPLE[i]["id"]]),
            "roles": ["owner"] if owner else [], "displayName": PEOPLE[i]["displayName"],
            "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z", "userId": PEOPLE[i]["id"],
            "email": PEOPLE[i]["mail"], "tenantId": TENANT}


@PROVIDER.get("/v1.0/me")
def me(principal):
    return json_response({"@odata.context": context("users/$entity"), **user_json(0)})


@PROVIDER.get("/v1.0/groups/<group_id>/transitiveMembers")
def group_members(principal, group_id):
    team = next((key for key, value in TEAM_ID.items() if value == group_id), None)
    if team is None:
        PROVIDER.fail(404, f"Resource '{group_id}' does not exist or one of its queried reference-property objects "
                           "are not present.", "Request_ResourceNotFound")
    return listing("directoryObjects", [{"@odata.type": "#microsoft.graph.user", **user_json(i)}
                                        for i in TEAMS[team][1]])


# -- Teams ------------------------------------------------------------------------------------------

def team_of(team_id: str) -> str:
    found = next((key for key, value in TEAM_ID.items() if value == team_id), None)
    if found is None:
        PROVIDER.fail(404, f"No team found with Group Id {team_id}", "NotFound")
    return found


def channel_of(team_id: str, channel_id: str) -> str:
    team = team_of(team_id)
    found = next((key for key, value in CHANNEL_ID.items() if value == channel_id and key.startswith(team + "/")), None)
    if found is None:
        PROVIDER.fail(404, f"Channel {channel_id} not found in team {team_id}.", "NotFound")
    return found


def channel_json(key: str) -> dict:
    name, kind, _ = CHANNELS[key]
    return {"id": CHANNEL_ID[key], "createdDateTime": "2024-01-02T09:00:00Z", "displayName": name,
            "description": f"{name} of {TEAMS[key.split('/')[0]][0]}", "isFavoriteByDefault": None, "email": "",
            "tenantId": TENANT, "membershipType": kind,
            "webUrl": f"https://teams.microsoft.com/l/channel/{CHANNEL_ID[key]}/{name}"
                      f"?groupId={TEAM_ID[key.split('/')[0]]}"}


def chat_json(r: dict, key: str, expand: bool = False, reply_to: dict | None = None) -> dict:
    """A channel message (a root with its ``replies`` when asked), or one reply of ``reply_to``."""
    root = reply_to or r
    created = root["created"] + (r["after"] if reply_to else 0)
    updated = created if reply_to else r["updated"]
    mid = f"{int(created) * 1000 + int(root['id']) % 1000}" if reply_to else r["id"]
    gone = not reply_to and r.get("deleted")
    body = {"id": mid, "replyToId": root["id"] if reply_to else None, "etag": str(updated * 1000),
            "messageType": "message", "createdDateTime": iso(created), "lastModifiedDateTime": iso(updated),
            "lastEditedDateTime": None, "deletedDateTime": iso(updated) if gone else None,
            "subject": None if reply_to else r.get("subject"), "summary": None, "chatId": None, "importance": "normal",
            "locale": "en-us", "policyViolation": None, "eventDetail": None,
            "webUrl": f"https://teams.microsoft.com/l/message/{CHANNEL_ID[key]}/{mid}?groupId="
                      f"{TEAM_ID[key.split('/')[0]]}&tenantId={TENANT}&parentMessageId={root['id']}",
            "from": None if gone else {"application": None, "device": None, "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity", **identity(r["author"]),
                "userIdentityType": "aadUser", "tenantId": TENANT}},
            "body": {"contentType": "html", "content": "" if gone else r["html"]},
            "channelIdentity": {"teamId": TEAM_ID[key.split("/")[0]], "channelId": CHANNEL_ID[key]},
            "attachments": [], "mentions": [], "reactions": [], "messageHistory": []}
    if expand:
        body["replies@odata.context"] = context("teams('...')/channels('...')/messages('...')/replies")
        body["replies"] = [chat_json(reply, key, reply_to=r) for reply in r.get("replies", [])][:1000]
    return body


def expanding(params: dict | None = None) -> bool:
    return "replies" in ((params or {}).get("$expand") or request.args.get("$expand", "")).split(",")


@PROVIDER.get("/v1.0/me/joinedTeams")
def joined_teams(principal):
    return listing("teams", [{"id": TEAM_ID[key], "displayName": name, "description": f"The {name} team",
                              "isArchived": False, "tenantId": TENANT} for key, (name, _) in TEAMS.items()])


@PROVIDER.get("/v1.0/teams/<team_id>/channels")
def channels(principal, team_id):
    team = team_of(team_id)
    return listing("teams('...')/channels", [channel_json(k) for k in CHANNELS if k.startswith(team + "/")])


@PROVIDER.get("/v1.0/teams/<team_id>/channels/<channel_id>")
def channel(principal, team_id, channel_id):
    return json_response({"@odata.context": context("teams('...')/channels/$entity"),
                          **channel_json(channel_of(team_id, channel_id))})


@PROVIDER.get("/v1.0/teams/<team_id>/members")
def team_members(principal, team_id):
    people = TEAMS[team_of(team_id)][1]
    return listing("teams('...')/members", [member_json(i, i == people[0]) for i in people])


@PROVIDER.get("/v1.0/teams/<team_id>/channels/<channel_id>/members")
def channel_members(principal, team_id, channel_id):
    people = members(channel_of(team_id, channel_id))
    return listing("teams('...')/channels('...')/members", [member_json(i, i == people[0]) for i in people])


def channel_rows(key: str):
    return [r for r in PROVIDER.collection("channel_messages").rows.values() if r["channel"] == key]


@PROVIDER.get("/v1.0/teams/<team_id>/channels/<channel_id>/messages", bucket="teams")
def channel_messages(principal, team_id, channel_id):
    """Root messages, newest first, soft-deleted ones included ($top 1..50, $expand=replies)."""
    key = channel_of(team_id, channel_id)
    expand = expanding()
    return paged(f"messages:{key}", "teams('...')/channels('...')/messages", lambda since, until, p: sorted(
        (((-r["created"], -int(r["id"])), lambda r=r: chat_json(r, key, expand)) for r in channel_rows(key)),
        key=lambda row: row[0]), default=20, maximum=50)


@PROVIDER.get("/v1.0/teams/<team_id>/channels/<channel_id>/messages/delta", bucket="teams")
def channel_messages_delta(principal, team_id, channel_id):
    """Root messages changed in the round, of the last eight months only; ``$filter=lastModifiedDateTime
    gt <time>`` (the one filter it takes) starts the first round there."""
    key = channel_of(team_id, channel_id)

    def rows(since, until, params):
        floor, where = max(until - DELTA_REACH, since or 0), params.get("$filter")
        after = filtered_since(where) if where else None
        picked = [r for r in channel_rows(key)
                  if floor <= r["updated"] < until and (after is None or r["updated"] > after)]
        expand = expanding(params)
        return sorted((((r["updated"], int(r["id"])), lambda r=r: chat_json(r, key, expand)) for r in picked),
                      key=lambda row: row[0])
    return paged(f"delta:{key}", "Collection(chatMessage)", rows, default=20, maximum=50, delta="$deltatoken",
                 keep=("$filter", "$expand"))


def filtered_since(where: str) -> float:
    """The time of ``lastModifiedDateTime gt <time>``, the only filter the channel delta takes."""
    found = re.fullmatch(r"lastModifiedDateTime gt (\S+)", where)
    try:
        return datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        PROVIDER.fail(400, "Only lastModifiedDateTime with the gt operator and a time is supported in $filter.",
                      "BadRequest")


@PROVIDER.get("/v1.0/teams/<team_id>/channels/<channel_id>/messages/<message_id>", bucket="teams")
def channel_message(principal, team_id, channel_id, message_id):
    key = channel_of(team_id, channel_id)
    found = PROVIDER.collection("channel_messages").get(message_id)
    if found is None or found["channel"] != key:
        PROVIDER.fail(404, f"Message {message_id} not found.", "NotFound")
    return json_response({"@odata.context": context("teams('...')/channels('...')/messages/$entity"),
                          **chat_json(found, key, expanding())})


# -- OneDrive and SharePoint ------------------------------------------------------------------------

def drive_of(drive_id: str) -> str:
    found = next((key for key, value in DRIVE_ID.items() if value == drive_id), None)
    if found is None:
        PROVIDER.fail(404, "The requested drive was not found.", "itemNotFound")
    return found


def drive_json(key: str) -> dict:
    name, kind, site = DRIVES[key]
    owner = {"group": {"id": TEAM_ID[site], "displayName": TEAMS[site][0]}} if site else {"user": identity(0)}
    web = f"https://contoso.sharepoint.com/sites/{site}/Shared%20Documents" if site else \
        "https://contoso-my.sharepoint.com/personal/ada_contoso_example/Documents"
    return {"id": DRIVE_ID[key], "name": name, "driveType": kind, "createdDateTime": "2024-01-02T09:00:00Z",
            "description": "", "webUrl": web, "owner": owner}


def path_of(r: dict) -> str:
    return f"/drives/{DRIVE_ID[r['drive']]}/root:" + (f"/{r['folder']}" if r["folder"] else "")


def item_json(r: dict) -> dict:
    by = {"user": identity(0 if r["drive"] == "onedrive" else 1)}
    if r.get("gone") is not None:
        return {"id": r["id"], "name": r["name"], "deleted": {"state": "deleted"},
                "parentReference": {"driveId": DRIVE_ID[r["drive"]], "driveType": DRIVES[r["drive"]][1]}}
    return {"id": r["id"], "name": r["name"], "eTag": f'"{{{guid("item", r["id"])}}},{r["updated"]}"',
            "cTag": f'"c:{{{guid("item", r["id"])}}},{r["updated"]}"', "createdDateTime": iso(r["created"]),
            "lastModifiedDateTime": iso(r["updated"]), "size": len(content_of(r)),
            "webUrl": drive_json(r["drive"])["webUrl"] + (f"/{r['folder']}" if r["folder"] else "") + f"/{r['name']}",
            "createdBy": by, "lastModifiedBy": by, "file": {"mimeType": KINDS[r["name"].rpartition(".")[2]],
                                                           "hashes": {"quickXorHash": encode([r["id"], r["updated"]])}},
            "fileSystemInfo": {"createdDateTime": iso(r["created"]), "lastModifiedDateTime": iso(r["updated"])},
            "parentReference": {"driveId": DRIVE_ID[r["drive"]], "driveType": DRIVES[r["drive"]][1],
                                "id": guid("folder", r["drive"], r["folder"]), "path": path_of(r)}}


def folder_json(key: str, folder: str) -> dict:
    """The drive's root and folders, as a full round lists them before the files."""
    return {"id": guid("folder", key, folder), "name": folder or "root", "createdDateTime": "2024-01-02T09:00:00Z",
            "lastModifiedDateTime": "2024-01-02T09:00:00Z", "folder": {"childCount": 0},
            **({"root": {}} if not folder else {"parentReference": {"driveId": DRIVE_ID[key], "path": path_of(
                {"drive": key, "folder": ""})}})}


def content_of(r: dict) -> bytes:
    return file_bytes(r["name"], r["text"])


@functools.lru_cache(maxsize=4096)
def file_bytes(name: str, text: str) -> bytes:
    """A file's bytes: text as UTF-8, Office files as minimal Office Open XML packages."""
    ext = name.rpartition(".")[2]
    esc = text.replace("&", "&amp;").replace("<", "&lt;")
    parts = {"docx": {"word/document.xml": f'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
                                           f'2006/main"><w:body><w:p><w:r><w:t>{esc}</w:t></w:r></w:p></w:body>'
                                           '</w:document>'},
             "pptx": {"ppt/slides/slide1.xml": '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/'
                                               'main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
                                               f'<a:p><a:r><a:t>{esc}</a:t></a:r></a:p></p:sld>'},
             "xlsx": {"xl/worksheets/sheet1.xml": '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                                                  '2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
                                                  f'{esc}</t></is></c></row></sheetData></worksheet>'}}.get(ext)
    if parts is None:
        return (f"%PDF-1.4\n% {text}\n%%EOF\n" if ext == "pdf" else text + "\n").encode()
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as package:
        package.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                                                'content-types"/>')
        for name, xml in parts.items():
            package.writestr(name, xml)
    return data.getvalue()


def permissions_json(r: dict) -> list[dict]:
    """Who may open the file: its drive's owner (Ada; the site's owners group and its team's
    members for a library), and who it was shared with: a person, a team, or a link for the
    whole organization."""
    site = DRIVES[r["drive"]][2]
    perms = [{"id": "owner", "roles": ["owner"], "grantedToV2": {"siteGroup": {
        "id": "3", "displayName": "Product Owners", "loginName": "Product Owners"}} if site else {
        "user": {**identity(0), "email": PEOPLE[0]["mail"]}}}]
    team = site or "sales"
    if site or r["sharing"] == "team":
        perms.append({"id": f"group-{team}", "roles": ["write" if site else "read"], "grantedToV2": {"group": {
            "id": TEAM_ID[team], "displayName": f"{TEAMS[team][0]} Members"}}})
    if r["sharing"] == "person":
        perms.append({"id": "person", "roles": ["read"],
                      "grantedToV2": {"user": {**identity(4), "email": PEOPLE[4]["mail"]}}})
    if r["sharing"] == "organization":
        perms.append({"id": "link", "roles": ["read"], "shareId": encode(["share", r["id"]]), "hasPassword": False,
                      "link": {"scope": "organization", "type": "view", "preventsDownload": False,
                               "webUrl": f"https://contoso.sharepoint.com/:t:/g/{encode([r['id']])}"},
                      "grantedToIdentitiesV2": [], "grantedToIdentities": []})
    return perms


def file_of(drive_id: str, item_id: str) -> dict:
    key, found = drive_of(drive_id), PROVIDER.collection("drive_items").get(item_id)
    if found is None or found["drive"] != key:
        PROVIDER.fail(404, "The resource could not be found.", "itemNotFound")
    return found


@PROVIDER.get("/v1.0/me/drive")
def my_drive(principal):
    return json_response({"@odata.context": context("drives/$entity"), **drive_json("onedrive")})


@PROVIDER.get("/v1.0/sites")
def sites(principal):
    return listing("sites", [{"id": SITE_ID, "name": "product", "displayName": "Product",
                              "webUrl": "https://contoso.sharepoint.com/sites/product",
                              "createdDateTime": "2024-01-02T09:00:00Z", "description": "The Product team's site"}])


@PROVIDER.get("/v1.0/sites/<site_id>/drives")
def site_drives(principal, site_id):
    if site_id != SITE_ID:
        PROVIDER.fail(404, "Requested site could not be found", "itemNotFound")
    return listing("drives", [drive_json("product-docs")])


@PROVIDER.get("/v1.0/drives/<drive_id>")
def drive(principal, drive_id):
    return json_response({"@odata.context": context("drives/$entity"), **drive_json(drive_of(drive_id))})


@PROVIDER.get("/v1.0/drives/<drive_id>/root/delta")
def drive_delta(principal, drive_id):
    """The drive's items changed in the round (a full round: the root, folders, every file); deleted
    ones with the ``deleted`` facet. ``token`` carries both the next page and the next round."""
    key = drive_of(drive_id)

    def rows(since, until, params):
        files = [r for r in PROVIDER.collection("drive_items").rows.values()
                 if r["drive"] == key and in_round(r, since, until)]
        gone = gone_in_round("drive_items", since, until, lambda r: r["drive"] == key)
        folders = [] if since is not None else [((0, n), lambda f=f: folder_json(key, f))
                                                for n, f in enumerate(("", "Plans", "Notes"))]
        return folders + sorted((((r.get("gone", r["updated"]), int(r["id"])), lambda r=r: item_json(r))
                                 for r in files + gone), key=lambda row: row[0])
    return paged(f"drive:{key}", "Collection(driveItem)", rows, default=200, maximum=999, skip="token", delta="token")


@PROVIDER.get("/v1.0/drives/<drive_id>/items/<item_id>")
def drive_item(principal, drive_id, item_id):
    return json_response({"@odata.context": context("drives('...')/items/$entity"), **item_json(file_of(drive_id,
                                                                                                       item_id))})


@PROVIDER.get("/v1.0/drives/<drive_id>/items/<item_id>/permissions")
def item_permissions(principal, drive_id, item_id):
    return listing("drives('...')/items('...')/permissions", permissions_json(file_of(drive_id, item_id)))


@PROVIDER.get("/v1.0/drives/<drive_id>/items/<item_id>/content")
def item_content(principal, drive_id, item_id):
    """A 302 to a short-lived, pre-authenticated download URL (no Authorization needed there)."""
    found = file_of(drive_id, item_id)
    return redirect(f"{root_url()}{PROVIDER.prefix}/_download/{item_id}?tempauth={encode([item_id, found['updated']])}")


@bp.get("/_download/<item_id>")
def download(item_id):
    found = PROVIDER.collection("drive_items").get(item_id)
    if found is None:
        return Response("Not found", 404)
    return Response(content_of(found), mimetype=KINDS[found["name"].rpartition(".")[2]])


# -- Outlook mail -----------------------------------------------------------------------------------

def folder_of(folder_id: str) -> str:
    """The folder an id, or a well-known name (``drafts``, ``sentitems``...), names."""
    if folder_id.lower() in WELL_KNOWN:
        return folder_id.lower()
    found = next((key for key, value in FOLDER_ID.items() if value == folder_id), None)
    if found is None:
        PROVIDER.fail(404, "The specified folder could not be found in the store.", "ErrorItemNotFound")
    return found


def mail_folder_json(key: str) -> dict:
    rows = [r for r in PROVIDER.collection("mail").rows.values() if r["folder"] == key]
    parent = FOLDERS[key][1]
    return {"id": FOLDER_ID[key], "displayName": FOLDERS[key][0], "isHidden": False,
            "parentFolderId": FOLDER_ID[parent] if parent else guid("msgfolderroot"),
            "childFolderCount": sum(1 for p in FOLDERS.values() if p[1] == key), "unreadItemCount": 0,
            "totalItemCount": len(rows)}


def mail_json(r: dict, select: str | None = None) -> dict:
    if r.get("gone") is not None:
        return {"@odata.type": "#microsoft.graph.message", "id": r["id"], "@removed": {"reason": "deleted"}}
    sender = {"emailAddress": {"name": PEOPLE[r["from"]]["displayName"], "address": PEOPLE[r["from"]]["mail"]}}
    # Seeded mail is HTML sent to Ada; a draft or sent mail written through the API keeps its own
    # body and recipients (``body``, ``to``, ``cc``).
    body = r.get("body") or {"contentType": "html", "content": r["html"]}
    to = r["to"] if "to" in r else [{"emailAddress": {"name": PEOPLE[0]["displayName"], "address": PEOPLE[0]["mail"]}}]
    return pick({"@odata.type": "#microsoft.graph.message", "@odata.etag": f'W/"{encode([r["id"], r["updated"]])}"',
                 "id": r["id"], "createdDateTime": iso(r["created"]), "lastModifiedDateTime": iso(r["updated"]),
                 "changeKey": encode([r["updated"]]), "categories": [], "receivedDateTime": iso(r["created"]),
                 "sentDateTime": iso(r["created"]), "hasAttachments": False,
                 "internetMessageId": f"<{guid('mail', r['id'])}@{DOMAIN}>", "subject": r["subject"],
                 "bodyPreview": text_of(body)[:255], "importance": "normal", "parentFolderId": FOLDER_ID[r["folder"]],
                 "conversationId": "AAQk" + encode([r["subject"].removeprefix("Re: ")])[:40], "isRead": True,
                 "isDraft": r["folder"] == "drafts",
                 "webLink": f"https://outlook.office365.com/owa/?ItemID={r['id']}&viewmodel=ReadMessageItem",
                 "body": body, "sender": sender, "from": sender, "toRecipients": to,
                 "ccRecipients": r.get("cc") or [], "bccRecipients": [], "replyTo": []}, select)


def text_of(body: dict) -> str:
    """A body as its preview shows it (Graph's ``bodyPreview`` is text, without markup)."""
    content = body.get("content") or ""
    if body.get("contentType") != "html":
        return content
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content)).strip()


@PROVIDER.get("/v1.0/me/mailFolders")
def mail_folders(principal):
    return listing("users('...')/mailFolders",
                   [mail_folder_json(k) for k, (_, parent) in FOLDERS.items() if not parent])


@PROVIDER.get("/v1.0/me/mailFolders/<folder_id>")
def mail_folder(principal, folder_id):
    return json_response({"@odata.context": context("users('...')/mailFolders/$entity"),
                          **mail_folder_json(folder_of(folder_id))})


@PROVIDER.get("/v1.0/me/mailFolders/<folder_id>/childFolders")
def child_folders(principal, folder_id):
    key = folder_of(folder_id)
    return listing("users('...')/mailFolders('...')/childFolders",
                   [mail_folder_json(k) for k, (_, parent) in FOLDERS.items() if parent == key])


@PROVIDER.get("/v1.0/me/mailFolders/<folder_id>/messages/delta")
def mail_delta(principal, folder_id):
    """The folder's messages changed in the round; deleted ones as ``@removed`` entries."""
    key = folder_of(folder_id)

    def rows(since, until, params):
        live = [r for r in PROVIDER.collection("mail").rows.values()
                if r["folder"] == key and in_round(r, since, until)]
        gone = gone_in_round("mail", since, until, lambda r: r["folder"] == key)
        return sorted((((r.get("gone", r["updated"]), int(r["id"])), lambda r=r: mail_json(r, params.get("$select")))
                       for r in live + gone), key=lambda row: row[0])
    return paged(f"mail:{key}", "Collection(message)", rows, default=10, maximum=1000, delta="$deltatoken",
                 keep=("$select",))


@PROVIDER.get("/v1.0/me/mailFolders/<folder_id>/messages")
def mail_listed(principal, folder_id):
    """https://learn.microsoft.com/en-us/graph/api/mailfolder-list-messages: the folder's messages,
    newest first (``$top`` 1..1000, 10 by default); ``$filter=createdDateTime ge <time>`` is the one
    filter the sandbox takes (others: 400)."""
    key = folder_of(folder_id)

    def rows(since, until, params):
        where = params.get("$filter")
        found = re.fullmatch(r"createdDateTime ge (\S+)", where) if where else None
        if where and found is None:
            PROVIDER.fail(400, "The sandbox takes only createdDateTime with the ge operator and a time in $filter.",
                          "BadRequest")
        try:
            after = datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp() if found else None
        except ValueError:
            PROVIDER.fail(400, f"Invalid filter clause: '{where}'.", "BadRequest")
        picked = [r for r in PROVIDER.collection("mail").rows.values()
                  if r["folder"] == key and r.get("gone") is None and (after is None or r["created"] >= after)]
        return sorted((((-r["created"], -int(r["id"])), lambda r=r: mail_json(r, params.get("$select")))
                       for r in picked), key=lambda row: row[0])
    return paged(f"messages:{key}", "users('...')/mailFolders('...')/messages", rows, default=10, maximum=1000,
                 keep=("$filter", "$select"))


@PROVIDER.get("/v1.0/me/messages/<message_id>")
def mail_message(principal, message_id):
    found = PROVIDER.collection("mail").get(message_id)
    if found is None:
        PROVIDER.fail(404, "The specified object was not found in the store.", "ErrorItemNotFound")
    return json_response({"@odata.context": context("users('...')/messages/$entity"),
                          **mail_json(found, request.args.get("$select"))})


# -- writes: a Teams channel message, an Outlook draft or sent mail ----------------------------------------------

def require_scope(principal, *accepted: str) -> None:
    """Graph's 403 for a delegated token without any of the scopes the API accepts."""
    granted = set(principal.scope or ())
    if not granted & set(accepted):
        PROVIDER.fail(403, f"Missing scope permissions on the request. API requires one of '{', '.join(accepted)}'. "
                           f"Scopes on the request '{', '.join(sorted(granted))}'", "Forbidden")


def graph_body(payload) -> dict:
    body = payload.get("body") if isinstance(payload, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("content"), str) or not body["content"].strip():
        PROVIDER.fail(400, "Missing body content.", "BadRequest")
    if body.get("contentType", "text").lower() not in ("text", "html"):
        PROVIDER.fail(400, f"Invalid contentType '{body.get('contentType')}'.", "BadRequest")
    return body


@PROVIDER.route("/v1.0/teams/<team_id>/channels/<channel_id>/messages", ("POST",), bucket="teams")
def post_channel_message(principal, team_id, channel_id):
    """https://learn.microsoft.com/en-us/graph/api/channel-post-messages: 201 with the chatMessage, which
    the channel's listing and delta then show."""
    require_scope(principal, "ChannelMessage.Send", "Group.ReadWrite.All")
    key = channel_of(team_id, channel_id)
    body = graph_body(request.get_json(silent=True))
    content = body["content"] if body.get("contentType", "text").lower() == "html" else \
        "<p>" + body["content"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "</p>"
    st = state()
    with st.lock:
        r = PROVIDER.collection("channel_messages").add({"channel": key, "author": 0, "subject": None, "html": content,
                                                         "deleted": False, "replies": []}, st.now())
        answer = chat_json(r, key)
    return json_response({"@odata.context": context("teams('...')/channels('...')/messages/$entity"), **answer}, 201)


def recipients(message: dict, *, required: bool) -> None:
    for field in ("toRecipients", "ccRecipients"):
        for entry in message.get(field) or []:
            address = ((entry or {}).get("emailAddress") or {}).get("address") if isinstance(entry, dict) else None
            if not isinstance(address, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
                PROVIDER.fail(400, f"Invalid recipient address '{address}'.", "ErrorInvalidRecipients")
    if required and not message.get("toRecipients"):
        PROVIDER.fail(400, "At least one recipient is not valid., Recipient is missing.", "ErrorInvalidRecipients")


def keep_outgoing(message: dict, folder: str) -> dict:
    """A draft (in Drafts) or a sent mail (in Sent Items) written through the API: a mail of the
    collection, which the folder's listing and delta then show."""
    st = state()
    with st.lock:
        return PROVIDER.collection("mail").add({
            "folder": folder, "from": 0, "subject": message.get("subject") or "",
            "html": message["body"]["content"], "body": message["body"],
            "to": [recipient(e) for e in message.get("toRecipients") or []],
            "cc": [recipient(e) for e in message.get("ccRecipients") or []]}, st.now())


def recipient(entry: dict) -> dict:
    address = entry["emailAddress"]
    return {"emailAddress": {"name": address.get("name") or address["address"], "address": address["address"]}}


@PROVIDER.route("/v1.0/me/messages", ("POST",))
def create_draft(principal):
    """https://learn.microsoft.com/en-us/graph/api/user-post-messages: a draft in Drafts, 201."""
    require_scope(principal, "Mail.ReadWrite")
    message = request.get_json(silent=True)
    if not isinstance(message, dict):
        PROVIDER.fail(400, "Empty Payload. JSON content expected.", "BadRequest")
    if message.get("body") is not None:
        body = graph_body(message)
        message = {**message, "body": {"contentType": body.get("contentType", "text").lower(), "content": body["content"]}}
    else:
        message = {**message, "body": {"contentType": "text", "content": ""}}
    recipients(message, required=False)
    r = keep_outgoing(message, "drafts")
    return json_response({"@odata.context": context("users('...')/messages/$entity"), **mail_json(r)}, 201)


@PROVIDER.route("/v1.0/me/sendMail", ("POST",))
def send_mail(principal):
    """https://learn.microsoft.com/en-us/graph/api/user-sendmail: 202 without a body."""
    require_scope(principal, "Mail.Send")
    payload = request.get_json(silent=True)
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        PROVIDER.fail(400, "Empty Payload. JSON content expected.", "ErrorInvalidRequest")
    body = graph_body(message)
    recipients(message, required=True)
    if payload.get("saveToSentItems", True) not in (False, "false"):
        keep_outgoing({**message, "body": {"contentType": body.get("contentType", "text").lower(),
                                           "content": body["content"]}}, "sentitems")
    return Response(status=202)
