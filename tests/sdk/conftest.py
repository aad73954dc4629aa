"""The SDKs against a live Tributary: the test's app served on a real port, keys made in its
database, the provider sandbox behind the connectors."""
from dataclasses import replace
from types import SimpleNamespace

import pytest
import requests

from connectors.github import GitHubConnector
from tests.conftest import LiveServer
from tests.factories import add_member, make_api_key, make_workspace

REPO = "octo-sandbox/atlas-etl"


@pytest.fixture
def live(app):
    """The app on a real port; its URL."""
    server = LiveServer(app)
    yield server.url
    server.stop()


@pytest.fixture
def keys(app):
    """Acme's admin key, a key with the ``query`` scope only, another workspace's admin key and a
    second admin's key there (``other_approver``: four-eyes approvals), with the workspace ids (and each workspace with its admin, ``acme`` and ``other_workspace``, for
    connecting the console's way)."""
    with app.app_context():
        acme, ada = make_workspace("Acme")
        other, olga = make_workspace("Other")
        oscar = add_member(other, email="oscar@other.example", role="admin")
        return SimpleNamespace(admin=make_api_key(acme, ada, ["admin"], name="sdk admin"),
                               other_approver=make_api_key(other, oscar, ["admin"], name="other approver"),
                               query_only=make_api_key(acme, ada, ["query"], name="sdk query"),
                               other=make_api_key(other, olga, ["admin"], name="other admin"),
                               workspace_id=acme.id, other_workspace_id=other.id, acme=(acme, ada),
                               other_workspace=(other, olga))


@pytest.fixture
def github_token(sandbox_server):
    """A GitHub personal access token the sandbox accepts."""
    response = requests.post(f"{sandbox_server.url}/_sandbox/tokens", timeout=5,
                             json={"provider": "github", "kind": "personal", "scope": "repo read:org"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture
def few_streams(monkeypatch):
    """GitHub's repositories and issues only: a first sync in a fraction of the requests."""
    streams = tuple(s for s in GitHubConnector.catalog.streams if s.name in ("repositories", "issues"))
    monkeypatch.setattr(GitHubConnector, "catalog", replace(GitHubConnector.catalog, streams=streams))


@pytest.fixture
def sync_worker(app):
    """A worker thread that runs queued syncs, woken when one is queued (as `flask worker` would)."""
    from sync import service as sync_service
    from sync.worker import WorkerPool

    pool = WorkerPool(app, threads=1).start()
    sync_service._wakeups.append(pool.wake)
    yield pool
    sync_service._wakeups.remove(pool.wake)
    pool.stop()


def run_queued(app) -> list[str]:
    """Execute the queued sync runs, as a worker would; their ids."""
    from sync import worker

    return worker.drain(app)


def records(*items: tuple[str, str, str]) -> list[dict]:
    """Pipeline upserts ``(id, title, content)`` in namespace ``notes``, typed ``note`` by Ada."""
    return [{"action": "upsert", "id": id_, "namespace": "notes", "title": title, "content": content,
             "type": "note", "author": "ada@acme.example", "updated_at": f"2026-03-0{n + 1}T10:00:00Z"}
            for n, (id_, title, content) in enumerate(items)]
