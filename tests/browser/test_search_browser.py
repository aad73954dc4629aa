"""The Search page in a real browser (Chromium, CSRF on): documents pushed through the
pipeline-sync API and embedded, then searched with htmx swapping only the results, the reasoning
panel, a type filter, a validation error, history, and the same page without JavaScript."""
import re

import pytest
from playwright.sync_api import expect

from core.extensions import db
from knowledge import embedding_queue
from tests.browser.conftest import SCREENSHOTS
from tests.factories import make_api_key
from tests.browser.helpers import at_both_widths, sign_in

pytestmark = pytest.mark.browser

DOCS = [
    {"id": "pg-pool", "namespace": "incidents", "type": "incident", "author": "alice@example.com",
     "updated_at": "2026-01-05T10:00:00Z", "title": "Postgres connection pool exhausted",
     "url": "https://wiki.example.com/pg-pool",
     "content": "During the Tuesday deploy the API ran out of database connections: every worker held its "
                "connections open while waiting on a slow migration. We raised max_connections and added "
                "PgBouncer in front of the database."},
    {"id": "offsite", "namespace": "notes", "type": "message", "author": "bob@example.com",
     "updated_at": "2026-02-10T12:00:00Z", "title": "Team offsite in Lisbon",
     "content": "The team offsite will be in Lisbon in May. Book flights before April; the database of "
                "hotels is in the shared drive."},
    {"id": "billing", "namespace": "incidents", "type": "incident", "author": "dave@example.com",
     "updated_at": "2026-03-01T08:00:00Z", "title": "Invoices charged twice",
     "url": "https://wiki.example.com/billing",
     "content": "A retry in the billing job charged some customers twice. The job now keeps a unique key per "
                "invoice in the database, so a retried charge is a no-op."},
    {"id": "xss", "namespace": "notes", "type": "message", "author": "mallory@example.com",
     "updated_at": "2026-03-02T08:00:00Z", "title": "<img src=x onerror=alert(1)>Pasted snippet",
     "url": "javascript:alert(2)",
     "content": "<script>alert('xss')</script> Someone pasted markup about the database <b>here</b>."},
]


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


@pytest.fixture
def documents(live_app, workspace, page):
    """A store "wiki" holding DOCS, pushed over HTTP through /v1/pipeline/sync with a pipeline key, then embedded."""
    with live_app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        key = make_api_key(ws, user, scopes=["query", "pipeline"])
    created = page.request.post("/api/v1/vector-stores", headers={"Authorization": f"Bearer {key}"},
                                data={"name": "wiki"})
    assert created.status == 201, created.text()
    response = page.request.post("/v1/pipeline/sync", headers={"X-API-Key": key}, data={
        "organization_id": workspace[0].id, "vector_store_id": created.json()["id"], "sync_mode": "incremental",
        "sync_timestamp": "2026-04-13T10:30:00Z",
        "operations": [{"action": "upsert", **doc} for doc in DOCS]})
    assert response.status == 200, response.text()
    assert embedding_queue.drain_embeddings(live_app) >= len(DOCS)
    return key, created.json()["id"]


def results(page):
    return page.locator("#search-results li.search-result")


def search(page, words):
    page.get_by_role("searchbox", name="Search documents").fill(words)
    page.get_by_role("button", name="Search", exact=True).click()


def test_search_with_highlights_reasoning_and_a_type_filter(live_app, workspace, documents, page, screenshot):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, workspace[1])
    page.get_by_role("link", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/search$"))
    expect(page.get_by_role("heading", name="Search your sources")).to_be_visible()
    screenshot("search_empty")

    # htmx swaps the results in place (the marker survives) and pushes a linkable URL.
    page.evaluate("window.__sameDocument = true")
    search(page, "database connections")
    expect(page).to_have_url(re.compile(r"/search\?q=database\+connections"))
    expect(results(page).first).to_contain_text("Postgres connection pool exhausted")
    assert page.evaluate("window.__sameDocument") is True
    expect(results(page)).to_have_count(4)
    first = results(page).first
    expect(first.locator("mark").first).to_have_text("database connections")
    link = first.get_by_role("link", name=re.compile("Postgres connection pool exhausted"))
    expect(link).to_have_attribute("href", "https://wiki.example.com/pg-pool")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    expect(first).to_contain_text("alice@example.com")
    expect(first).to_contain_text("5 Jan 2026")
    expect(first.locator(".chip")).to_have_text("incident")
    # The pasted markup is text: no script ran, no image was injected, its url is no link.
    pasted = results(page).filter(has_text="Pasted snippet")
    expect(pasted).to_contain_text("<script>alert('xss')</script>")
    expect(pasted).to_contain_text("<img src=x onerror=alert(1)>Pasted snippet")
    expect(pasted.get_by_role("link")).to_have_count(0)
    expect(page.locator("#search-results img, #search-results script, #search-results b")).to_have_count(0)
    screenshot("search_results")

    # Why these results: the reasoning panel.
    expect(page.locator(".search-reasoning")).to_have_count(0)
    page.get_by_label("Why these results").check()
    page.get_by_role("button", name="Search", exact=True).click()
    panel = page.get_by_role("region", name="Why these results")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Ranked by reciprocal rank fusion")
    expect(panel).to_contain_text("#1 'Postgres connection pool exhausted'")
    expect(page).to_have_url(re.compile(r"include_reasoning=1"))
    screenshot("search_reasoning")

    # A type filter: only messages are left.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Types").fill("message")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"types=message"))
    expect(results(page)).to_have_count(2)
    expect(results(page).filter(has_text="Postgres")).to_have_count(0)
    for chip in results(page).locator(".chip:not(.chip-weak)").all():
        expect(chip).to_have_text("message")
    expect(panel).to_contain_text("type in message")
    screenshot("search_filtered")

    # A filter that excludes everything: say so, and offer to drop the filters.
    page.get_by_label("Authors").fill("nobody@example.com")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Nothing matched")).to_be_visible()
    screenshot("search_no_results")
    page.get_by_role("button", name="Search without filters").click()
    expect(results(page)).to_have_count(4)
    expect(page.get_by_label("Types")).to_have_value("")

    # The back button brings the filtered search back, from the server (no results kept in storage).
    page.go_back()
    expect(page).to_have_url(re.compile(r"authors=nobody"))
    expect(page.get_by_role("heading", name="Nothing matched")).to_be_visible()
    assert dialogs == []

    # On a phone: the filters stack under the search box.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/search?q=database&types=incident")
    expect(results(page)).to_have_count(2)
    screenshot("search_mobile")


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(part)) for part in re.findall(r"[\d.]+", css)[:3])


def is_marked_red(field) -> bool:
    """The field's border is red and at least 2 px wide, and its label's text is red."""
    style = field.evaluate("""el => { const s = getComputedStyle(el), l = getComputedStyle(el.closest('label'));
        return [s.borderTopColor, s.borderTopWidth, l.color]; }""")
    border, width, label = _rgb(style[0]), float(style[1].rstrip("px")), _rgb(style[2])

    def red(rgb):
        return rgb[0] >= 150 and rgb[1] <= 60 and rgb[2] <= 60

    return red(border) and width >= 2 and red(label)


def test_a_validation_error_appears_beside_the_form(live_app, workspace, documents, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/search")
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Dated on or after").fill("2026-03-01")
    page.get_by_label("Dated on or before").fill("2026-01-01")
    search(page, "database")
    alert = page.locator("#search-error")
    expect(alert).to_be_visible()
    # In the form's own words, and the field is marked (htmx swapped only the results).
    expect(alert).to_contain_text("“Dated on or after” must not be later than “Dated on or before”.")
    expect(alert).not_to_contain_text("date_after")
    after = page.get_by_label("Dated on or after")
    expect(after).to_have_attribute("aria-invalid", "true")
    expect(after).to_have_attribute("aria-describedby", "search-error")
    # Marked so that it shows, not only to a screen reader: a red border thicker than the other
    # fields' and its label in red (the error text itself sits below the whole form).
    assert is_marked_red(after) and not is_marked_red(page.get_by_label("Dated on or before"))
    expect(results(page)).to_have_count(0)
    at_both_widths(page, screenshot, "search_validation_error")
    # The error's link takes you to the field.
    alert.get_by_role("link", name="Go to “Dated on or after”").click()
    expect(after).to_be_focused()
    # Fixed: the search runs on the change, and the mark goes.
    page.get_by_label("Dated on or before").fill("2026-03-31")
    page.get_by_label("Dated on or before").press("Tab")
    expect(page.locator("#search-error")).to_have_count(0)
    expect(results(page).first).to_be_visible()
    expect(after).not_to_have_attribute("aria-invalid", "true")


def test_the_page_works_without_javascript(live_app, workspace, documents, browser, base_url):
    context = browser.new_context(java_script_enabled=False, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(8000)
    try:
        sign_in(page, workspace[1])
        page.goto("/search")
        search(page, "billing")
        expect(page).to_have_url(re.compile(r"/search\?q=billing"))
        expect(results(page).first).to_contain_text("Invoices charged twice")
        expect(results(page).first.locator("mark").first).to_have_text("billing")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "search_no_javascript.png"), full_page=True)
    finally:
        context.close()


def test_chunks_waiting_for_embedding_are_noted(live_app, workspace, documents, page, screenshot):
    key, store_id = documents
    response = page.request.post("/v1/pipeline/sync", headers={"X-API-Key": key}, data={
        "organization_id": workspace[0].id, "vector_store_id": store_id, "sync_mode": "incremental",
        "sync_timestamp": "2026-04-14T10:30:00Z", "operations": [
            {"action": "upsert", "id": "late", "namespace": "notes", "type": "message", "title": "Late arrival",
             "content": "A database note that arrived after the others."}]})
    assert response.status == 200, response.text()
    with live_app.app_context():
        embedding_queue.chunk_pending()  # in the lexical index, not embedded yet
    sign_in(page, workspace[1])
    page.goto("/search")
    search(page, "late arrival")
    expect(page.locator(".search-backlog")).to_have_text(re.compile(
        r"1 chunk waiting to be embedded in wiki — found by keyword only until then"))
    expect(results(page).filter(has_text="Late arrival")).to_have_count(1)  # by keyword
    screenshot("search_backlog")


THREAD = [
    {"id": "issue-12", "namespace": "github_issues", "type": "issue", "author": "ada",
     "url": "https://github.com/acme/api/issues/12", "updated_at": "2026-03-01T08:00:00Z",
     "title": "Webhook retries flood the queue",
     "content": "Retries of failed webhooks flood the queue and starve the other jobs."},
    *[{"id": f"comment-{n}", "namespace": "github_comments", "type": "comment", "author": f"dev{n}",
       "url": f"https://github.com/acme/api/issues/12#issuecomment-{n}", "updated_at": f"2026-03-0{n + 1}T08:00:00Z",
       "title": "Comment on #12: Webhook retries flood the queue",
       "content": f"The webhook retries flood the queue again: attempt {n} backed off too little."} for n in (1, 2, 3)],
    *[{"id": f"note-{n}", "namespace": "notes", "type": "message", "author": "bob@example.com",
       "updated_at": "2026-03-10T08:00:00Z", "title": f"Queue note {n}",
       "content": f"Queue note number {n} about the jobs queue and its workers."} for n in range(12)],
]


@pytest.fixture
def thread(live_app, workspace, documents, page):
    key, store_id = documents
    response = page.request.post("/v1/pipeline/sync", headers={"X-API-Key": key}, data={
        "organization_id": workspace[0].id, "vector_store_id": store_id, "sync_mode": "incremental",
        "sync_timestamp": "2026-04-14T10:30:00Z", "operations": [{"action": "upsert", **doc} for doc in THREAD]})
    assert response.status == 200, response.text()
    embedding_queue.drain_embeddings(live_app)
    return documents


def test_filters_and_why_apply_on_change_results_group_page_and_explain_their_score(
        live_app, workspace, thread, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/search")
    search(page, "webhook retries flood the queue")
    expect(results(page).first).to_contain_text("Webhook retries flood the queue")
    # The issue and its three comments: one heading, the comments under it (no repeated titles).
    head = results(page).first
    expect(head.locator(".search-group-item")).to_have_count(3)
    expect(page.locator("#search-results")).not_to_contain_text("Comment on #12")
    expect(page.locator(".search-summary")).to_contain_text("groups")

    # "Why these results" applies as it is ticked: no Search to press.
    with page.expect_response(lambda r: "/search?" in r.url and "include_reasoning=1" in r.url):
        page.get_by_label("Why these results").check()
    panel = page.get_by_role("region", name="Why these results")
    expect(panel).to_be_visible()
    expect(page).to_have_url(re.compile(r"include_reasoning=1"))
    # The score each result shows is the one its line (and the panel) explains.
    first_score = head.locator(".search-score").first.inner_text().split()[-1]
    expect(head.locator(".search-why-line").first).to_contain_text(f"score {first_score}: ")
    expect(panel).to_contain_text(f"'Webhook retries flood the queue' (pipeline): score {first_score}: ")
    # The issue whose title is the query ranks first (the title ranking says why), its comments
    # grouped under it.
    expect(panel).to_contain_text("#1 'Webhook retries flood the queue' (pipeline): score ")
    expect(panel).to_contain_text("lexical rank 1, its title is the query")
    expect(panel).to_contain_text("#2 'Comment on #12: Webhook retries flood the queue' (pipeline): score ")
    best_comment = head.locator(".search-group-item").first
    comment_score = best_comment.locator(".search-score").inner_text().split()[-1]
    expect(best_comment.locator(".search-why-line")).to_contain_text(f"score {comment_score}: ")
    at_both_widths(page, screenshot, "search_grouped_explained")

    # A filter applies as it changes too: only messages.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Types").fill("message")
    page.get_by_label("Types").press("Tab")
    expect(page).to_have_url(re.compile(r"types=message"))
    expect(results(page).filter(has_text="Webhook retries")).to_have_count(0)
    for chip in results(page).locator(".search-result-meta .chip:not(.chip-weak)").all():
        expect(chip).to_have_text("message")

    # More results: the next page appended in place, the address unchanged.
    expect(results(page)).to_have_count(10)
    address = page.url
    page.get_by_role("button", name="More results").click()
    expect(results(page)).to_have_count(14)  # every message: 2 of the wiki's and 12 notes
    expect(page.get_by_role("button", name="More results")).to_have_count(0)  # the last page
    assert page.url == address
    titles = results(page).locator(".search-result-title").all_inner_texts()
    assert len(titles) == len(set(titles))  # nothing repeated from the first page


def test_a_query_without_an_answer_says_its_matches_are_weak(live_app, workspace, documents, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/search")
    search(page, "invoice 1042 paid")
    note = page.locator(".search-weak-note")
    expect(note).to_contain_text("No strong match for “invoice 1042 paid”.")
    expect(note).to_contain_text("or the number it names")
    expect(results(page).first).to_be_visible()
    expect(results(page).locator(".chip-weak")).to_have_count(results(page).count())
    at_both_widths(page, screenshot, "search_weak_matches")
    search(page, "database connections")
    expect(page.locator(".search-weak-note")).to_have_count(0)
    expect(results(page).first.locator(".chip-weak")).to_have_count(0)


def test_with_no_connections_the_empty_state_says_to_connect_a_source(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    page.get_by_role("link", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Nothing to search yet")).to_be_visible()
    at_both_widths(page, screenshot, "search_nothing_connected")
    page.get_by_role("button", name="Connect a source").click()
    expect(page).to_have_url(re.compile(r"/connections/new$"))
