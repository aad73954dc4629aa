"""GitLab's issues read from the sandbox over HTTP, without the engine: a pass resumed from a
mid-pass checkpoint, an issue deleted in the middle of a read, and a self-managed instance's base
URL (acme/api at SEED 42, SCALE 25: 25 issues)."""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.gitlab import GitLabConnector
from connectors.settings import ConnectorSettings, resolve
from tests.connectors.walk import resumed_pass


@pytest.fixture
def sandbox(sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server.url


def gitlab(sandbox):
    token = requests.post(f"{sandbox}/_sandbox/tokens", json={"provider": "gitlab", "scope": "read_api read_user"},
                          timeout=5).json()["access_token"]
    connector = GitLabConnector(ConnectorSettings("gitlab", GitLabConnector.sandbox_settings(sandbox)))
    connector.page_size = 10
    return connector, SyncContext(connection_id="c", connector_type="gitlab", credentials={}, settings={},
                                  access_token=lambda: token)


def read(connector, ctx, state=None, mode="full", pages=None):
    reader = connector.read(ctx, connector.spec("issues"), state=state, mode=mode, channel="1")
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r["iid"] for p in got for r in p.records], got


def test_a_pass_resumes_from_its_checkpoint_without_losing_or_repeating_an_issue(sandbox):
    connector, ctx = gitlab(sandbox)
    everything, pages, resumed = resumed_pass(lambda state=None, mode="full", pages=None:
                                              read(connector, ctx, state, mode, pages))
    assert len(pages) == 3 and sorted(everything) == list(range(1, 26))
    assert resumed[-1].state["cursor"] == pages[-1].state["cursor"]


def test_an_issue_deleted_during_a_read_shifts_nothing_unread_out_of_view(sandbox):
    """Offset pages shift left when an issue already read goes; the reader restarts from the
    newest update time it handed over (``updated_after``), so nothing unread is skipped."""
    connector, ctx = gitlab(sandbox)
    everything, _ = read(connector, ctx)
    first, [page] = read(connector, ctx, pages=1)
    gone = first[0]                                     # already read: the next offset page would shift
    requests.delete(f"{sandbox}/_sandbox/collections/gitlab/issues/{3 * (gone - 1) + 1}", timeout=5).raise_for_status()
    rest, _ = read(connector, ctx, page.state, "full")
    assert sorted(first + rest) == sorted(everything)
    assert f"1:{gone}" not in {i for i in connector.list_ids(ctx, connector.spec("issues"), "1")}
    assert connector.fetch_records(ctx, connector.spec("issues"), "1", [f"1:{gone}"]) == []


def test_a_self_managed_instance_is_its_base_url():
    settings = resolve({"GITLAB_BASE_URL": "https://git.acme.example", "GITLAB_API_URL": "https://git.acme.example/api/v4",
                        "GITLAB_CLIENT_ID": "id", "GITLAB_CLIENT_SECRET": "secret"}, GitLabConnector)
    assert settings.url(GitLabConnector.catalog.oauth.authorize) == "https://git.acme.example/oauth/authorize"
    assert settings.url(GitLabConnector.catalog.oauth.token) == "https://git.acme.example/oauth/token"
    assert settings.api_url == "https://git.acme.example/api/v4"
