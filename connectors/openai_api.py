"""OpenAI API: an organization Admin API key (``sk-admin-...``, created by an org Owner) for
usage, costs and audit logs; ChatGPT Enterprise conversation logs come from the Compliance Logs
Platform at https://api.chatgpt.com/v1/compliance/workspaces/{workspace_id}/logs, which needs a
Compliance API key and the workspace id. Used to detect shadow AI usage.

Docs: https://platform.openai.com/docs/api-reference/usage
Compliance API: https://help.openai.com/en/articles/9261474-compliance-apis-for-enterprise-customers
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class OpenAIApiConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="openai_api",
        display_name="OpenAI API",
        category="ai",
        auth_method="api_key",
        description=("OpenAI usage, costs and audit logs, plus ChatGPT Enterprise conversation logs, "
                     "for shadow-AI detection."),
        docs_url="https://platform.openai.com/docs/api-reference/usage",
        streams=(
            Stream("usage", "usage_report", "Completions usage by project, user, API key and model"),
            Stream("costs", "cost_report", "Daily costs by project and line item"),
            Stream("audit_logs", "audit_log", "Organization audit log events"),
            Stream("chatgpt_conversations", "conversation",
                   "ChatGPT Enterprise conversation message logs (Compliance API)"),
        ),
        # No numeric limit is published for the Admin or Compliance APIs (they answer 429);
        # conservative default for daily-bucket reports and log file downloads.
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://api.openai.com",
    )
