"""The Search page of an installation that cannot embed (issue #12): it says so before anyone
searches, with the command that fixes it, and a search still answers from keywords. The
configuration names a model that is not installed; nothing is mocked."""
import re

import pytest
from playwright.sync_api import expect

from core.extensions import db
from knowledge import embedding_queue, embeddings
from tests.browser.helpers import sign_in
from tests.factories import make_api_key

pytestmark = pytest.mark.browser


@pytest.fixture
def without_model(live_app, monkeypatch):
    monkeypatch.setattr(embeddings, "_failures", {})
    live_app.config["EMBEDDING_MODEL"] = "/opt/models/not-installed"
    return live_app


def test_the_search_page_says_semantic_search_is_unavailable_and_still_finds(without_model, workspace, page,
                                                                             screenshot):
    with without_model.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        key = make_api_key(ws, user, scopes=["query", "pipeline"])
    store = page.request.post("/api/v1/vector-stores", headers={"Authorization": f"Bearer {key}"},
                              data={"name": "wiki"}).json()
    pushed = page.request.post("/v1/pipeline/sync", headers={"X-API-Key": key}, data={
        "organization_id": workspace[0].id, "vector_store_id": store["id"], "sync_mode": "incremental",
        "sync_timestamp": "2026-04-13T10:30:00Z",
        "operations": [{"action": "upsert", "id": "billing", "namespace": "incidents", "title": "Invoices charged twice",
                        "content": "A retry in the billing job charged some customers twice."}]})
    assert pushed.status == 200, pushed.text()
    embedding_queue.drain_embeddings(without_model)  # chunked; nothing can be embedded

    sign_in(page, workspace[1])
    page.goto("/search")
    notice = page.locator("#semantic-unavailable")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Search by meaning is unavailable")
    expect(notice).to_contain_text("/opt/models/not-installed")
    expect(notice.locator("code").first).to_contain_text("set EMBEDDING_MODEL")
    page.get_by_role("searchbox", name="Search documents").fill("billing retry")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-results li.search-result").first).to_contain_text("Invoices charged twice")
    expect(page).to_have_url(re.compile(r"q=billing"))
    expect(notice).to_have_count(1)  # said once, not again with the results
    screenshot("search_semantic_unavailable")
