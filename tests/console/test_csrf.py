"""Console forms are CSRF-protected, htmx requests included; the bearer API is not cookie-based."""
import re

import pytest

from tests.factories import PASSWORD


@pytest.fixture
def csrf_app(app_config):
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def sign_in(client, email):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.data
    return token


def test_a_form_post_without_token_is_refused(csrf_app, client, workspace):
    _, user = workspace
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400 and b"csrf_failed" in response.data


def test_htmx_requests_send_the_token_in_a_header(csrf_app, client, workspace):
    _, user = workspace
    sign_in(client, user.email)
    page = client.get("/connections").get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    refused = client.post("/logout", headers={"HX-Request": "true"})
    assert refused.status_code == 400
    accepted = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": header_token})
    assert accepted.status_code == 302


def test_the_bearer_api_needs_no_csrf_token(csrf_app, api):
    response = api.post("/api/v1/connections", json={"connector_type": "webhook"})
    assert response.status_code == 201
