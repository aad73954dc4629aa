"""Aircall: API ID and API token pair (HTTP Basic ``api_id:api_token``), entered as one key.

Keys are created by an Aircall admin under Integrations > API Keys; a cheap check is
``GET /v1/ping``. Call transcripts need Aircall's AI add-on.

Docs: https://developer.aircall.io/api-references/
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class AircallConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="aircall",
        display_name="Aircall",
        category="calls",
        auth_method="api_key",
        description="Phone calls with their recordings, comments and AI transcripts, and contacts, from Aircall.",
        docs_url="https://developer.aircall.io/api-references/",
        streams=(
            Stream("calls", "call", "Inbound and outbound calls with comments, tags and recording links"),
            Stream("transcripts", "transcript", "Call transcripts (Aircall AI add-on)"),
            Stream("contacts", "contact", "Shared company contacts"),
        ),
        # 60 requests per minute per company.
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://api.aircall.io/v1",
    )
