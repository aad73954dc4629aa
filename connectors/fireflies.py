"""Fireflies.ai: API key as a Bearer token on the GraphQL API.

API access needs a Business plan or higher: Free and Pro keys are capped at 50 requests a day,
which is not enough to sync.

Docs: https://docs.fireflies.ai
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class FirefliesConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="fireflies",
        display_name="Fireflies",
        category="calls",
        auth_method="api_key",
        description=("Meeting transcripts with their summaries and action items from Fireflies "
                     "(API access needs a Fireflies Business plan)."),
        docs_url="https://docs.fireflies.ai",
        streams=(
            Stream("transcripts", "transcript", "Meeting transcripts with speakers, summary and action items"),
        ),
        # Business and Enterprise: 60 requests per minute per key (Free and Pro: 50 per day).
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://api.fireflies.ai/graphql",
    )
