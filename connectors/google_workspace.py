"""Google Workspace: Google OAuth; reads Drive files, Docs content and Calendar events.

Each API has its own host: Drive https://www.googleapis.com/drive/v3, Calendar
https://www.googleapis.com/calendar/v3, Docs https://docs.googleapis.com/v1.

Docs: https://developers.google.com/workspace
OAuth: https://developers.google.com/identity/protocols/oauth2/web-server
Quotas: https://developers.google.com/workspace/drive/api/guides/limits,
https://developers.google.com/workspace/docs/api/limits,
https://developers.google.com/workspace/calendar/api/guides/quota
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class GoogleWorkspaceConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="google_workspace",
        display_name="Google Workspace",
        category="docs",
        auth_method="oauth_redirect",
        description="Drive files, Google Docs content and Calendar events from Google Workspace.",
        docs_url="https://developers.google.com/workspace",
        streams=(
            Stream("files", "file", "Drive files and their metadata", channel_kind="drive"),
            Stream("documents", "document", "Google Docs content", channel_kind="drive"),
            Stream("calendar_events", "calendar_event", "Calendar events with attendees", channel_kind="calendar"),
        ),
        # Tightest per-user quota is the Docs API: 300 read requests per minute per user per
        # project (Calendar: 600 per minute per user; Drive: 325,000 quota units per minute per user).
        rate_limits=RateLimits(requests_per_minute=300),
        base_url="https://accounts.google.com",
        api_url="https://www.googleapis.com",
        oauth=OAuthEndpoints(
            authorize="https://accounts.google.com/o/oauth2/v2/auth",
            token="https://oauth2.googleapis.com/token",
            revoke="https://oauth2.googleapis.com/revoke",
            scopes=("openid", "email", "profile",
                    "https://www.googleapis.com/auth/drive.readonly",
                    "https://www.googleapis.com/auth/documents.readonly",
                    "https://www.googleapis.com/auth/calendar.readonly"),
            authorize_params={"access_type": "offline", "prompt": "consent"},
        ),
    )
