"""Circleback (AI meeting notes): coming soon.

Circleback has no public REST API yet: meeting data leaves Circleback through automation
webhooks (signed with a per-automation secret) and through its OAuth MCP server at
https://app.circleback.ai/api/mcp. The catalog lists it for discovery with an API key connect
method until a key-based API ships.

Docs: https://circleback.ai/docs/webhook-integration
"""
from .base import CatalogEntry, Connector, Stream


class CirclebackConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="circleback",
        display_name="Circleback",
        category="calls",
        auth_method="api_key",
        availability="coming_soon",
        description="Meeting notes, action items and transcripts from Circleback.",
        docs_url="https://circleback.ai/docs/webhook-integration",
        streams=(
            Stream("meetings", "meeting", "Meetings with their notes, attendees and transcript"),
            Stream("action_items", "action_item", "Action items with assignee and status"),
        ),
        # No public API, so no published rate limit.
    )
