"""Pylon (B2B support): admin-created API token as a Bearer token.

Tokens are created under Settings > Integrations & dev > API tokens; ``GET /me`` is the cheap
check. EU tenants (tokens prefixed ``pylon_api_eu_``) use https://api.eu.usepylon.com.

Docs: https://docs.usepylon.com/pylon-docs/developer/api/api-reference
Rate limits: https://docs.usepylon.com/pylon-docs/developer/api/rate-limits
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class PylonConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="pylon",
        display_name="Pylon",
        category="support",
        auth_method="api_key",
        description="Support issues with their messages, customer accounts and contacts from Pylon.",
        docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference",
        streams=(
            Stream("issues", "issue", "Support issues with their messages"),
            Stream("accounts", "account", "Customer accounts"),
            Stream("contacts", "contact", "Customer contacts"),
        ),
        # Per organization and per endpoint: 30, 120 or 300 requests per minute depending on the
        # endpoint; default to the lowest tier.
        rate_limits=RateLimits(requests_per_minute=30),
        api_url="https://api.usepylon.com",
    )
