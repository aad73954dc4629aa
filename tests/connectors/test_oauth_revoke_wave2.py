"""Disconnecting a Linear or GitLab connection revokes its grant at the provider (RFC 7009 at
``/oauth/revoke``): the sandbox refuses the connection's tokens from then on."""
import pytest

from sandbox import get_state
from tests.connectors.walk import sandbox
from tests.oauth_helpers import consent, local_path


@pytest.mark.parametrize("connector_type", ["linear", "gitlab"])
def test_disconnecting_revokes_the_grant_at_the_provider(api, client, sandbox_server, connector_type):
    started = api.post("/api/v1/connections", json={"connector_type": connector_type}).json
    client.get(local_path(consent(started["authorize_url"])))
    tokens = get_state(sandbox_server.server.app).tokens.tokens
    issued = [t for t in tokens.values() if t.provider == connector_type]
    assert issued and not any(t.revoked for t in issued)
    assert api.delete(f"/api/v1/connections/{started['connection']['id']}").status_code == 200
    served = sandbox(sandbox_server, "GET", "/_sandbox/stats")["requests"][connector_type]["endpoints"]
    assert served[f"POST /{connector_type}/oauth/revoke"] == 1
    assert all(t.revoked for t in issued)
