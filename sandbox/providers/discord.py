"""Discord's REST API v10 under /discord/api/v10, as a bot sees it (what connectors/discord.py reads).

The bot ``tributary-bot`` (token ``sandbox-discord-bot-token``, sent as ``Authorization: Bot ...``) is in
one server, "Acme Sandbox", with channels #general, #random, #announcements (announcement), #staff
(``@everyone`` denied VIEW_CHANNEL, the Staff role allowed), a voice channel and a category; threads:
"release-plan" (public, active, in #general), "old-incident" (public, archived, in #random) and
"hiring" (private, in #general, two members). Nine members; every third has the Staff role.

Messages (``scale`` per channel and thread) are a seeded collection: add, edit (``edited_timestamp``
moves) or delete them through ``/_sandbox/collections/discord/messages/<n>``. Ids are snowflakes of
their creation time, so newer messages have larger ids. Every fourth message replies to an earlier
one of its channel (type 19, ``message_reference`` and ``referenced_message``); a few are member
joins (type 7). ``GET /channels/{id}/messages`` takes ``limit`` (1-100, 50 by default) and one of
``after``, ``before``, ``around``, and answers newest first.

Errors are ``{"message": "Unknown Channel", "code": 10003}``; a bad token is 401 ``{"message": "401:
Unauthorized", "code": 0}``. Every answer carries the route's bucket: ``X-RateLimit-Limit``,
``-Remaining``, ``-Reset`` (epoch seconds with milliseconds), ``-Reset-After`` and ``-Bucket``; a 429
says ``{"message": "You are being rate limited.", "retry_after": ..., "global": false}`` with
``Retry-After`` and ``X-RateLimit-Scope: user``.
"""
from __future__ import annotations

import hashlib

from flask import request

from ..kit import Emulation, Seeded
from ..seed import iso_ms
from .. import oauth
from . import int_arg, json_response

EPOCH_MS = 1420070400000            # Discord's epoch, 2015-01-01
GUILD = "1100000000000000001"
BOT = "1100000000000000002"
STAFF_ROLE = "1100000000000000003"
PEOPLE = ("ada", "bruno", "chiara", "dev", "emeka", "fatima", "gustav", "hana", "ines")
# (id, name, type, parent, extra)
CHANNELS = (
    ("1100000000000000101", "general", 0, None, {"topic": "Anything goes."}),
    ("1100000000000000102", "random", 0, None, {"topic": "Off topic."}),
    ("1100000000000000103", "announcements", 5, None, {"topic": "Release notes."}),
    ("1100000000000000104", "staff", 0, None, {"topic": "Staff only.", "restricted": True}),
    ("1100000000000000105", "Lounge", 2, None, {}),
    ("1100000000000000106", "Projects", 4, None, {}),
    ("1100000000000000201", "release-plan", 11, "1100000000000000101", {"archived": False}),
    ("1100000000000000202", "old-incident", 11, "1100000000000000102", {"archived": True}),
    ("1100000000000000203", "hiring", 12, "1100000000000000101", {"archived": False, "members": (0, 4)}),
)
BY_ID = {c[0]: c for c in CHANNELS}
TEXTUAL = [c[0] for c in CHANNELS if c[2] in (0, 5, 11, 12)]
WORDS = ("shipping the connector today", "who broke the build?", "standup in 5", "the dashboard looks great",
         "can someone review my PR", "deploy is green", "lunch?", "rolling back the migration", "docs are updated")
VIEW_CHANNEL = 1 << 10


def user_id(i: int) -> str:
    return str(1200000000000000000 + i + 1)


def snowflake(created: int, number) -> str:
    return str(((int(created) * 1000 - EPOCH_MS) << 22) | (int(number) & 0x3FFFFF))


class Discord(Emulation):
    name, prefix = "discord", "/discord"
    keys = ("sandbox-discord-bot-token",)
    limits = {None: (50, 1), "messages": (50, 1)}      # the bot-wide 50 a second; a route's own bucket
    rate_header_names = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
    collections = {"messages": Seeded(lambda rnd, i: {
        "channel": TEXTUAL[i % len(TEXTUAL)], "author": rnd.randrange(len(PEOPLE)), "content": rnd.choice(WORDS),
        "kind": 7 if i % 23 == 22 else 19 if i % 4 == 3 else 0}, lambda scale: scale * len(TEXTUAL))}

    def credential(self):
        header = request.headers.get("Authorization", "")
        return header[4:] if header.startswith("Bot ") else oauth.bearer_token()

    def error_body(self, status, message, code=None):
        codes = {401: 0, 403: 50001, 404: 0}
        return {"message": message, "code": code if code is not None else codes.get(status, 0)}

    def unauthorized(self):
        return self.error(401, "401: Unauthorized", 0)

    def not_found(self):
        return self.error(404, "404: Not Found", 0)

    def rate_limited(self, info, status, now):
        retry = info.retry_after or info.seconds_to_reset(now)
        response = json_response({"message": "You are being rate limited.", "retry_after": float(retry),
                                  "global": False, "code": 0}, 429)
        self.rate_headers(response, info, now)
        response.headers["Retry-After"] = str(retry)
        response.headers["X-RateLimit-Scope"] = "user"
        return response

    def rate_headers(self, response, info, now):
        super().rate_headers(response, info, now)
        response.headers["x-ratelimit-reset"] = f"{info.reset_at:.3f}"
        response.headers["x-ratelimit-reset-after"] = f"{max(0.0, info.reset_at - now):.3f}"
        route = request.url_rule.rule if request.url_rule else request.path
        response.headers["x-ratelimit-bucket"] = hashlib.sha1(route.encode()).hexdigest()[:32]


PROVIDER = Discord()
bp = PROVIDER.bp
API = "/api/v10"


# -- objects -----------------------------------------------------------------------------------------

def user(i: int) -> dict:
    return {"id": user_id(i), "username": PEOPLE[i], "discriminator": "0", "global_name": PEOPLE[i].title(),
            "avatar": None, "public_flags": 0, "flags": 0, "banner": None, "accent_color": None,
            "avatar_decoration_data": None, "collectibles": None, "primary_guild": None}


def channel_json(c: tuple) -> dict:
    cid, name, kind, parent, extra = c
    base = {"id": cid, "type": kind, "name": name, "guild_id": GUILD, "flags": 0}
    if kind in (11, 12):
        return {**base, "parent_id": parent, "owner_id": user_id(0), "last_message_id": None,
                "rate_limit_per_user": 0, "message_count": 0, "member_count": len(extra.get("members", ())) or 3,
                "total_message_sent": 0, "thread_metadata": {
                    "archived": extra["archived"], "auto_archive_duration": 1440, "locked": False,
                    "archive_timestamp": iso_ms(1735689600 + int(cid[-3:])), "create_timestamp": iso_ms(1704067200),
                    **({"invitable": False} if kind == 12 else {})}}
    overwrites = [{"id": GUILD, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
                  {"id": STAFF_ROLE, "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"}] \
        if extra.get("restricted") else []
    found = {**base, "position": CHANNELS.index(c), "permission_overwrites": overwrites, "parent_id": None,
             "nsfw": False}
    if kind in (0, 5):
        found.update(topic=extra.get("topic"), last_message_id=None, rate_limit_per_user=0)
    if kind == 2:
        found.update(bitrate=64000, user_limit=0, rtc_region=None)
    return found


def visible(cid: str) -> tuple:
    found = BY_ID.get(cid)
    if found is None:
        PROVIDER.fail(404, "Unknown Channel", 10003)
    return found


def message_json(r: dict) -> dict:
    mid, channel = snowflake(r["created"], r["id"]), r["channel"]
    found = {"id": mid, "channel_id": channel, "type": r["kind"], "content": r["content"],
             "author": user(r["author"]), "timestamp": iso_ms(r["created"]).replace(".000Z", ".000000+00:00"),
             "edited_timestamp": iso_ms(r["updated"]).replace(".000Z", ".000000+00:00")
             if r["updated"] != r["created"] else None,
             "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
             "embeds": [], "pinned": False, "flags": 0, "components": []}
    if r["kind"] == 7:
        found["content"] = ""
    if r["kind"] == 19:
        earlier = [m for m in messages_of(channel) if int(m["id"]) < int(r["id"]) and m["kind"] == 0]
        answered = earlier[-1] if earlier else None
        found["message_reference"] = {"type": 0, "channel_id": channel, "guild_id": GUILD,
                                      "message_id": snowflake(answered["created"], answered["id"]) if answered else None}
        found["referenced_message"] = message_json({**answered, "kind": 0}) if answered else None
        if answered is None:
            found["type"] = 0
            del found["message_reference"], found["referenced_message"]
    return found


def messages_of(channel: str) -> list[dict]:
    return sorted((m for m in PROVIDER.collection("messages").rows.values() if m["channel"] == channel),
                  key=lambda m: int(snowflake(m["created"], m["id"])))


def member_json(i: int) -> dict:
    return {"user": user(i), "nick": None, "avatar": None, "banner": None,
            "roles": [STAFF_ROLE] if i % 3 == 0 else [], "joined_at": iso_ms(1704067200 + i).replace(".000Z", ".000000+00:00"),
            "premium_since": None, "deaf": False, "mute": False, "flags": 0, "pending": False,
            "communication_disabled_until": None}


# -- the API -------------------------------------------------------------------------------------------

@PROVIDER.get(f"{API}/users/@me")
def me(principal):
    return json_response({"id": BOT, "username": "tributary-bot", "discriminator": "0", "global_name": None,
                          "avatar": None, "bot": True, "public_flags": 0, "flags": 0, "banner": None,
                          "accent_color": None, "mfa_enabled": False, "locale": "en-US", "verified": True,
                          "email": None, "premium_type": 0})


@PROVIDER.get(f"{API}/users/@me/guilds")
def guilds(principal):
    return json_response([{"id": GUILD, "name": "Acme Sandbox", "icon": None, "banner": None, "owner": False,
                           "permissions": str(VIEW_CHANNEL | (1 << 16)), "features": [],
                           "approximate_member_count": len(PEOPLE) + 1, "approximate_presence_count": 3}])


def guild_or_404(guild: str) -> None:
    if guild != GUILD:
        PROVIDER.fail(404, "Unknown Guild", 10004)


@PROVIDER.get(f"{API}/guilds/<guild>/channels")
def guild_channels(principal, guild):
    guild_or_404(guild)
    return json_response([channel_json(c) for c in CHANNELS if c[2] not in (11, 12)])


@PROVIDER.get(f"{API}/guilds/<guild>/threads/active")
def active_threads(principal, guild):
    guild_or_404(guild)
    return json_response({"threads": [channel_json(c) for c in CHANNELS if c[2] in (11, 12) and not c[4]["archived"]],
                          "members": []})


@PROVIDER.get(f"{API}/channels/<channel>/threads/archived/public")
def archived_threads(principal, channel):
    visible(channel)
    found = [channel_json(c) for c in CHANNELS if c[2] == 11 and c[4]["archived"] and c[3] == channel]
    return json_response({"threads": found, "members": [], "has_more": False})


@PROVIDER.get(f"{API}/guilds/<guild>/members")
def guild_members(principal, guild):
    guild_or_404(guild)
    after, limit = int(request.args.get("after") or 0), int_arg("limit", 1, minimum=1, maximum=1000)
    found = [member_json(i) for i in range(len(PEOPLE)) if int(user_id(i)) > after][:limit]
    return json_response(found)


@PROVIDER.get(f"{API}/channels/<channel>")
def get_channel(principal, channel):
    return json_response(channel_json(visible(channel)))


@PROVIDER.get(f"{API}/channels/<channel>/thread-members")
def thread_members(principal, channel):
    found = visible(channel)
    people = found[4].get("members", ())
    return json_response([{"id": channel, "user_id": user_id(i), "join_timestamp": iso_ms(1704067200)
                           .replace(".000Z", ".000000+00:00"), "flags": 0} for i in people])


@PROVIDER.get(f"{API}/channels/<channel>/messages", bucket="messages")
def channel_messages(principal, channel):
    if visible(channel)[2] not in (0, 5, 11, 12):
        PROVIDER.fail(400, "Cannot send messages in a non-text channel", 50008)
    rows = messages_of(channel)     # the page is chosen by id first: only its messages are written out
    limit = int_arg("limit", 50, minimum=1, maximum=100)
    if request.args.get("after"):
        after = int(request.args["after"])
        chunk = [m for m in rows if int(snowflake(m["created"], m["id"])) > after][:limit]
    elif request.args.get("before"):
        before = int(request.args["before"])
        chunk = [m for m in rows if int(snowflake(m["created"], m["id"])) < before][-limit:]
    else:
        chunk = rows[-limit:]
    return json_response([message_json(m) for m in chunk][::-1])


@PROVIDER.get(f"{API}/channels/<channel>/messages/<message>", bucket="messages")
def channel_message(principal, channel, message):
    visible(channel)
    found = next((m for m in messages_of(channel) if snowflake(m["created"], m["id"]) == message), None)
    if found is None:
        PROVIDER.fail(404, "Unknown Message", 10008)
    return json_response(message_json(found))
