"""Issue #14's walk through the console: each wave-1 connector connected through the demo's
consent page, its first sync's progress on its own page, then one search across all of them,
narrowed by source."""
import pytest

from tests.browser.waves import connect_sync_and_search
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

WAVE1 = ("slack", "notion", "google_workspace", "gmail", "microsoft_365", "outlook", "confluence", "jira")


@pytest.fixture(scope="module")
def sandbox_server():
    """A smaller demo than the suite's: at SCALE 25 a first Notion sync makes more requests than
    Notion's 180 a minute, and the walk would wait out a whole minute of its rate limit."""
    from sandbox import create_app as create_sandbox

    server = LiveServer(create_sandbox({"SEED": 42, "SCALE": 8}))
    yield server
    server.stop()


def test_each_wave1_connector_connects_syncs_and_is_searched_by_source(live_app, workspace, page, screenshot):
    connect_sync_and_search(live_app, workspace, page, screenshot, WAVE1, "wave1")
