"""HubSpot: public app OAuth; reads CRM records of the installing HubSpot account.

Docs: https://developers.hubspot.com/docs/api/overview
OAuth: https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens
(the legacy /oauth/v1/* token endpoints are deprecated as of 2027-02-16 in favour of the
date-versioned /oauth/2026-03/* ones used here).
Rate limits: https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class HubSpotConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="hubspot",
        display_name="HubSpot",
        category="crm",
        auth_method="oauth_redirect",
        description="Contacts, companies, deals and tickets from your HubSpot account.",
        docs_url="https://developers.hubspot.com/docs/api/overview",
        streams=(
            Stream("contacts", "contact", "Contacts"),
            Stream("companies", "company", "Companies"),
            Stream("deals", "deal", "Deals with their pipeline stage"),
            Stream("tickets", "ticket", "Service tickets"),
        ),
        # Apps using OAuth: 100 requests every 10 seconds per installed account (no daily cap);
        # the CRM search endpoints are separately limited to a few requests per second.
        rate_limits=RateLimits(requests_per_minute=600),
        base_url="https://app.hubspot.com",
        api_url="https://api.hubapi.com",
        oauth=OAuthEndpoints(
            authorize="https://app.hubspot.com/oauth/authorize",
            token="https://api.hubapi.com/oauth/2026-03/token",
            revoke="https://api.hubapi.com/oauth/2026-03/token/revoke",
            # ``tickets`` is HubSpot's only scope for ticket objects.
            scopes=("oauth", "crm.objects.contacts.read", "crm.objects.companies.read",
                    "crm.objects.deals.read", "tickets"),
        ),
    )
