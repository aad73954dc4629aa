"""Confluence Cloud: Atlassian OAuth 2.0 (3LO); reads the spaces and pages the user can see.

After the token exchange, GET https://api.atlassian.com/oauth/token/accessible-resources gives
the site's cloud id; Confluence REST v2 lives at
https://api.atlassian.com/ex/confluence/{cloudid}/wiki/api/v2. Atlassian has no token
revocation endpoint (users remove access under their account's connected apps).

Docs: https://developer.atlassian.com/cloud/confluence/rest/v2/intro/
OAuth: https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/
Rate limits: https://developer.atlassian.com/cloud/confluence/rate-limiting/
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class ConfluenceConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="confluence",
        display_name="Confluence",
        category="docs",
        auth_method="oauth_redirect",
        description="Pages, spaces and comments from your Confluence Cloud site.",
        docs_url="https://developer.atlassian.com/cloud/confluence/rest/v2/intro/",
        streams=(
            Stream("spaces", "space", "Spaces the user can see"),
            Stream("pages", "page", "Pages with their body content", channel_kind="space"),
            Stream("comments", "comment", "Footer and inline comments on pages", channel_kind="space"),
        ),
        # 3LO apps get points-based hourly quotas plus 10-second burst limits (a GET costs 1 point
        # plus points per object returned); Atlassian publishes no fixed request count, so this is
        # a conservative pace that leaves room under the hourly quota.
        rate_limits=RateLimits(requests_per_minute=100),
        base_url="https://auth.atlassian.com",
        api_url="https://api.atlassian.com",
        oauth=OAuthEndpoints(
            authorize="/authorize",
            token="/oauth/token",
            # Granular scopes: the REST v2 API is documented with granular scopes only.
            scopes=("read:space:confluence", "read:page:confluence", "read:comment:confluence",
                    "read:me", "offline_access"),
            authorize_params={"audience": "api.atlassian.com", "prompt": "consent"},
        ),
    )
