"""The API keys page promises only what exists (issue #12: it mentioned a Python SDK that does not
exist yet); it points at the API's description instead."""
from tests.console.conftest import text_of


def test_the_api_keys_page_mentions_no_sdk_and_links_the_api_description(client, admin):
    page = text_of(client.get("/settings/api-keys"))
    assert "SDK" not in page and "sdk" not in page.lower()
    assert 'href="/api/v1/openapi.json"' in page
    assert client.get("/api/v1/openapi.json").status_code == 200
