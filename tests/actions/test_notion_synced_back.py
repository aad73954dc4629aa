"""A Notion page made by create_page, and the blocks append_blocks adds to it, come back with the
next incremental sync and are searchable. On the small Notion sandbox of test_notion_sync.py (a
full sync reads every page and nested block; the shared sandbox's scale would take too long)."""
from sandbox.providers.notion import nid
from tests.actions.helpers import dry_run_then_run
from tests.connectors.atlassian_walk import configure, stored, sync
from tests.connectors.test_notion_sync import app_config, notion, notion_sandbox  # noqa: F401 (fixtures)


def test_notion_create_page_and_append_blocks_are_synced_back_and_searchable(app, api, notion, notion_sandbox):
    configure(app, notion, access_mode="workspace")     # the source mode shows only pages published to the web
    assert sync(app, api, notion)["status"] == "completed"
    made = dry_run_then_run(api, notion_sandbox, "notion", notion, "create_page",
                            {"parent_id": nid("page", 1), "title": "Capybara launch checklist",
                             "content": "Freeze the capybara branch.\n\nShip on Monday."})
    later = sync(app, api, notion, full=False)
    assert later["status"] == "completed" and later["documents_created"] == 1, later
    page = stored(app, notion, "page")[made["result"]["id"]]
    assert page.title == "Capybara launch checklist"
    assert "Freeze the capybara branch." in page.content and "Ship on Monday." in page.content
    answer = api.post("/api/v1/query", json={"query": "capybara branch", "sources": ["notion"], "limit": 3}).json
    assert answer["results"][0]["metadata"]["external_id"] == page.external_id

    dry_run_then_run(api, notion_sandbox, "notion", notion, "append_blocks",
                     {"block_id": made["result"]["id"], "content": "Decision: the tapir ships on Friday."})
    again = sync(app, api, notion, full=False)
    assert (again["status"], again["documents_created"], again["documents_updated"]) == ("completed", 0, 1), again
    page = stored(app, notion, "page")[made["result"]["id"]]
    assert "Decision: the tapir ships on Friday." in page.content and "Ship on Monday." in page.content
    answer = api.post("/api/v1/query", json={"query": "tapir ships Friday", "sources": ["notion"], "limit": 3}).json
    assert answer["results"][0]["metadata"]["external_id"] == page.external_id
