"""Microsoft 365: Microsoft identity platform OAuth; reads Teams channels, OneDrive and
SharePoint through Microsoft Graph.

ChannelMessage.Read.All, Files.Read.All and Sites.Read.All need tenant admin consent. The
Microsoft identity platform has no RFC 7009 revocation endpoint.

Docs: https://learn.microsoft.com/en-us/graph/overview
OAuth: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
Throttling: https://learn.microsoft.com/en-us/graph/throttling-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class Microsoft365Connector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="microsoft_365",
        display_name="Microsoft 365",
        category="docs",
        auth_method="oauth_redirect",
        description="Teams channel conversations, OneDrive files and SharePoint pages from Microsoft 365.",
        docs_url="https://learn.microsoft.com/en-us/graph/overview",
        streams=(
            Stream("channel_messages", "message", "Teams channel messages with their replies", channel_kind="channel"),
            Stream("files", "file", "OneDrive and SharePoint document library files", channel_kind="drive"),
            Stream("site_pages", "page", "SharePoint site pages", channel_kind="site"),
        ),
        # Teams: GET channel message is 5 requests/second per app per tenant, and any app is held
        # to 4 requests/second against a single team or channel. SharePoint/OneDrive meter
        # resource units per app per tenant (scaled by licences); Graph's global cap is
        # 130,000 requests per 10 seconds per app.
        rate_limits=RateLimits(requests_per_minute=240),
        base_url="https://login.microsoftonline.com",
        api_url="https://graph.microsoft.com",
        oauth=OAuthEndpoints(
            authorize="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token="https://login.microsoftonline.com/common/oauth2/v2.0/token",
            scopes=("openid", "profile", "offline_access", "User.Read", "Team.ReadBasic.All",
                    "Channel.ReadBasic.All", "ChannelMessage.Read.All", "Files.Read.All", "Sites.Read.All"),
        ),
    )
