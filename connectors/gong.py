"""Gong: OAuth app (Gong Collective); reads calls and transcripts of the customer's company.

The token response carries ``api_base_url_for_customer`` (for example
https://us-12345.api.gong.io); API calls must go there. ``api_url`` below is only the default.

Docs: https://gong.app.gong.io/settings/api/documentation
OAuth: https://help.gong.io/docs/create-an-app-for-gong
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class GongConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="gong",
        display_name="Gong",
        category="calls",
        auth_method="oauth_redirect",
        description="Recorded calls with their participants, topics and full transcripts from Gong.",
        docs_url="https://gong.app.gong.io/settings/api/documentation",
        streams=(
            Stream("calls", "call", "Calls with participants, duration and analyzed content"),
            Stream("transcripts", "transcript", "Speaker-attributed call transcripts"),
            Stream("users", "user", "Gong users, to resolve call participants"),
        ),
        # Default company limit: 3 API calls per second and 10,000 per day.
        rate_limits=RateLimits(requests_per_minute=180, requests_per_hour=400),
        base_url="https://app.gong.io",
        api_url="https://api.gong.io",
        oauth=OAuthEndpoints(
            authorize="/oauth2/authorize",
            token="/oauth2/generate-customer-token",
            scopes=("api:calls:read:basic", "api:calls:read:extensive", "api:calls:read:transcript",
                    "api:users:read"),
            # Gong authenticates the client at the token endpoint with HTTP Basic.
            token_auth_method="client_secret_basic",
        ),
    )
