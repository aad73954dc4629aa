"""Streamable HTTP at ``/mcp``, served by the same WSGI app as the console and the API.

The SDK's streamable-HTTP handler is an ASGI application; Tributary is a WSGI one (``flask run``,
gunicorn's threaded workers). ``McpMount`` is a small WSGI middleware in front of Flask that
hands ``POST /mcp`` to the SDK's ``StreamableHTTPSessionManager`` running on one event loop per
process (a daemon thread with an anyio ``BlockingPortal``, started by the first MCP request, so
nothing runs before gunicorn forks), and everything else to Flask.

The manager runs **stateless** with **JSON responses**: each POST carries one JSON-RPC message
and gets one JSON answer, with no session kept in memory between requests. So any process behind
a load balancer (gunicorn's workers, scale-out web processes) can answer any request, the WSGI
thread holds a request only as long as its answer takes, and a response never streams. The
server has nothing to push (no notifications, no subscriptions), so nothing is lost: ``GET`` (a
server-to-client event stream) and ``DELETE`` (ending a session) answer ``405``, which the MCP
specification allows and clients expect from such a server. Both protocol eras work: clients of
the initialize handshake (2025 revisions, e.g. Claude Desktop's) and of the 2026-07-28
per-request protocol (the SDK's own client by default).

The API key is read by the server from each request's ``Authorization: Bearer`` header, so a bad
or missing key is an MCP error like any other (``blueprints.mcp.server``). A request whose
``Origin`` is not this console's (``PUBLIC_URL``, else the request's own host) is refused with
``403``, as the MCP specification asks of HTTP servers (DNS rebinding).
"""
from __future__ import annotations

import threading
from http import HTTPStatus
from urllib.parse import urlsplit

from flask import Flask

PATH = "/mcp"


def _caller(ctx):
    """The key and address of an HTTP request (the SDK attaches the Starlette request)."""
    from .server import Caller

    request = ctx.request
    kind, _, token = (request.headers.get("authorization") or "").partition(" ")
    key = token.strip() if kind.lower() == "bearer" else None
    return Caller(key=key or None, client_address=request.client.host if request.client else None)


class McpMount:
    """WSGI middleware: ``/mcp`` to the MCP server, anything else to ``wsgi_app``. (The SDK is
    imported by the first MCP request: it takes about a second and a half of CPU to import, which
    no other request or command should pay.)"""

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self.max_body = int(app.config["API_MAX_BODY_BYTES"])
        self._lock = threading.Lock()
        self._portal = None  # anyio's BlockingPortal, once started
        self._manager = None  # the SDK's StreamableHTTPSessionManager

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") not in (PATH, PATH + "/"):
            return self.wsgi_app(environ, start_response)
        if environ["REQUEST_METHOD"] != "POST":
            return _plain(start_response, "405 Method Not Allowed", "MCP here is POST only (stateless: no event "
                          "stream, no session to end).", [("Allow", "POST")])
        if not self._origin_allowed(environ):
            return _plain(start_response, "403 Forbidden", "This Origin may not call Tributary's MCP endpoint.")
        body = _read_body(environ, self.max_body)
        if body is None:
            return _plain(start_response, "413 Payload Too Large", f"An MCP request is at most {self.max_body} bytes.")
        status, headers, content = self.portal().call(self._serve, _scope(environ), body)
        start_response(status, headers)
        return [content]

    def _origin_allowed(self, environ) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            return True  # not a browser, or same-origin
        own = self.app.config.get("PUBLIC_URL") or f"{environ['wsgi.url_scheme']}://{environ.get('HTTP_HOST', '')}"
        mine, theirs = urlsplit(own), urlsplit(origin)
        return (theirs.scheme, theirs.netloc) == (mine.scheme, mine.netloc)

    def portal(self):
        """This process's event loop for MCP (an anyio ``BlockingPortal``), started on first use."""
        with self._lock:
            if self._portal is None:
                import anyio
                from anyio.from_thread import BlockingPortal
                from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

                from .server import build_server

                self._manager = StreamableHTTPSessionManager(
                    build_server(self.app, _caller), json_response=True, stateless=True,
                    max_request_body_size=self.max_body)
                ready = threading.Event()

                async def main():
                    async with BlockingPortal() as portal, self._manager.run():
                        self._portal = portal
                        ready.set()
                        await portal.sleep_until_stopped()

                threading.Thread(target=anyio.run, args=(main,), name="mcp-http", daemon=True).start()
                if not ready.wait(30):
                    raise RuntimeError("The MCP event loop did not start.")
            return self._portal

    def close(self) -> None:
        """Stop this process's MCP event loop (tests; a process that exits needs nothing)."""
        with self._lock:
            if self._portal is not None:
                self._portal.call(self._portal.stop, True)
                self._portal = None

    async def _serve(self, scope: dict, body: bytes) -> tuple[str, list, bytes]:
        """Run one request through the SDK's handler; its whole answer (one JSON body)."""
        import anyio

        answered = anyio.Event()
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        status, headers, chunks = 500, [], []

        async def receive():
            if pending:
                return pending.pop()
            await answered.wait()  # the client is "connected" until the answer is complete
            return {"type": "http.disconnect"}

        async def send(message):
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    answered.set()

        assert self._manager is not None
        try:
            await self._manager.handle_request(scope, receive, send)
        finally:
            answered.set()
        return f"{status} {HTTPStatus(status).phrase}", headers, b"".join(chunks)


def _read_body(environ, limit: int) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``limit``."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            size = limit + 1
        return stream.read(size) if size <= limit else None
    body = stream.read(limit + 1) if environ.get("wsgi.input_terminated") else b""
    return body if len(body) <= limit else None


def _scope(environ) -> dict:
    """The ASGI scope of a WSGI request (HTTP/1.1, its headers, client and server)."""
    headers = [(key[5:].replace("_", "-").lower().encode("latin-1"), value.encode("latin-1"))
               for key, value in environ.items() if key.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", b"content-type"), ("CONTENT_LENGTH", b"content-length")):
        if environ.get(key):
            headers.append((name, environ[key].encode("latin-1")))
    path = environ.get("PATH_INFO", PATH)
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": environ["REQUEST_METHOD"],
        "scheme": environ["wsgi.url_scheme"], "path": path, "raw_path": path.encode("latin-1"),
        "root_path": environ.get("SCRIPT_NAME", ""), "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers, "client": (environ.get("REMOTE_ADDR") or "", int(environ.get("REMOTE_PORT") or 0)),
        "server": (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0)),
    }


def _plain(start_response, status: str, text: str, extra=()):
    body = (text + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *extra])
    return [body]
