"""Real GitHub answers, recorded by Octokit (@octokit/fixtures), replayed through the GitHub
connector's readers: the documents it makes from them carry what GitHub sent. This checks the
connector against GitHub itself, not against our emulation of it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from connectors.base import SyncContext
from connectors.github import GitHubConnector
from connectors.settings import ConnectorSettings
from tests.conftest import LiveServer

from .descriptions import github_response
from .replay import Replay, scenario
from .validation import problems


@pytest.fixture
def replay_of():
    servers = []

    def serve(name: str, aliases: dict | None = None) -> tuple[Replay, GitHubConnector]:
        replay = Replay(scenario(name), aliases)
        server = LiveServer(replay)
        servers.append(server)
        replay.base = server.url
        connector = GitHubConnector(ConnectorSettings("github", {"api_url": server.url,
                                                                  "base_url": server.url},
                                                      timeout=5))
        return replay, connector

    yield serve
    for server in servers:
        server.stop()


def ctx() -> SyncContext:
    """A run's context: each test is a run of its own (a run keeps its client and lookups)."""
    return SyncContext(connection_id="conn_replay", connector_type="github", credentials={}, settings={},
                       access_token=lambda: "0000000000000000000000000000000000000001")


def stream(connector, name):
    return next(s for s in connector.catalog.streams if s.name == name)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_a_recorded_repository_becomes_its_document(replay_of):
    replay, github = replay_of("get-repository")
    recorded = replay.exchanges[0]["response"]
    pages = list(github.read(ctx(), stream(github, "repositories"), state=None, mode="full",
                             channel="octokit-fixture-org/hello-world"))
    assert replay.unused() == [] and replay.unmatched == []
    [record] = [r for page in pages for r in page.records]
    doc = github.to_document(stream(github, "repositories"), record)
    assert doc.external_id == doc.title == recorded["full_name"] == "octokit-fixture-org/hello-world"
    assert doc.url == recorded["html_url"] and doc.author == recorded["owner"]["login"]
    assert doc.type == "repository"
    assert doc.created_at == when(recorded["created_at"]) and doc.updated_at == when(recorded["updated_at"])
    assert doc.metadata["private"] is recorded["private"]
    assert doc.metadata["default_branch"] == recorded["default_branch"]
    assert doc.metadata["topics"] == recorded["topics"]
    assert doc.metadata["open_issues"] == recorded["open_issues_count"]
    assert doc.metadata["pushed_at"] == recorded["pushed_at"]


def test_recorded_issue_pages_become_documents(replay_of):
    # GitHub's Link header sends page 2 on to /repositories/1000/issues, the same issues as
    # /repos/octokit-fixture-org/paginate-issues/issues (repository 1000) page 2.
    replay, github = replay_of("paginate-issues", {
        "/repositories/1000": "/repos/octokit-fixture-org/paginate-issues"})
    github.page_size = 3            # the recording paged by per_page=3
    recorded = [issue for exchange in replay.exchanges for issue in exchange["response"]]
    pages = list(github.read(ctx(), stream(github, "issues"), state=None, mode="full",
                             channel="octokit-fixture-org/paginate-issues"))
    assert replay.unmatched == [], replay.unmatched
    assert replay.unused() == []            # all five recorded pages were read
    records = [r for page in pages for r in page.records]
    assert len(records) == len(recorded) == 13
    docs = [github.to_document(stream(github, "issues"), r) for r in records]
    assert [d.external_id for d in docs] == [f"octokit-fixture-org/paginate-issues#{i['number']}"
                                            for i in recorded]
    for doc, issue in zip(docs, recorded):
        assert doc.title == issue["title"] and doc.url == issue["html_url"]
        assert doc.author == issue["user"]["login"] and doc.content == (issue["body"] or "")
        assert doc.type == "issue" and doc.metadata["state"] == issue["state"]
        assert doc.metadata["comments"] == issue["comments"]
        assert doc.metadata["labels"] == [label["name"] for label in issue["labels"]]
        assert doc.created_at == when(issue["created_at"])
    # Every recorded issue shares one updated_at, so the keyset reader's cursor is that
    # timestamp and the finished pass leaves no resume point.
    assert pages[-1].state == {"cursor": recorded[-1]["updated_at"], "boundary": pages[-1].state["boundary"]}


def test_a_recorded_created_issue_maps_like_a_listed_one():
    created = scenario("add-labels-to-issue")[0]["response"]
    github = GitHubConnector(ConnectorSettings("github", {}))
    doc = github.to_document(stream(github, "issues"),
                             {**created, "_repository": "octokit-fixture-org/add-labels-to-issue"})
    assert doc.external_id == f"octokit-fixture-org/add-labels-to-issue#{created['number']}"
    assert doc.title == created["title"] and doc.author == created["user"]["login"]


@pytest.mark.parametrize("name, method, template", [
    ("get-repository", "GET", "/repos/{owner}/{repo}"),
    ("paginate-issues", "GET", "/repos/{owner}/{repo}/issues"),
])
def test_recorded_answers_pass_the_same_validation_as_the_sandbox(name, method, template):
    """The validator is not stricter than GitHub: real recorded bodies pass it, apart from
    fields GitHub made required after the recording (listed)."""
    schema, _ = github_response(method, template, 200)
    found = set()
    for exchange in scenario(name):
        if exchange["method"].upper() == method and exchange["status"] == 200:
            found.update(problems(schema, exchange["response"]))
    added_since = {"at /: 'has_discussions' is a required property",
                   "at /*: 'has_discussions' is a required property"}
    assert found <= added_since, sorted(found - added_since)
