"""Outlook: a personal connector, each member connects their own mailbox via the Microsoft
identity platform (Entra ID, multi-tenant ``common`` endpoint) and Microsoft Graph.

The Microsoft identity platform has no RFC 7009 token revocation endpoint; disconnecting drops
the stored tokens (users revoke consent at https://myapps.microsoft.com).

Docs: https://learn.microsoft.com/en-us/graph/api/resources/mail-api-overview
OAuth: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
Throttling: https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class OutlookConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="outlook",
        display_name="Outlook",
        category="comms",
        auth_method="oauth_redirect",
        ownership="personal",
        description="Your Outlook mailbox: messages and conversations, connected by each member for themselves.",
        docs_url="https://learn.microsoft.com/en-us/graph/api/resources/mail-api-overview",
        streams=(Stream("messages", "email", "Messages, grouped into conversations"),),
        # Outlook service limit: 10,000 requests per 10 minutes per app per mailbox, and at most
        # 4 concurrent requests.
        rate_limits=RateLimits(requests_per_minute=1000),
        base_url="https://login.microsoftonline.com",
        api_url="https://graph.microsoft.com",
        oauth=OAuthEndpoints(
            authorize="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token="https://login.microsoftonline.com/common/oauth2/v2.0/token",
            scopes=("openid", "email", "profile", "offline_access", "User.Read", "Mail.Read"),
        ),
    )
