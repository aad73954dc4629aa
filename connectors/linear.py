"""Linear: OAuth 2.0 app (user actor); reads the workspace through the GraphQL API.

Linear takes its scopes comma-separated; ``read`` is the only one needed.

Docs: https://linear.app/developers
OAuth: https://linear.app/developers/oauth-2-0-authentication
Rate limits: https://linear.app/developers/rate-limiting
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class LinearConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="linear",
        display_name="Linear",
        category="devtools",
        auth_method="oauth_redirect",
        description="Issues with their comments, projects and cycles from your Linear workspace.",
        docs_url="https://linear.app/developers",
        streams=(
            Stream("issues", "issue", "Issues with their comments", channel_kind="team"),
            Stream("projects", "project", "Projects with their updates"),
            Stream("cycles", "cycle", "Cycles (sprints)", channel_kind="team"),
        ),
        # Leaky bucket per user per OAuth app: 5,000 requests and 2,000,000 complexity points per
        # hour; a single query may cost at most 10,000 points.
        rate_limits=RateLimits(requests_per_minute=80, requests_per_hour=5000),
        base_url="https://linear.app",
        api_url="https://api.linear.app/graphql",
        oauth=OAuthEndpoints(
            authorize="https://linear.app/oauth/authorize",
            token="https://api.linear.app/oauth/token",
            revoke="https://api.linear.app/oauth/revoke",
            scopes=("read",),
        ),
    )
