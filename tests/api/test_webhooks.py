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


# Two seconds past the 300-s window: ``sign`` truncates the timestamp to whole seconds, so 301
# ahead could land a fraction inside it by the time the server compares.
@pytest.mark.parametrize("age", [-302, 302, 3600])
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


# -- rotating the signing secret while connected ---------------------------------------------------

def rotate(api, connection_id, **body):
    return api.post(f"/api/v1/connections/{connection_id}/rotate-secret", json=body or None)


def _expire_previous_secret(app, connection_id):
    """Time passes: the previous secret's grace period is over."""
    from datetime import timedelta

    from connections.models import Connection
    from core.timeutil import isoformat, utcnow

    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        credentials = dict(connection.credentials)
        credentials["previous_secret_expires_at"] = isoformat(utcnow() - timedelta(seconds=1))
        connection.credentials = credentials
        db.session.commit()
        db.session.remove()


def test_rotation_accepts_the_old_secret_for_the_grace_period_then_refuses_it(app, api, client, hook):
    connection_id, old_secret = hook
    response = rotate(api, connection_id)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    new_secret = response.json["signing_secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    assert response.json["grace_period_seconds"] == 86400 and response.json["previous_secret_expires_at"]
    assert response.json["connection"]["status"] == "connected"
    body = b'{"id": "evt_r1"}'
    assert post(client, connection_id, body, sign(new_secret, body)).status_code == 202
    body = b'{"id": "evt_r2"}'
    assert post(client, connection_id, body, sign(old_secret, body)).status_code == 202   # still in its grace
    _expire_previous_secret(app, connection_id)
    body = b'{"id": "evt_r3"}'
    refused = post(client, connection_id, body, sign(old_secret, body))
    assert refused.status_code == 401 and refused.json["error"]["code"] == "invalid_signature"
    assert post(client, connection_id, body, sign(new_secret, body)).status_code == 202


def test_housekeeping_forgets_a_replaced_secret_once_its_grace_is_over(app, api, hook):
    from connections import webhooks
    from connections.models import Connection

    connection_id, old_secret = hook
    new_secret = rotate(api, connection_id).json["signing_secret"]
    with app.app_context():
        assert webhooks.forget_expired_secrets() == 0          # still in its grace period
        db.session.rollback()
    _expire_previous_secret(app, connection_id)
    with app.app_context():
        assert webhooks.forget_expired_secrets() == 1
        db.session.commit()
        assert db.session.get(Connection, connection_id).credentials == {"signing_secret": new_secret}


def test_a_rotation_without_grace_refuses_the_old_secret_at_once(api, client, hook):
    connection_id, old_secret = hook
    response = rotate(api, connection_id, grace_period_seconds=0)
    assert response.json["previous_secret_expires_at"] is None
    body = b'{"id": "evt_g0"}'
    assert post(client, connection_id, body, sign(old_secret, body)).status_code == 401
    assert post(client, connection_id, body, sign(response.json["signing_secret"], body)).status_code == 202


def test_rotating_again_keeps_only_the_latest_previous_secret(api, client, hook):
    connection_id, first = hook
    second = rotate(api, connection_id).json["signing_secret"]
    third = rotate(api, connection_id).json["signing_secret"]
    for secret, status in ((first, 401), (second, 202), (third, 202)):
        body = f'{{"n": "{secret[-6:]}"}}'.encode()
        assert post(client, connection_id, body, sign(secret, body)).status_code == status


def test_the_new_secret_is_shown_once_audited_and_never_logged(app, api, client, hook, caplog):
    from audit.models import AuditEvent

    connection_id, old_secret = hook
    caplog.set_level("DEBUG")
    new_secret = rotate(api, connection_id, grace_period_seconds=3600).json["signing_secret"]
    for path in (f"/api/v1/connections/{connection_id}", "/api/v1/connections"):
        text = api.get(path).get_data(as_text=True)
        assert new_secret not in text and old_secret not in text
    with app.app_context():
        raw = db.session.execute(db.text("SELECT credentials FROM connections")).scalar_one()
        assert new_secret not in raw and old_secret not in raw             # encrypted at rest
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "connection.secret_rotated")).one()
        assert event.target_id == connection_id and event.details["grace_period_seconds"] == 3600
        assert new_secret not in str(event.details) and old_secret not in str(event.details)
    assert new_secret not in caplog.text and old_secret not in caplog.text


@pytest.mark.parametrize("grace", [-1, 604801, "1h", True, 1.5])
def test_the_grace_period_must_be_whole_seconds_up_to_a_week(api, hook, grace):
    response = rotate(api, hook[0], grace_period_seconds=grace)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_field"
    assert response.json["error"]["details"]["field"] == "grace_period_seconds"


def test_only_a_connected_webhook_rotates(api, hook):
    pipedrive = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                      "api_key": "sandbox-pipedrive-key"}).json["connection"]
    response = rotate(api, pipedrive["id"])
    assert response.status_code == 409 and response.json["error"]["code"] == "not_a_webhook"
    api.delete(f"/api/v1/connections/{hook[0]}")
    response = rotate(api, hook[0])
    assert response.status_code == 409 and response.json["error"]["code"] == "connection_disconnected"
    assert rotate(api, "conn_nope").status_code == 404


def test_another_workspaces_webhook_is_not_found(app, client, hook):
    from tests.factories import Api, make_api_key, make_workspace

    with app.app_context():
        other = Api(client, make_api_key(*make_workspace("Other")))
    response = rotate(other, hook[0])
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_a_delivery_is_searchable_seconds_later_without_anyone_asking_for_a_sync(app_config, _schema, tmp_path,
                                                                                monkeypatch, api, hook):
    """The web process as `make run` starts it (embedded sync and embedding workers): the
    delivery itself queues the connection's run and wakes the workers, so the event is found
    by a query within seconds, with no Sync now and no schedule (there is none for push-only
    sources)."""
    from app import create_app
    from tests.polling import wait_for

    connection_id, secret = hook
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path / "web"))
    web = create_app({**app_config, "TESTING": False, "EMBEDDED_WORKERS": 1, "SCHEDULER_ENABLED": False})
    try:
        body = json.dumps({"id": "evt_quokka", "type": "invoice.paid", "customer": "Quokka Freight"}).encode()
        assert post(web.test_client(), connection_id, body, sign(secret, body)).status_code == 202
        found = wait_for(lambda: [r for r in api.post("/api/v1/query", json={"query": "Quokka Freight"}).json["results"]
                                  if r["metadata"]["connection_id"] == connection_id], timeout=20, interval=0.2)
        assert found, "the delivered event was not searchable within 20 s"
    finally:
        for name in ("embedding_worker", "sync_workers"):
            if web.extensions.get(name):
                web.extensions[name].stop()
        with web.app_context():
            db.engine.dispose()
