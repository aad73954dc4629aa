"""Jira Cloud: Atlassian OAuth 2.0 (3LO); reads projects, issues and sprints.

After the token exchange, GET https://api.atlassian.com/oauth/token/accessible-resources gives
the site's cloud id; the platform API lives at https://api.atlassian.com/ex/jira/{cloudid}/rest/api/3
and the Jira Software (boards, sprints) API at .../ex/jira/{cloudid}/rest/agile/1.0. Atlassian
has no token revocation endpoint.

Docs: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/
OAuth: https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
Scopes: https://developer.atlassian.com/cloud/jira/software/scopes-for-oauth-2-3LO-and-forge-apps/
Rate limits: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class JiraConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="jira",
        display_name="Jira",
        category="devtools",
        auth_method="oauth_redirect",
        description="Projects, issues with their comments, and sprints from your Jira Cloud site.",
        docs_url="https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/",
        streams=(
            Stream("projects", "project", "Projects the user can browse"),
            Stream("issues", "issue", "Issues with their comments and changelog", channel_kind="project"),
            Stream("sprints", "sprint", "Sprints of Scrum boards", channel_kind="board"),
        ),
        # 3LO apps get points-based hourly quotas plus per-second burst limits per tenant and
        # endpoint (a GET costs 1 point plus points per object); no fixed request count is
        # published, so this is a conservative pace under the hourly quota.
        rate_limits=RateLimits(requests_per_minute=100),
        base_url="https://auth.atlassian.com",
        api_url="https://api.atlassian.com",
        oauth=OAuthEndpoints(
            authorize="/authorize",
            token="/oauth/token",
            # Classic Jira platform scopes plus the granular Jira Software ones boards/sprints need.
            scopes=("read:jira-work", "read:jira-user", "read:board-scope:jira-software",
                    "read:sprint:jira-software", "offline_access"),
            authorize_params={"audience": "api.atlassian.com", "prompt": "consent"},
        ),
    )
