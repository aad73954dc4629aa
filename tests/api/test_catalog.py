"""GET /api/v1/connections/catalog."""
import pytest

from connectors.registry import connector_classes

# Every connector the product specs name (connecting-data-sources.md, connectors-and-sync.md).
SPEC_CONNECTORS = {
    "hubspot", "salesforce", "gong", "gmail", "outlook", "slack", "notion", "notion_knowledge_sync",
    "pipedrive", "fathom", "granola", "fireflies", "grain", "aircall", "pylon", "twitter", "linkedin",
    "circleback", "google_workspace", "microsoft_365", "discord", "confluence", "github", "gitlab", "jira",
    "linear", "figma", "intercom", "zendesk", "freshdesk", "claude_api", "openai_api", "gemini_api", "webhook",
}
FIELDS = {"type", "kind", "display_name", "category", "description", "auth_method", "ownership", "default_scope",
          "direction", "availability", "connectable", "not_connectable_reason", "streams", "rate_limits", "docs_url"}


def by_type(api, **params):
    response = api.get("/api/v1/connections/catalog", query_string=params)
    assert response.status_code == 200
    return {entry["type"]: entry for entry in response.json["connectors"]}


def test_every_connector_named_in_the_specs_is_in_the_catalog(api):
    assert SPEC_CONNECTORS <= set(by_type(api))


def test_catalog_is_built_from_the_connector_modules(api):
    assert set(by_type(api)) == set(connector_classes())


def test_entries_carry_every_field(api):
    for entry in by_type(api).values():
        assert FIELDS <= set(entry), entry["type"]
        assert entry["auth_method"] in ("oauth_redirect", "api_key", "webhook", "handle")
        assert entry["ownership"] in ("workspace", "personal")
        assert entry["direction"] in ("inbound", "outbound")
        assert entry["docs_url"]
        assert entry["streams"], entry["type"]


def test_methods_and_axes_match_the_spec(api):
    catalog = by_type(api)
    assert catalog["github"]["auth_method"] == "oauth_redirect"
    assert catalog["pipedrive"]["auth_method"] == "api_key"
    assert catalog["twitter"]["auth_method"] == "handle"
    assert catalog["linkedin"]["auth_method"] == "handle"
    assert catalog["webhook"]["auth_method"] == "webhook"
    assert catalog["gmail"]["ownership"] == "personal" and catalog["gmail"]["default_scope"] == "personal"
    assert catalog["outlook"]["ownership"] == "personal"
    assert catalog["notion_knowledge_sync"]["direction"] == "outbound"


def test_connectable_flags_and_reasons(api):
    catalog = by_type(api)
    for implemented in ("github", "pipedrive", "twitter", "webhook", "gmail", "google_workspace", "slack", "notion", "jira", "confluence", "microsoft_365", "outlook",
                        "hubspot", "salesforce", "zendesk"):
        assert catalog[implemented]["connectable"] is True, implemented
        assert catalog[implemented]["not_connectable_reason"] is None
    assert catalog["circleback"]["connectable"] is False
    assert catalog["circleback"]["not_connectable_reason"]["code"] == "coming_soon"
    assert catalog["gong"]["connectable"] is False
    assert catalog["gong"]["not_connectable_reason"]["code"] == "coming_soon"


def test_availability_tells_which_connectors_sync_today(api):
    """`available` only where a live puller is behind the entry; the rest are coming soon
    (specs/connecting-data-sources.md: a coming-soon connector has no live puller behind it)."""
    catalog = by_type(api)
    for connector_type, cls in connector_classes().items():
        entry = catalog[connector_type]
        assert entry["availability"] in ("available", "coming_soon")
        if cls.implemented and cls.catalog.availability == "available":
            assert entry["availability"] == "available", connector_type
        else:
            assert entry["availability"] == "coming_soon", connector_type
            assert entry["connectable"] is False
            assert entry["not_connectable_reason"]["code"] == "coming_soon"
            assert entry["not_connectable_reason"]["message"] == f"Tributary does not sync {entry['display_name']} yet"
    assert catalog["gong"]["availability"] == "coming_soon"
    assert {t for t, e in catalog.items() if e["availability"] == "available"} == {
        "confluence", "discord", "figma", "freshdesk", "github", "gitlab", "gmail", "google_workspace", "hubspot",
        "intercom", "jira", "linear", "microsoft_365", "notion", "outlook", "pipedrive", "salesforce", "slack", "twitter",
        "webhook", "zendesk"}


def test_oauth_connector_without_an_oauth_app_is_not_connectable(app_config, app, api):
    app.config["SANDBOX_URL"] = None
    catalog = by_type(api)
    assert catalog["github"]["connectable"] is False
    # Not configured here is not "coming soon": the connector syncs once the operator sets it up.
    assert catalog["github"]["availability"] == "available"
    assert catalog["github"]["not_connectable_reason"]["code"] == "oauth_app_not_configured"
    assert "TRIBUTARY_GITHUB_CLIENT_ID" in catalog["github"]["not_connectable_reason"]["message"]
    assert catalog["twitter"]["not_connectable_reason"]["code"] == "provider_credentials_not_configured"
    assert catalog["pipedrive"]["connectable"] is True  # API-key connectors need no operator set-up


def test_operator_settings_make_a_connector_connectable(app, api):
    app.config["SANDBOX_URL"] = None
    app.config["GITHUB_CLIENT_ID"] = "id"
    app.config["GITHUB_CLIENT_SECRET"] = "secret"
    assert by_type(api)["github"]["connectable"] is True


@pytest.mark.parametrize("category", ["crm", "calls", "comms", "docs", "support", "social"])
def test_category_filter(api, category):
    entries = by_type(api, category=category)
    assert entries and all(e["category"] == category for e in entries.values())


def test_social_category_is_x_and_linkedin(api):
    assert set(by_type(api, category="social")) == {"twitter", "linkedin"}


def test_unknown_category_is_a_clear_error(api):
    response = api.get("/api/v1/connections/catalog?category=music")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_category"
    assert "crm" in response.json["error"]["details"]["allowed"]
