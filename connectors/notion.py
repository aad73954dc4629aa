"""Notion: public integration (OAuth); reads the pages and databases a user shares with it.

Docs: https://developers.notion.com/reference/intro
OAuth: https://developers.notion.com/docs/authorization
Rate limits: https://developers.notion.com/reference/request-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class NotionConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="notion",
        display_name="Notion",
        category="docs",
        auth_method="oauth_redirect",
        description="Pages, database entries and comments from the Notion pages shared with the integration.",
        docs_url="https://developers.notion.com/reference/intro",
        streams=(
            Stream("pages", "page", "Pages shared with the integration, with their block content"),
            Stream("database_entries", "database_entry", "Entries of shared databases", channel_kind="database"),
            Stream("comments", "comment", "Comments on pages and blocks"),
        ),
        # Average of 3 requests per second per connection (bursts allowed), plus a per-workspace
        # limit shared by all connections that scales with the workspace plan.
        rate_limits=RateLimits(requests_per_minute=180),
        base_url="https://api.notion.com",
        api_url="https://api.notion.com",
        oauth=OAuthEndpoints(
            authorize="/v1/oauth/authorize",
            token="/v1/oauth/token",
            revoke="/v1/oauth/revoke",
            # Notion has no OAuth scopes: capabilities (read content, read comments) are set on the
            # integration itself, and the user picks the pages to share on the consent screen.
            scopes=(),
            authorize_params={"owner": "user"},
            # The token and revoke endpoints take the client id and secret as HTTP Basic auth.
            token_auth_method="client_secret_basic",
        ),
    )
