"""Claude API (Anthropic): an Admin API key (``sk-ant-admin...``) for usage and cost reports
and the Compliance API's Activity Feed; claude.ai chat history (Claude Enterprise) needs a
Compliance Access Key created in claude.ai instead. Used to detect shadow AI usage.

Keys go in the ``x-api-key`` header with ``anthropic-version: 2023-06-01``.

Docs: https://platform.claude.com/docs/en/manage-claude/usage-cost-api
Compliance API: https://platform.claude.com/docs/en/manage-claude/compliance-api
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class ClaudeApiConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="claude_api",
        display_name="Claude API",
        category="ai",
        auth_method="api_key",
        description=("Claude usage and cost by model, workspace and API key, plus activity and "
                     "conversation history, for shadow-AI detection."),
        docs_url="https://platform.claude.com/docs/en/manage-claude/usage-cost-api",
        streams=(
            Stream("usage", "usage_report", "Token usage by model, workspace and API key"),
            Stream("costs", "cost_report", "Daily cost in USD by workspace and line item"),
            Stream("activities", "activity", "Compliance Activity Feed events"),
            Stream("chats", "conversation", "claude.ai chats with their messages (Claude Enterprise)"),
        ),
        # The usage/cost endpoints are meant to be polled about once a minute, with short bursts
        # allowed for pagination; no per-request limit is published for the Admin API.
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://api.anthropic.com",
    )
