"""Discord: a bot's token reads the text channels and threads of the servers (guilds) it was added to.

Docs: https://discord.com/developers/docs/reference -- channels https://discord.com/developers/docs/resources/channel,
messages https://discord.com/developers/docs/resources/message, guilds https://discord.com/developers/docs/resources/guild
Auth: ``Authorization: Bot <token>`` (the application's bot, added to a server with the ``bot`` scope and the
VIEW_CHANNEL and READ_MESSAGE_HISTORY permissions; message text needs the privileged Message Content intent, the
readers of a restricted channel the Server Members intent).
Rate limits: https://discord.com/developers/docs/topics/rate-limits -- per route buckets said in ``X-RateLimit-Limit``,
``-Remaining``, ``-Reset`` (epoch seconds), ``-Reset-After`` and ``-Bucket``; 50 requests a second per bot overall; a
429 answers ``{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}`` with Retry-After.

Channels: every server's text and announcement channels (``GET /guilds/{id}/channels``, types 0 and 5), its active
threads (``GET /guilds/{id}/threads/active``) and each channel's archived public threads (``GET
/channels/{id}/threads/archived/public``): ``every_channel``, as no one listing has them all.

Streams:

* ``channels``: the channels and threads themselves (name, topic), one document each.
* ``messages`` per channel or thread: ``GET /channels/{id}/messages?after=<snowflake>`` (ids grow with time:
  incremental by the newest id read, ``after``), pages of 100 in their own rate bucket. One document per message;
  a reply carries the message it answers (``referenced_message``), so both are found together. System messages
  (joins, pins, boosts) are left out. Deletion: the id listing, confirmed with ``GET .../messages/{id}`` (404
  ``Unknown Message``). An edit of an older message waits for the next full sync (``after`` sees new ids only).

Readers: a channel everyone may view (no overwrite denies ``@everyone`` VIEW_CHANNEL), the whole workspace; a
restricted one, the server members whose roles (or own overwrites) allow VIEW_CHANNEL, as ``discord:<user id>``;
a private thread, its members. A thread of a restricted channel: the channel's readers.
"""
from .base import CatalogEntry, DocumentData, RateLimits
from .errors import ChannelNotFound, ProviderRefused
from .kit import Channels, FetchById, Incremental, OnError, RestConnector, StreamSpec, WhoAmI, api_key
from .rest import KeysetPaginator, RestStream, parse_time, shorten

TEXT, ANNOUNCEMENT, ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 0, 5, 10, 11, 12
READABLE = (TEXT, ANNOUNCEMENT, ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
THREADS = (ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
VIEW_CHANNEL = 1 << 10
KEPT = (0, 19, 21)          # DEFAULT, REPLY, THREAD_STARTER_MESSAGE
# ``after=<the newest id of this page>`` while pages come full (Discord sorts each page newest first).
AFTER = KeysetPaginator("after", lambda records: max((r["id"] for r in records), key=int))
MEMBERS = RestStream("/guilds/{guild}/members", KeysetPaginator("after", lambda rs: rs[-1]["user"]["id"], limit=1000))
ARCHIVED = RestStream("/channels/{parent}/threads/archived/public", KeysetPaginator(  # while has_more
    "before", lambda rs: min(r["thread_metadata"]["archive_timestamp"] for r in rs), None,
    more=lambda body: bool((body or {}).get("has_more"))), records_path=("threads",))


def restricted(channel: dict) -> bool:
    everyone = next((o for o in channel.get("permission_overwrites") or [] if o["id"] == channel.get("guild_id")), None)
    return bool(everyone and int(everyone.get("deny") or 0) & VIEW_CHANNEL)


def channel_readers(api, channel_id: str):
    from access.service import Readers

    channel = api.connector.channel_record(api, "channel")
    if channel.get("type") == PRIVATE_THREAD:
        return Readers.of(*(("provider_user", f"discord:{m['user_id']}")
                            for m in api.get(f"/channels/{channel_id}/thread-members") or []))
    if channel.get("type") in THREADS and channel.get("parent_id"):
        channel = api.get(f"/channels/{channel['parent_id']}")
    if not restricted(channel):
        return Readers.everyone()
    allowed = {o["id"] for o in channel["permission_overwrites"] if int(o.get("allow") or 0) & VIEW_CHANNEL}
    people = api.records(MEMBERS, guild=channel["guild_id"])
    return Readers.of(*(("provider_user", f"discord:{m['user']['id']}") for m in people
                        if m["user"]["id"] in allowed or allowed & set(m.get("roles") or [])))


def named(records: list, api) -> None:
    channel = api.connector.channel_record(api, "channel")
    for record in records:
        record["_channel_name"] = channel.get("name")


def author(message: dict) -> str:
    who = message.get("author") or {}
    return who.get("global_name") or who.get("username") or "someone"


def message_document(m: dict) -> DocumentData:
    lines = [f"{author(m)}: {m.get('content') or ''}"]
    answered = m.get("referenced_message")
    if answered:
        lines.insert(0, f"↱ in reply to {author(answered)}: {shorten(answered.get('content') or '', 200)}")
    files = ", ".join(a.get("filename", "") for a in m.get("attachments") or [])
    if files:
        lines.append(f"[files: {files}]")
    channel = m.get("_channel_name") or m["channel_id"]
    return DocumentData(
        external_id=m["id"], title=f"#{channel}: {shorten(m.get('content') or files or '(no text)', 80)}",
        content="\n".join(lines), type="message", author=author(m), created_at=parse_time(m.get("timestamp")),
        updated_at=parse_time(m.get("edited_timestamp") or m.get("timestamp")),
        url=f"https://discord.com/channels/{m.get('guild_id') or '@me'}/{m['channel_id']}/{m['id']}",
        metadata={"channel": m["channel_id"], "channel_name": m.get("_channel_name"),
                  "reply_to": (m.get("message_reference") or {}).get("message_id")})


def channel_document(c: dict) -> DocumentData:
    kind = "thread" if c.get("type") in THREADS else "channel"
    return DocumentData(
        external_id=c["id"], title=f"#{c.get('name')}", type=kind,
        content="\n".join(filter(None, [f"#{c.get('name')}", c.get("topic")])),
        url=f"https://discord.com/channels/{c.get('guild_id')}/{c['id']}",
        metadata={"guild": c.get("guild_id"), "type": c.get("type"), "parent": c.get("parent_id")})


def every_channel(api) -> list[dict]:
    """Every server's text and announcement channels, active threads and archived public threads."""
    found = []
    for guild in api.get("/users/@me/guilds") or []:
        listed = [c for c in api.get(f"/guilds/{guild['id']}/channels") or [] if c.get("type") in READABLE]
        listed += (api.get(f"/guilds/{guild['id']}/threads/active") or {}).get("threads") or []
        found += listed + [thread for parent in listed if parent.get("type") in (TEXT, ANNOUNCEMENT)
                           for thread in api.records(ARCHIVED, parent=parent["id"])]
    return found


CHANNELS = Channels("channel", RestStream("/users/@me/guilds", AFTER), name=lambda c: c.get("name") or c["id"],
                    lookup="/channels/{channel}", readers=channel_readers, pattern=r"\d+", every=every_channel)


class DiscordConnector(RestConnector):
    catalog = CatalogEntry(
        type="discord", display_name="Discord", category="comms", auth_method="api_key",
        description="Messages with their replies from the text channels and threads of the Discord servers "
                    "your bot is in.",
        docs_url="https://discord.com/developers/docs/intro",
        # 50 requests a second per bot overall; each route's own bucket comes from its headers.
        rate_limits=RateLimits(requests_per_minute=3000), base_url="https://discord.com",
        api_url="https://discord.com/api/v10", permissions=True)
    auth = api_key("Authorization", "Bot ")
    whoami = WhoAmI("/users/@me", id="id", handle="username", name=lambda u: u.get("global_name") or u["username"])
    errors = (OnError(404, error=ChannelNotFound, message="Discord has no channel {channel} the bot "
                      "can see ({said})."),
              OnError(403, error=ProviderRefused, message="Discord refused the bot ({said}): give it View Channel "
                      "and Read Message History there, or take the channel off this connection."))
    buckets = {"messages": RateLimits(requests_per_minute=3000)}
    route_rate_headers = True       # X-RateLimit-* speak of the route's bucket (X-RateLimit-Bucket)
    page_size = 100         # the most GET /channels/{id}/messages answers
    sandbox = {"base_url": "/discord", "api_url": "/discord/api/v10"}
    streams = (
        StreamSpec("channels", "channel", CHANNELS.listing, channel_document,
                   description="Text channels and threads", channels=CHANNELS, of_channels=True),
        StreamSpec("messages", "message", RestStream("/channels/{channel}/messages", AFTER,
                                                     params={"after": "0"}, bucket="messages"),
                   message_document, description="Messages with the message each one replies to", channels=CHANNELS,
                   incremental=Incremental.after_id("after", "id"), list_ids=True, complete=named,
                   keep=lambda m: m.get("type", 0) in KEPT,
                   fetch=FetchById("/channels/{channel}/messages/{id}", pattern=r"\d+")),
    )
