"""X (Twitter): track a public account by handle, read with the operator's app bearer token.

Docs: https://docs.x.com/x-api/users/user-lookup-by-username
"""
import re

from core.errors import ValidationError

from .base import Account, CatalogEntry, Connector, RateLimits, Stream
from .errors import HandleNotFound
from .http import ProviderClient

HANDLE = re.compile(r"^@?([A-Za-z0-9_]{1,15})$")


class TwitterConnector(Connector):
    catalog = CatalogEntry(
        type="twitter",
        display_name="X (Twitter)",
        category="social",
        auth_method="handle",
        description="Posts of a public X account you track by its handle.",
        docs_url="https://docs.x.com/x-api/introduction",
        streams=(Stream("posts", "post", "Posts of the tracked account"),),
        # User lookup: 300 requests / 15 min per app; timelines: 1,500 / 15 min.
        rate_limits=RateLimits(requests_per_minute=20, requests_per_hour=1200),
        api_url="https://api.x.com",
        operator_settings=("bearer_token",),
    )

    @staticmethod
    def normalize_handle(handle: str) -> str:
        match = HANDLE.match((handle or "").strip())
        if not match:
            raise ValidationError("An X handle is 1 to 15 letters, digits or underscores, with or without @.",
                                  code="invalid_handle", details={"field": "account_handle"})
        return match.group(1)

    def resolve_handle(self, handle: str) -> Account:
        username = self.normalize_handle(handle)
        client = ProviderClient("X", self.settings.api_url, timeout=self.settings.timeout,
                                headers={"Authorization": f"Bearer {self.settings.get('bearer_token')}"})
        body = client.get_json(f"/2/users/by/username/{username}",
                               params={"user.fields": "name,profile_image_url,public_metrics"})
        user = (body or {}).get("data")
        if not user:
            raise HandleNotFound(f"There is no X account @{username}.", details={"handle": username})
        return Account(external_id=str(user["id"]), handle=user["username"], display_name=user.get("name"),
                       avatar_url=user.get("profile_image_url"),
                       followers=(user.get("public_metrics") or {}).get("followers_count"))

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"api_url": f"{sandbox_url}/x", "bearer_token": "sandbox-x-bearer"}
