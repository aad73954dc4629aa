"""Bad input the API must refuse with a clear 4xx and a stable code, writing nothing (issue #12):
what a schema fuzzer and hand-made requests found. Runs on SQLite and on PostgreSQL, where NUL and
lone surrogates used to fail inside the database driver."""
import json

import pytest
from sqlalchemy import func, select

from connections.models import Connection
from core import strict_json
from core.extensions import db
from knowledge.models import Document, PipelineSync, QueryLog, VectorStore
from sync.models import ConnectorCadence
from tests.api.test_pipeline_sync import body, org, upsert  # noqa: F401  (org is a fixture)
from tests.factories import add_member, make_api_key

JSON_HEADERS = {"Content-Type": "application/json"}


def error_of(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.get_json()["error"]
    assert error["code"] == code, error
    assert error["message"] and isinstance(error["details"], dict)
    return error


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def post_raw(client, path, raw: bytes, key, method="POST"):
    return client.open(path, method=method, data=raw, headers={"Authorization": f"Bearer {key}", **JSON_HEADERS})


# -- deeply nested JSON ---------------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("path, method", [("/api/v1/query", "POST"), ("/api/v1/connections", "POST"),
                                          ("/api/v1/vector-stores", "POST"), ("/api/sync", "POST"),
                                          ("/v1/pipeline/sync", "POST"), ("/api/sync/schedules", "PUT")])
def test_a_hundred_thousand_brackets_are_a_422_not_a_recursion_error(client, api, path, method):
    error_of(post_raw(client, path, DEEP, api.key, method), 422, "json_too_deep")


def test_nesting_that_parses_but_is_deeper_than_64_is_refused_and_not_stored(app, client, org):
    deep_metadata = {"a": json.loads("[" * 64 + "]" * 64)}  # 65 levels with the object around it
    response = client.post("/v1/pipeline/sync", headers={"X-API-Key": org[1]},
                           json=body(org, [upsert("t1", metadata=deep_metadata)]))
    error_of(response, 422, "json_too_deep")
    assert count(app, Document) == 0 and count(app, PipelineSync) == 0
    # 64 levels in all (the body, operations, the operation, metadata and 60 more) are fine.
    fine = {"a": json.loads("[" * 60 + "]" * 60)}
    response = client.post("/v1/pipeline/sync", headers={"X-API-Key": org[1]},
                           json=body(org, [upsert("t1", metadata=fine)]))
    assert response.status_code == 200, response.get_json()


# -- lone surrogates and NUL ----------------------------------------------------------------------

def test_a_query_with_a_lone_surrogate_is_refused_and_not_logged(app, client, api):
    # json.dumps writes the lone surrogate as the escape \ud800, as any client would send it.
    error = error_of(post_raw(client, "/api/v1/query", json.dumps({"query": "a\ud800b"}).encode(), api.key),
                     422, "invalid_string")
    assert error["details"]["pointer"] == "/query"
    assert count(app, QueryLog) == 0
    # A valid surrogate pair (an emoji, escaped) is ordinary text.
    response = post_raw(client, "/api/v1/query", json.dumps({"query": "ship it \U0001F680"}).encode(), api.key)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("field, value", [("content", "a\ud800b"), ("title", "\udfffx"), ("content", "a\x00b"),
                                          ("title", "nul\x00")])
def test_a_pipeline_upsert_with_a_lone_surrogate_or_nul_writes_nothing(app, client, org, field, value):
    payload = body(org, [upsert("ok"), upsert("bad", **{field: value})])
    response = client.post("/v1/pipeline/sync", data=json.dumps(payload),
                           headers={"X-API-Key": org[1], **JSON_HEADERS})
    error = error_of(response, 422, "invalid_string")
    assert error["details"]["pointer"] == f"/operations/1/{field}"
    assert count(app, Document) == 0 and count(app, PipelineSync) == 0


# -- NaN, Infinity and numbers beyond a double ----------------------------------------------------

@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_non_finite_numbers_in_pipeline_metadata_are_refused_and_never_stored(app, client, org, number):
    payload = json.dumps(body(org, [upsert("t1", metadata={"score": "PLACEHOLDER"})])).encode()
    raw = payload.replace(b'"PLACEHOLDER"', number)
    error = error_of(client.post("/v1/pipeline/sync", data=raw, headers={"X-API-Key": org[1], **JSON_HEADERS}),
                     422, "invalid_number")
    assert number.decode().lstrip("-") in error["message"]
    assert count(app, Document) == 0 and count(app, PipelineSync) == 0


def test_finite_metadata_is_stored_and_served_back_as_standard_json(app, client, api, org):
    metadata = {"score": 1.5e300, "tiny": -2.5e-300, "n": 10**30, "nested": {"ok": [0.1, True, None]}}
    response = client.post("/v1/pipeline/sync", headers={"X-API-Key": org[1]},
                           json=body(org, [upsert("t1", metadata=metadata)]))
    assert response.status_code == 200, response.get_json()
    listed = api.get(f"/api/v1/documents?vector_store_id={org[2]}").get_json()["documents"]
    served = api.get(f"/api/v1/documents/{listed[0]['id']}")
    # The strict parser (no NaN / Infinity) reads what the API serves.
    assert strict_json.loads(served.get_data())["metadata"] == metadata


# -- connector cadence with a preset that is not a string -----------------------------------------

@pytest.mark.parametrize("preset", [{}, [], ["1h"], {"1h": 1}, 60, True])
def test_a_cadence_preset_that_is_not_a_string_is_422_and_writes_nothing(app, client, workspace, preset):
    with app.app_context():
        ws = db.session.merge(workspace[0])
        operator = add_member(ws, email="ops@example.com", role="admin")
        operator.is_platform_admin = True
        db.session.commit()
        key = make_api_key(ws, operator)
    response = client.put("/api/admin/connector-cadence/github", json={"preset": preset},
                          headers={"Authorization": f"Bearer {key}"})
    error = error_of(response, 422, "invalid_preset")
    assert error["details"]["allowed"] == ["1m", "10m", "30m", "1h", "6h", "1d"]
    assert count(app, ConnectorCadence) == 0


# -- one rule for names and ids -------------------------------------------------------------------

UNSAFE_NAMES = [("Billing\u202egnp.exe", "U+202E"),  # right-to-left override ("Trojan Source")
                ("Billing\u2066x\u2069", "U+2066"), ("Line\nbreak", "U+000A"), ("Tab\there", "U+0009"),
                ("para\u2029graph", "U+2029"), ("del\x7f", "U+007F"), ("c1\x85c1", "U+0085"),
                ("\u200fmark", "U+200F")]


@pytest.mark.parametrize("name, character", UNSAFE_NAMES)
def test_connect_refuses_a_name_with_a_control_or_bidi_character(app, api, name, character):
    error = error_of(api.post("/api/v1/connections", json={"connector_type": "webhook", "name": name}),
                     422, "invalid_field")
    assert error["details"] == {"field": "name", "character": character}
    assert count(app, Connection) == 0


@pytest.mark.parametrize("name, character", UNSAFE_NAMES)
def test_renaming_a_connection_refuses_the_same_characters(app, api, name, character):
    created = api.post("/api/v1/connections", json={"connector_type": "webhook", "name": "Billing"}).get_json()
    connection_id = created["connection"]["id"]
    error = error_of(api.patch(f"/api/v1/connections/{connection_id}", json={"name": name}), 422, "invalid_field")
    assert error["details"] == {"field": "name", "character": character}
    assert api.get(f"/api/v1/connections/{connection_id}").get_json()["name"] == "Billing"


@pytest.mark.parametrize("name, character", UNSAFE_NAMES)
def test_store_names_follow_the_same_rule(app, api, name, character):
    error = error_of(api.post("/api/v1/vector-stores", json={"name": name}), 422, "invalid_field")
    assert error["details"] == {"field": "name", "character": character}
    assert count(app, VectorStore, VectorStore.is_default.is_(False)) == 0


def test_names_in_any_script_still_pass(api):
    """The rule refuses controls, not scripts: joiners (emoji sequences, Persian) and RTL text pass."""
    for name in ("👩\u200d💻 platform", "می\u200cخواهم", "עברית", "Ünïcödé — “quotes”"):
        response = api.post("/api/v1/vector-stores", json={"name": name})
        assert response.status_code == 201, (name, response.get_json())
        assert response.get_json()["name"] == name


@pytest.mark.parametrize("field, value", [("id", "task\u202e1"), ("id", "task\n1"), ("type", "task\u2067"),
                                          ("author", "ada\r\n@example.com")])
def test_pipeline_ids_types_and_authors_follow_the_same_rule(app, client, org, field, value):
    operation = upsert("task1", **{field: value}) if field != "id" else upsert(value)
    response = client.post("/v1/pipeline/sync", headers={"X-API-Key": org[1]},
                           json=body(org, [upsert("fine"), operation]))
    error = error_of(response, 422, "invalid_operation")
    assert error["details"]["operation_index"] == 1 and error["details"]["field"] == field
    assert error["details"]["character"].startswith("U+")
    assert count(app, Document) == 0 and count(app, PipelineSync) == 0


def test_workspace_member_and_api_key_names_follow_the_same_rule(app, workspace):
    from accounts import service as accounts
    from core.errors import ValidationError
    from tests.factories import user_actor_for

    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        actor = user_actor_for(ws, user)
        for call, code in ((lambda: accounts.create_workspace(actor, "Acme\u202eevil"), "invalid_workspace_name"),
                           (lambda: accounts.create_api_key(actor, name="key\u2066", scopes=["query"]), "invalid_name"),
                           (lambda: accounts.add_member(actor, email="new@example.com", name="Eve\x1b[31m",
                                                        password="long enough password", role="member"),
                            "invalid_name"),
                           (lambda: accounts.create_workspace(actor, "x" * 121), "invalid_workspace_name")):
            with pytest.raises(ValidationError) as raised:
                call()
            assert raised.value.code == code
            db.session.rollback()


# -- the size limit -------------------------------------------------------------------------------

def test_the_api_refuses_a_body_over_its_limit_with_413_and_writes_nothing(app, client, api):
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    error = error_of(post_raw(client, "/api/v1/vector-stores", big, api.key), 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 1024 * 1024}
    assert count(app, VectorStore) == 0


def test_the_limit_is_a_setting(app, client, api):
    app.config["API_MAX_BODY_BYTES"] = 64
    small = json.dumps({"name": "s" * 80}).encode()
    error = error_of(post_raw(client, "/api/v1/vector-stores", small, api.key), 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 64} and "64 bytes" in error["message"]
    assert post_raw(client, "/api/v1/vector-stores", b'{"name": "s"}', api.key).status_code == 201


def test_pipeline_sync_keeps_its_own_larger_limit(app, client, org):
    """Pipeline sync reads up to 100 MiB: a 2 MiB request (over the API's 1 MiB) is accepted."""
    operations = [upsert(f"t{i}", content="y" * 2000) for i in range(1100)]
    raw = json.dumps(body(org, operations)).encode()
    assert len(raw) > 2 * 1024 * 1024
    response = client.post("/v1/pipeline/sync", data=raw, headers={"X-API-Key": org[1], **JSON_HEADERS})
    assert response.status_code == 200, response.get_json()


# -- routing: reserved words and Allow ------------------------------------------------------------

def test_options_on_the_catalog_does_not_advertise_the_connections_methods(client):
    allowed = {m.strip() for m in client.options("/api/v1/connections/catalog").headers["Allow"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS"}
    allowed = {m.strip() for m in client.options("/api/v1/connections/resolve").headers["Allow"].split(",")}
    assert allowed == {"POST", "OPTIONS"}
    allowed = {m.strip() for m in client.options("/api/v1/connections/conn_abc").headers["Allow"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}


@pytest.mark.parametrize("method, path, allow", [
    ("PATCH", "/api/v1/connections/catalog", "GET, HEAD, OPTIONS"),
    ("DELETE", "/api/v1/connections/resolve", "OPTIONS, POST"),
    ("FOO", "/api/v1/connections", "GET, HEAD, OPTIONS, POST"),
    ("PUT", "/api/v1/vector-stores", "GET, HEAD, OPTIONS, POST"),
    ("BREW", "/v1/pipeline/sync", "OPTIONS, POST"),
])
def test_a_method_the_resource_lacks_is_405_with_an_allow_header(client, api, method, path, allow):
    response = api.client.open(path, method=method, headers={"Authorization": f"Bearer {api.key}"})
    error = error_of(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow
    assert error["details"] == {"allowed": allow.split(", ")}


def test_a_console_page_answers_405_with_allow_too(client):
    response = client.put("/login")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_catalog_and_resolve_are_never_read_as_connection_ids(api):
    # Before: GET /connections/catalog was the catalog but DELETE /connections/catalog a lookup of the
    # connection "catalog" (404). Now a reserved word is no connection id at all.
    assert api.delete("/api/v1/connections/catalog").status_code == 405
    assert api.patch("/api/v1/connections/resolve", json={"name": "x"}).status_code == 405


# -- NUL outside JSON bodies ----------------------------------------------------------------------

def test_nul_in_a_query_parameter_is_422_on_every_database(api):
    for path, parameter in (("/api/v1/documents?namespace=a%00b", "namespace"),
                            ("/api/sync/status?channel_id=a%00", "channel_id"),
                            ("/api/v1/connections/catalog?category=%00", "category")):
        error = error_of(api.get(path), 422, "invalid_parameter")
        assert error["details"] == {"parameter": parameter}


def test_nul_in_a_path_is_404(api):
    for path in ("/api/v1/vector-stores/vs_a%00", "/api/v1/documents/doc_%00", "/api/v1/connections/conn_%00x"):
        error_of(api.get(path), 404, "not_found")


def test_nul_in_a_console_form_is_refused_before_it_reaches_the_database(client):
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 422 and b"NUL" in response.data
