"""Slack: OAuth v2 (bot token) install into a workspace; reads public channels the app is in.

Docs: https://docs.slack.dev/apis/web-api/
OAuth: https://docs.slack.dev/authentication/installing-with-oauth
Rate limits: https://docs.slack.dev/apis/web-api/rate-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class SlackConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="slack",
        display_name="Slack",
        category="comms",
        auth_method="oauth_redirect",
        description="Messages, thread replies and shared files from the Slack channels your app is in.",
        docs_url="https://docs.slack.dev/apis/web-api/",
        streams=(
            Stream("messages", "message", "Channel messages with their thread replies", channel_kind="channel"),
            Stream("files", "file", "Files shared in channels", channel_kind="channel"),
            Stream("users", "user", "Workspace members, to resolve authors"),
        ),
        # conversations.history / conversations.replies are Web API Tier 3 (50+ per minute, per
        # method per workspace per app). Commercially distributed apps that are not
        # Marketplace-approved and were created after 2025-05-29 get 1 request/minute on those
        # two methods instead.
        rate_limits=RateLimits(requests_per_minute=50),
        base_url="https://slack.com",
        api_url="https://slack.com/api",
        oauth=OAuthEndpoints(
            authorize="/oauth/v2/authorize",
            token="/api/oauth.v2.access",
            revoke="/api/auth.revoke",
            # Bot scopes, sent as ``scope``; reads public channels only (private ones need groups:*).
            scopes=("channels:read", "channels:history", "files:read", "users:read", "team:read"),
        ),
    )
