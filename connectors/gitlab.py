"""GitLab: OAuth 2.0 authorization code flow on GitLab.com (or a self-managed instance).

Self-managed GitLab: set ``base_url`` to ``https://HOST`` and ``api_url`` to ``https://HOST/api/v4``.

Docs: https://docs.gitlab.com/api/rest/
OAuth: https://docs.gitlab.com/api/oauth2/
Rate limits: https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class GitLabConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="gitlab",
        display_name="GitLab",
        category="devtools",
        auth_method="oauth_redirect",
        description="Projects, merge requests and issues, with their discussions, from GitLab.",
        docs_url="https://docs.gitlab.com/api/rest/",
        streams=(
            Stream("projects", "project", "Projects the user is a member of", channel_kind="project"),
            Stream("merge_requests", "merge_request", "Merge requests with their discussions", channel_kind="project"),
            Stream("issues", "issue", "Issues with their notes", channel_kind="project"),
        ),
        # GitLab.com: authenticated API traffic is limited to 2,000 requests per minute per user
        # (GET /projects additionally to 2,000 per 10 minutes).
        rate_limits=RateLimits(requests_per_minute=2000),
        base_url="https://gitlab.com",
        api_url="https://gitlab.com/api/v4",
        oauth=OAuthEndpoints(
            authorize="/oauth/authorize",
            token="/oauth/token",
            revoke="/oauth/revoke",
            scopes=("read_api", "read_user"),
        ),
    )
