"""Actions over MCP, with the SDK's client over streamable HTTP: none are tools by default (the
spec's confused-deputy reasoning); once an admin exposes post_message in the connection's policy
it is a tool that needs the ``actions`` scope and obeys the same policy, approvals and
idempotency as the REST API. An agent's key is its member's: the member does not approve what their
agent asked for (four-eyes); another admin does."""
from tests.actions.helpers import connect_oauth, writes
from tests.factories import Api, add_member, make_api_key
from tests.running import run
from tests.mcp.test_mcp import live, over_http, refused  # noqa: F401  (the live server fixture)

FORBIDDEN, INVALID = -32011, -32602


def test_actions_are_tools_only_when_an_admin_exposes_them(app, client, workspace, api, live, sandbox_server):
    slack = connect_oauth(app, client, workspace, "slack")
    with app.app_context():
        from core.extensions import db

        ws, admin = (db.session.merge(x) for x in workspace)
        agent = make_api_key(ws, admin, ["actions"], name="agent")
        reader = make_api_key(ws, admin, ["query"], name="reader")
        bea = Api(client, make_api_key(ws, add_member(ws, email="bea@example.com", role="admin"), ["admin"]))
    tool = f"post_message__{slack}"
    policy = f"/api/v1/connections/{slack}/actions/policy"

    async def main():
        async with over_http(live, agent) as mcp:
            assert (await mcp.list_tools()).tools == []
            await refused(mcp.call_tool(tool, {"channel": "general", "text": "hi"}), INVALID, "unknown_tool")

            assert api.put(policy, json={"mcp_tools": ["post_message"]}).status_code == 200
            (listed,) = (await mcp.list_tools()).tools
            assert listed.name == tool and listed.annotations.open_world_hint and not listed.annotations.read_only_hint
            assert listed.input_schema["required"] == ["channel", "text"] and "dry_run" in listed.input_schema["properties"]

            before = len(writes(sandbox_server, "slack"))
            planned = (await mcp.call_tool(tool, {"channel": "general", "text": "From an agent", "dry_run": True}))
            assert planned.structured_content["plan"][0]["url"].endswith("/slack/api/chat.postMessage")
            assert len(writes(sandbox_server, "slack")) == before
            done = (await mcp.call_tool(tool, {"channel": "general", "text": "From an agent"})).structured_content
            assert done["status"] == "succeeded" and done["result"]["channel"] == "C0GENERAL1"
            again = (await mcp.call_tool(tool, {"channel": "general", "text": "From an agent"})).structured_content
            assert again["replayed"] and again["id"] == done["id"] and len(writes(sandbox_server, "slack")) == before + 1
            await refused(mcp.call_tool(tool, {"channel": "general"}), INVALID, "invalid_action_parameter")

            api.put(policy, json={"approval_required": ["post_message"]})
            held = (await mcp.call_tool(tool, {"channel": "general", "text": "Needs a person"})).structured_content
            assert held["status"] == "pending_approval" and len(writes(sandbox_server, "slack")) == before + 1
            own = api.post(f"/api/v1/connections/{slack}/actions/runs/{held['id']}/approve")
            assert (own.status_code, own.json["error"]["code"]) == (403, "self_approval_not_allowed")
            approved = bea.post(f"/api/v1/connections/{slack}/actions/runs/{held['id']}/approve")
            assert approved.status_code == 201 and len(writes(sandbox_server, "slack")) == before + 2

            api.put(policy, json={"allowed_actions": []})
            await refused(mcp.call_tool(tool, {"channel": "general", "text": "no"}), FORBIDDEN, "action_not_allowed")
            api.put(policy, json={"allowed_actions": None, "mcp_tools": []})
            assert (await mcp.list_tools()).tools == []
        async with over_http(live, reader) as other:
            api.put(policy, json={"mcp_tools": ["post_message"]})
            assert [t.name for t in (await other.list_tools()).tools] == ["search"]
            await refused(other.call_tool(tool, {"channel": "general", "text": "x"}), FORBIDDEN, "insufficient_scope")

    run(main)
