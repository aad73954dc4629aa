"""Discord: OAuth2 bot install into a server (guild); the bot reads the channels it can see.

The ``bot`` scope adds the app's bot to the chosen server with the requested permissions
(VIEW_CHANNEL 1<<10 | READ_MESSAGE_HISTORY 1<<16 = 66560). Message text needs the privileged
Message Content intent enabled for the app.

Docs: https://discord.com/developers/docs/intro
OAuth: https://discord.com/developers/docs/topics/oauth2
Rate limits: https://discord.com/developers/docs/topics/rate-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class DiscordConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="discord",
        display_name="Discord",
        category="comms",
        auth_method="oauth_redirect",
        description="Messages, channels and server details from the Discord servers the bot is added to.",
        docs_url="https://discord.com/developers/docs/intro",
        streams=(
            Stream("servers", "server", "Servers (guilds) the bot belongs to"),
            Stream("channels", "channel", "Text channels and threads", channel_kind="server"),
            Stream("messages", "message", "Channel messages", channel_kind="channel"),
        ),
        # Global limit: 50 requests per second per bot; per-route limits vary and are read from
        # the X-RateLimit-* headers.
        rate_limits=RateLimits(requests_per_minute=3000),
        base_url="https://discord.com",
        api_url="https://discord.com/api/v10",
        oauth=OAuthEndpoints(
            authorize="/oauth2/authorize",
            token="/api/oauth2/token",
            revoke="/api/oauth2/token/revoke",
            scopes=("identify", "guilds", "bot"),
            authorize_params={"permissions": "66560"},
        ),
    )
