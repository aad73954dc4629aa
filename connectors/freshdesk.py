"""Freshdesk: API key, sent as the HTTP Basic username with ``X`` as the password.

The API is per account: https://{domain}.freshdesk.com/api/v2, so ``api_url`` is configured
per connection; a cheap check is ``GET /api/v2/agents/me``.

Docs: https://developers.freshdesk.com/api/
Rate limits: https://support.freshdesk.com/support/solutions/articles/225439-what-are-the-rate-limits-for-the-api-calls-to-freshdesk
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class FreshdeskConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="freshdesk",
        display_name="Freshdesk",
        category="support",
        auth_method="api_key",
        description="Support tickets with their conversations, contacts and agents from Freshdesk.",
        docs_url="https://developers.freshdesk.com/api/",
        streams=(
            Stream("tickets", "ticket", "Tickets with their conversations"),
            Stream("contacts", "contact", "Customer contacts"),
            Stream("agents", "agent", "Support agents"),
        ),
        # Per account and plan: Growth 200 calls/minute (ticket and contact lists 20/minute),
        # Pro 400, Enterprise 700; trial accounts 50.
        rate_limits=RateLimits(requests_per_minute=200),
        base_url=None,  # https://{domain}.freshdesk.com
        api_url=None,  # https://{domain}.freshdesk.com/api/v2
    )
