"""The OpenAPI document: valid OpenAPI 3.1, complete against the routes, and true to real answers.

* The document validates as OpenAPI 3.1, its schemas as OAS 3.1 schemas, and its examples
  against their schemas.
* Every rule in the url_map under ``/api``, ``/v1`` and ``/webhooks`` is documented with the same
  methods (and scope), and the document has nothing else.
* The contract tests make real requests through the test client (real database, the provider
  sandbox over HTTP, a tiny stub provider for rate limits and outages) and validate each answer
  against the schema documented for its status. A status the operation does not document fails.
  Each contract test declares the (operation, status) pairs it exercises (``@covers``); the
  declaration is checked against what it really got, and together the declarations must cover
  every documented response except ``500``.
"""
from __future__ import annotations

import functools
import json
import re
import threading
import time

import pytest
import requests
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate as validate_spec
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from blueprints.api.openapi import ERROR_CODES, ERROR_EXAMPLES, build_openapi
from connections.models import Connection
from connections.webhooks import sign
from core.extensions import db
from core.timeutil import utcnow
from knowledge import embedding_queue
from sync import engine, worker
from sync.models import SyncRun
from tests.factories import add_member, make_api_key, make_connection, make_workspace, user_actor_for

DOC = build_openapi()
JSON = "application/json"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
DOCUMENTED_PREFIXES = ("/api/", "/v1/", "/webhooks/")
PIPEDRIVE_KEY = "sandbox-pipedrive-key"
MISSING_ID = "conn_doesnotexist0000"
MISSING_STORE = "vs_doesnotexist0000"
MISSING_DOCUMENT = "doc_doesnotexist0000"
MISSING_ACTION_RUN = "act_doesnotexist0000"
MISSING_ENTRY = "aud_999999999"
# The account operations' path parameters (tests/api/test_openapi_account.py).
ACCOUNT_PATH = {"user_id": "usr_doesnotexist0000", "invitation_id": "inv_doesnotexist0000"}

# Every stable code the API can produce must be documented somewhere. (``admin_required`` is
# not among them: it is raised for console members only; API keys are checked by scope.)
EXPECTED_CODES = {
    "sync_not_supported", "missing_field", "invalid_field", "invalid_body", "invalid_json", "unknown_connector_type",
    "connector_not_connectable", "invalid_credentials", "provider_unavailable", "handle_not_found",
    "invalid_handle", "handle_mismatch", "field_not_editable", "owner_not_allowed", "not_a_member",
    "invalid_access_mode", "access_mode_not_allowed",
    "connection_healthy", "connection_disconnected", "connection_pending", "not_a_webhook", "invalid_limit", "invalid_parameter",
    "invalid_category", "missing_api_key", "invalid_api_key", "insufficient_scope", "not_found",
    "missing_signature", "timestamp_out_of_window", "invalid_signature", "invalid_payload", "invalid_readers", "replayed_delivery",
    "payload_too_large", "provider_rate_limited", "provider_auth_failed", "internal_error",
    # the sync-jobs API and platform admin
    "CHANNEL_NOT_FOUND", "missing_parameter", "run_not_active", "invalid_schedule", "platform_admin_required",
    "invalid_preset",
    # vector stores, documents and pipeline sync
    "vector_store_not_found", "vector_store_exists", "default_store", "document_not_found", "invalid_cursor",
    "invalid_filter",
    "unknown_field", "organization_mismatch", "too_many_operations", "invalid_operation", "duplicate_operation",
    "rate_limited",
    # the connectors API (/v1/connectors)
    "unknown_credential", "credentials_not_accepted", "connect_method_unsupported", "unknown_setting",
    "invalid_setting", "already_connected",
    # the federated query
    "query_required", "query_too_long", "invalid_date_range",
    # actions (blueprints/api/action_errors.py)
    "unknown_action", "invalid_action_parameter", "could_not_route", "router_unavailable", "action_not_allowed",
    "not_connection_owner", "approver_required", "connection_not_connected", "idempotency_key_reused", "not_pending",
    "provider_refused", "provider_not_found", "self_approval_not_allowed", "action_interrupted",
    # what the one JSON parser of every body refuses (core/strict_json.py)
    "json_too_deep", "invalid_number", "invalid_string",
    # usage, limits and users (blueprints/api/account.py, users.py)
    "limit_exceeded", "last_admin", "already_member", "invalid_email", "invalid_role",
}


# -- reading the document --------------------------------------------------------------------------

def operations():
    """(``"METHOD /path"``, operation) for every documented operation."""
    for path, item in DOC["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


OPERATIONS = dict(operations())


def resolve(node: dict) -> dict:
    """Follow a local ``$ref`` (``#/components/...``) to what it names."""
    while "$ref" in node:
        target = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@functools.lru_cache(maxsize=None)
def _validator(schema_json: str) -> OAS31Validator:
    # The schema sits under ``allOf`` of a root that carries the document's components, so its
    # ``#/components/...`` references resolve.
    root = {"components": DOC["components"], "allOf": [json.loads(schema_json)]}
    return OAS31Validator(root, format_checker=oas31_format_checker)


def schema_errors(schema: dict, instance) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = list(validator.iter_errors(instance))
    if not errors:
        return []
    best = best_match(errors)
    message = best.message if len(best.message) < 300 else best.message[:120] + " ... " + best.message[-120:]
    lines = [f"{message} (at {best.json_path}; schema {'/'.join(map(str, best.absolute_schema_path))})"]
    for error in errors:
        for sub in sorted(error.context or [], key=lambda e: e.json_path)[:6]:
            lines.append(f"  - {sub.message} (at {sub.json_path})")
    return lines


def response_codes(response: dict) -> list[str]:
    """The ``code`` enum of an error response (empty for success responses)."""
    schema = resolve(response).get("content", {}).get(JSON, {}).get("schema", {})
    for part in schema.get("allOf", []):
        code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
        if "enum" in code:
            return code["enum"]
    return []


def walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))


# -- (a) the document itself -----------------------------------------------------------------------

def test_document_is_valid_openapi_31():
    assert DOC["openapi"] == "3.1.0"
    validate_spec(DOC)


def test_build_is_deterministic_and_json_serializable():
    assert json.loads(json.dumps(build_openapi())) == DOC


def test_component_schemas_are_valid_oas31_schemas():
    for name, schema in DOC["components"]["schemas"].items():
        try:
            OAS31Validator.check_schema(schema)
        except Exception as exc:  # noqa: BLE001 - report which schema
            pytest.fail(f"components.schemas.{name} is not a valid OAS 3.1 schema: {exc}")


def test_nullable_is_written_the_31_way():
    for path, node in walk(DOC):
        if isinstance(node, dict):
            assert "nullable" not in node, f"`nullable` (OpenAPI 3.0) at {'/'.join(map(str, path))}"


def test_examples_match_their_schemas():
    checked = 0
    for path, node in walk(DOC):
        if not (isinstance(node, dict) and "schema" in node and ("example" in node or "examples" in node)):
            continue
        examples = [("example", node["example"])] if "example" in node else []
        examples += [(f"examples/{name}", ex["value"]) for name, ex in node.get("examples", {}).items()]
        for label, value in examples:
            errors = schema_errors(node["schema"], value)
            assert not errors, f"{'/'.join(map(str, path))}/{label} does not match its schema:\n" + "\n".join(errors)
            checked += 1
    assert checked > 20


def test_every_operation_is_described():
    ids = [op["operationId"] for op in OPERATIONS.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for key, op in OPERATIONS.items():
        assert op.get("summary") and op.get("description"), key
        assert any(status.startswith("2") for status in op["responses"]), f"{key} documents no success"
        assert "500" in op["responses"], f"{key} does not document 500"
        scope = op.get("x-required-scope")
        if scope:
            assert f"**Required scope:** `{scope}`" in op["description"], key
            # Pipeline sync takes the spec's X-API-Key header, and a bearer key like everything else.
            pipeline = key == "POST /v1/pipeline/sync"
            assert op["security"] == ([{"pipelineApiKey": []}, {"bearerAuth": []}] if pipeline
                                      else [{"bearerAuth": []}]), key
            assert {"401", "403"} <= set(op["responses"]), f"{key} needs 401 and 403"
            assert response_codes(op["responses"]["401"]) == ["missing_api_key", "invalid_api_key"], key
            # Platform-admin operations add platform_admin_required after the scope check, pipeline sync
            # organization_mismatch, actions their policy and owner checks (approval: four-eyes too).
            assert response_codes(op["responses"]["403"]) in (
                ["insufficient_scope"], ["insufficient_scope", "platform_admin_required"],
                ["insufficient_scope", "organization_mismatch"],
                ["insufficient_scope", "action_not_allowed", "not_connection_owner"],
                ["insufficient_scope", "approver_required"],
                ["insufficient_scope", "approver_required", "self_approval_not_allowed"]), key
        for status, response in op["responses"].items():
            assert "description" in resolve(response), f"{key} {status}"
            if status >= "400":
                assert response_codes(response), f"{key} {status}: no documented error codes"


def test_described_error_codes_equal_the_schema_enums():
    """The table in each description and the ``code`` enums of its error responses agree."""
    row = re.compile(r"^\| (\d{3}) \| `([A-Za-z_]+)` \|", re.M)
    for key, op in OPERATIONS.items():
        described = {(int(status), code) for status, code in row.findall(op["description"])}
        enumerated = {(int(status), code) for status, response in op["responses"].items()
                      for code in response_codes(response)}
        assert described == enumerated, (
            f"{key}: only described {sorted(described - enumerated)}; only in schemas {sorted(enumerated - described)}")


def test_every_stable_error_code_is_documented():
    documented = {code for op in OPERATIONS.values() for response in op["responses"].values()
                  for code in response_codes(response)}
    assert EXPECTED_CODES <= documented, sorted(EXPECTED_CODES - documented)
    assert documented <= EXPECTED_CODES, f"new codes? add them to EXPECTED_CODES: {sorted(documented - EXPECTED_CODES)}"
    assert set(ERROR_CODES) == set(ERROR_EXAMPLES) == EXPECTED_CODES


def test_components_the_api_promises():
    components = DOC["components"]
    for name in ("Connection", "SyncRun", "Status", "CatalogEntry", "ConnectResponse", "ConnectOAuthRedirect",
                 "ConnectConnected", "ConnectAlreadyConnected", "ConnectWebhook", "Error", "SyncJobStatus",
                 "SyncJobProgress", "SyncJobError", "SyncJobHistory", "SyncJobStarted", "SyncJobCancelled",
                 "SyncSchedule", "ConnectorCadence", "VectorStore", "VectorStoreList", "DocumentSummary", "Document",
                 "DocumentList", "PipelineSyncRequest", "PipelineUpsertOperation", "PipelineDeleteOperation",
                 "PipelineSyncResponse", "PipelineSyncCounts", "QueryRequest", "QueryResponse", "QueryResult",
                 "QueryResultMetadata", "QueryResultChunk", "QueryRanking"):
        assert name in components["schemas"], name
    assert {v["$ref"].rsplit("/", 1)[1] for v in components["schemas"]["ConnectResponse"]["oneOf"]} == {
        "ConnectOAuthRedirect", "ConnectConnected", "ConnectAlreadyConnected", "ConnectWebhook"}
    assert components["securitySchemes"]["bearerAuth"] == {**components["securitySchemes"]["bearerAuth"],
                                                           "type": "http", "scheme": "bearer"}
    assert components["securitySchemes"]["webhookSignature"] == {
        **components["securitySchemes"]["webhookSignature"], "type": "apiKey", "in": "header",
        "name": "Tributary-Signature"}
    assert components["securitySchemes"]["pipelineApiKey"] == {
        **components["securitySchemes"]["pipelineApiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert {"Unauthorized", "Forbidden", "NotFound", "InternalError"} <= set(components["responses"])


# -- (b) routes and document agree -----------------------------------------------------------------

@pytest.fixture(scope="module")
def bare_app(tmp_path_factory, fernet_keys):
    """The application without a schema or sandbox: enough for its url_map and the document."""
    from app import create_app

    instance = tmp_path_factory.mktemp("openapi-instance")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIBUTARY_INSTANCE_PATH", str(instance))
        application = create_app({"DATABASE_URL": f"sqlite:///{instance / 'unused.db'}", "AUTO_MIGRATE": False,
                                  "FERNET_KEYS": list(fernet_keys), "SECRET_KEY": "test", "TESTING": True})
    yield application
    with application.app_context():
        db.engine.dispose()


def routed(app) -> dict[tuple[str, str], str]:
    """(METHOD, OpenAPI path) -> endpoint, for every rule under /api and /webhooks."""
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(method, path)] = rule.endpoint
    return found


def test_every_route_is_documented_and_nothing_else(bare_app):
    routes = set(routed(bare_app))
    documented = {tuple(key.split(" ", 1)) for key in OPERATIONS}
    assert routes - documented == set(), f"routes missing from the document: {sorted(routes - documented)}"
    assert documented - routes == set(), f"documented but not routed: {sorted(documented - routes)}"
    assert all(path.startswith(DOCUMENTED_PREFIXES) for path in DOC["paths"])


def test_path_parameters_are_documented(bare_app):
    for key, op in OPERATIONS.items():
        path = key.split(" ", 1)[1]
        names = set(re.findall(r"{([^}]+)}", path))
        params = op.get("parameters", []) + DOC["paths"][path].get("parameters", [])
        declared = {p["name"] for p in map(resolve, params) if p["in"] == "path"}
        assert names == declared, f"{key}: path parameters {names} but documented {declared}"
        assert all(p["required"] for p in map(resolve, params) if p["in"] == "path"), key


def test_required_scopes_match_the_views(bare_app):
    for (method, path), endpoint in routed(bare_app).items():
        view = bare_app.view_functions[endpoint]
        op = OPERATIONS[f"{method} {path}"]
        assert op.get("x-required-scope") == getattr(view, "required_scope", None), f"{method} {path}"
        if not op.get("x-required-scope"):
            assert "security" in op, f"{method} {path}: say explicitly how it is authenticated"


def test_served_document_is_build_openapi(bare_app):
    response = bare_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == JSON
    assert response.get_json() == DOC
    assert not schema_errors(resolve(OPERATIONS["GET /api/v1/openapi.json"]["responses"]["200"])
                             ["content"][JSON]["schema"], response.get_json())


# -- (c) the contract: real requests, documented answers -------------------------------------------

_DEFAULT = object()


class Contract:
    """Calls documented operations through the test client and checks each answer."""

    def __init__(self, client, key):
        self.client, self.key = client, key
        self.seen: set[tuple[str, int]] = set()

    def call(self, operation: str, expect: int, *, path: dict | None = None, query=None, json=_DEFAULT,
             data=None, headers=None, key=_DEFAULT):
        if operation not in OPERATIONS:
            pytest.fail(f"{operation} is not a documented operation")
        op = OPERATIONS[operation]
        method, template = operation.split(" ", 1)
        url = template.format(**(path or {}))
        sent_headers = {}
        key = self.key if key is _DEFAULT else key
        if key:
            sent_headers["Authorization"] = f"Bearer {key}"
        sent_headers.update(headers or {})
        kwargs = {}
        if json is not _DEFAULT:
            kwargs["json"] = json
            if 200 <= expect < 300:
                self._check_request(operation, op, json)
        if data is not None:
            kwargs["data"] = data
        response = self.client.open(url, method=method, query_string=query, headers=sent_headers, **kwargs)
        self.check(operation, response, expect)
        return response

    @staticmethod
    def _check_request(operation, op, body):
        schema = op.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema")
        assert schema is not None, f"{operation}: a body was sent but no JSON requestBody is documented"
        errors = schema_errors(schema, body)
        assert not errors, (f"{operation}: a body the server accepts does not match the documented requestBody:\n"
                            + "\n".join(errors) + f"\nbody: {body}")

    def check(self, operation: str, response, expect: int):
        op = OPERATIONS[operation]
        status = str(response.status_code)
        text = response.get_data(as_text=True)[:1500]
        documented = sorted(op["responses"])
        assert status in op["responses"], (
            f"{operation} answered {status}, which it does not document (documented: {documented}).\nbody: {text}")
        assert response.status_code == expect, f"{operation}: expected {expect}, got {status}.\nbody: {text}"
        content = resolve(op["responses"][status]).get("content")
        if content:
            assert response.mimetype == JSON, f"{operation} {status}: Content-Type is {response.mimetype}"
            errors = schema_errors(content[JSON]["schema"], response.get_json())
            assert not errors, (f"{operation} → {status}: the body does not match the documented schema:\n"
                                + "\n".join(errors) + f"\nbody: {text}")
        self.seen.add((operation, response.status_code))


def covers(*pairs: str):
    """Declare the "METHOD /path STATUS" answers a contract test exercises (checked after the test:
    each must really have been answered; set-up calls may add others)."""
    declared = set()
    for pair in pairs:
        operation, status = pair.rsplit(" ", 1)
        declared.add((operation, int(status)))

    def decorator(test):
        @functools.wraps(test)
        def wrapper(*args, **kwargs):
            test(*args, **kwargs)
            missing = declared - kwargs["contract"].seen
            assert not missing, f"@covers declares answers the test never got: {sorted(missing)}"
        wrapper.covers = declared
        return wrapper
    return decorator


@pytest.fixture
def contract(client, api):
    return Contract(client, api.key)


class StubProvider:
    """A provider that answers every request under ``/<status>/...`` with that status."""

    def __init__(self):
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _app(environ, start_response):
        status = int(environ["PATH_INFO"].strip("/").split("/")[0])
        headers = {"Retry-After": "7"} if status == 429 else {}
        return Response('{"error": "stub"}', status=status, headers=headers, mimetype=JSON)(environ, start_response)

    def at(self, status: int) -> str:
        return f"{self.url}/{status}"


@pytest.fixture(scope="module")
def stub_provider():
    stub = StubProvider()
    yield stub
    stub.server.shutdown()


def key_with(app, workspace, scopes):
    with app.app_context():
        ws, user = workspace
        return make_api_key(db.session.merge(ws), db.session.merge(user), scopes=list(scopes))


def connect(contract, body, expect=201):
    return contract.call("POST /api/v1/connections", expect, json=body).get_json()


def set_fields(app, connection_id, **fields):
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        for name, value in fields.items():
            setattr(connection, name, value)
        db.session.commit()


def personal_gmail(app, workspace) -> str:
    """A connected Gmail connection owned by the workspace admin (as after its OAuth flow)."""
    with app.app_context():
        ws, user = workspace
        connection = Connection(workspace_id=ws.id, connector_type="gmail", name="Mail", scope="personal",
                                status="connected", owner_user_id=user.id, settings={},
                                credentials={"access_token": "t"}, connected_at=utcnow())
        db.session.add(connection)
        db.session.commit()
        return connection.id


BEARER_OPERATIONS = sorted(key for key, op in OPERATIONS.items() if op.get("x-required-scope"))


@covers(*[f"{key} {status}" for key in BEARER_OPERATIONS for status in (401, 403)])
def test_every_bearer_operation_refuses_missing_unknown_and_underscoped_keys(app, workspace, contract):
    scopes = {OPERATIONS[operation]["x-required-scope"] for operation in BEARER_OPERATIONS}
    keys = {scope: key_with(app, workspace, ["sync" if scope == "connections:read" else "connections:read"])
            for scope in scopes}
    for operation in BEARER_OPERATIONS:
        path = {"connection_id": MISSING_ID, "connector_id": MISSING_ID, "connector_type": "pipedrive",
                "vector_store_id": MISSING_STORE, "action_run_id": MISSING_ACTION_RUN,
                "document_id": MISSING_DOCUMENT, "entry_id": MISSING_ENTRY, **ACCOUNT_PATH}
        for key, code in ((None, "missing_api_key"), ("trb_unknown", "invalid_api_key")):
            body = contract.call(operation, 401, path=path, key=key).get_json()
            assert body["error"]["code"] == code, operation
        scope = OPERATIONS[operation]["x-required-scope"]
        body = contract.call(operation, 403, path=path, key=keys[scope]).get_json()
        assert body["error"]["details"]["required_scope"] == scope


@covers("GET /api/v1/connections/catalog 200", "GET /api/v1/connections/catalog 422")
def test_catalog(contract):
    everything = contract.call("GET /api/v1/connections/catalog", 200).get_json()["connectors"]
    assert {e["connectable"] for e in everything} == {True, False}  # both shapes of not_connectable_reason
    social = contract.call("GET /api/v1/connections/catalog", 200, query={"category": "social"}).get_json()
    assert {e["type"] for e in social["connectors"]} == {"twitter", "linkedin"}
    contract.call("GET /api/v1/connections/catalog", 200, query={"category": ""})
    error = contract.call("GET /api/v1/connections/catalog", 422, query={"category": "music"}).get_json()["error"]
    assert error["code"] == "invalid_category"


@covers("POST /api/v1/connections 201", "POST /api/v1/connections 200", "POST /api/v1/connections/resolve 200",
        "GET /api/v1/connections 200")
def test_connect_in_every_mode(contract):
    assert contract.call("GET /api/v1/connections", 200).get_json() == {"connections": [], "next_cursor": None}
    api_key = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY, "name": "Acme Pipedrive"})
    assert api_key["mode"] == "connected"
    oauth = connect(contract, {"connector_type": "github", "name": "Eng GitHub", "return_to": "/connections"})
    assert oauth["mode"] == "oauth_redirect" and oauth["connection"]["status"] == "pending"
    hook = connect(contract, {"connector_type": "webhook", "name": "Billing", "scope": "business"})
    assert hook["mode"] == "webhook" and hook["connection"]["webhook_url"] == hook["webhook_url"]
    account = contract.call("POST /api/v1/connections/resolve", 200,
                            json={"connector_type": "twitter", "account_handle": "@acme"}).get_json()
    assert account["external_account_id"] == "1234567890" and account["already_connected_id"] is None
    tracked = connect(contract, {"connector_type": "twitter", "account_handle": "acme",
                                 "external_account_id": account["external_account_id"],
                                 "display_name": account["display_name"], "followers": account["followers"]})
    assert tracked["mode"] == "connected"
    again = connect(contract, {"connector_type": "twitter", "account_handle": "acme",
                               "external_account_id": 1234567890}, expect=200)
    assert again == {"mode": "already_connected", "existing_id": tracked["connection"]["id"]}
    resolved = contract.call("POST /api/v1/connections/resolve", 200,
                             json={"connector_type": "twitter", "account_handle": "acme"}).get_json()
    assert resolved["already_connected_id"] == tracked["connection"]["id"]
    listed = contract.call("GET /api/v1/connections", 200).get_json()["connections"]
    assert len(listed) == 4


@covers("GET /api/v1/connections 200", "GET /api/v1/connections 422")
def test_connection_pages_and_filters(app, workspace, contract):
    with app.app_context():
        for index in range(5):
            make_connection(workspace[0].id, name=f"Pipedrive {index}", status="error" if index % 2 else "connected")
    first = contract.call("GET /api/v1/connections", 200, query={"limit": "2"}).get_json()
    assert [c["name"] for c in first["connections"]] == ["Pipedrive 4", "Pipedrive 3"] and first["next_cursor"]
    names, cursor = [], None
    while True:
        page = contract.call("GET /api/v1/connections", 200, query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        names += [c["name"] for c in page.get_json()["connections"]]
        cursor = page.get_json()["next_cursor"]
        if not cursor:
            break
    assert names == [f"Pipedrive {i}" for i in (4, 3, 2, 1, 0)]
    errors = contract.call("GET /api/v1/connections", 200, query={"health": "error"}).get_json()
    assert [c["name"] for c in errors["connections"]] == ["Pipedrive 3", "Pipedrive 1"] and errors["next_cursor"] is None
    found = contract.call("GET /api/v1/connections", 200, query={"q": "PIPEDRIVE 2", "connector_type": "pipedrive"})
    assert [c["name"] for c in found.get_json()["connections"]] == ["Pipedrive 2"]

    def refused(code, **query):
        error = contract.call("GET /api/v1/connections", 422, query=query).get_json()["error"]
        assert error["code"] == code, error
        return error

    refused("invalid_limit", limit="0")
    refused("invalid_cursor", cursor="not-a-cursor")
    assert refused("invalid_filter", health="fine")["details"]["field"] == "health"
    assert refused("invalid_filter", connector_type="myspace")["details"]["field"] == "connector_type"


@covers("POST /api/v1/connections 404", "POST /api/v1/connections 409", "POST /api/v1/connections 422",
        "POST /api/v1/connections 429", "POST /api/v1/connections 502")
def test_connect_errors(app, contract, stub_provider):
    def refused(status, code, **kwargs):
        body = contract.call("POST /api/v1/connections", status, **kwargs).get_json()
        assert body["error"]["code"] == code, body
        return body["error"]

    json_header = {"Content-Type": JSON}
    refused(422, "invalid_json", data="not json", headers=json_header)
    refused(422, "invalid_body", json=[1, 2])
    refused(422, "missing_field", json={"name": "no type"})
    refused(422, "invalid_field", json={"connector_type": 7})
    refused(422, "unknown_connector_type", json={"connector_type": "myspace"})
    refused(422, "invalid_field", json={"connector_type": "webhook", "scope": "global"})
    refused(422, "missing_field", json={"connector_type": "pipedrive"})
    refused(422, "invalid_credentials", json={"connector_type": "pipedrive", "api_key": "wrong-key"})
    refused(422, "not_a_member", json={"connector_type": "gmail", "owner_user_id": "usr_nobody"})
    refused(422, "missing_field", json={"connector_type": "twitter", "account_handle": "acme"})
    refused(422, "invalid_handle", json={"connector_type": "twitter", "account_handle": "not a handle!",
                                         "external_account_id": "1"})
    refused(422, "handle_mismatch", json={"connector_type": "twitter", "account_handle": "acme",
                                          "external_account_id": "999"})
    refused(404, "handle_not_found", json={"connector_type": "twitter", "account_handle": "nobody_here_42",
                                           "external_account_id": "1"})
    error = refused(409, "connector_not_connectable", json={"connector_type": "circleback", "api_key": "x"})
    assert error["details"]["reason_code"] == "coming_soon"

    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(429)},
                                "twitter": {"api_url": stub_provider.at(401)}}
    response = contract.call("POST /api/v1/connections", 429, json={"connector_type": "pipedrive", "api_key": "k"})
    assert response.get_json()["error"]["code"] == "provider_rate_limited"
    assert response.headers["Retry-After"] == "7"
    refused(502, "provider_auth_failed", json={"connector_type": "twitter", "account_handle": "acme",
                                               "external_account_id": "1234567890"})
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(503)}}
    refused(502, "provider_unavailable", json={"connector_type": "pipedrive", "api_key": "k"})
    with app.app_context():
        assert db.session.query(Connection).count() == 0


@covers("POST /api/v1/connections/resolve 404", "POST /api/v1/connections/resolve 409",
        "POST /api/v1/connections/resolve 422", "POST /api/v1/connections/resolve 429",
        "POST /api/v1/connections/resolve 502")
def test_resolve_errors(app, contract, stub_provider):
    def refused(status, code, body):
        error = contract.call("POST /api/v1/connections/resolve", status, json=body).get_json()["error"]
        assert error["code"] == code, error

    refused(404, "handle_not_found", {"connector_type": "twitter", "account_handle": "nobody_here_42"})
    refused(422, "invalid_handle", {"connector_type": "twitter", "account_handle": "not a handle!"})
    refused(422, "missing_field", {"connector_type": "twitter"})
    refused(422, "unknown_connector_type", {"connector_type": "pipedrive", "account_handle": "acme"})
    refused(409, "connector_not_connectable", {"connector_type": "linkedin", "account_handle": "acme"})
    app.config["CONNECTORS"] = {"twitter": {"api_url": stub_provider.at(429)}}
    refused(429, "provider_rate_limited", {"connector_type": "twitter", "account_handle": "acme"})
    app.config["CONNECTORS"] = {"twitter": {"api_url": stub_provider.at(500)}}
    refused(502, "provider_unavailable", {"connector_type": "twitter", "account_handle": "acme"})


@covers("GET /api/v1/connections/{connection_id} 200", "GET /api/v1/connections/{connection_id} 404",
        "PATCH /api/v1/connections/{connection_id} 200", "PATCH /api/v1/connections/{connection_id} 404",
        "PATCH /api/v1/connections/{connection_id} 422", "DELETE /api/v1/connections/{connection_id} 200",
        "DELETE /api/v1/connections/{connection_id} 404")
def test_get_update_and_disconnect(app, client, workspace, contract):
    created = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]
    one = {"connection_id": created["id"]}
    hook = connect(contract, {"connector_type": "webhook"})["connection"]
    got = contract.call("GET /api/v1/connections/{connection_id}", 200, path={"connection_id": hook["id"]})
    assert "webhook_url" in got.get_json()
    assert "webhook_url" not in contract.call("GET /api/v1/connections/{connection_id}", 200, path=one).get_json()

    # Another workspace's id answers exactly like a missing one.
    with app.app_context():
        globex, admin = make_workspace("Globex")
        foreign_key = make_api_key(globex, admin)
    foreign = Contract(client, foreign_key)
    for operation, kwargs in (("GET /api/v1/connections/{connection_id}", {}),
                              ("PATCH /api/v1/connections/{connection_id}", {"json": {"name": "mine"}}),
                              ("DELETE /api/v1/connections/{connection_id}", {})):
        theirs = foreign.call(operation, 404, path=one, **kwargs).get_json()
        missing = foreign.call(operation, 404, path={"connection_id": MISSING_ID}, **kwargs).get_json()
        assert theirs["error"]["code"] == missing["error"]["code"] == "not_found"
        assert theirs["error"]["message"] == missing["error"]["message"]
        contract.seen |= foreign.seen

    renamed = contract.call("PATCH /api/v1/connections/{connection_id}", 200, path=one,
                            json={"name": "Acme Pipedrive (prod)"}).get_json()
    assert renamed["connection"]["name"] == "Acme Pipedrive (prod)"
    for body, code in (({"sync_interval": "1h"}, "field_not_editable"), ({"name": ""}, "missing_field"),
                       ({"name": None}, "missing_field"), ({"name": 5}, "invalid_field"), ({}, "invalid_body"),
                       ({"owner_user_id": None}, "owner_not_allowed")):
        error = contract.call("PATCH /api/v1/connections/{connection_id}", 422, path=one, json=body).get_json()
        assert error["error"]["code"] == code, body
    error = contract.call("PATCH /api/v1/connections/{connection_id}", 422, path=one, data="{",
                          headers={"Content-Type": JSON}).get_json()
    assert error["error"]["code"] == "invalid_json"

    mail = {"connection_id": personal_gmail(app, workspace)}
    with app.app_context():
        member_id = add_member(db.session.merge(workspace[0]), email="bea@example.com").id
    moved = contract.call("PATCH /api/v1/connections/{connection_id}", 200, path=mail,
                          json={"owner_user_id": member_id, "name": "Bea's mail"}).get_json()
    assert moved["connection"]["owner_user_id"] == member_id
    cleared = contract.call("PATCH /api/v1/connections/{connection_id}", 200, path=mail, json={"owner_user_id": None})
    assert cleared.get_json()["connection"]["owner_user_id"] is None
    error = contract.call("PATCH /api/v1/connections/{connection_id}", 422, path=mail,
                          json={"owner_user_id": "usr_nobody"}).get_json()
    assert error["error"]["code"] == "not_a_member"

    gone = contract.call("DELETE /api/v1/connections/{connection_id}", 200, path=one).get_json()
    assert gone == {"disconnected": True, "id": created["id"]}
    assert contract.call("DELETE /api/v1/connections/{connection_id}", 200, path=one).get_json() == gone
    assert contract.call("DELETE /api/v1/connections/{connection_id}", 200, path=mail).get_json()["disconnected"]
    after = contract.call("GET /api/v1/connections/{connection_id}", 200, path=one).get_json()
    assert after["status"] == "disconnected" and after["disconnected_at"]


@covers("POST /api/v1/connections/{connection_id}/reconnect 200",
        "POST /api/v1/connections/{connection_id}/reconnect 404",
        "POST /api/v1/connections/{connection_id}/reconnect 409",
        "POST /api/v1/connections/{connection_id}/reconnect 422",
        "POST /api/v1/connections/{connection_id}/reconnect 429",
        "POST /api/v1/connections/{connection_id}/reconnect 502")
def test_reconnect(app, workspace, contract, stub_provider):
    op = "POST /api/v1/connections/{connection_id}/reconnect"

    def refused(status, code, connection_id, **kwargs):
        error = contract.call(op, status, path={"connection_id": connection_id}, **kwargs).get_json()["error"]
        assert error["code"] == code, error

    pipedrive = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]["id"]
    refused(409, "connection_healthy", pipedrive, json={"api_key": PIPEDRIVE_KEY})
    refused(404, "not_found", MISSING_ID, json={"api_key": PIPEDRIVE_KEY})
    contract.call("DELETE /api/v1/connections/{connection_id}", 200, path={"connection_id": pipedrive})
    refused(422, "missing_field", pipedrive)
    refused(422, "invalid_body", pipedrive, json=["api_key"])
    refused(422, "invalid_credentials", pipedrive, json={"api_key": "wrong"})
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(429)}}
    refused(429, "provider_rate_limited", pipedrive, json={"api_key": PIPEDRIVE_KEY})
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(502)}}
    refused(502, "provider_unavailable", pipedrive, json={"api_key": PIPEDRIVE_KEY})
    app.config["CONNECTORS"] = {}
    restored = contract.call(op, 200, path={"connection_id": pipedrive}, json={"api_key": PIPEDRIVE_KEY}).get_json()
    assert restored["mode"] == "connected" and restored["connection"]["id"] == pipedrive

    hook = connect(contract, {"connector_type": "webhook"})
    set_fields(app, hook["connection"]["id"], status="error", last_error="boom")
    rotated = contract.call(op, 200, path={"connection_id": hook["connection"]["id"]}).get_json()
    assert rotated["mode"] == "webhook" and rotated["signing_secret"] != hook["signing_secret"]

    x = connect(contract, {"connector_type": "twitter", "account_handle": "acme",
                           "external_account_id": "1234567890"})["connection"]["id"]
    set_fields(app, x, status="error", last_error="X answered 503")
    assert contract.call(op, 200, path={"connection_id": x}).get_json()["connection"]["last_error"] is None

    mail = personal_gmail(app, workspace)
    set_fields(app, mail, needs_reauth=True, status="error")
    again = contract.call(op, 200, path={"connection_id": mail}, json={"return_to": "/connections"}).get_json()
    assert again["mode"] == "oauth_redirect" and again["connection"]["health"] == "needs_reauth"
    app.config["SANDBOX_URL"] = None  # Gmail's OAuth app is now not configured
    error = contract.call(op, 409, path={"connection_id": mail}).get_json()["error"]
    assert error["code"] == "connector_not_connectable"
    assert error["details"]["reason_code"] == "oauth_app_not_configured"


@covers("POST /api/v1/connections/{connection_id}/rotate-secret 200",
        "POST /api/v1/connections/{connection_id}/rotate-secret 404",
        "POST /api/v1/connections/{connection_id}/rotate-secret 409",
        "POST /api/v1/connections/{connection_id}/rotate-secret 422")
def test_rotate_secret(app, contract):
    op = "POST /api/v1/connections/{connection_id}/rotate-secret"

    def call(status, connection_id, **kwargs):
        return contract.call(op, status, path={"connection_id": connection_id}, **kwargs).get_json()

    hook = connect(contract, {"connector_type": "webhook"})
    hook_id = hook["connection"]["id"]
    rotated = call(200, hook_id)
    assert rotated["signing_secret"] != hook["signing_secret"] and rotated["previous_secret_expires_at"]
    assert call(200, hook_id, json={"grace_period_seconds": 0})["previous_secret_expires_at"] is None
    assert call(422, hook_id, json={"grace_period_seconds": -5})["error"]["code"] == "invalid_field"
    assert call(422, hook_id, json=["grace_period_seconds"])["error"]["code"] == "invalid_body"
    assert call(404, MISSING_ID)["error"]["code"] == "not_found"
    pipedrive = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]["id"]
    assert call(409, pipedrive)["error"]["code"] == "not_a_webhook"
    contract.call("DELETE /api/v1/connections/{connection_id}", 200, path={"connection_id": hook_id})
    assert call(409, hook_id)["error"]["code"] == "connection_disconnected"


@covers("POST /api/v1/connections/{connection_id}/check 200", "POST /api/v1/connections/{connection_id}/check 404",
        "POST /api/v1/connections/{connection_id}/check 409", "POST /api/v1/connections/{connection_id}/check 422",
        "POST /api/v1/connections/{connection_id}/check 429", "POST /api/v1/connections/{connection_id}/check 502")
def test_check(app, workspace, contract, stub_provider):
    op = "POST /api/v1/connections/{connection_id}/check"

    def check(status, connection_id):
        return contract.call(op, status, path={"connection_id": connection_id}).get_json()

    pipedrive = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]["id"]
    assert check(200, pipedrive)["ok"] is True
    hook = connect(contract, {"connector_type": "webhook"})["connection"]["id"]
    assert check(200, hook) == {**check(200, hook), "ok": True, "error": None}
    x = connect(contract, {"connector_type": "twitter", "account_handle": "acme",
                           "external_account_id": "1234567890"})["connection"]["id"]
    assert check(200, x)["ok"] is True

    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(429)}}
    assert check(429, pipedrive)["error"]["code"] == "provider_rate_limited"
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(500)}}
    assert check(502, pipedrive)["error"]["code"] == "provider_unavailable"
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(401)}}
    refused = check(200, pipedrive)
    assert refused["ok"] is False and refused["error"]["code"] == "needs_reauth"
    assert refused["connection"]["health"] == "needs_reauth"
    app.config["CONNECTORS"] = {}

    mail = personal_gmail(app, workspace)  # its token "t" is unknown to the sandbox's Google
    assert check(200, mail)["error"]["code"] == "needs_reauth"
    set_fields(app, x, handle="nobody_here_42")
    gone = check(200, x)
    assert gone["ok"] is False and gone["error"]["code"] == "handle_not_found"
    set_fields(app, x, handle="not a handle!")
    assert check(422, x)["error"]["code"] == "invalid_handle"

    assert check(404, MISSING_ID)["error"]["code"] == "not_found"
    pending = connect(contract, {"connector_type": "github"})["connection"]["id"]
    assert check(409, pending)["error"]["code"] == "connection_pending"
    contract.call("DELETE /api/v1/connections/{connection_id}", 200, path={"connection_id": hook})
    assert check(409, hook)["error"]["code"] == "connection_disconnected"


@covers("GET /api/v1/connections/{connection_id}/status 200", "GET /api/v1/connections/{connection_id}/status 404",
        "GET /api/v1/connections/{connection_id}/runs 200", "GET /api/v1/connections/{connection_id}/runs 404",
        "GET /api/v1/connections/{connection_id}/runs 422", "POST /api/v1/connections/{connection_id}/sync 202",
        "POST /api/v1/connections/{connection_id}/sync 404", "POST /api/v1/connections/{connection_id}/sync 409",
        "POST /api/v1/connections/{connection_id}/sync 422", "GET /api/v1/connections 200",
        "GET /api/v1/connections/{connection_id} 200")
def test_status_runs_and_sync(app, contract):
    created = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]
    one = {"connection_id": created["id"]}
    status = contract.call("GET /api/v1/connections/{connection_id}/status", 200, path=one).get_json()
    assert status["last_run"] is None and status["health"] == "healthy"
    contract.call("GET /api/v1/connections/{connection_id}/status", 404, path={"connection_id": MISSING_ID})

    queued = contract.call("POST /api/v1/connections/{connection_id}/sync", 202, path=one,
                           query={"full": "true"}).get_json()
    assert queued["sync_type"] == "full" and queued["run_status"] == "pending"
    assert contract.call("POST /api/v1/connections/{connection_id}/sync", 202, path=one,
                         query={"full": "No"}).get_json()["sync_type"] == "incremental"
    error = contract.call("POST /api/v1/connections/{connection_id}/sync", 422, path=one,
                          query={"full": "maybe"}).get_json()["error"]
    assert error["code"] == "invalid_parameter" and error["details"] == {"parameter": "full"}
    contract.call("POST /api/v1/connections/{connection_id}/sync", 404, path={"connection_id": MISSING_ID})

    # Runs in every shape: finished with failures, failed with a reason, running on one channel.
    with app.app_context():
        workspace_id = db.session.get(Connection, created["id"]).workspace_id
        now = utcnow()
        db.session.add_all([
            SyncRun(workspace_id=workspace_id, connection_id=created["id"], status="completed", mode="full",
                    triggered_by="schedule", streams_total=3, streams_failed=1, records_written=120,
                    started_at=now, finished_at=now, created_at=now),
            SyncRun(workspace_id=workspace_id, connection_id=created["id"], status="failed", mode="incremental",
                    triggered_by="manual", error_reason="rate_limit", error_message="429 from Pipedrive",
                    started_at=now, finished_at=now, created_at=now),
            SyncRun(workspace_id=workspace_id, connection_id=created["id"], status="running", mode="incremental",
                    triggered_by="schedule", channel="deals", started_at=now, created_at=now),
        ])
        db.session.commit()
    runs = contract.call("GET /api/v1/connections/{connection_id}/runs", 200, path=one).get_json()["runs"]
    assert len(runs) == 5
    assert len(contract.call("GET /api/v1/connections/{connection_id}/runs", 200, path=one,
                             query={"limit": "2"}).get_json()["runs"]) == 2
    contract.call("GET /api/v1/connections/{connection_id}/runs", 200, path=one, query={"limit": "500"})
    for bad in ("zero", "0", "-3"):
        error = contract.call("GET /api/v1/connections/{connection_id}/runs", 422, path=one,
                              query={"limit": bad}).get_json()["error"]
        assert error["code"] == "invalid_limit"
    contract.call("GET /api/v1/connections/{connection_id}/runs", 404, path={"connection_id": MISSING_ID})
    syncing = contract.call("GET /api/v1/connections/{connection_id}", 200, path=one).get_json()
    assert syncing["is_syncing"] is True and syncing["last_run"] is not None
    contract.call("GET /api/v1/connections/{connection_id}/status", 200, path=one)
    contract.call("GET /api/v1/connections", 200)

    pending = connect(contract, {"connector_type": "github"})["connection"]["id"]
    error = contract.call("POST /api/v1/connections/{connection_id}/sync", 409,
                          path={"connection_id": pending}).get_json()["error"]
    assert error["code"] == "connection_pending"
    contract.call("DELETE /api/v1/connections/{connection_id}", 200, path=one)
    error = contract.call("POST /api/v1/connections/{connection_id}/sync", 409, path=one).get_json()["error"]
    assert error["code"] == "connection_disconnected"


@covers("GET /api/v1/me 200", "GET /api/v1/openapi.json 200")
def test_me_and_the_document(app, workspace, contract):
    me = contract.call("GET /api/v1/me", 200).get_json()
    assert me["scopes"] == ["admin"] and me["workspace_id"] == workspace[0].id
    narrow = key_with(app, workspace, ["connections:read", "sync"])
    assert contract.call("GET /api/v1/me", 200, key=narrow).get_json()["scopes"] == ["connections:read", "sync"]
    assert contract.call("GET /api/v1/openapi.json", 200, key=None).get_json() == DOC


@covers("POST /webhooks/{connection_id} 202", "POST /webhooks/{connection_id} 401",
        "POST /webhooks/{connection_id} 404", "POST /webhooks/{connection_id} 409",
        "POST /webhooks/{connection_id} 410", "POST /webhooks/{connection_id} 413",
        "POST /webhooks/{connection_id} 422")
def test_webhook_deliveries(contract):
    hook = connect(contract, {"connector_type": "webhook", "name": "Billing"})
    pipedrive = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]["id"]
    connection_id, secret = hook["connection"]["id"], hook["signing_secret"]

    def deliver(status, body: bytes, signature, *, to=connection_id, code=None):
        headers = {"Content-Type": JSON}
        if signature is not None:
            headers["Tributary-Signature"] = signature
        response = contract.call("POST /webhooks/{connection_id}", status, path={"connection_id": to},
                                 data=body, headers=headers, key=None)
        if code:
            assert response.get_json()["error"]["code"] == code
        return response

    body = b'{"id": "evt_1", "type": "invoice.paid"}'
    signature = sign(secret, body)
    assert deliver(202, body, signature).get_json()["received"] is True
    deliver(202, b"[1, 2]", sign(secret, b"[1, 2]"))
    deliver(409, body, signature, code="replayed_delivery")
    deliver(401, body, None, code="missing_signature")
    deliver(401, body, "t=123", code="missing_signature")
    deliver(401, body, sign(secret, body, int(time.time()) - 301), code="timestamp_out_of_window")
    deliver(401, body, sign("whsec_other", body), code="invalid_signature")
    deliver(422, b"not json", sign(secret, b"not json"), code="invalid_payload")
    deliver(422, b'"a string"', sign(secret, b'"a string"'), code="invalid_payload")
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    deliver(413, big, sign(secret, big), code="payload_too_large")
    deliver(404, body, signature, to=MISSING_ID, code="not_found")
    deliver(404, body, signature, to=pipedrive, code="not_found")
    contract.call("DELETE /api/v1/connections/{connection_id}", 200, path={"connection_id": connection_id})
    fresh = b'{"id": "evt_2"}'
    deliver(410, fresh, sign(secret, fresh), code="connection_disconnected")


# -- the sync-jobs API and platform admin ----------------------------------------------------------

def _execute(app, job_id, *, cancel_first=None):
    """Claim ``job_id`` (now running) and return; ``cancel_first`` is called before it executes."""
    with app.app_context():
        assert worker.claim("contract-worker").run_id == job_id
        db.session.remove()
    if cancel_first:
        cancel_first()
        with app.app_context():
            assert engine.execute(job_id) == "cancelled"
            db.session.remove()


@covers("POST /api/sync 202", "POST /api/sync 404", "POST /api/sync 409", "POST /api/sync 422",
        "GET /api/sync/status 200", "GET /api/sync/status 404", "GET /api/sync/status 422",
        "GET /api/sync/history 200", "GET /api/sync/history 404", "GET /api/sync/history 422",
        "POST /api/sync/cancel 200", "POST /api/sync/cancel 404", "POST /api/sync/cancel 409",
        "POST /api/sync/cancel 422")
def test_sync_jobs(app, contract, sandbox_server):
    pipedrive = connect(contract, {"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})["connection"]["id"]
    one = {"channel_id": pipedrive}

    def job_status(job_id=None):
        return contract.call("GET /api/sync/status", 200, query={**one, **({"job_id": job_id} if job_id else {})}
                             ).get_json()

    # A job in every state: queued, running (and cancelled while it runs), completed, failed.
    first = contract.call("POST /api/sync", 202, json={"channel_id": pipedrive, "force": True}).get_json()
    assert first["estimated_messages"] is None and job_status()["status"] == "queued"
    contract.call("GET /api/sync/history", 200, query=one)

    def cancel_running():
        assert job_status(first["job_id"])["status"] == "running"
        contract.call("GET /api/sync/history", 200, query=one)
        contract.call("POST /api/sync/cancel", 200, json={"job_id": first["job_id"]})
    _execute(app, first["job_id"], cancel_first=cancel_running)
    assert job_status()["status"] == "cancelled"
    error = contract.call("POST /api/sync/cancel", 409, json={"job_id": first["job_id"]}).get_json()["error"]
    assert error["code"] == "run_not_active"

    second = contract.call("POST /api/sync", 202, json={"channel_id": pipedrive}).get_json()
    assert worker.drain(app) == [second["job_id"]]
    done = job_status()
    assert done["status"] == "completed" and done["progress"]["percentage"] == 100
    third = contract.call("POST /api/sync", 202, json={"channel_id": pipedrive}).get_json()
    assert third["estimated_messages"] == done["progress"]["processed_messages"]
    assert contract.call("POST /api/sync/cancel", 200, json={"job_id": third["job_id"]}).get_json()["status"] \
        == "cancelled"

    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "pipedrive", "kind": "revoke_tokens"},
                  timeout=5).raise_for_status()
    failing = contract.call("POST /api/sync", 202, json={"channel_id": pipedrive}).get_json()
    worker.drain(app)
    assert job_status(failing["job_id"])["error"]["code"] == "AUTH_ERROR"
    entries = contract.call("GET /api/sync/history", 200, query={**one, "limit": "3"}).get_json()["history"]
    assert [e["status"] for e in entries] == ["failed", "cancelled", "completed"]

    def refused(operation, status, code, **kwargs):
        error = contract.call(operation, status, **kwargs).get_json()["error"]
        assert error["code"] == code, error

    missing = {"channel_id": "chn_doesnotexist0000"}
    refused("POST /api/sync", 404, "CHANNEL_NOT_FOUND", json=missing)
    refused("GET /api/sync/status", 404, "CHANNEL_NOT_FOUND", query=missing)
    refused("GET /api/sync/status", 404, "not_found", query={**one, "job_id": "run_doesnotexist0000"})
    refused("GET /api/sync/history", 404, "CHANNEL_NOT_FOUND", query=missing)
    refused("POST /api/sync/cancel", 404, "not_found", json={"job_id": "run_doesnotexist0000"})
    refused("POST /api/sync", 422, "missing_field", json={"force": True})
    refused("POST /api/sync", 422, "invalid_field", json={"channel_id": pipedrive, "force": "yes"})
    refused("POST /api/sync", 422, "invalid_json", data="{", headers={"Content-Type": JSON})
    refused("POST /api/sync", 422, "invalid_body", json=[pipedrive])
    refused("GET /api/sync/status", 422, "missing_parameter")
    refused("GET /api/sync/history", 422, "missing_parameter")
    refused("GET /api/sync/history", 422, "invalid_limit", query={**one, "limit": "0"})
    refused("POST /api/sync/cancel", 422, "missing_field", json={})
    refused("POST /api/sync/cancel", 422, "invalid_field", json={"job_id": 7})
    contract.call("DELETE /api/v1/connections/{connection_id}", 200, path={"connection_id": pipedrive})
    refused("POST /api/sync", 409, "connection_disconnected", json=one)
    pending = connect(contract, {"connector_type": "github"})["connection"]["id"]
    refused("POST /api/sync", 409, "connection_pending", json={"channel_id": pending})


@covers("GET /api/sync/schedules 200", "PUT /api/sync/schedules 200", "PUT /api/sync/schedules 404",
        "PUT /api/sync/schedules 422")
def test_sync_schedules(app, client, contract):
    from tests.api.test_sync_jobs import REPO, connect_github

    connection_id, channels = connect_github(app, client, contract.key)
    assert contract.call("GET /api/sync/schedules", 200).get_json() == {"schedules": []}
    entry = contract.call("PUT /api/sync/schedules", 200,
                          json={"channel_id": REPO, "schedule": "0 */4 * * *", "enabled": True}).get_json()
    assert entry["channel_id"] == channels[REPO] and entry["next_sync"] and entry["last_sync"] is None
    assert contract.call("GET /api/sync/schedules", 200).get_json() == {"schedules": [entry]}
    job = contract.call("POST /api/sync", 202, json={"channel_id": REPO}).get_json()["job_id"]
    assert worker.drain(app) == [job]
    assert contract.call("GET /api/sync/schedules", 200).get_json()["schedules"][0]["last_sync"]
    paused = contract.call("PUT /api/sync/schedules", 200,
                           json={"channel_id": channels[REPO], "schedule": "0 3 * * *", "enabled": False}).get_json()
    assert paused["next_sync"] is None and paused["enabled"] is False
    cleared = contract.call("PUT /api/sync/schedules", 200, json={"channel_id": REPO, "schedule": None}).get_json()
    assert cleared["schedule"] is None
    for body, code in (({"channel_id": "chn_doesnotexist0000", "schedule": None}, "CHANNEL_NOT_FOUND"),
                       ({"channel_id": connection_id, "schedule": None}, "CHANNEL_NOT_FOUND")):
        assert contract.call("PUT /api/sync/schedules", 404, json=body).get_json()["error"]["code"] == code
    for body, code in (({"channel_id": REPO, "schedule": "sometimes"}, "invalid_schedule"),
                       ({"channel_id": REPO}, "missing_field"),
                       ({"channel_id": REPO, "schedule": None, "enabled": 1}, "invalid_field"),
                       ([REPO], "invalid_body")):
        assert contract.call("PUT /api/sync/schedules", 422, json=body).get_json()["error"]["code"] == code
    error = contract.call("PUT /api/sync/schedules", 422, data="{", headers={"Content-Type": JSON}).get_json()
    assert error["error"]["code"] == "invalid_json"


def platform_admin_key(app, workspace) -> str:
    """An admin key created by the installation's platform admin."""
    with app.app_context():
        ws = db.session.merge(workspace[0])
        operator = add_member(ws, email="operator@example.com", role="admin")
        operator.is_platform_admin = True
        db.session.commit()
        return make_api_key(ws, operator)


@covers("GET /api/admin/connector-cadence 200", "GET /api/admin/connector-cadence 403",
        "PUT /api/admin/connector-cadence/{connector_type} 200",
        "PUT /api/admin/connector-cadence/{connector_type} 403",
        "PUT /api/admin/connector-cadence/{connector_type} 404",
        "PUT /api/admin/connector-cadence/{connector_type} 422")
def test_connector_cadence(app, workspace, contract):
    operator = platform_admin_key(app, workspace)
    listed = contract.call("GET /api/admin/connector-cadence", 200, key=operator).get_json()["cadences"]
    assert {"github", "pipedrive"} <= {c["connector_type"] for c in listed}
    op = "PUT /api/admin/connector-cadence/{connector_type}"
    github = {"connector_type": "github"}
    assert contract.call(op, 200, path=github, json={"preset": "1h"}, key=operator).get_json()["override"] == "1h"
    assert contract.call(op, 200, path=github, json={"preset": None}, key=operator).get_json()["override"] is None

    # The workspace admin's key (contract.key) is not the platform admin's.
    for operation, kwargs in (("GET /api/admin/connector-cadence", {}),
                              (op, {"path": github, "json": {"preset": "1h"}})):
        error = contract.call(operation, 403, **kwargs).get_json()["error"]
        assert error["code"] == "platform_admin_required"
    error = contract.call(op, 404, path={"connector_type": "myspace"}, json={"preset": "1h"}, key=operator)
    assert error.get_json()["error"]["code"] == "unknown_connector_type"
    for body, code in (({"preset": "2h"}, "invalid_preset"), ({}, "missing_field"), ("1h", "invalid_body")):
        error = contract.call(op, 422, path=github, json=body, key=operator).get_json()["error"]
        assert error["code"] == code
    error = contract.call(op, 422, path=github, data="{", headers={"Content-Type": JSON}, key=operator)
    assert error.get_json()["error"]["code"] == "invalid_json"


# -- vector stores, documents and pipeline sync -----------------------------------------------------

def sync_body(workspace_id, store_id, operations, mode="incremental"):
    return {"organization_id": workspace_id, "sync_mode": mode, "operations": operations,
            "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store_id}


def upsert_op(external_id, namespace="clickup_tasks", **fields):
    return {"action": "upsert", "id": external_id, "namespace": namespace, "title": f"Task {external_id}",
            "content": f"The text of {external_id}.", **fields}


def foreign_store(app) -> str:
    """A named store of another workspace."""
    from knowledge import stores

    with app.app_context():
        globex, admin = make_workspace("Globex")
        actor = user_actor_for(globex, admin)
        return stores.create_store(actor, "theirs").id


@covers("GET /api/v1/vector-stores 200", "POST /api/v1/vector-stores 201", "POST /api/v1/vector-stores 409",
        "POST /api/v1/vector-stores 422", "GET /api/v1/vector-stores/{vector_store_id} 200",
        "GET /api/v1/vector-stores/{vector_store_id} 404", "DELETE /api/v1/vector-stores/{vector_store_id} 200",
        "DELETE /api/v1/vector-stores/{vector_store_id} 404", "DELETE /api/v1/vector-stores/{vector_store_id} 409")
def test_vector_stores(app, workspace, contract):
    listed = contract.call("GET /api/v1/vector-stores", 200).get_json()["vector_stores"]
    assert [(s["name"], s["is_default"]) for s in listed] == [("default", True)]
    default_id = listed[0]["id"]
    created = contract.call("POST /api/v1/vector-stores", 201,
                            json={"name": "support", "description": "Help-center articles"}).get_json()
    contract.call("POST /api/v1/vector-stores", 201, json={"name": "bare"})
    one = {"vector_store_id": created["id"]}
    assert contract.call("GET /api/v1/vector-stores/{vector_store_id}", 200, path=one).get_json() == created
    contract.call("POST /v1/pipeline/sync", 200, json=sync_body(workspace[0].id, created["id"], [upsert_op("t1")]))
    synced = contract.call("GET /api/v1/vector-stores/{vector_store_id}", 200, path=one).get_json()
    # Not chunked or embedded yet (no worker runs here): waiting in one backlog or the other.
    assert synced["document_count"] == 1 and synced["chunking_backlog"] + synced["embedding_backlog"] >= 1
    embedding_queue.drain_embeddings(app)
    drained = contract.call("GET /api/v1/vector-stores/{vector_store_id}", 200, path=one).get_json()
    assert (drained["chunking_backlog"], drained["embedding_backlog"]) == (0, 0)

    def refused(operation, status, code, **kwargs):
        error = contract.call(operation, status, **kwargs).get_json()["error"]
        assert error["code"] == code, error

    refused("POST /api/v1/vector-stores", 409, "vector_store_exists", json={"name": "support"})
    refused("POST /api/v1/vector-stores", 409, "vector_store_exists", json={"name": "default"})
    refused("POST /api/v1/vector-stores", 422, "missing_field", json={"description": "no name"})
    refused("POST /api/v1/vector-stores", 422, "invalid_field", json={"name": 7})
    refused("POST /api/v1/vector-stores", 422, "invalid_field", json={"name": "x" * 121})
    refused("POST /api/v1/vector-stores", 422, "invalid_field", json={"name": "ok", "description": ["no"]})
    refused("POST /api/v1/vector-stores", 422, "invalid_json", data="{", headers={"Content-Type": JSON})
    refused("POST /api/v1/vector-stores", 422, "invalid_body", json=["support"])
    theirs = {"vector_store_id": foreign_store(app)}
    for path in ({"vector_store_id": MISSING_STORE}, theirs):
        refused("GET /api/v1/vector-stores/{vector_store_id}", 404, "vector_store_not_found", path=path)
        refused("DELETE /api/v1/vector-stores/{vector_store_id}", 404, "vector_store_not_found", path=path)
    refused("DELETE /api/v1/vector-stores/{vector_store_id}", 409, "default_store",
            path={"vector_store_id": default_id})
    deleted = contract.call("DELETE /api/v1/vector-stores/{vector_store_id}", 200, path=one).get_json()
    assert deleted == {"deleted": True, "id": created["id"], "documents_deleted": 1}
    names = [s["name"] for s in contract.call("GET /api/v1/vector-stores", 200).get_json()["vector_stores"]]
    assert names == ["default", "bare"]


@covers("GET /api/v1/documents 200", "GET /api/v1/documents 404", "GET /api/v1/documents 422",
        "GET /api/v1/documents/{document_id} 200", "GET /api/v1/documents/{document_id} 404",
        "DELETE /api/v1/documents/{document_id} 200", "DELETE /api/v1/documents/{document_id} 404")
def test_documents(app, workspace, contract):
    store = contract.call("POST /api/v1/vector-stores", 201, json={"name": "kb"}).get_json()["id"]
    operations = [upsert_op(f"t{i}", url=f"https://example.com/t{i}", author="ada@example.com", type="task",
                            created_at="2026-04-01T09:00:00Z", updated_at="2026-04-13T10:29:00+02:00",
                            metadata={"status": "open"}) for i in range(3)]
    operations.append({"action": "upsert", "id": "s1", "namespace": "clickup_spaces", "title": "Platform"})
    contract.call("POST /v1/pipeline/sync", 200, json=sync_body(workspace[0].id, store, operations))
    page = contract.call("GET /api/v1/documents", 200, query={"limit": "2"}).get_json()
    assert len(page["documents"]) == 2 and page["next_cursor"]
    rest = contract.call("GET /api/v1/documents", 200, query={"limit": "2", "cursor": page["next_cursor"]})
    rest = rest.get_json()
    assert len(rest["documents"]) == 2 and rest["next_cursor"] is None
    tasks = contract.call("GET /api/v1/documents", 200, query={"vector_store_id": store, "namespace": "clickup_tasks",
                                                                "source": "pipeline", "limit": "500"}).get_json()
    assert len(tasks["documents"]) == 3
    one = {"document_id": tasks["documents"][0]["id"]}
    got = contract.call("GET /api/v1/documents/{document_id}", 200, path=one).get_json()
    assert got["content"].startswith("The text of") and got["chunk_count"] == 0
    assert contract.call("DELETE /api/v1/documents/{document_id}", 200, path=one).get_json() == {
        "deleted": True, "id": one["document_id"]}

    def refused(operation, status, code, **kwargs):
        error = contract.call(operation, status, **kwargs).get_json()["error"]
        assert error["code"] == code, error

    refused("GET /api/v1/documents/{document_id}", 404, "document_not_found", path=one)
    refused("DELETE /api/v1/documents/{document_id}", 404, "document_not_found", path=one)
    refused("GET /api/v1/documents", 404, "vector_store_not_found", query={"vector_store_id": MISSING_STORE})
    refused("GET /api/v1/documents", 404, "vector_store_not_found", query={"vector_store_id": foreign_store(app)})
    refused("GET /api/v1/documents", 422, "invalid_limit", query={"limit": "0"})
    refused("GET /api/v1/documents", 422, "invalid_cursor", query={"cursor": "not-a-cursor"})


@covers("POST /v1/pipeline/sync 200", "POST /v1/pipeline/sync 401", "POST /v1/pipeline/sync 403",
        "POST /v1/pipeline/sync 404", "POST /v1/pipeline/sync 413", "POST /v1/pipeline/sync 422",
        "POST /v1/pipeline/sync 429")
def test_pipeline_sync(app, workspace, contract, monkeypatch):
    from knowledge import pipeline

    op = "POST /v1/pipeline/sync"
    org = workspace[0].id
    store = contract.call("POST /api/v1/vector-stores", 201, json={"name": "clickup"}).get_json()["id"]
    pipeline_key = key_with(app, workspace, ["pipeline"])
    spec_example = sync_body(org, store, [
        upsert_op("task_123", url="https://app.clickup.com/t/task_123", author="ada@example.com", type="task",
                  created_at="2026-04-01T09:00:00Z", updated_at="2026-04-13T10:29:00Z", metadata={"status": "open"}),
        {"action": "delete", "id": "task_122", "namespace": "clickup_tasks"},
        {"action": "upsert", "id": "space_9", "namespace": "clickup_spaces", "title": "Platform"}])
    answer = contract.call(op, 200, json=spec_example, key=None, headers={"X-API-Key": pipeline_key}).get_json()
    assert answer["results"] == {"upserted": 2, "deleted": 1, "failed": 0} and answer["processed"] == 3
    full = contract.call(op, 200, json=sync_body(org, store, [upsert_op("task_124")], mode="full_refresh"))
    assert full.get_json()["by_namespace"] == {"clickup_tasks": {"upserted": 1, "deleted": 0, "failed": 0}}

    def refused(status, code, **kwargs):
        response = contract.call(op, status, **kwargs)
        assert response.get_json()["error"]["code"] == code, response.get_json()
        return response

    body = sync_body(org, store, [upsert_op("task_125")])
    refused(401, "missing_api_key", json=body, key=None, headers={"X-API-Key": " "})
    refused(401, "invalid_api_key", json=body, key=None, headers={"X-API-Key": "trb_unknown"})
    refused(403, "insufficient_scope", json=body, key=None,
            headers={"X-API-Key": key_with(app, workspace, ["query"])})
    refused(403, "organization_mismatch", json={**body, "organization_id": "org_someoneelse0000"})
    refused(404, "vector_store_not_found", json={**body, "vector_store_id": MISSING_STORE})
    refused(404, "vector_store_not_found", json={**body, "vector_store_id": foreign_store(app)})
    too_many = [{"action": "delete", "id": f"t{i}", "namespace": "n"} for i in range(pipeline.MAX_OPERATIONS + 1)]
    refused(413, "too_many_operations", json={**body, "operations": too_many})
    monkeypatch.setattr(pipeline, "MAX_BODY_BYTES", 64)
    refused(413, "payload_too_large", json=body)
    monkeypatch.undo()
    refused(422, "invalid_json", data="{", headers={"Content-Type": JSON})
    refused(422, "invalid_body", json=[body])
    refused(422, "unknown_field", json={**body, "mode": "incremental"})
    refused(422, "missing_field", json={key: value for key, value in body.items() if key != "sync_timestamp"})
    refused(422, "invalid_field", json={**body, "sync_mode": "sometimes"})
    refused(422, "invalid_operation", json={**body, "operations": [upsert_op("ok"), upsert_op("bad", namespace="A")]})
    refused(422, "duplicate_operation", json={**body, "operations": [upsert_op("x"), upsert_op("x")]})
    app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] = 1
    response = refused(429, "rate_limited", json=body)
    assert int(response.headers["Retry-After"]) >= 1


QUERY = "POST /api/v1/query"


@covers("POST /api/v1/query 200", "POST /api/v1/query 401", "POST /api/v1/query 403", "POST /api/v1/query 404",
        "POST /api/v1/query 422")
def test_query(app, workspace, contract):
    # A workspace with no store yet: every store is searched (the default one is created), nothing found.
    empty = contract.call(QUERY, 200, json={"query": "database connections"}).get_json()
    assert empty["results"] == [] and empty["reasoning"] is None and empty["query_id"].startswith("qry_")
    store = contract.call("POST /api/v1/vector-stores", 201, json={"name": "wiki"}).get_json()["id"]
    org = workspace[0].id
    contract.call("POST /v1/pipeline/sync", 200, json=sync_body(org, store, [
        upsert_op("pg-pool", title="Postgres connection pool exhausted", type="incident", author="ada@example.com",
                  url="https://wiki.example.com/pg-pool", updated_at="2026-03-01T10:00:00Z",
                  metadata={"severity": "high", "title": "the document's own title loses"},
                  content="During the deploy the API ran out of database connections: every worker held its "
                          "connections open while waiting on a slow migration."),
        upsert_op("offsite", namespace="notes", title="Team offsite", type="message", author="grace@example.com",
                  created_at="2026-02-10T12:00:00Z", content="The team offsite will be in Lisbon in May.")]))
    embedding_queue.drain_embeddings(app)
    # Stored but not chunked or embedded yet: found lexically, without a chunk.
    contract.call("POST /v1/pipeline/sync", 200, json=sync_body(org, store, [
        upsert_op("fresh", title="Fresh note", content="Remember the PgBouncer settings for the connection pool.")]))

    answer = contract.call(QUERY, 200, json={"query": "database ran out of connections", "limit": 2}).get_json()
    assert len(answer["results"]) == 2 and answer["latency_ms"] >= 0
    top = answer["results"][0]
    assert top["metadata"]["external_id"] == "pg-pool" and top["source"] == "pipeline"
    assert top["source_type"] == "incident" and top["url"] == "https://wiki.example.com/pg-pool"
    assert top["metadata"]["severity"] == "high" and top["metadata"]["title"] == "Postgres connection pool exhausted"
    assert top["metadata"]["vector_store_id"] == store and top["metadata"]["chunk"] is not None
    assert top["score"] == 1.0 and 0 < answer["results"][1]["score"] <= top["score"]
    assert top["metadata"]["ranking"]["semantic_rank"] == top["metadata"]["ranking"]["lexical_rank"] == 1

    fresh = contract.call(QUERY, 200, json={"query": "PgBouncer", "types": "document"}).get_json()
    assert [r["metadata"]["external_id"] for r in fresh["results"]] == ["fresh"]
    assert fresh["results"][0]["metadata"]["chunk"] is None
    assert fresh["results"][0]["metadata"]["ranking"]["semantic_rank"] is None

    every_field = {"query": '"connection pool" postgres', "limit": 100, "include_reasoning": True,
                   "sources": ["PIPELINE"], "types": ["incident"], "authors": ["Ada@Example.com"],
                   "namespaces": ["clickup_tasks"], "date_after": "2026-03-01", "date_before": "2026-03-01T23:00:00",
                   "vector_store_id": store}
    answer = contract.call(QUERY, 200, json=every_field).get_json()
    assert [r["metadata"]["external_id"] for r in answer["results"]] == ["pg-pool"]
    assert "applied inside both searches" in answer["reasoning"]
    nulls = {"query": "Lisbon", "limit": None, "include_reasoning": None, "sources": None, "types": None,
             "authors": None, "namespaces": None, "date_after": None, "date_before": "", "vector_store_id": None}
    assert "offsite" in [r["metadata"]["external_id"] for r in contract.call(QUERY, 200, json=nulls).get_json()
                         ["results"]]
    assert contract.call(QUERY, 200, json={"query": '"pool connection"'}).get_json()["results"] == []

    def refused(status, code, field=None, **kwargs):
        error = contract.call(QUERY, status, **kwargs).get_json()["error"]
        assert error["code"] == code, error
        if field:
            assert error["details"]["field"] == field, error

    refused(401, "missing_api_key", json={"query": "x"}, key=None)
    refused(401, "invalid_api_key", json={"query": "x"}, key="trb_unknown")
    refused(403, "insufficient_scope", json={"query": "x"}, key=key_with(app, workspace, ["pipeline"]))
    refused(404, "vector_store_not_found", json={"query": "x", "vector_store_id": MISSING_STORE})
    refused(404, "vector_store_not_found", json={"query": "x", "vector_store_id": foreign_store(app)})
    refused(422, "invalid_json", data="{", headers={"Content-Type": JSON})
    refused(422, "invalid_body", json=["database"])
    refused(422, "unknown_field", "colour", json={"query": "x", "colour": "red"})
    refused(422, "query_required", "query", json={})
    refused(422, "query_required", "query", json={"query": "  "})
    refused(422, "query_too_long", "query", json={"query": "x" * 2001})
    for field, value in (("limit", 0), ("limit", 101), ("limit", "5"), ("include_reasoning", "yes"),
                         ("sources", [1]), ("authors", [" "]), ("types", ["t"] * 101), ("date_after", "last week"),
                         ("vector_store_id", "")):
        refused(422, "invalid_field", field, json={"query": "x", field: value})
    refused(422, "invalid_date_range", "date_after",
            json={"query": "x", "date_after": "2026-02-01", "date_before": "2026-01-31"})


# -- bad input every operation shares ---------------------------------------------------------------

BODY_OPERATIONS = sorted(key for key, op in OPERATIONS.items() if "requestBody" in op and "/webhooks/" not in key)
QUERY_OPERATIONS = sorted(key for key, op in OPERATIONS.items()
                          if any(resolve(p)["in"] == "query" for p in op.get("parameters", [])))
# Bodies Python's json module reads, but nothing behind it can hold: (body, code).
UNUSABLE_BODIES = [
    (b"[" * 100_000 + b"]" * 100_000, "json_too_deep"),  # a RecursionError in the parser
    (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "json_too_deep"),  # parses, but deeper than 64
    (b'{"name": NaN}', "invalid_number"),
    (b'{"name": -Infinity}', "invalid_number"),
    (b'{"name": 1e400}', "invalid_number"),  # inf
    (b'{"name": "a\\ud800b"}', "invalid_string"),  # a lone surrogate
    (b'{"name\\udc00": "x"}', "invalid_string"),
    (b'{"name": "a\\u0000b"}', "invalid_string"),  # NUL: PostgreSQL cannot store it
]


@covers("GET /v1/connectors 200", "POST /v1/connectors 201", "POST /v1/connectors 409", "POST /v1/connectors 422",
        "POST /v1/connectors 429", "POST /v1/connectors 502", "GET /v1/connectors/{connector_id} 200",
        "GET /v1/connectors/{connector_id} 404", "DELETE /v1/connectors/{connector_id} 200",
        "DELETE /v1/connectors/{connector_id} 404", "POST /v1/connectors/{connector_id}/sync 202",
        "POST /v1/connectors/{connector_id}/sync 404", "POST /v1/connectors/{connector_id}/sync 409",
        "POST /v1/connectors/{connector_id}/sync 422")
def test_connectors(app, workspace, contract, stub_provider, sandbox_server):
    """The connectors API's answers: a token connect, OAuth's oauth_url, sync, delete, and every
    error status it documents."""
    def refused(operation, status, code, **kwargs):
        error = contract.call(operation, status, **kwargs).get_json()["error"]
        assert error["code"] == code, error
        return error

    assert contract.call("GET /v1/connectors", 200).get_json() == {"connectors": []}
    token = requests.post(f"{sandbox_server.url}/_sandbox/tokens", timeout=5,
                          json={"provider": "github", "kind": "personal", "scope": "repo"}).json()["token"]
    created = contract.call("POST /v1/connectors", 201, json={
        "connector_type": "github", "display_name": "Eng GitHub", "credentials": {"token": token},
        "settings": {"channels": ["octo-sandbox/atlas-etl"], "requests_per_minute": 60}}).get_json()
    assert created["status"] == "connected" and created["oauth_url"] is None
    cid = {"connector_id": created["connector_id"]}
    oauth = contract.call("POST /v1/connectors", 201, json={"connector_type": "github"}).get_json()
    assert oauth["status"] == "connecting" and oauth["oauth_url"]
    api_key = contract.call("POST /v1/connectors", 201, json={
        "connector_type": "pipedrive", "credentials": {"api_key": PIPEDRIVE_KEY}}).get_json()
    assert [c["connector_id"] for c in contract.call("GET /v1/connectors", 200).get_json()["connectors"]] == [
        api_key["connector_id"], oauth["connector_id"], created["connector_id"]]
    assert contract.call("GET /v1/connectors/{connector_id}", 200, path=cid).get_json()["display_name"] == "Eng GitHub"

    refused("POST /v1/connectors", 409, "already_connected",
            json={"connector_type": "github", "credentials": {"token": token}})
    refused("POST /v1/connectors", 409, "connector_not_connectable",
            json={"connector_type": "circleback", "credentials": {"api_key": "x"}})
    refused("POST /v1/connectors", 422, "unknown_setting",
            json={"connector_type": "pipedrive", "credentials": {"api_key": "k"}, "settings": {"channels": ["a"]}})
    refused("POST /v1/connectors", 422, "invalid_credentials",
            json={"connector_type": "github", "credentials": {"token": "ghp_wrong"}})
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(429)}}
    refused("POST /v1/connectors", 429, "provider_rate_limited",
            json={"connector_type": "pipedrive", "credentials": {"api_key": "k"}})
    app.config["CONNECTORS"] = {"pipedrive": {"api_url": stub_provider.at(503)}}
    refused("POST /v1/connectors", 502, "provider_unavailable",
            json={"connector_type": "pipedrive", "credentials": {"api_key": "k"}})

    accepted = contract.call("POST /v1/connectors/{connector_id}/sync", 202, path=cid, query={"full": "true"})
    assert accepted.get_json()["sync_type"] == "full"
    refused("POST /v1/connectors/{connector_id}/sync", 422, "invalid_parameter", path=cid, query={"full": "maybe"})
    refused("POST /v1/connectors/{connector_id}/sync", 409, "connection_pending",
            path={"connector_id": oauth["connector_id"]})
    missing = {"connector_id": MISSING_ID}
    for operation in ("GET /v1/connectors/{connector_id}", "DELETE /v1/connectors/{connector_id}",
                      "POST /v1/connectors/{connector_id}/sync"):
        refused(operation, 404, "not_found", path=missing)
    deleted = contract.call("DELETE /v1/connectors/{connector_id}", 200, path=cid).get_json()
    assert deleted["status"] == "disconnected"


def _path_of(operation: str) -> dict:
    return {"connection_id": MISSING_ID, "connector_id": MISSING_ID, "connector_type": "github",
            "vector_store_id": MISSING_STORE, "action_run_id": MISSING_ACTION_RUN,
            "document_id": MISSING_DOCUMENT, "entry_id": MISSING_ENTRY, **ACCOUNT_PATH}


@covers(*[f"{key} {status}" for key in BODY_OPERATIONS for status in (413, 422)
          if key != "POST /v1/pipeline/sync" or status == 422])
def test_every_body_is_parsed_strictly_and_size_limited(app, workspace, contract):
    """Each operation that reads a JSON body refuses what Python's json accepts but nothing behind
    it can hold, with a 422 and its own code, and (pipeline sync aside: 100 MiB) a body over
    ``API_MAX_BODY_BYTES`` with 413 ``payload_too_large`` before parsing it."""
    operator = platform_admin_key(app, workspace)
    limit = app.config["API_MAX_BODY_BYTES"]
    for operation in BODY_OPERATIONS:
        key = operator if "/api/admin/" in operation else _DEFAULT
        for body, code in UNUSABLE_BODIES:
            error = contract.call(operation, 422, path=_path_of(operation), data=body, key=key,
                                  headers={"Content-Type": JSON}).get_json()["error"]
            assert error["code"] == code, (operation, body[:40], error)
        if operation == "POST /v1/pipeline/sync":
            continue
        big = b'{"name": "' + b"x" * limit + b'"}'
        error = contract.call(operation, 413, path=_path_of(operation), data=big, key=key,
                              headers={"Content-Type": JSON}).get_json()["error"]
        assert error == {"code": "payload_too_large", "message": error["message"], "details": {"max_bytes": limit}}


@covers(*[f"{key} 422" for key in QUERY_OPERATIONS],
        "GET /api/v1/vector-stores/{vector_store_id} 404", "DELETE /api/v1/vector-stores/{vector_store_id} 404",
        "GET /api/v1/documents/{document_id} 404", "DELETE /api/v1/documents/{document_id} 404")
def test_nul_in_a_query_parameter_or_path_is_refused(contract):
    """NUL cannot be held by PostgreSQL: in a query parameter it is 422 ``invalid_parameter``
    naming it, in a path 404 ``not_found``, on both databases, before any lookup."""
    for operation in QUERY_OPERATIONS:
        params = [resolve(p) for p in OPERATIONS[operation]["parameters"] if resolve(p)["in"] == "query"]
        for param in params:
            error = contract.call(operation, 422, path=_path_of(operation),
                                  query={param["name"]: "a\x00b"}).get_json()["error"]
            assert error["code"] == "invalid_parameter" and error["details"] == {"parameter": param["name"]}, (
                operation, error)
    for operation in ("GET /api/v1/vector-stores/{vector_store_id}", "DELETE /api/v1/vector-stores/{vector_store_id}",
                      "GET /api/v1/documents/{document_id}", "DELETE /api/v1/documents/{document_id}"):
        nul = {"vector_store_id": "vs_a\x00", "document_id": "doc_a\x00"}
        assert contract.call(operation, 404, path=nul).get_json()["error"]["code"] == "not_found"


@covers("GET /api/v1/audit-logs 200", "GET /api/v1/audit-logs/verify 200", "GET /api/v1/audit-logs/{entry_id} 200",
        "GET /api/v1/audit-logs/{entry_id} 404", "GET /api/v1/audit-logs/soc2 200",
        "POST /api/v1/audit-logs/verify/full 202")
def test_audit_logs(app, workspace, contract):
    """The audit log's answers (tests/audit has their behaviour): a page, an entry, a missing
    entry, the chain's verification (before and after a requested full walk) and the SOC 2 report
    as JSON."""
    from audit import chain

    contract.call("POST /api/v1/vector-stores", 201, json={"name": "audited"})
    page = contract.call("GET /api/v1/audit-logs", 200, query={"limit": 1, "action": "vector_store.*"}).get_json()
    entry_id = page["entries"][0]["id"]
    assert contract.call("GET /api/v1/audit-logs/{entry_id}", 200,
                         path={"entry_id": entry_id}).get_json()["action"] == "vector_store.created"
    assert contract.call("GET /api/v1/audit-logs/{entry_id}", 404,
                         path={"entry_id": MISSING_ENTRY}).get_json()["error"]["code"] == "not_found"
    assert contract.call("GET /api/v1/audit-logs/verify", 200).get_json()["intact"] is True
    assert contract.call("POST /api/v1/audit-logs/verify/full", 202).get_json()["requested"]["runs_after"]
    with app.app_context():
        chain.run_due_full_walks()  # the scheduler's leader's part
    walked = contract.call("GET /api/v1/audit-logs/verify", 200).get_json()["full_verification"]
    assert walked["last"]["intact"] and walked["requested"] is None
    report = contract.call("GET /api/v1/audit-logs/soc2", 200,
                           query={"start_date": "2026-01-01", "end_date": "2099-12-31"}).get_json()
    assert report["access"]["member_count"] == 1 and report["audit_chain"]["intact"]
    assert report["audit_chain"]["full_verification"]["last"]["trigger"] == "request"


def test_every_documented_response_is_exercised():
    """Together the contract tests hit every documented (operation, status) but 500."""
    from tests.api import test_actions_contract     # the actions' contract tests live there
    from tests.api import test_openapi_account  # the account surfaces' contract tests

    tests = [*globals().values(), *vars(test_actions_contract).values(), *vars(test_openapi_account).values()]
    exercised = set().union(*(test.covers for test in tests if hasattr(test, "covers")))
    documented = {(key, int(status)) for key, op in OPERATIONS.items() for status in op["responses"]}
    unexercised = {pair for pair in documented - exercised if pair[1] != 500}
    assert not unexercised, f"documented but never exercised: {sorted(unexercised)}"
    assert exercised <= documented, sorted(exercised - documented)
