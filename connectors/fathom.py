"""Fathom (AI meeting notetaker): API key, sent in the ``X-Api-Key`` header.

Keys are created in Fathom under Settings > API Access; a key sees the meetings its user can
see (and their team's shared meetings).

Docs: https://developers.fathom.ai/api-overview
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class FathomConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="fathom",
        display_name="Fathom",
        category="calls",
        auth_method="api_key",
        description="Recorded meetings with their AI summaries, action items and transcripts from Fathom.",
        docs_url="https://developers.fathom.ai/api-overview",
        streams=(
            Stream("meetings", "meeting", "Meetings with summary, action items and invitees"),
            Stream("transcripts", "transcript", "Speaker-attributed meeting transcripts"),
        ),
        # 60 calls per 60-second window per account (heavy requests: 30 per 60 seconds).
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://api.fathom.ai/external/v1",
    )
