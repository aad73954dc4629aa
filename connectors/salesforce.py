"""Salesforce: OAuth 2.0 web server flow through a Connected App / External Client App.

The token response carries the org's ``instance_url``; REST calls go to
``{instance_url}/services/data/vXX.X``, so there is no fixed ``api_url``. Sandboxes log in at
https://test.salesforce.com; orgs with My Domain can use https://MyDomain.my.salesforce.com.

Docs: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest.htm
OAuth endpoints: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_endpoints.htm
Limits: https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class SalesforceConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="salesforce",
        display_name="Salesforce",
        category="crm",
        auth_method="oauth_redirect",
        description="Accounts, contacts, opportunities and activities from your Salesforce org.",
        docs_url="https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest.htm",
        streams=(
            Stream("accounts", "account", "Accounts"),
            Stream("contacts", "contact", "Contacts"),
            Stream("opportunities", "deal", "Opportunities with their stage and amount"),
            Stream("activities", "activity", "Tasks and events logged against records"),
        ),
        # Org-wide rolling 24-hour allocation: Enterprise Edition is 100,000 + 1,000 per licence
        # (about 4,166 an hour at the base), shared by every integration in the org; at most 25
        # concurrent long-running (20s+) requests.
        rate_limits=RateLimits(requests_per_hour=4000),
        base_url="https://login.salesforce.com",
        api_url=None,
        oauth=OAuthEndpoints(
            authorize="/services/oauth2/authorize",
            token="/services/oauth2/token",
            revoke="/services/oauth2/revoke",
            scopes=("api", "refresh_token", "id"),
        ),
    )
