"""Grain (meeting recorder): a Workspace Access Token or Personal Access Token as a Bearer token.

Tokens are generated at https://grain.com/app/settings/integrations?tab=api; a workspace token
reads every recording in the workspace, a personal one what its user can see.

Docs: https://developers.grain.com/
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class GrainConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="grain",
        display_name="Grain",
        category="calls",
        auth_method="api_key",
        description="Meeting recordings with their transcripts, AI notes and highlight clips from Grain.",
        docs_url="https://developers.grain.com/",
        streams=(
            Stream("recordings", "recording", "Recordings with participants and AI-generated notes"),
            Stream("transcripts", "transcript", "Recording transcripts"),
            Stream("highlights", "highlight", "Highlight clips cut from recordings"),
        ),
        # Grain publishes no numeric limit (it answers 429 when exceeded); conservative default.
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://api.grain.com/_/public-api",
    )
