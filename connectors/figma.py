"""Figma: OAuth 2 app; reads files, comments and components the user can access.

``projects:read`` (listing a team's projects and files) is only available to private OAuth
apps; a public app can read files it is given by key.

Docs: https://developers.figma.com/docs/rest-api/
OAuth: https://developers.figma.com/docs/rest-api/authentication/
Scopes: https://developers.figma.com/docs/rest-api/scopes/
Rate limits: https://developers.figma.com/docs/rest-api/rate-limits/
"""
from .base import CatalogEntry, Connector, OAuthEndpoints, RateLimits, Stream


class FigmaConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="figma",
        display_name="Figma",
        category="devtools",
        auth_method="oauth_redirect",
        description="Design files, their comments and published components from Figma.",
        docs_url="https://developers.figma.com/docs/rest-api/",
        streams=(
            Stream("files", "design_file", "Design files with their pages and frames", channel_kind="project"),
            Stream("comments", "comment", "Comments on files", channel_kind="file"),
            Stream("components", "component", "Published components and component sets", channel_kind="file"),
        ),
        # Per user, per plan, per app; GET file is a Tier 1 endpoint: 10/min for a Full or Dev seat
        # on Professional (15 Organization, 20 Enterprise; View/Collab seats up to 6 per month).
        # Tier 2 (comments) and Tier 3 (components) allow more.
        rate_limits=RateLimits(requests_per_minute=10),
        base_url="https://www.figma.com",
        api_url="https://api.figma.com",
        oauth=OAuthEndpoints(
            authorize="https://www.figma.com/oauth",
            token="https://api.figma.com/v1/oauth/token",
            scopes=("current_user:read", "file_metadata:read", "file_content:read", "file_comments:read",
                    "library_content:read", "projects:read"),
        ),
    )
