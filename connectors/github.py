"""GitHub: OAuth web flow (GitHub App user tokens expire and rotate their refresh tokens).

Docs: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
GitHub Enterprise Server: set ``base_url`` to ``https://HOST`` and ``api_url`` to ``https://HOST/api/v3``.
"""
from .base import Account, CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream
from .http import ProviderClient


class GitHubConnector(Connector):
    catalog = CatalogEntry(
        type="github",
        display_name="GitHub",
        category="devtools",
        auth_method="oauth_redirect",
        description="Repositories, issues, pull requests and discussions, with their comments.",
        docs_url="https://docs.github.com/en/rest",
        streams=(
            Stream("repositories", "repository", "Repositories the account can read", channel_kind="repository"),
            Stream("issues", "issue", "Issues with their comments", channel_kind="repository"),
            Stream("pull_requests", "pull_request", "Pull requests with their comments", channel_kind="repository"),
            Stream("discussions", "discussion", "Discussions with their comments", channel_kind="repository"),
        ),
        # 5,000 requests an hour per user token.
        rate_limits=RateLimits(requests_per_minute=80, requests_per_hour=5000),
        base_url="https://github.com",
        api_url="https://api.github.com",
        oauth=OAuthEndpoints(
            authorize="/login/oauth/authorize",
            token="/login/oauth/access_token",
            scopes=("repo", "read:user", "read:discussion"),
        ),
    )

    def account(self, access_token: str) -> Account:
        client = ProviderClient("GitHub", self.settings.api_url, timeout=self.settings.timeout,
                                headers={"Authorization": f"Bearer {access_token}",
                                         "Accept": "application/vnd.github+json",
                                         "X-GitHub-Api-Version": "2022-11-28"})
        user = client.get_json("/user")
        return Account(external_id=str(user["id"]), handle=user.get("login"),
                       display_name=user.get("name") or user.get("login"), avatar_url=user.get("avatar_url"))

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"base_url": f"{sandbox_url}/github", "api_url": f"{sandbox_url}/github/api",
                "client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret"}
