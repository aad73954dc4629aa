"""Notion Knowledge Sync: outbound; mirrors the workspace knowledge base into a Notion database.

Connects over the same Notion OAuth flow as the inbound Notion connector, but writes: the
integration needs the "insert content" and "update content" capabilities, and the user shares
the target database (or its parent page) on the consent screen.

Docs: https://developers.notion.com/reference/intro
OAuth: https://developers.notion.com/docs/authorization
Rate limits: https://developers.notion.com/reference/request-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class NotionKnowledgeSyncConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="notion_knowledge_sync",
        display_name="Notion Knowledge Sync",
        category="docs",
        auth_method="oauth_redirect",
        direction="outbound",
        description="Mirrors your knowledge base out into a Notion database in your own Notion workspace.",
        docs_url="https://developers.notion.com/reference/intro",
        streams=(
            Stream("knowledge_articles", "knowledge_article",
                   "Knowledge-base articles written as pages of the target database", channel_kind="database"),
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
            # No OAuth scopes in Notion: capabilities are configured on the integration.
            scopes=(),
            authorize_params={"owner": "user"},
            token_auth_method="client_secret_basic",
        ),
    )
