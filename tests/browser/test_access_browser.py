"""Two members search the same words on the console's Search page and see different results
(issue #13): a GitHub connection synced from the provider sandbox, in the source access mode,
where Cara collaborates on a private repository and Bob does not. Both read the public one."""
import re

import pytest
from playwright.sync_api import expect

from access import service as access
from connections.models import Connection
from core.extensions import db
from knowledge import embedding_queue
from sync import worker
from tests.access.test_connectors import BOB_GH, CARA_GH, PRIVATE, PUBLIC
from tests.browser.helpers import sign_in
from tests.factories import add_member, make_api_key
from tests.oauth_helpers import consent, local_path

pytestmark = pytest.mark.browser

WORDS = '"retry queue"'   # in the titles of issues of both repositories


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


@pytest.fixture
def synced(live_app, workspace):
    """Bob and Cara, linked to their GitHub accounts; GitHub's repositories and issues of the two
    repositories synced and embedded."""
    from dataclasses import replace

    from connectors.github import GitHubConnector

    with live_app.app_context():
        ws, ada = (db.session.merge(x) for x in workspace)
        bob, cara = (add_member(ws, email=f"{name}@acme.example") for name in ("bob", "cara"))
        access.link_identity(ws.id, cara.id, "provider_user", f"github:{CARA_GH['id']}", verified_via="oauth:test")
        access.link_identity(ws.id, bob.id, "provider_user", f"github:{BOB_GH['id']}", verified_via="oauth:test")
        key = make_api_key(ws, ada)
        db.session.commit()
        db.session.refresh(bob)
        db.session.refresh(cara)
        db.session.expunge_all()
    client = live_app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    started = client.post("/api/v1/connections", json={"connector_type": "github"}, headers=headers).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    original = GitHubConnector.catalog
    GitHubConnector.catalog = replace(original, streams=tuple(
        s for s in original.streams if s.name in ("repositories", "issues")))
    try:
        with live_app.app_context():
            db.session.get(Connection, started["connection"]["id"]).settings = {"channels": [PRIVATE, PUBLIC]}
            db.session.commit()
            db.session.remove()
        assert client.post(f"/api/v1/connections/{started['connection']['id']}/sync?full=true",
                           headers=headers).status_code == 202
        assert len(worker.drain(live_app)) == 1
    finally:
        GitHubConnector.catalog = original
    embedding_queue.drain_embeddings(live_app)
    return bob, cara


def search(page, words):
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_role("searchbox", name="Search documents").fill(words)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".search-summary")).to_be_visible()


def repositories_shown(page):
    """The repository of every result, from its link to GitHub."""
    hrefs = page.locator("#search-results li.search-result a[href*='/issues/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return [re.search(r"/github/([^/]+/[^/]+)/issues/", href).group(1) for href in hrefs]


def test_two_members_searching_the_same_words_see_what_each_may_read(synced, browser, base_url, page, screenshot):
    bob, cara = synced
    sign_in(page, cara)
    search(page, WORDS)
    cara_sees = repositories_shown(page)
    assert PRIVATE in cara_sees and PUBLIC in cara_sees, cara_sees
    screenshot("access_search_cara")

    other = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    try:
        bobs = other.new_page()
        sign_in(bobs, bob)
        search(bobs, WORDS)
        bob_sees = repositories_shown(bobs)
        assert bob_sees and set(bob_sees) == {PUBLIC}, bob_sees
        # the same public results, and nothing of the private repository, not even in the count
        assert sorted(bob_sees) == sorted(r for r in cara_sees if r == PUBLIC)
        expect(bobs.locator(".search-summary")).to_contain_text(
            f"{len(bob_sees)} result{'' if len(bob_sees) == 1 else 's'} for")
        bobs.screenshot(path=str(_path("access_search_bob")), full_page=True)
    finally:
        other.close()


def _path(name):
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
