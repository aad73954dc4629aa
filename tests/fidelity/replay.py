"""Real GitHub exchanges recorded by Octokit (``@octokit/fixtures``), served back over HTTP so a
connector can read them exactly as it reads api.github.com.

A scenario is a list of recorded request/response pairs (normalized-fixture.json). The replay
server answers a request with an exchange of the same method and path whose recorded query
parameters the request also sends (a connector may add its own, e.g. ``state=all``), the
first not yet used one if any (a GET asked again gets its answer again). It answers only
what GitHub would have answered the same: a ``since`` the recording did not send is accepted
when every recorded record was updated at or after it. ``aliases`` map paths GitHub serves
the same resource at (``/repositories/{id}`` for ``/repos/{owner}/{repo}``); absolute
api.github.com URLs in the Link header point back at the server. ``unused()`` lists what was
recorded but never asked for, ``unmatched`` what was asked for but not recorded.
"""
from __future__ import annotations

import json
import threading
from urllib.parse import parse_qsl, urlsplit

from werkzeug.wrappers import Request, Response

from . import descriptions

SCENARIOS = descriptions.NODE_MODULES / "@octokit" / "fixtures" / "scenarios" / "api.github.com"
RECORDED_HOST = "https://api.github.com"
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


def scenario(name: str) -> list[dict]:
    path = SCENARIOS / name / "normalized-fixture.json"
    if not path.exists():
        raise descriptions.MissingDescription(f"{path} is missing: {descriptions.INSTALL_HINT}")
    return json.loads(path.read_text(encoding="utf-8"))


class Replay:
    """A WSGI app answering from one recorded scenario."""

    def __init__(self, exchanges: list[dict], aliases: dict[str, str] | None = None):
        self.exchanges = exchanges
        self.aliases = aliases or {}
        self.used = [False] * len(exchanges)
        self.unmatched: list[str] = []
        self.base = ""          # set once served: where the Link headers should point
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            index = self._match(request)
            if index is None:
                self.unmatched.append(f"{request.method} {request.full_path}")
                response = Response(json.dumps({"message": "Not Found (not recorded)"}), 404,
                                    mimetype="application/json")
                return response(environ, start_response)
            self.used[index] = True
        exchange = self.exchanges[index]
        body = exchange["response"]
        response = Response(body if isinstance(body, str) else json.dumps(body),
                            status=exchange["status"])
        for name, value in exchange["headers"].items():
            if name.lower() in HOP_BY_HOP:
                continue
            value = str(value)
            if name.lower() == "link":
                value = value.replace(RECORDED_HOST, self.base)
            response.headers[name] = value
        return response(environ, start_response)

    def _path(self, path: str) -> str:
        for alias, canonical in self.aliases.items():
            if path == alias or path.startswith(alias + "/"):
                return canonical + path[len(alias):]
        return path

    def _match(self, request) -> int | None:
        asked = dict(parse_qsl(urlsplit(request.full_path).query))
        candidates = []
        for index, exchange in enumerate(self.exchanges):
            recorded = urlsplit(exchange["path"])
            params = dict(parse_qsl(recorded.query))
            if (exchange["method"].upper() == request.method
                    and self._path(recorded.path) == self._path(request.path)
                    and params.items() <= asked.items()
                    and self._since_holds(asked.get("since"), params, exchange["response"])):
                candidates.append(index)
        unused = [i for i in candidates if not self.used[i]]
        return (unused or candidates or [None])[0]

    @staticmethod
    def _since_holds(since: str | None, recorded_params: dict, body) -> bool:
        if since is None or "since" in recorded_params:
            return True
        return isinstance(body, list) and all(item.get("updated_at", "") >= since for item in body)

    def unused(self) -> list[str]:
        return [f"{e['method'].upper()} {e['path']}" for e, used in zip(self.exchanges, self.used)
                if not used]
