"""Pipedrive: API key (personal API token), verified with ``GET /users/me``.

Docs: https://developers.pipedrive.com/docs/api/v1
"""
from .base import Account, CatalogEntry, Connector, RateLimits, Stream
from .http import ProviderClient


class PipedriveConnector(Connector):
    catalog = CatalogEntry(
        type="pipedrive",
        display_name="Pipedrive",
        category="crm",
        auth_method="api_key",
        description="Leads, deals and activities from your Pipedrive company.",
        docs_url="https://developers.pipedrive.com/docs/api/v1",
        streams=(
            Stream("leads", "lead", "Leads"),
            Stream("deals", "deal", "Deals"),
            Stream("activities", "activity", "Calls, meetings, tasks and other activities"),
        ),
        # Token-based limits: 80 requests per 2 seconds on the Essential plan.
        rate_limits=RateLimits(requests_per_minute=1200),
        api_url="https://api.pipedrive.com/v1",
    )

    def client(self, api_key: str) -> ProviderClient:
        return ProviderClient("Pipedrive", self.settings.api_url, timeout=self.settings.timeout,
                              headers={"x-api-token": api_key})

    def check(self, api_key: str) -> Account:
        body = self.client(api_key).get_json("/users/me", checking_credentials=True)
        user = (body or {}).get("data") or {}
        company = user.get("company_name") or user.get("company_domain")
        return Account(external_id=str(user.get("company_id") or user.get("id")),
                       handle=user.get("email"), display_name=company or user.get("name"))

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"api_url": f"{sandbox_url}/pipedrive/api/v1"}
