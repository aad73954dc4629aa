"""MCP: the read-only surface for MCP clients (``blueprints.mcp.server``), over streamable HTTP
at ``/mcp`` in the web app (``blueprints.mcp.http``) and over stdio with ``flask mcp``."""
import os

import click
from flask import Flask, current_app

KEY_VARIABLE = "TRIBUTARY_API_KEY"


def init_app(app: Flask) -> None:
    """Mount ``/mcp`` in front of the app and add ``flask mcp``."""
    from .http import McpMount

    mount = McpMount(app, app.wsgi_app)
    app.wsgi_app = mount
    app.extensions["mcp_http"] = mount
    app.cli.add_command(mcp_command)


@click.command("mcp")
def mcp_command():
    """Serve MCP over stdio (for local clients such as Claude Desktop), as the API key in
    TRIBUTARY_API_KEY."""
    import anyio
    from mcp.server.stdio import stdio_server

    from .server import Caller, build_server

    key = os.environ.get(KEY_VARIABLE, "").strip() or None
    caller = Caller(key=key, missing_key_message=f"Set {KEY_VARIABLE} to an API key (console: API keys) in the "
                                                 "environment of `flask mcp`, e.g. in the MCP client's configuration.")
    if key is None:  # stdout is the protocol: say it on stderr, where MCP clients keep server logs
        click.echo(f"{KEY_VARIABLE} is not set: every request will be refused (missing_api_key).", err=True)
    server = build_server(current_app._get_current_object(), lambda ctx: caller)

    async def serve():
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve)
