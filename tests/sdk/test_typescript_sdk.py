"""The TypeScript SDK (sdk/typescript) against a live server: compiled with its pinned tsc, its
tests (sdk/typescript/test, Node's test runner) run against this test's app, with the provider
sandbox behind the connectors (and a Slack connection for the actions) and a sync worker running
queued syncs, on SQLite and PostgreSQL."""
import os
import subprocess
from pathlib import Path

import pytest

from knowledge import pipeline
from tests.actions.helpers import connect_oauth
from tests.sdk.conftest import REPO

PACKAGE = Path(__file__).resolve().parents[2] / "sdk" / "typescript"


def compile_package(into: Path) -> Path:
    """The package and its tests compiled by its pinned tsc into ``into``/dist (a directory of the
    test's own: tests on other pytest workers may compile at the same time); that directory."""
    tsc = PACKAGE / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "run `make install-test` (npm ci in sdk/typescript)"
    dist = into / "dist"
    result = subprocess.run([str(tsc), "-p", str(PACKAGE), "--outDir", str(dist)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return dist


@pytest.mark.slow
def test_node_test_suite_passes_against_a_live_server(app, live, keys, github_token, few_streams, sync_worker,
                                                     tmp_path, monkeypatch):
    app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] = 1  # one pipeline sync a second: the retry test's 429
    monkeypatch.setattr(pipeline, "RATE_WINDOW_SECONDS", 1)
    dist = compile_package(tmp_path)
    # The actions' test acts in the other workspace: Acme's connections are counted by the others.
    slack = connect_oauth(app, app.test_client(), keys.other_workspace, "slack")
    env = {**os.environ, "TRIBUTARY_BASE_URL": live, "TRIBUTARY_API_KEY": keys.admin,
           "TRIBUTARY_TEST_QUERY_KEY": keys.query_only, "TRIBUTARY_TEST_WORKSPACE_ID": keys.workspace_id,
           "TRIBUTARY_TEST_GITHUB_TOKEN": github_token, "TRIBUTARY_TEST_REPO": REPO,
           "TRIBUTARY_TEST_SLACK_CONNECTION": slack, "TRIBUTARY_TEST_OTHER_KEY": keys.other,
           "TRIBUTARY_TEST_OTHER_APPROVER_KEY": keys.other_approver}
    result = subprocess.run(["node", "--test", str(dist / "test")], cwd=PACKAGE, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 9" in result.stdout and "# fail 0" in result.stdout, result.stdout
