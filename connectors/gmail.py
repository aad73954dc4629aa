"""Gmail: a personal connector, each member connects their own mailbox over Google OAuth.

Docs: https://developers.google.com/gmail/api/reference/rest
"""
from .base import Account, CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream
from .http import ProviderClient


class GmailConnector(Connector):
    catalog = CatalogEntry(
        type="gmail",
        display_name="Gmail",
        category="comms",
        auth_method="oauth_redirect",
        ownership="personal",
        description="Your mailbox: threads and messages, connected by each member for themselves.",
        docs_url="https://developers.google.com/gmail/api",
        streams=(Stream("messages", "email", "Messages, grouped into threads"),),
        # Gmail's per-user quota is 250 units/s; messages.get costs 5 units.
        rate_limits=RateLimits(requests_per_minute=600),
        base_url="https://accounts.google.com",
        api_url="https://gmail.googleapis.com",
        oauth=OAuthEndpoints(
            authorize="https://accounts.google.com/o/oauth2/v2/auth",
            token="https://oauth2.googleapis.com/token",
            revoke="https://oauth2.googleapis.com/revoke",
            scopes=("openid", "email", "profile", "https://www.googleapis.com/auth/gmail.readonly"),
            authorize_params={"access_type": "offline", "prompt": "consent"},
        ),
    )

    def account(self, access_token: str) -> Account:
        client = ProviderClient("Gmail", self.settings.api_url, timeout=self.settings.timeout,
                                headers={"Authorization": f"Bearer {access_token}"})
        profile = client.get_json("/gmail/v1/users/me/profile")
        email = profile["emailAddress"]
        return Account(external_id=email, handle=email, display_name=email)

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        google = f"{sandbox_url}/google"
        return {"base_url": google, "api_url": google,
                "authorize_url": f"{google}/o/oauth2/v2/auth", "token_url": f"{google}/token",
                "revoke_url": f"{google}/revoke",
                "client_id": "sandbox-google-client", "client_secret": "sandbox-google-secret"}
