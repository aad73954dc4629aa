"""GitHub streams read from the provider sandbox over HTTP: pages, checkpoints, incremental
reads after writes, document mapping, the prune listing and a transient server error."""
from datetime import datetime
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.registry import get_connector

REPO = "octo-sandbox/tributary-demo"
SCALE = 25          # tests/conftest.py serves the sandbox with SCALE=25
ORG_REPOS = 3       # and the signed-in user's organization (tributary-labs) has 3 repositories


@pytest.fixture
def sandbox(app, sandbox_server):
    """The sandbox's base URL, freshly reset (the app fixture resets it)."""
    return sandbox_server.url


@pytest.fixture
def token(sandbox):
    body = requests.post(f"{sandbox}/_sandbox/tokens", timeout=5,
                         json={"provider": "github", "scope": "repo read:user read:discussion"}).json()
    return body["access_token"]


@pytest.fixture
def github(app):
    with app.app_context():
        connector = get_connector(app.config, "github")
    # Small pages, so the 25-record sandbox takes many of them (discussions too).
    connector.page_size = 3
    return connector


@pytest.fixture
def sync_ctx(token):
    return SyncContext(connection_id="conn_test", connector_type="github", credentials={}, settings={},
                       access_token=lambda: token)


def stream(connector, name):
    return next(s for s in connector.catalog.streams if s.name == name)


def read(connector, ctx, name, *, state=None, mode="full", channel=REPO, pages=None):
    """(records, states) of a read, stopped after ``pages`` pages when given (a killed run)."""
    reader = connector.read(ctx, stream(connector, name), state=state, mode=mode,
                            channel=channel if name != "repositories" else None)
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r for p in got for r in p.records], [p.state for p in got]


def doc_ids(connector, name, records):
    return [connector.to_document(stream(connector, name), r).external_id for r in records]


def api(sandbox, token, method, path, **kw):
    response = requests.request(method, f"{sandbox}/github/api{path}", timeout=5,
                                headers={"Authorization": f"Bearer {token}"}, **kw)
    assert response.status_code < 300, response.text
    return response.json()


def seeded(sandbox, token, name) -> set[str]:
    """What the sandbox holds for a stream of REPO, asked for directly in one big page."""
    if name == "repositories":
        return {r["full_name"] for r in api(sandbox, token, "GET", "/user/repos?per_page=100")}
    if name == "issues":
        return {f"{REPO}#{i['number']}" for i in api(sandbox, token, "GET", f"/repos/{REPO}/issues?state=all&per_page=100")
                if "pull_request" not in i}
    if name == "pull_requests":
        return {f"{REPO}#{p['number']}" for p in api(sandbox, token, "GET", f"/repos/{REPO}/pulls?state=all&per_page=100")}
    if name == "comments":
        return {f"{REPO}#issuecomment-{c['id']}"
                for c in api(sandbox, token, "GET", f"/repos/{REPO}/issues/comments?per_page=100")}
    query = ('query { repository(owner: "octo-sandbox", name: "tributary-demo") '
             '{ discussions(first: 100) { nodes { number } } } }')
    body = api(sandbox, token, "POST", "/graphql", json={"query": query})
    return {f"{REPO}#{d['number']}" for d in body["data"]["repository"]["discussions"]["nodes"]}


def stats(sandbox) -> dict:
    return requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["requests"].get("github", {}).get("endpoints", {})


STREAMS = ["repositories", "issues", "pull_requests", "comments", "discussions"]


def test_the_catalog_has_a_comments_stream_per_repository(github):
    comments = stream(github, "comments")
    assert comments.document_type == "comment" and comments.channel_kind == "repository"


def test_channels_are_every_readable_repository_as_owner_name(github, sync_ctx, sandbox, token):
    channels = github.channels(sync_ctx, stream(github, "issues"))
    assert len(channels) == SCALE + ORG_REPOS == len({c.id for c in channels})
    assert {c.id for c in channels} == seeded(sandbox, token, "repositories")
    assert REPO in {c.id for c in channels} and all(c.name == c.id for c in channels)


@pytest.mark.parametrize("name", STREAMS)
def test_a_full_read_walks_every_page_without_duplicates_or_gaps(github, sync_ctx, sandbox, token, name):
    records, states = read(github, sync_ctx, name)
    ids = doc_ids(github, name, records)
    assert len(states) > 2, "the stream should take several pages"
    assert len(ids) == len(set(ids)), "a record was handed over twice"
    assert set(ids) == seeded(sandbox, token, name)
    assert "resume" not in states[-1] and all("resume" in s for s in states[:-1])


@pytest.mark.parametrize("name", STREAMS)
def test_the_checkpoint_after_page_two_resumes_at_page_three(github, sync_ctx, name):
    everything, _ = read(github, sync_ctx, name)
    first, states = read(github, sync_ctx, name, pages=2)       # the run is killed here
    rest, _ = read(github, sync_ctx, name, state=states[-1], mode="full")
    before, after = doc_ids(github, name, first), doc_ids(github, name, rest)
    assert not set(before) & set(after), "the resumed run repeated a stored page"
    assert sorted(before + after) == sorted(doc_ids(github, name, everything))


def test_a_full_read_ignores_a_completed_state(github, sync_ctx):
    records, states = read(github, sync_ctx, "issues")
    again, _ = read(github, sync_ctx, "issues", state=states[-1], mode="full")
    assert len(again) == len(records)


def test_an_incremental_read_of_issues_returns_only_what_changed(github, sync_ctx, sandbox, token):
    records, states = read(github, sync_ctx, "issues")
    assert all("pull_request" not in r for r in records)
    edited, commented = records[0]["number"], records[1]["number"]
    created = api(sandbox, token, "POST", f"/repos/{REPO}/issues", json={"title": "Brand new", "body": "hi"})
    api(sandbox, token, "PATCH", f"/repos/{REPO}/issues/{edited}", json={"title": "Edited title"})
    api(sandbox, token, "POST", f"/repos/{REPO}/issues/{commented}/comments", json={"body": "bumps it"})
    pull = next(p["number"] for p in api(sandbox, token, "GET", f"/repos/{REPO}/pulls?state=all"))
    api(sandbox, token, "PATCH", f"/repos/{REPO}/issues/{pull}", json={"title": "A pull request, skipped here"})
    changed, new_states = read(github, sync_ctx, "issues", state=states[-1], mode="incremental")
    assert sorted(r["number"] for r in changed) == sorted([created["number"], edited, commented])
    assert next(r for r in changed if r["number"] == edited)["title"] == "Edited title"
    # Nothing changed since: the boundary records (same second, same content) are not repeated.
    again, _ = read(github, sync_ctx, "issues", state=new_states[-1], mode="incremental")
    assert again == []


def test_an_issue_changed_again_within_the_same_second_is_read_again(github, sync_ctx, sandbox, token):
    _, states = read(github, sync_ctx, "issues")
    api(sandbox, token, "PATCH", f"/repos/{REPO}/issues/1", json={"body": "first edit"})
    _, states = read(github, sync_ctx, "issues", state=states[-1], mode="incremental")
    api(sandbox, token, "PATCH", f"/repos/{REPO}/issues/1", json={"body": "second edit"})
    changed, _ = read(github, sync_ctx, "issues", state=states[-1], mode="incremental")
    assert [r["body"] for r in changed if r["number"] == 1] == ["second edit"]


def test_an_incremental_read_of_comments_returns_the_new_comment_under_its_issue(github, sync_ctx, sandbox, token):
    _, states = read(github, sync_ctx, "comments")
    comment = api(sandbox, token, "POST", f"/repos/{REPO}/issues/3/comments", json={"body": "**new** comment"})
    changed, _ = read(github, sync_ctx, "comments", state=states[-1], mode="incremental")
    assert [c["id"] for c in changed] == [comment["id"]]
    doc = github.to_document(stream(github, "comments"), changed[0])
    # the issue's title is the stored issue's (see the next test), not asked of GitHub per issue
    assert doc.title == "Comment on #3" and doc.parent_id == f"{REPO}#3"
    assert doc.content == "**new** comment" and doc.type == "comment" and doc.author == "octo-sandbox"
    assert doc.external_id == f"{REPO}#issuecomment-{comment['id']}" and doc.url == comment["html_url"]
    assert doc.metadata["issue_number"] == 3 and doc.metadata["repo"] == REPO
    assert stats(sandbox).get("GET /github/api/repos/<owner>/<repo>/issues/<int:number>", 0) == 0


def test_comments_take_their_issue_from_the_stored_issue_with_no_request_per_issue(app, api, client, sandbox):
    """A full sync stores issues and pull requests before their comments; each comment is stored
    with its issue's title, address and kind from there (the engine derives it), so GitHub is
    asked for no issue one by one; a renamed issue renames its comments in the next read."""
    from sqlalchemy import select

    from connections.models import Connection
    from core.extensions import db
    from knowledge.models import Document
    from tests.connectors.walk import sync
    from tests.oauth_helpers import consent, local_path

    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    client.get(local_path(consent(started["authorize_url"])))
    connection_id = started["connection"]["id"]
    with app.app_context():
        db.session.get(Connection, connection_id).settings = {"channels": [REPO]}
        db.session.commit()
        db.session.remove()
    assert sync(app, api, connection_id)["status"] == "completed"
    assert stats(sandbox).get("GET /github/api/repos/<owner>/<repo>/issues/<int:number>", 0) == 0

    def stored():
        with app.app_context():
            docs = db.session.scalars(select(Document).where(Document.connection_id == connection_id)).all()
            db.session.expunge_all()
            db.session.remove()
        return ({d.external_id: d for d in docs if d.type in ("issue", "pull_request")},
                [d for d in docs if d.type == "comment"])
    parents, comments = stored()
    assert comments and {c.parent_id for c in comments} <= set(parents)
    for comment in comments:
        parent = parents[comment.parent_id]
        assert comment.title == f"Comment on #{comment.metadata_['issue_number']}: {parent.title}"
        assert comment.metadata_["issue_url"] == parent.url
        assert comment.metadata_["is_pull_request"] == (parent.type == "pull_request")

    number = comments[0].metadata_["issue_number"]
    token = requests.post(f"{sandbox}/_sandbox/tokens", timeout=5, json={"provider": "github", "scope": "repo"}).json()
    requests.patch(f"{sandbox}/github/api/repos/{REPO}/issues/{number}", json={"title": "Renamed for the test"},
                   headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5).raise_for_status()
    assert sync(app, api, connection_id, full=False)["status"] == "completed"
    _, comments = stored()
    renamed = [c for c in comments if c.metadata_["issue_number"] == number]
    assert renamed and all(c.title == f"Comment on #{number}: Renamed for the test" for c in renamed)


def test_an_incremental_read_of_pull_requests_stops_at_the_cursor(github, sync_ctx, sandbox, token):
    records, states = read(github, sync_ctx, "pull_requests")
    oldest = min(records, key=lambda r: r["updated_at"])["number"]
    api(sandbox, token, "PATCH", f"/repos/{REPO}/issues/{oldest}", json={"title": "Renamed pull request"})
    before = stats(sandbox).get("GET /github/api/repos/<owner>/<repo>/pulls", 0)
    changed, new_states = read(github, sync_ctx, "pull_requests", state=states[-1], mode="incremental")
    assert [(r["number"], r["title"]) for r in changed] == [(oldest, "Renamed pull request")]
    # Newest first: the changed one and the old cursor are on the first page; no need to read on.
    assert stats(sandbox)["GET /github/api/repos/<owner>/<repo>/pulls"] - before == 1
    assert new_states[-1]["cursor"] == changed[0]["updated_at"]
    again, _ = read(github, sync_ctx, "pull_requests", state=new_states[-1], mode="incremental")
    assert again == []


def test_an_incremental_read_of_discussions_returns_the_one_commented_on(github, sync_ctx, sandbox, token):
    records, states = read(github, sync_ctx, "discussions")
    target = min(records, key=lambda r: r["updatedAt"])
    mutation = ("mutation($input: AddDiscussionCommentInput!) "
                "{ addDiscussionComment(input: $input) { comment { id } } }")
    api(sandbox, token, "POST", "/graphql", json={"query": mutation, "variables": {
        "input": {"discussionId": target["id"], "body": "A late answer"}}})
    changed, _ = read(github, sync_ctx, "discussions", state=states[-1], mode="incremental")
    assert [d["number"] for d in changed] == [target["number"]]
    doc = github.to_document(stream(github, "discussions"), changed[0])
    assert "A late answer" in doc.content and "**octo-sandbox**" in doc.content


def test_issue_and_pull_request_documents(github, sync_ctx, sandbox, token):
    records, _ = read(github, sync_ctx, "issues")
    issue = next(r for r in records if r["labels"])
    doc = github.to_document(stream(github, "issues"), issue)
    assert doc.external_id == f"{REPO}#{issue['number']}" and doc.type == "issue"
    assert doc.title == issue["title"] and doc.content == issue["body"]
    assert doc.author == issue["user"]["login"] and doc.url == issue["html_url"]
    assert doc.created_at == datetime.fromisoformat(issue["created_at"].replace("Z", "+00:00"))
    assert doc.updated_at.tzinfo is not None
    assert doc.metadata["labels"] == [label["name"] for label in issue["labels"]]
    assert doc.metadata["state"] == issue["state"] and doc.metadata["repo"] == REPO
    assert doc.metadata["number"] == issue["number"]

    pulls, _ = read(github, sync_ctx, "pull_requests")
    pull = pulls[0]
    pdoc = github.to_document(stream(github, "pull_requests"), pull)
    assert pdoc.type == "pull_request" and pdoc.url.endswith(f"/pull/{pull['number']}")
    assert pdoc.metadata["merged"] == bool(pull["merged_at"]) and pdoc.metadata["base"] == "main"


def test_repository_and_discussion_documents(github, sync_ctx):
    repos, _ = read(github, sync_ctx, "repositories")
    doc = github.to_document(stream(github, "repositories"), next(r for r in repos if r["full_name"] == REPO))
    assert doc.external_id == REPO and doc.type == "repository" and doc.author == "octo-sandbox"
    assert doc.metadata["topics"] and doc.url.endswith("/github/" + REPO)

    discussions, _ = read(github, sync_ctx, "discussions")
    item = discussions[0]
    ddoc = github.to_document(stream(github, "discussions"), item)
    assert ddoc.type == "discussion" and ddoc.external_id == f"{REPO}#{item['number']}"
    assert ddoc.url.endswith(f"/discussions/{item['number']}") and ddoc.author == item["author"]["login"]
    assert ddoc.content.startswith(item["body"])


def test_the_repositories_stream_reads_one_repository_per_channel(github, sync_ctx):
    pages = list(github.read(sync_ctx, stream(github, "repositories"), state=None, mode="full", channel=REPO))
    assert [r["full_name"] for p in pages for r in p.records] == [REPO]


def test_list_ids_lists_repositories_only(github, sync_ctx, sandbox, token):
    assert set(github.list_ids(sync_ctx, stream(github, "repositories"))) == seeded(sandbox, token, "repositories")
    assert github.list_ids(sync_ctx, stream(github, "issues"), REPO) is None


def test_per_repository_streams_need_a_channel(github, sync_ctx):
    with pytest.raises(ValueError, match="per repository"):
        github.read(sync_ctx, stream(github, "issues"), state=None, mode="full", channel=None)


def test_reading_is_lazy_one_request_per_page(github, sync_ctx, sandbox):
    reader = github.read(sync_ctx, stream(github, "comments"), state=None, mode="full", channel=REPO)
    assert stats(sandbox).get("GET /github/api/repos/<owner>/<repo>/issues/comments", 0) == 0
    next(reader)
    assert stats(sandbox)["GET /github/api/repos/<owner>/<repo>/issues/comments"] == 1
    reader.close()


def test_a_token_refreshed_mid_run_is_used_from_the_next_request(github, sandbox, token):
    second = requests.post(f"{sandbox}/_sandbox/tokens", timeout=5,
                           json={"provider": "github", "scope": "repo"}).json()["access_token"]
    current = [token]
    ctx = SyncContext(connection_id="conn_test", connector_type="github", credentials={}, settings={},
                      access_token=lambda: current[0])
    reader = github.read(ctx, stream(github, "issues"), state=None, mode="full", channel=REPO)
    first = next(reader)
    revoked = requests.delete(f"{sandbox}/github/api/applications/sandbox-github-client/grant", timeout=5,
                              auth=("sandbox-github-client", "sandbox-github-secret"), json={"access_token": token})
    assert revoked.status_code == 204
    current[0] = second
    rest = [r for page in reader for r in page.records]
    assert first.records and rest


def test_one_server_error_mid_read_is_survived(github, sync_ctx, sandbox):
    expected, _ = read(github, sync_ctx, "issues")
    fault = {"provider": "github", "kind": "server_error", "status": 502, "count": 1,
             "path_prefix": f"/github/api/repos/{REPO}/issues"}
    assert requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=5).status_code == 201
    records, _ = read(github, sync_ctx, "issues")
    assert doc_ids(github, "issues", records) == doc_ids(github, "issues", expected)
    served = requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["faults_served"]
    assert served["github"]["server_error"] == 1


def test_a_server_error_on_the_discussions_query_is_retried(github, sync_ctx, sandbox):
    """The GraphQL query is a POST that only reads: it is retried like a GET."""
    expected, _ = read(github, sync_ctx, "discussions")
    fault = {"provider": "github", "kind": "server_error", "status": 502, "count": 1,
             "path_prefix": "/github/api/graphql"}
    assert requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=5).status_code == 201
    records, _ = read(github, sync_ctx, "discussions")
    assert expected and doc_ids(github, "discussions", records) == doc_ids(github, "discussions", expected)
    assert requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["faults_served"]["github"]["server_error"] == 1


def _as_before_the_kit(state: dict, records: list) -> dict:
    """``state`` as the connector wrote it before the kit: boundaries and tails keyed by GitHub's
    numeric id, each record fingerprinted before ``_repository`` was added to it (the pull
    requests the issues listing also shows are left out: they are skipped either way)."""
    from connectors.rest import fingerprint

    by_key = {f"{r['_repository']}#{r['number']}": r for r in records}

    def rekeyed(marks):
        return {str(by_key[k]["id"]): fingerprint({f: v for f, v in by_key[k].items() if f != "_repository"})
                for k in marks if k in by_key}
    old = {**state, "boundary": rekeyed(state.get("boundary") or {})}
    if "resume" in state:
        old["resume"] = {k: rekeyed(v) if k in ("tail", "high_boundary") else v for k, v in state["resume"].items()}
    return old


@pytest.mark.parametrize("name", ["issues", "pull_requests"])
def test_a_checkpoint_written_before_the_kit_still_resumes(github, sync_ctx, name):
    """Nothing is lost; at most the records on its boundary are handed over again, unchanged (so
    ingest writes nothing for them)."""
    everything, states = read(github, sync_ctx, name)
    first, mid = read(github, sync_ctx, name, pages=2)
    rest, _ = read(github, sync_ctx, name, state=_as_before_the_kit(mid[-1], everything), mode="full")
    assert set(doc_ids(github, name, first + rest)) == set(doc_ids(github, name, everything))
    again, _ = read(github, sync_ctx, name, state=_as_before_the_kit(states[-1], everything), mode="incremental")
    cursor = states[-1]["cursor"]
    assert len(again) <= len(states[-1]["boundary"]) and all(r["updated_at"] == cursor for r in again)
    assert all(r in everything for r in again)
