"""LinkedIn: track a company page by its handle (vanity name), read with the operator's token.

The handle resolves through the Organization Lookup API
(``GET /rest/organizations?q=vanityName&vanityName=...``). Posts are read with the Posts API
(``GET /rest/posts?q=author&author=urn:li:organization:...``), which needs a 3-legged member
token of the operator's app with the Community Management API product; r_organization_social
only returns posts of pages that member administers. Every call sends ``Linkedin-Version: YYYYMM``
and ``X-Restli-Protocol-Version: 2.0.0``.

Docs: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
Organization lookup: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/organization-lookup-api
Rate limits: https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class LinkedInConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="linkedin",
        display_name="LinkedIn",
        category="social",
        auth_method="handle",
        description="Posts of a LinkedIn company page you track by its handle.",
        docs_url="https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api",
        streams=(Stream("posts", "post", "Posts of the tracked page"),),
        # Per-application and per-member daily limits, per endpoint, reset at midnight UTC; the
        # numbers are not published (they show in the app's Developer Portal analytics), so this
        # is a conservative pace.
        rate_limits=RateLimits(requests_per_minute=10, requests_per_hour=300),
        api_url="https://api.linkedin.com/rest",
        # The operator's member access token for the Community Management API.
        operator_settings=("bearer_token",),
    )
