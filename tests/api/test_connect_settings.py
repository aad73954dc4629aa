"""Settings at connect through POST /api/v1/connections: the connectors that ask where the account
is (Zendesk's subdomain, Freshdesk's domain, Figma's teams) connect there as through
POST /v1/connectors, checked by the same model (``connections.requests.parse_settings``): the same
refusals with the same codes and details, nothing stored, and each workspace's own."""
import pytest
from sqlalchemy import func, select

from connections.models import Connection
from core.extensions import db
from tests.factories import Api, make_api_key, make_workspace

FRESHDESK_KEY = "sandbox-freshdesk-key"


def count_connections(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Connection))


def test_zendesk_connects_at_the_subdomain_named_in_settings(app, api, sandbox_server):
    answer = api.post("/api/v1/connections", json={"connector_type": "zendesk", "name": "Globex support",
                                                   "settings": {"subdomain": "https://Globex-2.zendesk.com/",
                                                                "requests_per_minute": 100}})
    assert answer.status_code == 201, answer.json
    assert answer.json["mode"] == "oauth_redirect"
    # Zendesk's OAuth is the account's own: https://{subdomain}.zendesk.com/oauth/authorizations/new
    assert answer.json["authorize_url"].startswith(f"{sandbox_server.url}/zendesk/globex-2/oauth/authorizations/new?")
    connection_id = answer.json["connection"]["id"]
    assert api.get(f"/v1/connectors/{connection_id}").json["settings"] == {"subdomain": "globex-2",
                                                                            "requests_per_minute": 100}


def test_freshdesk_connects_with_its_key_and_the_domain_named_in_settings(app, api):
    answer = api.post("/api/v1/connections", json={"connector_type": "freshdesk", "api_key": FRESHDESK_KEY,
                                                   "settings": {"domain": "acme.freshdesk.com"}})
    assert answer.status_code == 201, answer.json
    connection = answer.json["connection"]
    assert (answer.json["mode"], connection["status"], connection["handle"]) == (
        "connected", "connected", "ada@acme-sandbox.example")
    assert api.get(f"/v1/connectors/{connection['id']}").json["settings"] == {"domain": "acme.freshdesk.com"}


def test_figma_team_addresses_are_read_as_ids(app, api):
    answer = api.post("/api/v1/connections", json={"connector_type": "figma", "settings": {
        "channels": ["https://www.figma.com/files/team/1234567890/Acme-Design?fuid=1", "987"]}})
    assert answer.status_code == 201, answer.json
    assert api.get(f"/v1/connectors/{answer.json['connection']['id']}").json["settings"] == {
        "channels": ["1234567890", "987"]}


# (body without connector_type's credentials, code, details the refusal carries)
REFUSALS = [
    ({"connector_type": "zendesk"}, "missing_field", {"field": "settings.subdomain"}),
    ({"connector_type": "zendesk", "settings": {}}, "missing_field", {"field": "settings.subdomain"}),
    ({"connector_type": "zendesk", "settings": {"subdomain": ""}}, "missing_field", {"field": "settings.subdomain"}),
    ({"connector_type": "zendesk", "settings": {"subdomain": "acme.zendesk.com.evil.example"}}, "invalid_setting",
     {"field": "settings.subdomain", "setting": "subdomain"}),
    ({"connector_type": "zendesk", "settings": {"subdomain": "acme", "sync_private": True}}, "unknown_setting",
     {"field": "settings.sync_private", "setting": "sync_private", "unknown": ["sync_private"],
      "known": ["requests_per_minute", "requests_per_hour", "subdomain"]}),
    ({"connector_type": "zendesk", "settings": {"subdomain": "acme", "requests_per_minute": -1}}, "invalid_setting",
     {"field": "settings.requests_per_minute", "setting": "requests_per_minute"}),
    ({"connector_type": "zendesk", "settings": ["acme"]}, "invalid_field", {"field": "settings"}),
    ({"connector_type": "freshdesk", "api_key": FRESHDESK_KEY}, "missing_field", {"field": "settings.domain"}),
    ({"connector_type": "freshdesk", "api_key": FRESHDESK_KEY, "settings": {"domain": {"name": "acme"}}},
     "invalid_setting", {"field": "settings.domain", "setting": "domain"}),
    ({"connector_type": "figma", "settings": {"channels": ["Acme Design"]}}, "invalid_setting",
     {"field": "settings.channels", "setting": "channels", "value": "Acme Design"}),
    ({"connector_type": "github", "settings": {"channels": ["acme/\u202eapi"]}}, "invalid_setting",
     {"field": "settings.channels", "setting": "channels", "character": "U+202E"}),
    ({"connector_type": "pipedrive", "api_key": "sandbox-pipedrive-key", "settings": {"channels": ["x"]}},
     "unknown_setting", {"field": "settings.channels", "setting": "channels", "unknown": ["channels"],
                         "known": ["requests_per_minute", "requests_per_hour"]}),
    ({"connector_type": "webhook", "settings": {"channels": ["x"]}}, "unknown_setting",
     {"field": "settings.channels", "setting": "channels", "unknown": ["channels"],
      "known": ["requests_per_minute", "requests_per_hour"]}),
]


@pytest.mark.parametrize(("body", "code", "details"), REFUSALS, ids=[f"{b['connector_type']}-{c}" for b, c, _ in
                                                                    REFUSALS])
def test_a_refused_setting_is_named_as_post_v1_connectors_names_it_and_nothing_is_stored(app, api, body, code,
                                                                                          details):
    answer = api.post("/api/v1/connections", json=body)
    assert answer.status_code == 422, answer.json
    assert (answer.json["error"]["code"], answer.json["error"]["details"]) == (code, details)
    # The connectors API says it the same way: one check, whichever API is asked.
    spec_body = {key: value for key, value in body.items() if key != "api_key"}
    if "api_key" in body:
        spec_body["credentials"] = {"api_key": body["api_key"]}
    if body["connector_type"] != "webhook":      # connected through /api/v1/connections only
        same = api.post("/v1/connectors", json=spec_body)
        assert same.status_code == 422 and same.json["error"] == answer.json["error"]
    assert count_connections(app) == 0


def test_settings_are_checked_before_the_provider_is_asked(app, api, sandbox_server):
    """A wrong setting beside a wrong key is the setting's refusal: no call spent on the key."""
    answer = api.post("/api/v1/connections", json={"connector_type": "freshdesk", "api_key": "nope",
                                                   "settings": {"domain": "acme", "colour": "blue"}})
    assert answer.json["error"]["code"] == "unknown_setting"


def test_each_workspace_connects_its_own_account_and_sees_only_its_own_settings(app, api, client, sandbox_server):
    with app.app_context():
        other_workspace, other_user = make_workspace("Globex", email="ops@globex.example")
        other = Api(client, make_api_key(other_workspace, other_user))
    ours = api.post("/api/v1/connections", json={"connector_type": "zendesk",
                                                 "settings": {"subdomain": "acme"}}).json["connection"]["id"]
    theirs = other.post("/api/v1/connections", json={"connector_type": "zendesk",
                                                     "settings": {"subdomain": "globex"}}).json["connection"]["id"]
    assert [c["connector_id"] for c in api.get("/v1/connectors").json["connectors"]] == [ours]
    assert [c["connector_id"] for c in other.get("/v1/connectors").json["connectors"]] == [theirs]
    assert other.get(f"/v1/connectors/{theirs}").json["settings"] == {"subdomain": "globex"}
    for answer in (api.get(f"/api/v1/connections/{theirs}"), api.get(f"/v1/connectors/{theirs}"),
                   api.post(f"/api/v1/connections/{theirs}/reconnect", json={})):
        assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"
    # The other workspace's connect refused for its settings leaves ours as it was.
    refused = other.post("/api/v1/connections", json={"connector_type": "zendesk", "settings": {"subdomain": "-x"}})
    assert refused.status_code == 422
    assert api.get(f"/v1/connectors/{ours}").json["settings"] == {"subdomain": "acme"}
    assert count_connections(app) == 2
