"""The inbound webhook endpoint: signature, timestamp window, replays."""
import json
import time

import pytest
from sqlalchemy import select

from connections.models import WebhookDelivery
from connections.webhooks import sign
from core.extensions import db


@pytest.fixture
def hook(api):
    body = api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Billing"}).json
    return body["connection"]["id"], body["signing_secret"]


def post(client, connection_id, body: bytes, signature):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Tributary-Signature"] = signature
    return client.post(f"/webhooks/{connection_id}", data=body, headers=headers)


def test_signed_delivery_is_accepted_and_stored(app, client, hook):
    connection_id, secret = hook
    body = json.dumps({"id": "evt_1", "type": "invoice.paid", "amount": 1200}).encode()
    response = post(client, connection_id, body, sign(secret, body))
    assert response.status_code == 202 and response.json["received"] is True
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert delivery.payload["type"] == "invoice.paid" and delivery.connection_id == connection_id


def test_replayed_delivery_is_refused(client, hook):
    connection_id, secret = hook
    body = b'{"id": "evt_2"}'
    signature = sign(secret, body)
    assert post(client, connection_id, body, signature).status_code == 202
    again = post(client, connection_id, body, signature)
    assert again.status_code == 409 and again.json["error"]["code"] == "replayed_delivery"


@pytest.mark.parametrize("age", [-301, 301, 3600])
def test_timestamps_outside_the_window_are_refused(client, hook, age):
    connection_id, secret = hook
    body = b'{"id": "evt_3"}'
    response = post(client, connection_id, body, sign(secret, body, int(time.time()) - age))
    assert response.status_code == 401 and response.json["error"]["code"] == "timestamp_out_of_window"


def test_wrong_secret_or_tampered_body_is_refused(client, hook):
    connection_id, secret = hook
    body = b'{"amount": 1}'
    assert post(client, connection_id, body, sign("whsec_other", body)).json["error"]["code"] == "invalid_signature"
    tampered = post(client, connection_id, b'{"amount": 1000}', sign(secret, body))
    assert tampered.status_code == 401 and tampered.json["error"]["code"] == "invalid_signature"


@pytest.mark.parametrize("header", [None, "", "t=123", "v1=abc", "garbage"])
def test_missing_or_malformed_signature(client, hook, header):
    connection_id, _ = hook
    response = post(client, connection_id, b"{}", header)
    assert response.status_code == 401 and response.json["error"]["code"] == "missing_signature"


def test_body_must_be_json(client, hook):
    connection_id, secret = hook
    response = post(client, connection_id, b"not json", sign(secret, b"not json"))
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_payload"


@pytest.mark.parametrize("body, reason", [(b'{"amount": NaN}', "invalid_number"),
                                          (b'{"amount": 1e400}', "invalid_number"),
                                          (b'{"note": "a\\ud800"}', "invalid_string"),
                                          (b'{"note": "a\\u0000"}', "invalid_string"),
                                          (b"[" * 100_000 + b"]" * 100_000, "json_too_deep")])
def test_a_payload_json_cannot_carry_is_refused_and_not_stored(app, client, hook, body, reason):
    """Signed, but nothing behind the endpoint could hold it (PostgreSQL refuses NaN and NUL in
    JSON; a deep array broke the parser): refused like any other unusable payload."""
    from connections.models import WebhookDelivery
    from core.extensions import db

    connection_id, secret = hook
    response = post(client, connection_id, body, sign(secret, body))
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_payload"
    assert response.json["error"]["details"]["reason"] == reason
    with app.app_context():
        assert db.session.query(WebhookDelivery).count() == 0


def test_unknown_and_disconnected_webhooks(api, client, hook):
    connection_id, secret = hook
    assert post(client, "conn_nope", b"{}", sign(secret, b"{}")).status_code == 404
    api.delete(f"/api/v1/connections/{connection_id}")
    response = post(client, connection_id, b"{}", sign(secret, b"{}"))
    assert response.status_code == 410 and response.json["error"]["code"] == "connection_disconnected"


def test_the_old_secret_stops_working_after_reconnect(api, client, hook):
    connection_id, old_secret = hook
    api.delete(f"/api/v1/connections/{connection_id}")
    new_secret = api.post(f"/api/v1/connections/{connection_id}/reconnect").json["signing_secret"]
    body = b'{"n": 1}'
    assert post(client, connection_id, body, sign(old_secret, body)).status_code == 401
    assert post(client, connection_id, body, sign(new_secret, body)).status_code == 202


def test_oversized_body_is_refused_before_it_is_read(client, hook):
    connection_id, secret = hook
    body = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    response = post(client, connection_id, body, sign(secret, body))
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"
