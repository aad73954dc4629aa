"""Intercom: public app OAuth; reads conversations, contacts and Help Center articles.

Intercom takes no scopes on the authorize URL: the app's permissions are chosen in the
Developer Hub. Workspaces hosted in the EU or Australia use https://api.eu.intercom.io or
https://api.au.intercom.io.

Docs: https://developers.intercom.com/docs/references/rest-api/api.intercom.io
OAuth: https://developers.intercom.com/docs/build-an-integration/learn-more/authentication/setting-up-oauth
Rate limits: https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class IntercomConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="intercom",
        display_name="Intercom",
        category="support",
        auth_method="oauth_redirect",
        description="Customer conversations, users and leads, and Help Center articles from Intercom.",
        docs_url="https://developers.intercom.com/docs/references/rest-api/api.intercom.io",
        streams=(
            Stream("conversations", "conversation", "Conversations with their parts (messages and notes)"),
            Stream("contacts", "contact", "Users and leads"),
            Stream("articles", "article", "Help Center articles"),
        ),
        # 10,000 API calls per minute per app and 25,000 per workspace, enforced in 10-second windows.
        rate_limits=RateLimits(requests_per_minute=10000),
        base_url="https://app.intercom.com",
        api_url="https://api.intercom.io",
        oauth=OAuthEndpoints(
            authorize="https://app.intercom.com/oauth",
            token="https://api.intercom.io/auth/eagle/token",
            scopes=(),
        ),
    )
