"""Granola (AI meeting notes): API key (``grn_...``) as a Bearer token.

Keys are created in the Granola desktop app under Settings > Connectors > API keys; they need a
Business or Enterprise plan and see personal and/or workspace-public notes, per the key's
access scopes.

Docs: https://docs.granola.ai/introduction
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class GranolaConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="granola",
        display_name="Granola",
        category="calls",
        auth_method="api_key",
        description="Meeting notes with their AI summaries, attendees and transcripts from Granola.",
        docs_url="https://docs.granola.ai/introduction",
        streams=(
            Stream("notes", "meeting_note", "Meeting notes with summary, attendees and calendar event"),
            Stream("transcripts", "transcript", "Meeting transcripts attached to notes"),
        ),
        # Burst of 25 requests per 5 seconds, 5 requests per second sustained.
        rate_limits=RateLimits(requests_per_minute=300),
        api_url="https://public-api.granola.ai",
    )
