"""Browser fixtures: Debian's Chromium through pytest-playwright, and the console on a live server.

pytest-playwright wants a session-scoped ``base_url`` while the ``app`` fixture is per test
(it cleans the database after each one), so one live server runs for the session and forwards
every request to the current test's app.
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import LiveServer

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"


class _CurrentApp:
    """A WSGI app that forwards to whichever Flask app the running test set up."""

    app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app for this test"]
        return self.app(environ, start_response)


_current = _CurrentApp()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not executable:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def _live_server():
    server = LiveServer(_current)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(_live_server):
    return _live_server.url


@pytest.fixture
def app_config(app_config):
    """Browser tests run with CSRF on, as in production: forms and htmx must carry the token."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def live_app(app, _live_server):
    _current.app = app
    yield app
    _current.app = None


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot to tests/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
