"""The Search page through the Flask test client: the form, filters handed to the query,
validation errors beside the form, escaped and highlighted passages, store scoping, the
embedding backlog note, htmx fragments and the empty states.

Documents go in through the pipeline-sync API and the real index path (chunking, embedding).
"""
import re
from datetime import datetime, timezone

import pytest

from core.extensions import db
from knowledge import embedding_queue
from knowledge import search as knowledge_search
from blueprints.console.search import excerpt, highlight
from tests.console.conftest import text_of
from tests.factories import Api, make_api_key, make_workspace

HTMX = {"HX-Request": "true"}

DOCS = [
    {"id": "pg-pool", "namespace": "incidents", "type": "incident", "author": "alice@example.com",
     "updated_at": "2026-01-05T10:00:00Z", "title": "Postgres connection pool exhausted",
     "url": "https://wiki.example.com/pg-pool",
     "content": "During the Tuesday deploy the API ran out of database connections: every worker held its "
                "connections open while waiting on a slow migration. We raised max_connections."},
    {"id": "offsite", "namespace": "notes", "type": "message", "author": "bob@example.com",
     "updated_at": "2026-02-10T12:00:00Z", "title": "Team offsite in Lisbon",
     "content": "The team offsite will be in Lisbon in May. Book flights before April; the database of "
                "hotels is in the shared drive."},
    {"id": "evil", "namespace": "notes", "type": "message", "author": "mallory@example.com",
     "updated_at": "2026-03-01T12:00:00Z", "title": "<img src=x onerror=alert(1)> payload",
     "url": "javascript:alert(document.cookie)",
     "content": "<script>alert('xss')</script> The payload mentions a database & a <b>bold</b> claim."},
]


def push(client, key, organization_id, store_id, docs, *, embed=True):
    operations = [{"action": "upsert", **doc} for doc in docs]
    response = client.post("/v1/pipeline/sync", json={
        "organization_id": organization_id, "sync_mode": "incremental", "operations": operations,
        "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store_id}, headers={"X-API-Key": key})
    assert response.status_code == 200, response.get_json()
    if embed:
        embedding_queue.drain_embeddings(client.application)


@pytest.fixture
def kb(app, client, admin, workspace):
    """The admin signed in, a named store "wiki" holding DOCS; returns (api, store id)."""
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        key = make_api_key(ws, user, scopes=["query", "pipeline"])
    api = Api(client, key)
    store_id = api.post("/api/v1/vector-stores", json={"name": "wiki"}).get_json()["id"]
    push(client, key, workspace[0].id, store_id, DOCS)
    return api, store_id


def results_of(html):
    """The ids the page's results link to, by title, in order."""
    return re.findall(r'<h3 class="search-result-title">\s*(.*?)\s*</h3>', html, re.S)


# -- the page -----------------------------------------------------------------------------------

def test_the_page_shows_the_form_and_a_hint_before_any_query(client, admin):
    response = client.get("/search")
    html = text_of(response)
    assert response.status_code == 200
    assert 'aria-current="page">Search</a>' in html
    assert 'role="search"' in html and 'name="q"' in html
    assert 'hx-get="/search"' in html and 'hx-push-url="true"' in html and 'hx-target="#search-results"' in html
    # Filters and "Why these results" apply as they change; the search box waits for Enter.
    assert "hx-trigger=\"submit, change[target.name!='q']\"" in html and " novalidate" in html
    # Nothing connected, nothing pushed: the empty state says to connect a source.
    assert "Nothing to search yet" in html and '<a role="button" href="/connections/new">Connect a source</a>' in html
    assert "Search your sources" not in html
    assert '<option value="">All stores</option>' in html
    assert 'value="pipeline"' in html and "Why these results" in html
    assert 'class="search-result"' not in html


def test_with_documents_but_no_connection_the_hint_offers_to_connect_one(client, kb):
    html = text_of(client.get("/search"))
    assert "Search your sources" in html and "Nothing to search yet" not in html
    assert 'No source is connected yet: <a href="/connections/new">connect one</a>' in html


def test_a_signed_out_visitor_is_sent_to_sign_in(client, workspace):
    response = client.get("/search?q=database")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_search_shows_results_with_source_title_link_author_date_type_and_score(client, kb):
    html = text_of(client.get("/search?q=database+connections"))
    titles = results_of(html)
    assert titles and "Postgres connection pool exhausted" in titles[0]
    assert ('<a href="https://wiki.example.com/pg-pool" target="_blank" rel="noopener">'
            'Postgres <mark>connection</mark> pool exhausted') not in html  # "connection" is not a query word
    assert '<a href="https://wiki.example.com/pg-pool" target="_blank" rel="noopener">' in html
    assert "alice@example.com" in html and '<span class="chip">incident</span>' in html
    assert '<time datetime="2026-01-05T10:00:00Z"' in html and "5 Jan 2026" in html
    assert re.search(r"score [01]\.\d\d", html)
    assert 'class="connector-icon source-generic"' in html  # pipeline: the generic icon
    assert "ran out of <mark>database connections</mark>:" in html  # neighbours marked as one
    assert "its <mark>connections</mark> open" in html and "the <mark>database</mark> of hotels" in html
    assert re.search(r"\d+ results? for “database connections”", html)


def test_a_connected_source_is_offered_and_its_results_wear_the_catalog_icon(client, admin, monkeypatch):
    response = client.post("/connections/new/pipedrive", data={"api_key": "sandbox-pipedrive-key", "name": ""})
    assert response.status_code == 303
    html = text_of(client.get("/search"))
    assert re.search(r'<input type="checkbox" id="search-sources-\d" name="sources" value="pipedrive"', html)
    assert "> Pipedrive</label>" in html

    def answer(actor, params, via="api"):
        ranking = {"semantic_rank": 1, "semantic_score": 0.5, "lexical_rank": None, "matched_terms": ["deal"],
                   "weak_match": False}
        return {"results": [{"id": "doc_1", "content": "A big deal.", "source": "pipedrive", "source_type": "deal",
                             "score": 1.0, "url": None,
                             "metadata": {"title": "Deal 1", "author": None, "group": "doc_1", "ranking": ranking}}],
                "reasoning": None, "query_id": "qry_1", "latency_ms": 3.2}, False

    monkeypatch.setattr(knowledge_search, "run_query_page", answer)
    html = text_of(client.get("/search?q=deal"))
    # The catalog's icon for the connector type (its initials in its hue), no link without a url.
    assert re.search(r'<span class="connector-icon " style="--icon-hue: \d+" aria-hidden="true">PI</span>', html)
    assert "source-generic" not in html
    assert re.search(r'<h3 class="search-result-title">\s*<mark>Deal</mark> 1\s*</h3>', html)
    assert "A big <mark>deal</mark>." in html


def test_why_these_results_shows_the_reasoning_panel(client, kb):
    without = text_of(client.get("/search?q=database"))
    assert "search-reasoning" not in without
    html = text_of(client.get("/search?q=database&include_reasoning=1"))
    assert 'class="card search-reasoning"' in html and "Ranked by reciprocal rank fusion" in html
    assert 'name="include_reasoning" value="1" checked' in html


# -- filters ------------------------------------------------------------------------------------

def test_every_filter_is_handed_to_the_query(client, kb, monkeypatch):
    _api, store_id = kb
    seen = []
    real = knowledge_search.run_query_page

    def spy(actor, params, via="api"):
        seen.append((params, via))
        return real(actor, params, via=via)

    monkeypatch.setattr(knowledge_search, "run_query_page", spy)
    response = client.get("/search", query_string={
        "q": "  database  ", "sources": ["pipeline", "github"], "types": "incident, message,",
        "authors": "alice@example.com",
        "date_after": "2026-01-01", "date_before": "2026-01-31", "vector_store_id": store_id, "limit": "5",
        "include_reasoning": "1"})
    assert response.status_code == 200
    [(params, via)] = seen
    assert via == "console"
    assert params.query == "database" and params.limit == 5 and params.include_reasoning is True
    assert params.vector_store_id == store_id
    f = params.filters
    assert f.sources == ("pipeline", "github") and f.types == ("incident", "message")
    assert f.authors == ("alice@example.com",)
    assert f.date_after == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert f.date_before.date().isoformat() == "2026-01-31"
    html = text_of(response)
    # The controls keep what was chosen, and the filters are open.
    assert 'value="incident, message,"' in html and 'value="alice@example.com"' in html
    assert 'value="2026-01-01"' in html and 'value="2026-01-31"' in html
    assert f'<option value="{store_id}" selected>' in html
    assert re.search(r'<details class="search-filters"\s+open>', html)
    assert "Postgres connection pool exhausted" in html and "Team offsite" not in html


def test_a_type_filter_narrows_the_results(client, kb):
    everything = text_of(client.get("/search?q=database"))
    assert "Postgres connection pool" in everything and "Team offsite" in everything
    messages = text_of(client.get("/search?q=database&types=message"))
    assert "Team offsite" in messages and "Postgres connection pool" not in messages


def test_an_empty_form_sends_no_filters(client, kb, monkeypatch):
    seen = []
    real = knowledge_search.run_query_page
    monkeypatch.setattr(knowledge_search, "run_query_page",
                        lambda actor, params, via="api": seen.append(params) or real(actor, params, via=via))
    client.get("/search?q=database&types=&authors=&date_after=&date_before=&vector_store_id=&limit=")
    [params] = seen
    assert params.filters.empty and params.limit == knowledge_search.DEFAULT_LIMIT
    assert params.vector_store_id is None and params.include_reasoning is False


# -- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query_string, field, message", [
    ({"date_after": "2026-02-01", "date_before": "2026-01-01"}, "date_after",
     "“Dated on or after” must not be later than “Dated on or before”."),
    ({"limit": "many"}, "limit", "Results must be a whole number from 1 to 100."),
    ({"limit": "500"}, "limit", "Results must be a whole number from 1 to 100."),
    ({"date_before": "last week"}, "date_before", "“Dated on or before” must be a date, such as 2026-01-31."),
    ({"types": ",".join(f"t{i}" for i in range(101))}, "types", "“Types” takes at most 100 values."),
    ({"vector_store_id": "vs_nowhere"}, "vector_store_id", "That vector store does not exist (any more): choose another."),
])
def test_a_validation_error_is_worded_as_the_form_and_marks_its_field(client, admin, query_string, field, message):
    response = client.get("/search", query_string={"q": "database", **query_string})
    html = text_of(response)
    assert response.status_code in (404, 422)
    assert 'id="search-error" class="callout callout-error" role="alert"' in html and message in html
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true" aria-describedby="search-error"', html)
    assert field not in re.search(r'id="search-error".*?</div>', html, re.S).group(0).split("data-field-input")[0]
    # The error links to its control (which htmx leaves in place) and names it for app.js to mark.
    control = re.search(r'data-field-input="([\w-]+)"', html).group(1)
    assert re.search(rf'<a href="#{control}">Go to “[^”]+”</a>', html)
    assert re.search(rf'id="{control}" name="{field}"', html)
    assert 'class="search-result"' not in html and "Search your sources" not in html


def test_the_api_field_names_never_reach_the_page(client, admin):
    for query_string in ("limit=0", "date_after=soon", "date_after=2026-02-01&date_before=2026-01-01", "offset=999"):
        html = text_of(client.get(f"/search?q=database&{query_string}"))
        error = re.search(r'<div id="search-error".*?</div>', html, re.S).group(0)
        words = re.sub(r"<[^>]+>", "", error)  # what the page says, not its markup
        assert not re.search(r"\b(limit|date_after|date_before|offset|integer)\b", words), words


def test_a_too_long_query_is_refused_with_its_message(client, admin):
    response = client.get("/search", query_string={"q": "x" * 2001})
    assert response.status_code == 422 and "Search is at most 2,000 characters long." in text_of(response)


def test_htmx_gets_the_error_in_the_fragment(client, admin):
    response = client.get("/search?q=database&limit=0", headers=HTMX)
    html = text_of(response)
    assert response.status_code == 422 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in html and "Results must be a whole number from 1 to 100." in html
    assert 'data-field-input="search-limit"' in html


# -- escaping and highlighting -------------------------------------------------------------------

def test_content_is_escaped_before_the_query_words_are_marked(client, kb):
    html = text_of(client.get("/search?q=database+payload+script"))
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;<mark>script</mark>&gt;alert(&#39;xss&#39;)&lt;/<mark>script</mark>&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "a <mark>database</mark> &amp; a" in html
    assert "&lt;img src=x onerror=alert(1)&gt; <mark>payload</mark>" in html  # the title too
    # A record's url that is not a web address is not made a link.
    assert "javascript:" not in html


def test_highlight_marks_whole_words_in_any_case_and_never_inside_an_entity():
    assert highlight("Database, databases & DATABASE", ["database"]) == \
        "<mark>Database</mark>, databases &amp; <mark>DATABASE</mark>"
    # "lt", "amp" and "39" are words of the query, not of the escaped entities.
    assert highlight("a < b & c's lt", ["lt", "amp", "39", "c"]) == \
        "a &lt; b &amp; <mark>c</mark>&#39;s <mark>lt</mark>"
    assert highlight("connection   reset, Connection-Reset!", ["connection reset"]) == \
        "<mark>connection   reset</mark>, <mark>Connection-Reset</mark>!"
    assert highlight("<script>x</script>", []) == "&lt;script&gt;x&lt;/script&gt;"
    assert highlight("ran out of database  connections, database", ["database", "connections"]) == \
        "ran out of <mark>database  connections</mark>, <mark>database</mark>"


def test_excerpt_starts_near_the_first_matched_word():
    text = ("filler " * 200) + "the needle is here " + ("tail " * 200)
    piece = excerpt(text, ["needle"], size=120)
    assert piece.startswith("…") and piece.endswith("…") and "needle" in piece and len(piece) <= 122
    assert excerpt("short\n\ntext", ["x"]) == "short text"


# -- stores and the backlog ----------------------------------------------------------------------

def test_stores_of_another_workspace_are_neither_listed_nor_searchable(app, client, kb):
    with app.app_context():
        other_ws, other_user = make_workspace("Globex")
        other_key = make_api_key(other_ws, other_user, scopes=["query", "pipeline"])
        other_ws_id = other_ws.id
    other = Api(app.test_client(), other_key)
    secret_store = other.post("/api/v1/vector-stores", json={"name": "globex-secrets"}).get_json()["id"]
    push(other.client, other_key, other_ws_id, secret_store,
         [{"id": "plan", "namespace": "x", "title": "Globex database plan", "content": "Globex database secret plan"}])
    page = text_of(client.get("/search"))
    assert "globex-secrets" not in page and secret_store not in page
    assert "wiki (3 documents)" in page
    response = client.get(f"/search?q=database&vector_store_id={secret_store}")
    html = text_of(response)
    assert response.status_code == 404 and 'id="search-error"' in html
    assert "Globex database" not in html
    assert re.search(r'name="vector_store_id"[^>]*aria-invalid="true"', html)
    assert "Globex" not in text_of(client.get("/search?q=database+plan"))


def test_the_embedding_backlog_is_noted_per_store(app, client, kb, workspace):
    api, store_id = kb
    assert "waiting to be embedded" not in text_of(client.get("/search"))
    push(client, api.key, workspace[0].id, store_id,
         [{"id": f"new-{i}", "namespace": "notes", "title": f"Note {i}", "content": f"fresh note number {i}"}
          for i in range(3)], embed=False)
    with app.app_context():
        embedding_queue.chunk_pending()  # cut into chunks, not embedded yet
        waiting = embedding_queue.backlog(workspace[0].id)[store_id]
    assert waiting >= 3
    html = text_of(client.get("/search"))
    assert (f"{waiting} chunks waiting to be embedded in <strong>wiki</strong> — found by keyword only until then"
            in html)
    # Found by keyword meanwhile.
    assert "<mark>Note</mark> 1" in text_of(client.get("/search?q=fresh+note"))


# -- htmx and empty states ------------------------------------------------------------------------

def test_htmx_gets_only_the_results_and_a_history_restore_the_page(client, kb):
    fragment = client.get("/search?q=database", headers=HTMX)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    html = text_of(fragment)
    assert "<html" not in html and 'role="search"' not in html and "<mark>database</mark>" in html
    # The address pushed to history leaves out empty controls (and anything that is not one).
    pushed = client.get("/search?q=database&types=&authors=&limit=&sources=pipeline&_external=1", headers=HTMX)
    assert pushed.headers["HX-Push-Url"] == "/search?q=database&sources=pipeline"
    assert "HX-Push-Url" not in client.get("/search?q=database").headers
    restored = client.get("/search?q=database", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in text_of(restored) and 'role="search"' in text_of(restored)


def test_no_results_says_so_and_offers_to_drop_the_filters(client, kb):
    filtered = text_of(client.get("/search?q=database&authors=nobody@example.com&include_reasoning=1"))
    assert "Nothing matched" in filtered and "Try removing some of them" in filtered
    assert 'href="/search?q=database&amp;include_reasoning=1">Search without filters' in filtered


def test_no_results_without_filters_suggests_other_words(client, kb):
    plain = text_of(client.get('/search?q="zzyzx"'))  # a phrase nothing holds
    assert "Nothing matched" in plain and "Try other words" in plain and "Search without filters" not in plain
    assert "No results for “&#34;zzyzx&#34;”" in plain


def test_no_results_with_nothing_stored_or_connected_says_to_connect_a_source(client, admin):
    html = text_of(client.get("/search?q=zzyzx"))
    assert "No results for “zzyzx”" in html and "Nothing to search yet" in html and "Nothing matched" not in html
    assert '<a role="button" href="/connections/new">Connect a source</a>' in html


def test_a_plain_member_can_search(member_client, kb):
    html = text_of(member_client.get("/search?q=database"))
    assert "Postgres connection pool exhausted" in html


# -- groups, weak matches, pages, the score explained ----------------------------------------------

ISSUE = "https://github.com/acme/api/issues/12"
THREAD = [
    {"id": "issue-12", "namespace": "github_issues", "type": "issue", "author": "ada", "url": ISSUE,
     "updated_at": "2026-03-01T08:00:00Z", "title": "Webhook retries flood the queue",
     "content": "Retries of failed webhooks flood the queue and starve the other jobs."},
    *[{"id": f"comment-{n}", "namespace": "github_comments", "type": "comment", "author": f"dev{n}",
       "url": f"{ISSUE}#issuecomment-{n}", "updated_at": f"2026-03-0{n + 1}T08:00:00Z",
       "title": "Comment on #12: Webhook retries flood the queue",
       "content": f"The webhook retries flood the queue again: attempt {n} backed off too little."} for n in (1, 2, 3)],
]


@pytest.fixture
def thread(app, client, kb, workspace):
    api, store_id = kb
    push(client, api.key, workspace[0].id, store_id, THREAD)
    return kb


def test_the_comments_of_one_issue_are_grouped_under_it_not_repeated(client, thread):
    html = text_of(client.get("/search?q=webhook+retries+flood+the+queue"))
    words = re.sub(r"<[^>]+>", "", html)  # the text, highlights aside
    assert "Comment on #12" not in words  # the comments' identical titles are not repeated
    titles = [re.sub(r"<[^>]+>", "", t) for t in results_of(html)]
    assert titles.count("Webhook retries flood the queue (opens in a new tab)") == 1
    group = re.search(r'<ul class="search-group" aria-label="3 more from the same thread">.*?</ul>', html, re.S).group(0)
    for n in (1, 2, 3):
        assert f'href="{ISSUE}#issuecomment-{n}"' in group and f"dev{n}" in group
    assert re.search(r"\d+ results for “webhook retries flood the queue” in \d+ groups", html)


def test_weak_matches_are_marked_and_a_page_of_them_says_so(client, kb):
    html = text_of(client.get("/search?q=invoice+1042+paid"))
    assert "No strong match for “invoice 1042 paid”." in html and "or the number it names" in html
    assert html.count("weak match</span>") == len(results_of(html)) > 0
    strong = text_of(client.get("/search?q=database+connections"))
    assert "No strong match" not in strong
    first = re.search(r'<li class="search-result">.*?</li>', strong, re.S).group(0)
    assert "Postgres connection pool exhausted" in first and "weak match" not in first


def test_each_result_shows_the_score_the_panel_explains(client, kb):
    html = text_of(client.get("/search?q=database+connections&include_reasoning=1"))
    panel = re.search(r'<section class="card search-reasoning".*?</section>', html, re.S).group(0)
    shown = re.findall(r'<span class="search-score"[^>]*>score (\d\.\d\d)</span>', html)
    why_lines = re.findall(r'<p class="search-why-line">(.*?)</p>', html)
    assert shown and len(why_lines) == len(shown)
    for position, (score, why) in enumerate(zip(shown, why_lines), start=1):
        assert why.startswith(f"score {score}: ")
        if position <= 3:
            assert f"#{position} " in panel and f"score {score}: " in panel
    assert "1.00 means ranked first by every search that ran" in panel


def test_more_results_page_on_with_htmx_and_without(client, thread):
    first = text_of(client.get("/search?q=the&limit=2"))
    more = re.search(r'<li id="search-more" class="search-more">\s*<a role="button" class="secondary outline" '
                     r'href="([^"]+)" hx-get="\1" hx-target="#search-more"', first)
    assert more and "offset=2" in more.group(1) and "limit=2" in more.group(1)
    url = more.group(1).replace("&amp;", "&")
    # htmx: only the next results and the next "More results", to replace the one clicked.
    fragment = client.get(url, headers={**HTMX, "HX-Target": "search-more"})
    body = text_of(fragment)
    assert fragment.status_code == 200 and "HX-Push-Url" not in fragment.headers
    assert body.lstrip().startswith('<li class="search-result') and '<ol' not in body and "search-summary" not in body
    assert 'id="search-more"' in body and "offset=4" in body
    # Without JavaScript: the page of results 3-4, and a way back.
    page = text_of(client.get(url))
    assert "Results 3–4 for “the”" in page and "Back to the first results" in page
    titles_first, titles_next = results_of(first), results_of(page)
    assert titles_next and not set(titles_first) & set(titles_next)
