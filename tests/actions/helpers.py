"""What the action tests share: connecting to the sandbox's providers, running an action through
the API, and reading what the sandbox really received."""
import requests

from tests.connectors.atlassian_walk import connect as connect_oauth  # noqa: F401  (re-exported)


def path_of(connection_id: str) -> str:
    return f"/api/v1/connections/{connection_id}/actions"


def act(api, connection_id, action, parameters, **more):
    return api.post(path_of(connection_id), json={"action": action, "parameters": parameters, **more})


def writes(server, provider: str) -> list[dict]:
    """Every non-GET request the sandbox's ``provider`` received, in order."""
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    return stats.get("writes", {}).get(provider, [])


def as_received(server, plan: list[dict]) -> list[dict]:
    """A plan's requests as the sandbox records them (method, path, query, body)."""
    from urllib.parse import parse_qsl, urlsplit

    out = []
    for request in plan:
        parts = urlsplit(request["url"])
        assert f"{parts.scheme}://{parts.netloc}" == server.url, request["url"]
        out.append({"method": request["method"], "path": parts.path, "query": dict(parse_qsl(parts.query)),
                    "body": request["body"]})
    return out


def dry_run_then_run(api, server, provider, connection_id, action, parameters, **more):
    """Plan (nothing sent), then run: the requests the sandbox received are the plan's, exactly.
    Returns the executed answer."""
    before = len(writes(server, provider))
    planned = act(api, connection_id, action, parameters, dry_run=True, **more)
    assert planned.status_code == 200, planned.json
    assert planned.json["dry_run"] is True and planned.json["plan"]
    assert len(writes(server, provider)) == before, "a dry run sent nothing"
    done = act(api, connection_id, action, parameters, **more)
    assert done.status_code == 201, done.json
    assert done.json["status"] == "succeeded" and done.json["plan"] == planned.json["plan"]
    sent = [w for w in writes(server, provider)[before:]]
    assert sent == as_received(server, [r for r in planned.json["plan"] if r["method"] != "GET"]), sent
    return done.json


def first_repository(app, connection_id) -> str:
    """The first repository the connection's GitHub account lists (asked with its own token)."""
    from connections.models import Connection
    from connectors import registry
    from core.extensions import db

    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        token = connection.credentials["access_token"]
        api_url = registry.get_connector(app.config, "github").settings.api_url
        db.session.remove()
    repos = requests.get(f"{api_url}/user/repos", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    return next(r["full_name"] for r in repos if r["permissions"]["push"])
