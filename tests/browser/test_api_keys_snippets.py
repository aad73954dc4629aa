"""The API keys page shows how to use a key from the Python SDK, the TypeScript SDK and an MCP
client, each with a Copy button; the snippets are not just shown but work: with the key the page
just created, the environment lines and each SDK's program run against this console and print
what the workspace holds (screenshots looked at)."""
import os
import shutil
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from core.extensions import db
from tests.browser.helpers import at_both_widths, sign_in
from tests.factories import make_connection
from tests.sdk.test_typescript_sdk import PACKAGE, compile_package

pytestmark = pytest.mark.browser


@pytest.fixture
def holdings(live_app, workspace, api):
    """A connection named Deals and a note about the auth decision."""
    with live_app.app_context():
        make_connection(db.session.merge(workspace[0]).id, connector_type="pipedrive", name="Deals")
    store = api.get("/api/v1/vector-stores").json["vector_stores"][0]["id"]
    synced = api.post("/v1/pipeline/sync", json={
        "organization_id": workspace[0].id, "vector_store_id": store, "sync_mode": "incremental",
        "sync_timestamp": "2026-03-01T10:00:00Z", "operations": [{
            "action": "upsert", "id": "auth", "namespace": "notes", "title": "Auth decision",
            "content": "The auth decision: OAuth with PKCE."}]})
    assert synced.status_code == 200, synced.json


def run_in_shell(environment: str, key: str, command: list[str], cwd) -> str:
    """The page's environment lines with the key filled in, then ``command``; its output."""
    script = environment.replace("<your key>", key) + '\nexec "$@"\n'
    result = subprocess.run(["bash", "-c", script, "snippet", *command], cwd=cwd, capture_output=True, text=True,
                            timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("TRIBUTARY_")})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_sdk_and_mcp_snippets_copy_and_run_with_a_new_key(live_app, base_url, workspace, holdings, page,
                                                              screenshot, tmp_path):
    sign_in(page, workspace[1])
    page.goto("/settings/api-keys")
    page.get_by_label("Name").fill("Scripts")
    for scope in ("connections:read", "query"):
        page.locator("label", has=page.locator(f"code:text-is('{scope}')")).locator("input").check()
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").input_value()
    assert key.startswith("trb_")

    section = page.locator("section", has=page.get_by_role("heading", name="Use a key"))
    for heading in ("Python SDK", "TypeScript SDK", "MCP client"):
        expect(section.get_by_role("heading", name=heading)).to_be_visible()
    environment = page.locator("#key-environment").input_value()
    assert environment == f"export TRIBUTARY_API_KEY='<your key>'\nexport TRIBUTARY_BASE_URL={base_url}"
    copy = page.locator("button[data-copy='#python-snippet']")
    copy.click()
    expect(copy).to_have_text("Copied")
    section.scroll_into_view_if_needed()
    at_both_widths(page, screenshot, "api_keys_snippets")

    python = tmp_path / "quickstart.py"
    python.write_text(page.locator("#python-snippet").input_value())
    printed = run_in_shell(environment, key, [sys.executable, str(python)], tmp_path)
    assert "[pipeline] The auth decision: OAuth with PKCE." in printed and "Deals connected" in printed

    installed = tmp_path / "node_modules" / "@tributary" / "sdk"  # the package as npm install leaves it
    installed.mkdir(parents=True)
    shutil.copy(PACKAGE / "package.json", installed)
    (installed / "dist").symlink_to(compile_package(tmp_path / "build"))
    module = tmp_path / "quickstart.mjs"
    module.write_text(page.locator("#typescript-snippet").input_value())
    assert run_in_shell(environment, key, ["node", str(module)], tmp_path) == printed
