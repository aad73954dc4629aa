"""The API keys page promises only what exists (issue #12: it mentioned a Python SDK that did not
exist yet): the SDKs it shows are the repository's, installed as it says; it links the API's
description and gives an MCP client's configuration."""
import html
import json
import re
import tomllib
from pathlib import Path

from tests.console.conftest import text_of


SDK = Path(__file__).resolve().parents[2] / "sdk"


def test_the_api_keys_page_names_the_repositorys_sdks_and_links_the_api_description(client, admin):
    page = text_of(client.get("/settings/api-keys"))
    python = tomllib.loads((SDK / "python" / "pyproject.toml").read_text())
    typescript = json.loads((SDK / "typescript" / "package.json").read_text())
    assert "pip install ./sdk/python" in page and "import name <code>tributary</code>" in page
    tarball = f"{typescript['name'].lstrip('@').replace('/', '-')}-{typescript['version']}.tgz"
    assert f"&lt;path&gt;/{tarball}" in page and "cd sdk/typescript &amp;&amp; npm ci &amp;&amp; npm pack" in page
    assert python["project"]["version"] == typescript["version"]
    assert 'href="/api/v1/openapi.json"' in page
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_api_keys_page_gives_an_mcp_client_configuration_for_this_console(client, admin):
    page = text_of(client.get("/settings/api-keys"))
    config = json.loads(html.unescape(re.search(r'<textarea id="mcp-config"[^>]*>(.*?)</textarea>', page, re.S).group(1)))
    assert config == {"mcpServers": {"tributary": {
        "type": "http", "url": "http://localhost/mcp", "headers": {"Authorization": "Bearer <your key>"}}}}
    assert 'data-copy="#mcp-config"' in page and "flask --app app mcp" in page
