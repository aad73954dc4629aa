"""Restarting the demo's sandbox must not break the connections made before (issue #12: the
sandbox kept OAuth grants in memory, so after `make demo` was restarted every GitHub connection's
next sync got 401). A real `python -m sandbox` process, restarted on the same port."""
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sync import worker
from tests.oauth_helpers import consent, local_path

ROOT = Path(__file__).resolve().parents[2]
PIPEDRIVE_KEY = "sandbox-pipedrive-key"


class SandboxProcess:
    def __init__(self, state_file: Path | None):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_file = state_file
        self.process = None

    def start(self):
        command = [sys.executable, "-m", "sandbox", "--port", str(self.port), "--scale", "3"]
        if self.state_file:
            command += ["--state-file", str(self.state_file)]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/_sandbox", timeout=1)
                return self
            except requests.ConnectionError:
                assert self.process.poll() is None and time.monotonic() < deadline, self.process.stderr.read()
                time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stderr.close()

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture
def sandbox_process(tmp_path, request):
    process = SandboxProcess(tmp_path / "instance" / "sandbox-state.json" if request.param else None).start()
    yield process
    process.stop()


def connect_and_sync(app, api, client, sandbox_url):
    app.config["SANDBOX_URL"] = sandbox_url
    started = api.post("/api/v1/connections", json={"connector_type": "github"}).get_json()
    response = client.get(local_path(consent(started["authorize_url"])))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    connection_id = started["connection"]["id"]
    return connection_id, sync(app, api, connection_id)


def sync(app, api, connection_id):
    assert api.post(f"/api/v1/connections/{connection_id}/sync").status_code == 202
    worker.drain(app)
    return api.get(f"/api/v1/connections/{connection_id}").get_json()


@pytest.mark.parametrize("sandbox_process", [True], indirect=True)
def test_a_github_connection_survives_a_sandbox_restart(app, api, client, sandbox_process):
    connection_id, first = connect_and_sync(app, api, client, sandbox_process.url)
    assert first["status"] == "connected" and first["last_run"]["status"] == "completed", first
    saved = json.loads(sandbox_process.state_file.read_text())
    assert saved["oauth"]["grants"] and oct(sandbox_process.state_file.stat().st_mode & 0o777) == "0o600"

    sandbox_process.restart()
    after = sync(app, api, connection_id)
    assert after["status"] == "connected" and after["health"] == "healthy", after
    assert after["last_run"]["status"] == "completed" and after["last_run"]["error_reason"] is None, after


@pytest.mark.parametrize("sandbox_process", [False], indirect=True)
def test_without_a_state_file_a_restart_forgets_the_grant(app, api, client, sandbox_process):
    """What the demo did before: the same restart, and the connection turns into an error."""
    connection_id, first = connect_and_sync(app, api, client, sandbox_process.url)
    assert first["last_run"]["status"] == "completed", first
    sandbox_process.restart()
    after = sync(app, api, connection_id)
    assert after["last_run"]["status"] == "failed" and after["last_run"]["error_reason"] == "auth", after


@pytest.mark.parametrize("sandbox_process", [True], indirect=True)
def test_writes_keys_and_refresh_tokens_are_kept_too(sandbox_process):
    base = sandbox_process.url
    # A grant, straight through the OAuth endpoints.
    authorize = requests.post(f"{base}/github/login/oauth/authorize", data={
        "client_id": "sandbox-github-client", "redirect_uri": "http://127.0.0.1/cb", "state": "s",
        "decision": "allow"}, allow_redirects=False, timeout=5)
    code = requests.utils.urlparse(authorize.headers["Location"]).query.split("code=")[1].split("&")[0]
    tokens = requests.post(f"{base}/github/login/oauth/access_token", headers={"Accept": "application/json"}, data={
        "client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret", "code": code},
        timeout=5).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    repo = requests.get(f"{base}/github/api/user/repos", headers=bearer, timeout=5).json()[0]["full_name"]
    created = requests.post(f"{base}/github/api/repos/{repo}/issues", headers=bearer,
                            json={"title": "Made before the restart"}, timeout=5).json()
    deal = requests.put(f"{base}/pipedrive/api/v1/deals/1", params={"api_token": PIPEDRIVE_KEY},
                        json={"title": "Renamed before the restart"}, timeout=5)
    assert deal.status_code == 200, deal.text
    post = requests.post(f"{base}/_sandbox/x/posts", json={"username": "acme", "text": "Posted before the restart"},
                         timeout=5).json()
    x_bearer = {"Authorization": "Bearer sandbox-x-bearer"}
    gone = requests.get(f"{base}/x/2/users/{post['author_id']}/tweets", headers=x_bearer, timeout=5).json()["data"][1]
    assert requests.delete(f"{base}/_sandbox/x/posts/{gone['id']}", timeout=5).status_code == 200
    assert requests.delete(f"{base}/pipedrive/api/v1/activities/2", params={"api_token": PIPEDRIVE_KEY},
                           timeout=5).status_code == 200

    sandbox_process.restart()
    assert requests.get(f"{base}/github/api/user", headers=bearer, timeout=5).status_code == 200
    issue = requests.get(f"{base}/github/api/repos/{repo}/issues/{created['number']}", headers=bearer, timeout=5)
    assert issue.status_code == 200 and issue.json()["title"] == "Made before the restart"
    deal = requests.get(f"{base}/pipedrive/api/v1/deals/1", params={"api_token": PIPEDRIVE_KEY}, timeout=5)
    assert deal.json()["data"]["title"] == "Renamed before the restart"
    timeline = requests.get(f"{base}/x/2/users/{post['author_id']}/tweets", timeout=5, headers=x_bearer).json()
    assert timeline["data"][0] == {**timeline["data"][0], "id": post["id"], "text": "Posted before the restart"}
    assert gone["id"] not in {t["id"] for t in timeline["data"]}
    activity = requests.get(f"{base}/pipedrive/api/v1/activities/2", params={"api_token": PIPEDRIVE_KEY}, timeout=5)
    assert activity.status_code == 404
    refreshed = requests.post(f"{base}/github/login/oauth/access_token", headers={"Accept": "application/json"}, data={
        "client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret",
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, timeout=5).json()
    assert refreshed["access_token"].startswith("ghu_")


def test_a_state_file_of_another_seed_is_set_aside_not_half_used(tmp_path):
    from sandbox import create_app, get_state

    path = tmp_path / "sandbox-state.json"
    first = create_app({"SEED": 42, "SCALE": 3, "STATE_FILE": str(path)})
    first.test_client().post("/_sandbox/pipedrive/keys", json={"api_key": "kept-key"})
    assert "kept-key" in json.loads(path.read_text())["pipedrive_keys"]
    other = create_app({"SEED": 7, "SCALE": 3, "STATE_FILE": str(path)})
    assert "kept-key" not in get_state(other).pipedrive_keys and not get_state(other).tokens.grants
    assert (tmp_path / "sandbox-state.json.rejected").exists()
