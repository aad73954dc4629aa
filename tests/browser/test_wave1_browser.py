"""Issue #14's walk through the console: each wave-1 connector connected through the demo's
consent page, its first sync's progress on its own page, then one search across all of them,
narrowed by source."""
import pytest

from tests.browser.waves import connect_sync_and_search

pytestmark = pytest.mark.browser

WAVE1 = ("slack", "notion", "google_workspace", "gmail", "microsoft_365", "outlook", "confluence", "jira")


def test_each_wave1_connector_connects_syncs_and_is_searched_by_source(live_app, workspace, page, screenshot):
    connect_sync_and_search(live_app, workspace, page, screenshot, WAVE1, "wave1")
