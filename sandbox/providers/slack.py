"""Slack Web API (OAuth v2 bot tokens) under /slack: the consent page, oauth.v2.access, and the
conversations, files and users methods a bot reads channels with.

Slack's voice: every answer is HTTP 200, ``{"ok": true, ...}`` or ``{"ok": false, "error":
"<code>"}`` (a bad token too: ``not_authed``, ``invalid_auth``, ``token_revoked``; a missing scope
says which in ``needed``), except a rate limit: HTTP 429 with ``Retry-After`` and ``{"ok": false,
"error": "ratelimited"}``. No rate-limit headers. Limits are per method per token, by tier (2: 20,
3: 50, 4: 100 a minute). Methods take GET query or POST form parameters; cursors are keysets.

Data (SCALE records per stream): five channels (the app is in #general, #random and the private
#leadership; #engineering is public without it, #payroll private without it), users, top-level
messages with thread replies (a deleted parent with replies stays as a ``tombstone``), and files
with a text preview (snippets) or none (PDFs, images). Message ``ts`` are ``<created>.<id>`` (a
reply's id + 500000), so a collection id is read off a ``ts``.
"""
from __future__ import annotations

from flask import request

from .. import oauth
from ..kit import Emulation, OAuthDialect, Seeded, page_by_cursor
from ..seed import FIRST_NAMES, LAST_NAMES, START, TWEET_THINGS
from . import Answer, int_arg, json_response, root_url, state

TEAM = {"id": "T0SANDBOX1", "name": "Acme Sandbox", "domain": "acme-sandbox"}
BOT_USER, BOT_ID, APP_ID, INSTALLER = "U0SANDBOT1", "B0SANDBOT1", "A0SANDAPP1", "U000000001"
BOT_PROFILE = {"id": BOT_ID, "app_id": APP_ID, "name": "Tributary", "deleted": False, "team_id": TEAM["id"]}
# id, name, private, whether the app is a member
CHANNELS = [("C0GENERAL1", "general", False, True), ("C0RANDOM01", "random", False, True),
            ("C0ENGINEER", "engineering", False, False), ("G0LEADERS1", "leadership", True, True),
            ("G0PAYROLL1", "payroll", True, False)]
BY_ID = {c[0]: c for c in CHANNELS}
TIERS = {2: 20, 3: 50, 4: 100}
METHODS = {"conversations.list": 2, "conversations.info": 3, "conversations.history": 3, "conversations.replies": 3,
           "conversations.members": 4, "files.list": 3, "files.info": 4, "users.list": 2, "users.info": 4,
           "auth.test": 4, "auth.revoke": 3, "chat.postMessage": 3}
SAYINGS = ["Can someone review the {t} change before Friday?", "Heads up: the {t} deploy is done.",
           "Notes from today's {t} sync are in the doc.", "Who owns the {t} alerts this week?",
           "The {t} numbers look better since Tuesday.", "Proposal: freeze the {t} until the audit ends."]
REPLIES = ["On it.", "Looks good to me.", "I'll take it.", "Can we talk about it tomorrow?", "+1, thanks!"]


def member_of(channel: str, user_number: int) -> bool:
    """Who is in a channel: everyone in public ones, every third user in #leadership, every fifth
    in #payroll (and the app where it is a member)."""
    private = BY_ID[channel][2]
    return not private or user_number % (3 if channel == "G0LEADERS1" else 5) == 0


class SlackDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "slack", "Slack", "ada@acme-sandbox.example", "xoxb"
    requires_response_type, default_grant_type = False, "authorization_code"
    scope_separators, scope_joiner = ", ", ","
    refresh_tokens = False          # bot tokens without token rotation: no refresh token, no expiry
    ERRORS = {"invalid_client": "invalid_client_id", "redirect_uri_mismatch": "bad_redirect_uri",
              "unsupported_grant_type": "invalid_grant_type", "invalid_request": "invalid_arguments"}

    def new_access_token(self) -> str:
        return "xoxb-" + oauth.random_token(48)

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        return {"ok": True, "app_id": APP_ID, "authed_user": {"id": INSTALLER},
                "scope": self.scope_joiner.join(issued.grant.scope), "token_type": "bot",
                "access_token": issued.access.value, "bot_user_id": BOT_USER,
                "team": {"id": TEAM["id"], "name": TEAM["name"]}, "enterprise": None, "is_enterprise_install": False}

    def token_error(self, error):
        code = self.ERRORS.get(error.reason, "invalid_code")
        return json_response({"ok": False, "error": code}), code


class Slack(Emulation):
    name, prefix = "slack", "/slack"
    dialect = SlackDialect()
    token_ttl = 10 * 365 * 86400
    rate_header_names = ()
    collections = {
        "users": Seeded(lambda rnd, i: {"first": rnd.choice(FIRST_NAMES), "last": rnd.choice(LAST_NAMES),
                                        "title": rnd.choice(["Engineer", "Designer", "PM", "Sales", ""])}),
        "messages": Seeded(lambda rnd, i: {
            "channel": CHANNELS[i % len(CHANNELS)][0], "user": 1 + rnd.randrange(min(i + 1, 40)),
            "text": rnd.choice(SAYINGS).format(t=rnd.choice(TWEET_THINGS)), "edited": rnd.random() < 0.1,
            "kind": "join" if rnd.random() < 0.08 else "bot" if rnd.random() < 0.1 else "user"}),
        "replies": Seeded(lambda rnd, i: {"parent": i + 1 - rnd.randrange(min(i + 1, 3)),
                                          "user": 1 + rnd.randrange(min(i + 1, 40)), "text": rnd.choice(REPLIES),
                                          "offset": rnd.randrange(60, 3 * 86400)}),
        "files": Seeded(lambda rnd, i: {
            "channel": CHANNELS[i % len(CHANNELS)][0], "user": 1 + rnd.randrange(min(i + 1, 40)),
            "kind": ("txt", "pdf", "png")[i % 3], "topic": rnd.choice(TWEET_THINGS), "lines": rnd.randrange(1, 12)}),
    }

    def default_policy(self, bucket):
        return TIERS[METHODS.get(bucket, 3)], 60

    def credential(self):
        return oauth.bearer_token() or request.values.get("token")

    def error_body(self, status, message, code=None):
        return {"ok": False, "error": code or message.lower().replace(" ", "_")}

    def unauthorized(self):
        st, value = state(), self.credential()
        token = st.tokens.tokens.get(value or "")
        code = "not_authed" if not value else "token_revoked" if token is not None and token.revoked else "invalid_auth"
        return json_response({"ok": False, "error": code})

    def not_found(self):
        return json_response({"ok": False, "error": "unknown_method"}, 404)

    def rate_limited(self, info, status, now):
        return json_response({"ok": False, "error": "ratelimited"}, 429,
                             headers={"Retry-After": info.retry_after or info.seconds_to_reset(now)})


PROVIDER = Slack()
bp = PROVIDER.bp
PROVIDER.oauth_routes("/oauth/v2/authorize", "/api/oauth.v2.access")


def method(name: str):
    """A Web API method: GET or POST, counted in its own rate bucket."""
    return PROVIDER.route(f"/api/{name}", ("GET", "POST"), bucket=name)


def fail(code: str, **more):
    raise Answer(json_response({"ok": False, "error": code, **more}))


def need(principal, *scopes: str) -> None:
    if not set(scopes) & set(principal.scope):
        fail("missing_scope", needed=scopes[0], provided=",".join(principal.scope))


def arg(name: str, default=None):
    return request.values.get(name, default)


def readable(principal, channel: str | None, history: bool = False) -> tuple:
    """The channel as the app may read it: not visible -> channel_not_found; a public one it is not
    in -> not_in_channel (history, replies, members)."""
    found = BY_ID.get(channel or "")
    if found is None or (found[2] and not found[3]):
        fail("channel_not_found")
    need(principal, ("groups" if found[2] else "channels") + (":history" if history else ":read"))
    if history and not found[3]:
        fail("not_in_channel")
    return found


def ts_key(ts: str) -> tuple[int, int]:
    whole, _, micro = str(ts).partition(".")
    return int(whole or 0), int((micro or "0").ljust(6, "0")[:6])


def uid(number) -> str:
    return f"U{int(number):09d}"


def ts_of(r: dict) -> str:
    return f"{r['created']}.{int(r['id']):06d}"


def thread_of(channel: str, ts: str | None) -> dict:
    """The top-level message ``ts`` of ``channel``, else ``thread_not_found``."""
    parent = PROVIDER.collection("messages").get(ts_key(ts or "")[1])
    if parent is None or parent["channel"] != channel or ts_of(parent) != ts:
        fail("thread_not_found")
    return parent


def numbered(name: str, value: str | None, gone: str) -> dict:
    """The record of ``name`` an id like ``U000000007`` names by its number, else ``gone``."""
    number = (value or "X")[1:]
    record = PROVIDER.collection(name).get(str(int(number))) if number.isdigit() else None
    if record is None:
        fail(gone)
    return record


def user_json(r: dict, principal) -> dict:
    first, last = r["first"], r["last"]
    profile = {"title": r["title"], "real_name": f"{first} {last}", "display_name": first,
               "image_72": f"{root_url()}/_sandbox/avatars/slack-{r['id']}.svg", "team": TEAM["id"]}
    if "users:read.email" in principal.scope:
        profile["email"] = f"{first}.{last}{r['id']}@acme-sandbox.example".lower()
    return {"id": uid(r["id"]), "team_id": TEAM["id"], "name": f"{first}.{last}{r['id']}".lower(),
            "deleted": bool(r.get("deleted")), "real_name": f"{first} {last}", "tz": "Europe/Paris",
            "tz_label": "Central European Time", "tz_offset": 3600, "profile": profile, "is_admin": False,
            "is_owner": False, "is_bot": False, "is_app_user": False, "updated": r["updated"]}


def threads() -> dict[str, list]:
    """Each message id's replies, oldest first, with their ``ts`` (an index the kit keeps across requests)."""
    return PROVIDER.kept(("messages", "replies"), index_threads)


def index_threads(messages, replies) -> dict[str, list]:
    found = {}
    for r in replies.rows.values():
        parent = messages.get(r["parent"])
        if parent is not None:
            at = parent["created"] + r["offset"] if "offset" in r else r["created"]
            found.setdefault(str(r["parent"]), []).append((f"{at}.{500000 + int(r['id']):06d}", r))
    return {k: sorted(v, key=lambda p: ts_key(p[0])) for k, v in found.items()}


def message_json(r: dict, replies: list, ts: str | None = None) -> dict | None:
    """A message as history shows it; None for a deleted one without replies."""
    ts, user = ts or ts_of(r), uid(r["user"])
    thread = {"thread_ts": ts, "reply_count": len(replies), "reply_users_count": len({p[1]["user"] for p in replies}),
              "latest_reply": replies[-1][0] if replies else "0000000000.000000",
              "reply_users": sorted({uid(p[1]["user"]) for p in replies}), "is_locked": False, "subscribed": False}
    if r.get("deleted"):
        return {"type": "message", "subtype": "tombstone", "text": "This message was deleted.", "user": "USLACKBOT",
                "hidden": True, "ts": ts, "parent_user_id": "USLACKBOT", **thread} if replies else None
    if r.get("kind") == "app":       # posted with the app's bot token (chat.postMessage)
        out = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "app_id": APP_ID, "text": r["text"], "ts": ts,
               "team": TEAM["id"], "bot_profile": {**BOT_PROFILE}}
        if replies:
            out.update(thread)
        return out
    if r.get("kind") == "join":
        return {"type": "message", "subtype": "channel_join", "user": user, "text": f"<@{user}> has joined the channel",
                "ts": ts}
    out = {"type": "message", "user": user, "text": r["text"], "ts": ts, "team": TEAM["id"]}
    if r.get("kind") == "bot":
        out = {"type": "message", "subtype": "bot_message", "text": r["text"], "ts": ts, "bot_id": "B0DEPLOYS1",
               "username": "deploy-bot"}
    if r.get("edited"):
        out["edited"] = {"user": user, "ts": f"{r['updated']}.000000"}
    if replies:
        out.update(thread)
    out["blocks"] = [{"type": "rich_text", "block_id": f"b{r['id']}", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": out["text"]}]}]}]
    return out


def in_range(ts: str) -> bool:
    """``oldest`` < ts < ``latest`` (both ends included with ``inclusive``)."""
    key, inclusive = ts_key(ts), arg("inclusive") in ("1", "true")
    oldest, latest = arg("oldest"), arg("latest")
    low = oldest is None or key > ts_key(oldest) or (inclusive and key == ts_key(oldest))
    return low and (latest is None or key < ts_key(latest) or (inclusive and key == ts_key(latest)))


def page(rows: list, key=None) -> tuple[list, dict]:
    limit = int_arg("limit", 100, minimum=1, maximum=999)
    chunk, cursor = page_by_cursor(rows, arg("cursor"), limit, key=key or (lambda r: r["id"]))
    return chunk, {"has_more": cursor is not None, "response_metadata": {"next_cursor": cursor or ""}}


def channel_json(c: tuple) -> dict:
    cid, name, private, member = c
    members = 1 + sum(member_of(cid, int(i)) for i in PROVIDER.collection("users").rows) if member else 0
    return {"id": cid, "name": name, "is_channel": not private, "is_group": private, "is_im": False, "is_mpim": False,
            "is_private": private, "created": START, "is_archived": False, "is_general": name == "general",
            "unlinked": 0, "name_normalized": name, "is_shared": False, "is_org_shared": False,
            "is_pending_ext_shared": False, "pending_shared": [], "context_team_id": TEAM["id"],
            "updated": START * 1000, "creator": uid(1), "is_ext_shared": False, "shared_team_ids": [TEAM["id"]],
            "pending_connected_team_ids": [], "is_member": member, "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": f"All about {name}.", "creator": "", "last_set": 0}, "previous_names": [],
            "num_members": members}


def file_json(r: dict) -> dict:
    fid, kind, name = f"F{int(r['id']):09d}", r["kind"], f"{r['topic'].replace(' ', '-')}-{r['id']}.{r['kind']}"
    private = BY_ID[r["channel"]][2]
    out = {"id": fid, "created": r["created"], "timestamp": r["created"], "name": name, "title": r.get("title") or name,
           "mimetype": {"txt": "text/plain", "pdf": "application/pdf", "png": "image/png"}[kind], "filetype": kind,
           "pretty_type": kind.upper(), "user": uid(r["user"]), "user_team": TEAM["id"], "editable": kind == "txt",
           "size": 120 * r["lines"], "mode": "snippet" if kind == "txt" else "hosted", "is_external": False,
           "external_type": "", "is_public": not private, "public_url_shared": False, "display_as_bot": False,
           "username": "", "url_private": f"{root_url()}/slack/files-pri/{TEAM['id']}-{fid}/{name}",
           "permalink": f"https://{TEAM['domain']}.slack.com/files/{uid(r['user'])}/{fid}/{name}",
           "channels": [] if private else [r["channel"]], "groups": [r["channel"]] if private else [], "ims": [],
           "comments_count": 0, "has_rich_preview": False, "file_access": "visible"}
    if kind == "txt":
        lines = file_text(r).split("\n")
        out.update(preview="\n".join(lines[:5]), lines=len(lines), lines_more=max(0, len(lines) - 5),
                   preview_is_truncated=len(lines) > 5)
    return out


def file_text(r: dict) -> str:
    return r.get("text") or "\n".join(f"{r['topic']} note {n + 1}" for n in range(r["lines"]))


# -- the Web API ------------------------------------------------------------------------------------

@method("auth.test")
def auth_test(principal):
    return json_response({"ok": True, "url": f"https://{TEAM['domain']}.slack.com/", "team": TEAM["name"],
                          "user": "tributary", "team_id": TEAM["id"], "user_id": BOT_USER, "bot_id": BOT_ID,
                          "is_enterprise_install": False})


@method("auth.revoke")
def auth_revoke(principal):
    st = state()
    with st.lock:
        revoked = st.tokens.revoke_token("slack", principal.key)
    return json_response({"ok": True, "revoked": revoked})


@method("conversations.list")
def conversations_list(principal):
    types = arg("types", "public_channel").split(",")
    need(principal, *(["channels:read"] if "public_channel" in types else []) +
         (["groups:read"] if "private_channel" in types else []))
    rows = [c for c in CHANNELS if ("private_channel" if c[2] else "public_channel") in types and (c[3] or not c[2])]
    chunk, more = page(rows, key=lambda c: c[0])
    return json_response({"ok": True, "channels": [channel_json(c) for c in chunk],
                          "response_metadata": more["response_metadata"]})


@method("conversations.info")
def conversations_info(principal):
    return json_response({"ok": True, "channel": channel_json(readable(principal, arg("channel")))})


@method("conversations.members")
def conversations_members(principal):
    cid = readable(principal, arg("channel"))[0]
    users = [r for r in PROVIDER.collection("users").by_update() if member_of(cid, int(r["id"]))]
    chunk, more = page(sorted(users, key=lambda r: int(r["id"])), key=lambda r: int(r["id"]))
    return json_response({"ok": True, "members": ([BOT_USER] if not arg("cursor") and BY_ID[cid][3] else []) +
                          [uid(r["id"]) for r in chunk], "response_metadata": more["response_metadata"]})


@method("conversations.history")
def conversations_history(principal):
    cid, replies = readable(principal, arg("channel"), history=True)[0], threads()
    rows = [(ts_of(r), r) for r in PROVIDER.collection("messages").rows.values() if r["channel"] == cid]
    rows = sorted((p for p in rows if in_range(p[0])), key=lambda p: ts_key(p[0]), reverse=True)
    shown = [m for ts, r in rows if (m := message_json(r, replies.get(r["id"], []), ts)) is not None]
    chunk, more = page(shown, key=lambda m: [-n for n in ts_key(m["ts"])])
    return json_response({"ok": True, "messages": chunk, **more, "pin_count": 0})


@method("conversations.replies")
def conversations_replies(principal):
    ts = arg("ts")
    parent = thread_of(readable(principal, arg("channel"), history=True)[0], ts)
    replies = threads().get(parent["id"], [])
    top = message_json(parent, replies, ts)
    if top is None:
        fail("thread_not_found")
    rows = [top]
    for rts, r in replies:
        rows.append({"type": "message", "user": BOT_USER if r.get("kind") == "app" else uid(r["user"]),
                     "text": r["text"], "ts": rts, "thread_ts": ts,
                     "parent_user_id": top.get("user", top.get("bot_id"))})
        if r.get("edited"):
            rows[-1]["edited"] = {"user": uid(r["user"]), "ts": f"{r['updated']}.000000"}
    chunk, more = page(rows, key=lambda m: list(ts_key(m["ts"])))
    return json_response({"ok": True, "messages": chunk, **more})


@method("files.list")
def files_list(principal):
    need(principal, "files:read")
    cid = arg("channel")
    low, high = int(float(arg("ts_from", 0))), int(float(arg("ts_to", 2 ** 40)))
    rows = [r for r in PROVIDER.collection("files").by_update() if BY_ID[r["channel"]][3]
            and (cid is None or r["channel"] == cid) and low <= r["created"] <= high]
    rows.sort(key=lambda r: (r["created"], int(r["id"])), reverse=True)
    count, number = int_arg("count", 100, minimum=1, maximum=1000), int_arg("page", 1, minimum=1)
    pages = max(1, -(-len(rows) // count))
    return json_response({"ok": True, "files": [file_json(r) for r in rows[(number - 1) * count:number * count]],
                          "paging": {"count": count, "total": len(rows), "page": number, "pages": pages}})


@method("files.info")
def files_info(principal):
    need(principal, "files:read")
    r = numbered("files", arg("file"), "file_not_found")
    if not BY_ID[r["channel"]][3]:
        fail("file_not_found")
    text = {"content": file_text(r), "is_truncated": False} if r["kind"] == "txt" else {}
    return json_response({"ok": True, "file": file_json(r), **text, "comments": [],
                          "response_metadata": {"next_cursor": ""}})


@method("users.list")
def users_list(principal):
    need(principal, "users:read")
    rows = sorted(PROVIDER.collection("users").rows.values(), key=lambda r: int(r["id"]))
    chunk, more = page(rows, key=lambda r: int(r["id"]))
    return json_response({"ok": True, "members": [user_json(r, principal) for r in chunk],
                          "cache_ts": int(state().now()), "response_metadata": more["response_metadata"]})


@method("users.info")
def users_info(principal):
    need(principal, "users:read")
    return json_response({"ok": True, "user": user_json(numbered("users", arg("user"), "user_not_found"), principal)})


# -- writing ----------------------------------------------------------------------------------------

def body_arg(name: str):
    """A write method's argument: a JSON body's field (``application/json``), else the form's."""
    payload = request.get_json(silent=True) if request.is_json else None
    return payload.get(name) if isinstance(payload, dict) else arg(name)


def writable(principal, channel: str | None) -> tuple:
    """The channel a bot may post in, by id or name (``#general``): chat:write; unknown or a
    private one it is not in -> channel_not_found; a public one it is not in -> not_in_channel."""
    wanted = (channel or "").lstrip("#")
    found = BY_ID.get(wanted) or next((c for c in CHANNELS if c[1] == wanted), None)
    need(principal, "chat:write")
    if found is None or (found[2] and not found[3]):
        fail("channel_not_found")
    if not found[3]:
        fail("not_in_channel")
    return found


@method("chat.postMessage")
def chat_post_message(principal):
    """Post as the app (https://docs.slack.dev/reference/methods/chat.postMessage): text is required
    here (no blocks), 40,000 characters at most; ``thread_ts`` must name a message of the channel.
    The message appears in history (a reply in its thread) like any other."""
    found = writable(principal, body_arg("channel"))
    text, thread = body_arg("text"), body_arg("thread_ts")
    if not isinstance(text, str) or not text.strip():
        fail("no_text")
    if len(text) > 40000:
        fail("msg_too_long")
    st = state()
    with st.lock:
        if thread:
            parent = thread_of(found[0], thread)
            reply = PROVIDER.collection("replies").add({"parent": parent["id"], "user": 0, "text": text, "kind": "app"},
                                                       st.now())
            PROVIDER.collection("messages").update(parent["id"], {}, st.now())
            ts = next(t for t, r in threads()[parent["id"]] if r is reply)
            message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "app_id": APP_ID, "text": text, "ts": ts,
                       "thread_ts": thread, "parent_user_id": uid(parent["user"]), "team": TEAM["id"]}
        else:
            posted = PROVIDER.collection("messages").add({"channel": found[0], "user": 0, "text": text, "kind": "app",
                                                          "edited": False}, st.now())
            message = message_json(posted, [])
            ts = message["ts"]
    return json_response({"ok": True, "channel": found[0], "ts": ts, "message": message})
