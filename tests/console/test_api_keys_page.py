"""The API keys page promises only what exists (issue #12: it mentioned a Python SDK that does not
exist yet); it points at the API's description instead, and gives an MCP client's configuration."""
import html
import json
import re

from tests.console.conftest import text_of


def test_the_api_keys_page_mentions_no_sdk_and_links_the_api_description(client, admin):
    page = text_of(client.get("/settings/api-keys"))
    assert "SDK" not in page and "sdk" not in page.lower()
    assert 'href="/api/v1/openapi.json"' in page
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_api_keys_page_gives_an_mcp_client_configuration_for_this_console(client, admin):
    page = text_of(client.get("/settings/api-keys"))
    config = json.loads(html.unescape(re.search(r'<textarea id="mcp-config"[^>]*>(.*?)</textarea>', page, re.S).group(1)))
    assert config == {"mcpServers": {"tributary": {
        "type": "http", "url": "http://localhost/mcp", "headers": {"Authorization": "Bearer <your key>"}}}}
    assert 'data-copy="#mcp-config"' in page and "flask --app app mcp" in page
