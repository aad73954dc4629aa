"""Zendesk: OAuth authorization code flow against the customer's own Zendesk subdomain.

Every URL is per account: https://{subdomain}.zendesk.com, with the Support API under /api/v2
and the Help Center API under /api/v2/help_center. ``base_url`` is therefore left unset and
must be configured per connection; the OAuth endpoints below are paths under it. Tokens are
revoked with ``DELETE /api/v2/oauth/tokens/current.json`` rather than a revocation endpoint.

Docs: https://developer.zendesk.com/api-reference/
OAuth: https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/
Rate limits: https://developer.zendesk.com/api-reference/introduction/rate-limits
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class ZendeskConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="zendesk",
        display_name="Zendesk",
        category="support",
        auth_method="oauth_redirect",
        description="Support tickets with their comments, users and Help Center articles from Zendesk.",
        docs_url="https://developer.zendesk.com/api-reference/",
        streams=(
            Stream("tickets", "ticket", "Tickets with their comments"),
            Stream("users", "user", "End users and agents"),
            Stream("articles", "article", "Help Center articles"),
        ),
        # Per account and plan: Team 200 requests/minute, Growth and Professional 400,
        # Enterprise 700, Enterprise Plus or the High Volume API add-on 2,500.
        rate_limits=RateLimits(requests_per_minute=200),
        base_url=None,  # https://{subdomain}.zendesk.com
        api_url=None,  # https://{subdomain}.zendesk.com/api/v2
        oauth=OAuthEndpoints(
            authorize="/oauth/authorizations/new",
            token="/oauth/tokens",
            scopes=("tickets:read", "users:read", "hc:read"),
        ),
    )
